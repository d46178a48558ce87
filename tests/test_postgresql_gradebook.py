"""A course's nbgrader gradebook on a PostgreSQL server (issue 18).

nbgrader takes any SQLAlchemy URL as a course's ``db_url``, and ``grade
--course`` writes through nbgrader's own Gradebook into whatever it
names. Two copies of one course, made by the real ``nbgrader`` commands
(``generate_assignment``, ``db assignment add``): one whose
``nbgrader_config.py`` names a database on a real PostgreSQL server that
the test starts itself (Debian's package; tests/pg_server.py), one with
the default SQLite file. A small class (right but late, wrong) is graded
by the command into the first; the same results go into the second
through the same steps (:class:`~autograder.batch.course_book.CourseBook`,
as the command calls it). Both gradebooks hold the same points and late
penalties, and there is no SQLite file in the first.

One grading run, not two: the grading itself is the same whatever the
gradebook (tests/test_nbgrader_course.py checks it against nbgrader's).
"""

import subprocess
import sys
from pathlib import Path

import pytest

from autograder.batch.course_book import CourseBook
from autograder.batch.journal import read_journal
from nbgrader_courses import (
    LATE,
    environ,
    grader_config_lines,
    make_course,
    scores,
    submit,
)
from pg_server import ensure_postgresql, postgresql_server
import submissions
from submissions import REPO, solution_sources

pytestmark = pytest.mark.slow

SOLUTIONS = solution_sources("rnn")
# The character model trains for one step only: the class grades faster.
ONE_STEP = "\n" + submissions.ONE_STEP  # after a step function
CLASS = {
    "ada": {
        "timestamp": LATE,
        "replace": {
            "rnn_step_forward": SOLUTIONS["rnn_step_forward"] + ONE_STEP
        },
    },
    "wrong": {
        "replace": {
            "rnn_step_forward": SOLUTIONS["rnn_step_forward"].replace(
                "x @ Wx + h_prev @ Wh + b)", "x @ Wx + h_prev @ Wh)"
            )
            + ONE_STEP
        }
    },
}


@pytest.fixture(scope="module")
def postgresql():
    bin_dir, reason = ensure_postgresql()
    if bin_dir is None:
        pytest.skip(reason)
    with postgresql_server(bin_dir) as url:
        yield url


def courses(root, db_url):
    """(the course on PostgreSQL, the same course on SQLite), each with
    the class in ``submitted/``."""
    lines = grader_config_lines()
    pg = make_course(
        root / "postgresql",
        "rnn",
        lines + f"c.CourseDirectory.db_url = {db_url!r}\n",
    )
    lite = make_course(root / "sqlite", "rnn", lines)
    for course in (pg, lite):
        for student, kwargs in CLASS.items():
            submit(course, "rnn", student, **kwargs)
    return pg, lite


def test_a_postgresql_gradebook_holds_what_sqlite_holds(tmp_path, postgresql):
    pg, lite = courses(tmp_path, postgresql)
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "rnn"]
        + ["--course", str(pg), "--jobs", "2", "--quiet"],
        cwd=REPO,
        env=environ(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert not (pg / "gradebook.db").exists()
    records, _ = read_journal(pg / "grades" / "rnn.details.jsonl", "rnn")
    assert sorted(records) == sorted(CLASS)
    book = CourseBook(lite, "rnn")
    for record in records.values():
        autograded = Path(pg, record["course_notebook"])
        book.finish(record, {"autograded": str(autograded)})
    found = scores(pg, "rnn", db_url=postgresql)
    assert found == scores(lite, "rnn")
    # what both hold is a real result: the right one late (zero
    # penalty method: it loses all), the wrong one short of full marks
    (right, right_penalty), (wrong, _) = found["ada"], found["wrong"]
    assert right_penalty == sum(right.values()) > 0
    assert 0 < sum(wrong.values()) < sum(right.values())
