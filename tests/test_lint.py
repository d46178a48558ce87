"""The course's Python code passes ruff (config in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

from submissions import REPO

RUFF = Path(sys.executable).parent / "ruff"
CODE = [
    "autograder",
    "seqbook",
    "publish",
    "tests",
    "benchmarks",
    "experiments",
]


def test_ruff_check():
    result = subprocess.run(
        [str(RUFF), "check", *CODE], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_ruff_format():
    result = subprocess.run(
        [str(RUFF), "format", "--check", *CODE],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
