"""Print the course's timings: figures, not assertions.

    .venv/bin/python benchmarks/run.py [--skip-book | --only-book]
                                       [--class-size N]

- cold and cached build of the book, both editions (a fresh output folder,
  then again): the English build (Jupyter Book, which runs the chapters),
  the Korean build (python -m i18n build, from the English build's
  execution cache), and what the Korean edition adds to a build;
- execution of every solution notebook (nbconvert, fresh kernel);
- grading seconds per submission with --jobs 1 and --jobs 2 on a small
  synthetic class (correct and untouched notebooks).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from autograder import course  # noqa: E402
from submissions import make_submission  # noqa: E402

BIN = Path(sys.executable).parent


def timed(command, **kwargs):
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-2000:])
        raise SystemExit(f"failed: {' '.join(map(str, command))}")
    return elapsed


def book(tmp):
    env = dict(os.environ, SEQBOOK_PROGRESS="0")
    command = [
        str(BIN / "jupyter-book"),
        "build",
        ".",
        "--path-output",
        str(tmp / "book"),
        "--builder",
        "html",
        "-W",
        "-n",
        "--keep-going",
    ]
    korean = [sys.executable, "-m", "i18n", "build", "--path-output"]
    korean += [str(tmp / "book")]
    cold = timed(command, cwd=REPO, env=env)
    cold_ko = timed(korean, cwd=REPO, env=env)
    cached = timed(command, cwd=REPO, env=env)
    cached_ko = timed(korean, cwd=REPO, env=env)
    print(f"book build, English: cold {cold:.1f} s, cached {cached:.1f} s")
    print(
        f"book build, Korean: cold {cold_ko:.1f} s, cached {cached_ko:.1f} s"
    )
    print(
        f"both editions: cold {cold + cold_ko:.1f} s, cached "
        f"{cached + cached_ko:.1f} s; the Korean edition adds "
        f"{cold_ko / cold:.0%} to a cold build, "
        f"{cached_ko / cached:.0%} to a cached one"
    )


def solutions(tmp):
    env = course.os_environ_for_kernel()
    for name in course.assignments():
        source = REPO / "solutions" / name / f"{name}.ipynb"
        seconds = timed(
            [
                str(BIN / "jupyter"),
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
                str(source),
                "--output-dir",
                str(tmp),
                "--output",
                f"{name}-executed.ipynb",
            ],
            cwd=source.parent,
            env=env,
        )
        print(f"solution notebook {name}: {seconds:.1f} s to execute")


def grading(tmp, size):
    for name in course.assignments():
        subs = tmp / f"class-{name}"
        for i in range(size):
            make_submission(
                name, subs / f"student{i:03d}", solved=(i % 2 == 0)
            )
        for jobs in (1, 2):
            seconds = timed(
                [
                    sys.executable,
                    "-m",
                    "autograder",
                    "grade",
                    name,
                    str(subs),
                    "--out",
                    str(tmp / f"{name}-{jobs}.csv"),
                    "--jobs",
                    str(jobs),
                    "--quiet",
                ],
                cwd=REPO,
            )
            print(
                f"grading {name}: {seconds / size:.2f} s per submission "
                f"with --jobs {jobs} ({size} submissions)"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-book", action="store_true")
    parser.add_argument(
        "--only-book", action="store_true", help="the book's builds alone"
    )
    parser.add_argument("--class-size", type=int, default=6)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="seqbook-bench-"))
    try:
        if not args.skip_book:
            book(tmp)
        if args.only_book:
            return
        solutions(tmp)
        grading(tmp, args.class_size)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
