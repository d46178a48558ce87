"""The job pool: where submissions are graded, seen from the parent.

A :class:`JobPool` takes :class:`~autograder.job.Job` objects and streams
their outcomes back, in the parent's thread, as they complete; the parent
keeps every state (journal, CSV, feedback pages, progress). That is
Dask's split between client and workers, and a pool backed by
``dask.distributed`` implements the same five methods (``submit`` as
``Client.submit``, ``completed`` over ``as_completed``; the job then
carries the notebook's bytes instead of a path).

:class:`LocalPool` is the embedded default: ``--jobs N`` worker processes
on this machine (:class:`WorkerProcess`, each ``python -m
autograder.worker``), fed by N threads. A submission that overruns the
whole-notebook time limit gets its worker's process group and kernel
killed; the next submission starts a fresh worker.
"""

import abc
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from autograder import course
from autograder.job import LIMITS_SUFFIX, MEMORY_ERROR, descendants
from autograder.job import format_size, with_limits


class JobPool(abc.ABC):
    """Grades jobs somewhere; outcomes come back to the parent."""

    @abc.abstractmethod
    def submit(self, job):
        """Queue ``job``."""

    def submit_all(self, jobs):
        """Queue every job of ``jobs`` (a pool that cares knows at once
        how many follow)."""
        for job in jobs:
            self.submit(job)

    @abc.abstractmethod
    def completed(self, timeout):
        """(job, outcome) of the jobs that finished since the last call,
        waiting up to ``timeout`` seconds for one. A job whose worker was
        stopped by :meth:`close` never comes back (it is graded on the
        next run)."""

    @abc.abstractmethod
    def outstanding(self):
        """How many submitted jobs have not come back."""

    @abc.abstractmethod
    def running(self):
        """Names of the students being graded now (for the progress bar)."""

    @abc.abstractmethod
    def close(self):
        """Stop every worker and what it started; drop unfinished jobs."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalPool(JobPool):
    """``size`` workers on this machine, one submission each at a time.

    ``make_worker(i)`` returns worker ``i``: an object with
    ``run(job, timeout, more) -> outcome or None`` and
    ``stop(close=False)`` (a :class:`WorkerProcess`, or a fake one in
    tests); ``more`` says whether other jobs were still waiting for a
    worker when this one was handed out (a worker then starts a kernel
    ahead for the next; otherwise it would start one for nothing)."""

    def __init__(self, size, make_worker, notebook_timeout):
        self.workers = [make_worker(i) for i in range(size)]
        self.timeout = notebook_timeout
        self.idle = queue.Queue()
        for worker in self.workers:
            self.idle.put(worker)
        self.busy, self.lock = {}, threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=max(1, size))
        self.futures = {}  # future -> job, until it came back
        self.waiting = 0  # jobs submitted and not yet given a worker
        self.closed = False

    def submit(self, job):
        self.submit_all([job])

    def submit_all(self, jobs):
        jobs = list(jobs)
        with self.lock:  # counted before any is handed out
            self.waiting += len(jobs)
        for job in jobs:
            self.futures[self.executor.submit(self._work, job)] = job

    def _work(self, job):
        worker = self.idle.get()
        try:
            with self.lock:
                self.waiting -= 1
                more = self.waiting > 0
                self.busy[job.student] = job.student_name
            return worker.run(job, self.timeout, more)
        finally:
            with self.lock:
                self.busy.pop(job.student, None)
            self.idle.put(worker)

    def completed(self, timeout):
        done, _ = wait(
            list(self.futures), timeout=timeout, return_when=FIRST_COMPLETED
        )
        results = []
        for future in done:
            job = self.futures.pop(future)
            outcome = self._outcome(future)
            if outcome is not None:
                results.append((job, outcome))
        return results

    def _outcome(self, future):
        if future.cancelled():
            return None
        try:
            return future.result()  # None: the worker was stopped
        except Exception as error:  # one bad submission never stops the rest
            if self.closed:
                return None
            return {"status": "error", "detail": repr(error)}

    def outstanding(self):
        return len(self.futures)

    def running(self):
        with self.lock:
            return sorted(self.busy.values())

    def close(self):
        self.closed = True
        for future in self.futures:
            future.cancel()
        for worker in self.workers:
            worker.stop(close=True)
        self.executor.shutdown(wait=True)


def local_pool(size, run_folder, notebook_timeout):
    """The embedded default: ``size`` worker processes, their logs in
    ``run_folder``."""
    env = course.os_environ_for_kernel()
    return LocalPool(
        size,
        lambda i: WorkerProcess(env, run_folder / f"worker-{i}.log"),
        notebook_timeout,
    )


# Run before the worker: it dies with the thread that started it (SIGKILL,
# Linux), so that a grader killed with kill -9 leaves no worker behind; its
# kernel follows (ipykernel exits when its parent goes).
_DEATH_SHIM = (
    "import ctypes, os, sys\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, 9)\n"
    "except Exception:\n"
    "    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execv(sys.executable, [sys.executable] + sys.argv[2:])\n"
)


def _let_finish(process, seconds=5):
    """An idle worker ends by itself when its input closes: it stops the
    kernel it started ahead and removes that kernel's box (killed, it
    would leave the box to the next run)."""
    try:
        process.stdin.close()
        process.wait(timeout=seconds)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass


def limits_seen(job):
    """The limits ``job``'s worker saw its kernel reach (status -> what
    happened), also when the worker was killed before it could say so."""
    path = Path(job.result + LIMITS_SUFFIX)
    try:
        hits = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return hits if isinstance(hits, dict) else {}


class WorkerProcess:
    """The parent's handle on one worker process (see
    :mod:`autograder.worker`), which stays alive across submissions so
    that nbgrader is imported once per worker, not once per student."""

    def __init__(self, env, log):
        self.env = env
        self.log = Path(log)
        self.process = None
        self.done = None
        self.closed = False
        self.working = False  # a job is being graded
        self.lock = threading.Lock()

    def _start(self):
        read_fd, write_fd = os.pipe()
        command = [sys.executable, "-c", _DEATH_SHIM, str(os.getpid())]
        command += ["-m", "autograder.worker", "--serve", str(write_fd)]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.log.parent,
                env=self.env,
                start_new_session=True,
                pass_fds=(write_fd,),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        os.close(write_fd)
        self.done = os.fdopen(read_fd, "rb", buffering=0)

    def stop(self, close=False):
        """Kill the worker, its kernel and everything they started."""
        with self.lock:
            if close:
                self.closed = True
            process, self.process = self.process, None
            if process is None:
                return
            if close and not self.working:
                _let_finish(process)
            for pid in [process.pid] + descendants(process.pid):
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
            process.wait()
            self.done.close()
            try:
                process.stdin.close()
            except OSError:
                pass

    def _log_since(self, offset):
        try:
            with open(self.log, "rb") as f:
                f.seek(offset)
                return f.read(1_000_000).decode("utf-8", "replace")
        except OSError:
            return ""

    def _ready(self):
        """The running process and its done pipe (started if needed), or
        None once closed."""
        with self.lock:
            if self.closed:
                return None
            dead = self.process is not None and self.process.poll() is not None
        if dead:
            self.stop()
        with self.lock:
            if self.closed:
                return None
            if self.process is None:
                self._start()
            return self.process, self.done

    def run(self, job, timeout, more=True):
        """The outcome of one job, or None when the worker was closed;
        ``more``: whether a next job may follow (autograder.worker.loop)."""
        result_file = Path(job.result)
        result_file.parent.mkdir(parents=True, exist_ok=True)
        result_file.unlink(missing_ok=True)
        ready = self._ready()
        if ready is None:
            return None
        process, done = ready
        offset = self.log.stat().st_size if self.log.exists() else 0
        started = time.monotonic()
        self.working = True
        try:
            line = json.dumps({"job": job.to_json(), "more": more})
            process.stdin.write((line + "\n").encode())
            process.stdin.flush()
        except (OSError, ValueError):
            self.working = False
            if self.closed:
                return None
            self.stop()
            return {"status": "error", "detail": "the grader's worker died"}
        try:
            outcome = self._wait(done, timeout, job)
        finally:
            self.working = False
        if outcome is None:
            return None
        if outcome.get("status") == "kernel_died" and MEMORY_ERROR.search(
            self._log_since(offset)
        ):
            limit = format_size(job.limits.memory_limit)
            outcome["status"] = "memory"
            outcome["detail"] = (
                f"the kernel died after running out of memory (limit {limit})"
            )
        outcome["seconds"] = round(time.monotonic() - started, 2)
        return outcome

    def _wait(self, done, timeout, job):
        """The worker's outcome, once it says done or the time is up (then
        with the limits its kernel reached, which the worker could not
        report)."""
        try:
            ready, _, _ = select.select([done], [], [], timeout)
            line = done.readline() if ready else b""
        except (OSError, ValueError):
            ready, line = True, b""
        if self.closed:
            return None
        result_file = Path(job.result)
        if not ready or not line:
            self.stop()
            if not ready:
                detail = f"the notebook ran longer than {timeout} s"
                outcome = {"status": "timeout", "detail": detail}
            else:
                outcome = {
                    "status": "error",
                    "detail": "the grader's worker died",
                }
            return with_limits(outcome, limits_seen(job))
        if result_file.exists():
            return json.loads(result_file.read_text(encoding="utf-8"))
        return {
            "status": "error",
            "detail": "the grader's worker wrote no result",
        }
