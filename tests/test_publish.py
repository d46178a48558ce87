"""The student tree and the launch links (issue 12, sections 4 and 5).

With the published address set to an example, every Colab and Binder link
of the built book opens a notebook that exists at that path in the tree
that ``python -m publish`` builds; with it unset, there is no repository,
Colab or Binder link at all. The tree holds no solution, no hidden test,
nothing of the grader; its Binder environment installs the course library
from the tree; the site works from the file system; the workflows pass
actionlint.
"""

import html as html_lib
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from publish import book_version, install_cell
from publish.config import published
from publish.notebooks import chapter_notebook
from site_builds import EXAMPLE_REPOSITORY
from student_env import student_environ
from submissions import REPO
from pages import chapters, toc_files

CHAPTERS = chapters()

# What the book built with the example address links to (_config.yml's
# launch services).
EXAMPLE = published(
    EXAMPLE_REPOSITORY,
    launch_buttons=yaml.safe_load(
        (REPO / "_config.yml").read_text(encoding="utf-8")
    )["launch_buttons"],
)
COLAB, BINDER = EXAMPLE.colab(""), EXAMPLE.binder("")
LAUNCH = re.compile(r"colab\.research\.google\.com|mybinder\.org")
ASSIGNMENT_PAGES = [
    p for p in toc_files() if p.startswith("book/assignments/")
]
TEXT_SUFFIXES = {".html", ".ipynb", ".md", ".py", ".txt", ".js", ".yml", ""}


def hrefs(folder):
    """{html file: [href]} of every page of a built site."""
    found = {}
    for page in Path(folder).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        found[page] = [
            html_lib.unescape(h) for h in re.findall(r'href="([^"]*)"', text)
        ]
    return found


def launch_target(url):
    """The path in the tree that a Colab or Binder link opens."""
    if url.startswith(COLAB):
        return unquote(url[len(COLAB) :])
    if url.startswith(BINDER):
        return unquote(url[len(BINDER) :])
    raise AssertionError(f"a launch link to somewhere else: {url}")


@pytest.mark.slow
def test_without_an_address_nothing_links_to_a_repository(
    site_without_address,
):
    result, html = site_without_address
    assert result.returncode == 0, result.stdout[-3000:]
    for page, links in hrefs(html).items():
        for link in links:
            assert not LAUNCH.search(link), (page, link)
        text = page.read_text(encoding="utf-8")
        assert "launch-buttons" not in text, page
        assert "repository-button" not in text, page
    # the downloads are there all the same
    for name in CHAPTERS:
        assert (html / f"{name}.ipynb").is_file(), name


@pytest.mark.slow
def test_every_launch_link_opens_a_notebook_of_the_tree(
    site_with_address, published_tree
):
    result, html, _ = site_with_address
    assert result.returncode == 0, result.stdout[-3000:]
    tree_result, tree = published_tree
    assert tree_result.returncode == 0, tree_result.stderr[-3000:]
    opened = {}
    for page, links in hrefs(html).items():
        for link in links:
            if LAUNCH.search(link):
                target = launch_target(link)
                assert target.endswith(".ipynb"), (page, link)
                assert (tree / target).is_file(), (page, target)
                opened.setdefault(page.relative_to(html).as_posix(), set())
                opened[page.relative_to(html).as_posix()].add(link)
    # each chapter and each assignment page opens its own notebook in both
    for name in CHAPTERS:
        path = f"{name}.ipynb"
        assert {COLAB + path, BINDER + path} <= opened[f"{name}.html"], name
    for name in ASSIGNMENT_PAGES:
        stem = Path(name).name
        path = f"notebooks/{stem}/{stem}.ipynb"
        assert {COLAB + path, BINDER + path} <= opened[f"{name}.html"], name
    text = (html / "book" / "rnn.html").read_text(encoding="utf-8")
    assert f'href="{EXAMPLE_REPOSITORY}"' in text  # the repository button


