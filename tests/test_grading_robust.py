"""The grader on a hostile class: broken, foreign, huge and greedy
notebooks each get a row with a clear status; an interrupted or killed
batch resumes without losing or regrading anything; running twice changes
nothing; grades of several assignments combine into one gradebook.

Kept cheap: the assignment is rnn, most bad inputs are decided before a
kernel starts, and the notebooks that do run leave most cells unsolved
(they fail at once), so the whole file runs a dozen short kernels.
"""

import csv
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from autograder.batch.intake import prepare_notebook
from autograder.notebooks import graded_cells
from grader_runs import rows_of, run_grader
from submissions import REPO, make_submission, solution_sources

MB = 2**20
CELLS = [name for name, _ in graded_cells("rnn")]
UNICODE_ID = "Zoë Ünïcode 학생 [1]*"


def grader(subs, out, *extra):
    return run_grader("rnn", subs, out, *extra, timeout=600)


def journal_of(out):
    """The journal's records (lines that are not JSON are skipped)."""
    records = []
    path = Path(out).with_suffix(".details.jsonl")
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def one_cell_solved(dest, **kwargs):
    """A quick notebook: rnn_step_forward solved, the rest as released."""
    source = solution_sources("rnn")["rnn_step_forward"]
    return make_submission(
        "rnn",
        dest,
        solved=False,
        replace={"rnn_step_forward": source},
        **kwargs,
    )


def notebook_path(subs, student):
    path = subs / student / "rnn" / "rnn.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# Decided before any kernel starts: (student, status, words of the detail).
BAD_INPUTS = [
    ("no_notebook", "missing", "no rnn/rnn.ipynb"),
    ("wrong_name", "missing", "rnn (1).ipynb"),
    ("misplaced", "missing", "found rnn.ipynb"),
    ("folder", "invalid_notebook", "a folder"),
    ("empty", "invalid_notebook", "empty"),
    ("blank", "invalid_notebook", "empty"),
    ("corrupt", "invalid_notebook", "not JSON"),
    ("latin1", "invalid_notebook", "not UTF-8"),
    ("utf16", "invalid_notebook", "UTF-16"),
    ("zipped", "invalid_notebook", "zip archive"),
    ("json_not_notebook", "invalid_notebook", "not a Jupyter notebook"),
    ("future_format", "invalid_notebook", "nbformat 5"),
    ("lstm_notebook", "wrong_assignment", "notebook of lstm"),
    ("blank_notebook", "wrong_assignment", "none of rnn's cells"),
    ("too_large", "too_large", "50 MB"),
]


def add_bad_inputs(subs):
    (subs / "no_notebook" / "rnn").mkdir(parents=True)
    wrong = notebook_path(subs, "wrong_name").with_name("rnn (1).ipynb")
    one_cell_solved(subs / "tmp")
    (subs / "tmp" / "rnn" / "rnn.ipynb").rename(wrong)
    (subs / "misplaced").mkdir()
    one_cell_solved(subs / "tmp")
    (subs / "tmp" / "rnn" / "rnn.ipynb").rename(
        subs / "misplaced" / "rnn.ipynb"
    )
    (subs / "tmp" / "rnn").rmdir()
    (subs / "tmp").rmdir()
    notebook_path(subs, "folder").mkdir()
    notebook_path(subs, "empty").write_bytes(b"")
    notebook_path(subs, "blank").write_bytes(b"\n  \n")
    notebook_path(subs, "corrupt").write_text('{"cells": [', "utf-8")
    notebook_path(subs, "latin1").write_bytes(
        '{"cells": [], "note": "café"}'.encode("latin-1")
    )
    notebook_path(subs, "utf16").write_bytes(
        json.dumps({"cells": []}).encode("utf-16")
    )
    notebook_path(subs, "zipped").write_bytes(b"PK\x03\x04" + bytes(64))
    notebook_path(subs, "json_not_notebook").write_text('{"cells": 1}')
    notebook_path(subs, "future_format").write_text(
        json.dumps(
            {"cells": [], "metadata": {}, "nbformat": 5, "nbformat_minor": 0}
        )
    )
    lstm = make_submission("lstm", subs / "lstm_notebook")
    lstm.rename(notebook_path(subs, "lstm_notebook"))
    lstm.parent.rmdir()
    nbformat.write(
        nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell("def rnn_forward(): pass")]
        ),
        notebook_path(subs, "blank_notebook"),
    )
    # 51 MB of source: too large even without outputs.
    make_submission(
        "rnn",
        subs / "too_large",
        solved=False,
        replace={"rnn_step_forward": "# " + "x" * (51 * MB)},
    )
    # Not student folders: ignored, and said so.
    (subs / "README.txt").write_text("the class of 2025\n")
    (subs / ".DS_Store").write_bytes(b"\0\0")


