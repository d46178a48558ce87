"""The course's wheels, built with pip, installed into a fresh virtual
environment outside the repository (no editable install, no PYTHONPATH).

:data:`WHEELS` lists each wheel the course builds: its distribution name
and the folder of its ``pyproject.toml``; a new wheel joins with one line.
:func:`build_wheels` runs ``pip wheel`` on each; :class:`FreshEnv` is a
venv that installs them, with the versions of ``constraints.txt`` for
their dependencies, and runs commands there as a user's shell would.
"""

import os
import subprocess
import sys
from pathlib import Path

from submissions import REPO

CONSTRAINTS = REPO / "constraints.txt"
# distribution name -> the folder of its pyproject.toml
WHEELS = {
    "seqbook": REPO,
    "seqbook-grader": REPO / "grader",
}


def _run(command, **kwargs):
    result = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        timeout=kwargs.pop("timeout", 1800),
        **kwargs,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} failed:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def build_wheels(out, names=None):
    """Build the wheels ``names`` (default: all of WHEELS) into ``out``
    with ``pip wheel``; {distribution name: wheel path}."""
    out = Path(out)
    built = {}
    for name in names or WHEELS:
        before = set(out.glob("*.whl"))
        _run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps"]
            + ["--wheel-dir", out, WHEELS[name]],
            cwd=REPO,
        )
        (wheel,) = set(out.glob("*.whl")) - before
        built[name] = wheel
    return built


class FreshEnv:
    """A virtual environment at ``path``, made by :meth:`create`."""

    def __init__(self, path):
        self.path = Path(path)
        self.bin = self.path / ("Scripts" if os.name == "nt" else "bin")
        self.python = self.bin / (
            "python.exe" if os.name == "nt" else "python"
        )

    @classmethod
    def create(cls, path, wheels):
        """A new venv with ``wheels`` (paths) installed, their
        dependencies at the versions of constraints.txt."""
        env = cls(path)
        _run([sys.executable, "-m", "venv", env.path])
        env.pip("install", *wheels, "-c", CONSTRAINTS)
        return env

    def environ(self):
        """os.environ as a shell in this venv has it: its scripts first,
        no PYTHONPATH, nothing of another venv."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
        }
        env["PATH"] = os.pathsep.join([str(self.bin), env.get("PATH", "")])
        env["VIRTUAL_ENV"] = str(self.path)
        return env

    def run(self, args, cwd, timeout=1800):
        """``args`` (a command of this venv's bin, or python's arguments)
        in ``cwd``; the CompletedProcess."""
        args = [str(a) for a in args]
        if not (self.bin / args[0]).exists():
            args = [str(self.python), *args]
        else:
            args[0] = str(self.bin / args[0])
        return subprocess.run(
            args,
            cwd=cwd,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def pip(self, *args):
        return _run(
            [self.python, "-m", "pip", *args, "--disable-pip-version-check"],
            env=self.environ(),
        )
