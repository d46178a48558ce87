"""Edited notebooks, repaired before they are graded.

A student can change what a notebook's nbgrader cells claim: rename a
test cell's grade id, duplicate a cell (Jupyter's copy keeps its
metadata), turn a test cell into a solution cell, remove a grade flag,
add a test cell of their own. nbgrader refuses such notebooks; the
grader repairs them, by the source notebook, and grades the rest:

- every cell of the source that has a grade id is there exactly once,
  in the source's order: the instructor's own test and locked cells
  (their text without hidden tests, their flags and points), the
  student's code in each solution cell (with the source's flags);
- a cell that claims an id the source does not have, or an id claimed
  before, is dropped when it claims a test (or a locked) cell; when it
  claims a solution cell its code stays, as an ordinary cell, where the
  student put it (so it runs as it ran for the student);
- a cell of the source that the notebook lost comes back after the cell
  before it: a test or locked cell as the instructor wrote it, a
  solution cell empty (the student's code for it may sit in an ordinary
  cell nearby);
- the notebook runs the course's Python kernel whatever it names.

:func:`repair` returns the cells and one note per change; the grader
puts the notes at the top of the notebook (so the feedback page shows
them) and in the row's detail.
"""

import copy
import uuid

from autograder import notebooks

KERNELSPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}


def _kind(meta):
    """What a cell's nbgrader flags make it: ``test``, ``solution``,
    ``locked`` or None."""
    if meta.get("grade"):
        return "test"
    if meta.get("solution"):
        return "solution"
    if meta.get("locked") or meta.get("task"):
        return "locked"
    return None


def source_cells(source_nb):
    """grade_id -> (kind, cell) of the source notebook, in its order."""
    found = {}
    for cell in source_nb["cells"]:
        meta = notebooks.nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        if isinstance(grade_id, str) and _kind(meta):
            found[grade_id] = (_kind(meta), cell)
    return found


def _claims(cell, known):
    """(grade_id or None, kind or None) a submitted cell claims."""
    meta = notebooks.nbgrader_meta(cell)
    grade_id = meta.get("grade_id")
    if not isinstance(grade_id, str) or grade_id not in known:
        return None, _kind(meta)
    return grade_id, _kind(meta)


def _plain(cell):
    """The cell as an ordinary code cell: its code, no nbgrader claim."""
    out = {
        "cell_type": "code",
        "metadata": {},
        "source": notebooks.cell_text(cell),
        "outputs": [],
        "execution_count": None,
    }
    return out


def _restored(grade_id, known, student=None):
    """The source's cell ``grade_id`` as the grader grades it: the
    instructor's (hidden tests left out; nbgrader puts them back), or for
    a solution cell the student's code (``student``, else empty)."""
    kind, cell = known[grade_id]
    meta = copy.deepcopy(notebooks.nbgrader_meta(cell))
    meta["cell_type"] = cell["cell_type"]
    if kind == "solution":
        text = (
            notebooks.cell_text(student)
            if student is not None
            else "# this cell was missing from the submission\n"
        )
    else:
        text = notebooks.without_hidden(notebooks.cell_text(cell))
    out = {
        "cell_type": cell["cell_type"],
        "metadata": {"nbgrader": meta},
        "source": text,
    }
    if isinstance(cell.get("id"), str):  # the release's, as nbgrader's
        out["id"] = cell["id"]
    if cell["cell_type"] == "code":
        out.update(outputs=[], execution_count=None)
    return out


NAMES = {"test": "a test cell", "solution": "a solution cell"}


def _describe(grade_id, kind, cell, known):
    """What the student changed about a claimed cell, or None."""
    meta = notebooks.nbgrader_meta(cell)
    want, source = known[grade_id]
    if kind in NAMES and kind != want:
        return f"the {want} cell {grade_id} was turned into {NAMES[kind]}"
    if want == "test" and not meta.get("grade"):
        return f"the test cell {grade_id} lost its grade flag"
    if kind != want:
        return f"the {want} cell {grade_id} lost its nbgrader flags"
    wanted = notebooks.nbgrader_meta(source)
    if want == "test" and meta.get("points") != wanted.get("points"):
        return f"the points of the test cell {grade_id} were changed"
    if want != "solution" and notebooks.without_hidden(
        notebooks.cell_text(source)
    ) != notebooks.cell_text(cell):
        return f"the {want} cell {grade_id} was edited"
    return None


