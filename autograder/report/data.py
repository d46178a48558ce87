"""What a graded class got wrong, from the grades CSV and its journal.

The CSV gives each student's status, score and the points of each test
cell; the journal (``<csv stem>.details.jsonl``) the message of each
failed test, the seconds each submission took and why a row is not
``graded``. Messages that differ only in their numbers (the sizes and
errors of a student's own run) count as one diagnosis.
"""

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograder.batch.journal import read_journal
from autograder.batch.outputs import FIXED_COLUMNS
from autograder.gradebook import read_grades_csv

# Statuses whose notebook ran, so that its tests say something.
RAN = ("graded", "timeout", "memory")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
NO_MESSAGE = "(no message in the journal: graded before messages were kept)"
# What a failed hidden check raises in the kernel: the report shows the
# judge's message without it.
JUDGE_PREFIX = "CheckFailure: "


@dataclass
class Diagnosis:
    """One message (numbers aside), how many had it, and who."""

    text: str
    count: int = 0
    variants: set = field(default_factory=set)
    students: list = field(default_factory=list)


@dataclass
class TestSummary:
    """One test cell across the class."""

    name: str
    points: float  # the most anyone earned (a test earns all or nothing)
    ran: int = 0  # submissions whose notebook ran
    passed: int = 0
    diagnoses: list = field(default_factory=list)  # most frequent first

    @property
    def rate(self):
        return self.passed / self.ran if self.ran else 0.0


@dataclass
class ClassReport:
    """Everything the report page shows."""

    assignment: str
    csv_path: Path
    rows: list  # the CSV's rows (dicts)
    max_score: float
    tests: list  # of TestSummary, in the CSV's order
    statuses: Counter
    not_graded: list  # (student, status, detail)
    slowest: list  # (student, seconds), slowest first

    @property
    def scores(self):
        return [float(row["score"]) for row in self.rows]

    def stats(self):
        scores = self.scores
        if not scores:
            return {}
        return {
            "mean": statistics.mean(scores),
            "median": statistics.median(scores),
            "min": min(scores),
            "max": max(scores),
        }


def read_rows(csv_path):
    """(rows, test columns) of a grades CSV."""
    rows, columns = read_grades_csv(csv_path)
    if not rows:
        raise ValueError(f"{Path(csv_path)} has no rows")
    return rows, [c for c in columns if c not in FIXED_COLUMNS]


def key_of(message):
    """A message with its numbers blanked: what groups diagnoses."""
    return NUMBER.sub("#", " ".join(str(message).split()))


def summarize_test(name, rows, records):
    """The :class:`TestSummary` of the test cell ``name``."""
    earned = [float(row[name] or 0) for row in rows]
    summary = TestSummary(name, max(earned + [0.0]))
    found = {}
    for row, points in zip(rows, earned):
        if row["status"] not in RAN:
            continue
        summary.ran += 1
        if points > 0:
            summary.passed += 1
            continue
        record = records.get(row["student_id"], {})
        failures = record.get("failures")
        message = NO_MESSAGE if failures is None else failures.get(name)
        message = (message or "failed (no message)").removeprefix(JUDGE_PREFIX)
        diagnosis = found.setdefault(key_of(message), Diagnosis(message))
        diagnosis.count += 1
        diagnosis.variants.add(message)
        diagnosis.students.append(row["student_id"])
    summary.diagnoses = sorted(found.values(), key=lambda d: -d.count)
    return summary


def read_report(csv_path, top_slowest=10):
    """The :class:`ClassReport` of a grades CSV and its journal."""
    rows, test_names = read_rows(csv_path)
    assignment = rows[0]["assignment"]
    journal = Path(csv_path).with_suffix(".details.jsonl")
    records, _ = read_journal(journal, assignment)
    tests = [summarize_test(n, rows, records) for n in test_names]
    timed = [
        (row["student_id"], float(records[row["student_id"]]["seconds"]))
        for row in rows
        if records.get(row["student_id"], {}).get("seconds")
    ]
    return ClassReport(
        assignment=assignment,
        csv_path=Path(csv_path),
        rows=rows,
        max_score=max(float(row["max_score"]) for row in rows),
        tests=tests,
        statuses=Counter(row["status"] for row in rows),
        not_graded=[
            (
                row["student_id"],
                row["status"],
                records.get(row["student_id"], {}).get("detail", ""),
            )
            for row in rows
            if row["status"] != "graded"
        ],
        slowest=sorted(timed, key=lambda t: -t[1])[:top_slowest],
    )
