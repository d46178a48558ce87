"""The combined gradebook for an LMS: ``python -m autograder gradebook``.

Reads the grade CSVs of several assignments (as ``grade`` writes them).
The generic format has one row per student: ``student_id``, one column
per assignment in course order (its score; empty when the student has no
row for it) and ``total``; the max scores go to ``<out stem>.max.csv``.
Canvas' and Moodle's import formats, with a roster of the LMS's
identities, are :mod:`autograder.lms`'s.
"""

import csv
from pathlib import Path

from autograder import course, lms
from autograder.batch.outputs import FIXED_COLUMNS, write_csv_atomic


def read_grades_csv(csv_path):
    """(rows, columns) of a grades CSV as ``grade`` writes it: a clear
    error when there is no such file or it lacks a column of every
    grades CSV (``FIXED_COLUMNS``)."""
    path = Path(csv_path)
    if not path.is_file():
        raise FileNotFoundError(f"no grades file {path}")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        missing = set(FIXED_COLUMNS) - set(columns)
        if missing:
            raise ValueError(
                f"{path} is not a grades CSV: no column "
                f"{', '.join(sorted(missing))}"
            )
        return list(reader), columns


def read_grades(csv_paths):
    """(student -> assignment -> score, assignment -> max score)."""
    scores, maxima = {}, {}
    for path in map(Path, csv_paths):
        rows, _ = read_grades_csv(path)
        _read_rows(path, rows, scores, maxima)
    return scores, maxima


def _read_rows(path, rows, scores, maxima):
    seen = None
    for row in rows:
        name = row["assignment"]
        if seen is None:
            seen = name
            if name in maxima:
                raise ValueError(f"two grade files for assignment {name!r}")
        elif name != seen:
            raise ValueError(f"{path} mixes assignments")
        maxima[name] = max(maxima.get(name, 0.0), float(row["max_score"]))
        scores.setdefault(row["student_id"], {})[name] = float(row["score"])


def _number(x):
    return f"{x:g}"


def course_order(names):
    """Assignment names in the course's order (others after, by name)."""
    order = course.ORDER
    return sorted(
        names, key=lambda n: (order.index(n) if n in order else 99, n)
    )


def gradebook(csv_paths, out, max_row=False, extra_students=()):
    """Combine per-assignment grade CSVs into one LMS-ready gradebook.

    ``out`` gets one row per student (and one with empty cells for each
    of ``extra_students`` without grades, e.g. from a roster); with
    ``max_row``, a first row whose student_id is ``max_score`` holds the
    max scores (Canvas' "Points Possible" row), which always go to ``<out
    stem>.max.csv`` (``assignment,max_score``, ending with ``total``).
    Returns (rows, max_scores).
    """
    scores, maxima = read_grades(csv_paths)
    names = course_order(maxima)
    rows = []
    for student in sorted(scores):
        own = scores[student]
        row = {"student_id": student}
        for name in names:
            row[name] = _number(own[name]) if name in own else ""
        row["total"] = _number(sum(own.values()))
        rows.append(row)
    for student in extra_students:
        if student not in scores:
            rows.append({"student_id": student, **{n: "" for n in names}})
    total_max = sum(maxima[n] for n in names)
    top = {n: _number(maxima[n]) for n in names}
    first = [{"student_id": "max_score", **top, "total": _number(total_max)}]
    out = Path(out)
    header = ["student_id", *names, "total"]
    write_csv_atomic(out, header, (first if max_row else []) + rows)
    write_csv_atomic(
        out.with_suffix(".max.csv"),
        None,
        [["assignment", "max_score"], *([n, top[n]] for n in names)]
        + [["total", _number(total_max)]],
    )
    return rows, {**{n: maxima[n] for n in names}, "total": total_max}


def write_gradebook(csv_paths, out, options):
    """The gradebook in ``options.fmt`` (:class:`~autograder.lms.
    LmsOptions`): (students written, max scores, the roster's
    :class:`~autograder.lms.Matching` or None)."""
    if options.fmt == "generic":
        matching = None
        extra = ()
        if options.roster is not None:
            roster, _ = lms.read_roster(options.roster)
            matching = lms.match(read_grades(csv_paths)[0], roster)
            extra = matching.no_grades
        rows, maxima = gradebook(csv_paths, out, options.max_row, extra)
        return len(rows), maxima, matching
    scores, maxima = read_grades(csv_paths)
    names = course_order(maxima)
    matching = lms.write_lms(names, scores, maxima, out, options)
    total = sum(maxima[n] for n in names)
    return len(matching.roster), {**maxima, "total": total}, matching
