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
    from autograder.grading import grade

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
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


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
        "--quiet", action="store_true", help="no progress bar or summary"
    )
    grade.set_defaults(run=_grade)

    args = parser.parse_args(argv)
    return args.run(args)
