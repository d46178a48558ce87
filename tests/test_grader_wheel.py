"""The grader as an instructor installs it: its wheel (seqbook-grader)
and the course library's, built with `python -m build`, installed into
the session's one fresh virtual environment outside the repository (no
editable install, no PYTHONPATH; conftest.py's ``student_env``), grade a
solved notebook there with the installed command, reading the source
notebooks from ``./solutions`` and writing nothing inside the installed
package."""

import csv
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from installed_probe import assert_kernel_saw_only_the_kernel_side
from installed_probe import probing_cells
from submissions import REPO, make_submission

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(student_env):
    return {"wheels": student_env.wheels, "env": student_env.env}


def installed_command(env, args, cwd):
    """An installed console script of the venv ``env``, as a shell runs it."""
    return subprocess.run(
        [str(env.bin / args[0]), *map(str, args[1:])],
        cwd=cwd,
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def package_files(env, folder):
    """(path, size, mtime) of every file of the installed autograder."""
    code = "import autograder, os; print(os.path.dirname(autograder.__file__))"
    where = env.run(["-c", code], cwd=folder)
    assert where.returncode == 0, where.stderr
    package = Path(where.stdout.strip())
    return package, {
        (str(p), p.stat().st_size, p.stat().st_mtime_ns)
        for p in package.rglob("*")
    }


def test_the_grader_wheel_holds_the_grader_and_nothing_else(installed):
    wheel = installed["wheels"]["seqbook-grader"]
    assert wheel.name.startswith("seqbook_grader-")
    version = (REPO / "VERSION").read_text().strip()
    assert f"-{version}-" in wheel.name
    # Until the course library reads VERSION too, its version must agree.
    assert f"-{version}-" in installed["wheels"]["seqbook"].name
    names = zipfile.ZipFile(wheel).namelist()
    code = [n for n in names if not n.startswith("seqbook_grader-")]
    assert code and all(
        n.startswith("autograder/") and n.endswith(".py") for n in code
    ), [n for n in code if not n.endswith(".py")]
    assert "autograder/checks/rnn.py" in code
    assert "autograder/judge/protocol.py" in code
    assert not [n for n in names if "solutions" in n or "tests/" in n]
    entry = zipfile.ZipFile(wheel).read(
        f"seqbook_grader-{version}.dist-info/entry_points.txt"
    )
    assert b"seqbook-grader = autograder.cli:main" in entry


def test_the_installed_grader_grades_a_solved_notebook(installed, tmp_path):
    env = installed["env"]
    course = tmp_path / "course"
    shutil.copytree(REPO / "solutions" / "rnn", course / "solutions" / "rnn")
    make_submission(
        "rnn", course / "submitted" / "ada", replace=probing_cells()
    )
    package, before = package_files(env, course)
    assert str(package).startswith(str(env.path))  # not the repository's
    seqbook = env.run(
        ["-c", "import seqbook; print(seqbook.__file__)"], cwd=course
    )
    assert seqbook.stdout.startswith(str(env.path)), seqbook.stdout

    result = env.run(
        ["-m", "autograder", "grade", "rnn", "submitted"]
        + ["--out", "grades/rnn.csv", "--quiet", "--cell-timeout", "120"],
        cwd=course,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(course / "grades" / "rnn.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["student_id"] == "ada" and row["status"] == "graded"
    assert float(row["score"]) == float(row["max_score"]) == 18
    assert (course / "grades" / "feedback" / "rnn" / "ada.html").exists()
    gradebook = course / "grades" / ".autograder" / "course" / "gradebook.db"
    assert gradebook.exists()
    assert package_files(env, course)[1] == before, "wrote in the package"
    page = course / "grades" / "feedback" / "rnn" / "ada.html"
    assert_kernel_saw_only_the_kernel_side(page, package, before)


def test_the_installed_command_says_where_the_sources_are(installed, tmp_path):
    result = installed_command(
        installed["env"],
        ["seqbook-grader", "grade", "rnn", ".", "--out", "g.csv"],
        tmp_path,
    )
    assert result.returncode == 2
    assert f"no source folder {tmp_path / 'solutions'}" in result.stderr
    assert "--source" in result.stderr
    assert "Traceback" not in result.stderr
