"""The students' self-check, ``python -m seqbook.check`` and the last cell
of every assignment (issue 17, part 2).

It runs the notebook as the grader does and reports each visible test;
it warns about what the grader would refuse or mark down; it needs
neither the grader nor the solutions (run here from a folder where the
grader cannot be imported; test_student_env.py runs it from the wheel).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from publish import check_cell
from seqbook.check import form, notebook, rules
from seqbook.check.notebook import Unreadable
from source_imports import imported_names
from submissions import REPO, make_submission, solution_sources

NAMES = ["rnn", "lstm", "gru", "seq2seq", "attention", "self_attention"]


def release(name="rnn"):
    path = REPO / "notebooks" / name / f"{name}.ipynb"
    return json.loads(path.read_text(encoding="utf-8"))


def run_check(path, *args, cwd):
    """``python -m seqbook.check`` where the grader is not importable."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "seqbook.check", str(path), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def short_notebook(folder, name="rnn", first=None, extra=None):
    """The release of ``name`` cut after its first test cell (so it runs
    in seconds), the first exercise solved (or ``first`` in its place),
    ``extra`` cells (sources) added before that test; no check cell."""
    nb = release(name)
    meta = [notebook.grading(c) for c in nb["cells"]]
    exercise = next(i for i, m in enumerate(meta) if m.get("solution"))
    test = next(i for i, m in enumerate(meta) if m.get("grade"))
    grade_id = meta[exercise]["grade_id"]
    nb["cells"][exercise]["source"] = first or solution_sources(name)[grade_id]
    added = [nbformat.v4.new_code_cell(s) for s in extra or []]
    nb["cells"] = nb["cells"][:test] + added + [nb["cells"][test]]
    path = Path(folder) / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


# -- the rules and the cell, without running anything -----------------------


def test_the_published_rules_are_the_graders():
    from autograder import course
    from autograder.batch import intake
    from autograder.job import Limits

    grader = Limits()
    assert rules.Limits() == rules.Limits(
        grader.cell_timeout,
        grader.notebook_timeout,
        grader.memory_limit,
        grader.max_output,
    )
    assert rules.MAX_FILE_BYTES == intake.MAX_FILE_BYTES
    assert rules.MAX_NOTEBOOK_BYTES == intake.MAX_NOTEBOOK_BYTES
    assert list(rules.ASSIGNMENTS) == course.ORDER
    kernel = course.os_environ_for_kernel()
    for key, value in rules.KERNEL_ENVIRONMENT.items():
        assert kernel[key] == value, key


@pytest.mark.parametrize("name", NAMES)
def test_every_assignment_ends_with_its_check_cell(name):
    for folder in ("solutions", "notebooks"):
        path = REPO / folder / name / f"{name}.ipynb"
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert check_cell.ends_with_it(name, nb), (
            f"{path.relative_to(REPO)} does not end with its current check "
            "cell: run `python -m publish --check-cells`, then make release"
        )
        meta = notebook.grading(nb["cells"][-1])
        assert meta["locked"] and not meta["grade"] and not meta["solution"]
    assignment, tests = notebook.manifest(release(name))
    assert assignment == name
    assert tests == check_cell.tests_of(release(name)) != {}


def test_the_fingerprint_is_the_released_checksum():
    """The check recognises a changed cell by the checksum the grading
    tool wrote: its own computation agrees on every locked cell."""
    from nbgrader.utils import compute_checksum

    count = 0
    for name in NAMES:
        nb = nbformat.read(
            REPO / "notebooks" / name / f"{name}.ipynb", as_version=4
        )
        for cell in nb.cells:
            meta = notebook.grading(cell)
            if meta.get("checksum"):
                count += 1
                assert meta["checksum"] == notebook.fingerprint(cell)
                assert compute_checksum(cell) == notebook.fingerprint(cell)
    assert count > 50


def test_the_course_library_imports_nothing_of_the_grader():
    for path in (REPO / "seqbook").rglob("*.py"):
        for name in imported_names(path):
            assert name.split(".")[0] not in ("autograder", "nbgrader")


def _inspect(tmp_path, edit=None, name="rnn.ipynb", folder="rnn"):
    nb = release()
    if edit:
        edit(nb["cells"])
    path = tmp_path / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return form.inspect(path)


def _cell(cells, grade_id):
    return next(
        c for c in cells if notebook.grading(c).get("grade_id") == grade_id
    )


def test_a_released_notebook_has_nothing_to_fix(tmp_path):
    handed = _inspect(tmp_path)
    assert handed.assignment == "rnn"
    assert not handed.rejected and not handed.warnings and not handed.notes
    assert [t.grade_id for t in handed.tests] == list(
        check_cell.tests_of(release())
    )


