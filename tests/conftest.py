import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, REPO / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# Fixtures that build the book or grade a class with the real grader: a
# test that uses one is slow (`make test-fast` leaves it out).
SLOW_FIXTURES = {
    "built",
    "graded",
    "graded_rnn",
    "class_root",
    "adversarial",
    "catalogue",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """One build of the book for the whole session: (result, html folder).

    Built in a fresh output folder, with warnings as errors, so that the
    tests see what a clean clone builds; test_book.py checks the result and
    test_browser.py reads the pages in a browser.
    """
    out = tmp_path_factory.mktemp("book")
    env = dict(os.environ, SEQBOOK_PROGRESS="0")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [
            str(jupyter_book),
            "build",
            ".",
            "--path-output",
            str(out),
            "--builder",
            "html",
            "-W",
            "-n",
            "--keep-going",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    return result, out / "_build" / "html"
