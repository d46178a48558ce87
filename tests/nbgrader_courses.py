"""Instructors' nbgrader courses, laid out as nbgrader's documentation says
(``nbgrader_config.py``, ``source/<assignment>/``, ``release/``,
``submitted/<student>/<assignment>/``, ``gradebook.db``), driven with the
real ``nbgrader`` command, as an instructor runs it."""

import csv
import functools
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from submissions import REPO, make_submission

DUE = "2024-03-01 12:00:00 UTC"
ON_TIME = "2024-03-01 11:00:00.000000 UTC"
LATE = "2024-03-02 12:00:00.000000 UTC"


def environ():
    """The instructor's environment: nbgrader of this venv on PATH, the
    grader importable (as when its wheel is installed)."""
    env = dict(os.environ)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(REPO)
    return env


def nbgrader(root, *args, check=True):
    """``nbgrader ARGS`` run in the course folder ``root``."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), *args],
        cwd=root,
        env=environ(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"nbgrader {' '.join(args)} failed:\n"
            + result.stdout[-3000:]
            + result.stderr[-5000:]
        )
    return result


@functools.cache
def grader_config_lines(*args):
    """What ``python -m autograder nbgrader-config ARGS`` prints (run once
    for each ARGS)."""
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "nbgrader-config", *args],
        env=environ(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def make_course(root, assignment, extra_config=""):
    """A course at ``root`` whose ``nbgrader_config.py`` holds
    ``extra_config``, with ``assignment`` generated from its solution
    notebook (due at :data:`DUE`)."""
    root = Path(root)
    (root / "source" / assignment).mkdir(parents=True)
    shutil.copy(
        REPO / "solutions" / assignment / f"{assignment}.ipynb",
        root / "source" / assignment,
    )
    (root / "nbgrader_config.py").write_text(
        "import os\n"
        "c = get_config()\n"
        'c.CourseDirectory.course_id = "seq-models"\n'
        "here = os.path.dirname(os.path.abspath(__file__))\n"
        'c.Exchange.root = os.path.join(here, "exchange")\n'
        'c.LateSubmissionPlugin.penalty_method = "zero"\n' + extra_config,
        encoding="utf-8",
    )
    (root / "exchange").mkdir(mode=0o777)
    nbgrader(root, "generate_assignment", assignment)
    nbgrader(root, "db", "assignment", "add", assignment, f"--duedate={DUE}")
    return root


def submit(root, assignment, student, timestamp=ON_TIME, **kwargs):
    """A submission in ``submitted/`` as ``nbgrader collect`` leaves it:
    the notebook (``make_submission``'s keywords), ``timestamp.txt`` and
    the ``submission_secret.txt`` that ``nbgrader submit`` wrote."""
    folder = Path(root) / "submitted" / student
    path = make_submission(assignment, folder, **kwargs)
    (path.parent / "timestamp.txt").write_text(timestamp, encoding="utf-8")
    secret = secrets.token_hex(64)
    (path.parent / "submission_secret.txt").write_text(secret, "utf-8")
    return path


def scores(root, assignment, db_url=None):
    """student -> (points of each test cell, late penalty), as nbgrader's
    Gradebook API reads the course's gradebook (``db_url``; default: its
    ``gradebook.db``)."""
    from nbgrader.api import Gradebook

    found = {}
    db_url = db_url or f"sqlite:///{Path(root) / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        for submission in gb.assignment_submissions(assignment):
            (nb,) = submission.notebooks
            cells = {g.name: g.score for g in nb.grades if g.max_score}
            student = submission.student.id
            found[student] = (cells, nb.late_submission_penalty or 0.0)
    return found


def export(root):
    """``nbgrader export``: student -> its row of grades.csv."""
    nbgrader(root, "export")
    with open(Path(root) / "grades.csv", newline="", encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}
