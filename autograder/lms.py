"""Gradebooks that an LMS imports: ``gradebook --format canvas|moodle``.

A student id of the grader is a folder name; an LMS knows students by
its own identities. A roster CSV maps one to the other: a ``student_id``
column (the folder name) beside the LMS's identity columns, as the LMS
exports them (Canvas: its gradebook export's ``Student``, ``ID``, ``SIS
User ID``, ``SIS Login ID``, ``Section``; Moodle: ``Email address`` or
``ID number``). Students missing on either side are listed, never
dropped: roster students without grades get empty cells (the LMS leaves
their grade alone), graded students without an identity go to
``<out stem>.unmatched.csv``.

- Canvas: the five identity columns, then one column per assignment
  headed as Canvas heads it, ``name (canvas id)``, the ids given on the
  command line; optionally Canvas' ``Points Possible`` row; no other
  column (a ``total`` would become a new assignment).
- Moodle: one identity column that Moodle maps (``Email address`` or
  ``ID number``), then one column per grade item.
"""

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from autograder.batch.outputs import write_csv_atomic

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_REQUIRED = ["Student", "ID"]
# As Canvas writes it in the first column of its gradebook export.
POINTS_POSSIBLE = "    Points Possible"
MOODLE_IDENTITY = {"email": "Email address", "idnumber": "ID number"}
FORMATS = ("generic", "canvas", "moodle")


@dataclass(frozen=True)
class LmsOptions:
    """How ``gradebook`` writes: its format, the roster, Canvas' ids of
    the assignments (``((name, id), ...)``), the row of maximum points,
    and the identity column Moodle maps (``email`` or ``idnumber``; by
    default the roster's, email first)."""

    fmt: str = "generic"
    roster: Path | None = None
    canvas_ids: tuple = ()
    max_row: bool = False
    identity: str | None = None


@dataclass
class Matching:
    """Who is on both sides, and who is on one only."""

    roster: dict  # student_id -> its roster row, in the roster's order
    no_grades: list = field(default_factory=list)  # in the roster only
    not_in_roster: list = field(default_factory=list)  # graded only


def parse_canvas_id(text):
    """``rnn=123456`` -> ("rnn", "123456")."""
    name, _, number = text.partition("=")
    if not name or not re.fullmatch(r"\d+", number.strip()):
        raise ValueError(
            f"--canvas-id {text!r}: give ASSIGNMENT=ID, the number in the "
            "assignment's Canvas address (.../assignments/ID)"
        )
    return name.strip(), number.strip()


def read_roster(path):
    """student_id -> the roster's row (in the roster's order), and the
    roster's columns."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no roster {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        if "student_id" not in columns:
            raise ValueError(
                f"the roster {path} has no student_id column (the "
                "students' folder names)"
            )
        roster = {}
        for row in reader:
            student = (row.get("student_id") or "").strip()
            if student in roster:
                raise ValueError(f"the roster lists {student!r} twice")
            if student:
                roster[student] = row
    return roster, columns


def match(scores, roster):
    """The :class:`Matching` of the graded students and the roster."""
    return Matching(
        roster=roster,
        no_grades=[s for s in roster if s not in scores],
        not_in_roster=sorted(s for s in scores if s not in roster),
    )


def _number(value):
    return "" if value is None else f"{value:g}"


def canvas_table(names, scores, maxima, matching, options):
    """(header, rows) of Canvas' gradebook import."""
    ids = dict(options.canvas_ids)
    missing = [n for n in names if n not in ids]
    if missing:
        raise ValueError(
            "Canvas knows assignments by their ids: give --canvas-id "
            + " ".join(f"{n}=ID" for n in missing)
        )
    header = CANVAS_IDENTITY + [f"{n} ({ids[n]})" for n in names]
    rows = []
    if options.max_row:
        blank = [POINTS_POSSIBLE] + [""] * (len(CANVAS_IDENTITY) - 1)
        rows.append(blank + [_number(maxima[n]) for n in names])
    for student, entry in matching.roster.items():
        own = scores.get(student, {})
        identity = [(entry.get(c) or "").strip() for c in CANVAS_IDENTITY]
        rows.append(identity + [_number(own.get(n)) for n in names])
    return header, rows


def moodle_column(columns, options):
    """The roster's column of the identity Moodle maps."""
    wanted = [options.identity] if options.identity else ["email", "idnumber"]
    lowered = {c.strip().lower(): c for c in columns}
    for key in wanted:
        column = lowered.get(MOODLE_IDENTITY[key].lower())
        if column:
            return MOODLE_IDENTITY[key], column
    names = " or ".join(MOODLE_IDENTITY[k] for k in wanted)
    raise ValueError(f"the roster has no {names} column for Moodle")


def moodle_table(names, scores, matching, columns, options):
    """(header, rows) of Moodle's grade import."""
    if options.max_row:
        raise ValueError(
            "Moodle's grade import has no row of maximum points: set each "
            "grade item's maximum in Moodle (drop --max-row)"
        )
    heading, column = moodle_column(columns, options)
    rows = []
    for student, entry in matching.roster.items():
        identity = (entry.get(column) or "").strip()
        if not identity:
            raise ValueError(f"the roster has no {heading} for {student!r}")
        own = scores.get(student, {})
        rows.append([identity] + [_number(own.get(n)) for n in names])
    return [heading, *names], rows


def check_roster(options, columns):
    if options.fmt == "canvas":
        missing = [c for c in CANVAS_REQUIRED if c not in columns]
        if missing:
            raise ValueError(
                "a roster for Canvas holds the columns of its gradebook "
                f"export; missing: {', '.join(missing)}"
            )


def write_lms(names, scores, maxima, out, options):
    """Write the Canvas or Moodle gradebook ``out``; the graded students
    that the roster does not name go to ``<out stem>.unmatched.csv``.
    Returns the :class:`Matching`."""
    if options.roster is None:
        raise ValueError(
            f"--format {options.fmt} needs --roster CSV: the LMS's "
            "identities of the students (a student_id column beside them)"
        )
    roster, columns = read_roster(options.roster)
    check_roster(options, columns)
    matching = match(scores, roster)
    if options.fmt == "canvas":
        header, rows = canvas_table(names, scores, maxima, matching, options)
    else:
        header, rows = moodle_table(names, scores, matching, columns, options)
    write_csv_atomic(out, None, [header, *rows])
    unmatched = Path(out).with_suffix(".unmatched.csv")
    unmatched.unlink(missing_ok=True)
    if matching.not_in_roster:
        write_csv_atomic(
            unmatched,
            None,
            [["student_id", *names]]
            + [
                [s] + [_number(scores[s].get(n)) for n in names]
                for s in matching.not_in_roster
            ],
        )
    return matching
