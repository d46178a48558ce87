"""Edited notebooks are the student's doing, not the grader's failure.

Through the real command: the solution with its nbgrader cells edited
(renamed, duplicated, turned into solution cells, stripped of their grade
flags, an extra test cell, a lost test cell, another kernel) is repaired
by the source notebook and graded like the same solution unedited; its
row's detail and its feedback page say what the grader changed. A
notebook nbgrader still refuses (one that reaches the worker without the
intake's repair) gets the status ``edited_notebook``, not ``error``.
"""

import copy
import html
import json
import subprocess
import sys

import pytest

from autograder import course
from autograder.job import Job
from autograder.notebooks import graded_cells
from grader_runs import records_of, rows_of, run_grader
from submissions import REPO, cell_of, cut_training, make_submission

pytestmark = pytest.mark.slow

CELLS = [name for name, _ in graded_cells("rnn")]


def renamed_test(cells):
    cell_of(cells, "test_rnn_step_forward")["metadata"]["nbgrader"][
        "grade_id"
    ] = "my_test"


def renamed_solution(cells):
    cell_of(cells, "rnn_step_forward")["metadata"]["nbgrader"]["grade_id"] = (
        "my_solution"
    )


def duplicated_test(cells):
    copied = copy.deepcopy(cell_of(cells, "test_rnn_forward"))
    copied.update(id="copy-of-test", source="pass")
    cells.insert(cells.index(cell_of(cells, "test_rnn_forward")), copied)


def duplicated_solution(cells):
    # Jupyter's copy and paste keeps the metadata; the later copy wins.
    first = cell_of(cells, "rnn_forward")
    copied = copy.deepcopy(first)
    copied["id"] = "copy-of-solution"
    first["source"] = "def rnn_forward(*args):\n    raise ValueError\n"
    cells.insert(cells.index(first) + 1, copied)


def turned_into_solution(cells):
    meta = cell_of(cells, "test_rnn_backward")["metadata"]["nbgrader"]
    meta.update(grade=False, solution=True, locked=False)
    cell_of(cells, "test_rnn_backward")["source"] = "pass"


def grade_flags_removed(cells):
    for cell in cells:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade"):
            meta["grade"] = False


def extra_test(cells):
    copied = copy.deepcopy(cell_of(cells, "test_clip_grad_norm"))
    copied["metadata"]["nbgrader"].update(grade_id="test_extra", points=50)
    copied.update(id="extra-test", source="assert True")
    cells.append(copied)


def deleted_test(cells):
    cells.remove(cell_of(cells, "test_temporal_softmax_loss"))


# student -> (edit of the cells, words of the grader's note)
EDITS = {
    "renamed_test": (renamed_test, "unknown id 'my_test': removed"),
    "renamed_solution": (
        renamed_solution,
        "unknown id 'my_solution': its code is kept as an ordinary cell",
    ),
    "duplicated_test": (
        duplicated_test,
        "a second cell claimed test_rnn_forward: removed",
    ),
    "duplicated_solution": (
        duplicated_solution,
        "a second cell claimed rnn_forward: its code is kept",
    ),
    "test_turned_into_solution": (
        turned_into_solution,
        "test_rnn_backward was turned into a solution cell: restored",
    ),
    "grade_flags_removed": (
        grade_flags_removed,
        "test_rnn_step_forward lost its grade flag: restored",
    ),
    "extra_test": (extra_test, "unknown id 'test_extra': removed"),
    "deleted_test": (
        deleted_test,
        "test_temporal_softmax_loss was missing: restored",
    ),
}


def _edited(edit):
    def change(nb):
        cut_training(nb)
        if edit:
            edit(nb["cells"])

    return change


@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    root = tmp_path_factory.mktemp("edited")
    subs, out = root / "submitted", root / "grades" / "rnn.csv"
    make_submission("rnn", subs / "plain", edit=_edited(None))
    for student, (edit, _) in EDITS.items():
        make_submission("rnn", subs / student, edit=_edited(edit))

    def r_kernel(nb):
        _edited(None)(nb)
        nb["metadata"]["kernelspec"]["name"] = "ir"

    make_submission("rnn", subs / "other_kernel", edit=r_kernel)
    result = run_grader("rnn", subs, out, "--jobs", "2", "--quiet")
    rows, records = rows_of(out), records_of(out)
    return {"result": result, "rows": rows, "records": records, "out": out}


def _page(edited, student):
    page = edited["out"].parent / "feedback" / "rnn" / f"{student}.html"
    return html.unescape(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("student", sorted(EDITS) + ["other_kernel"])
def test_an_edited_notebook_is_repaired_and_graded(edited, student):
    assert edited["result"].returncode == 0, edited["result"].stderr[-3000:]
    plain, row = edited["rows"]["plain"], edited["rows"][student]
    assert plain["status"] == "graded"
    assert float(plain["score"]) == 16  # all but the trained model
    assert row["status"] == "graded", edited["records"][student]["detail"]
    assert [row[c] for c in CELLS] == [plain[c] for c in CELLS]
    words = EDITS[student][1] if student in EDITS else "'ir': run with"
    detail = edited["records"][student]["detail"]
    assert "the grader repaired the notebook" in detail
    assert words in detail
    page = _page(edited, student)
    assert "The grader repaired this notebook before grading it" in page
    assert words in page


def test_an_unedited_notebook_is_left_as_it_is(edited):
    assert "repaired" not in edited["records"]["plain"]["detail"]
    assert "repaired" not in _page(edited, "plain")


def test_nbgrader_refusing_edited_cells_is_not_the_graders_failure(
    edited, tmp_path
):
    """The worker, given an edited notebook the intake did not repair
    (as another route may give it), says so: edited_notebook."""
    notebook = make_submission(
        "rnn",
        tmp_path / "raw",
        edit=lambda nb: renamed_test(nb["cells"]),
        solved=False,
    )
    work = edited["out"].parent / ".autograder"
    job = Job(
        assignment="rnn",
        student="s9999",
        student_name="raw",
        notebook=str(notebook),
        workdir=str(tmp_path / "work"),
        result=str(tmp_path / "result.json"),
        master_db=str(course.gradebook_path(course.course_folder(work))),
        source=str(REPO / "solutions"),
        feedback=str(tmp_path / "raw.html"),
    )
    (tmp_path / "job.json").write_text(job.to_json(), encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.worker",
            str(tmp_path / "job.json"),
        ],
        cwd=REPO,
        env=course.os_environ_for_kernel(),
        capture_output=True,
        timeout=600,
        check=True,
    )
    outcome = json.loads((tmp_path / "result.json").read_text())
    assert outcome["status"] == "edited_notebook", outcome
    assert "Cell 'my_test' does not exist" in outcome["detail"]
