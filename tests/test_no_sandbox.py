"""Where kernels cannot be sandboxed (here: bubblewrap is not on the
PATH), the grading command says so once, at the start, in plain words,
and grades anyway; with ``--require-sandbox`` it refuses to grade."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from submissions import REPO, make_submission, solution_sources


def grade_without_bwrap(subs, out, tmp_path, *extra):
    """The real command, with a PATH that holds the virtual environment's
    programs and nothing else (no bwrap)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    env = dict(
        os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{empty}"
    )
    return subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "rnn", str(subs),
         "--out", str(out), *extra],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_require_sandbox_refuses_to_grade(tmp_path):
    subs = tmp_path / "submitted"
    (subs / "someone" / "rnn").mkdir(parents=True)
    out = tmp_path / "grades" / "rnn.csv"
    result = grade_without_bwrap(subs, out, tmp_path, "--require-sandbox")
    assert result.returncode == 2
    assert "cannot be sandboxed here" in result.stderr
    assert "bubblewrap (bwrap) is not installed" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.slow
def test_without_a_sandbox_it_says_what_is_not_protected(tmp_path):
    subs = tmp_path / "submitted"
    step = solution_sources("rnn")["rnn_step_forward"]
    make_submission(
        "rnn",
        subs / "someone",
        solved=False,
        replace={"rnn_step_forward": step},
    )
    (subs / "no_notebook" / "rnn").mkdir(parents=True)
    out = tmp_path / "grades" / "rnn.csv"
    result = grade_without_bwrap(subs, out, tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    warning = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warning) == 1, result.stderr
    (line,) = warning
    assert line.startswith("warning: the students' kernels cannot be")
    for words in (
        "read every file you can",
        "use the network",
        "see and signal your processes",
        "Full protection: Linux, bubblewrap installed",
        "--require-sandbox",
    ):
        assert words in line
    with open(out, newline="", encoding="utf-8") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    # Graded all the same, every verdict still the judge's.
    assert rows["someone"]["status"] == "graded"
    assert rows["someone"]["test_rnn_step_forward"] == "2.0"
    assert rows["no_notebook"]["status"] == "missing"


@pytest.mark.slow
def test_with_the_sandbox_nothing_is_said(tmp_path):
    from autograder.worker.box import sandbox_probe

    assert sandbox_probe().mode == "root", sandbox_probe().reason
    subs = tmp_path / "submitted"
    (subs / "someone" / "rnn").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "rnn", str(subs),
         "--out", str(tmp_path / "rnn.csv"), "--quiet",
         "--require-sandbox"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
