"""A submission's own nbgrader course: the work folder of one job.

The work folder is a small nbgrader course of its own, with a copy of
the master gradebook (which knows the assignment and its hidden tests)
and the gradable copy of the submission in ``submitted/``, so that
submissions are graded in parallel without sharing a database.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stage:
    """Where nbgrader reads and writes the files of one job."""

    root: Path
    assignment: str
    student: str

    def _path(self, step, suffix=".ipynb"):
        name = f"{self.assignment}{suffix}"
        return self.root / step / self.student / self.assignment / name

    @property
    def gradebook(self):
        return self.root / "gradebook.db"

    @property
    def submitted(self):
        return self._path("submitted")

    @property
    def autograded(self):
        return self._path("autograded")

    @property
    def feedback(self):
        return self._path("feedback", ".html")


def stage(job):
    """A fresh work folder for ``job``: the gradebook and the notebook."""
    work = Path(job.workdir)
    if work.exists():
        shutil.rmtree(work)
    staged = Stage(work, job.assignment, job.student)
    staged.submitted.parent.mkdir(parents=True)
    shutil.copy(job.master_db, staged.gradebook)
    shutil.copy(job.notebook, staged.submitted)
    return staged
