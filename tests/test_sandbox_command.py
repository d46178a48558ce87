"""The bubblewrap command of autograder/worker/sandbox.py, run directly
(quick): what a program started by it sees of folders that lie in the
host's /tmp, where a Python installation may lie (a grader installed
into a virtual environment there) and where the box always lies."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.worker import sandbox

UID = 1_000_000 + os.getpid()

# Run in the sandbox: become a user of its own (as root, as the launcher
# does), then say what it can read and write.
SEE = r"""
import json, os, sys
shown, sibling, uid = sys.argv[1:4]
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(int(uid))
    os.setuid(int(uid))
seen = {"uid": os.getuid(), "sibling": os.path.exists(sibling)}
with open(os.path.join(shown, "lib.txt")) as f:
    seen["shown"] = f.read()
try:
    with open("/tmp/probe", "x") as f:
        f.write("x")
    seen["tmp"] = "writable"
except OSError as error:
    seen["tmp"] = str(error)
try:
    with open(os.path.join(shown, "new"), "x"):
        pass
    seen["shown_writable"] = True
except OSError:
    seen["shown_writable"] = False
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def mode():
    found = sandbox.probe()
    assert found.mode is not None, f"no sandbox here: {found.reason}"
    return found.mode


def _box():
    box = Path(tempfile.mkdtemp(prefix="seqbook-probe-test-"))
    box.chmod(0o755)
    for name in ("etc", "ipc", "work", "home", "tmp"):
        (box / name).mkdir()
    (box / "tmp").chmod(0o1777)
    for name in ("passwd", "group"):
        (box / "etc" / name).write_text("")
    return box


def test_a_folder_in_the_hosts_tmp_is_shown_over_the_kernels_tmp(
    mode, tmp_path
):
    """tmp_path lies in /tmp, under a folder only root may enter
    (pytest-of-root, 0700): the shown folder is readable by the kernel's
    own user and read-only, its sibling does not exist, and the kernel's
    /tmp is still its own to write."""
    assert str(tmp_path).startswith("/tmp/")
    shown, sibling = tmp_path / "python", tmp_path / "solutions"
    shown.mkdir()
    sibling.mkdir()
    (shown / "lib.txt").write_text("the installation")
    box = _box()
    try:
        folders = (*sandbox.python_folders(), str(shown))
        plan = sandbox.Plan(mode, box, folders, tmp_size=2**20)
        result = subprocess.run(
            sandbox.command(plan)
            + [sys.executable, "-c", SEE, str(shown), str(sibling), str(UID)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        subprocess.run(["rm", "-rf", str(box)], check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["shown"] == "the installation"
    assert seen["sibling"] is False
    assert seen["tmp"] == "writable"
    assert seen["shown_writable"] is False
    if mode == "root":
        assert seen["uid"] == UID
