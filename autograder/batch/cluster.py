"""The Dask pool: submissions graded on a Dask cluster (``--scheduler``).

:class:`DaskPool` is a :class:`~autograder.batch.pool.JobPool` whose
workers are Dask workers anywhere (``dask worker``, dask-jobqueue on
Slurm, the Kubernetes operator). As Dask means it, the client keeps the
state and the workers only compute: each job goes out as one task
(``Client.submit``) with the notebook's bytes, each outcome comes back
as it completes (``as_completed``) with the bytes of its feedback page
(and of its autograded notebook, for ``--course``), and
the parent records it exactly as a local outcome (journal, CSV, pages,
progress). A worker lost in the middle of a job is the scheduler's
business: it gives the job to another worker. Interrupted, the pool
cancels its tasks and stops what the workers were grading for it.

The course travels once: one task holds the source notebook and the
master gradebook (:class:`~autograder.batch.remote.Course`), every job
depends on it, and each worker keeps it on disk. At most ``window`` jobs
are on the cluster at once (four per worker thread, at least 32), so
that a class of thousands does not sit in the scheduler's memory.
``distributed`` is imported only here, and only with ``--scheduler``.
"""

import collections
import logging
import socket
import threading
import time
import uuid
from pathlib import Path

from autograder.batch import remote
from autograder.batch.journal import checks_sha256
from autograder.batch.pool import JobPool


class ClusterUnavailable(RuntimeError):
    """The Dask scheduler cannot be used (a clear message, no trace)."""


def connect(address, timeout=20):
    """A ``distributed.Client`` on the scheduler at ``address``; checks
    that the workers already there run the same checks as this grader."""
    try:
        from distributed import Client
    except ImportError:
        raise ClusterUnavailable(
            "grading on a Dask cluster needs the package distributed: "
            "pip install 'seqbook-grader[dask]'"
        ) from None
    # Dask's own log would run through the progress bar: its errors only.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    _refuse_at_once(address)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterUnavailable(
            f"cannot reach the Dask scheduler at {address} ({error})"
        ) from None
    try:
        _check_workers(client)
    except BaseException:
        client.close()
        raise
    return client


def _refuse_at_once(address):
    """A TCP address where nothing listens (no scheduler, or not yet)
    is an error now, not after Dask's ``timeout`` of retries; an address
    that does not answer at all still gets them."""
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else "tcp://" + address)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return  # Dask's own message says what is wrong
    if parts.scheme != "tcp" or not host or not port:
        return
    try:
        socket.create_connection((host, port), timeout=5).close()
    except ConnectionRefusedError as error:
        raise ClusterUnavailable(
            f"cannot reach the Dask scheduler at {address} (nothing "
            f"listens there: {error.strerror})"
        ) from None
    except OSError:
        return  # unreachable or slow: Dask retries, then says so


def _check_workers(client):
    ours = checks_sha256()
    try:
        found = client.run(remote.probe, on_error="return")
    except Exception as error:
        raise ClusterUnavailable(f"the Dask workers failed: {error}") from None
    for worker, answer in found.items():
        if isinstance(answer, BaseException):
            raise ClusterUnavailable(
                f"the Dask worker {worker} cannot run the grader "
                f"({type(answer).__name__}: {answer}); install the "
                "course's wheels on it (README, Instructors)"
            )
        if answer["checks"] != ours:
            raise ClusterUnavailable(
                f"the Dask worker {worker} has another version of the "
                "grader's checks than this command; install the same "
                "seqbook-grader wheel everywhere"
            )


def failed(detail):
    return {"status": "error", "detail": detail}


