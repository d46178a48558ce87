"""The self-check from inside the notebook: its last cell calls
:func:`check_my_work`.

The check runs the notebook's *file* in a fresh kernel (``python -m
seqbook.check``, in a process of its own), so it sees what the grader
will see: the notebook as last saved. Where the file is depends on where
the notebook runs:

- Jupyter, JupyterLab, VS Code, Binder: the file the notebook was opened
  from (the server names it to the kernel), else ``<assignment>.ipynb``
  in the notebook's folder. Unsaved edits are not in the file: the cell
  says so when the last cells you ran differ from the saved ones.
- Colab keeps the notebook in Google Drive, not on the machine that runs
  it: the check asks Colab for the notebook as it is in the editor, so
  unsaved edits are included; if Colab does not answer, it says how to
  check a downloaded copy.

Under the grader, and in the kernel this check starts, the cell does
nothing.
"""

import datetime
import os
import subprocess
import sys
from pathlib import Path

from seqbook.check.notebook import load, text
from seqbook.check.run import NESTED

# Set by the grading tool while it runs a notebook.
GRADING = "NBGRADER_EXECUTION"
RECENT = 5  # how many of the last cells run are compared with the file


def check_my_work(assignment, tests=None):
    """Check this notebook as the grader will: a fresh kernel runs the
    saved file from the top; a table shows each visible test's result.
    ``tests`` (grade_id -> points) are the tests the notebook was
    released with, so that a deleted one is noticed."""
    if os.environ.get(GRADING) or os.environ.get(NESTED):
        print("(the self-check does not run while a notebook is graded)")
        return
    if "google.colab" in sys.modules:
        _check_in_colab(assignment)
        return
    path = notebook_file(assignment)
    if path is None:
        print(
            f"Cannot find this notebook's file ({assignment}.ipynb in "
            f"{Path.cwd()}). Save it, or run in a terminal:\n"
            f"    python -m seqbook.check PATH/TO/{assignment}.ipynb"
        )
        return
    _say_what_is_checked(path)
    _run_checker(path)


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def notebook_file(assignment):
    """The notebook's file on this machine, or None."""
    shell = _shell()
    found = []
    if shell is not None and shell.user_ns.get("__vsc_ipynb_file__"):
        found.append(Path(shell.user_ns["__vsc_ipynb_file__"]))
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        found += [Path(session), Path.cwd() / Path(session).name]
    found.append(Path.cwd() / f"{assignment}.ipynb")
    for path in found:
        if path.suffix == ".ipynb" and path.is_file():
            return path.resolve()
    return None


def unsaved_cells(path):
    """How many of the last cells run in this kernel are not in the
    saved file as they were run (edited since, or never saved)."""
    shell = _shell()
    if shell is None:
        return 0
    try:
        saved = {text(c).strip() for c in load(path)["cells"]}
    except Exception:
        return 0
    history = shell.history_manager.input_hist_raw[1:-1]  # not this cell
    ran = [s.strip() for s in history if s.strip()][-RECENT:]
    return sum(source not in saved for source in ran)


def _say_what_is_checked(path):
    changed = datetime.datetime.fromtimestamp(path.stat().st_mtime)
    ago = datetime.datetime.now() - changed
    print(
        f"Checking {path.name} as saved at {changed:%H:%M:%S} "
        f"({int(ago.total_seconds() // 60)} min ago), in a fresh kernel: "
        "this takes about as long as running every cell."
    )
    unsaved = unsaved_cells(path)
    if unsaved:
        print(
            f"Note: {unsaved} of the last {RECENT} cells you ran differ from "
            "the saved file (edited since, or not saved): the check, like "
            "the grader, reads the file. Save (Ctrl+S), then run this cell "
            "again."
        )


def _run_checker(path):
    """``python -m seqbook.check path``, its report shown as it comes."""
    command = [sys.executable, "-m", "seqbook.check", str(path)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout:
            print(line, end="")
    return process.returncode


def _check_in_colab(assignment):
    import json
    import tempfile

    try:
        from google.colab import _message

        reply = _message.blocking_request("get_ipynb", timeout_sec=60)
        nb = reply["ipynb"]
    except Exception as error:
        print(
            "Colab keeps this notebook in Google Drive, and did not hand it "
            f"to the check ({type(error).__name__}). Download it (File → "
            f"Download → Download .ipynb) and run on your computer:\n"
            f"    python -m seqbook.check {assignment}.ipynb"
        )
        return
    print(
        "Colab keeps this notebook in Google Drive: checking it as it is "
        "in the editor now (unsaved edits included), in a fresh kernel. "
        f"Its name in Drive is not checked: hand it in as {assignment}.ipynb."
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / assignment / f"{assignment}.ipynb"
        path.parent.mkdir()
        path.write_text(json.dumps(nb), encoding="utf-8")
        _run_checker(path)
