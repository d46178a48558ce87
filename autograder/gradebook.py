"""The combined gradebook for an LMS: ``python -m autograder gradebook``.

Reads the grade CSVs of several assignments (as ``grade`` writes them)
and writes one row per student: ``student_id``, one column per
assignment in course order (its score; empty when the student has no row
for it) and ``total``. The max scores go to ``<out stem>.max.csv``.
"""

import csv
from pathlib import Path

from autograder import course
from autograder.batch.outputs import FIXED_COLUMNS, write_csv_atomic


def read_grades(csv_paths):
    """(student -> assignment -> score, assignment -> max score)."""
    scores, maxima = {}, {}
    for path in map(Path, csv_paths):
        if not path.is_file():
            raise FileNotFoundError(f"no grades file {path}")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = set(FIXED_COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise ValueError(
                    f"{path} is not a grades CSV: no column "
                    f"{', '.join(sorted(missing))}"
                )
            _read_rows(path, reader, scores, maxima)
    return scores, maxima


def _read_rows(path, reader, scores, maxima):
    seen = None
    for row in reader:
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


def gradebook(csv_paths, out, max_row=False):
    """Combine per-assignment grade CSVs into one LMS-ready gradebook.

    ``out`` gets one row per student; with ``max_row``, a first row whose
    student_id is ``max_score`` holds the max scores (Canvas' "Points
    Possible" row), which always go to ``<out stem>.max.csv``
    (``assignment,max_score``, ending with ``total``). Returns (rows,
    max_scores).
    """
    scores, maxima = read_grades(csv_paths)
    order = course.ORDER
    names = sorted(
        maxima, key=lambda n: (order.index(n) if n in order else 99, n)
    )
    rows = []
    for student in sorted(scores):
        own = scores[student]
        row = {"student_id": student}
        for name in names:
            row[name] = _number(own[name]) if name in own else ""
        row["total"] = _number(sum(own.values()))
        rows.append(row)
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
