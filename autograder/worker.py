"""Grade one submission with nbgrader, in a process of its own.

Run by :mod:`autograder.grading` as
``python -m autograder.worker JOB_JSON``; the job names the assignment, the
student, the submitted notebook, a fresh work folder and where to write the
result. The work folder is a small nbgrader course of its own with a copy of
the master gradebook, so that submissions can be graded in parallel without
sharing a database. The parent enforces the time limit for the whole
notebook by killing this process group.
"""

import contextlib
import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

from autograder import course

HIDDEN = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?",
    re.DOTALL | re.MULTILINE,
)


def _grades(db, assignment, student, notebook):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        nb = gb.find_submission_notebook(notebook, assignment, student)
        return {
            g.name: (g.score, g.max_score) for g in nb.grades if g.max_score
        }


def sanitize_for_feedback(path):
    """Strip hidden tests and every traceback of the test cells, in place.

    A failing test cell keeps only its error's name and message (which our
    checks write for students) and loses its stderr; the source lines of
    hidden tests, and of the checks they call, never reach the feedback.
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] != "code" or not meta.get("grade"):
            continue
        source = cell["source"]
        if isinstance(source, list):
            source = "".join(source)
        cell["source"] = HIDDEN.sub("", source).rstrip("\n")
        # Warnings raised inside the hidden checks print their source lines
        # on stderr: a test cell's stderr is not shown.
        cell["outputs"] = [
            o
            for o in cell.get("outputs", [])
            if not (
                o.get("output_type") == "stream" and o.get("name") == "stderr"
            )
        ]
        for output in cell["outputs"]:
            if output.get("output_type") == "error":
                output["traceback"] = [
                    f"{output.get('ename', 'Error')}: "
                    f"{output.get('evalue', '')}"
                ]
    Path(path).write_text(json.dumps(nb, indent=1), encoding="utf-8")


def _timed_out(path):
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get(
                "ename"
            ) in ("CellTimeoutError", "TimeoutError"):
                return True
    return False


def grade_one(job):
    assignment, student = job["assignment"], job["student"]
    work = Path(job["workdir"])
    if work.exists():
        shutil.rmtree(work)
    submitted = work / "submitted" / student / assignment
    submitted.mkdir(parents=True)
    shutil.copy(job["master_db"], work / "gradebook.db")
    shutil.copy(job["notebook"], submitted / f"{assignment}.ipynb")

    course.quiet_nbgrader()
    api = course._api(work, cell_timeout=job["cell_timeout"])
    with contextlib.redirect_stdout(io.StringIO()):
        result = api.autograde(assignment, student, force=True, create=True)
    log = result.get("log", "") + str(result.get("error", ""))
    autograded = (
        work / "autograded" / student / assignment / f"{assignment}.ipynb"
    )
    if not result["success"] or not autograded.exists():
        if re.search(r"DeadKernelError|Kernel died|kernel died", log):
            return {
                "status": "kernel_died",
                "detail": "the kernel died while running the notebook",
            }
        if "UnresponsiveKernel" in log or "unresponsive" in log:
            return {
                "status": "timeout",
                "detail": "the kernel stopped responding",
            }
        if "Timeout" in log:
            return {"status": "timeout", "detail": "a cell timed out"}
        last = [line for line in log.splitlines() if line.strip()][-3:]
        return {
            "status": "error",
            "detail": "nbgrader could not grade it: " + " / ".join(last),
        }

    grades = _grades(work / "gradebook.db", assignment, student, assignment)
    status, detail = "graded", ""
    if _timed_out(autograded):
        status = "timeout"
        detail = f"a cell ran longer than {job['cell_timeout']} s"

    sanitize_for_feedback(autograded)
    with contextlib.redirect_stdout(io.StringIO()):
        feedback = api.generate_feedback(assignment, student, force=True)
    html = work / "feedback" / student / assignment / f"{assignment}.html"
    feedback_path = None
    if feedback["success"] and html.exists():
        target = Path(job["feedback"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(html, target)
        feedback_path = str(target)
    return {
        "status": status,
        "detail": detail,
        "cells": {name: score for name, (score, _) in grades.items()},
        "feedback": feedback_path,
    }


def run_job(job):
    """Grade one job and write its result file; never raises."""
    try:
        outcome = grade_one(job)
    except Exception as error:  # reported as a row, never a crash
        outcome = {
            "status": "error",
            "detail": f"{type(error).__name__}: {error}",
        }
    Path(job["result"]).write_text(json.dumps(outcome), encoding="utf-8")


def serve(done_fd):
    """Grade the jobs read from stdin, one JSON object a line, in turn.

    nbgrader is imported once for all of them. After each job the result
    file is written and a line goes to ``done_fd``, so that what the
    kernels print on stdout never mixes with the protocol.
    """
    import nbgrader.apps  # noqa: F401  (the slow import, done once)

    course.quiet_nbgrader()
    for line in sys.stdin:
        if not line.strip():
            continue
        run_job(json.loads(line))
        os.write(done_fd, b"done\n")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        return serve(int(argv[1]))
    run_job(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
