"""The worker: grades one submission at a time, in a process of its own.

Started by the parent's job pool (:mod:`autograder.batch.pool`) as
``python -m autograder.worker --serve FD``; it shares nothing with the
parent but the job it is given and the outcome it writes
(:mod:`autograder.job`). The parent enforces the time limit for the whole
notebook by killing this process group.

- ``loop``: jobs in on stdin, results out; never raises.
- ``staging``: the submission's own small nbgrader course.
- ``autograde``: nbgrader runs the notebook while the judge listens.
- ``box``: the kernel's box and how its kernel is launched (sandboxed
  where the machine allows, by ``sandbox``).
- ``limits``: the kernel's memory limit and output cap.
- ``leftovers``: what a submission leaves (processes, files) goes
  before the next one starts.
- ``verdicts``: the judge's verdicts in the gradebook; the feedback
  without hidden tests.
"""
