"""The self-check's verdict: each visible test's result, and what to fix
before handing the notebook in; ``python -m seqbook.check``."""

import argparse
import re
import sys
import textwrap
from dataclasses import dataclass

from seqbook.check import form, run
from seqbook.check.notebook import Unreadable, grading
from seqbook.check.rules import Limits

WIDTH = 96
PASSED, FAILED = "passed", "FAILED"
NOT_ATTEMPTED, NOT_RUN, MISSING = "not attempted", "not run", "missing"


@dataclass(frozen=True)
class Result:
    """One visible test: its cell, what happened, and the message."""

    test: object  # a notebook.Test
    status: str
    message: str = ""


def outcome(cell):
    """(status, message) of a test cell after a run."""
    outputs = cell.get("outputs") or []
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if errors:
        name = errors[-1].get("ename", "Error")
        value = str(errors[-1].get("evalue", "")).strip()
        if name == "NotImplementedError":
            return NOT_ATTEMPTED, "still raises NotImplementedError"
        return FAILED, f"{name}: {value}" if value else name
    if any(o.get("name") == "stderr" for o in outputs):
        return FAILED, (
            "it wrote to stderr (a warning?); the grader gives a test cell "
            "that writes to stderr no points"
        )
    if cell.get("execution_count") is None:
        return NOT_RUN, ""
    return PASSED, ""


def results(handed, done):
    """The :class:`Result` of every test of ``handed`` after the run
    ``done``."""
    found = []
    for test in handed.tests:
        if test.index is None:
            found.append(Result(test, MISSING, "the cell was deleted"))
            continue
        status, message = outcome(done.nb.cells[test.index])
        if status == NOT_RUN and done.stopped:
            message = done.stopped
        found.append(Result(test, status, message))
    return found


def label(nb, index):
    grade_id = grading(nb["cells"][index]).get("grade_id")
    return f"cell {index + 1}" + (f" ({grade_id})" if grade_id else "")


def review_run(handed, done, limits):
    """Warnings and notes the run adds: cells over (or near) the time
    limit, outputs the grader would cut, tests that pass only as saved."""
    for index in done.timed_out:
        handed.warnings.append(
            f"{label(handed.nb, index)} ran longer than "
            f"{limits.cell_timeout} s: the grader stops it too, and what "
            "depends on it fails"
        )
    for index, seconds in sorted(done.seconds.items()):
        if index not in done.timed_out and seconds > limits.cell_timeout / 2:
            handed.notes.append(
                f"{label(handed.nb, index)} took {seconds:.0f} s of the "
                f"{limits.cell_timeout} s a cell may run: a slower machine "
                "may stop it"
            )
    for index, cell in enumerate(done.nb.cells):
        shown = sum(_characters(o) for o in cell.get("outputs") or [])
        if limits.max_output and shown > limits.max_output:
            handed.warnings.append(
                f"{label(handed.nb, index)} shows {shown:,} characters; the "
                f"grader keeps the first {limits.max_output:,}"
            )
    if done.stopped:
        handed.rejected.append(done.stopped)


def review_order(handed, found):
    """Tests that passed in the saved notebook but not from the top."""
    lost = sorted(
        r.test.grade_id
        for r in found
        if r.test.grade_id in handed.saved_passes and r.status != PASSED
    )
    if lost:
        handed.warnings.append(
            f"{', '.join(lost)} passed in your saved notebook but not when "
            "it runs from the top in a fresh kernel: the notebook depends "
            "on cells run out of order, or on code changed or deleted since"
        )


def _characters(output):
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        return len("".join(text) if isinstance(text, list) else text)
    data = output.get("data") or {}
    return sum(len(str(v)) for v in data.values())


def _wrap(text, first, rest):
    return textwrap.fill(
        text, WIDTH, initial_indent=first, subsequent_indent=rest
    )


def table(found):
    """The results as lines of text."""
    width = max([len(r.test.grade_id) for r in found] + [4])
    lines = [f"{'test':<{width}}  points  result"]
    for r in found:
        head = f"{r.test.grade_id:<{width}}  {r.test.points:>6g}  {r.status}"
        if not r.message:
            lines.append(head)
            continue
        indent = " " * (width + 10)
        lines.append(
            _wrap(f"{r.status}: {r.message}", head[: width + 10], indent)
        )
    return lines


def summary(handed, found, done):
    """The whole report, as text."""
    passed = [r for r in found if r.status == PASSED]
    at_stake = sum(r.test.points for r in found)
    earned = sum(r.test.points for r in passed)
    lines = [
        f"Checked {handed.path} as the grader runs it: a fresh kernel, "
        "every cell in order from the top.",
        _wrap("Limits: " + "; ".join(done.applied) + ".", "", "  "),
    ]
    if done.not_applied:
        lines.append(
            _wrap("Not applied here: " + "; ".join(done.not_applied), "", "  ")
        )
    lines += ["", *table(found), ""]
    lines.append(
        f"Visible tests passed: {len(passed)} of {len(found)} "
        f"({earned:g} of {at_stake:g} points at stake)."
    )
    lines.append(
        "The grader also runs hidden tests: passing these does not promise "
        "the points."
    )
    return "\n".join(lines + _advice(handed))


def _advice(handed):
    items = [f"! {t}" for t in handed.rejected + handed.warnings] + [
        f"- {t}" for t in handed.notes
    ]
    if not items:
        return []
    return ["", "Before you hand it in:"] + [
        _wrap(item[2:], "  " + item[:2], "    ") for item in items
    ]


def parse_size(text):
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)b?\s*", text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4G)")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[match.group(2)]
    return int(float(match.group(1)) * scale)


def check(path, limits, kernel_name=None):
    """Check the notebook at ``path``: (exit status, report text)."""
    try:
        handed = form.inspect(path)
    except Unreadable as error:
        return 2, f"The grader cannot read {path}: {error}."
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError:
        return 2, (
            "The self-check runs the notebook with Jupyter's nbclient, "
            "nbformat and ipykernel, which are missing here: "
            "pip install nbclient nbformat ipykernel"
        )
    progress = _progress if sys.stderr.isatty() else None
    done = run.execute(handed.nb, limits, kernel_name, progress)
    found = results(handed, done)
    review_run(handed, done, limits)
    review_order(handed, found)
    ok = all(r.status == PASSED for r in found) and not handed.rejected
    return (0 if ok and found else 1), summary(handed, found, done)


def _progress(done, total):
    end = "\n" if done == total else ""
    print(f"\rrunning: cell {done} of {total}", end=end, file=sys.stderr)


def main(argv=None):
    defaults = Limits()
    parser = argparse.ArgumentParser(
        prog="python -m seqbook.check",
        description="Run an assignment notebook as the grader will and "
        "show which visible tests pass (exit status 0 when all do).",
    )
    parser.add_argument("notebook", help="e.g. rnn/rnn.ipynb")
    parser.add_argument(
        "--cell-timeout", type=int, default=defaults.cell_timeout
    )
    parser.add_argument(
        "--timeout", type=int, default=defaults.notebook_timeout
    )
    parser.add_argument(
        "--memory-limit", type=parse_size, default=defaults.memory_limit
    )
    parser.add_argument("--max-output", type=int, default=defaults.max_output)
    parser.add_argument(
        "--kernel", help="kernel name (default: the notebook's)"
    )
    args = parser.parse_args(argv)
    limits = Limits(
        args.cell_timeout, args.timeout, args.memory_limit, args.max_output
    )
    status, text = check(args.notebook, limits, args.kernel)
    print(text)
    return status
