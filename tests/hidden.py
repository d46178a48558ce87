"""Run the hidden blocks of the solution notebooks directly, without
nbgrader: each block is executed in a namespace holding the solution
cells (or a mutant's), as the test cells run them in a notebook.

Shared by the tests of the checks (test_checks.py, test_applied.py) and
of the grader (test_grading.py, which grades through nbgrader the cells
that this direct run cannot test).
"""

import re

from autograder import notebooks
from submissions import solution_sources


def notebook(name):
    return notebooks.read_source(name)


def hidden_blocks(name):
    """grade_id of each test cell -> the code of its hidden block."""
    return {
        grade_id: "\n".join(notebooks.hidden_blocks(text))
        for grade_id, text in notebooks.test_cells(notebook(name))
    }


def setup_source(name):
    for cell in notebook(name)["cells"]:
        if notebooks.nbgrader_meta(cell).get("grade_id") == "setup":
            return notebooks.cell_text(cell)
    return ""


def load(name, replace=None):
    namespace = {"__name__": f"submission_{name}"}
    exec(setup_source(name), namespace)
    for grade_id, source in solution_sources(name).items():
        exec((replace or {}).get(grade_id, source), namespace)
    return namespace


def unit_cells(name):
    """Test cells whose hidden block needs only the solution cells."""
    names = set(load(name))
    cells = {}
    for grade_id, block in hidden_blocks(name).items():
        used = set(re.findall(r"\b([A-Za-z_]\w*)\b", block))
        calls = re.findall(r"_check\(\"[\w.]+\",\s*(.*)\)", block, re.S)
        args = set(re.findall(r"\b([A-Za-z_]\w*)\b", " ".join(calls)))
        if args <= names | {"threshold", "seq_len"} and not (
            used & {"model", "params", "vocab", "val_ids"}
        ):
            cells[grade_id] = block
    return cells


def run(name, grade_id, namespace):
    exec(hidden_blocks(name)[grade_id], dict(namespace))