def with_outputs(megabytes):
    def edit(nb):
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"] = [
                    {
                        "output_type": "stream",
                        "name": "stdout",
                        "text": "z" * (megabytes * MB),
                    }
                ]
                return

    return edit


def add_kernel_cases(subs):
    one_cell_solved(subs / UNICODE_ID)
    old = one_cell_solved(subs / "old_format")
    book = nbformat.read(str(old), as_version=4)
    old.write_text(
        nbformat.writes(nbformat.convert(book, 3), version=3), "utf-8"
    )
    one_cell_solved(subs / "huge_outputs", edit=with_outputs(200))
    make_submission(
        "rnn",
        subs / "memory_hog",
        solved=False,
        replace={
            # Fails without any limit too (more than the machine has) ...
            "rnn_step_forward": "import numpy as np\n"
            "huge = np.ones(50 * 10**9 // 8)\n",
            # ... this one only under --memory-limit 1G.
            "rnn_forward": "import numpy as np\n"
            "big = np.ones(2 * 2**30 // 8)\n",
        },
    )
    chatty = solution_sources("rnn")["rnn_step_forward"]
    make_submission(
        "rnn",
        subs / "chatty",
        solved=False,
        replace={
            "rnn_step_forward": "for _ in range(50):\n"
            "    print('y' * 2**20)\n" + chatty
        },
    )


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    subs = root / "submitted"
    add_bad_inputs(subs)
    add_kernel_cases(subs)
    out = root / "grades" / "rnn.csv"
    result = grader(subs, out, "--jobs", "2", "--memory-limit", "1G")
    return {"root": root, "subs": subs, "out": out, "result": result}


