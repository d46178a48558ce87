"""The judge's verdicts in nbgrader's gradebook, and what the feedback
may show.

Every point is the judge's: a graded cell scores its points when the
judge passed it (the check ran outside the kernel), and nothing when the
judge failed it or never saw it, whatever the cell's run in the kernel
said (its visible test runs in the student's process, which can fool
it). :func:`apply_verdicts` scores the gradebook so and says in the
notebook where the judge and the kernel's run differ; the checks cover
what every visible test asserts (``autograder/checks``), so the two
differ only where the kernel was fooled, or where a visible test also
ran the student's other functions. :func:`sanitize_for_feedback` removes
what a student must not see before nbgrader makes the feedback page.
nbgrader's own ``autograde`` uses the same cores on a notebook's cells in
memory (:func:`overrule`, :func:`note_overruled`, :func:`sanitize_cells`;
:mod:`autograder.native`); :func:`failed_tests` says what failed.
"""

import json
import re
from pathlib import Path

from autograder import notebooks

NEVER_RAN = "the grader's check of this cell never ran"
# What the journal keeps of a failed test's message.
MESSAGE_CHARS = 500
UPHELD = (
    "the grader's own check of this cell passed, so its points count; "
    "what failed above is the visible test, which runs in your notebook "
    "(and may call your other functions too)"
)


def apply_verdicts(stage, verdicts):
    """Score each graded cell by the judge (:func:`overrule`) in the
    gradebook, and note in the notebook where that differs from the
    kernel's run. Returns {grade_id: reason} of those cells."""
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
    """Give each of nbgrader's ``grades`` (rows of its gradebook) the
    judge's score: its points when the judge passed it, else 0 (the
    caller commits). Returns {grade_id: reason} of the grades whose score
    changed: the judge's message where it failed a cell nbgrader passed,
    :data:`UPHELD` where it passed one nbgrader failed."""
    overruled = {}
    for grade in grades:
        if not grade.max_score:
            continue
        passed, message = verdicts.get(grade.name, (False, NEVER_RAN))
        ran = (grade.auto_score or 0) > 0
        if passed != ran:
            overruled[grade.name] = UPHELD if passed else message
        grade.auto_score = grade.max_score if passed else 0
    return overruled


def note_overruled(cells, overruled):
    """Each overruled cell of ``cells`` (a notebook's, changed in place)
    gets an output with the reason: an error with the judge's message, or
    a note that the judge's check passed."""
    import nbformat

    for cell in cells:
        grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
        if grade_id not in overruled:
            continue
        reason = overruled[grade_id]
        if reason == UPHELD:
            output = {"output_type": "stream", "name": "stdout"}
            output["text"] = f"Grader: {reason}.\n"
        else:
            output = {"output_type": "error", "ename": "GraderCheck"}
            output.update(evalue=reason, traceback=[])
        cell.setdefault("outputs", []).append(nbformat.from_dict(output))


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
        if any(UPHELD in str(o.get("text", "")) for o in outputs):
            continue  # the judge passed it: its points count
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors:
            last = errors[-1]
            message = f"{last.get('ename', 'Error')}: {last.get('evalue', '')}"
            message = message.strip().rstrip(":")
            failures[meta.get("grade_id")] = message[:MESSAGE_CHARS]
        elif any(o.get("name") == "stderr" for o in outputs):
            failures[meta.get("grade_id")] = "the test cell wrote to stderr"
    return failures


# What nbgrader says when it refuses a notebook whose nbgrader cells were
# edited (the intake repairs those it is given; this catches the rest).
EDITED = re.compile(
    r"metadata may be corrupted|Inconsistent checksums|SchemaTooOld|"
    r"old version of the nbgrader metadata|exists multiple times|"
    r"does not have a grade_id|does not exist in the database|"
    r"Attribute '(?:locked|cell_type|points)' for cell"
)
# ... and which of its lines say what was edited.
EDIT_LINE = re.compile(
    r"(Cell '[^']*' does not exist in the database|Cell with id '[^']*' "
    r"exists multiple times|Inconsistent checksums for cell [\w-]+|"
    r"Attribute '(?:locked|cell_type|points)' for cell [\w-]+ has changed|"
    r"nbgrader cell does not have a grade_id)"
)


def _edited(log):
    """The outcome of a notebook nbgrader refused for its edited cells."""
    said = list(dict.fromkeys(EDIT_LINE.findall(log)))[:5]
    return {
        "status": "edited_notebook",
        "detail": "nbgrader refused the notebook: its nbgrader cells were "
        "edited" + (f" ({'; '.join(said)})" if said else ""),
    }


def failed_run(log):
    """The outcome of a run nbgrader could not finish, from its log."""
    if "NbGraderException" in log and EDITED.search(log):
        return _edited(log)
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
