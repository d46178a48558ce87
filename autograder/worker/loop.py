"""The worker's loop: jobs in on stdin, results out, one at a time.

The parent (:mod:`autograder.batch.pool`) starts ``python -m
autograder.worker --serve FD`` and writes one :class:`~autograder.job.Job`
a line to its stdin (``{"job": JOB, "more": BOOL}``, ``more`` false when
no other job was waiting: no kernel is then started ahead for a next
one that would not come). For each, the worker writes the outcome to the
job's result file, then ``done`` to ``FD``, so that what the kernels
print on stdout never mixes with the protocol. What does not depend on
the submission is done once per worker (:mod:`autograder.worker.warm`):
nbgrader imported, the feedback page's templates compiled; and the
next submission's kernel starts while one is graded
(:mod:`autograder.worker.ahead`).
"""

import functools
import json
import os
import sys
from pathlib import Path

from autograder import course
from autograder.job import Job
from autograder.worker import ahead, warm
from autograder.worker.autograde import grade_submission
from autograder.worker.box import kernel_launch
from autograder.worker.limits import limit_kernels, limits_outcome
from autograder.worker.staging import Stage


def run_job(job, launcher=kernel_launch):
    """Grade one job and write its result file; never raises.
    ``launcher``: how its kernel's box opens."""
    try:
        limit_kernels(job.limits)
        outcome = grade_submission(job, launcher)
        autograded = Stage(
            Path(job.workdir), job.assignment, job.student
        ).autograded
        outcome = limits_outcome(autograded, job.limits, outcome)
    except Exception as error:  # reported as a row, never a crash
        outcome = {
            "status": "error",
            "detail": f"{type(error).__name__}: {error}",
        }
    Path(job.result).write_text(json.dumps(outcome), encoding="utf-8")


def serve(done_fd, lines=None):
    """Grade the jobs read from ``lines`` (stdin), one JSON object a
    line, in turn; a line goes to ``done_fd`` after each."""
    import nbgrader.apps  # noqa: F401  (the slow import, done once)

    course.quiet_nbgrader()
    ahead.take_kernels_ahead()
    warm.compile_templates_once()
    try:
        for line in sys.stdin if lines is None else lines:
            if not line.strip():
                continue
            message = json.loads(line)
            launcher = functools.partial(
                ahead.launch_ahead, more=message["more"]
            )
            run_job(Job.from_json(message["job"]), launcher)
            os.write(done_fd, b"done\n")
    finally:
        ahead.discard()
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        return serve(int(argv[1]))
    run_job(Job.from_json(Path(argv[0]).read_text(encoding="utf-8")))
    return 0