@pytest.mark.slow
def test_the_tree_holds_the_notebooks_students_open(published_tree):
    _, tree = published_tree
    for name in CHAPTERS:
        data = chapter_notebook(REPO / f"{name}.md", EXAMPLE)
        published_text = (tree / f"{name}.ipynb").read_text(encoding="utf-8")
        assert published_text == install_cell.dumps(data), name
        assert install_cell.starts_with_it(data, EXAMPLE.wheels)
    for release in sorted(REPO.glob("notebooks/*/*.ipynb")):
        nb = json.loads(release.read_text(encoding="utf-8"))
        install_cell.with_site(nb, EXAMPLE)
        copy = tree / release.relative_to(REPO)
        assert copy.read_text(encoding="utf-8") == install_cell.dumps(nb)
    # the wheel, its page for pip, the library's source, the README
    wheel = f"seqbook-{book_version()}-py3-none-any.whl"
    assert (tree / "wheels" / wheel).is_file()
    index = (tree / "wheels" / "index.html").read_text(encoding="utf-8")
    assert f'href="{wheel}"' in index
    assert (tree / "seqbook" / "records.py").is_file()
    readme = (tree / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("<!-- Generated by `make publish`")
    assert (
        EXAMPLE.site in readme and COLAB + "notebooks/rnn/rnn.ipynb" in readme
    )
    assert (tree / ".nojekyll").exists()


def windows(sources):
    """Every run of three consecutive code lines (40 characters or more)."""
    found = set()
    for source in sources:
        lines = code_lines(source)
        for i in range(len(lines) - 2):
            window = tuple(lines[i : i + 3])
            if sum(map(len, window)) >= 40:
                found.add(window)
    return found


def solution_windows():
    """Text that must never be published: runs of three lines of a
    solution region, of a hidden test, or of the grader's source (less
    what it shares with the course library and the releases)."""
    secret = []
    for path in REPO.glob("solutions/*/*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            text = install_cell.text(cell)
            for begin, end in (
                ("SOLUTION", "SOLUTION"),
                ("HIDDEN TESTS", "HIDDEN TESTS"),
            ):
                secret += re.findall(
                    rf"### BEGIN {begin}\n(.*?)### END {end}", text, re.S
                )
    grader = [p.read_text("utf-8") for p in REPO.glob("autograder/**/*.py")]
    # public by design: the course library, and the releases (checked by
    # test_release.py), whose given code the grader may repeat
    public = [p.read_text("utf-8") for p in REPO.glob("seqbook/*.py")]
    for path in REPO.glob("notebooks/*/*.ipynb"):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        public += [install_cell.text(cell) for cell in cells]
    return windows(secret) | (windows(grader) - windows(public))


def code_lines(text):
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def published_lines(path):
    """The lines a reader of ``path`` sees (notebook sources, page text)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        cells = json.loads(text)["cells"]
        text = "\n".join(install_cell.text(cell) for cell in cells)
    elif path.suffix == ".html":
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", text))
    return code_lines(text)


@pytest.mark.slow
def test_the_tree_holds_no_solution_and_nothing_of_the_grader(
    published_tree,
):
    _, tree = published_tree
    windows = solution_windows()
    assert len(windows) > 100  # the detector has something to look for
    files = [p for p in tree.rglob("*") if p.is_file()]
    for path in files:
        relative = path.relative_to(tree).as_posix()
        for part in ("solutions", "autograder", "tests/", "checks"):
            assert part not in relative, relative
        if path.suffix not in TEXT_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for marker in ("### BEGIN SOLUTION", "HIDDEN TESTS", "_check("):
            assert marker not in text, (relative, marker)
        for marker in ("autograder.judge", "autograder.checks"):
            assert marker not in text, (relative, marker)
        lines = published_lines(path)
        seen = {tuple(lines[i : i + 3]) for i in range(len(lines) - 2)}
        leaked = windows & seen
        assert not leaked, (relative, sorted(leaked)[:3])


def test_the_leak_detector_finds_solutions_and_checks():
    """Control: the detector above finds the solutions and the hidden
    checks in their sources."""
    windows = solution_windows()
    source = REPO / "solutions" / "rnn" / "rnn.ipynb"
    lines = published_lines(source)
    seen = {tuple(lines[i : i + 3]) for i in range(len(lines) - 2)}
    assert len(windows & seen) > 10
    # and the grader's hidden checks
    check = (REPO / "autograder" / "checks" / "rnn.py").read_text("utf-8")
    lines = code_lines(check)
    seen = {tuple(lines[i : i + 3]) for i in range(len(lines) - 2)}
    assert len(windows & seen) > 10


@pytest.mark.slow
def test_binder_installs_the_library_from_the_tree(
    published_tree, student_env
):
    _, tree = published_tree
    binder = tree / "binder"
    assert (binder / "runtime.txt").read_text() == "python-3.11\n"
    requirements = (binder / "requirements.txt").read_text()
    assert (
        "--extra-index-url https://download.pytorch.org/whl/cpu"
        in requirements
    )
    assert re.search(r"^torch==\d+\.\d+\.\d+$", requirements, re.M)
    # repo2docker runs ./binder/postBuild from the tree's root; here as a
    # dry run that reinstalls, so that pip must find the wheel in wheels/
    env = student_environ(
        student_env, PIP_DRY_RUN=1, PIP_FORCE_REINSTALL=1, PIP_FIND_LINKS=None
    )
    result = subprocess.run(
        ["bash", "binder/postBuild"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Would install seqbook-{book_version()}" in result.stdout


def test_the_workflows_pass_actionlint():
    actionlint = Path(sys.executable).parent / "actionlint"
    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert workflows
    files = [*workflows, REPO / "publish" / "pages.yml"]
    result = subprocess.run(
        [str(actionlint), "-no-color", *map(str, files)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_can_fail(tmp_path):
    """Control: a workflow with an unknown event and a bad expression."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pusj\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    actionlint = Path(sys.executable).parent / "actionlint"
    result = subprocess.run(
        [str(actionlint), "-no-color", str(bad)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0


def test_students_are_sent_to_the_published_tree():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    students = readme.split("## Students and readers")[1].split("\n## ")[0]
    assert "Students never get it" in students
    for phrase in ("Get the repository", "git clone", "make setup"):
        assert phrase not in students, phrase
    intro = (REPO / "book" / "intro.md").read_text(encoding="utf-8")
    assert "README" not in intro.split("**As an instructor.**")[0]
    assert "{doc}`assignments`" in intro


def file_url_visit(page, url, errors):
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)
    return [e for e in errors if e]


@pytest.mark.slow
def test_the_site_works_from_the_file_system(published_tree):
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no /usr/bin/chromium (test_browser.py installs it)")
    from playwright.sync_api import sync_playwright

    _, tree = published_tree
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True
        )
        page = browser.new_page()
        errors = []
        page.on(
            "console", lambda m: m.type == "error" and errors.append(m.text)
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append("failed " + r.url))
        page.goto((tree / "index.html").as_uri())
        page.wait_for_url("**/book/intro.html")
        for name in toc_files():
            page.goto((tree / f"{name}.html").as_uri(), wait_until="load")
            assert page.locator("h1").count() >= 1, name
            # the theme's stylesheet applies: the sidebar is laid out
            assert page.locator(".bd-sidebar-primary").is_visible(), name
        # math, a link to the next page, the search
        page.goto((tree / "book" / "rnn.html").as_uri())
        page.wait_for_function(
            "document.querySelectorAll('mjx-container').length > 0",
            timeout=60_000,
        )
        pages = toc_files()
        following = pages[pages.index("book/rnn") + 1]
        page.click("a.right-next")
        page.wait_for_url(f"**/{following}.html")
        page.goto((tree / "search.html").as_uri() + "?q=LSTM")
        page.wait_for_selector("#search-results li a", timeout=60_000)
        browser.close()
    assert errors == []


def test_the_address_gives_the_site_and_the_launch_links():
    buttons = {
        "colab_url": "https://colab.research.google.com",
        "binderhub_url": "https://mybinder.org",
    }
    where = published("https://github.com/Org/Course.git", "", "", buttons)
    assert where.site == "https://org.github.io/Course/"
    assert where.wheels == "https://org.github.io/Course/wheels/"
    assert where.colab("book/rnn.ipynb") == (
        "https://colab.research.google.com/github/Org/Course/blob/main/"
        "book/rnn.ipynb"
    )
    assert where.binder("notebooks/rnn/rnn.ipynb") == (
        "https://mybinder.org/v2/gh/Org/Course/main"
        "?urlpath=lab/tree/notebooks/rnn/rnn.ipynb"
    )
    custom = published("https://github.com/o/n", "pages", "https://x.edu/seq")
    assert custom.site == "https://x.edu/seq/" and custom.colab("a") == ""
    assert published("") is None
    with pytest.raises(ValueError, match="GitHub"):
        published("https://gitlab.com/o/n")
