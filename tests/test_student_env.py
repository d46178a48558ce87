"""Notebooks that run in any Jupyter (issue 12, sections 1 and 3).

In one fresh virtual environment outside the repository (the session's
``student_env``, see student_env.py): the install cell installs the course
library from the built wheel, and only it; a release notebook then runs
its set-up and its first exercise's visible test; every chapter notebook
runs top to bottom from an empty folder. In the course's own environment
the cell does nothing and never runs pip.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from publish import book_version, install_cell
from publish.notebooks import chapter_notebook
from student_env import run_cell_with_pip_log, student_environ
from submissions import REPO
from pages import chapters

CHAPTERS = chapters()

pytestmark = pytest.mark.slow


def installs(report):
    """[(name, version, url)] of a pip install report."""
    return [
        (
            item["metadata"]["name"].lower(),
            item["metadata"]["version"],
            item["download_info"]["url"],
        )
        for item in report["install"]
    ]


def outputs_text(cell):
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        parts.append("".join(output.get("data", {}).get("text/plain", "")))
        if output.get("output_type") == "error":
            parts.append(f"ERROR {output['ename']}: {output['evalue']}")
    return "".join(parts)


def test_the_install_cell_installs_only_the_library_following_pip(
    student_env,
):
    """With torch present and pip pointed at the wheel folder through its
    own variables, the cell's pip would install seqbook and nothing else."""
    assert "torch" in student_env.env.installed()
    (install,) = installs(student_env.plan_from_pip_settings)
    name, version, url = install
    assert (name, version) == ("seqbook", book_version())
    assert url == student_env.wheels["seqbook"].as_uri()


def test_the_published_cell_finds_the_wheel_on_the_site(student_env):
    """The published cell, its site served as GitHub Pages serves the
    tree's wheels/ folder, and no pip setting of ours."""
    (install,) = installs(student_env.plan_from_site)
    name, version, url = install
    assert (name, version) == ("seqbook", book_version())
    wheel = student_env.wheels["seqbook"].name
    assert url == f"{student_env.site_url}wheels/{wheel}"


def test_a_release_runs_to_its_first_visible_test(student_env):
    result = student_env.first_run
    nb = student_env.first_notebook
    assert result.returncode == 0, (
        result.stdout[-3000:] + result.stderr[-3000:]
    )
    cells = nb["cells"]
    install = outputs_text(cells[0])
    assert f"Successfully installed seqbook-{book_version()}" in install
    for cell in cells:
        assert "ERROR" not in outputs_text(cell), cell["source"]
    # the first exercise's visible test passed
    test = outputs_text(cells[-2])
    assert "visible tests passed" in test, test
    # the kernel was the fresh environment's, seqbook its installed copy
    (probe,) = [
        line
        for line in outputs_text(cells[-1]).splitlines()
        if line.startswith("PROBE")
    ]
    found = json.loads(probe.removeprefix("PROBE"))
    venv = student_env.env.path.resolve()
    assert Path(found["prefix"]).resolve() == venv
    seqbook = Path(found["seqbook"]).resolve()
    assert seqbook.is_relative_to(venv), seqbook
    assert not seqbook.is_relative_to(REPO), seqbook


def test_the_cell_does_nothing_once_the_library_is_installed(
    student_env, tmp_path
):
    result, pip_ran = run_cell_with_pip_log(
        student_env.env.python, tmp_path, student_environ(student_env)
    )
    assert result.returncode == 0, result.stderr
    assert not pip_ran and result.stdout == ""


@pytest.fixture(scope="module")
def chapter_runs(student_env, tmp_path_factory):
    """Every chapter's notebook run top to bottom in an empty folder of
    the student environment, two at a time: {chapter: (result, nb)}."""
    root = tmp_path_factory.mktemp("chapters")

    def run(name):
        folder = root / name.replace("/", "-")
        folder.mkdir()
        notebook = folder / (Path(name).name + ".ipynb")
        data = chapter_notebook(REPO / f"{name}.md")
        notebook.write_text(install_cell.dumps(data), encoding="utf-8")
        return student_env.env.run_notebook(
            notebook, folder, env=student_environ(student_env)
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(CHAPTERS, pool.map(run, CHAPTERS)))


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_chapter_runs_from_an_empty_folder(chapter_runs, name):
    result, nb = chapter_runs[name]
    assert result.returncode == 0, (
        result.stdout[-3000:] + result.stderr[-3000:]
    )
    assert nb["cells"][0]["id"] == install_cell.CELL_ID
    for cell in nb["cells"]:
        assert "ERROR" not in outputs_text(cell), cell["source"][:300]
