"""Kernels started ahead: the next submission's box and kernel start
while the current one is graded.

A sandboxed kernel takes a second or more to start (Python, IPython,
numpy, torch), which is most of what grading one submission costs
beyond the student's own code. So when the worker takes a job, it
opens the box of the *next* one at once (:func:`launch_ahead`): a fresh
box (:func:`~autograder.worker.box.open_launch`, a user id other than
the current kernel's) and its kernel, which imports the modules the
assignment's notebook imports (numpy, torch) before it runs anything,
and then waits, having run no line of any notebook. The next job takes
that kernel when it fits (the same sandbox, limits, hidden folders and
modules; otherwise it goes, and a kernel that imports the same modules
first starts as before): nbclient
gets its manager (:func:`take_kernels_ahead`) instead of starting one,
so the notebook runs in it from its first cell. When the submission is
graded the kernel is killed and its box removed, with everything its
notebook started; a kernel serves one submission, never two.

The kernel ahead shares nothing with the one being graded: a box and a
user id of its own, its own PID, IPC and network namespaces. A worker
that dies takes it along (bwrap's ``--die-with-parent``); its box is
removed by the next worker (:func:`~autograder.worker.box.
remove_stale_boxes`). Only sandboxed kernels are started ahead.
"""

import ast
import contextlib
import os
from dataclasses import dataclass

from autograder import course, notebooks
from autograder.job import descendants
from autograder.worker import box

# Modules worth importing ahead: those a notebook imports (by their full
# names) from these packages, slow to import and without side effects a
# notebook could tell from its own import; each package brings the
# modules it names here too. torch's autograd imports two more on its
# first call with upstream gradients, which every gradient check makes
# (seconds); matplotlib's font manager builds its cache of the system's
# fonts in the kernel's fresh home (the course library's plots import
# it). The course library itself (``from seqbook.training import ...``)
# imports torch and pyplot: more than a second of every notebook's
# set-up cell.
FONTS = ("matplotlib", "matplotlib.font_manager")
PRELOADABLE = {
    "numpy": (),
    "torch": (
        "torch.fx.experimental.symbolic_shapes",
        "torch.nested._internal.nested_tensor",
    ),
    "matplotlib": FONTS,
    "seqbook": FONTS,
}
# As nbclient starts an IPython kernel.
HISTORY = "--HistoryManager.hist_file=:memory:"


@dataclass(frozen=True)
class Ahead:
    """A kernel started ahead: its launch, its manager, and what a job
    must match to take it (:func:`fit`)."""

    launch: box.Launch
    manager: object  # jupyter_client's AsyncKernelManager
    fit: tuple


_NEXT = {}  # "ahead": the kernel started for the next job
_HANDOFF = {}  # "manager": the kernel nbclient takes for this job
_PRELOAD = {}  # (source notebook, mtime) -> modules it imports


def preload(job):
    """The modules of :data:`PRELOADABLE` for those ``job``'s source
    notebook imports."""
    path = course.source_path(job.assignment, job.source)
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _PRELOAD:
        notebook = notebooks.read_source(job.assignment, job.source)
        found = set()
        for cell in notebook["cells"]:
            found |= _imports(cell)
        wanted = []
        for name in sorted(found):
            package = name.split(".")[0]
            if package in PRELOADABLE:
                wanted += [package, *PRELOADABLE[package], name]
        _PRELOAD[key] = tuple(dict.fromkeys(wanted))
    return _PRELOAD[key]


def _imports(cell):
    if cell.get("cell_type") != "code":
        return set()
    try:
        tree = ast.parse(notebooks.cell_text(cell))
    except SyntaxError:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.add(node.module)
    return found


def fit(job, mode):
    """What a kernel started for ``job`` depends on: a later job takes
    it only when this is the same."""
    hidden = box.secret_paths(job, box.shown_folders())
    return (mode, job.limits, tuple(hidden), preload(job))


def _start(launch):
    """Start the kernel of ``launch`` (not waiting for it to be ready)."""
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.util import run_sync

    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(launch.box / "jupyter")
    try:
        manager = AsyncKernelManager(
            kernel_name="python3", transport="ipc", ip=str(launch.kernel_ipc)
        )
        run_sync(manager.start_kernel)(
            extra_arguments=[HISTORY], cwd=str(launch.box)
        )
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
    return manager


def start_next(job, mode):
    """Open the box of the next job like ``job`` and start its kernel."""
    discard()
    needs = fit(job, mode)
    launch = box.open_launch(job, mode, preload=needs[-1], ahead=True)
    try:
        manager = _start(launch)
    except Exception:  # the next job starts its own kernel
        box.remove_box(launch.box)
        return
    _NEXT["ahead"] = Ahead(launch, manager, needs)


def _kill(ahead):
    """The kernel of ``ahead`` goes, with its whole sandbox, and its box."""
    from nbclient.util import run_sync

    with contextlib.suppress(Exception):
        run_sync(ahead.manager.shutdown_kernel)(now=True)
    with contextlib.suppress(Exception):
        run_sync(ahead.manager.cleanup_resources)()
    box.remove_box(ahead.launch.box)


def discard():
    """Stop the kernel started ahead, if any (it fits no job, or the
    worker ends)."""
    ahead = _NEXT.pop("ahead", None)
    if ahead is not None:
        _kill(ahead)


def _take(job, mode):
    """The kernel started ahead, if it is alive and fits ``job``."""
    ahead = _NEXT.pop("ahead", None)
    if ahead is None:
        return None
    if mode is not None and ahead.fit == fit(job, mode):
        provisioner = getattr(ahead.manager, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is not None and process.poll() is None:
            return ahead
    _kill(ahead)
    return None


def pids():
    """The processes of the kernel started ahead (the watch of the
    kernel being graded leaves them out)."""
    ahead = _NEXT.get("ahead")
    provisioner = getattr(getattr(ahead, "manager", None), "provisioner", None)
    pid = getattr(provisioner, "pid", None)
    return {pid, *descendants(pid)} if pid else set()


@contextlib.contextmanager
def launch_ahead(job, more=True):
    """:func:`~autograder.worker.box.kernel_launch` for the worker: the
    kernel started ahead for ``job`` when it fits; the next job's kernel
    starts now, if ``more`` (a next job may come). The kernel ``job`` ran
    in goes with its box."""
    mode = box.kernel_mode(job)
    taken = _take(job, mode)
    opened = taken.launch if taken else None
    if opened is None and mode is not None:
        # The same modules imported first as in a kernel started ahead:
        # what a notebook shows (a library's warning on import, say)
        # does not depend on whether its kernel was started ahead.
        opened = box.open_launch(job, mode, preload=preload(job))
    with box.kernel_launch(job, opened) as launch:
        _HANDOFF["manager"] = taken.manager if taken else None
        try:
            if mode is not None and more:
                start_next(job, mode)
            yield launch
        finally:
            _HANDOFF.pop("manager", None)
            if taken is not None:
                _kill(taken)


def take_kernels_ahead():
    """Have nbclient (nbgrader's ``Execute``) run the notebook in the
    kernel started ahead for the current job instead of starting one."""
    from nbclient.client import NotebookClient

    if getattr(NotebookClient, "_grader_ahead", False):
        return
    NotebookClient._grader_ahead = True
    create = NotebookClient.create_kernel_manager

    def create_or_take(self):
        manager = _HANDOFF.pop("manager", None)
        spec = self.nb.metadata.get("kernelspec", {}).get("name")
        if manager is None or (self.kernel_name or spec) != "python3":
            return create(self)
        self.km = manager
        return manager

    NotebookClient.create_kernel_manager = create_or_take
