"""A notebook as handed in: its tests, and what the grader would say
about its form before running it.

The grading tool keeps its own metadata in each given cell: a
``grade_id``, whether the cell is a test (and its points), whether it is
locked, and for locked cells a checksum of what was released. The last
cell of every assignment calls :func:`seqbook.check.check_my_work` with
the assignment's name and its tests, so that a deleted test cell is
noticed too.
"""

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from seqbook.check.rules import MAX_FILE_BYTES, size_text

# The grade_id of the last cell, which runs this check.
CHECK_CELL = "check_my_work"


class Unreadable(Exception):
    """A file the grader could not read as a notebook."""


@dataclass(frozen=True)
class Test:
    """A test cell: its grade_id, its points, its index in the notebook."""

    grade_id: str
    points: float
    index: int | None  # None: the cell is missing


@dataclass
class Handed:
    """A notebook as handed in (see the module's doc)."""

    path: Path
    nb: dict
    assignment: str | None
    tests: list = field(default_factory=list)  # of Test, notebook order
    rejected: list = field(default_factory=list)  # the grader refuses
    warnings: list = field(default_factory=list)  # it marks down
    notes: list = field(default_factory=list)  # worth knowing
    saved_passes: set = field(default_factory=set)  # tests passed as saved


def grading(cell):
    """The grading metadata of a cell: the entry of its metadata that
    holds a ``grade_id``; ``{}`` for a cell without one."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    for value in (metadata or {}).values():
        if isinstance(value, dict) and "grade_id" in value:
            return value
    return {}


def text(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def fingerprint(cell):
    """The checksum the grading tool wrote into a locked cell when the
    notebook was released (MD5 of the source, the cell's type, its
    test/solution/locked flags, its grade_id and its points)."""
    meta = grading(cell)
    parts = [
        text(cell),
        cell.get("cell_type", ""),
        str(bool(meta.get("grade"))),
        str(bool(meta.get("solution"))),
        str(bool(meta.get("locked"))),
        str(meta.get("grade_id")),
    ]
    if meta.get("grade"):
        parts.append(str(float(meta.get("points") or 0)))
    digest = hashlib.md5()
    for part in parts:
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


def load(path):
    """The notebook at ``path`` as JSON, or :class:`Unreadable`."""
    path = Path(path)
    if not path.is_file():
        raise Unreadable(f"no file {path}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise Unreadable(
            f"the file has {size_text(size)}; the grader reads at most "
            f"{size_text(MAX_FILE_BYTES)}"
        )
    try:
        nb = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise Unreadable("the file is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise Unreadable(
            f"the file is not JSON ({error.msg}, line {error.lineno}): "
            "cut short, or edited outside Jupyter?"
        ) from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise Unreadable("JSON, but not a Jupyter notebook")
    if nb.get("nbformat") != 4:
        raise Unreadable(f"nbformat {nb.get('nbformat')}, not 4")
    return nb


def manifest(nb):
    """(assignment, {test grade_id: points}) as the last cell states
    them, or (None, None) when that cell is gone or changed."""
    for cell in nb["cells"]:
        if grading(cell).get("grade_id") != CHECK_CELL:
            continue
        try:
            tree = ast.parse(text(cell))
        except SyntaxError:
            return None, None
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _names(node, CHECK_CELL):
                return _arguments(node)
    return None, None


def _names(call, name):
    func = call.func
    return getattr(func, "id", getattr(func, "attr", None)) == name


def _arguments(call):
    try:
        assignment = ast.literal_eval(call.args[0])
        tests = {k.arg: ast.literal_eval(k.value) for k in call.keywords}.get(
            "tests"
        )
    except (IndexError, ValueError):
        return None, None
    return assignment, tests
