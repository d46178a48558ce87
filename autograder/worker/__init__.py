"""The worker: grades one submission at a time, in a process of its own.

Started by the parent's job pool (:mod:`autograder.batch.pool`) as
``python -m autograder.worker --serve FD``; it shares nothing with the
parent but the job it is given and the outcome it writes
(:mod:`autograder.job`). The parent enforces the time limit for the whole
notebook by killing this process group.

- ``loop``: jobs in on stdin, results out; never raises.
- ``staging``: the submission's own small nbgrader course.
- ``autograde``: nbgrader runs the notebook while the judge listens.
- ``box``: the kernel's box and how its kernel is launched
  (``kernel_launch``, the one place every route starts a kernel):
  sandboxed where the machine allows, by ``sandbox`` (bubblewrap, an
  allowlist), always through ``launcher`` (the kernel's resource
  limits, its own user).
- ``ahead``: the next submission's box and kernel, started while one
  is graded (numpy, torch imported in it), taken by nbclient, killed
  with its box after that one submission;
- ``warm``: what the worker sets up once (the feedback page's templates
  compiled once; the job's scratch gradebook without fsync);
- ``watch``: the limits the kernel reaches, seen from outside while it
  runs (processes, open files, disk); a fork bomb stopped.
- ``limits``: the output cap, and the status of a limit reached.
- ``verdicts``: the judge's verdicts in the gradebook (every point is
  the judge's); the feedback without hidden tests.
"""
