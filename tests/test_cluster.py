"""Grading on a real Dask cluster (``grade --scheduler``): a scheduler on
127.0.0.1 and two worker processes, started by the test
(tests/clusters.py).

The same class graded on the cluster and with ``--jobs`` on this machine
gets the same rows (scores, statuses, every test cell) and the same
feedback pages; a worker killed while it grades loses nothing (the
scheduler gives its job to the other worker, and every student gets the
row a local run gives); a wrong address is a clear error.
"""

import html
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import course
from autograder.batch import remote
from autograder.job import Limits
from clusters import LocalCluster
from grader_runs import rows_of
from jobs import PATHS, make_job
from mutants import MUTANTS
from submissions import REPO, cut_training, make_submission, solution_sources

CELL_TIMEOUT = "30"


def grader(subs, out, *extra, wait=True):
    command = [sys.executable, "-m", "autograder", "grade", "rnn"]
    command += [str(subs), "--out", str(out), "--quiet"]
    command += ["--cell-timeout", CELL_TIMEOUT, *extra]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if not wait:
        return process
    stdout, stderr = process.communicate(timeout=900)
    return subprocess.CompletedProcess(
        command, process.returncode, stdout, stderr
    )


def mutant(name):
    _, grade_id, old, new, *_ = next(m for m in MUTANTS["rnn"] if m[0] == name)
    return {grade_id: solution_sources("rnn")[grade_id].replace(old, new)}


def make_class(subs):
    """Correct, wrong and broken submissions of rnn."""
    make_submission("rnn", subs / "solution")
    make_submission("rnn", subs / "untouched", solved=False)
    # judged on their units: their applied part trains for one step
    for name in ("no_bias", "no_tanh"):
        make_submission(
            "rnn", subs / name, replace=mutant(name), edit=cut_training
        )
    make_submission(
        "rnn",
        subs / "raises",
        replace={"rnn_forward": "raise RuntimeError('oops')\n"},
    )
    make_submission(
        "rnn",
        subs / "kernel_killer",
        replace={"rnn_forward": "import os\nos._exit(1)\n"},
    )
    corrupt = subs / "corrupt" / "rnn"
    corrupt.mkdir(parents=True)
    (corrupt / "rnn.ipynb").write_text('{"cells": [', encoding="utf-8")
    (subs / "no_notebook" / "rnn").mkdir(parents=True)
    return subs


STDERR = re.compile(
    r'<div class="output_subarea output_stream output_stderr[^"]*">'
    r"(.*?)</div>",
    re.S,
)


def page_text(path):
    """What a feedback page tells the student: its text, without the
    markup, the styles and the scripts; what the cells wrote to stderr
    comes last, in its order (a kernel's two streams reach the notebook
    in an order of their own on every run)."""
    text = Path(path).read_text(encoding="utf-8")
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", text, flags=re.S)
    text = STDERR.sub(" ", text) + " ".join(STDERR.findall(text))
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    # where a message names the kernel's working folder: its box has a
    # name of its own on every run
    text = re.sub(r"seqbook-sbx-\d+-\w+", "seqbook-sbx-BOX", text)
    return " ".join(text.split())


@pytest.fixture(scope="module")
def local_and_cluster(tmp_path_factory):
    """The class graded locally (--jobs 2) and on a two-worker cluster."""
    root = tmp_path_factory.mktemp("cluster")
    subs = make_class(root / "submitted")
    local = grader(subs, root / "local" / "rnn.csv", "--jobs", "2")
    cluster = LocalCluster(root / "dask", workers=2)
    try:
        remote = grader(
            subs, root / "remote" / "rnn.csv", "--scheduler", cluster.address
        )
    finally:
        cluster.close()
    return root, local, remote


@pytest.mark.slow
def test_the_cluster_gives_the_rows_of_local_grading(local_and_cluster):
    root, local, remote = local_and_cluster
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    here = rows_of(root / "local" / "rnn.csv")
    there = rows_of(root / "remote" / "rnn.csv")
    assert (
        set(there)
        == set(here)
        == {p.name for p in (root / "submitted").iterdir()}
    )
    assert there == here
    statuses = {student: row["status"] for student, row in there.items()}
    assert statuses == {
        "solution": "graded",
        "untouched": "graded",
        "no_bias": "graded",
        "no_tanh": "graded",
        "raises": "graded",
        "kernel_killer": "kernel_died",
        "corrupt": "invalid_notebook",
        "no_notebook": "missing",
    }
    assert float(there["solution"]["score"]) == float(
        there["solution"]["max_score"]
    )
    assert float(there["no_bias"]["test_rnn_step_forward"]) == 0
    assert (
        0
        < float(there["no_bias"]["score"])
        < float(there["solution"]["score"])
    )


