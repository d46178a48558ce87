"""Packages and pins that install anywhere (issue 12, sections 1 and 2).

The course library builds as a wheel with the standard tool, holds the
library and nothing of the grader, the solutions or the hidden checks;
its version is VERSION's; its declared dependencies are ranges without
torch; no pin anywhere carries a local version label (``+cpu``).
"""

import re
import tomllib
import zipfile
from email.parser import Parser

import pytest
from packaging.requirements import Requirement

from publish import book_version, install_cell
from publish.tree import binder_files
from submissions import REPO

# Text that only the grader, the solutions or the hidden tests hold.
SECRET_MARKERS = [
    "### BEGIN SOLUTION",
    "### BEGIN HIDDEN TESTS",
    "_check(",
    "autograder",
    "nbgrader",
]


def requirement_lines(text):
    """The requirement lines of a requirements or constraints file."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            yield line


def local_labels(requirements):
    """The requirements whose version carries a local label (``+...``)."""
    found = []
    for line in requirements:
        requirement = Requirement(line)
        if any("+" in spec.version for spec in requirement.specifier):
            found.append(line)
    return found


def pyproject():
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def test_the_label_check_catches_a_local_version_label():
    pins = ["numpy==2.4.6", "torch==2.13.0+cpu", "tqdm>=4"]
    assert local_labels(pins) == ["torch==2.13.0+cpu"]


@pytest.mark.parametrize(
    "name", ["requirements.txt", "constraints.txt", "binder/requirements.txt"]
)
def test_no_pin_carries_a_local_version_label(name):
    if name.startswith("binder/"):
        text = binder_files()["requirements.txt"]
    else:
        text = (REPO / name).read_text(encoding="utf-8")
    lines = list(requirement_lines(text))
    assert any(line.startswith("torch") for line in lines), name
    assert local_labels(lines) == [], (
        f"{name}: a local version label matches only a build that carries "
        "it, which the package index does not have"
    )


def test_declared_dependencies_are_ranges_without_torch():
    project = pyproject()["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    assert requirements
    for requirement in requirements:
        assert requirement.name != "torch", (
            "the install cell must never install torch: seqbook may not "
            "depend on it"
        )
        for spec in requirement.specifier:
            assert spec.operator not in ("==", "==="), requirement
    assert local_labels(project["dependencies"]) == []


def test_the_version_lives_in_VERSION():
    config = pyproject()
    assert "version" not in config["project"]
    assert config["project"]["dynamic"] == ["version"]
    dynamic = config["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"file": "VERSION"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", book_version())
    assert f'"seqbook=={book_version()}"' in install_cell.source()


@pytest.mark.slow
def test_the_wheel_holds_the_course_library_and_nothing_else(course_wheels):
    wheel = course_wheels["seqbook"]
    version = book_version()
    assert wheel.name == f"seqbook-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = f"seqbook-{version}.dist-info/"
        for name in names:
            assert name.startswith(("seqbook/", dist_info)), name
            for part in ("autograder", "solutions", "tests/", "checks"):
                assert part not in name, name
            if name.endswith((".py", ".json", ".txt", ".md", ".ipynb")):
                text = archive.read(name).decode("utf-8")
                for marker in SECRET_MARKERS:
                    assert marker not in text, (name, marker)
        metadata = Parser().parsestr(
            archive.read(dist_info + "METADATA").decode("utf-8")
        )
    assert metadata["Version"] == version
    required = metadata.get_all("Requires-Dist") or []
    assert not [r for r in required if Requirement(r).name == "torch"]
    # the library, its corpora and the chapters' experiment records
    shipped = {n.removeprefix("seqbook/") for n in names}
    expected = {
        p.relative_to(REPO / "seqbook").as_posix()
        for p in (
            list((REPO / "seqbook").glob("*.py"))
            + list((REPO / "seqbook" / "data").glob("*"))
        )
    }
    assert expected <= shipped, expected - shipped
