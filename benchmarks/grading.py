"""Our grader against plain nbgrader on one synthetic class: figures.

    .venv/bin/python benchmarks/grading.py [ASSIGNMENT] [--students N]

Builds a class of N submissions (default 40) of ASSIGNMENT (default rnn):
a third correct, a third partly wrong (the mutants of tests/mutants.py, in
turn) and a third broken (the untouched release, a cell that raises, a
syntax error). Then grades it three times and prints the seconds per
submission of each:

- ``python -m autograder grade --jobs 1`` and ``--jobs 2`` (each into a
  fresh CSV, so nothing is reused from a journal);
- plain serial ``nbgrader autograde ASSIGNMENT`` over every student at
  once, in a course folder of its own made with the same configuration
  (``autograder.course.nbgrader_config``); its hidden checks run in the
  kernel, as they do when a notebook is run by hand.

It ends with the ratios and whether the scores agree, student by student
and test cell by test cell. Slow at its default size (plain nbgrader alone
takes about a minute per ten rnn submissions on two cores): use
``--students 6`` for a quick look.
"""

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from autograder import course  # noqa: E402
from autograder.notebooks import graded_cells  # noqa: E402
from mutants import MUTANTS  # noqa: E402
from submissions import make_submission, solution_sources  # noqa: E402

BIN = Path(sys.executable).parent


def build_class(name, count, subs):
    """``count`` submissions in ``subs``; returns {student: kind}."""
    sources = solution_sources(name)
    mutants = [
        m for m in MUTANTS.get(name, []) if m[2] in sources.get(m[1], "")
    ]
    first = next(iter(sources))
    broken = [
        ("untouched", {"solved": False}),
        ("raises", {"replace": {first: "raise RuntimeError('oops')\n"}}),
        ("syntax_error", {"replace": {first: "def broken(:\n    pass\n"}}),
    ]
    kinds = {}
    for i in range(count):
        student = f"student{i:03d}"
        if i % 3 == 0 or (i % 3 == 1 and not mutants):
            make_submission(name, subs / student)
            kinds[student] = "correct"
        elif i % 3 == 1:
            mutant, grade_id, old, new = mutants[(i // 3) % len(mutants)][:4]
            make_submission(
                name,
                subs / student,
                replace={grade_id: sources[grade_id].replace(old, new)},
            )
            kinds[student] = f"mutant {mutant}"
        else:
            kind, kwargs = broken[(i // 3) % len(broken)]
            make_submission(name, subs / student, **kwargs)
            kinds[student] = kind
    return kinds


def ours(name, subs, out, jobs, cell_timeout):
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", name, str(subs)]
        + ["--out", str(out), "--jobs", str(jobs), "--quiet"]
        + ["--cell-timeout", str(cell_timeout), "--regrade"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"our grader failed:\n{result.stderr[-3000:]}")
    with open(out, newline="", encoding="utf-8") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    scores = {
        student: {cell: float(row[cell]) for cell, _ in graded_cells(name)}
        for student, row in rows.items()
    }
    statuses = {student: row["status"] for student, row in rows.items()}
    return seconds, scores, statuses


def _config_file(config):
    """The text of a nbgrader_config.py that holds ``config``."""
    lines = ["c = get_config()  # noqa: F821"]
    for section, values in config.items():
        for key, value in values.items():
            lines.append(f"c.{section}.{key} = {value!r}")
    return "\n".join(lines) + "\n"


def plain_nbgrader(name, subs, root, cell_timeout):
    """Serial ``nbgrader autograde`` of every student; (seconds, scores)."""
    from nbgrader.api import Gradebook, MissingEntry

    course.generate_release(name, root=root)
    for folder in subs.iterdir():
        target = root / "submitted" / folder.name / name
        target.mkdir(parents=True)
        shutil.copy(folder / name / f"{name}.ipynb", target)
    config = course.nbgrader_config(root, cell_timeout=cell_timeout)
    (root / "nbgrader_config.py").write_text(_config_file(config))
    started = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "nbgrader"), "autograde", name, "--create", "--force"],
        cwd=root,
        env=course.os_environ_for_kernel(),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(f"(nbgrader autograde exited {result.returncode})")
    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for folder in subs.iterdir():
            try:
                nb = gb.find_submission_notebook(name, name, folder.name)
            except MissingEntry:
                scores[folder.name] = None
                continue
            scores[folder.name] = {
                g.name: float(g.score or 0) for g in nb.grades if g.max_score
            }
    return seconds, scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", nargs="?", default="rnn")
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--cell-timeout", type=int, default=120)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder"
    )
    args = parser.parse_args()
    name, count = args.assignment, args.students
    if name not in course.assignments():
        raise SystemExit(f"unknown assignment {name!r}")
    tmp = Path(tempfile.mkdtemp(prefix="seqbook-bench-grading-"))
    try:
        subs = tmp / "submitted"
        kinds = build_class(name, count, subs)
        tally = {}
        for kind in kinds.values():
            tally[kind.split()[0]] = tally.get(kind.split()[0], 0) + 1
        print(
            f"{name}: {count} submissions ("
            + ", ".join(f"{n} {k}" for k, n in sorted(tally.items()))
            + ")"
        )
        times, results = {}, {}
        for jobs in (1, 2):
            seconds, scores, statuses = ours(
                name, subs, tmp / f"ours-{jobs}.csv", jobs, args.cell_timeout
            )
            times[f"ours --jobs {jobs}"] = seconds
            results[jobs] = scores
            print(
                f"our grader, --jobs {jobs}: {seconds / count:.2f} s per "
                f"submission ({seconds:.0f} s)",
                flush=True,
            )
        seconds, plain = plain_nbgrader(
            name, subs, tmp / "plain", args.cell_timeout
        )
        times["plain"] = seconds
        print(
            f"plain nbgrader autograde (serial): {seconds / count:.2f} s per "
            f"submission ({seconds:.0f} s)"
        )
        for jobs in (1, 2):
            ratio = times["plain"] / times[f"ours --jobs {jobs}"]
            print(f"plain / ours --jobs {jobs}: {ratio:.2f}x")
        agree = 0
        for student in sorted(kinds):
            a, b, c = results[1][student], results[2][student], plain[student]
            if a == b == c:
                agree += 1
                continue
            differ = sorted(
                cell
                for cell in a
                if not (c and a[cell] == b[cell] == c.get(cell))
            )
            print(
                f"  {student} ({kinds[student]}, {statuses[student]}): "
                f"scores differ in {', '.join(differ) or 'all cells'}: "
                f"ours {sum(a.values()):g}/{sum(b.values()):g}, plain "
                f"{sum(c.values()) if c else 'not graded'}"
            )
        print(
            f"scores agree for {agree} of {count} students (both --jobs "
            "and plain nbgrader, every test cell)"
        )
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
