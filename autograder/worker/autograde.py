"""Grade one submission: nbgrader runs it, the judge decides its points.

The steps, in order: :func:`~autograder.worker.staging.stage` the work
folder; open the kernel's box (:func:`~autograder.worker.box.kernel_launch`)
and start the judge listening in it; ``nbgrader autograde`` runs the
notebook; the box goes, with everything the kernel started; the
judge's verdicts overrule nbgrader where they differ
(:mod:`autograder.worker.verdicts`); the message of every failed test
is kept for the journal; the feedback page is made from the notebook
without its hidden tests, which is the autograded notebook the outcome
names.
"""

import contextlib
import io
import json
import os
from pathlib import Path

from autograder import course, language
from autograder.job import LIMITS_SUFFIX
from autograder.judge.protocol import ENV
from autograder.judge.server import Judge
from autograder.worker import ahead, verdicts, warm
from autograder.worker.box import kernel_launch
from autograder.worker.staging import stage
from autograder.worker.watch import Watch


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


def watching(job, launch):
    """A :class:`~autograder.worker.watch.Watch` of ``job``'s kernel:
    its processes, open files and (sandboxed) the places it writes; not
    the kernel started ahead for the next job."""
    if launch.mode == "root":
        places = [str(launch.box)]  # one tmpfs
    elif launch.mode:
        places = ["/tmp", str(launch.box / "work"), str(launch.box / "home")]
    else:
        places = None
    record = job.result + LIMITS_SUFFIX
    return Watch(job.limits, places, record, exclude=ahead.pids)


def grade_submission(job, launcher=kernel_launch):
    """The outcome of ``job``: a dict with status, detail, the points of
    each cell, the feedback page, the cells the judge overruled and the
    limits the kernel reached (``hits``). ``launcher``: how its kernel's
    box opens (:func:`~autograder.worker.ahead.launch_ahead` in a worker
    that starts kernels ahead)."""
    staged = stage(job)
    course.quiet_nbgrader()
    with warm.scratch_gradebook(staged.gradebook):
        return _graded(job, staged, launcher)


def _graded(job, staged, launcher):
    """The outcome of ``job``, staged in ``staged``."""
    with launcher(job) as launch, judging(job, launch) as judge:
        api = _nbgrader(staged, job, launch)
        with watching(job, launch) as watch:
            with contextlib.redirect_stdout(io.StringIO()):
                result = api.autograde(
                    job.assignment, job.student, force=True, create=True
                )
    if not result["success"] or not staged.autograded.exists():
        failed = verdicts.failed_run(
            result.get("log", "") + str(result.get("error", ""))
        )
        return dict(failed, hits=watch.hits)
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
        "hits": watch.hits,
        "language": _language(staged),
    }


def _failures(staged, points):
    """grade_id -> message of every test that earned nothing (for the
    journal and the class's report)."""
    nb = json.loads(staged.autograded.read_text(encoding="utf-8"))
    failed = verdicts.failed_tests(nb["cells"])
    return {k: v for k, v in failed.items() if not points.get(k)}


def _language(staged):
    """The language of the graded notebook: its feedback page's."""
    try:
        notebook = json.loads(staged.autograded.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "en"
    return language.of_notebook(notebook)


def _feedback(api, staged, job):
    """The feedback page, without hidden tests, where the job wants it."""
    verdicts.sanitize_for_feedback(staged.autograded)
    with contextlib.redirect_stdout(io.StringIO()):
        made = api.generate_feedback(job.assignment, job.student, force=True)
    if not (made["success"] and staged.feedback.exists()):
        return None
    target = Path(job.feedback)
    target.parent.mkdir(parents=True, exist_ok=True)
    page = staged.feedback.read_text(encoding="utf-8")
    page = language.localise(page, _language(staged))
    target.write_text(page, encoding="utf-8")
    return str(target)
