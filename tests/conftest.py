import os
import pickle
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


# `make test` runs the suite on two processes (pytest-xdist). A module's
# or session's fixture is made once per process that needs it, so the
# tests go to the processes by scope (`pytest_xdist_make_scheduler`): the
# tests of one file stay together, except the two longest files, split
# where their costly fixtures split them: the browser's reading of each
# edition and its audits in dark mode, and each assignment's graded class.
# The book's builds and the student's environment, which several files
# need, are made once for both processes (`shared`).
def scope_of(nodeid):
    """The scope of a test (its nodeid): the tests of one scope run in
    turn on one process."""
    from autograder import course

    path, _, rest = nodeid.partition("::")
    if path == "tests/test_browser.py":
        if "[dark-" in rest:
            return "browser-dark"
        return "browser-ko" if "ko/" in rest else "browser-en"
    if path == "tests/test_grading.py":
        params = rest.rpartition("[")[2].rstrip("]").split("-")
        for name in course.assignments():
            if name in params:
                return f"grading-{name}"
        return "grading-rnn"  # graded_rnn's tests, and the cheap ones
    return path


# The longest scopes, longest first (as measured by `pytest
# --durations`): a process that finishes a scope takes the next in
# collection order, so these start first and the shorter ones fill in.
# xdist gives each process one scope at the start and the next one
# when it has two tests or fewer left: the book's build (browser-en)
# keeps the first process for minutes, while the other runs the next
# two scopes, which do not need the book, instead of waiting for the
# build in its first browser scope.
LONGEST_FIRST = [
    "browser-en",
    "tests/test_cluster.py",
    "grading-self_attention",
    "browser-ko",
    "browser-dark",
    "tests/test_student_env.py",
    "tests/test_nbgrader_course.py",
    "tests/test_grading_robust.py",
    "tests/test_verdicts.py",
    "grading-attention",
    "grading-rnn",
    "tests/test_self_check.py",
    "tests/test_korean_edition.py",
    "grading-seq2seq",
]


def pytest_xdist_make_scheduler(config, log):
    """xdist's scheduling by scope, with this suite's scopes, in
    collection order (pytest_collection_modifyitems puts the longest
    first)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByScope(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return scope_of(nodeid)

    config.option.loadscopereorder = False
    return ByScope(config, log)


def _rank(item):
    scope = scope_of(item.nodeid)
    if scope in LONGEST_FIRST:
        return LONGEST_FIRST.index(scope)
    return len(LONGEST_FIRST)


def pytest_itemcollected(item):
    # (before -m "not slow" deselects)
    if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.slow)


@pytest.hookimpl(trylast=True)  # after pytest's grouping by fixture
def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_rank)  # stable: a scope's tests keep their order


def shared(tmp_path_factory, name, make):
    """``make(folder)``, made once for all of the session's processes: the
    first to ask makes it (in a folder they all see) while the others wait,
    then they read its (pickled) value."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return make(tmp_path_factory.mktemp(name))
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent
    done = root / f"{name}.pickle"
    with FileLock(str(root / f"{name}.lock")):
        if done.exists():
            return pickle.loads(done.read_bytes())
        folder = root / name
        folder.mkdir()
        value = make(folder)
        done.write_bytes(pickle.dumps(value))
        return value


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """One build of the book for the whole session: (result, html folder).

    Built in a fresh output folder, with warnings as errors, so that the
    tests see what a clean clone builds; test_book.py checks the result and
    test_browser.py reads the pages in a browser.
    """
    from site_builds import build_book

    return shared(tmp_path_factory, "book", build_book)


# Packaging and publishing (publish/): the wheels, a student's fresh
# environment, the book built with a published address and its tree.


@pytest.fixture(scope="session")
def course_wheels(tmp_path_factory):
    """Every wheel of publish.wheels.WHEELS, built once with `python -m
    build` into a folder with its index page: {distribution name: path}."""
    from publish import wheels

    def make(out):
        built = wheels.build(out)
        wheels.write_index(out)
        return built

    return shared(tmp_path_factory, "wheels", make)


@pytest.fixture(scope="session")
def student_env(tmp_path_factory, course_wheels):
    """One fresh virtual environment outside the repository, with the
    course's wheels installed the way students get them (student_env.py)."""
    from student_env import prepare

    return shared(
        tmp_path_factory,
        "student",
        lambda folder: prepare(folder, course_wheels),
    )


@pytest.fixture(scope="session")
def site_with_address(built, tmp_path_factory):
    """The book built with repository.url set to an example address
    (reusing `built`'s execution cache): (result, html, config)."""
    from site_builds import EXAMPLE_REPOSITORY, build_with_address

    _, html = built
    return shared(
        tmp_path_factory,
        "book-published",
        lambda out: build_with_address(html, out, EXAMPLE_REPOSITORY),
    )


@pytest.fixture(scope="session")
def site_without_address(built, tmp_path_factory):
    """The book built with repository.url empty: `built` itself while
    _config.yml leaves it empty, else a build of its own."""
    from publish.config import from_config
    from site_builds import build_with_address

    result, html = built
    if from_config() is None:
        return result, html
    out = tmp_path_factory.mktemp("book-unpublished")
    return build_with_address(html, out, "")[:2]


@pytest.fixture(scope="session")
def published_tree(site_with_address, tmp_path_factory):
    """`python -m publish` on the example build: (result, tree folder)."""
    from site_builds import build_tree

    result, html, config = site_with_address
    if result.returncode != 0:
        pytest.fail(
            "the book with an address did not build:\n"
            + result.stdout[-3000:]
            + result.stderr[-3000:]
        )
    return shared(
        tmp_path_factory,
        "tree",
        lambda folder: build_tree(html, folder / "tree", config),
    )


def pytest_sessionstart(session):
    """The grader's sandbox is bubblewrap: installed before any test
    grades (when missing and root), so that CI on a clean machine has
    it; the grading tests then say whether kernels are sandboxed."""
    from debian_tools import ensure_program

    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controlling process did, before it started them
    ensure_program("bwrap", "bubblewrap")
