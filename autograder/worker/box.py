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
"""

import contextlib
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
from autograder.worker import leftovers

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
    kernel in it (sandboxed where possible); removed afterwards, with
    every process the kernel started and, sandboxed, every file its user
    left in the shared temporary folders (:mod:`.leftovers`)."""
    remove_stale_boxes()
    before = descendants(os.getpid())
    box = _make_box()
    sandboxed = job.sandbox and sandbox_available()
    saved = {k: os.environ.get(k) for k in (SANDBOX_ENV, "JUPYTER_PATH")}
    uid = next_kernel_uid() if sandboxed else None
    if sandboxed:
        _sandbox_box(box, job, uid)
    try:
        yield Launch(
            box=box,
            judge_socket=box / "judge.sock",
            kernel_ipc=box / "ipc" / "kernel" if sandboxed else None,
            sandboxed=sandboxed,
        )
    finally:
        _restore(saved)
        leftovers.end_processes(keep=before)
        if uid is not None:
            leftovers.remove_files(uid)
        shutil.rmtree(box, ignore_errors=True)


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
    launcher."""
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
    os.environ["JUPYTER_PATH"] = str(box / "jupyter")
    os.environ[SANDBOX_ENV] = json.dumps(
        {
            "box": str(box),
            "uid": uid,
            "hide": hidden_paths(job, box),
            "client": {
                "source": str(box / "lib" / "autograder"),
                "target": str(PACKAGE),
            },
        }
    )


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
