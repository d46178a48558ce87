"""Command line of the course's grading tools (``python -m autograder``)."""

import argparse
import sys
from pathlib import Path

from autograder import course


def _release(args):
    names = args.assignments or course.assignments()
    for path in course.release(names):
        print(f"wrote {path.relative_to(course.REPO)}")
    return 0


def _grade(args):
    from autograder.grading import GraderBusy, Interrupted, grade, parse_size

    try:
        grade(
            args.assignment,
            args.submissions,
            args.out,
            jobs=args.jobs,
            cell_timeout=args.cell_timeout,
            notebook_timeout=args.timeout,
            feedback_dir=args.feedback,
            progress=not args.quiet,
            memory_limit=parse_size(args.memory_limit),
            max_output=parse_size(args.max_output),
            regrade=args.regrade,
        )
    except (ValueError, FileNotFoundError, GraderBusy) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        return 128 + int(stop.signum)
    return 0


def _gradebook(args):
    from autograder.grading import gradebook

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
    from autograder.grading import parse_size

    try:
        parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Release and grade the course's assignments (nbgrader).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    release = sub.add_parser(
        "release",
        help="generate notebooks/<name>/<name>.ipynb from "
        "solutions/ with nbgrader",
    )
    release.add_argument(
        "assignments", nargs="*", help="assignment names (default: all)"
    )
    release.set_defaults(run=_release)

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
        "--cell-timeout",
        type=int,
        default=60,
        help="seconds one cell may run (default 60)",
    )
    grade.add_argument(
        "--timeout",
        type=int,
        default=300,
        help="seconds a whole notebook may run (default 300)",
    )
    grade.add_argument(
        "--feedback",
        type=Path,
        default=None,
        help="folder of the feedback pages (default: "
        "feedback/<assignment>/ beside the CSV)",
    )
    grade.add_argument(
        "--memory-limit",
        type=_size,
        default="4G",
        help="memory one notebook's kernel may use (RLIMIT_DATA), e.g. "
        "4G or 1500M; 0 for none (default 4G)",
    )
    grade.add_argument(
        "--max-output",
        type=_size,
        default="1M",
        help="output one cell may show, the rest is cut (default 1M)",
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
    grade.set_defaults(run=_grade)

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
    book.set_defaults(run=_gradebook)

    args = parser.parse_args(argv)
    return args.run(args)
