"""The options of one ``grade`` command, as one frozen object."""

from dataclasses import dataclass, field
from pathlib import Path

from autograder.job import Limits


@dataclass(frozen=True)
class GradeOptions:
    """What ``python -m autograder grade`` was asked to do.

    - assignment: e.g. ``rnn``; submissions: the folder of
      ``<student_id>/<assignment>/<assignment>.ipynb``; out: the CSV
    - jobs: submissions graded at once; limits: per submission
    - feedback_dir: the feedback pages (default ``feedback/<assignment>``
      beside the CSV); source: the source notebooks (default
      ``solutions/``)
    - progress: a progress bar and a summary; regrade: ignore the journal
    """

    assignment: str
    submissions: Path
    out: Path
    jobs: int = 1
    limits: Limits = field(default_factory=Limits)
    feedback_dir: Path | None = None
    source: Path | None = None
    progress: bool = True
    regrade: bool = False

    @property
    def feedback(self):
        """The folder of the feedback pages."""
        if self.feedback_dir:
            return Path(self.feedback_dir)
        return Path(self.out).parent / "feedback" / self.assignment

    @property
    def journal(self):
        """The journal beside the CSV: grades/rnn.csv -> rnn.details.jsonl."""
        return Path(self.out).with_suffix(".details.jsonl")

    def say(self, *args, **kwargs):
        """print, unless the command is quiet."""
        if self.progress:
            print(*args, **kwargs)
