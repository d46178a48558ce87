"""The course's grading tools, built on nbgrader.

``python -m autograder release`` generates the student notebooks in
``notebooks/`` from the sources in ``solutions/``;
``python -m autograder grade ASSIGNMENT SUBMISSIONS_DIR --out CSV`` grades a
class (``--course DIR``: an instructor's nbgrader course, into its
gradebook); ``report`` says what the class got wrong
(:mod:`autograder.report`); ``gradebook`` writes what an LMS imports
(:mod:`autograder.gradebook`, :mod:`autograder.lms`). Three processes,
each with a package of its own, and a line between them that the layout
shows:

- the parent, :mod:`autograder.batch`: intake of the submitted files,
  the journal, the job pool, the CSV, the feedback pages, the summary;
  it keeps every state;
- the worker, :mod:`autograder.worker`: one submission at a time, in its
  own nbgrader course, its kernel boxed (sandboxed where the machine
  allows) and limited; it shares only :mod:`autograder.job` with the
  parent;
- the student's kernel, which gets the kernel side of
  :mod:`autograder.judge` and nothing else; the judge's side runs the
  checks of :mod:`autograder.checks` in the worker and gives the verdicts.

:mod:`autograder.native` puts the worker's guarantees (the box, the
judge, the limits, the verdicts) into nbgrader's own ``autograde`` and
``generate_feedback``, as steps of their pipelines that an instructor's
``nbgrader_config.py`` names; there, nbgrader's process is the worker.

:mod:`autograder.course` says where the course's files live and how
nbgrader sees them; :mod:`autograder.notebooks` reads the source
notebooks from the folder it is given. The grader never writes inside
its own package: nbgrader's course folder, the master gradebook and the
per-submission work folders live in a work folder (``.autograder/``
beside the grades CSV, or ``--workdir``). Installed from its wheel
(``grader/``, distribution ``seqbook-grader``) it works the same.
"""
