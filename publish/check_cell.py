"""The last cell of every assignment: the student's self-check.

It calls :func:`seqbook.check.check_my_work` with the assignment's name
and its test cells (grade_id -> points), written from the solution
notebook's own test cells, so that the check notices a deleted test
cell. A given, locked cell: the grader puts it back if a student
changes it, and skips it while grading. ``python -m publish
--check-cells`` writes it into every solution notebook (after changing a
notebook's test cells); then ``make release``.
"""

import json

from publish import REPO
from publish.install_cell import dumps, text
from seqbook.check.notebook import CHECK_CELL

CELL_ID = "check-my-work"
HEAD = """\
# Check your work: run this notebook as the grader will (a fresh kernel,
# every cell from the top, the grader's time and memory limits) and see
# which visible tests pass. It checks the notebook as last saved, so save
# it first. The grader skips this cell and runs hidden tests of its own.
from seqbook.check import check_my_work

"""


def tests_of(nb):
    """grade_id -> points of the notebook's test cells, in order."""
    found = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("points"):
            points = float(meta["points"])
            found[meta["grade_id"]] = (
                int(points) if points.is_integer() else points
            )
    return found


def source(name, tests):
    lines = [
        f'    "{grade_id}": {points!r},' for grade_id, points in tests.items()
    ]
    return (
        HEAD
        + f'check_my_work(\n    "{name}",\n    tests={{\n'
        + "\n".join("    " + line for line in lines)
        + "\n    },\n)"
    )


def cell(name, nb):
    """The cell for the assignment ``name`` whose notebook is ``nb``."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": CELL_ID,
        "metadata": {
            "nbgrader": {
                "grade": False,
                "grade_id": CHECK_CELL,
                "locked": True,
                "schema_version": 3,
                "solution": False,
                "task": False,
            }
        },
        "outputs": [],
        "source": source(name, tests_of(nb)),
    }


def ends_with_it(name, nb):
    """Whether ``nb`` ends with the current check cell of ``name``."""
    cells = nb.get("cells", [])
    return (
        bool(cells)
        and cells[-1].get("id") == CELL_ID
        and text(cells[-1]) == source(name, tests_of(nb))
    )


def write_into_solutions():
    """Put the check cell last in every solution notebook (replacing an
    older one); return the notebooks that changed."""
    changed = []
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
        if cells and cells[-1].get("id") == CELL_ID:
            cells.pop()
        cells.append(cell(path.stem, nb))
        new = dumps(nb)
        if new != path.read_text(encoding="utf-8"):
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
