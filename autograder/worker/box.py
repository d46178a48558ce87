"""The kernel's box, and how its kernel is launched: the one place that
decides what a student's kernel runs in.

Each submission gets a box, ``/tmp/seqbook-sbx-<worker pid>-*``: ``ipc/``
(the kernel's and the judge's Unix sockets), ``home/``, ``work/`` and
``lib/autograder`` (the kernel side of the judge, and nothing else of
the grader). Where the machine allows it (Linux, root, namespaces) the
kernelspec nbgrader starts points at :mod:`autograder.worker.sandbox`,
which isolates the kernel before it starts; elsewhere the kernel runs
as is, and the judge still keeps the verdicts out of it.

:func:`kernel_launch` is what a different sandbox (bubblewrap, say)
replaces: it yields the :class:`Launch` that nbgrader's configuration
and the environment take.

**Kernels started ahead.** Once a submission's kernel and everything it
left are gone, :func:`start_ahead` opens the next box and starts its
kernel at once, while the worker makes the feedback page and waits for
the next job; :func:`kernel_launch` hands that kernel to nbgrader
(:func:`use_kernels_ahead`) when the next job wants the same box (same
sandbox, same hidden folders), and starts one as before otherwise. A
kernel, like its box, serves one submission: it never ran anything
before it gets its job, and it goes with its submission.
"""

import contextlib
import dataclasses
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder import course
from autograder.job import descendants
from autograder.judge import KERNEL_SIDE
from autograder.judge.protocol import ENV as JUDGE_ENV
from autograder.worker import leftovers
from autograder.worker.limits import bound_memory

BOX_PREFIX = "seqbook-sbx-"
SANDBOX_ENV = "SEQBOOK_SANDBOX"
LAUNCHER = Path(__file__).resolve().parent / "sandbox.py"
PACKAGE = Path(__file__).resolve().parent.parent  # autograder/


@dataclass(frozen=True)
class Launch:
    """How the kernel of one submission is started."""

    box: Path
    judge_socket: Path  # where the judge listens
    kernel_ipc: Path | None  # Unix sockets for the kernel (sandboxed)
    sandboxed: bool
    uid: int | None = None  # the sandboxed kernel's own user
    environment: tuple = ()  # (name, value): what the kernel starts with
    manager: object = None  # the kernel manager of a kernel started ahead


_SANDBOX = {}


def sandbox_available():
    """Whether kernels can be sandboxed here (root, namespaces allowed)."""
    if "ok" not in _SANDBOX:
        probe = (
            "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True);"
            "assert os.geteuid() == 0;"
            "assert libc.unshare(0x00020000 | 0x40000000) == 0"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True
        )
        _SANDBOX["ok"] = result.returncode == 0
    return _SANDBOX["ok"]


@contextlib.contextmanager
def kernel_launch(job):
    """A box for ``job``'s kernel and the environment that starts the
    kernel in it (sandboxed where possible), or the box of the kernel
    started ahead for it; removed afterwards, with every process the
    kernel started and, sandboxed, every file its user left in the
    shared temporary folders (:mod:`.leftovers`)."""
    remove_stale_boxes()
    launch = _take_ahead(job) or _prepare(job)
    before = set(descendants(os.getpid())) - _tree(launch)
    saved = _set_environ(dict(launch.environment))
    _LAUNCHED["manager"] = launch.manager
    try:
        yield launch
    finally:
        _LAUNCHED["manager"] = None
        _restore(saved)
        _remove(launch, keep=before)


def _prepare(job):
    """A fresh box for a kernel of ``job``, and how to start it there."""
    # The pages' folder exists before the kernel starts, so that it is
    # hidden from a kernel started ahead of the first page.
    Path(job.feedback).parent.mkdir(parents=True, exist_ok=True)
    box = _make_box()
    sandboxed = job.sandbox and sandbox_available()
    uid = next_kernel_uid() if sandboxed else None
    environment = {JUDGE_ENV: str(box / "judge.sock")}
    if sandboxed:
        environment.update(_sandbox_box(box, job, uid))
    return Launch(
        box=box,
        judge_socket=box / "judge.sock",
        kernel_ipc=box / "ipc" / "kernel" if sandboxed else None,
        sandboxed=sandboxed,
        uid=uid,
        environment=tuple(sorted(environment.items())),
    )


