"""What a graded kernel finds of an installed grader's package: a cell
that looks in its site-packages, and the assertion that it found only
the judge's kernel side (test_grader_wheel.py; kept here so that the
test module stays as the packaging task shapes it)."""

import html
import json

from autograder.judge import KERNEL_SIDE
from submissions import solution_sources

# Run in the graded kernel: what it finds of the installed grader's
# package in its site-packages (the files, and any that holds a check
# or the judge's server).
PROBE = r"""
import glob, json, os, site, sys
seen = {"packages": [], "files": [], "secrets": []}
where = set(site.getsitepackages())
where |= set(glob.glob(sys.prefix + "/lib/python*/site-packages"))
for folder in sorted(where):
    package = os.path.join(folder, "autograder")
    if not os.path.isdir(package):
        continue
    seen["packages"].append(package)
    for root, _, names in os.walk(package):
        for name in names:
            path = os.path.join(root, name)
            seen["files"].append(os.path.relpath(path, package))
            with open(path, "rb") as f:
                data = f.read()
            for needle in (b"def rnn_step_" + b"forward(student",
                           b"class " + b"Judge:"):
                if needle in data:
                    seen["secrets"].append(path)
print("PROBE" + "D " + json.dumps(seen) + " :PROBE" + "D")
"""


def probing_cells():
    """rnn's solution cells that replace the reference's: its first
    function, after the probe (the notebook still earns full marks)."""
    step = solution_sources("rnn")["rnn_step_forward"]
    return {"rnn_step_forward": PROBE + "\n" + step}


def assert_kernel_saw_only_the_kernel_side(page, package, files):
    """The installed ``package`` holds the checks (``files``: its (path,
    size, mtime)); the kernel, sandboxed, found there only the judge's
    kernel side, as printed on its feedback ``page``."""
    from autograder.worker.box import sandbox_probe

    assert str(package / "checks" / "rnn.py") in {f[0] for f in files}
    probe = sandbox_probe()
    assert probe.mode is not None, f"no sandbox here: {probe.reason}"
    text = html.unescape(page.read_text(encoding="utf-8"))
    start = text.index("PROBED ") + len("PROBED ")
    seen = json.loads(text[start : text.index(" :PROBED", start)])
    assert seen["packages"] == [str(package)], seen["packages"]
    assert sorted(seen["files"]) == sorted(KERNEL_SIDE), seen["files"]
    assert seen["secrets"] == [], seen["secrets"]