def test_a_wrong_name_or_folder_is_said(tmp_path):
    handed = _inspect(tmp_path, name="rnn (1).ipynb")
    assert any("rename it" in r for r in handed.rejected)
    handed = _inspect(tmp_path, name="lstm.ipynb", folder="Downloads")
    assert any("under the name of lstm" in r for r in handed.rejected)
    assert any("rnn/rnn.ipynb" in n for n in handed.notes)


def test_changed_and_deleted_test_cells_are_said(tmp_path):
    def edit(cells):
        _cell(cells, "test_rnn_forward")["source"] += "\nprint('mine')"
        cells.remove(_cell(cells, "test_rnn_backward"))

    handed = _inspect(tmp_path, edit)
    said = " ".join(handed.warnings)
    assert "test_rnn_forward was changed" in said
    assert "test cell test_rnn_backward is missing" in said
    missing = [t for t in handed.tests if t.grade_id == "test_rnn_backward"]
    assert missing[0].index is None and missing[0].points == 3


def test_cells_run_out_of_order_are_noted(tmp_path):
    def edit(cells):
        code = [c for c in cells if c["cell_type"] == "code"]
        for count, cell in zip([3, 1, 2, 5, 4], code):
            cell["execution_count"] = count

    handed = _inspect(tmp_path, edit)
    assert any("out of order" in n for n in handed.notes)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "not JSON"),
        (b'{"cells": [', "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"nbformat": 3, "cells": []}', "nbformat 3"),
        (b"[1, 2]", "not a Jupyter notebook"),
    ],
)
def test_a_file_the_grader_cannot_read_is_refused(tmp_path, content, reason):
    path = tmp_path / "rnn.ipynb"
    path.write_bytes(content)
    with pytest.raises(Unreadable, match=reason):
        form.inspect(path)


def test_a_notebook_too_large_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(form, "MAX_NOTEBOOK_BYTES", 1000)
    handed = _inspect(tmp_path)
    assert any("at most 1000 bytes" in r for r in handed.rejected)


# -- runs --------------------------------------------------------------------


