"""Command line of the course's grading tools (``python -m autograder``).

- ``release``: the student notebooks from the source notebooks;
- ``grade``: a class's submissions (:mod:`autograder.batch`);
- ``gradebook``: several assignments' grades in one LMS gradebook;
- ``report``: one page on what a class got wrong
  (:mod:`autograder.report`);
- ``nbgrader-config``: the lines that make an instructor's own
  ``nbgrader autograde`` grade with the grader (:mod:`autograder.native`).
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

    submissions, source, out = _grade_paths(args)
    return GradeOptions(
        assignment=args.assignment,
        submissions=submissions,
        out=out,
        jobs=max(1, int(args.jobs)),
        limits=limits_of(args),
        feedback_dir=args.feedback,
        source=source.resolve(),
        workdir=args.workdir,
        progress=not args.quiet,
        regrade=args.regrade,
        scheduler=args.scheduler,
        course=args.course.resolve() if args.course else None,
        require_sandbox=args.require_sandbox,
    )


def _grade_paths(args):
    """(submissions, source, out) of ``grade``: as given, else the
    course's (--course: its submitted/ and source/ folders, the CSV in
    its grades/ folder), else an error."""
    if args.course is None:
        if args.submissions is None or args.out is None:
            raise ValueError(
                "give the submissions folder and --out CSV, or --course "
                "DIR (an nbgrader course folder)"
            )
        return args.submissions, args.source or Path("solutions"), args.out
    from autograder.batch.course_book import course_folders

    if not args.course.is_dir():
        raise FileNotFoundError(f"no course folder {args.course}")
    submitted, source = course_folders(args.course, args.assignment)
    out = args.out or args.course / "grades" / f"{args.assignment}.csv"
    return (args.submissions or submitted, args.source or source, out)


def cmd_grade(args):
    from autograder.batch import (
        ClusterUnavailable,
        GraderBusy,
        Interrupted,
        NoSandbox,
        grade_class,
    )

    try:
        grade_class(grade_options(args))
    except (
        ValueError,
        FileNotFoundError,
        GraderBusy,
        NoSandbox,
        ClusterUnavailable,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        return 128 + int(stop.signum)
    return 0


def cmd_gradebook(args):
    from autograder import lms
    from autograder.gradebook import write_gradebook

    try:
        options = lms.LmsOptions(
            fmt=args.format,
            roster=args.roster,
            canvas_ids=tuple(map(lms.parse_canvas_id, args.canvas_id)),
            max_row=args.max_row,
            identity=args.moodle_identity,
        )
        count, maxima, matching = write_gradebook(args.csvs, args.out, options)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out} ({args.format}): {count} students, "
        f"{len(maxima) - 1} assignments, out of {maxima['total']:g}"
    )
    if matching is not None:
        _say_unmatched(matching, args.out)
    return 0


def _say_unmatched(matching, out):
    """Students on one side only: listed, never dropped."""
    if matching.no_grades:
        print(
            f"in the roster without grades (empty cells): "
            f"{', '.join(matching.no_grades)}"
        )
    if matching.not_in_roster:
        where = (
            f"{Path(out).with_suffix('.unmatched.csv')}, not in the import"
            if Path(out).with_suffix(".unmatched.csv").exists()
            else "their rows have no LMS identity"
        )
        print(
            f"graded but not in the roster ({where}): "
            f"{', '.join(matching.not_in_roster)}",
            file=sys.stderr,
        )


def cmd_report(args):
    from autograder.report import write_report

    try:
        report = write_report(args.csv, args.out)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out}: {len(report.rows)} students, "
        f"{len(report.tests)} tests"
    )
    return 0


def limits_of(args):
    """The Limits of parsed LIMIT_FLAGS."""
    return Limits(
        cell_timeout=args.cell_timeout,
        notebook_timeout=args.timeout,
        memory_limit=parse_size(args.memory_limit),
        max_output=parse_size(args.max_output),
        max_processes=args.max_processes,
        max_open_files=args.max_open_files,
        disk_limit=parse_size(args.disk_limit),
        max_files=args.max_files,
    )


def cmd_nbgrader_config(args):
    from autograder.native.config import config_lines

    print(config_lines(limits_of(args)), end="")
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


def _source_flag(parser, default=Path("solutions")):
    parser.add_argument(
        "--source",
        type=Path,
        default=default,
        help="folder of the source notebooks, <name>/<name>.ipynb with "
        "solutions and hidden tests (default ./solutions; with --course, "
        "the course's source/)",
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
    (
        "--max-processes",
        int,
        256,
        "processes and threads one notebook's kernel may run at once "
        "(sandboxed; default 256)",
    ),
    (
        "--max-open-files",
        int,
        1024,
        "files one kernel process may hold open (default 1024)",
    ),
    (
        "--disk-limit",
        _size,
        "256M",
        "what one kernel may write in all, e.g. 256M; one file at most "
        "that much everywhere, all files together in the sandbox (a tmpfs: "
        "it uses memory; default 256M)",
    ),
    (
        "--max-files",
        int,
        10000,
        "files and folders one kernel may make (sandboxed as root; "
        "default 10000)",
    ),
]


def _grade_parser(sub):
    grade = sub.add_parser("grade", help="grade a class's submissions")
    grade.add_argument("assignment", help="e.g. rnn")
    grade.add_argument(
        "submissions",
        type=Path,
        nargs="?",
        help="folder of SUBMISSIONS/<student_id>/<assignment>/"
        "<assignment>.ipynb (with --course: the course's submitted/)",
    )
    grade.add_argument(
        "--out",
        type=Path,
        help="the CSV of grades to write (with --course: "
        "grades/<assignment>.csv in the course)",
    )
    grade.add_argument(
        "--course",
        type=Path,
        help="an nbgrader course folder: grade its submitted/ into its "
        "gradebook (db_url) and autograded/, as nbgrader autograde does",
    )
    _where_flags(grade)
    for flag, kind, default, text in LIMIT_FLAGS:
        grade.add_argument(flag, type=kind, default=default, help=text)
    grade.add_argument(
        "--feedback",
        type=Path,
        default=None,
        help="folder of the feedback pages (default: "
        "feedback/<assignment>/ beside the CSV)",
    )
    _source_flag(grade, default=None)
    grade.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="work folder for nbgrader's course folder, the master "
        "gradebook and the runs (default: .autograder/ beside the CSV)",
    )
    _run_flags(grade)
    grade.set_defaults(run=cmd_grade)


def _run_flags(grade):
    """How ``grade`` runs: again, how strictly, how loudly."""
    grade.add_argument(
        "--regrade",
        action="store_true",
        help="grade every submission again, ignoring the results "
        "journalled in <csv>.details.jsonl by earlier runs (with "
        "--course: and the manual scores given in formgrader)",
    )
    grade.add_argument(
        "--require-sandbox",
        action="store_true",
        help="refuse to grade where the students' kernels cannot be "
        "sandboxed (bubblewrap missing or unusable)",
    )
    grade.add_argument(
        "--quiet", action="store_true", help="no progress bar or summary"
    )


def _where_flags(grade):
    """Where ``grade`` grades: --jobs processes here, or --scheduler."""
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


def _gradebook_parser(sub):
    book = sub.add_parser(
        "gradebook",
        help="combine grade CSVs of several assignments into one "
        "gradebook for an LMS (generic, Canvas or Moodle)",
    )
    book.add_argument(
        "csvs", nargs="+", type=Path, help="grade CSVs made by `grade`"
    )
    book.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the gradebook CSV (generic: max scores go to "
        "<out stem>.max.csv)",
    )
    book.add_argument(
        "--format",
        choices=["generic", "canvas", "moodle"],
        default="generic",
        help="generic (student_id, assignments, total), or the import "
        "format of Canvas or Moodle (needs --roster)",
    )
    book.add_argument(
        "--roster",
        type=Path,
        help="CSV mapping folder names (a student_id column) to the LMS's "
        "identities (Canvas: Student, ID, SIS User ID, SIS Login ID, "
        "Section; Moodle: Email address or ID number)",
    )
    book.add_argument(
        "--canvas-id",
        action="append",
        default=[],
        metavar="ASSIGNMENT=ID",
        help="Canvas' id of an assignment (repeat for each), e.g. rnn=4321",
    )
    book.add_argument(
        "--moodle-identity",
        choices=["email", "idnumber"],
        help="the roster column Moodle maps (default: Email address if "
        "the roster has it, else ID number)",
    )
    book.add_argument(
        "--max-row",
        action="store_true",
        help="also write the max scores as the first row (generic: "
        "student_id 'max_score'; Canvas: its Points Possible row)",
    )
    book.set_defaults(run=cmd_gradebook)


def _report_parser(sub):
    report = sub.add_parser(
        "report",
        help="one page on what a class got wrong: scores, pass rates, the "
        "most frequent diagnoses, statuses, the slowest",
    )
    report.add_argument(
        "csv",
        type=Path,
        help="a grades CSV made by `grade` (its journal, "
        "<csv stem>.details.jsonl, beside it)",
    )
    report.add_argument(
        "--out", type=Path, required=True, help="the HTML page to write"
    )
    report.set_defaults(run=cmd_report)


def _nbgrader_config_parser(sub):
    config = sub.add_parser(
        "nbgrader-config",
        help="print the lines of nbgrader_config.py that make plain "
        "`nbgrader autograde` grade with this grader",
    )
    for flag, kind, default, text in LIMIT_FLAGS:
        config.add_argument(flag, type=kind, default=default, help=text)
    config.set_defaults(run=cmd_nbgrader_config)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Release and grade the course's assignments (nbgrader).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _release_parser(sub)
    _grade_parser(sub)
    _gradebook_parser(sub)
    _report_parser(sub)
    _nbgrader_config_parser(sub)
    args = parser.parse_args(argv)
    return args.run(args)