def _tree(launch):
    pid = _pid(launch.manager)
    return {pid, *descendants(pid)} if pid else set()


def _pid(manager):
    return getattr(getattr(manager, "provisioner", None), "pid", None)


def _remove(launch, keep=()):
    """The kernel of ``launch``, what it left, and its box go."""
    leftovers.end_processes(keep=keep)
    if launch.manager is not None:  # its connection file, its sockets
        from nbclient.util import run_sync

        with contextlib.suppress(Exception):
            run_sync(launch.manager.cleanup_resources)()
    if launch.uid is not None:
        leftovers.remove_files(launch.uid)
    shutil.rmtree(launch.box, ignore_errors=True)


# The kernel started ahead, and what it was started for; the manager of
# the kernel that the current launch hands to nbgrader.
_AHEAD = {}
_LAUNCHED = {"manager": None}
HISTORY = "--HistoryManager.hist_file=:memory:"  # as nbclient starts it


def _fit(job, launch):
    """What a kernel started in ``launch``'s box for ``job`` depends on."""
    hidden = hidden_paths(job, launch.box) if launch.sandboxed else []
    sandboxed = job.sandbox and sandbox_available()
    return (sandboxed, tuple(hidden), job.limits.memory_limit)


def start_ahead(job):
    """Start now, in a box of its own, the kernel of the next submission
    of a job like ``job`` (the one before it must be gone)."""
    discard_ahead()
    launch = _prepare(job)
    try:
        manager = _start_kernel(launch, job.limits.memory_limit)
    except Exception:  # the next job starts its own, as before
        _remove(launch)
        return
    launch = dataclasses.replace(launch, manager=manager)
    _AHEAD.update(launch=launch, fit=_fit(job, launch))


def _start_kernel(launch, limit):
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.util import run_sync

    environment = dict(launch.environment)
    options = {"kernel_name": "python3"}
    if launch.kernel_ipc:
        options.update(transport="ipc", ip=str(launch.kernel_ipc))
    # The kernelspec is looked up in this process's JUPYTER_PATH.
    saved = _set_environ({"JUPYTER_PATH": environment.get("JUPYTER_PATH")})
    try:
        manager = AsyncKernelManager(**options)
        run_sync(manager.start_kernel)(
            extra_arguments=[HISTORY],
            cwd=str(launch.box / "work"),
            env={**os.environ, **environment},
        )
        bound_memory(_pid(manager), limit)
        manager.grader_memory_limit = limit
    finally:
        _restore(saved)
    return manager


def _take_ahead(job):
    """The launch of the kernel started ahead, if it fits ``job``."""
    launch, fit = _AHEAD.pop("launch", None), _AHEAD.pop("fit", None)
    if launch is None:
        return None
    try:
        from nbclient.util import run_sync

        alive = run_sync(launch.manager.is_alive)()
    except Exception:
        alive = False
    if alive and fit == _fit(job, launch):
        return launch
    _remove(launch, keep=set(descendants(os.getpid())) - _tree(launch))
    return None


def discard_ahead():
    """Stop the kernel started ahead, if any (the worker ends)."""
    launch = _AHEAD.pop("launch", None)
    _AHEAD.pop("fit", None)
    if launch is not None:
        _remove(launch, keep=set(descendants(os.getpid())) - _tree(launch))


