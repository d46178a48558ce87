"""``grade --course``'s gradebook is the one the course's configuration
names (``c.CourseDirectory.db_url``), wherever that is; what is printed
of its URL holds no password."""

import pytest

from autograder.batch.course_book import CourseBook, shown_url


def course(root, db_url):
    root.mkdir()
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.db_url = {db_url!r}\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.slow  # nbgrader makes a gradebook: 16 s on a loaded machine
def test_the_gradebook_is_the_configured_one(tmp_path):
    elsewhere = tmp_path / "server" / "grades.db"
    elsewhere.parent.mkdir()
    root = course(tmp_path / "course", f"sqlite:///{elsewhere}")
    with pytest.raises(ValueError) as raised:
        CourseBook(root, "rnn")
    assert f"({'sqlite:///' + str(elsewhere)}) has no assignment 'rnn'" in (
        str(raised.value)
    )
    assert "nbgrader generate_assignment rnn" in str(raised.value)
    assert elsewhere.is_file()  # opened there, not in the course folder
    assert not (root / "gradebook.db").exists()


def test_a_password_in_the_url_is_not_shown():
    url = "postgresql://ta:s3cret@db.example:5432/course"
    assert shown_url(url) == "postgresql://ta:***@db.example:5432/course"
    assert shown_url("sqlite:////srv/gradebook.db") == (
        "sqlite:////srv/gradebook.db"
    )
