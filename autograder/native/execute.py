"""nbgrader's ``Execute`` with the grader's guarantees: JudgedExecute.

One submission's notebook runs as in the grader's worker
(:mod:`autograder.worker.autograde`): in the kernel's box, with the
judge listening, the kernel's memory limited and its output capped. On
top of nbgrader's time limit per cell, a watchdog kills the kernel when
the whole notebook runs too long; then, as when the kernel dies, every
test cell is marked failed (the grader's row would be ``timeout`` or
``kernel_died``, with no points), and nbgrader goes on to the next
student. The judge's verdicts go to the next steps in
``resources["autograder"]``.
"""

import contextlib
import os
import signal
import threading
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from autograder import course, notebooks
from autograder.job import Job, Limits, parse_size
from autograder.worker.autograde import judging
from autograder.worker.box import kernel_launch
from autograder.worker.limits import limit_kernels

DEFAULTS = Limits()
# Environment variables the kernel gets from the grader (the course
# library and the kernel side of the judge importable, one thread).
KERNEL_ENV = (
    "PYTHONPATH",
    "SEQBOOK_PROGRESS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MPLBACKEND",
)


class JudgedExecute(Execute):
    """Run a submission as the grader does (see the module's doc)."""

    notebook_timeout = Integer(
        DEFAULTS.notebook_timeout,
        help="Seconds the whole notebook may run; 0 for no limit.",
    ).tag(config=True)
    memory_limit = Unicode(
        "4G",
        help="Memory the kernel may use (RLIMIT_DATA), e.g. 4G; 0 for none.",
    ).tag(config=True)
    max_output = Unicode(
        "1M", help="Characters one cell may show; the rest is cut."
    ).tag(config=True)
    sandbox = Bool(
        True, help="Sandbox the kernel where the machine allows it."
    ).tag(config=True)

    _kernel_ipc = None

    def preprocess(self, nb, resources, km=None):
        job = self.job(resources)
        limit_kernels(job.limits)
        with (
            kernel_launch(job) as launch,
            judging(job, launch) as judge,
            _kernel_environment(),
        ):
            self._kernel_ipc = launch.kernel_ipc
            nb, resources = self._run(nb, resources, km)
        resources["autograder"] = {"verdicts": dict(judge.verdicts)}
        return nb, resources

    def _run(self, nb, resources, km):
        """nbgrader's run of the notebook, under the watchdog; a notebook
        that runs too long or kills its kernel fails every test cell."""
        watchdog = _Watchdog(self.notebook_timeout, self._kill_kernel)
        try:
            with watchdog:
                return super().preprocess(nb, resources, km)
        except DeadKernelError:
            if watchdog.fired:
                reason = (
                    "the notebook ran longer than "
                    f"{self.notebook_timeout} s: no test scores"
                )
            else:
                reason = "the kernel died: no test scores"
            self.log.warning("%s: %s", resources["nbgrader"], reason)
            fail_every_test(self.nb, reason)
            return self.nb, resources

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if self._kernel_ipc:  # sandboxed: no network, Unix sockets
            km.transport = "ipc"
            km.ip = str(self._kernel_ipc)
        return km

    def _kill_kernel(self):
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        if pid:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def limits(self):
        return Limits(
            cell_timeout=int(self.timeout or 0),
            notebook_timeout=int(self.notebook_timeout or 0),
            memory_limit=parse_size(self.memory_limit),
            max_output=parse_size(self.max_output),
        )

    def job(self, resources):
        """The grader's Job of this notebook: what the box and the judge
        need. The whole course folder is hidden from the kernel (its
        sources, gradebook and submissions): it goes as the folder the
        sandbox hides for the class's files."""
        info = resources["nbgrader"]
        coursedir = self.coursedir()
        root = Path(coursedir.root).resolve()
        notebook = Path(resources["metadata"]["path"]) / (
            info["notebook"] + ".ipynb"
        )
        feedback = coursedir.format_path(
            coursedir.feedback_directory, info["student"], info["assignment"]
        )
        return Job(
            assignment=info["assignment"],
            student=info["student"],
            student_name=info["student"],
            notebook=str(notebook.resolve()),
            workdir=str(notebook.parent.resolve()),
            result=str(notebook.resolve().with_suffix(".result.json")),
            master_db=str(root / "gradebook.db"),
            source=str(source_folder(coursedir, info["assignment"])),
            feedback=str(Path(feedback) / f"{info['notebook']}.html"),
            limits=self.limits(),
            submissions=str(root),
            sandbox=self.sandbox,
        )

    def coursedir(self):
        """The CourseDirectory of the nbgrader command running us."""
        parent = self.parent
        while parent is not None:
            found = getattr(parent, "coursedir", None)
            if isinstance(found, CourseDirectory):
                return found
            parent = getattr(parent, "parent", None)
        return CourseDirectory(config=self.config)


def source_folder(coursedir, assignment):
    """The folder of the source notebooks, ``<folder>/<assignment>/``."""
    path = coursedir.format_path(coursedir.source_directory, ".", assignment)
    return Path(os.path.normpath(path)).resolve().parent


def fail_every_test(nb, reason):
    """Every graded cell of ``nb`` gets an error output saying why it
    scores nothing."""
    for cell in nb.cells:
        meta = notebooks.nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        cell.setdefault("outputs", []).append(
            nbformat.v4.new_output(
                "error", ename="NotGraded", evalue=reason, traceback=[]
            )
        )


@contextlib.contextmanager
def _kernel_environment():
    """The grading kernel's environment variables, while it runs."""
    wanted = course.os_environ_for_kernel()
    saved = {key: os.environ.get(key) for key in KERNEL_ENV}
    os.environ.update({key: wanted[key] for key in KERNEL_ENV})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Watchdog:
    """Calls ``kill`` once ``seconds`` have passed, unless left first."""

    def __init__(self, seconds, kill):
        self.fired = False
        self.timer = None
        if seconds:
            self.timer = threading.Timer(seconds, self._fire, args=(kill,))
            self.timer.daemon = True

    def _fire(self, kill):
        self.fired = True
        kill()

    def __enter__(self):
        if self.timer:
            self.timer.start()
        return self

    def __exit__(self, *exc):
        if self.timer:
            self.timer.cancel()
