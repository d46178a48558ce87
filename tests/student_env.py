"""A student's environment, made once per test session (conftest.py).

``prepare`` makes a fresh virtual environment outside the repository
(``publish.freshenv``: torch, the course library's dependencies, a Jupyter
kernel, no course package, no ``PYTHONPATH``), then, in this order:

1. asks pip, through the install cell itself, what it would install
   (``PIP_DRY_RUN`` and ``PIP_REPORT``, pip's own variables): once with
   ``PIP_FIND_LINKS`` pointing at the folder of freshly built wheels, once
   with the published cell's site served on localhost;
2. runs the rnn release notebook in an empty folder, with pip pointed at
   the wheel folder (``PIP_FIND_LINKS``, ``PIP_NO_INDEX``): the install
   cell installs seqbook from the wheel, then the set-up cell, the first
   exercise (filled with the reference solution) and its visible test run;
3. installs every other wheel of ``publish.wheels.WHEELS`` (the grader's,
   once it has one) from the wheel folder.

Tests read what happened from the returned ``StudentEnv``.
"""

import functools
import http.server
import json
import subprocess
import threading
from dataclasses import dataclass, field

from publish import install_cell
from publish.config import Published
from publish.freshenv import CONSTRAINTS, FreshEnv
from submissions import REPO, solution_sources

# Printed by the last cell of a run: where the kernel and seqbook live.
PROBE = (
    "import json, sys, seqbook\n"
    'print("PROBE" + json.dumps({"prefix": sys.prefix, '
    '"seqbook": seqbook.__file__}))'
)


@dataclass
class StudentEnv:
    env: FreshEnv
    wheels: dict  # distribution name -> wheel path
    plan_from_pip_settings: dict = field(default_factory=dict)
    plan_from_site: dict = field(default_factory=dict)
    site_url: str = ""
    first_run: object = None  # CompletedProcess of the rnn run
    first_notebook: dict = None  # the executed rnn notebook
    exercise_index: int = 0  # its first exercise's cell index

    @property
    def wheel_dir(self):
        return self.wheels["seqbook"].parent


def student_environ(student, **extra):
    """The venv's environment, quiet, with ``extra`` pip settings."""
    return student.env.environ(
        SEQBOOK_PROGRESS=0, MPLBACKEND="Agg", OMP_NUM_THREADS=1, **extra
    )


def cell_plan(student, folder, cell_source, **pip_settings):
    """pip's install report of running ``cell_source`` as a script, with
    PIP_DRY_RUN (nothing is installed) and ``pip_settings``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cell.py").write_text(cell_source, encoding="utf-8")
    report = folder / "report.json"
    env = student_environ(
        student, PIP_DRY_RUN=1, PIP_REPORT=report, **pip_settings
    )
    result = student.env.run(["cell.py"], cwd=folder, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-3000:] + result.stderr[-3000:])
    return json.loads(report.read_text(encoding="utf-8"))


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def plan_from_served_site(student, folder):
    """The published cell's plan, its site (the wheel folder and its
    index page, as GitHub Pages serves them) on localhost."""
    site = folder / "site"
    (site / "wheels").mkdir(parents=True)
    for path in student.wheel_dir.iterdir():
        (site / "wheels" / path.name).write_bytes(path.read_bytes())
    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        student.site_url = f"http://127.0.0.1:{server.server_address[1]}/"
        where = Published("https://github.com/o/n", "main", student.site_url)
        nb = install_cell.with_site({"cells": [install_cell.cell()]}, where)
        source = install_cell.text(nb["cells"][0])
        # no PIP_FIND_LINKS of ours: the cell's own site is what pip reads
        return cell_plan(
            student, folder, source, PIP_NO_INDEX=1, PIP_FIND_LINKS=None
        )
    finally:
        server.shutdown()
        server.server_close()


def first_exercise_notebook(name):
    """The release of ``name`` cut after its first visible test, its first
    exercise filled with the reference solution, and a probe cell; and the
    exercise's index."""
    release = REPO / "notebooks" / name / f"{name}.ipynb"
    nb = json.loads(release.read_text(encoding="utf-8"))
    meta = [c.get("metadata", {}).get("nbgrader", {}) for c in nb["cells"]]
    exercise = next(i for i, m in enumerate(meta) if m.get("solution"))
    test = next(
        i for i, m in enumerate(meta) if i > exercise and m.get("grade")
    )
    solution = solution_sources(name)[meta[exercise]["grade_id"]]
    nb["cells"][exercise]["source"] = solution
    nb["cells"] = nb["cells"][: test + 1]
    probe = {
        "cell_type": "code",
        "execution_count": None,
        "id": "probe",
        "metadata": {},
        "outputs": [],
        "source": PROBE,
    }
    nb["cells"].append(probe)
    return nb, exercise


def run_first_exercise(student, folder, name="rnn"):
    folder.mkdir(parents=True)
    nb, student.exercise_index = first_exercise_notebook(name)
    path = folder / f"{name}.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    env = student_environ(
        student, PIP_FIND_LINKS=student.wheel_dir, PIP_NO_INDEX=1
    )
    student.first_run, student.first_notebook = student.env.run_notebook(
        path, folder, env=env
    )


def prepare(root, wheels):
    """The session's student environment (see the module's doc)."""
    student = StudentEnv(env=FreshEnv.create(root / "venv"), wheels=wheels)
    if "seqbook" in student.env.installed():
        raise RuntimeError("the fresh environment already has seqbook")
    student.plan_from_pip_settings = cell_plan(
        student,
        root / "plan-settings",
        install_cell.source(),
        PIP_FIND_LINKS=student.wheel_dir,
        PIP_NO_INDEX=1,
    )
    student.plan_from_site = plan_from_served_site(student, root / "plan-site")
    run_first_exercise(student, root / "first-exercise")
    others = [path for name, path in wheels.items() if name != "seqbook"]
    if others:
        student.env.pip("install", *others, "-c", CONSTRAINTS)
    return student


def run_cell_with_pip_log(python, folder, env, source=None):
    """Run the install cell (or ``source``) as a script with ``python``
    and PIP_LOG set: pip, if it runs, writes that log. Returns
    (CompletedProcess, whether pip ran)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "pip.log"
    log.unlink(missing_ok=True)
    script = folder / "cell.py"
    script.write_text(source or install_cell.source(), encoding="utf-8")
    result = subprocess.run(
        [str(python), str(script)],
        cwd=folder,
        env=dict(env, PIP_LOG=str(log)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, log.exists()