def test_every_student_folder_gets_a_row(catalogue):
    result = catalogue["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    rows = rows_of(catalogue["out"])
    folders = {
        p.name
        for p in catalogue["subs"].iterdir()
        if p.is_dir() and not p.name.startswith(".")
    }
    assert set(rows) == folders
    assert "README.txt" not in rows and ".DS_Store" not in rows
    assert "ignored: .DS_Store, README.txt" in result.stdout
    for row in rows.values():
        assert float(row["max_score"]) == 18
        page = catalogue["out"].parent / "feedback" / "rnn"
        assert (page / f"{row['student_id']}.html").exists()


@pytest.mark.parametrize(
    "student, status, words", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_gets_its_status(catalogue, student, status, words):
    row = rows_of(catalogue["out"])[student]
    assert row["status"] == status
    assert float(row["score"]) == 0
    (record,) = [
        r for r in journal_of(catalogue["out"]) if r["student_id"] == student
    ]
    assert words in record["detail"]
    assert record["seconds"] == 0  # no kernel was started


def test_odd_notebooks_are_graded_like_the_plain_one(catalogue):
    """An nbformat 3 notebook (upgraded), 200 MB of outputs (removed) and a
    student id with spaces, unicode and glob characters: graded, with the
    scores of the same plain notebook."""
    rows = rows_of(catalogue["out"])
    plain = rows[UNICODE_ID]
    assert plain["status"] == "graded"
    for student in ("old_format", "huge_outputs"):
        row = rows[student]
        assert row["status"] == "graded"
        assert [row[c] for c in CELLS] == [plain[c] for c in CELLS]
    details = {r["student_id"]: r for r in journal_of(catalogue["out"])}
    assert "upgraded from nbformat 3" in details["old_format"]["detail"]
    assert "were removed" in details["huge_outputs"]["detail"]


def test_memory_limit(catalogue):
    """Allocations beyond the kernel's limit fail in their cell; the row
    says `memory`; the other students of the batch are graded normally."""
    rows = rows_of(catalogue["out"])
    assert rows["memory_hog"]["status"] == "memory"
    (record,) = [
        r
        for r in journal_of(catalogue["out"])
        if r["student_id"] == "memory_hog"
    ]
    # The 2 GB allocation failed too: the 1 GB limit holds.
    assert "rnn_step_forward, rnn_forward" in record["detail"]
    assert "limit 1 GB" in record["detail"]
    assert rows["chatty"]["status"] == "graded"


def test_output_is_capped(catalogue):
    """50 MB printed by a cell: graded, the feedback shows the first MB
    and says it was cut."""
    rows = rows_of(catalogue["out"])
    assert rows["chatty"]["status"] == "graded"
    # Its function is the plain notebook's, printing aside.
    assert [rows["chatty"][c] for c in CELLS] == [
        rows[UNICODE_ID][c] for c in CELLS
    ]
    page = catalogue["out"].parent / "feedback" / "rnn" / "chatty.html"
    assert page.stat().st_size < 5 * MB
    assert "output truncated by the grader" in page.read_text("utf-8")


def test_summary(catalogue):
    stdout = catalogue["result"].stdout
    assert "submissions: " in stdout
    assert "1 memory" in stdout and "1 too_large" in stdout
    assert "mean " in stdout and "median " in stdout
    assert "slowest: " in stdout


def test_running_twice_changes_nothing(catalogue):
    out = catalogue["out"]
    journal = out.with_suffix(".details.jsonl")
    before = (out.read_bytes(), journal.read_bytes())
    result = grader(catalogue["subs"], out, "--jobs", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    count = len(rows_of(out))
    assert f"{count} of {count} results reused" in result.stdout
    assert (out.read_bytes(), journal.read_bytes()) == before


@pytest.mark.slow
def test_regrade_ignores_the_journal(tmp_path):
    subs = tmp_path / "submitted"
    (subs / "no_notebook" / "rnn").mkdir(parents=True)
    notebook_path(subs, "empty").write_bytes(b"")
    out = tmp_path / "rnn.csv"
    for extra in ((), ("--regrade",)):
        assert grader(subs, out, *extra).returncode == 0
    # Two records per student: the first run's and --regrade's.
    assert len(journal_of(out)) == 4


def test_a_second_grader_on_the_same_csv_is_refused(tmp_path):
    out = tmp_path / "rnn.csv"
    (tmp_path / "submitted").mkdir()
    with open(tmp_path / "rnn.csv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = grader(tmp_path / "submitted", out)
    assert result.returncode == 2
    assert "another grader" in result.stderr
    assert "Traceback" not in result.stderr


def _children(pid):
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found.append(int(child))
            found += _children(int(child))
    return found


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]
    except OSError:
        return False
    return state.split()[0] not in ("Z", "X")


def _start_and_stop(subs, out, signum, graded_before):
    """Start the grader; once a new result is journalled, send signum.
    Returns (result, processes it had started)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", "rnn", str(subs)]
        + ["--out", str(out), "--jobs", "1", "--memory-limit", "1G"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    journal = out.with_suffix(".details.jsonl")
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and len(journal_of(out)) > graded_before:
            break
        time.sleep(0.1)
    below = _children(process.pid)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    return (
        subprocess.CompletedProcess(
            process.args, process.returncode, stdout, stderr
        ),
        below,
    )


# Students of the resumed class: a copy of which notebook each submits.
LIKE = {"a": UNICODE_ID, "b": "memory_hog", "c": "old_format", "d": "a"}


def test_interrupted_and_killed_batches_resume(catalogue, tmp_path):
    """Ctrl-C, then kill -9, then a last run: every submission is graded
    exactly once and the grades equal a fresh run's."""
    subs, out = tmp_path / "submitted", tmp_path / "grades" / "rnn.csv"
    source = catalogue["subs"]
    for student, like in LIKE.items():
        notebook_path(subs, student).write_bytes(
            notebook_path(subs if like in LIKE else source, like).read_bytes()
        )

    # Ctrl-C: a clean stop, exit code 130, the CSV of what is done.
    result, _ = _start_and_stop(subs, out, signal.SIGINT, 0)
    assert result.returncode == 130, result.stderr[-3000:]
    assert "remain" in result.stderr
    done = len(journal_of(out))
    assert 1 <= done < 4
    assert len(rows_of(out)) == done

    # kill -9: nothing saved but the journal; no process left behind.
    result, below = _start_and_stop(subs, out, signal.SIGKILL, done)
    assert result.returncode == -signal.SIGKILL
    assert below, "the grader had started no worker"
    deadline = time.monotonic() + 20
    while any(map(_alive, below)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(map(_alive, below)), "a worker or kernel outlived -9"
    done = len(journal_of(out))
    # A line cut short by the kill is skipped, not fatal.
    with open(out.with_suffix(".details.jsonl"), "a") as f:
        f.write('{"student_id": "a", "status": "gra')

    result = grader(subs, out, "--jobs", "1", "--memory-limit", "1G")
    assert result.returncode == 0, result.stderr[-3000:]
    # The boxes of the killed worker (its kernel's, the one started
    # ahead) are gone too.
    left = [
        b.name
        for b in Path(tempfile.gettempdir()).glob("seqbook-sbx-*")
        if int(b.name.split("-")[2]) in below
    ]
    assert left == [], left
    assert f"{done} of 4 results reused" in result.stdout
    assert "1 unreadable journal lines ignored" in result.stdout
    records = journal_of(out)
    assert sorted(r["student_id"] for r in records) == sorted(LIKE)
    rows, fresh = rows_of(out), rows_of(catalogue["out"])
    for student, like in LIKE.items():
        like = LIKE.get(like, like)
        for column in ["score", "status"] + CELLS:
            assert rows[student][column] == fresh[like][column], column


def test_a_signal_waits_for_the_result_being_recorded():
    """Ctrl-C while a result is recorded stops the batch after the
    record, never between its journal line and its CSV row."""
    from autograder.batch import session

    steps = []
    with pytest.raises(KeyboardInterrupt), session.signals() as received:
        with session.held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler has run by now
            steps.append("journal")
            steps.append("row")
    assert steps == ["journal", "row"]
    assert received == [signal.SIGINT]
    # Outside a held block a signal stops at once.
    with pytest.raises(KeyboardInterrupt), session.signals():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        steps.append("after")
    assert steps == ["journal", "row"]


def test_prepare_notebook_never_raises(tmp_path):
    """Whatever the bytes, a status or a gradable copy, never a crash."""
    path = notebook_path(tmp_path / "s", "x")
    samples = [
        b"null",
        b"[]",
        b'{"nbformat": "4", "cells": []}',
        b'{"nbformat": 4, "nbformat_minor": 5, "cells": [{}]}',
        b'{"nbformat": 3, "worksheets": [{"cells": [7]}]}',
        b"[" * 100000,
        os.urandom(4096),
    ]
    for raw in samples:
        path.write_bytes(raw)
        status, detail = prepare_notebook(path, "rnn", tmp_path / "copy")
        assert status in ("invalid_notebook", "wrong_assignment"), raw[:40]
        assert detail


def test_combined_gradebook(catalogue, tmp_path):
    lstm = tmp_path / "lstm.csv"
    lstm.write_text(
        "student_id,assignment,score,max_score,status,test_x\n"
        "chatty,lstm,10.5,18.0,graded,10.5\n"
        "zed,lstm,3,18.0,graded,3\n",
        encoding="utf-8",
    )
    out = tmp_path / "gradebook.csv"
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "gradebook"]
        + [str(lstm), str(catalogue["out"]), "--out", str(out)]
        + ["--max-row"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["student_id", "rnn", "lstm", "total"]
    assert rows[0] == {
        "student_id": "max_score",
        "rnn": "18",
        "lstm": "18",
        "total": "36",
    }
    by_id = {row["student_id"]: row for row in rows[1:]}
    rnn = rows_of(catalogue["out"])
    assert set(by_id) == set(rnn) | {"zed"}
    chatty = float(rnn["chatty"]["score"])
    assert by_id["chatty"]["lstm"] == "10.5"
    assert float(by_id["chatty"]["total"]) == chatty + 10.5
    # No row in rnn.csv: an empty cell, not a zero.
    assert by_id["zed"]["rnn"] == "" and by_id["zed"]["total"] == "3"
    maxima = out.with_suffix(".max.csv").read_text().split()
    assert maxima == [
        "assignment,max_score",
        "rnn,18",
        "lstm,18",
        "total,36",
    ]
    twice = subprocess.run(
        [sys.executable, "-m", "autograder", "gradebook"]
        + [str(lstm), str(lstm), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert twice.returncode == 2
    assert "two grade files for assignment 'lstm'" in twice.stderr
