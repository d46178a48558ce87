"""The judge's verdicts in nbgrader's gradebook, and what the feedback
may show.

A cell scores only when nbgrader passed it (its code ran without error in
the kernel) *and* the judge passed it (the check ran outside the kernel):
:func:`apply_verdicts` sets the rest to 0 and says why in the notebook.
:func:`sanitize_for_feedback` removes what a student must not see before
nbgrader makes the feedback page; :func:`failed_tests` says what failed.
The cores work on a notebook's cells in memory (:func:`overrule`,
:func:`note_overruled`, :func:`sanitize_cells`), so that nbgrader's own
``autograde`` uses them too (:mod:`autograder.native`).
"""

import json
import re
from pathlib import Path

from autograder import notebooks

NEVER_RAN = "the grader's check of this cell never ran"
# What the journal keeps of a failed test's message.
MESSAGE_CHARS = 500


def apply_verdicts(stage, verdicts):
    """Score each graded cell by the judge: a cell nbgrader passed but the
    judge did not (or never saw) gets 0 in the gradebook, and its feedback
    says why. Returns {grade_id: reason} of the cells overruled."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{stage.gradebook}") as gb:
        nb = gb.find_submission_notebook(
            stage.assignment, stage.assignment, stage.student
        )
        overruled = overrule(nb.grades, verdicts)
        gb.db.commit()
    if overruled:
        data = json.loads(Path(stage.autograded).read_text(encoding="utf-8"))
        note_overruled(data["cells"], overruled)
        Path(stage.autograded).write_text(json.dumps(data, indent=1), "utf-8")
    return overruled


def overrule(grades, verdicts):
    """Set to 0 the ``auto_score`` of each of nbgrader's ``grades`` (rows
    of its gradebook) that nbgrader passed and the judge did not (or never
    saw); the caller commits. Returns {grade_id: reason}."""
    overruled = {}
    for grade in grades:
        if not grade.max_score or not (grade.auto_score or 0) > 0:
            continue
        passed, message = verdicts.get(grade.name, (False, NEVER_RAN))
        if passed:
            continue
        overruled[grade.name] = message
        grade.auto_score = 0
    return overruled


def note_overruled(cells, overruled):
    """Each overruled cell of ``cells`` (a notebook's, changed in place)
    gets an error output with the judge's reason."""
    import nbformat

    for cell in cells:
        grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
        if grade_id in overruled:
            cell.setdefault("outputs", []).append(
                nbformat.from_dict(
                    {
                        "output_type": "error",
                        "ename": "GraderCheck",
                        "evalue": overruled[grade_id],
                        "traceback": [],
                    }
                )
            )


def scores(stage):
    """grade_id -> points earned, of the cells that have points."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{stage.gradebook}") as gb:
        nb = gb.find_submission_notebook(
            stage.assignment, stage.assignment, stage.student
        )
        return {g.name: g.score for g in nb.grades if g.max_score}


def timed_out(path):
    """Whether a cell of the notebook at ``path`` hit the cell timeout."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get(
                "ename"
            ) in ("CellTimeoutError", "TimeoutError"):
                return True
    return False


def sanitize_for_feedback(path):
    """Strip hidden tests and every traceback of the test cells of the
    notebook at ``path``, in place (:func:`sanitize_cells`)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    sanitize_cells(nb["cells"])
    Path(path).write_text(json.dumps(nb, indent=1), encoding="utf-8")


def sanitize_cells(cells):
    """Strip hidden tests and every traceback of the test cells among
    ``cells`` (changed in place).

    A failing test cell keeps only its error's name and message (which our
    checks write for students) and loses its stderr; the source lines of
    hidden tests, and of the checks they call, never reach the feedback.
    """
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        if not notebooks.nbgrader_meta(cell).get("grade"):
            continue
        cell["source"] = notebooks.without_hidden(notebooks.cell_text(cell))
        # Warnings raised inside the hidden checks print their source lines
        # on stderr: a test cell's stderr is not shown.
        cell["outputs"] = [
            o
            for o in cell.get("outputs", [])
            if not (
                o.get("output_type") == "stream" and o.get("name") == "stderr"
            )
        ]
        for output in cell["outputs"]:
            if output.get("output_type") == "error":
                output["traceback"] = [
                    f"{output.get('ename', 'Error')}: "
                    f"{output.get('evalue', '')}"
                ]


def failed_tests(cells):
    """grade_id -> what went wrong, for each graded cell among ``cells``
    (a graded notebook's) that failed: its last error (``Name:
    message``, the judge's reason for a cell it overruled), or that it
    wrote to stderr, which nbgrader scores 0 too."""
    failures = {}
    for cell in cells:
        meta = notebooks.nbgrader_meta(cell)
        if not (meta.get("grade") and meta.get("points")):
            continue
        outputs = cell.get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors:
            last = errors[-1]
            message = f"{last.get('ename', 'Error')}: {last.get('evalue', '')}"
            message = message.strip().rstrip(":")
            failures[meta.get("grade_id")] = message[:MESSAGE_CHARS]
        elif any(o.get("name") == "stderr" for o in outputs):
            failures[meta.get("grade_id")] = "the test cell wrote to stderr"
    return failures


def failed_run(log):
    """The outcome of a run nbgrader could not finish, from its log."""
    if re.search(r"DeadKernelError|Kernel died|kernel died", log):
        return {
            "status": "kernel_died",
            "detail": "the kernel died while running the notebook",
        }
    if "UnresponsiveKernel" in log or "unresponsive" in log:
        return {"status": "timeout", "detail": "the kernel stopped responding"}
    if "Timeout" in log:
        return {"status": "timeout", "detail": "a cell timed out"}
    last = [line for line in log.splitlines() if line.strip()][-3:]
    return {
        "status": "error",
        "detail": "nbgrader could not grade it: " + " / ".join(last),
    }
