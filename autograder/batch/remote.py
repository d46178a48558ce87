"""The far end of the Dask pool: what a Dask worker runs for one job.

A Dask worker (``dask worker ADDRESS`` on a machine where the grader is
installed) runs :func:`grade` for each submission the command sends
(:mod:`autograder.batch.cluster`). It grades it exactly as ``--jobs``
does on the command's own machine: a :class:`~autograder.batch.pool.
WorkerProcess` (``python -m autograder.worker``, nbgrader imported once,
its kernel sandboxed where this machine allows, the limits of the job,
the whole-notebook time limit enforced by killing its process group).

Nothing is shared with the command's machine but what travels with the
task: the job, the notebook's bytes, and the course (:class:`Course`: the
assignment's source notebook and master gradebook, one task that every
job depends on, fetched once per worker and kept on its disk). What
comes back is the outcome, the bytes of the feedback page and of the
autograded notebook (which ``--course`` puts into the instructor's
course), and the digest of this worker's checks, which the command
compares with its own. Every file lives in this worker's own folder
(Dask's ``local_directory``), one folder per job, removed once its
outcome is read.
"""

import hashlib
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from autograder import course
from autograder.batch import journal
from autograder.batch.pool import WorkerProcess
from autograder.job import Job

# Dask's event topic of the jobs being graded (the progress bar's "now").
TOPIC = "seqbook-grading"


@dataclass(frozen=True)
class Course:
    """What a worker needs of the assignment, whoever grades it: the
    source notebook (solutions, hidden tests: what the judge trusts) and
    the master gradebook that knows the assignment."""

    assignment: str
    key: str  # the SHA-256 of the source notebook
    source: bytes
    gradebook: bytes

    @classmethod
    def read(cls, assignment, source, master_db):
        notebook = course.source_path(assignment, source).read_bytes()
        return cls(
            assignment,
            hashlib.sha256(notebook).hexdigest(),
            notebook,
            Path(master_db).read_bytes(),
        )


def hold(course_):
    """The task that holds the course on the cluster: the scheduler keeps
    its recipe, so a course lost with its worker is made again."""
    return course_


class _Far:
    """This Dask worker's grading state: its folder, its courses on disk,
    and its worker processes (one per job being graded)."""

    def __init__(self, base):
        self.base = Path(base)
        self.lock = threading.Lock()
        self.idle, self.busy = [], {}  # busy: handle -> run token
        self.made = 0

    def course(self, course_):
        """The folder of ``course_`` on this worker's disk (made once)."""
        root = self.base / "courses" / course_.key[:20]
        with self.lock:
            if (root / "gradebook.db").exists():
                return root
            if hashlib.sha256(course_.source).hexdigest() != course_.key:
                raise ValueError("the course's source notebook is damaged")
            name = course_.assignment
            fresh = root.with_name(root.name + ".part")
            shutil.rmtree(fresh, ignore_errors=True)
            (fresh / "source" / name).mkdir(parents=True)
            (fresh / "source" / name / f"{name}.ipynb").write_bytes(
                course_.source
            )
            (fresh / "gradebook.db").write_bytes(course_.gradebook)
            fresh.rename(root)
            return root

    def take(self, token):
        with self.lock:
            if self.idle:
                handle = self.idle.pop()
            else:
                log = self.base / f"worker-{self.made}.log"
                self.made += 1
                handle = WorkerProcess(course.os_environ_for_kernel(), log)
            self.busy[handle] = token
            return handle

    def give_back(self, handle):
        with self.lock:
            self.busy.pop(handle, None)
            if not handle.closed:
                self.idle.append(handle)

    def abort(self, token):
        """Stop the worker processes grading jobs of the run ``token``."""
        with self.lock:
            doomed = [h for h, t in self.busy.items() if t == token]
        for handle in doomed:
            handle.stop(close=True)
        return len(doomed)


_FAR = {}
_FAR_LOCK = threading.Lock()


def _dask_worker():
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _far():
    """This process's grading state, in the Dask worker's own folder."""
    with _FAR_LOCK:
        if "far" not in _FAR:
            worker = _dask_worker()
            if worker is not None:
                base = Path(worker.local_directory) / "seqbook-grader"
            else:
                base = Path(tempfile.mkdtemp(prefix="seqbook-grader-"))
            base.mkdir(parents=True, exist_ok=True)
            _FAR["far"] = _Far(base)
        return _FAR["far"]


def checks_digest():
    """The digest of this worker's checks and judge (its grader's)."""
    if "checks" not in _FAR:
        _FAR["checks"] = journal.checks_sha256()
    return _FAR["checks"]


def _local_job(job, folder, root):
    """``job`` with its files in ``folder`` on this worker."""
    key, name = job.student, job.assignment
    return Job(
        assignment=name,
        student=key,
        student_name=job.student_name,
        notebook=str(folder / "inputs" / f"{key}.ipynb"),
        workdir=str(folder / "work" / key),
        result=str(folder / "work" / f"{key}.result.json"),
        master_db=str(root / "gradebook.db"),
        source=str(root / "source"),
        feedback=str(folder / "feedback" / f"{key}.html"),
        limits=job.limits,
        # What the sandbox hides from the kernel: this worker's whole
        # grading folder (every course, every job).
        submissions=str(folder.parents[2]),
        sandbox=job.sandbox,
    )


def _event(state, parcel):
    worker = _dask_worker()
    if worker is not None:
        message = {key: parcel[key] for key in ("run", "student", "name")}
        worker.log_event(TOPIC, dict(message, state=state))


def grade(parcel, course_):
    """Grade one job on this worker. ``parcel``: the job (JSON), the
    notebook's bytes, the run's token; returns the outcome (None when
    the run was aborted), the feedback page's bytes and the checks'
    digest."""
    far = _far()
    job = Job.from_json(parcel["job"])
    root = far.course(course_)
    folder = far.base / "runs" / parcel["run"] / os.urandom(6).hex()
    local = _local_job(job, folder, root)
    Path(local.notebook).parent.mkdir(parents=True)
    Path(local.notebook).write_bytes(parcel["notebook"])
    _event("start", parcel)
    handle = far.take(parcel["run"])
    try:
        outcome = handle.run(local, job.limits.notebook_timeout)
    finally:
        far.give_back(handle)
        _event("end", parcel)
    page = _bytes(outcome, "feedback")
    autograded = _bytes(outcome, "autograded")
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "outcome": outcome,
        "feedback": page,
        "autograded": autograded,
        "checks": checks_digest(),
    }


def _bytes(outcome, key):
    """The bytes of the file ``outcome[key]`` names on this worker (the
    feedback page; the autograded notebook, which ``--course`` keeps)."""
    path = (outcome or {}).get(key)
    if path and Path(path).is_file():
        return Path(path).read_bytes()
    return None


def abort(run):
    """Stop this worker's jobs of the run ``run`` (the command was
    interrupted); their tasks return no outcome."""
    return _far().abort(run) if "far" in _FAR else 0


def probe():
    """What the command checks of a worker before it sends any job."""
    return {"checks": checks_digest(), "python": sys.version.split()[0]}
