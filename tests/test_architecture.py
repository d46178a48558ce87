"""The grader's design, checked from its source: the imports of
``autograder/`` (read with ast, those inside function bodies included)
form no cycle; the kernel side of the judge imports nothing else of the
grader, and runs on its own, as the sandbox copies it; the parent's batch
and the worker share only what a job needs; functions fit on a screen and
take at most five parameters (the checks may take more)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.judge import KERNEL_SIDE
from source_imports import imported_names
from submissions import REPO

PACKAGE = REPO / "autograder"


def module_name(path):
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(node):
    """The autograder modules an import statement names."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        names = [
            f"{node.module}.{alias.name}"
            if f"{node.module}.{alias.name}" in MODULES
            else node.module
            for alias in node.names
        ]
    else:
        return []
    found = []
    for name in names:
        while name and name not in MODULES:  # import a.b.c of a.b.c's parts
            name = name.rpartition(".")[0]
        if name.startswith("autograder"):
            found.append(name)
    return found


def import_graph():
    """module -> the autograder modules it imports, anywhere in it."""
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges = {m for node in ast.walk(tree) for m in imported(node)}
        graph[name] = edges - {name}
    return graph


GRAPH = import_graph()


def closure(start):
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += GRAPH[name]
    return seen


def find_cycle(graph):
    """A list of modules that import each other in a ring, or None."""
    state, stack = {}, []

    def visit(name):
        state[name] = "open"
        stack.append(name)
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                return stack[stack.index(other) :] + [other]
            if other not in state:
                found = visit(other)
                if found:
                    return found
        state[name] = "done"
        stack.pop()
        return None

    for name in sorted(graph):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


KERNEL = {module_name(PACKAGE / f) for f in KERNEL_SIDE}


def test_the_import_graph_sees_the_imports_in_function_bodies():
    # The judge server reaches the checks and the channel; the channel
    # reaches the mirrors only inside a function body.
    assert "autograder.judge.mirrors" in GRAPH["autograder.judge.channel"]
    assert "autograder.judge.forbid" in GRAPH["autograder.judge.client"]


def test_no_import_cycle_inside_the_grader():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    ring = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(ring) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_kernel_side_imports_nothing_of_the_judge_side():
    assert KERNEL == {
        "autograder",
        "autograder.judge",
        "autograder.judge.protocol",
        "autograder.judge.client",
        "autograder.judge.forbid",
    }
    reached = closure(KERNEL)
    assert reached == KERNEL, f"the kernel side imports {reached - KERNEL}"


def test_the_parent_and_the_worker_share_only_what_a_job_needs():
    batch = {m for m in MODULES if m.startswith("autograder.batch")}
    worker = {m for m in MODULES if m.startswith("autograder.worker")}
    assert not closure(batch) & worker
    assert not closure(worker) & batch
    shared = closure(batch) & closure(worker)
    assert shared <= {
        "autograder.course",
        "autograder.notebooks",
        "autograder.job",
        # the feedback pages' words in the notebook's language (data)
        "autograder.language",
    }


def test_the_checks_know_nothing_of_the_batch_or_the_worker():
    checks = {m for m in MODULES if m.startswith("autograder.checks")}
    reached = closure(checks)
    assert not {m for m in reached if m.startswith("autograder.batch")}
    assert not {m for m in reached if m.startswith("autograder.worker")}


def test_the_kernel_side_runs_alone_as_the_sandbox_copies_it(tmp_path):
    """Only KERNEL_SIDE's files, as the box holds them: check() reaches
    for the judge, the forbid traps load, the checks are not there."""
    for name in KERNEL_SIDE:
        target = tmp_path / "autograder" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((PACKAGE / name).read_bytes())
    code = (
        "import autograder.judge, autograder.judge.forbid\n"
        "from autograder.judge import check\n"
        "assert autograder.judge.__file__.startswith(%r)\n"
        "try:\n"
        "    check('rnn.rnn_step_forward', print)\n"
        "except AssertionError as error:\n"
        "    print('verdict:', error)\n"
        "try:\n"
        "    import autograder.checks\n"
        "except ImportError:\n"
        "    print('no checks')\n"
    ) % str(tmp_path)
    env = dict(
        os.environ,
        PYTHONPATH=str(tmp_path),
        SEQBOOK_JUDGE=str(tmp_path / "no-judge.sock"),
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "verdict: the grader could not be reached" in result.stdout
    assert "no checks" in result.stdout


def functions():
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield name, node


def parameters(node):
    args = node.args
    names = args.posonlyargs + args.args + args.kwonlyargs
    count = len(names) + bool(args.vararg) + bool(args.kwarg)
    if names and names[0].arg in ("self", "cls"):
        count -= 1
    return count


def test_functions_fit_on_a_screen():
    long = [
        f"{module}.{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for module, node in functions()
        if node.end_lineno - node.lineno + 1 > 60
    ]
    assert not long, f"functions over 60 lines: {long}"


def test_signatures_take_at_most_five_parameters_outside_the_checks():
    wide = [
        f"{module}.{node.name} ({parameters(node)})"
        for module, node in functions()
        if not module.startswith("autograder.checks") and parameters(node) > 5
    ]
    assert not wide, f"more than 5 parameters: {wide}"


@pytest.mark.parametrize("tests", [REPO / "tests", REPO / "benchmarks"])
def test_no_test_module_is_imported_by_another_module(tests):
    for path in sorted(Path(tests).glob("*.py")):
        names = imported_names(path)
        bad = [n for n in names if n.split(".")[-1].startswith("test_")]
        assert not bad, f"{path.name} imports {bad}"
