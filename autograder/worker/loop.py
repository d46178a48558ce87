"""The worker's loop: jobs in on stdin, results out, one at a time.

The parent (:mod:`autograder.batch.pool`) starts ``python -m
autograder.worker --serve FD`` and writes one :class:`~autograder.job.Job`
a line to its stdin. For each, the worker writes the outcome to the
job's result file, then ``done`` to ``FD``, so that what the kernels
print on stdout never mixes with the protocol. nbgrader is imported once
per worker, not once per submission.
"""

import json
import os
import sys
from pathlib import Path

from autograder import course
from autograder.job import Job
from autograder.worker.autograde import grade_submission
from autograder.worker.box import discard_ahead, use_kernels_ahead
from autograder.worker.leftovers import adopt_orphans
from autograder.worker.limits import limit_kernels, limits_outcome
from autograder.worker.staging import Stage


def run_job(job):
    """Grade one job and write its result file; never raises."""
    try:
        use_kernels_ahead()  # before the limits, which bound them too
        limit_kernels(job.limits)
        outcome = grade_submission(job)
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
    # What a kernel starts and detaches stays below this process, where
    # the end of its submission finds it (worker.leftovers).
    adopt_orphans()
    for line in sys.stdin if lines is None else lines:
        if not line.strip():
            continue
        run_job(Job.from_json(line))
        os.write(done_fd, b"done\n")
    discard_ahead()
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        return serve(int(argv[1]))
    run_job(Job.from_json(Path(argv[0]).read_text(encoding="utf-8")))
    return 0
