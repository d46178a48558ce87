"""The kernel's box, and how its kernel is launched: the one place that
decides what a student's kernel runs in.

Every route that runs a student's notebook starts its kernel through
:func:`kernel_launch`, which yields a :class:`Launch`: nbgrader's
configuration takes its socket prefix, and the ``python3`` kernelspec it
writes (found through ``JUPYTER_PATH`` while the launch lasts) starts the
kernel in the sandbox of :mod:`autograder.worker.sandbox` where the
machine allows it, always through :mod:`autograder.worker.launcher`,
which sets the kernel's limits before its first line.

Each submission gets a box, ``/tmp/seqbook-sbx-<worker pid>-*``
(:func:`open_launch`; a worker may open the next one while a submission
is graded, :mod:`autograder.worker.ahead`); as root a tmpfs of its own
(its kernel has a user id of its own), whose size and number of files
are the job's disk limits. It holds ``ipc/`` (the kernel's sockets),
``judge.sock`` (the judge's), ``work/`` (the kernel's working folder),
``home/``, ``tmp/`` (its ``/tmp``), ``etc/`` (its ``passwd``),
``lib/autograder`` (the kernel side of the judge, and nothing else of
the grader) and ``jupyter/`` (the kernelspec). Without a
sandbox the kernel runs as is, its open files and file sizes still
limited, and the judge still keeps the verdicts out of it.
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
from autograder.judge import KERNEL_SIDE
from autograder.worker import sandbox

BOX_PREFIX = "seqbook-sbx-"
PACKAGE = Path(__file__).resolve().parent.parent  # autograder/
LAUNCHER = Path(__file__).resolve().parent / "launcher.py"
UID_BASE = 1_000_000
# What the kernel may write to, and what only the grader's side writes.
KERNEL_OWNS = ("ipc", "work", "home", "tmp")
FOLDERS = (*KERNEL_OWNS, "etc", "jupyter", "lib/autograder/judge")


@dataclass(frozen=True)
class Launch:
    """How the kernel of one submission is started.

    ``mode`` is the sandbox's (``root``, ``userns``) or None;
    ``kernel_ipc`` the prefix of the kernel's Unix sockets (sandboxed:
    it has no network) or None for TCP on localhost."""

    box: Path
    judge_socket: Path  # where the judge listens
    kernel_ipc: Path | None
    sandboxed: bool
    mode: str | None = None
    uid: int | None = None  # the kernel's own user (root sandbox)


_PROBE = {}


def sandbox_probe():
    """This machine's :class:`~autograder.worker.sandbox.Probe` (probed
    once per process)."""
    if "probe" not in _PROBE:
        _PROBE["probe"] = sandbox.probe()
    return _PROBE["probe"]


def sandbox_available():
    """Whether kernels are sandboxed here."""
    return sandbox_probe().mode is not None


def kernel_mode(job):
    """The sandbox ``job``'s kernel runs in (None: none); an error when
    the job requires one that this machine cannot make."""
    mode = sandbox_probe().mode if job.sandbox else None
    if mode is None and job.require_sandbox:
        raise RuntimeError(
            "the kernel cannot be sandboxed on this worker: "
            + (sandbox_probe().reason or "sandboxing is off")
        )
    return mode


_BOXES = itertools.count()


def _kernel_uid(mode):
    """A user of its own for the next root box: no other process on the
    machine has it while this worker lives (the sandbox dies with the
    worker), and two boxes opened one after the other (a kernel and the
    one started ahead of the next) never share it."""
    if mode != "root":
        return None
    return UID_BASE + 2 * os.getpid() + next(_BOXES) % 2


def open_launch(job, mode, preload=(), ahead=False):
    """A fresh box for a kernel of ``job`` in the sandbox ``mode``, with
    the kernelspec that starts it there (importing the modules
    ``preload`` before it runs a line of the notebook; ``ahead``: it
    starts before its job comes, which its launcher's settings say)."""
    uid = _kernel_uid(mode)
    box = _make_box(mode, job.limits, uid)
    launch = Launch(
        box=box,
        judge_socket=box / "judge.sock",
        kernel_ipc=box / "ipc" / "kernel" if mode else None,
        sandboxed=mode is not None,
        mode=mode,
        uid=uid,
    )
    try:
        extra = {"preload": list(preload)} if preload else {}
        _write_kernelspec(
            launch, job, dict(extra, ahead=True) if ahead else extra
        )
    except BaseException:
        remove_box(box)
        raise
    return launch


@contextlib.contextmanager
def kernel_launch(job, opened=None):
    """A box for ``job``'s kernel and the kernelspec that starts the
    kernel in it (sandboxed where possible), or the box ``opened`` for it
    already; removed afterwards."""
    remove_stale_boxes()
    launch = opened or open_launch(job, kernel_mode(job))
    saved = {"JUPYTER_PATH": os.environ.get("JUPYTER_PATH")}
    try:
        os.environ["JUPYTER_PATH"] = str(launch.box / "jupyter")
        yield launch
    finally:
        _restore(saved)
        remove_box(launch.box)


def _make_box(mode, limits, uid):
    box = Path(tempfile.mkdtemp(prefix=f"{BOX_PREFIX}{os.getpid()}-"))
    try:
        _fill_box(box, mode, limits, uid)
    except BaseException:
        remove_box(box)
        raise
    return box


def _fill_box(box, mode, limits, uid):
    """Mount (as root) and fill the box: its folders, the judge's kernel
    side, its passwd."""
    box.chmod(0o755)
    if mode == "root":
        size = limits.disk_limit or 2**40
        inodes = limits.max_files or 2**31
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o",
             f"size={size},nr_inodes={inodes},mode=0755", "seqbook-box",
             str(box)],
            check=True, capture_output=True,
        )  # fmt: skip
    for name in FOLDERS:
        (box / name).mkdir(parents=True, exist_ok=True)
    for name in KERNEL_SIDE:
        shutil.copy(PACKAGE / name, box / "lib" / "autograder" / name)
    if uid is not None:
        for name in KERNEL_OWNS:
            os.chown(box / name, uid, uid)
            (box / name).chmod(0o700)
        # It is the kernel's /tmp, and the way to the box inside it.
        (box / "tmp").chmod(0o1777)
    _write_passwd(box, uid)


