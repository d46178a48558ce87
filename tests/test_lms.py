"""Gradebooks that an LMS imports (issue 17, part 4): ``python -m
autograder gradebook --format canvas|moodle|generic --roster CSV``.

Each format against its rules: Canvas' five identity columns, then one
column per assignment headed ``name (canvas id)``, optionally its Points
Possible row, nothing else; Moodle's one identity column, then one column
per grade item; students missing on either side listed, never dropped.
"""

import csv

import pytest

from autograder.cli import main
from autograder.lms import CANVAS_IDENTITY

GRADES = {
    "rnn": [("ada", 18), ("ben", 9.5), ("ghost", 4)],
    "lstm": [("ada", 16), ("cleo", 12)],
}
MAXIMA = {"rnn": 18, "lstm": 18}
CANVAS_ROSTER = [
    # student_id, Student, ID, SIS User ID, SIS Login ID, Section
    ("ada", "Lovelace, Ada", "101", "S-1", "ada@uni", "A"),
    ("ben", "Bell, Ben", "102", "S-2", "ben@uni", "B"),
    ("cleo", "Chen, Cleo", "103", "", "", "A"),
    ("dora", "Dora, Dee", "104", "S-4", "dora@uni", "B"),  # no grades
]
MOODLE_ROSTER = [
    ("ada", "Ada", "ada@uni.example", "M1"),
    ("ben", "Ben", "ben@uni.example", "M2"),
    ("cleo", "Cleo", "cleo@uni.example", "M3"),
    ("dora", "Dora", "dora@uni.example", "M4"),
]


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture
def grades(tmp_path):
    paths = []
    for name, rows in GRADES.items():
        paths.append(
            write(
                tmp_path / f"{name}.csv",
                ["student_id", "assignment", "score", "max_score", "status"],
                [(s, name, p, MAXIMA[name], "graded") for s, p in rows],
            )
        )
    return [str(p) for p in paths]


@pytest.fixture
def canvas_roster(tmp_path):
    header = ["student_id", *CANVAS_IDENTITY]
    return str(write(tmp_path / "canvas-roster.csv", header, CANVAS_ROSTER))


@pytest.fixture
def moodle_roster(tmp_path):
    header = ["student_id", "First name", "Email address", "ID number"]
    return str(write(tmp_path / "moodle-roster.csv", header, MOODLE_ROSTER))


def gradebook(*args):
    return main(["gradebook", *map(str, args)])


def test_canvas(grades, canvas_roster, tmp_path, capsys):
    out = tmp_path / "canvas.csv"
    status = gradebook(
        *grades, "--out", out, "--format", "canvas",
        "--roster", canvas_roster,
        "--canvas-id", "rnn=4321", "--canvas-id", "lstm=4322", "--max-row",
    )  # fmt: skip
    assert status == 0
    header, points, *rows = read(out)
    # the identity columns of Canvas' export, then the assignments in
    # course order as Canvas heads them, and no other column
    assert header == [*CANVAS_IDENTITY, "rnn (4321)", "lstm (4322)"]
    assert points == ["    Points Possible", "", "", "", "", "18", "18"]
    assert rows == [
        ["Lovelace, Ada", "101", "S-1", "ada@uni", "A", "18", "16"],
        ["Bell, Ben", "102", "S-2", "ben@uni", "B", "9.5", ""],
        ["Chen, Cleo", "103", "", "", "A", "", "12"],
        ["Dora, Dee", "104", "S-4", "dora@uni", "B", "", ""],
    ]
    said = capsys.readouterr()
    assert "in the roster without grades (empty cells): dora" in said.out
    assert "graded but not in the roster" in said.err
    assert "ghost" in said.err
    unmatched = read(out.with_suffix(".unmatched.csv"))
    assert unmatched == [["student_id", "rnn", "lstm"], ["ghost", "4", ""]]


def test_canvas_without_points_row(grades, canvas_roster, tmp_path):
    out = tmp_path / "canvas.csv"
    assert gradebook(
        *grades, "--out", out, "--format", "canvas",
        "--roster", canvas_roster,
        "--canvas-id", "rnn=4321", "--canvas-id", "lstm=4322",
    ) == 0  # fmt: skip
    header, first, *_ = read(out)
    assert first[:2] == ["Lovelace, Ada", "101"]
    assert "total" not in " ".join(header).lower()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--canvas-id", "rnn=4321"], "--canvas-id lstm=ID"),
        (["--canvas-id", "rnn=abc", "--canvas-id", "lstm=1"], "ASSIGNMENT=ID"),
    ],
)
def test_canvas_needs_every_id(
    grades, canvas_roster, tmp_path, capsys, extra, message
):
    out = tmp_path / "canvas.csv"
    status = gradebook(
        *grades, "--out", out, "--format", "canvas",
        "--roster", canvas_roster, *extra,
    )  # fmt: skip
    assert status == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_an_lms_format_needs_a_roster(grades, tmp_path, capsys):
    for fmt in ("canvas", "moodle"):
        status = gradebook(
            *grades, "--out", tmp_path / "x.csv", "--format", fmt
        )
        assert status == 2
        assert "needs --roster" in capsys.readouterr().err


def test_a_canvas_roster_has_canvas_columns(
    grades, moodle_roster, tmp_path, capsys
):
    status = gradebook(
        *grades, "--out", tmp_path / "x.csv", "--format", "canvas",
        "--roster", moodle_roster,
        "--canvas-id", "rnn=1", "--canvas-id", "lstm=2",
    )  # fmt: skip
    assert status == 2
    assert "missing: Student, ID" in capsys.readouterr().err


@pytest.mark.parametrize(
    "choice, heading, first",
    [
        ([], "Email address", "ada@uni.example"),
        (["--moodle-identity", "idnumber"], "ID number", "M1"),
    ],
)
def test_moodle(
    grades, moodle_roster, tmp_path, capsys, choice, heading, first
):
    out = tmp_path / "moodle.csv"
    status = gradebook(
        *grades, "--out", out, "--format", "moodle", "--roster", moodle_roster,
        *choice,
    )  # fmt: skip
    assert status == 0
    header, *rows = read(out)
    # one identity column Moodle maps, then one column per grade item
    assert header == [heading, "rnn", "lstm"]
    assert rows[0] == [first, "18", "16"]
    assert rows[1][1:] == ["9.5", ""] and rows[3][1:] == ["", ""]
    assert len(rows) == len(MOODLE_ROSTER)
    said = capsys.readouterr()
    assert "dora" in said.out and "ghost" in said.err


def test_moodle_has_no_points_row(grades, moodle_roster, tmp_path, capsys):
    status = gradebook(
        *grades, "--out", tmp_path / "m.csv", "--format", "moodle",
        "--roster", moodle_roster, "--max-row",
    )  # fmt: skip
    assert status == 2 and "no row of maximum" in capsys.readouterr().err


def test_generic_with_a_roster_lists_both_sides(
    grades, canvas_roster, tmp_path, capsys
):
    out = tmp_path / "generic.csv"
    assert gradebook(*grades, "--out", out, "--roster", canvas_roster) == 0
    header, *rows = read(out)
    assert header == ["student_id", "rnn", "lstm", "total"]
    by_id = {row[0]: row[1:] for row in rows}
    # every graded student is kept, the roster's others get empty cells
    assert by_id["ghost"] == ["4", "", "4"]
    assert by_id["dora"] == ["", "", ""]
    said = capsys.readouterr()
    assert "dora" in said.out and "ghost" in said.err
