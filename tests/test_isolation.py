"""Nothing one submission leaves reaches the next.

One worker (``--jobs 1``) grades three rnn submissions in turn, in the
order of their names, each in a kernel started ahead of time, while the
one before it was graded (:mod:`autograder.worker.ahead`). The first
leaves what it can: a global, an environment variable, files in its
working folder, its home, its temporary folder, /tmp, /var/tmp and
/dev/shm, and a process that leaves its session and outlives its
kernel. The second looks for all of it and prints what it found, then
leaves the same. The third looks (nothing of the second's: the kernel
started ahead for the second is not used again), leaves, and looks
again: the control, which shows that the search finds what is there.
Each look also says whether its kernel was started ahead and how many
cells it had run (the same count in the second and the third: a fresh
kernel each time).

The files and the process are out of reach only where the kernels are
sandboxed (root, namespaces): elsewhere a kernel runs as the grader's
user, and the test is skipped, saying so.
"""

import csv
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from submissions import REPO, make_submission

pytestmark = pytest.mark.slow
MARK = "seqbook-leftover"

LEAVE = f'''
import builtins, os, subprocess, sys, tempfile
builtins.SEQBOOK_LEFTOVER = 1
os.environ["SEQBOOK_LEFTOVER"] = "1"
PLACES = [os.getcwd(), os.path.expanduser("~"), tempfile.gettempdir(),
          "/tmp", "/var/tmp", "/dev/shm"]
for place in PLACES:
    try:
        with open(os.path.join(place, "{MARK}.txt"), "w") as f:
            f.write("left")
    except OSError:
        pass
LURKER = """
import os, time
if os.fork():
    os._exit(0)
os.setsid()
time.sleep(600)
"""
subprocess.Popen([sys.executable, "-c", LURKER, "{MARK}-process"],
                 start_new_session=True).wait()
'''

LOOK = f'''
import builtins, os, tempfile, time
time.sleep(1)
found = []
if hasattr(builtins, "SEQBOOK_LEFTOVER"):
    found.append("global")
if "SEQBOOK_LEFTOVER" in os.environ:
    found.append("environment")
for place in [os.getcwd(), os.path.expanduser("~"), tempfile.gettempdir(),
              "/tmp", "/var/tmp", "/dev/shm"]:
    if os.path.exists(os.path.join(place, "{MARK}.txt")):
        found.append("file in " + place)
for pid in os.listdir("/proc"):
    try:
        with open(f"/proc/{{pid}}/cmdline", "rb") as f:
            if b"{MARK}-process" in f.read():
                found.append("process")
    except OSError:
        pass
with open("/proc/self/cmdline", "rb") as f:
    ahead = b'"ahead": true' in f.read()  # the launcher's settings
print("LEFTOVERS:", sorted(set(found)) or "none", "END")
print("KERNEL:", "ahead" if ahead else "started", "END")
print("CELLS RUN:", get_ipython().execution_count, "END")  # noqa: F821
'''


def sandboxed():
    from autograder.worker.box import sandbox_available

    return sandbox_available()


def found_in(page, what="LEFTOVERS"):
    """What the looks of ``page`` report, in order."""
    text = html.unescape(Path(page).read_text(encoding="utf-8"))
    text = re.sub(r"<[^>]+>", "", text)
    found = re.findall(rf"{what}: (.*?) END", text)
    assert found, f"no report in {page}"
    return found


@pytest.mark.skipif(
    not sandboxed(), reason="kernels are sandboxed only as root on Linux"
)
def test_nothing_one_submission_leaves_reaches_the_next(tmp_path):
    subs = tmp_path / "submitted"
    cell = "rnn_step_forward"
    make_submission("rnn", subs / "a_leaves", solved=False,
                    replace={cell: LEAVE})  # fmt: skip
    make_submission("rnn", subs / "b_looks", solved=False,
                    replace={cell: LOOK + LEAVE})  # fmt: skip
    make_submission("rnn", subs / "c_control", solved=False,
                    replace={cell: LOOK + LEAVE + LOOK})  # fmt: skip
    out = tmp_path / "grades" / "rnn.csv"
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "rnn", str(subs)]
        + ["--out", str(out), "--jobs", "1", "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    with open(out, newline="", encoding="utf-8") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert {row["status"] for row in rows.values()} == {"graded"}
    pages = tmp_path / "grades" / "feedback" / "rnn"
    b, c = pages / "b_looks.html", pages / "c_control.html"
    first, control = found_in(c)
    for leftover in ("global", "environment", "process", "file in /tmp"):
        assert leftover in control, control
    assert found_in(b) == ["none"]
    assert first == "none"
    # each in a kernel started ahead, fresh: no cell of another notebook
    assert found_in(b, "KERNEL") == ["ahead"]
    assert found_in(c, "KERNEL") == ["ahead", "ahead"]
    runs = found_in(b, "CELLS RUN") + found_in(c, "CELLS RUN")[:1]
    assert runs[0] == runs[1], runs
    # and the process the first one left is gone from the machine
    lurkers = subprocess.run(
        ["pgrep", "-f", f"{MARK}-process"], capture_output=True, text=True
    )
    assert lurkers.stdout.strip() == "", lurkers.stdout