def use_kernels_ahead():
    """Have nbclient (nbgrader's Execute) take the kernel started ahead
    for the current launch instead of starting one. Install it before
    the limits (:func:`autograder.worker.limits.limit_kernels`), which
    then bound that kernel as any other."""
    from nbclient.client import NotebookClient
    from nbclient.util import run_sync

    if getattr(NotebookClient, "_grader_ahead", False):
        return
    if getattr(NotebookClient, "_grader_limited", False):
        raise RuntimeError("use_kernels_ahead() goes before limit_kernels()")
    start = NotebookClient.async_start_new_kernel

    async def start_or_take(self, **kwargs):
        manager = _LAUNCHED["manager"]
        if manager is not None and (self.kernel_name or "python3") == (
            "python3"
        ):
            _LAUNCHED["manager"] = None  # one notebook, one kernel
            self.km = manager
            return
        await start(self, **kwargs)

    NotebookClient._grader_ahead = True
    NotebookClient.async_start_new_kernel = start_or_take
    NotebookClient.start_new_kernel = run_sync(start_or_take)


_KERNELS = itertools.count()


def next_kernel_uid():
    """A user id for the next sandboxed kernel of this worker: its own
    (4 in turn per worker), so that what one kernel leaves is known by
    its owner and no two kernels alive at once share one."""
    return 200000 + (os.getpid() % 100000) * 4 + next(_KERNELS) % 4


def _make_box():
    box = Path(tempfile.mkdtemp(prefix=f"{BOX_PREFIX}{os.getpid()}-"))
    box.chmod(0o755)
    for name in ("ipc", "home", "work", "lib/autograder/judge", "jupyter"):
        (box / name).mkdir(parents=True, exist_ok=True)
    (box / "ipc").chmod(0o777)
    return box


def _sandbox_box(box, job, uid):
    """Give the box to the kernel's own user ``uid``, copy the kernel
    side of the judge into it and point the python3 kernelspec at the
    launcher; the environment that starts the kernel sandboxed."""
    # The box is the kernel's own: another kernel (another user) cannot
    # read its connection file; root (nbgrader, the judge) still can.
    for path in [box, *box.rglob("*")]:
        os.chown(path, uid, uid)
    box.chmod(0o700)
    for name in KERNEL_SIDE:
        shutil.copy(PACKAGE / name, box / "lib" / "autograder" / name)
    spec = box / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, str(LAUNCHER), "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": argv,
                "display_name": "Python 3 (sandboxed)",
                "language": "python",
            }
        )
    )
    settings = {
        "box": str(box),
        "uid": uid,
        "hide": hidden_paths(job, box),
        "client": {
            "source": str(box / "lib" / "autograder"),
            "target": str(PACKAGE),
        },
    }
    return {
        "JUPYTER_PATH": str(box / "jupyter"),
        SANDBOX_ENV: json.dumps(settings),
    }


def _set_environ(values):
    """Set ``values`` in os.environ (None: unset); what to restore."""
    saved = {key: os.environ.get(key) for key in values}
    _restore(values)
    return saved


def _restore(saved):
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def remove_stale_boxes():
    """Boxes left by a worker that was killed (kill -9) go."""
    for box in Path(tempfile.gettempdir()).glob(f"{BOX_PREFIX}*"):
        pid = box.name.split("-")[2]
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
                continue  # its worker is alive
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        elif pid.isdigit():
            continue
        shutil.rmtree(box, ignore_errors=True)


def hidden_paths(job, box):
    """What the kernel must not read: the course's sources and the class's
    files. A folder that holds what the kernel needs (the Python
    installation, the course library, its box) is never hidden whole."""
    repo = course.REPO
    feedback, notebook = Path(job.feedback), Path(job.notebook)
    candidates = [
        Path(job.source),
        repo / "solutions",
        repo / "tests",
        repo / ".git",
        repo / "benchmarks",
        repo / "experiments",
        notebook.resolve().parents[2],
        Path(job.submissions or job.notebook).resolve(),
        feedback.resolve().parent,
        feedback.resolve().parents[1],
        Path(job.result).resolve().parent,
        Path(job.master_db).resolve().parent,
    ]
    if job.out:
        candidates.append(Path(job.out).resolve().parent)
    keep = [Path(sys.prefix).resolve(), repo / "seqbook", Path(box)]
    hidden = []
    for path in candidates:
        if not path.is_dir():
            continue
        if any(k == path or path in k.parents for k in keep):
            continue
        if str(path) not in hidden:
            hidden.append(str(path))
    return hidden
