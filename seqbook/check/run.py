"""Run a notebook the way the grader does: a fresh kernel in an empty
folder, every cell from the top, the grader's limits.

Limits this machine cannot apply are said, never silently dropped: the
memory limit needs Linux (another process's limit is set with
``prlimit``); the output cap is measured, not cut.
"""

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

from seqbook.check.rules import KERNEL_ENVIRONMENT, size_text

# Set in the kernel this check starts: the notebook's own last cell
# (which runs this check) does nothing there.
NESTED = "SEQBOOK_CHECK_RUNNING"
TIMEOUT_NAME = "CellTimeoutError"


@dataclass
class Run:
    """A notebook run: the executed copy, seconds per cell index, cells
    stopped by the time limit, why the run ended early (or None), and
    which limits were applied or not."""

    nb: object
    seconds: dict = field(default_factory=dict)
    timed_out: list = field(default_factory=list)
    stopped: str | None = None
    applied: list = field(default_factory=list)
    not_applied: list = field(default_factory=list)


def memory_limit_applies():
    try:
        import resource
    except ImportError:  # Windows
        return False
    return hasattr(resource, "prlimit")  # Linux


def limit_notes(limits):
    """(applied, not applied): the limits, as this machine enforces them."""
    applied = [
        f"{limits.cell_timeout} s a cell",
        f"{limits.notebook_timeout} s the whole notebook",
    ]
    missing = []
    memory = f"{size_text(limits.memory_limit)} of memory"
    if not limits.memory_limit:
        pass
    elif memory_limit_applies():
        applied.append(memory)
    else:
        missing.append(f"{memory} (needs Linux; the grader applies it)")
    applied.append(
        f"output over {limits.max_output:,} characters a cell reported "
        "(the grader cuts it)"
    )
    return applied, missing


def _client_class():
    from nbclient import NotebookClient

    class LimitedClient(NotebookClient):
        """nbclient, with the kernel's memory limited as it starts."""

        memory_bytes = 0

        async def async_start_new_kernel(self, **kwargs):
            await super().async_start_new_kernel(**kwargs)
            pid = kernel_pid(self)
            if self.memory_bytes and pid and memory_limit_applies():
                import resource

                bound = (self.memory_bytes, self.memory_bytes)
                resource.prlimit(pid, resource.RLIMIT_DATA, bound)

    return LimitedClient


def kernel_pid(client):
    provisioner = getattr(client.km, "provisioner", None)
    return getattr(provisioner, "pid", None)


def execute(nb, limits, kernel_name=None, progress=None):
    """Run a copy of ``nb`` (a dict; outputs removed first) in an empty
    temporary folder; returns a :class:`Run`. ``progress(done, total)``
    is called after each cell."""
    import nbformat
    from nbclient.exceptions import DeadKernelError

    copy = nbformat.reads(json.dumps(_without_outputs(nb)), as_version=4)
    run = Run(nb=copy)
    run.applied, run.not_applied = limit_notes(limits)
    with tempfile.TemporaryDirectory(prefix="seqbook-check-") as folder:
        client = _client(copy, limits, kernel_name, folder)
        _watch_cells(client, run, progress)
        env = {**os.environ, **KERNEL_ENVIRONMENT, NESTED: "1"}
        timer = _Stopper(limits.notebook_timeout, client)
        try:
            with timer:
                # the kernel's own warnings are not the student's business
                client.execute(env=env, stderr=subprocess.DEVNULL)
        except DeadKernelError:
            run.stopped = (
                f"the whole notebook ran longer than "
                f"{limits.notebook_timeout} s: the grader stops it there "
                "and gives no points"
                if timer.fired
                else "the kernel died (the grader gives no points)"
            )
    return run


def _without_outputs(nb):
    cells = []
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            cell = dict(cell, outputs=[], execution_count=None)
        cells.append(cell)
    return dict(nb, cells=cells)


def _client(copy, limits, kernel_name, folder):
    name = kernel_name or copy.metadata.get("kernelspec", {}).get("name")
    client = _client_class()(
        copy,
        timeout=limits.cell_timeout or None,
        kernel_name=name or "python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        raise_on_iopub_timeout=False,
        error_on_timeout={
            "ename": TIMEOUT_NAME,
            "evalue": f"the cell ran longer than {limits.cell_timeout} s",
            "traceback": [],
        },
        resources={"metadata": {"path": folder}},
    )
    client.memory_bytes = limits.memory_limit
    return client


def _watch_cells(client, run, progress):
    """Time each cell; a cell stopped by the time limit gets the error."""
    started, total = {}, len(client.nb.cells)

    def on_execute(cell, cell_index):
        started[cell_index] = time.monotonic()

    def on_executed(cell, cell_index, execute_reply):
        run.seconds[cell_index] = time.monotonic() - started[cell_index]
        content = execute_reply.get("content", {})
        if content.get("ename") == TIMEOUT_NAME:
            run.timed_out.append(cell_index)
            names = [o.get("ename") for o in cell.outputs]
            if TIMEOUT_NAME not in names:
                cell.outputs.append(_error_output(content))
        if progress:
            progress(cell_index + 1, total)

    client.on_cell_execute = on_execute
    client.on_cell_executed = on_executed


def _error_output(content):
    import nbformat

    return nbformat.v4.new_output(
        "error",
        ename=content.get("ename", "Error"),
        evalue=content.get("evalue", ""),
        traceback=[],
    )


class _Stopper:
    """Kills the kernel of ``client`` once ``seconds`` have passed."""

    def __init__(self, seconds, client):
        self.fired = False
        self.client = client
        self.timer = threading.Timer(seconds, self._fire) if seconds else None
        if self.timer:
            self.timer.daemon = True

    def _fire(self):
        self.fired = True
        pid = kernel_pid(self.client)
        if pid:
            kill = getattr(signal, "SIGKILL", signal.SIGTERM)
            with contextlib.suppress(OSError):
                os.kill(pid, kill)

    def __enter__(self):
        if self.timer is not None:
            self.timer.start()
        return self

    def __exit__(self, kind, value, traceback):
        if self.timer is not None:
            self.timer.cancel()
