"""Each step of the intake on its own, without a kernel: it gives the
status and the detail a student can act on, or passes the notebook on
(the whole class through the real command is in
test_grading_robust.py)."""

import json

import nbformat
import pytest

from autograder.batch import intake
from autograder.batch.intake import Draft
from submissions import make_submission

MB = 2**20


def draft_of(tmp_path, data, name="rnn.ipynb"):
    """A Draft of a file holding ``data`` (bytes) in a student folder."""
    path = tmp_path / "student" / "rnn" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Draft(tmp_path / "student" / "rnn" / "rnn.ipynb", "rnn")


def through(draft, *steps):
    """Run ``steps`` in order; the first refusal, or None."""
    for step in steps:
        refused = step(draft)
        if refused:
            return refused
    return None


def test_steps_run_in_the_order_the_data_needs():
    assert intake.STEPS == [
        intake.locate,
        intake.measure,
        intake.read,
        intake.decode,
        intake.parse,
        intake.looks_like_notebook,
        intake.strip_outputs,
        intake.validate,
        intake.belongs,
        intake.restore,
        intake.fits,
    ]


def test_locate_names_the_notebooks_found_elsewhere(tmp_path):
    draft = draft_of(tmp_path, b"{}", name="rnn (1).ipynb")
    status, detail = intake.locate(draft)
    assert status == "missing"
    assert detail == "no rnn/rnn.ipynb; found rnn/rnn (1).ipynb"
    folder = Draft(tmp_path, "rnn")
    assert intake.locate(folder)[0] == "invalid_notebook"
    assert "a folder" in intake.locate(folder)[1]


def test_locate_says_when_nothing_was_handed_in(tmp_path):
    (tmp_path / "student").mkdir()
    draft = Draft(tmp_path / "student" / "rnn" / "rnn.ipynb", "rnn")
    assert intake.locate(draft) == (
        "missing",
        "no rnn/rnn.ipynb in the submission",
    )


def test_measure_refuses_empty_files(tmp_path):
    draft = draft_of(tmp_path, b"")
    assert intake.measure(draft) == (
        "invalid_notebook",
        "the notebook file is empty",
    )


def test_read_recognises_other_formats(tmp_path):
    cases = {
        b"   \n": "empty",
        b"PK\x03\x04rest": "zip archive",
        b"%PDF-1.7": "PDF document",
        b"\x89PNG\r\n": "PNG image",
        "{}".encode("utf-16"): "UTF-16",
    }
    for data, words in cases.items():
        draft = draft_of(tmp_path, data)
        status, detail = through(draft, intake.measure, intake.read)
        assert status == "invalid_notebook" and words in detail, data


def test_decode_points_at_the_first_bad_byte(tmp_path):
    draft = draft_of(tmp_path, '{"a": "café"}'.encode("latin-1"))
    status, detail = through(draft, intake.measure, intake.read, intake.decode)
    assert status == "invalid_notebook"
    assert "byte 0xe9 at offset 10" in detail


def test_parse_says_where_the_json_breaks(tmp_path):
    draft = draft_of(tmp_path, b'{"cells": [')
    steps = (intake.measure, intake.read, intake.decode, intake.parse)
    status, detail = through(draft, *steps)
    assert status == "invalid_notebook"
    assert detail.startswith("not JSON (") and "line 1 column 12" in detail


@pytest.mark.parametrize(
    "data, words",
    [
        ({"cells": 1}, "not a Jupyter notebook"),
        ({"nbformat": "4", "cells": []}, "not a Jupyter notebook"),
        ({"nbformat": 5, "cells": []}, "nbformat 5 is newer"),
    ],
)
def test_looks_like_notebook_wants_an_nbformat_and_cells(data, words):
    draft = Draft(None, "rnn", nb=data)
    status, detail = intake.looks_like_notebook(draft)
    assert status == "invalid_notebook" and words in detail


def test_strip_outputs_removes_every_output_and_says_so():
    cell = {
        "cell_type": "code",
        "outputs": [{"output_type": "stream", "text": "z" * (3 * MB)}],
        "execution_count": 7,
        "source": "",
        "metadata": {},
    }
    nb = {"nbformat": 4, "cells": [cell], "metadata": {}}
    draft = Draft(None, "rnn", nb=nb, size=len(json.dumps(nb)))
    assert intake.strip_outputs(draft) is None
    stripped = json.loads(draft.stripped)
    assert stripped["cells"][0]["outputs"] == []
    assert stripped["cells"][0]["execution_count"] is None
    assert draft.notes == ["its outputs (3 MB) were removed before grading"]


def test_validate_upgrades_nbformat_3_and_refuses_invalid_cells(tmp_path):
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    old = nbformat.writes(nbformat.convert(book, 3), version=3)
    draft = Draft(None, "rnn", stripped=old, major=3)
    assert intake.validate(draft) is None
    assert draft.book.nbformat == 4
    assert draft.notes == ["upgraded from nbformat 3 to 4"]
    bad = json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [{}]})
    status, detail = intake.validate(Draft(None, "rnn", stripped=bad, major=4))
    assert status == "invalid_notebook"
    assert "not a valid notebook of nbformat 4" in detail


