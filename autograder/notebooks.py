"""The assignments' notebooks, read in one place.

The source notebook ``<source>/<name>/<name>.ipynb`` is the grader's only
authority on an assignment: which test cells score and how much, which
check each hidden block calls and with which thresholds. Submitted
notebooks are read with the same helpers, which never trust their shape
(:func:`nbgrader_meta` returns ``{}`` for a cell whose metadata is not
what nbgrader writes).

Hidden tests sit between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN
TESTS`` in a test cell; :func:`hidden_blocks` and :func:`without_hidden`
are the one parser of those markers.
"""

import json
import re

from autograder import course

# A hidden block with its marker lines (and the indentation before them).
_HIDDEN = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n?(?P<body>.*?)"
    r"### END HIDDEN TESTS[ \t]*\n?",
    re.DOTALL | re.MULTILINE,
)


def read_source(assignment, source=None):
    """The source notebook as JSON (a dict)."""
    path = course.source_path(assignment, source)
    return json.loads(path.read_text(encoding="utf-8"))


def cell_text(cell):
    """A cell's source as one string (nbformat allows a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def nbgrader_meta(cell):
    """The nbgrader metadata of a cell, ``{}`` when it has none (or when a
    submitted notebook put something else there)."""
    if not isinstance(cell, dict):
        return {}
    metadata = cell.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    meta = metadata.get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def grade_ids(cells):
    """The nbgrader grade_ids of ``cells`` (any list a notebook holds)."""
    found = (nbgrader_meta(cell).get("grade_id") for cell in cells)
    return {grade_id for grade_id in found if isinstance(grade_id, str)}


def graded_cells(assignment, source=None):
    """(grade_id, points) of the graded test cells, in notebook order."""
    cells = []
    for cell in read_source(assignment, source)["cells"]:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and meta.get("points"):
            cells.append((meta["grade_id"], float(meta["points"])))
    return cells


def source_ids(assignment, source=None):
    """grade_ids of every nbgrader cell of the assignment's source."""
    return grade_ids(read_source(assignment, source)["cells"])


def test_cells(notebook):
    """(grade_id, source text) of each graded cell of a notebook dict."""
    for cell in notebook["cells"]:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            yield meta.get("grade_id"), cell_text(cell)


def hidden_blocks(text):
    """The code between each pair of hidden-test markers of ``text``."""
    return [match.group("body") for match in _HIDDEN.finditer(text)]


def without_hidden(text):
    """``text`` with every hidden block removed, markers included."""
    return _HIDDEN.sub("", text).rstrip("\n")