def _write_passwd(box, uid):
    """The kernel's /etc/passwd and /etc/group: root and its own user."""
    user = os.getuid() if uid is None else uid
    home = box / "home"
    (box / "etc" / "passwd").write_text(
        "root:x:0:0:root:/:/usr/sbin/nologin\n"
        f"student:x:{user}:{user}:grading kernel:{home}:/usr/sbin/nologin\n"
    )
    (box / "etc" / "group").write_text(f"root:x:0:\nstudent:x:{user}:\n")


def launcher_settings(launch, limits):
    """The launcher's JSON settings: the kernel's limits (and user)."""
    rlimits = {
        "RLIMIT_CORE": 0,
        "RLIMIT_NOFILE": limits.max_open_files,
        "RLIMIT_FSIZE": limits.disk_limit,
        "RLIMIT_DATA": limits.memory_limit,
    }
    if launch.sandboxed:
        # Unsandboxed it would count every process of the grader's user.
        rlimits["RLIMIT_NPROC"] = limits.max_processes
    settings = {
        "limits": {k: v for k, v in rlimits.items() if v or k == "RLIMIT_CORE"}
    }
    if launch.uid is not None:
        settings.update(uid=launch.uid, ipc=str(launch.box / "ipc"))
    if launch.sandboxed:
        settings["cwd"] = str(launch.box / "work")
    return settings


def _write_kernelspec(launch, job, extra=None):
    """The python3 kernelspec of this launch: the launcher (with the
    settings ``extra`` too), in the sandbox when there is one."""
    settings = json.dumps(
        {**launcher_settings(launch, job.limits), **(extra or {})}
    )
    program = [sys.executable, "-c", LAUNCHER.read_text(encoding="utf-8")]
    program += [settings, "-f", "{connection_file}"]
    spec = {"display_name": "Python 3 (grading)", "language": "python"}
    if launch.sandboxed:
        program = sandbox.command(_plan(launch, job)) + program
        # Signals go to bwrap's process group, not to the kernel, which
        # has a session of its own: interrupts go as messages.
        spec["interrupt_mode"] = "message"
    folder = launch.box / "jupyter" / "kernels" / "python3"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(dict(spec, argv=program)))


