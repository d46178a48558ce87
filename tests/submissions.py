"""Build submissions the way students make them: the release notebook with
its solution cells filled in (by the reference solution, or by code of the
test's choosing)."""

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)


def _source(cell):
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def solution_sources(assignment):
    """grade_id -> source of each solution cell, markers removed."""
    path = REPO / "solutions" / assignment / f"{assignment}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = MARKER.sub("", _source(cell))
    return out


def make_submission(assignment, dest, replace=None, solved=True, edit=None):
    """Write dest/<assignment>/<assignment>.ipynb and return its path.

    - replace: grade_id -> new source of that solution cell
    - solved: fill the other solution cells with the reference solution
      (False leaves them as released)
    - edit: a function given the notebook dict, for arbitrary tampering
    """
    release = REPO / "notebooks" / assignment / f"{assignment}.ipynb"
    nb = json.loads(release.read_text(encoding="utf-8"))
    solutions = solution_sources(assignment)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("solution"):
            continue
        grade_id = meta["grade_id"]
        if replace and grade_id in replace:
            cell["source"] = replace[grade_id]
        elif solved:
            cell["source"] = solutions[grade_id]
    if edit:
        edit(nb)
    path = Path(dest) / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def make_korean_submission(assignment, dest, solved=True):
    """make_submission from the Korean release
    (notebooks/ko/<assignment>/<assignment>.ipynb): the same notebook with
    the Korean release's markdown; return its path."""
    path = make_submission(assignment, dest, solved=solved)
    korean = REPO / "notebooks" / "ko" / assignment / f"{assignment}.ipynb"
    cells = json.loads(korean.read_text(encoding="utf-8"))["cells"]
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell, translated in zip(nb["cells"], cells, strict=True):
        if cell["cell_type"] == "markdown":
            cell["source"] = translated["source"]
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


# Put after the set-up cell: the applied part trains for one step only.
# A submission judged on its units grades in seconds, and every such
# submission loses the same points (the trained model's).
ONE_STEP = "train_loop = lambda step, num_steps, **kwargs: [step(0)]\n"


def grade_ids(nb):
    """The grade_id of each cell of the notebook dict ``nb`` (or None)."""
    return [
        c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for c in nb["cells"]
    ]


def cut_training(nb):
    """An edit (make_submission's): the ONE_STEP cell after the set-up."""
    nb["cells"].insert(grade_ids(nb).index("setup") + 1, code_cell(ONE_STEP))


def code_cell(source):
    """A new code cell of ``source``, as a student adds one."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def cell_of(cells, grade_id):
    """The cell of a notebook's ``cells`` whose nbgrader grade_id is
    ``grade_id`` (KeyError when there is none)."""
    for cell in cells:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)
