"""The course library never holds a graded solution.

Students install ``seqbook``; if one of its callables did what a graded
function or class does, a student could import it instead of writing it.
Every function and class of every seqbook module (private ones and static
methods included) that can be called with a graded object's required
arguments is handed to that object's hidden check, in place of the
student's, and must fail it.

The hidden checks are reached the way the solution notebooks reach them,
in process, through one helper, ``hidden_check_passes``: it runs the
hidden block of the test cell ``test_<name>`` in a namespace holding the
notebook's set-up and reference solutions, with the candidate bound to
``name``. Nothing else here depends on the grader's modules.
"""

import ast
import functools
import importlib
import inspect
import json
import pkgutil
import re
import types

import matplotlib
import pytest

import seqbook
from autograder import course
from submissions import REPO, solution_sources

matplotlib.use("Agg")  # the plotting helpers are tried too

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def _cells(assignment):
    path = REPO / "solutions" / assignment / f"{assignment}.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return [
        ("".join(cell["source"]), cell["metadata"].get("nbgrader", {}))
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
    ]


@functools.cache
def reference(assignment):
    """The notebook's set-up cell and reference solutions, executed."""
    namespace = {"__name__": f"reference_{assignment}"}
    for source, meta in _cells(assignment):
        if meta.get("grade_id") == "setup":
            exec(source, namespace)
    for source in solution_sources(assignment).values():
        exec(source, namespace)
    return namespace


def _assigned(source):
    """Names a cell assigns at its top level."""
    names = set()
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython magics: not a cell that makes data
        return names
    for node in body:
        for target in getattr(node, "targets", []):
            names |= {
                n.id for n in ast.walk(target) if isinstance(n, ast.Name)
            }
    return names


def hidden_check_passes(assignment, name, candidate):
    """True when the hidden check of the graded ``name`` accepts
    ``candidate`` in place of the student's object.

    The check runs as the hidden block of the test cell ``test_<name>``
    calls it, in process; the other objects it is given are the reference
    solution's, and data the block takes from the notebook (the
    vocabulary of a character model) come from the given cell that makes
    them. Any exception means the check did not pass.
    """
    cells = _cells(assignment)
    block = next(
        "\n".join(HIDDEN.findall(source))
        for source, meta in cells
        if meta.get("grade_id") == f"test_{name}"
    )
    namespace = dict(reference(assignment))
    for source, meta in cells:
        given = not meta.get("solution") and not meta.get("grade")
        wanted = _assigned(source) & (ast_names(block) - set(namespace))
        if given and wanted:
            exec(source, namespace)
    namespace[name] = candidate
    try:
        exec(block, namespace)
    except Exception:
        return False
    return True


def ast_names(source):
    return {
        node.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name)
    }


def graded():
    """(assignment, name) of every graded function and class: the
    solution cells that have a test cell ``test_<name>``."""
    found = []
    for assignment in course.assignments():
        tests = {meta.get("grade_id") for _, meta in _cells(assignment)}
        for name in solution_sources(assignment):
            if f"test_{name}" in tests:
                found.append((assignment, name))
    return found


def library_callables(package):
    """Qualified name -> callable: the functions and classes defined in
    every module of ``package``, and their static and class methods."""
    found = {}
    modules = [package] + [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    ]
    for module in modules:
        for name, obj in vars(module).items():
            if not callable(obj) or getattr(obj, "__module__", None) != (
                module.__name__
            ):
                continue
            found[f"{module.__name__}.{name}"] = obj
            if inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    if isinstance(value, (staticmethod, classmethod)):
                        found[f"{module.__name__}.{name}.{attr}"] = getattr(
                            obj, attr
                        )
    return found


def required_arguments(obj):
    """How many positional arguments a graded object requires (its
    ``__init__``'s for a class)."""
    return sum(
        parameter.default is inspect.Parameter.empty
        and parameter.kind
        in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        for parameter in inspect.signature(obj).parameters.values()
    )


def accepts(candidate, count):
    """Whether ``candidate`` can be called with ``count`` positional
    arguments."""
    try:
        inspect.signature(candidate).bind(*range(count))
    except (TypeError, ValueError):
        return False
    return True


def matches(candidates):
    """(qualified name, assignment, graded name) of every candidate whose
    signature takes a graded object's required arguments."""
    pairs = []
    for assignment, name in graded():
        count = required_arguments(reference(assignment)[name])
        for qualified, candidate in candidates.items():
            if accepts(candidate, count):
                pairs.append((qualified, assignment, name))
    return pairs


def passing(candidates):
    """The matches whose candidate passes the graded object's check."""
    import matplotlib.pyplot as plt

    found = []
    for qualified, assignment, name in matches(candidates):
        if hidden_check_passes(assignment, name, candidates[qualified]):
            found.append((qualified, assignment, name))
        plt.close("all")  # figures a plotting helper drew when tried
    return found


LIBRARY = library_callables(seqbook)


@pytest.mark.slow
def test_no_library_callable_passes_a_graded_check():
    assert matches(LIBRARY), "no library callable was tried"
    found = passing(LIBRARY)
    assert not found, (
        "these course-library callables pass the hidden check of a graded "
        f"function (a solution students could import): {found}"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "assignment, name",
    sorted({(assignment, name) for _, assignment, name in matches(LIBRARY)}),
)
def test_the_reference_passes_its_check_through_the_helper(assignment, name):
    # the helper can tell a solution: else the test above could not fail
    assert hidden_check_passes(assignment, name, reference(assignment)[name])


def test_a_solution_planted_in_a_module_is_found():
    planted = types.ModuleType("planted")
    source = solution_sources("attention")["dot_score"]
    exec("import torch\n" + source.replace("def dot_score", "def _scores"),
         vars(planted))  # fmt: skip
    planted._scores.__module__ = "planted"
    candidates = {"planted._scores": planted._scores}
    assert ("planted._scores", "attention", "dot_score") in matches(candidates)
    assert passing(candidates) == [
        ("planted._scores", "attention", "dot_score")
    ]


def test_every_seqbook_module_is_searched():
    modules = {name.rsplit(".", 1)[0] for name in LIBRARY}
    expected = {
        f"seqbook.{info.name}"
        for info in pkgutil.iter_modules(seqbook.__path__)
    }
    assert expected <= modules | {"seqbook"}, expected - modules
    assert "seqbook.translators.translate" in LIBRARY
    assert "seqbook.translators.Seq2Seq" in LIBRARY