def shown_folders():
    """The host's folders a sandboxed kernel is shown (read-only): the
    Python installation and the course library's folder."""
    shown = sandbox.python_folders()
    library = sandbox.package_folder("seqbook")
    if library and not sandbox.inside(library, shown):
        shown = sandbox.outermost(shown + [library])
    return shown


def _plan(launch, job):
    """The sandbox of this launch: what the kernel sees, its environment."""
    shown = shown_folders()
    library = sandbox.package_folder("seqbook")
    return sandbox.Plan(
        mode=launch.mode,
        box=launch.box,
        shown=tuple(shown),
        covers=tuple(
            (str(launch.box / "lib" / "autograder"), path)
            for path in grader_copies(shown)
        ),
        hidden=tuple(secret_paths(job, shown)),
        files=("{connection_file}",),
        env=kernel_env(launch, library),
        tmp_size=job.limits.disk_limit or 2**40,
    )


def grader_copies(shown):
    """Every copy of the grader's package inside the folders the kernel
    is shown (an installed grader, one in the base Python's
    site-packages): the kernel gets the judge's kernel side over each."""
    found = {str(PACKAGE)} if sandbox.inside(PACKAGE, shown) else set()
    for entry in sys.path:
        candidate = Path(entry or ".") / "autograder" / "checks"
        if candidate.is_dir() and sandbox.inside(candidate, shown):
            found.add(os.path.realpath(candidate.parent))
    return sorted(found)


def secret_paths(job, shown):
    """What a student must not read, where it lies inside a folder the
    kernel is shown (say, a virtual environment made in the course's
    folder): the course's sources and the class's files."""
    repo = course.REPO
    candidates = [
        Path(job.source),
        repo / "solutions",
        repo / "tests",
        repo / ".git",
        Path(job.submissions or job.notebook).parent,
        Path(job.feedback).parent,
        Path(job.result).parent,
        Path(job.master_db).parent,
        Path(job.workdir).parent,
    ]
    if job.out:
        candidates.append(Path(job.out).parent)
    hidden = []
    for path in candidates:
        path = os.path.realpath(path)
        if os.path.isdir(path) and sandbox.inside(path, shown):
            hidden.append(path)
    return sandbox.outermost(hidden)


def kernel_env(launch, library):
    """The sandboxed kernel's whole environment (nothing else of the
    grader's: no tokens, no paths of the course)."""
    box = launch.box
    path = [str(box / "lib")]
    if library:
        path.append(str(Path(library).parent))
    env = {
        "HOME": box / "home",
        "TMPDIR": "/tmp",
        "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": ":".join(path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "MPLCONFIGDIR": box / "home" / ".matplotlib",
        "SEQBOOK_JUDGE": launch.judge_socket,
        # Its parent is bwrap's init, pid 1 of its namespace.
        "JPY_PARENT_PID": "1",
        # As nbgrader's own run says: the notebook is being graded (its
        # self-check cell then does nothing).
        "NBGRADER_EXECUTION": "autograde",
    }
    for key, value in course.kernel_settings().items():
        env.setdefault(key, value)
    return env


def _restore(saved):
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def remove_box(box):
    """Unmount (a root box is a tmpfs) and remove ``box``."""
    if os.path.ismount(box):
        subprocess.run(["umount", "-l", str(box)], capture_output=True)
    shutil.rmtree(box, ignore_errors=True)


def remove_stale_boxes():
    """Boxes left by a worker that was killed (kill -9) go."""
    for box in Path(tempfile.gettempdir()).glob(f"{BOX_PREFIX}*"):
        pid = box.name.split("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # its worker is alive
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        remove_box(box)