def test_belongs_names_the_assignment_a_notebook_is_from(tmp_path):
    lstm = make_submission("lstm", tmp_path / "lstm")
    book = nbformat.read(str(lstm), as_version=4)
    assert intake.belongs(Draft(None, "rnn", book=book)) == (
        "wrong_assignment",
        "this is the notebook of lstm, not of rnn",
    )
    rnn = nbformat.read(
        str(make_submission("rnn", tmp_path / "rnn")), as_version=4
    )
    assert intake.belongs(Draft(None, "rnn", book=rnn)) is None
    blank = nbformat.v4.new_notebook()
    assert (
        "none of rnn's cells"
        in intake.belongs(Draft(None, "rnn", book=blank))[1]
    )


def test_fits_refuses_notebooks_too_large_without_outputs():
    huge = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("# " + "x" * (51 * MB))]
    )
    status, detail = intake.fits(Draft(None, "rnn", book=huge))
    assert status == "too_large" and "at most 50 MB" in detail


def test_a_gradable_notebook_is_written_as_nbformat_4(tmp_path):
    path = make_submission("rnn", tmp_path / "student")
    copy = tmp_path / "copy.ipynb"
    assert intake.prepare_notebook(path, "rnn", copy) == (None, "")
    assert nbformat.read(str(copy), as_version=4).nbformat == 4


def test_odd_grade_ids_give_a_status_not_a_crash(tmp_path):
    cell = nbformat.v4.new_code_cell("pass")
    cell.metadata["nbgrader"] = {"grade_id": ["not", "a", "string"]}
    odd = nbformat.v4.new_notebook(cells=[cell])
    path = tmp_path / "s" / "rnn" / "rnn.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(nbformat.writes(odd), encoding="utf-8")
    status, _ = intake.prepare_notebook(path, "rnn")
    assert status == "wrong_assignment"


def test_students_are_the_folders_not_the_files(tmp_path):
    for name in ("b", "a", ".git"):
        (tmp_path / name).mkdir()
    (tmp_path / "README.txt").write_text("class of 2025")
    assert intake.list_students(tmp_path) == (
        ["a", "b"],
        [".git", "README.txt"],
    )


def test_restore_puts_back_each_of_the_instructors_cells_once(tmp_path):
    """A renamed test cell and a duplicated solution cell: every cell of
    the source with a grade id is there once, the student's code of both
    copies of the solution runs, and the notes say what changed."""
    import copy

    from autograder import notebooks
    from submissions import make_submission

    def edit(nb):
        cells = nb["cells"]
        by_id = {notebooks.nbgrader_meta(c).get("grade_id"): c for c in cells}
        by_id["test_rnn_step_forward"]["metadata"]["nbgrader"]["grade_id"] = (
            "renamed"
        )
        solution = by_id["rnn_forward"]
        copied = copy.deepcopy(solution)
        copied.update(id="copied", source="# the second copy\n")
        cells.insert(cells.index(solution) + 1, copied)

    path = make_submission("rnn", tmp_path / "s", edit=edit)
    draft = Draft(path, "rnn")
    assert through(draft, *intake.STEPS[:-2]) is None
    assert intake.restore(draft) is None
    ids = [
        notebooks.nbgrader_meta(c).get("grade_id") for c in draft.book.cells
    ]
    source_ids = [
        i
        for i in (
            notebooks.nbgrader_meta(c).get("grade_id")
            for c in notebooks.read_source("rnn")["cells"]
        )
        if i
    ]
    assert [i for i in ids if i] == source_ids
    assert "# the second copy\n" in [
        notebooks.cell_text(c) for c in draft.book.cells
    ]
    note = draft.notes[-1]
    assert "unknown id 'renamed': removed" in note
    assert "test_rnn_step_forward was missing: restored" in note
    assert "a second cell claimed rnn_forward" in note
    assert "The grader repaired" in notebooks.cell_text(draft.book.cells[0])


def test_restore_leaves_an_unedited_notebook_as_it_is(tmp_path):
    from submissions import make_submission

    draft = Draft(make_submission("rnn", tmp_path / "s"), "rnn")
    assert through(draft, *intake.STEPS[:-1]) is None
    assert draft.notes == []


def test_restore_keeps_the_cell_ids_of_the_release(tmp_path):
    """The instructor's cells come back from the source with their ids,
    so that the autograded notebook's cells are the release's (the
    course's self-check cell is found by its id, as in plain nbgrader)."""
    from submissions import make_submission

    path = make_submission("rnn", tmp_path / "s")
    given = [c.get("id") for c in json.loads(path.read_text())["cells"]]
    draft = Draft(path, "rnn")
    assert through(draft, *intake.STEPS[:-1]) is None
    assert [c.get("id") for c in draft.book.cells] == given
    assert given[-1] == "check-my-work"
