"""A fresh virtual environment outside the repository, as a student has.

``FreshEnv.create(path)`` makes a venv with the course's runtime (torch,
the course library's dependencies, a Jupyter kernel and nbclient) at the
versions of ``constraints.txt``, but without the course library itself:
no editable install, no ``PYTHONPATH``. The tests install the built wheels
into it and run notebooks there from empty folders; the packaging
benchmark times installs into it.

torch comes from wherever pip's settings say; with ``TORCH_INDEX`` set
(PyTorch's CPU index, as ``make setup TORCH_INDEX=...``) that index is
added for it: the pin ``torch==2.13.0`` then matches ``2.13.0+cpu``
there, which pip prefers (a local version sorts above the plain one),
and torch's own dependencies still come from the usual index at the
versions of ``constraints.txt``.
"""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from publish import REPO

CONSTRAINTS = REPO / "constraints.txt"
# What a student's Jupyter has besides the course library: a kernel and,
# to run notebooks from a script, nbclient.
JUPYTER = ["ipykernel", "nbclient", "nbformat"]
# Runs a notebook with nbclient (argv: notebook, cells to run or -1 for
# all, where to write the executed copy). Given with -c, so that nothing
# of the repository lands on the runner's sys.path.
RUNNER = """
import sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
count = int(sys.argv[2])
if count >= 0:
    nb.cells = nb.cells[:count]
client = NotebookClient(nb, timeout=1200, kernel_name="python3",
                        resources={"metadata": {"path": "."}})
try:
    client.execute()
finally:
    nbformat.write(nb, sys.argv[3])
"""


def library_requirements():
    """The course library's declared dependencies (pyproject.toml)."""
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


class FreshEnv:
    """A virtual environment at ``path`` (see the module's doc)."""

    def __init__(self, path):
        self.path = Path(path)
        scripts = "Scripts" if os.name == "nt" else "bin"
        self.bin = self.path / scripts
        self.python = self.bin / (
            "python.exe" if os.name == "nt" else "python"
        )

    @classmethod
    def create(cls, path, packages=None):
        """A new venv at ``path`` with ``packages`` (default: torch, the
        course library's dependencies and Jupyter's kernel; [] for none)."""
        env = cls(path)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        if packages is None:
            packages = ["torch", *library_requirements(), *JUPYTER]
        torch_index = os.environ.get("TORCH_INDEX")
        if torch_index and "torch" in packages:
            env.pip(
                "install",
                "torch",
                "-c",
                CONSTRAINTS,
                "--extra-index-url",
                torch_index,
            )
        if packages:
            env.pip("install", *packages, "-c", CONSTRAINTS)
        return env

    def environ(self, **extra):
        """os.environ as a student's shell in this venv has it: the venv's
        scripts first, no PYTHONPATH, nothing of another venv; then
        ``extra`` (a value of None removes that variable)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
            # under pytest, ipykernel would not show what subprocesses print
            and not k.startswith("PYTEST_")
        }
        env["PATH"] = os.pathsep.join([str(self.bin), env.get("PATH", "")])
        env["VIRTUAL_ENV"] = str(self.path)
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value)
        return env

    def run(self, args, cwd=None, env=None, timeout=1800):
        """Run ``python args...`` of this venv; the CompletedProcess."""
        return subprocess.run(
            [str(self.python), *map(str, args)],
            cwd=cwd,
            env=env or self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def pip(self, *args, env=None):
        """``pip args...`` in this venv; raise with its output on failure."""
        result = self.run(
            ["-m", "pip", *args, "--disable-pip-version-check"], env=env
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"pip {' '.join(map(str, args))} failed:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def installed(self):
        """{distribution name (lower case): version} of this venv."""
        result = self.pip("list", "--format", "json")
        return {
            p["name"].lower(): p["version"] for p in json.loads(result.stdout)
        }

    def run_notebook(self, notebook, folder, cells=-1, env=None):
        """Run the first ``cells`` cells (-1: all) of ``notebook`` (a path)
        in ``folder`` with a kernel of this venv. Returns (CompletedProcess,
        the executed notebook as a dict, or None if nbclient wrote none)."""
        executed = Path(folder) / ("executed-" + Path(notebook).name)
        result = self.run(
            ["-c", RUNNER, notebook, cells, executed],
            cwd=folder,
            env=env,
            timeout=3000,
        )
        nb = None
        if executed.exists():
            nb = json.loads(executed.read_text(encoding="utf-8"))
        return result, nb
