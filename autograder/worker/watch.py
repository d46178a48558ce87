"""The kernel's use of its limits, watched from the worker.

The kernel's limits are the operating system's (set by
:mod:`autograder.worker.launcher` and the box's tmpfs), and a kernel that
hits one sees only an error, or nothing it reports: a fork bomb's copies
of the kernel spin on, and the cell that started them may just time out.
While nbgrader runs the notebook, a :class:`Watch` looks at the kernel
from outside, a few times a second, in ``/proc``: its processes and
threads (the kernel's and those below it), the files each holds open, and
how full its box is. What reached a limit is a *hit*
(:data:`~autograder.job.STATUSES`: ``processes``, ``open_files``,
``disk``); on a process hit the processes the kernel started are killed
and the cell that started them is interrupted, so that they stop using
the machine (the kernel runs on, with the next cell). Each
hit is also written to ``<result>.limits.json`` the moment it is seen, so
that the parent knows it even when it has to kill this worker.
"""

import contextlib
import json
import os
import signal
import threading
from pathlib import Path

from autograder.worker.launcher import MARK

# How close to a limit counts as reaching it: the watch samples, and the
# call that failed may have been the one that would have crossed it.
MARGIN = 4
KERNEL = b"ipykernel_launcher"
LAUNCHER_MARK = MARK.encode()


def processes():
    """pid -> (parent pid, threads) of every process (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(
            line.split(":", 1) for line in status.splitlines() if ":" in line
        )
        try:
            found[int(entry.name)] = (
                int(fields["PPid"]),
                int(fields["Threads"]),
            )
        except (KeyError, ValueError):
            continue
    return found


def below(table, pid):
    """Every process under ``pid`` in ``table``, nearest first."""
    children = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        kids = sorted(children.get(todo.pop(0), []))
        found += kids
        todo += kids
    return found


def _is_kernel(pid):
    """Whether ``pid`` runs ``python -m ipykernel_launcher`` or the
    launcher that runs the kernel in its own process (the kernel, or a
    copy it forked; not bwrap, whose command names them too)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if argv[1:2] == [b"-c"] and len(argv) > 2:
        return LAUNCHER_MARK in argv[2]
    return argv[1:3] == [b"-m", KERNEL]


def _open_files(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _full(path):
    """Whether the file system at ``path`` has no room or no inode left."""
    try:
        stat = os.statvfs(path)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < 2**16 or (
        stat.f_files and stat.f_favail < MARGIN
    )


class Watch:
    """Watches the kernel this worker starts while ``with`` lasts.

    - limits: the job's :class:`~autograder.job.Limits`
    - places: where the kernel writes, as seen from inside its sandbox
      (read through ``/proc/<kernel>/root``), or None to skip the disk
    - record: the file the hits go to as they come
    - exclude: a function that gives processes that are not the
      kernel's (with what runs below them): the kernel started ahead
    """

    def __init__(self, limits, places, record, interval=0.25, exclude=None):
        self.limits = limits
        self.exclude = exclude or set
        self.places = places or []
        self.record = Path(record)
        self.interval = interval
        self.hits = {}  # status -> detail
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.record.unlink(missing_ok=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=5)

    def _run(self):
        while not self.stopped.wait(self.interval):
            try:
                self.sample()
            except Exception:  # a process that went while read: next time
                continue

    def sample(self):
        """One look at the kernel and what is under it."""
        table = processes()
        skip = set()
        for pid in self.exclude():
            skip |= {pid, *below(table, pid)}
        under = [p for p in below(table, os.getpid()) if p not in skip]
        kernels = [p for p in under if _is_kernel(p)]
        if not kernels:
            return
        kernel = kernels[0]
        strays = below(table, kernel)
        tasks = sum(table[p][1] for p in [kernel, *strays] if p in table)
        limits = self.limits
        if limits.max_processes and tasks >= limits.max_processes - MARGIN:
            self._hit(
                "processes",
                f"started {tasks} processes and threads (limit "
                f"{limits.max_processes}); the grader stopped them",
            )
            self._stop(kernel, strays)
        most = max(_open_files(p) for p in [kernel, *strays])
        if limits.max_open_files and most >= limits.max_open_files - MARGIN:
            self._hit(
                "open_files",
                f"held {most} files open at once (limit "
                f"{limits.max_open_files})",
            )
        if any(_full(f"/proc/{kernel}/root{p}") for p in self.places):
            self._hit(
                "disk",
                f"filled its disk space ({limits.disk_limit / 2**20:g} MB, "
                f"{limits.max_files} files)",
            )

    def _stop(self, kernel, strays):
        """Kill the processes the kernel started, and interrupt the cell
        that started them (as a time limit would): a fork bomb's copies
        stop using the machine, the rest of the notebook runs. (Threads
        of the kernel's own cannot be killed; a cell that starts too
        many fails by itself.)"""
        for pid in strays:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if strays:
            with contextlib.suppress(OSError):
                os.kill(kernel, signal.SIGINT)

    def _hit(self, status, detail):
        if status in self.hits:
            return
        self.hits[status] = detail
        with contextlib.suppress(OSError):
            self.record.write_text(json.dumps(self.hits), encoding="utf-8")
