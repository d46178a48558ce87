"""Command line of the course's grading tools (``python -m autograder``).

- ``release``: the student notebooks from the source notebooks;
- ``grade``: a class's submissions (:mod:`autograder.batch`);
- ``gradebook``: several assignments' grades in one LMS gradebook.
"""

import argparse
import sys
from pathlib import Path

from autograder import course
from autograder.job import Limits, parse_size


def _shown(path):
    """``path`` relative to the current folder where it is inside it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def cmd_release(args):
    if not args.source.is_dir():
        print(f"error: no source folder {args.source}", file=sys.stderr)
        return 2
    names = args.assignments or course.assignments(args.source)
    for path in course.release(names, dest=args.dest, source=args.source):
        print(f"wrote {_shown(path)}")
    return 0


def grade_options(args):
    """The GradeOptions of a parsed ``grade`` command line."""
    from autograder.batch import GradeOptions

    return GradeOptions(
        assignment=args.assignment,
        submissions=args.submissions,
        out=args.out,
        jobs=max(1, int(args.jobs)),
        limits=Limits(
            cell_timeout=args.cell_timeout,
            notebook_timeout=args.timeout,
            memory_limit=parse_size(args.memory_limit),
            max_output=parse_size(args.max_output),
        ),
        feedback_dir=args.feedback,
        source=args.source.resolve(),
        workdir=args.workdir,
        progress=not args.quiet,
        regrade=args.regrade,
        scheduler=args.scheduler,
    )


def cmd_grade(args):
    from autograder.batch import (
        ClusterUnavailable,
        GraderBusy,
        Interrupted,
        grade_class,
    )

    try:
        grade_class(grade_options(args))
    except (
        ValueError,
        FileNotFoundError,
        GraderBusy,
        ClusterUnavailable,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        return 128 + int(stop.signum)
    return 0


def cmd_gradebook(args):
    from autograder.gradebook import gradebook

    try:
        rows, maxima = gradebook(args.csvs, args.out, max_row=args.max_row)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out}: {len(rows)} students, "
        f"{len(maxima) - 1} assignments, out of {maxima['total']:g}; "
        f"max scores in {args.out.with_suffix('.max.csv')}"
    )
    return 0


def _size(text):
    try:
        parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _release_parser(sub):
    release = sub.add_parser(
        "release",
        help="generate notebooks/<name>/<name>.ipynb from "
        "solutions/ with nbgrader",
    )
    release.add_argument(
        "assignments", nargs="*", help="assignment names (default: all)"
    )
    _source_flag(release)
    release.add_argument(
        "--dest",
        type=Path,
        default=Path("notebooks"),
        help="folder of the student notebooks (default ./notebooks)",
    )
    release.set_defaults(run=cmd_release)


def _source_flag(parser):
    parser.add_argument(
        "--source",
        type=Path,
        default=Path("solutions"),
        help="folder of the source notebooks, <name>/<name>.ipynb with "
        "solutions and hidden tests (default ./solutions)",
    )


# (flag, type, default, help) of grade's limits.
LIMIT_FLAGS = [
    ("--cell-timeout", int, 60, "seconds one cell may run (default 60)"),
    ("--timeout", int, 300, "seconds a whole notebook may run (default 300)"),
    (
        "--memory-limit",
        _size,
        "4G",
        "memory one notebook's kernel may use (RLIMIT_DATA), e.g. 4G or "
        "1500M; 0 for none (default 4G)",
    ),
    (
        "--max-output",
        _size,
        "1M",
        "output one cell may show, the rest is cut (default 1M)",
    ),
]


def _grade_parser(sub):
    grade = sub.add_parser("grade", help="grade a class's submissions")
    grade.add_argument("assignment", help="e.g. rnn")
    grade.add_argument(
        "submissions",
        type=Path,
        help="folder of SUBMISSIONS/<student_id>/<assignment>/"
        "<assignment>.ipynb",
    )
    grade.add_argument(
        "--out", type=Path, required=True, help="the CSV of grades to write"
    )
    grade.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="submissions graded at once (default 1)",
    )
    grade.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="grade on the workers of the Dask cluster whose scheduler is "
        "at ADDRESS (e.g. tcp://10.0.0.5:8786) instead of --jobs worker "
        "processes here; results, journal and pages stay here",
    )
    for flag, kind, default, text in LIMIT_FLAGS:
        grade.add_argument(flag, type=kind, default=default, help=text)
    grade.add_argument(
        "--feedback",
        type=Path,
        default=None,
        help="folder of the feedback pages (default: "
        "feedback/<assignment>/ beside the CSV)",
    )
    _source_flag(grade)
    grade.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="work folder for nbgrader's course folder, the master "
        "gradebook and the runs (default: .autograder/ beside the CSV)",
    )
    grade.add_argument(
        "--regrade",
        action="store_true",
        help="grade every submission again, ignoring the results "
        "journalled in <csv>.details.jsonl by earlier runs",
    )
    grade.add_argument(
        "--quiet", action="store_true", help="no progress bar or summary"
    )
    grade.set_defaults(run=cmd_grade)


def _gradebook_parser(sub):
    book = sub.add_parser(
        "gradebook",
        help="combine grade CSVs of several assignments into one "
        "gradebook for an LMS",
    )
    book.add_argument(
        "csvs", nargs="+", type=Path, help="grade CSVs made by `grade`"
    )
    book.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the gradebook CSV (max scores go to <out stem>.max.csv)",
    )
    book.add_argument(
        "--max-row",
        action="store_true",
        help="also write the max scores as the first row, student_id "
        "'max_score'",
    )
    book.set_defaults(run=cmd_gradebook)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Release and grade the course's assignments (nbgrader).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _release_parser(sub)
    _grade_parser(sub)
    _gradebook_parser(sub)
    args = parser.parse_args(argv)
    return args.run(args)
