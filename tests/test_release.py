"""The student release is generated from solutions/ and holds no solution."""

import json
import os
import re
from pathlib import Path

import pytest

from autograder import course
from submissions import REPO

# The contract's functions of each assignment that exists.
CONTRACT = {
    "rnn": [
        "rnn_step_forward",
        "rnn_step_backward",
        "rnn_forward",
        "rnn_backward",
        "temporal_softmax_loss",
        "clip_grad_norm",
    ],
    "lstm": [
        "lstm_step_forward",
        "lstm_step_backward",
        "lstm_forward",
        "lstm_backward",
        "LSTMCell",
        "LSTM",
    ],
    "gru": [
        "gru_step_forward",
        "gru_step_backward",
        "gru_forward",
        "gru_backward",
        "GRUCell",
        "count_parameters",
    ],
    "seq2seq": ["sequence_cross_entropy", "greedy_decode", "beam_search"],
    "attention": [
        "dot_score",
        "general_score",
        "additive_score",
        "masked_softmax",
        "attention_context",
    ],
}
ASSIGNMENTS = course.assignments()


def cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        source = cell["source"]
        cell["text"] = "".join(source) if isinstance(source, list) else source
        cell["nbg"] = cell.get("metadata", {}).get("nbgrader", {})
    return nb["cells"]


def test_every_assignment_has_a_release():
    assert ASSIGNMENTS[0] == "rnn"
    for name in ASSIGNMENTS:
        assert (REPO / "notebooks" / name / f"{name}.ipynb").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_is_in_sync_with_the_source(name, tmp_path):
    """Regenerate with nbgrader; the committed release must be identical."""
    (fresh,) = course.release(
        [name], dest=tmp_path / "notebooks", root=tmp_path / "course"
    )
    committed = REPO / "notebooks" / name / f"{name}.ipynb"
    assert fresh.read_bytes() == committed.read_bytes(), (
        f"notebooks/{name} is out of date: run `make release` and commit"
    )
    extra = {p.name for p in (tmp_path / "notebooks" / name).iterdir()}
    assert extra == {p.name for p in committed.parent.iterdir()}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_holds_no_solution_or_hidden_test(name):
    release = REPO / "notebooks" / name / f"{name}.ipynb"
    text = release.read_text(encoding="utf-8")
    for marker in (
        "BEGIN SOLUTION",
        "END SOLUTION",
        "HIDDEN TESTS",
        "autograder",
        "_checks",
    ):
        assert marker not in text
    regions = {}
    for cell in cells(REPO / "solutions" / name / f"{name}.ipynb"):
        if cell["nbg"].get("solution"):
            regions[cell["nbg"]["grade_id"]] = re.findall(
                r"### BEGIN SOLUTION\n(.*?)### END SOLUTION",
                cell["text"],
                re.S,
            )
    for cell in cells(release):
        if cell["nbg"].get("solution"):
            assert "raise NotImplementedError()" in cell["text"]
            for region in regions[cell["nbg"]["grade_id"]]:
                for line in region.splitlines():
                    line = line.strip()
                    if len(line) >= 6 and re.search("[A-Za-z]", line):
                        assert line not in cell["text"], line


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_notebooks_in_git_carry_no_outputs(folder):
    for path in (REPO / folder).glob("*/*.ipynb"):
        for cell in cells(path):
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [], path
                assert cell["execution_count"] is None, path


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_each_contract_function_has_its_own_solution_cell(name):
    for folder in ("solutions", "notebooks"):
        found = [
            c
            for c in cells(REPO / folder / name / f"{name}.ipynb")
            if c["nbg"].get("solution")
        ]
        ids = [c["nbg"]["grade_id"] for c in found]
        for function in CONTRACT[name]:
            assert ids.count(function) == 1, (folder, function)
            (cell,) = [c for c in found if c["nbg"]["grade_id"] == function]
            assert re.search(rf"^(def|class) {function}\b", cell["text"], re.M)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_test_cells_have_points_and_say_what_they_check(name):
    graded = [
        c
        for c in cells(REPO / "solutions" / name / f"{name}.ipynb")
        if c["nbg"].get("grade")
    ]
    assert graded
    for cell in graded:
        assert cell["nbg"]["points"] > 0
        assert cell["nbg"]["locked"]
        assert cell["nbg"]["grade_id"].startswith("test_")
        assert cell["text"].startswith('"""Check ')
        assert "### BEGIN HIDDEN TESTS" in cell["text"]


def test_gradebooks_record_the_schema_nbgrader_would(tmp_path):
    """The grader makes nbgrader's gradebooks without nbgrader's ``alembic
    heads`` command: the revision it records is the one that command
    prints, and a gradebook made through it holds that revision (so that
    nbgrader's later commands find no migration to run)."""
    import sqlite3
    import subprocess
    import sys

    import nbgrader.api

    course.quiet_nbgrader()
    assert nbgrader.api.get_alembic_version is course.alembic_head
    script = "import nbgrader.api as a; print(a.get_alembic_version())"
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    nbgraders = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        check=True,
    ).stdout.strip()
    assert nbgraders and course.alembic_head() == nbgraders
    course.ensure_gradebook("rnn", tmp_path)
    with sqlite3.connect(tmp_path / "gradebook.db") as db:
        rows = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert rows == [(nbgraders,)]
