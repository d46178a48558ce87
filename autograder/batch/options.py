"""The options of one ``grade`` command, as one frozen object."""

from dataclasses import dataclass, field
from pathlib import Path

from autograder import course
from autograder.job import Limits


@dataclass(frozen=True)
class GradeOptions:
    """What ``python -m autograder grade`` was asked to do.

    - assignment: e.g. ``rnn``; submissions: the folder of
      ``<student_id>/<assignment>/<assignment>.ipynb``; out: the CSV
    - jobs: submissions graded at once; limits: per submission
    - feedback_dir: the feedback pages (default ``feedback/<assignment>``
      beside the CSV); source: the source notebooks (default the
      checkout's ``solutions/``; the command's default is
      ``./solutions``); workdir: nbgrader's course folder and the run
      folders (default ``.autograder/`` beside the CSV)
    - progress: a progress bar and a summary; regrade: ignore the journal
      (and, with a course, the manual scores given in formgrader)
    - scheduler: the address of a Dask scheduler whose workers grade
      (``--scheduler``; ``jobs`` then does not apply), or None
    - course: an instructor's nbgrader course folder whose gradebook and
      ``autograded/`` get the results (:mod:`autograder.batch.course_book`)
    - require_sandbox: refuse to grade where kernels cannot be sandboxed
    """

    assignment: str
    submissions: Path
    out: Path
    jobs: int = 1
    limits: Limits = field(default_factory=Limits)
    feedback_dir: Path | None = None
    source: Path | None = None
    workdir: Path | None = None
    progress: bool = True
    regrade: bool = False
    scheduler: str | None = None
    course: Path | None = None
    require_sandbox: bool = False

    @property
    def feedback(self):
        """The folder of the feedback pages."""
        if self.feedback_dir:
            return Path(self.feedback_dir)
        return Path(self.out).parent / "feedback" / self.assignment

    @property
    def work(self):
        """The work folder (absolute): never inside the grader's package."""
        if self.workdir:
            return Path(self.workdir).resolve()
        return Path(self.out).resolve().parent / course.WORKDIR_NAME

    @property
    def journal(self):
        """The journal beside the CSV: grades/rnn.csv -> rnn.details.jsonl."""
        return Path(self.out).with_suffix(".details.jsonl")

    def say(self, *args, **kwargs):
        """print, unless the command is quiet."""
        if self.progress:
            print(*args, **kwargs)
