"""What the grader would say about a notebook's form, before it runs it:
its name and folder, its size, its test cells (missing, changed,
duplicated) and the order its cells were last run in."""

import json
from pathlib import Path

from seqbook.check.notebook import (
    CHECK_CELL,
    Handed,
    Test,
    fingerprint,
    grading,
    load,
    manifest,
    text,
)
from seqbook.check.rules import ASSIGNMENTS, MAX_NOTEBOOK_BYTES, size_text


def inspect(path):
    """The :class:`~seqbook.check.notebook.Handed` notebook at ``path``
    (or :class:`~seqbook.check.notebook.Unreadable`), with what the
    grader would reject, mark down or do differently."""
    path = Path(path)
    nb = load(path)
    assignment, expected = manifest(nb)
    if assignment is None and path.stem in ASSIGNMENTS:
        assignment = path.stem
    handed = Handed(path=path, nb=nb, assignment=assignment)
    find_tests(handed, expected)
    check_place(handed)
    check_size(handed)
    check_order(handed)
    return handed


def find_tests(handed, expected):
    """The test cells, and those missing, changed or duplicated."""
    seen = {}
    for index, cell in enumerate(handed.nb["cells"]):
        meta = grading(cell)
        grade_id = meta.get("grade_id")
        if meta.get("locked") and meta.get("checksum"):
            if (
                meta["checksum"] != fingerprint(cell)
                and grade_id != CHECK_CELL
            ):
                handed.warnings.append(
                    f"{grade_id} was changed: the grader puts back the "
                    "released cell, so your change does not count (this "
                    "check ran your version)"
                )
        if not (meta.get("grade") and meta.get("points")):
            continue
        if grade_id in seen:
            handed.warnings.append(
                f"{grade_id} appears twice: the grader counts one of them"
            )
            continue
        seen[grade_id] = Test(grade_id, float(meta["points"]), index)
    if expected is None:
        handed.notes.append(
            f"the last cell ({CHECK_CELL}) is missing or changed: missing "
            "test cells cannot be noticed"
        )
        expected = {}
    for grade_id, points in expected.items():
        if grade_id not in seen:
            seen[grade_id] = Test(grade_id, float(points), None)
            handed.warnings.append(
                f"the test cell {grade_id} is missing: it earns no points; "
                "copy it back from a fresh copy of the assignment"
            )
    handed.tests = sorted(
        seen.values(), key=lambda t: (t.index is None, t.index or 0)
    )


def check_place(handed):
    """The name and folder the grader looks for."""
    name = handed.assignment
    if name is None:
        handed.rejected.append(
            "this notebook is none of the course's assignments "
            f"({', '.join(ASSIGNMENTS)}): was it made from a released one?"
        )
        return
    path = handed.path
    if path.name != f"{name}.ipynb":
        handed.rejected.append(
            f"the grader looks for {name}.ipynb; this file is named "
            f"{path.name!r} and would count as missing: rename it"
        )
    if path.stem in ASSIGNMENTS and path.stem != name:
        handed.rejected.append(
            f"this is the {name} notebook under the name of {path.stem}"
        )
    if path.resolve().parent.name != name:
        handed.notes.append(
            f"hand it in as {name}/{name}.ipynb in your submission (this "
            f"file is in a folder named {path.resolve().parent.name!r})"
        )


def check_size(handed):
    """Not too large once the grader removed its outputs."""
    cells = [
        dict(c, outputs=[]) if "outputs" in c else c
        for c in handed.nb["cells"]
    ]
    size = len(json.dumps(dict(handed.nb, cells=cells)).encode("utf-8"))
    if size > MAX_NOTEBOOK_BYTES:
        handed.rejected.append(
            f"without its outputs the notebook has {size_text(size)}; the "
            f"grader takes at most {size_text(MAX_NOTEBOOK_BYTES)}"
        )


def saved_outcome(cell):
    """Whether a test cell passed as the notebook was saved: run, with
    neither an error nor stderr among its outputs."""
    outputs = cell.get("outputs") or []
    if cell.get("execution_count") is None:
        return False
    return not any(
        o.get("output_type") == "error" or o.get("name") == "stderr"
        for o in outputs
    )


def check_order(handed):
    """The order the cells were last run in, and the tests that passed
    then (to compare with a clean run)."""
    counts = [
        c.get("execution_count")
        for c in handed.nb["cells"]
        if c.get("cell_type") == "code" and c.get("execution_count")
    ]
    if any(b <= a for a, b in zip(counts, counts[1:])):
        handed.notes.append(
            "the cells were last run out of order (execution counts "
            f"{_some(counts)}); the grader runs them from the top in a "
            "fresh kernel, as this check does"
        )
    for test in handed.tests:
        if test.index is not None:
            cell = handed.nb["cells"][test.index]
            if saved_outcome(cell) and text(cell).strip():
                handed.saved_passes.add(test.grade_id)


def _some(counts, shown=8):
    listed = ", ".join(map(str, counts[:shown]))
    return listed + (", ..." if len(counts) > shown else "")
