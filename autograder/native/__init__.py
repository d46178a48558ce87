"""The grader inside an instructor's own nbgrader course.

nbgrader is extended through its configuration: ``autograde`` runs the
list of preprocessors ``Autograde.autograde_preprocessors`` and
``generate_feedback`` the list ``GenerateFeedback.preprocessors``. A few
lines in the course's ``nbgrader_config.py`` (:func:`config_lines`,
printed by ``python -m autograder nbgrader-config``) swap in three steps
of ours, so that plain ``nbgrader autograde ASSIGNMENT`` grades with what
``python -m autograder grade`` guarantees:

- :class:`JudgedExecute` in place of nbgrader's ``Execute``: the kernel
  starts in its box (:func:`autograder.worker.box.kernel_launch`:
  sandboxed where the machine allows), with the memory limit and the
  output cap (:mod:`autograder.worker.limits`), a time limit for the
  whole notebook, and the judge listening, so that the hidden checks run
  outside the student's process;
- :class:`ApplyVerdicts` right after nbgrader's ``SaveAutoGrades``: a
  cell scores only when nbgrader *and* the judge passed it (the worker's
  own :mod:`autograder.worker.verdicts`), before nbgrader's late
  penalties;
- :class:`HideHiddenTests`, last in ``autograde`` and in
  ``generate_feedback``: no hidden test source nor traceback reaches the
  autograded notebook or the feedback.

Everything else stays nbgrader's: the gradebook (``db_url``), formgrader,
manual grading (a manual score is never overwritten), late penalties,
``export``, ``release_feedback``.
"""

from autograder.native.config import config_lines
from autograder.native.execute import JudgedExecute
from autograder.native.steps import ApplyVerdicts, HideHiddenTests

__all__ = ["ApplyVerdicts", "HideHiddenTests", "JudgedExecute", "config_lines"]
