"""A real Dask cluster on this machine, for the tests: a scheduler on
127.0.0.1 and worker processes (``dask scheduler``, ``dask worker``, the
commands the README gives instructors), started and stopped by the test.

Every process is started here and stopped by its own pid; each worker
keeps its files in a folder of its own, so a test can see which job a
worker is grading (:meth:`LocalCluster.grading`).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _environment():
    env = dict(os.environ)
    # The grader from the checkout, as an installed wheel would give it.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(":") if p]
    )
    return env


class LocalCluster:
    """``dask scheduler`` and ``workers`` ``dask worker`` processes (one
    thread each, no nanny: a worker killed stays dead) in ``folder``."""

    def __init__(self, folder, workers=2):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = _environment()
        self.file = self.folder / "scheduler.json"
        self.scheduler = self._start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", "0"]
            + ["--no-dashboard", "--scheduler-file", str(self.file)],
        )
        self.address = self._address()
        self.workers = {}
        for i in range(workers):
            self.add_worker(f"w{i}")
        self.wait_for(workers)

    def _start(self, name, arguments):
        log = open(self.folder / f"{name}.log", "ab")
        with log:
            return subprocess.Popen(
                [str(BIN / "dask"), *arguments],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _address(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return json.loads(self.file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        raise RuntimeError(f"no Dask scheduler; see {self.folder}")

    def add_worker(self, name):
        local = self.folder / name
        self.workers[name] = self._start(
            name,
            ["worker", self.address, "--name", name, "--nthreads", "1"]
            + ["--no-nanny", "--no-dashboard", "--memory-limit", "0"]
            + ["--local-directory", str(local)],
        )

    def wait_for(self, count, timeout=120):
        """Wait until ``count`` workers are connected."""
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(count, timeout=timeout)

    def grading(self, name):
        """The notebooks worker ``name`` is grading now."""
        local = self.folder / name
        return list(local.glob("**/seqbook-grader/runs/*/*/inputs/*.ipynb"))

    def kill(self, name):
        """SIGKILL worker ``name`` and everything it started."""
        process = self.workers.pop(name)
        _kill_group(process)

    def close(self):
        for process in list(self.workers.values()) + [self.scheduler]:
            _kill_group(process)
        self.workers.clear()


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait(timeout=30)
