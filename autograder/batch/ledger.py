"""The class's results as the parent keeps them: rows, journal, pages.

Every state of a batch lives here, in the parent (the workers only
compute): the record of each student, reused from the journal or just
graded, its CSV row and its feedback page. :meth:`Ledger.finish` records
one outcome the moment it is known: the journal line first, then the CSV
(with ``--course``, the course's gradebook even before the journal, so
that a journalled result is always in the gradebook).
"""

import datetime
import os
from dataclasses import dataclass

from autograder import notebooks
from autograder.batch import journal, outputs, session

# Outcome keys that name files of the run, gone once it ends: never
# journalled.
TRANSIENT = {"autograded"}


@dataclass(frozen=True)
class Assignment:
    """What the source notebook says about an assignment, and its keys."""

    name: str
    cells: tuple  # (grade_id, points) of the graded test cells, in order
    key: str  # the SHA-256 of the source notebook
    checks_key: str  # the digest of the checks' code

    @classmethod
    def read(cls, name, source=None):
        return cls(
            name,
            tuple(notebooks.graded_cells(name, source)),
            journal.assignment_sha256(name, source),
            journal.checks_sha256(),
        )

    @property
    def cell_names(self):
        return [grade_id for grade_id, _ in self.cells]

    @property
    def max_score(self):
        return sum(points for _, points in self.cells)


def run_id():
    """This run, in the journal: when it started, and its pid."""
    now = datetime.datetime.now().isoformat(timespec="seconds")
    return f"{now}-{os.getpid()}"


class Ledger:
    """Rows and records of one assignment's class, by student id."""

    def __init__(self, assignment, options, students, log, sink=None):
        self.assignment = assignment  # an Assignment
        self.options = options
        self.students = students  # ids, in CSV order
        self.log = log  # the Journal
        # With --course: the instructor's nbgrader course (a CourseBook),
        # which gets every result before the journal does.
        self.sink = sink
        self.run = run_id()
        self.rows, self.records = {}, {}
        self.fresh, self.reused = [], []

    def earned(self, cells):
        """grade_id -> points, for every graded cell of the assignment."""
        cells = cells or {}
        return {
            name: float(cells.get(name, 0) or 0)
            for name in self.assignment.cell_names
        }

    def row_of(self, record):
        earned = self.earned(record.get("cells"))
        return {
            "student_id": record["student_id"],
            "assignment": self.assignment.name,
            "score": round(sum(earned.values()), 4),
            "max_score": self.assignment.max_score,
            "status": record["status"],
            **earned,
        }

    def page_of(self, student):
        return self.options.feedback / f"{student}.html"

    def write_csv(self):
        rows = [self.rows[s] for s in self.students if s in self.rows]
        outputs.write_grades(
            self.options.out, rows, self.assignment.cell_names
        )

    def reuse(self, record):
        """Take a journalled record as this run's; False when its
        feedback page is gone (the submission is graded again)."""
        student = record["student_id"]
        if self.sink is not None and not self.sink.holds(record):
            return False
        page = self.page_of(student)
        if record.get("feedback"):
            if not outputs.restore_page(page, record["feedback"]):
                return False
        else:
            self._failure_page(record)
        self.rows[student] = self.row_of(record)
        self.records[student] = record
        self.reused.append(student)
        return True

    def _failure_page(self, record):
        outputs.failure_page(
            self.page_of(record["student_id"]), record, self.assignment.name
        )

    def finish(self, submission, outcome):
        """Record the outcome of ``submission`` (journal, row, page, CSV),
        whole even if Ctrl-C comes meanwhile."""
        with session.held():
            record = self.record(submission, outcome)
            if self.sink is not None:
                record.update(self.sink.finish(record, outcome))
            if not record["feedback"]:
                self._failure_page(record)
            self.log.append(record)
            self.records[submission.student] = record
            self.rows[submission.student] = self.row_of(record)
            self.fresh.append(submission.student)
            self.write_csv()

    def record(self, submission, outcome):
        """The journal's record of an outcome."""
        earned = self.earned(outcome.get("cells"))
        record = {
            "student_id": submission.student,
            "assignment": self.assignment.name,
            "status": outcome["status"],
            "score": round(sum(earned.values()), 4),
            "max_score": self.assignment.max_score,
            "detail": outcome.get("detail", ""),
            "seconds": outcome.get("seconds", 0.0),
            "cells": earned,
            "feedback": outcome.get("feedback"),
            "notebook_sha256": submission.digest,
            "assignment_sha256": self.assignment.key,
            "checks_sha256": self.assignment.checks_key,
            "graded_at": datetime.datetime.now().isoformat(timespec="seconds"),
            "run": self.run,
        }
        for key, value in outcome.items():  # e.g. the judge's notes
            if key not in TRANSIENT:
                record.setdefault(key, value)
        return record

    def ordered(self):
        """(row, record) of every student with a row, in CSV order."""
        return [
            (self.rows[s], self.records[s])
            for s in self.students
            if s in self.rows
        ]