@pytest.mark.slow
def test_the_cluster_gives_the_feedback_of_local_grading(local_and_cluster):
    root, _, _ = local_and_cluster
    here = root / "local" / "feedback" / "rnn"
    there = root / "remote" / "feedback" / "rnn"
    names = sorted(p.name for p in here.glob("*.html"))
    assert names == sorted(p.name for p in there.glob("*.html"))
    assert len(names) == 8
    for name in names:
        assert page_text(there / name) == page_text(here / name), name
    assert "ignores the bias b" in page_text(there / "no_bias.html")


@pytest.mark.slow
def test_the_journal_says_where_results_came_from(local_and_cluster):
    root, _, _ = local_and_cluster
    journal = root / "remote" / "rnn.details.jsonl"
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert sorted(r["student_id"] for r in records) == sorted(
        p.name for p in (root / "submitted").iterdir()
    )
    for record in records:
        if record["feedback"]:
            assert Path(record["feedback"]).is_file()
            assert Path(record["feedback"]).is_relative_to(root / "remote")


@pytest.mark.slow
def test_a_killed_worker_loses_nothing(tmp_path):
    subs = tmp_path / "submitted"
    for i in range(3):
        make_submission("rnn", subs / f"solution{i}")
        make_submission("rnn", subs / f"no_tanh{i}", replace=mutant("no_tanh"))
    cluster = LocalCluster(tmp_path / "dask", workers=2)
    out = tmp_path / "remote" / "rnn.csv"
    try:
        process = grader(subs, out, "--scheduler", cluster.address, wait=False)
        deadline = time.monotonic() + 300
        while not cluster.grading("w0") and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.2)
        assert cluster.grading("w0"), "worker w0 never got a job"
        cluster.kill("w0")
        stdout, stderr = process.communicate(timeout=900)
    finally:
        cluster.close()
    assert process.returncode == 0, stderr
    rows = rows_of(out)
    assert set(rows) == {p.name for p in subs.iterdir()}
    for student, row in rows.items():
        assert row["status"] == "graded", (student, row)
        full = float(row["score"]) == float(row["max_score"])
        assert full == student.startswith("solution"), (student, row)
    journal = out.with_suffix(".details.jsonl").read_text().splitlines()
    assert len(journal) == len(rows)


@pytest.mark.slow
def test_a_wrong_scheduler_address_is_a_clear_error(tmp_path):
    subs = make_class(tmp_path / "submitted")
    result = grader(
        subs, tmp_path / "rnn.csv", "--scheduler", "tcp://127.0.0.1:9"
    )
    assert result.returncode == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_a_job_lands_in_the_dask_workers_own_folder(tmp_path):
    """On the worker, every file of a job is in its grading folder, which
    the sandbox hides whole from the kernel; the limits travel as set."""
    job = make_job(
        "Zoë",
        student="s0007",
        notebook="/class/run/inputs/s0007.ipynb",
        workdir="/class/run/work/s0007",
        result="/class/run/work/s0007.result.json",
        master_db="/class/course/gradebook.db",
        source="/class/solutions",
        feedback="/class/grades/feedback/rnn/Zoë.html",
        limits=Limits(cell_timeout=7, memory_limit=2**30),
        out="/class/grades/rnn.csv",
        submissions="/class/submitted",
    )
    base = tmp_path / "seqbook-grader"
    folder = base / "runs" / "run1" / "ab12"
    local = remote._local_job(job, folder, base / "courses" / "k")
    paths = [getattr(local, field) for field in PATHS]
    assert all(Path(p).is_relative_to(base) for p in paths), paths
    assert local.submissions == str(base)
    assert local.out == ""
    assert (local.student, local.student_name) == ("s0007", "Zoë")
    assert local.limits == job.limits


def test_the_course_travels_whole_and_is_checked(tmp_path):
    master = tmp_path / "gradebook.db"
    master.write_bytes(b"the master gradebook")
    course_ = remote.Course.read("rnn", course.SOLUTIONS, master)
    far = remote._Far(tmp_path / "worker")
    root = far.course(course_)
    source = course.source_path("rnn", course.SOLUTIONS).read_bytes()
    assert (root / "source" / "rnn" / "rnn.ipynb").read_bytes() == source
    assert (root / "gradebook.db").read_bytes() == b"the master gradebook"
    assert far.course(course_) == root  # made once
    damaged = remote.Course("rnn", "0" * 64, source, b"")
    with pytest.raises(ValueError, match="damaged"):
        far.course(damaged)