class _Repair:
    """The walk over a submission's cells (see the module's docstring)."""

    def __init__(self, known):
        self.known = known
        self.order = list(known)
        self.cells, self.notes, self.done = [], [], set()

    def missing_after(self, grade_id, claimed):
        """Put back the source's cells that follow ``grade_id`` (None: the
        first ones) and that no cell of the submission claims."""
        start = 0 if grade_id is None else self.order.index(grade_id) + 1
        for other in self.order[start:]:
            if other in claimed:
                break
            if other not in self.done:
                self.done.add(other)
                self.cells.append(_restored(other, self.known))
                kind = self.known[other][0]
                self.notes.append(
                    f"the {kind} cell {other} was missing: "
                    + ("put back empty" if kind == "solution" else "restored")
                )

    def claimed(self, cell, grade_id, kind, claimed):
        want = self.known[grade_id][0]
        if grade_id in self.done:
            self.extra(cell, kind, f"a second cell claimed {grade_id}")
            return
        self.done.add(grade_id)
        change = _describe(grade_id, kind, cell, self.known)
        if change:
            self.notes.append(change + ": restored")
        student = cell if want == "solution" else None
        self.cells.append(_restored(grade_id, self.known, student))
        self.missing_after(grade_id, claimed)

    def extra(self, cell, kind, what):
        """A cell whose claim cannot stand: its code stays as an ordinary
        cell if it claims a solution, else it goes."""
        if kind == "solution" and cell.get("cell_type") == "code":
            self.cells.append(_plain(cell))
            self.notes.append(f"{what}: its code is kept as an ordinary cell")
        else:
            self.notes.append(f"{what}: removed")


def repair(cells, known):
    """(cells, notes): the submitted ``cells`` repaired by the source's
    cells ``known`` (:func:`source_cells`); no note when nothing was
    changed."""
    claimed = set()
    for cell in cells:
        grade_id, _ = _claims(cell, known)
        if grade_id:
            claimed.add(grade_id)
    walk = _Repair(known)
    walk.missing_after(None, claimed)
    for cell in cells:
        grade_id, kind = _claims(cell, known)
        if grade_id:
            walk.claimed(cell, grade_id, kind, claimed)
        elif kind:
            meta = notebooks.nbgrader_meta(cell)
            name = meta.get("grade_id")
            what = (
                f"a {kind} cell with the unknown id {name!r}"
                if isinstance(name, str)
                else f"a {kind} cell without a grade id"
            )
            walk.extra(cell, kind, what)
        else:
            walk.cells.append(_unclaimed(cell))
    return _unique_ids(walk.cells), walk.notes


def note_cell(notes):
    """A markdown cell that tells the student what the grader repaired
    (the first cell of the graded notebook and of the feedback page)."""
    items = "\n".join(f"- {note}" for note in notes)
    return {
        "cell_type": "markdown",
        "metadata": {},
        "source": "**The grader repaired this notebook before grading "
        "it**, by the assignment's own cells:\n\n" + items,
        "id": uuid.uuid4().hex[:8],
    }


def _unclaimed(cell):
    """A cell of the student's own, with any nbgrader metadata removed."""
    cell = copy.deepcopy(cell)
    if isinstance(cell.get("metadata"), dict):
        cell["metadata"].pop("nbgrader", None)
    return cell


def _unique_ids(cells):
    """Cells with unique ``id`` fields (nbformat 4.5), new ones where two
    share one."""
    seen = set()
    for cell in cells:
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or cell_id in seen:
            cell_id = uuid.uuid4().hex[:8]
            cell["id"] = cell_id
        seen.add(cell_id)
    return cells