class DaskPool(JobPool):
    """Jobs graded by the workers of a Dask cluster (``client``)."""

    def __init__(self, client, course_, window=None):
        from distributed import as_completed

        self.client = client
        self.run = uuid.uuid4().hex[:12]
        self.checks = checks_sha256()
        self.course = client.submit(
            remote.hold, course_, key=f"seqbook-course-{self.run}"
        )
        self.window = window
        self.backlog = collections.deque()
        self.flying = {}  # future -> job
        self.done = as_completed(
            loop=client.loop, with_results=True, raise_errors=False
        )
        self.now, self.lock = {}, threading.Lock()
        self.waiting = set()  # the students of the jobs on the cluster
        self.arrived = []  # outcomes collected when the pool closed
        self.closed = False
        self.sized = 0.0
        client.subscribe_topic(remote.TOPIC, self._event)

    def _event(self, event):
        _, message = event
        if not isinstance(message, dict) or message.get("run") != self.run:
            return
        with self.lock:
            student = message.get("student")
            if message.get("state") == "start" and student in self.waiting:
                self.now[student] = message["name"]
            else:
                self.now.pop(student, None)

    def _capacity(self):
        """Jobs on the cluster at once: four per worker thread, at least
        32 (asked of the scheduler at most every 5 s)."""
        if self.window:
            return self.window
        if time.monotonic() - self.sized > 5:
            threads = sum(self.client.nthreads().values())
            self.capacity = max(32, 4 * threads)
            self.sized = time.monotonic()
        return self.capacity

    def submit(self, job):
        self.backlog.append(job)
        self._feed()

    def _feed(self):
        while self.backlog and len(self.flying) < self._capacity():
            job = self.backlog.popleft()
            parcel = {
                "job": job.to_json(),
                "notebook": Path(job.notebook).read_bytes(),
                "run": self.run,
                "student": job.student,
                "name": job.student_name,
            }
            future = self.client.submit(
                remote.grade,
                parcel,
                self.course,
                key=f"seqbook-grade-{self.run}-{job.student}",
                pure=False,
            )
            self.flying[future] = job
            with self.lock:
                self.waiting.add(job.student)
            self.done.add(future)

    def completed(self, timeout):
        if self.closed:
            results, self.arrived = self.arrived, []
            return results
        deadline = time.monotonic() + timeout
        while not self.done.has_ready() and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        if self.client.status == "closed":  # the scheduler is gone for good
            raise ClusterUnavailable(
                "lost the Dask scheduler; what was graded is in the journal: "
                "run the same command again to grade the rest"
            )
        results = self._collect()
        self._feed()
        return results

    def _collect(self):
        results = []
        for future, result in self.done.next_batch(block=False):
            job = self.flying.pop(future, None)
            if job is None:
                continue
            with self.lock:
                self.now.pop(job.student, None)
                self.waiting.discard(job.student)
            outcome = self._outcome(job, future, result)
            if outcome is not None:
                results.append((job, outcome))
        return results

    def _outcome(self, job, future, result):
        """The outcome of ``job`` as the parent records it."""
        if future.status == "cancelled":
            return None
        if future.status == "error":
            _, error, _ = result
            return failed(_failure(error))
        if result.get("checks") != self.checks:
            return failed(
                "graded by a Dask worker with another version of the "
                "grader's checks; install the same wheel everywhere"
            )
        outcome = result["outcome"]
        if outcome is None:  # stopped on the worker: graded next run
            return None
        if result.get("feedback") is not None:
            page = Path(job.feedback)
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_bytes(result["feedback"])
            outcome["feedback"] = str(page)
        outcome.pop("autograded", None)  # a path on the Dask worker
        if result.get("autograded") is not None:
            kept = Path(job.result).with_name(
                f"{job.student}.autograded.ipynb"
            )
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_bytes(result["autograded"])
            outcome["autograded"] = str(kept)
        return outcome

    def outstanding(self):
        return len(self.backlog) + len(self.flying)

    def running(self):
        with self.lock:
            return sorted(self.now.values())

    def close(self):
        if self.closed:
            return
        # Outcomes that came back before the end are kept.
        self.arrived = self._collect()
        self.closed = True
        self.backlog.clear()
        try:
            if self.flying:
                self.client.cancel(list(self.flying), force=True)
                self.client.run(remote.abort, self.run, on_error="ignore")
            self.client.cancel([self.course], force=True)
            self.client.unsubscribe_topic(remote.TOPIC)
        except Exception:  # a scheduler gone already: nothing to stop
            pass
        finally:
            self.flying.clear()


def _failure(error):
    name = type(error).__name__
    if name == "KilledWorker":
        return (
            "every Dask worker that took it died while grading it; it is "
            "graded again on the next run"
        )
    return f"the Dask worker failed: {name}: {error}"


def dask_pool(client, options, master_db):
    """The pool of ``options.assignment`` on the cluster of ``client``."""
    course_ = remote.Course.read(options.assignment, options.source, master_db)
    return DaskPool(client, course_)