def test_the_grader_is_not_importable_where_the_check_runs(tmp_path):
    """Control for the runs below: there, the grader cannot be imported
    (the course library alone is installed in the environment)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = "import autograder"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "No module named 'autograder'" in result.stderr


@pytest.mark.slow
def test_a_solved_notebook_passes(tmp_path):
    path = make_submission("rnn", tmp_path / "work")
    result = run_check(path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Visible tests passed: 8 of 8 (18 of 18 points at stake)" in out
    for grade_id, points in check_cell.tests_of(release()).items():
        assert f"{points:>6g}  passed" in out.split(grade_id)[1][:40]
    assert "HIDDEN" not in out and "_check" not in out


@pytest.mark.slow
def test_failures_say_why_and_untouched_work_is_not_attempted(tmp_path):
    wrong = solution_sources("rnn")["rnn_step_forward"].replace(
        "x @ Wx + h_prev @ Wh + b)", "x @ Wx + h_prev @ Wh)"
    )
    path = make_submission(
        "rnn",
        tmp_path / "work",
        replace={"rnn_step_forward": wrong},
        solved=False,
    )
    result = run_check(path, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    (step,) = [line for line in lines if line.startswith("test_rnn_step_f")]
    assert "FAILED: AssertionError: h_next is wrong" in step
    (backward,) = [
        line for line in lines if line.startswith("test_rnn_step_b")
    ]
    assert "not attempted: still raises NotImplementedError" in backward
    assert "Visible tests passed: 0 of 8" in result.stdout


@pytest.mark.slow
def test_limits_and_outputs_are_reported(tmp_path):
    path = short_notebook(
        tmp_path,
        extra=["import time\ntime.sleep(30)", "print('x' * 5000)"],
    )
    result = run_check(
        path, "--cell-timeout", "3", "--max-output", "1000", cwd=tmp_path
    )
    out = " ".join(result.stdout.split())
    assert result.returncode == 0, out  # the one visible test passes
    assert "ran longer than 3 s: the grader stops it too" in out
    assert "shows 5,001 characters; the grader keeps the first 1,000" in out
    assert "3 s a cell" in out


@pytest.mark.slow
def test_a_notebook_over_the_whole_time_is_stopped(tmp_path):
    path = short_notebook(tmp_path, extra=["import time\ntime.sleep(60)"])
    result = run_check(path, "--timeout", "8", cwd=tmp_path)
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    assert "the whole notebook ran longer than 8 s" in out
    assert "not run" in out


@pytest.mark.slow
def test_passing_only_out_of_order_is_warned(tmp_path):
    """Saved as if the test had passed (its output, counts out of order);
    from the top, the exercise still raises."""
    path = short_notebook(
        tmp_path,
        first="def rnn_step_forward(*a):\n    raise NotImplementedError",
    )
    nb = json.loads(path.read_text(encoding="utf-8"))
    for count, cell in enumerate(reversed(nb["cells"]), start=1):
        if cell["cell_type"] == "code":
            cell["execution_count"] = count
    nb["cells"][-1]["outputs"] = [
        nbformat.v4.new_output("stream", name="stdout", text="passed\n")
    ]
    path.write_text(json.dumps(nb), encoding="utf-8")
    result = run_check(path, cwd=tmp_path)
    out = " ".join(result.stdout.split())
    assert result.returncode == 1
    assert (
        "test_rnn_step_forward passed in your saved notebook but not when "
        "it runs from the top" in out
    )
    assert "last run out of order" in out


def _run_in_folder(nb, folder, **env_extra):
    """Run ``nb`` as Jupyter does, its kernel in ``folder``."""
    from nbclient import NotebookClient

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_extra)
    client = NotebookClient(
        nb, timeout=600, resources={"metadata": {"path": str(folder)}}
    )
    client.execute(env=env)
    return "".join(o.get("text", "") for o in nb.cells[-1].outputs)


@pytest.mark.slow
def test_the_last_cell_checks_the_saved_file(tmp_path):
    """Run as a student does (the notebook's file in its own folder, every
    cell, one of them edited but not saved): the last cell checks the
    saved file, and says that the edit is not in it."""
    path = make_submission("rnn", tmp_path / "work")
    nb = nbformat.read(path, as_version=4)
    _cell(nb.cells, "sample_chars")["source"] += "\n# edited, not saved"
    shown = _run_in_folder(nb, path.parent)
    assert f"Checking {path.name} as saved at" in shown
    assert "1 of the last 5 cells you ran differ from the saved" in shown
    assert "Visible tests passed: 8 of 8" in shown


@pytest.mark.slow
def test_the_last_cell_does_nothing_under_the_grader(tmp_path):
    nb = release()
    cells = nbformat.reads(json.dumps(nb), as_version=4).cells
    lone = nbformat.v4.new_notebook(cells=[cells[-1]])
    shown = _run_in_folder(lone, tmp_path, NBGRADER_EXECUTION="autograde")
    assert (
        shown == "(the self-check does not run while a notebook is graded)\n"
    )


def _in_colab(monkeypatch, answer):
    """This process as a Colab kernel whose front end answers the
    request for the notebook with ``answer()`` (Colab's own module is not
    installable outside Colab: a stand-in with its one function)."""
    import types

    def blocking_request(request, timeout_sec):
        assert request == "get_ipynb"
        return answer()

    message = types.ModuleType("google.colab._message")
    message.blocking_request = blocking_request
    colab = types.ModuleType("google.colab")
    colab._message = message
    google = types.ModuleType("google")
    google.colab = colab
    for name, module in [
        ("google", google),
        ("google.colab", colab),
        ("google.colab._message", message),
    ]:
        monkeypatch.setitem(sys.modules, name, module)
    for name in ("NBGRADER_EXECUTION", "SEQBOOK_CHECK_RUNNING"):
        monkeypatch.delenv(name, raising=False)


def test_in_colab_without_the_notebook_it_says_what_to_do(monkeypatch, capsys):
    from seqbook.check import check_my_work

    def no_answer():
        raise TimeoutError("no reply")

    _in_colab(monkeypatch, no_answer)
    check_my_work("rnn")
    out = " ".join(capsys.readouterr().out.split())
    assert "did not hand it to the check (TimeoutError)" in out
    assert "Download .ipynb" in out
    assert "python -m seqbook.check rnn.ipynb" in out


@pytest.mark.slow
def test_in_colab_the_notebook_in_the_editor_is_checked(
    monkeypatch, capsys, tmp_path
):
    """Colab hands over the notebook as it is in the editor (here: the
    first exercise wrong, never saved anywhere): that is what runs."""
    from seqbook.check import check_my_work

    wrong = solution_sources("rnn")["rnn_step_forward"].replace(
        "x @ Wx + h_prev @ Wh + b)", "x @ Wx + h_prev @ Wh)"
    )
    path = short_notebook(tmp_path, first=wrong)
    in_editor = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()
    _in_colab(monkeypatch, lambda: {"ipynb": in_editor})
    monkeypatch.chdir(tmp_path)
    check_my_work("rnn")
    out = " ".join(capsys.readouterr().out.split())
    assert "checking it as it is in the editor now" in out
    assert "hand it in as rnn.ipynb" in out
    assert "FAILED: AssertionError: h_next is wrong" in out
    assert "Visible tests passed: 0 of 1" in out
