"""The book builds with warnings as errors and every page executes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder import course

from submissions import REPO


def toc_files():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]
    for chapter in toc.get("chapters", []):
        files.append(chapter["file"])
    return files


@pytest.fixture(scope="session")
def built(tmp_path_factory):
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


def test_book_builds_without_warnings(built):
    result, _ = built
    assert result.returncode == 0, (
        result.stdout[-4000:] + result.stderr[-4000:]
    )
    # Sphinx's warnings look like "path: WARNING: ..."; the kernel's own
    # start-up notices on stderr are not about the book.
    warnings = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if ": WARNING:" in line
    ]
    assert not warnings, warnings


def test_every_chapter_page_exists_and_executed(built):
    _, html = built
    for name in toc_files():
        page = html / f"{name}.html"
        assert page.exists(), page
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, name
        assert 'class="output error"' not in text, name


CHAPTERS = [name for name in toc_files() if name != "book/intro"]


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapters_have_outputs_and_figures_with_alt_text(built, name):
    _, html = built
    text = (html / f"{name}.html").read_text(encoding="utf-8")
    assert "cell_output" in text, name
    images = re.findall(r"<img[^>]*>", text)
    assert images, f"{name} has no figure"
    for tag in images:
        assert re.search(r'alt="[^"]{8,}"', tag), (name, tag[:200])


@pytest.mark.parametrize("assignment", course.assignments())
def test_chapter_links_its_assignment(built, assignment):
    _, html = built
    page = html / "book" / f"{assignment}.html"
    assert page.exists(), f"no chapter book/{assignment}.md"
    text = page.read_text(encoding="utf-8")
    links = re.findall(rf'href="([^"]*{assignment}\.ipynb)"', text)
    assert links, f"the chapter does not link {assignment}.ipynb"
    target = (html / "book" / links[0]).resolve()
    assert target.exists()
    release = REPO / "notebooks" / assignment / f"{assignment}.ipynb"
    assert target.read_bytes() == release.read_bytes()
