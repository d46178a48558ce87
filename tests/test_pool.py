"""The job pool with fake workers (no nbgrader, no kernel): outcomes
stream back as they complete, the progress sees who is being graded, a
worker that fails becomes an ``error`` row, and closing the pool stops
every worker and drops what did not finish."""

import signal
import threading
import time

import pytest

from autograder.batch import dispatch
from autograder.batch.pool import JobPool, LocalPool
from jobs import make_job as job


class FakeWorker:
    """Grades by looking the student up in ``plan``: seconds to wait and
    the outcome (or an exception) to give."""

    def __init__(self, plan, log):
        self.plan, self.log = plan, log
        self.more = []  # what run was told, job by job
        self.stopped = threading.Event()

    def run(self, job, timeout, more):
        seconds, result = self.plan[job.student_name]
        self.log.append(("start", job.student_name))
        self.more.append(more)
        if self.stopped.wait(seconds):
            return None  # stopped while grading: graded next run
        if isinstance(result, Exception):
            raise result
        return dict(result)

    def stop(self, close=False):
        self.stopped.set()


def pool_of(plan, size):
    log, workers = [], []

    def make(i):
        workers.append(FakeWorker(plan, log))
        return workers[-1]

    return LocalPool(size, make, notebook_timeout=60), log, workers


def drain(pool, timeout=10):
    results, deadline = [], time.monotonic() + timeout
    while pool.outstanding() and time.monotonic() < deadline:
        results += pool.completed(timeout=0.05)
    return results


def test_the_local_pool_is_a_job_pool():
    assert issubclass(LocalPool, JobPool)
    methods = {"submit", "completed", "outstanding", "running", "close"}
    assert JobPool.__abstractmethods__ == methods


def test_outcomes_stream_back_in_the_order_they_complete():
    plan = {
        "slow": (0.6, {"status": "graded"}),
        "quick": (0.0, {"status": "timeout"}),
    }
    pool, _, _ = pool_of(plan, 2)
    with pool:
        pool.submit(job("slow"))
        pool.submit(job("quick"))
        results = drain(pool)
    assert [(j.student_name, o["status"]) for j, o in results] == [
        ("quick", "timeout"),
        ("slow", "graded"),
    ]


def test_a_worker_hears_whether_more_jobs_wait():
    """A kernel is started ahead only while jobs wait for a worker: the
    last job of a batch starts none."""
    plan = {name: (0.0, {"status": "graded"}) for name in "abc"}
    pool, _, (worker,) = pool_of(plan, 1)
    with pool:
        pool.submit_all([job(name) for name in "abc"])
        assert len(drain(pool)) == 3
        pool.submit(job("a"))  # alone
        assert len(drain(pool)) == 1
    assert worker.more == [True, True, False, False]


def test_running_names_the_students_being_graded():
    plan = {"ada": (0.5, {"status": "graded"})}
    pool, _, _ = pool_of(plan, 1)
    with pool:
        pool.submit(job("ada"))
        time.sleep(0.2)
        assert pool.running() == ["ada"]
        drain(pool)
        assert pool.running() == []


def test_a_failing_worker_gives_an_error_row_and_the_rest_goes_on():
    plan = {
        "broken": (0.0, RuntimeError("the worker fell over")),
        "fine": (0.1, {"status": "graded"}),
    }
    pool, _, _ = pool_of(plan, 1)
    with pool:
        pool.submit(job("broken"))
        pool.submit(job("fine"))
        outcomes = {j.student_name: o for j, o in drain(pool)}
    assert outcomes["broken"]["status"] == "error"
    assert "the worker fell over" in outcomes["broken"]["detail"]
    assert outcomes["fine"] == {"status": "graded"}


def test_closing_stops_the_workers_and_drops_what_did_not_finish():
    plan = {"long": (30.0, {"status": "graded"}), "done": (0, {"status": "x"})}
    pool, _, workers = pool_of(plan, 1)
    pool.submit(job("done"))
    pool.submit(job("long"))
    time.sleep(0.3)
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 5
    assert all(w.stopped.is_set() for w in workers)
    assert [j.student_name for j, _ in pool.completed(timeout=0)] == ["done"]


class Bar:
    """A stand-in for tqdm: counts updates."""

    disable = True

    def __init__(self):
        self.count, self.closed = 0, False

    def update(self, n):
        self.count += n

    def set_postfix_str(self, text, refresh=True):
        pass

    def close(self):
        self.closed = True


def test_dispatch_finishes_every_job_in_the_parents_thread():
    plan = {name: (0.05 * i, {"status": "graded"}) for i, name in
            enumerate(["a", "b", "c"])}  # fmt: skip
    pool, _, _ = pool_of(plan, 2)
    todo = {job(name): f"kept {name}" for name in plan}
    finished, threads = [], set()

    def finish(kept, outcome):
        finished.append((kept, outcome["status"]))
        threads.add(threading.current_thread())

    bar = Bar()
    dispatch.run_jobs(pool, todo, finish, bar)
    assert sorted(finished) == [(f"kept {n}", "graded") for n in "abc"]
    assert threads == {threading.main_thread()}
    assert bar.count == 3 and bar.closed


@pytest.fixture
def saved_signals():
    """Dispatch ignores a second Ctrl-C while it saves: give pytest its
    handlers back afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_dispatch_keeps_what_arrived_when_interrupted(
    monkeypatch, saved_signals
):
    plan = {"done": (0, {"status": "graded"}), "long": (30, {"status": "x"})}
    pool, _, _ = pool_of(plan, 2)
    todo = {job("done"): "done", job("long"): "long"}
    finished = []
    calls = {"n": 0}
    real = pool.completed

    def completed(timeout):
        calls["n"] += 1
        if calls["n"] == 1:
            time.sleep(0.3)
            raise KeyboardInterrupt  # Ctrl-C before the results were read
        return real(timeout)

    monkeypatch.setattr(pool, "completed", completed)
    with pytest.raises(KeyboardInterrupt):
        dispatch.run_jobs(pool, todo, lambda k, o: finished.append(k), Bar())
    assert finished == ["done"]
