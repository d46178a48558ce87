"""One run of ``grade``: its sandbox, its lock, its signals, its run
folder.

What the students' kernels run in is said once, at the start
(:func:`check_sandbox`), and ``--require-sandbox`` refuses to grade
without one. Two graders writing the same CSV at once are refused
(:func:`lock`);
SIGINT and SIGTERM become ``KeyboardInterrupt`` in the main thread so
that the batch saves what it has (:func:`signals`), though never in the
middle of recording a result (:func:`held`); each run grades in a
private folder of the work folder, and the folders of dead runs are
removed (:func:`run_folder`); the master gradebook lives in the work
folder too (:func:`master_gradebook`).
"""

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading

from autograder import course


class GraderBusy(RuntimeError):
    """Another grader is writing the same CSV."""


class NoSandbox(RuntimeError):
    """``--require-sandbox``, and kernels cannot be sandboxed here."""


NOT_PROTECTED = (
    "Their code then runs with this grader's own rights: it can read "
    "every file you can (the solutions and hidden checks, the gradebook, "
    "the other students' notebooks), write wherever you can, use the "
    "network, and see and signal your processes; of its resources only "
    "its memory, the files it holds open and the size of one file it "
    "writes are limited (not its processes and threads, nor how much it "
    "writes in all). Its points are still decided outside its process, "
    "by the judge."
)
FULL = (
    "Full protection: Linux, bubblewrap installed (apt-get install "
    "bubblewrap), and the grader run as root."
)


def probe_sandbox():
    """What the workers' kernels run in here, asked of the worker's side
    (``python -m autograder.worker.sandbox``): {"mode", "reason"}."""
    command = [sys.executable, "-m", "autograder.worker.sandbox"]
    try:
        result = subprocess.run(
            command,
            env=course.os_environ_for_kernel(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return {"mode": None, "reason": "the sandbox could not be probed"}


def check_sandbox(options):
    """Say once, on stderr, what the kernels are not protected from here
    (nothing as root with bubblewrap); with ``require_sandbox``, raise
    :class:`NoSandbox` where there is no sandbox at all."""
    found = probe_sandbox()
    if found["mode"] == "root":
        return found
    if found["mode"] is None:
        message = (
            f"the students' kernels cannot be sandboxed here: "
            f"{found['reason']}."
        )
        if options.require_sandbox:
            raise NoSandbox(f"{message} {FULL} (--require-sandbox)")
        print(
            f"warning: {message} {NOT_PROTECTED} {FULL} Pass "
            "--require-sandbox to refuse to grade without it.",
            file=sys.stderr,
        )
        return found
    print(
        "note: the students' kernels are sandboxed without root "
        "(bubblewrap in a user namespace): they see only the Python "
        "installation, the course library and their own box, with no "
        "network; but they run under your user id, the folder of their "
        "sockets lies on your disk, and the number of files they write "
        f"is not limited. {FULL}",
        file=sys.stderr,
    )
    return found


class Interrupted(Exception):
    """Grading stopped on SIGINT/SIGTERM after saving what was done."""

    def __init__(self, signum, done, remaining):
        super().__init__(f"interrupted: {remaining} submissions remain")
        self.signum = signum
        self.done = done
        self.remaining = remaining


def lock(path):
    """An exclusive lock on ``path`` for as long as the file stays open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        owner = f.read().strip()
        f.close()
        raise GraderBusy(
            f"another grader (pid {owner or '?'}) is writing "
            f"{path.name[: -len('.lock')]}; wait for it or stop it"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


@contextlib.contextmanager
def signals():
    """SIGINT and SIGTERM raise KeyboardInterrupt; yields the list of the
    signals received."""
    received, saved = [], {}

    def on_signal(signum, frame):
        received.append(signum)
        if _hold["depth"]:
            _hold["pending"] = True
            return
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            saved[signum] = signal.signal(signum, on_signal)
    try:
        yield received
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


# How many held() blocks the main thread is in; a signal received inside.
_hold = {"depth": 0, "pending": False}


@contextlib.contextmanager
def held():
    """A block that a signal does not cut: SIGINT or SIGTERM received
    inside raises ``KeyboardInterrupt`` when it ends (a result is then
    in the journal, the rows and the CSV alike, or in none of them)."""
    _hold["depth"] += 1
    try:
        yield
    finally:
        _hold["depth"] -= 1
    if not _hold["depth"] and _hold["pending"]:
        _hold["pending"] = False
        raise KeyboardInterrupt


def ignore_signals():
    """No second Ctrl-C while the grader saves what it has."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)


def master_gradebook(options):
    """The master gradebook of the work folder, which knows the
    assignment; made under a lock shared by every grader using it."""
    root = course.course_folder(options.work)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".gradebook.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        return course.ensure_gradebook(
            options.assignment, root, source=options.source
        )


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_folder(options):
    """A private folder for this run; those of dead runs are removed."""
    root = course.runs_folder(options.work) / options.assignment
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("run-*"):
        try:
            pid = int(old.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(old, ignore_errors=True)
    run = root / f"run-{os.getpid()}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    return run
