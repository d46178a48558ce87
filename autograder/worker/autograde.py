"""Grade one submission: nbgrader runs it, the judge decides its points.

The steps, in order: :func:`~autograder.worker.staging.stage` the work
folder; open the kernel's box (:func:`~autograder.worker.box.kernel_launch`)
and start the judge listening in it; ``nbgrader autograde`` runs the
notebook; the box goes, and the next submission's kernel starts ahead
(:func:`~autograder.worker.box.start_ahead`); the judge's verdicts
overrule nbgrader where they differ (:mod:`autograder.worker.verdicts`);
the message of every failed test is kept for the journal; the feedback
page is made from the notebook without its hidden tests, which is the
autograded notebook the outcome names.
"""

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

from autograder import course
from autograder.judge.protocol import ENV
from autograder.judge.server import Judge
from autograder.worker import verdicts
from autograder.worker.box import kernel_launch, start_ahead
from autograder.worker.staging import stage


@contextlib.contextmanager
def judging(job, launch):
    """The judge of ``job``'s notebook, listening in the kernel's box while
    nbgrader runs it; the kernel finds it through ``SEQBOOK_JUDGE``."""
    judge = Judge(
        job.assignment,
        launch.judge_socket,
        job.limits.cell_timeout + 30,
        source=job.source,
    )
    saved = os.environ.get(ENV)
    os.environ[ENV] = judge.path
    judge.start()
    try:
        yield judge
    finally:
        judge.close()
        if saved is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = saved


def _nbgrader(staged, job, launch):
    return course.nbgrader_api(
        staged.root,
        cell_timeout=job.limits.cell_timeout,
        kernel_ipc=launch.kernel_ipc,
        source=job.source,
    )


def grade_submission(job):
    """The outcome of ``job``: a dict with status, detail, the points of
    each cell, the feedback page and the cells the judge overruled."""
    staged = stage(job)
    course.quiet_nbgrader()
    with kernel_launch(job) as launch, judging(job, launch) as judge:
        api = _nbgrader(staged, job, launch)
        with contextlib.redirect_stdout(io.StringIO()):
            result = api.autograde(
                job.assignment, job.student, force=True, create=True
            )
    # This kernel and all it left are gone: the next one boots while
    # this submission's verdicts and page are made.
    start_ahead(job)
    if not result["success"] or not staged.autograded.exists():
        return verdicts.failed_run(
            result.get("log", "") + str(result.get("error", ""))
        )
    overruled = verdicts.apply_verdicts(staged, judge.verdicts)
    points = verdicts.scores(staged)
    failures = _failures(staged, points)
    status, detail = "graded", ""
    if verdicts.timed_out(staged.autograded):
        status = "timeout"
        detail = f"a cell ran longer than {job.limits.cell_timeout} s"
    return {
        "status": status,
        "detail": detail,
        "cells": points,
        "feedback": _feedback(api, staged, job),
        "overruled": overruled,
        "failures": failures,
        "autograded": str(staged.autograded),
    }


def _failures(staged, points):
    """grade_id -> message of every test that earned nothing (for the
    journal and the class's report)."""
    nb = json.loads(staged.autograded.read_text(encoding="utf-8"))
    failed = verdicts.failed_tests(nb["cells"])
    return {k: v for k, v in failed.items() if not points.get(k)}


def _feedback(api, staged, job):
    """The feedback page, without hidden tests, where the job wants it."""
    verdicts.sanitize_for_feedback(staged.autograded)
    with contextlib.redirect_stdout(io.StringIO()):
        made = api.generate_feedback(job.assignment, job.student, force=True)
    if not (made["success"] and staged.feedback.exists()):
        return None
    target = Path(job.feedback)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(staged.feedback, target)
    return str(target)
