"""The install cell atop every notebook (issue 12, section 3).

Written once in each solution notebook, carried by ``make release`` into
the student's copy (the drift check of test_release.py covers it), added
to every chapter notebook; publishing sets only its site. In the course's
own environment it does nothing and never runs pip.
"""

import json
import os
import sys

import pytest

from publish import install_cell
from publish.config import published
from student_env import run_cell_with_pip_log
from submissions import REPO

NOTEBOOKS = sorted(REPO.glob("solutions/*/*.ipynb")) + sorted(
    REPO.glob("notebooks/*/*.ipynb")
)
EXAMPLE = published("https://github.com/example-org/seqbook-course")


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "path", NOTEBOOKS, ids=[str(p.relative_to(REPO)) for p in NOTEBOOKS]
)
def test_every_assignment_starts_with_the_install_cell(path):
    nb = load(path)
    first = nb["cells"][0]
    assert first["id"] == install_cell.CELL_ID
    assert first["cell_type"] == "code"
    assert install_cell.starts_with_it(nb), (
        f"{path.relative_to(REPO)} does not start with the current install "
        "cell: run `python -m publish --install-cells`, then `make release`"
    )
    # a plain cell: nbgrader would take a locked one changed by publishing
    # for a tampered test cell
    assert "nbgrader" not in first["metadata"]


def test_the_cell_is_short_and_readable():
    lines = install_cell.source().splitlines()
    assert len(lines) <= 15
    assert all(len(line) <= 79 for line in lines)
    assert lines[0].startswith("# Set-up: install the course library")


def test_publishing_sets_the_site_and_nothing_else():
    nb = load(REPO / "notebooks" / "rnn" / "rnn.ipynb")
    before = install_cell.dumps(nb)
    install_cell.with_site(nb, EXAMPLE)
    after = install_cell.text(nb["cells"][0])
    assert after == install_cell.source(wheels=EXAMPLE.wheels)
    assert (
        EXAMPLE.wheels
        == "https://example-org.github.io/seqbook-course/wheels/"
    )
    # unpublished again: byte for byte the committed release
    install_cell.with_site(nb, None)
    assert install_cell.dumps(nb) == before


def test_the_course_environment_never_runs_pip(tmp_path):
    """Here (the course's .venv, where seqbook is installed, as when the
    grader runs a notebook) the cell prints nothing and runs no pip."""
    env = dict(os.environ)
    result, pip_ran = run_cell_with_pip_log(sys.executable, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and not pip_ran


def test_the_pip_check_can_fail(tmp_path):
    """Control for the test above: the same cell, made to miss a module,
    runs pip (offline, on an empty folder: it finds nothing), and pip's
    log shows it."""
    source = install_cell.source().replace(
        'find_spec("seqbook")', 'find_spec("no_such_module_here")'
    )
    env = dict(
        os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path / "none")
    )
    result, pip_ran = run_cell_with_pip_log(
        sys.executable, tmp_path / "run", env, source
    )
    assert pip_ran
    assert "seqbook==" in result.stdout + result.stderr
