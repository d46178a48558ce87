"""Where the course's files live, and nbgrader's view of them.

The grader reads the source notebooks from a folder it is given (the
command's ``--source``, default ``./solutions``; :data:`SOLUTIONS`, the
checkout's, for code run inside the repository) and writes only into
folders outside its own package: the release goes to ``--dest``, and
grading works in a work folder (``--workdir``, default ``.autograder/``
beside the grades CSV) that holds nbgrader's course folder with the master
gradebook (``course/``) and one folder per run (``runs/``).
"""

import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from traitlets.config import Config

# The folder that holds the autograder package: the repository, or the
# site-packages of an installed grader.
REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
RELEASE = REPO / "notebooks"
WORKDIR_NAME = ".autograder"

# The contract's order of the assignments.
ORDER = ["rnn", "lstm", "gru", "seq2seq", "attention", "self_attention"]


def source_path(assignment, source=None):
    """The source notebook of ``assignment`` in the folder ``source``
    (default: the course's ``solutions/``)."""
    return Path(source or SOLUTIONS) / assignment / f"{assignment}.ipynb"


def assignments(source=None):
    """Names of the assignments that have a source notebook, in order."""
    found = [
        p.parent.name
        for p in Path(source or SOLUTIONS).glob("*/*.ipynb")
        if p.stem == p.parent.name
    ]
    return sorted(
        found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)
    )


def nbgrader_config(root, cell_timeout=60, kernel_ipc=None, source=None):
    """nbgrader configuration for a course folder at ``root``.

    kernel_ipc: a path prefix for the kernel's sockets, to talk to it over
    Unix sockets instead of TCP (a sandboxed kernel has no network).
    source: the folder of the source notebooks (default ``solutions/``).
    """
    c = Config()
    root = Path(root).resolve()
    if kernel_ipc:
        c.KernelManager.transport = "ipc"
        c.KernelManager.ip = str(kernel_ipc)
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = str(
        Path(source or SOLUTIONS).resolve()
    )
    c.CourseDirectory.release_directory = "release"
    c.CourseDirectory.db_url = f"sqlite:///{Path(root) / 'gradebook.db'}"
    c.CourseDirectory.course_id = "sequence-models"
    # Our own checks say what is wrong; nbgrader's default solution-cell
    # checks are kept.
    for name, value in execute_settings(cell_timeout).items():
        setattr(c.Execute, name, value)
    # A graded kernel has nothing to save: it is killed at the end rather
    # than asked to shut down and waited for.
    c.Execute.shutdown_kernel = "immediate"
    c.ClearSolutions.code_stub = {
        "python": "# YOUR CODE HERE\nraise NotImplementedError()"
    }
    c.Exchange.root = str(Path(root) / "exchange")
    return c


def execute_settings(cell_timeout=60):
    """nbgrader's ``Execute`` settings of every grading run, ours and
    nbgrader's own ``autograde`` (:mod:`autograder.native`)."""
    return {
        "timeout": cell_timeout,
        "interrupt_on_timeout": True,
        "execute_retries": 0,
        # A timed-out cell is interrupted and marked failed; grading goes on.
        "raise_on_iopub_timeout": False,
    }


def quiet_nbgrader():
    """Silence nbgrader's and traitlets' console logging; nbgrader makes
    its gradebooks without a subprocess (:func:`alembic_head`)."""
    for name in ("traitlets", "nbgrader", "NbGraderAPI"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import nbgrader.api

    nbgrader.api.get_alembic_version = alembic_head


_HEAD = {}


def alembic_head():
    """The newest revision of nbgrader's gradebook schema, which a new
    gradebook records, read from nbgrader's own migration scripts in this
    process. nbgrader's ``get_alembic_version`` runs ``alembic heads`` as
    a command for it each time it makes a gradebook: 1.2 s, and a failure
    where the environment's ``bin`` is not on PATH."""
    if "head" not in _HEAD:
        import nbgrader
        from alembic.config import Config as AlembicConfig
        from alembic.script import ScriptDirectory

        config = AlembicConfig()
        scripts = Path(nbgrader.__file__).parent / "alembic"
        config.set_main_option("script_location", str(scripts))
        _HEAD["head"] = ScriptDirectory.from_config(config).get_current_head()
    return _HEAD["head"]


def nbgrader_api(root, **kwargs):
    """nbgrader's API on the course folder ``root`` (``nbgrader_config``'s
    keywords)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = nbgrader_config(root, **kwargs)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def generate_release(name, root, source=None):
    """Run nbgrader generate_assignment for ``name``; return the notebook path.

    The release is written into ``root/release/name/`` and the gradebook at
    ``root/gradebook.db`` learns the assignment (with its hidden tests).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    quiet_nbgrader()
    api = nbgrader_api(root, source=source)
    with contextlib.redirect_stdout(io.StringIO()):
        result = api.generate_assignment(name, force=True, create=True)
    if not result["success"]:
        raise RuntimeError(
            f"nbgrader generate_assignment {name} failed:\n{result['log']}"
            f"\n{result.get('error', '')}"
        )
    return root / "release" / name / f"{name}.ipynb"


def normalise_release(path):
    """Make a generated notebook byte-stable: sorted keys, no outputs."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def release(names=None, dest=RELEASE, root=None, source=None):
    """Generate the student notebooks of ``names`` (default: all) in dest,
    with nbgrader's course folder at ``root`` (default: a temporary one)."""
    if root is None:
        with tempfile.TemporaryDirectory(prefix="seqbook-release-") as tmp:
            return release(names, dest, Path(tmp), source)
    written = []
    for name in names or assignments(source):
        if not source_path(name, source).exists():
            raise FileNotFoundError(
                f"no source notebook {source_path(name, source)}"
            )
        generated = generate_release(name, root=root, source=source)
        target = Path(dest) / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(generated.parent, target)
        normalise_release(target / f"{name}.ipynb")
        written.append(target / f"{name}.ipynb")
    return written


def gradebook_path(root):
    return Path(root) / "gradebook.db"


def course_folder(workdir):
    """nbgrader's course folder (the master gradebook) in a work folder."""
    return Path(workdir) / "course"


def runs_folder(workdir):
    """The folders of grading runs in a work folder."""
    return Path(workdir) / "runs"


def ensure_gradebook(name, root, source=None):
    """The master gradebook knows ``name``, as its source notebook now
    is; generate it if it does not."""
    from nbgrader.api import Gradebook, MissingEntry

    db = gradebook_path(root)
    if db.exists():
        with Gradebook(f"sqlite:///{db}") as gb:
            try:
                gb.find_assignment(name)
                fresh = True
            except MissingEntry:
                fresh = False
        changed = source_path(name, source).stat().st_mtime
        if fresh and db.stat().st_mtime >= changed:
            return db
    generate_release(name, root=root, source=source)
    return db


def kernel_settings():
    """Variables every grading kernel's environment has: no progress
    bars, one thread per kernel (submissions are graded side by side, and
    torch's thread pool on tiny tensors only fights for the cores), no
    window for plots."""
    settings = {"SEQBOOK_PROGRESS": "0", "MPLBACKEND": "Agg"}
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        settings[name] = "1"
    return settings


def os_environ_for_kernel():
    """Environment of the grading workers (and of an unsandboxed kernel):
    the grader's and the course library's packages importable (from the
    checkout, or installed), and :func:`kernel_settings`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)]
        + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.update(kernel_settings())
    return env


def _venv_on_path():
    # nbgrader runs the `alembic` command of its own environment; make sure
    # that environment's scripts are found even when it was not activated.
    scripts = str(Path(os.sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


_venv_on_path()
