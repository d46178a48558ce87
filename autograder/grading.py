"""Grade a class: one row per student, whatever their notebooks hold.

Each submission is graded by :mod:`autograder.worker` in a process group of
its own, with a time limit for the whole notebook; ``jobs`` submissions run
at once. Missing and unreadable notebooks get a row with their status
without starting a kernel.
"""

import csv
import html
import json
import os
import queue
import select
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from tqdm import tqdm

from autograder import course

FIXED_COLUMNS = ["student_id", "assignment", "score", "max_score", "status"]


def graded_cells(assignment):
    """(grade_id, points) of the graded test cells, in notebook order."""
    path = course.SOLUTIONS / assignment / f"{assignment}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("points"):
            cells.append((meta["grade_id"], float(meta["points"])))
    return cells


def check_notebook(path, assignment):
    """None when the file can be graded, else (status, detail)."""
    path = Path(path)
    if not path.exists():
        folder = path.parent
        others = (
            sorted(p.name for p in folder.glob("*.ipynb"))
            if folder.is_dir()
            else []
        )
        if others:
            return ("missing", f"no {path.name}; found {', '.join(others)}")
        return ("missing", f"no {assignment}/{path.name} in the submission")
    if path.stat().st_size == 0:
        return ("invalid_notebook", "the notebook file is empty")
    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except Exception as error:
        reason = str(error).splitlines()[0][:200] if str(error) else ""
        return (
            "invalid_notebook",
            f"not a readable notebook ({type(error).__name__}: {reason})",
        )
    return None


class Worker:
    """A grading process (see :mod:`autograder.worker`) that stays alive
    across submissions, so nbgrader is imported once per worker, not once
    per student. A submission that overruns its time limit gets the
    worker's whole process group (its kernel included) killed; the next
    submission starts a fresh worker."""

    def __init__(self):
        self.process = None
        self.done = None

    def _start(self):
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autograder.worker",
                "--serve",
                str(write_fd),
            ],
            cwd=course.REPO,
            env=course.os_environ_for_kernel(),
            start_new_session=True,
            pass_fds=(write_fd,),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        self.done = os.fdopen(read_fd, "rb", buffering=0)

    def stop(self):
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.done.close()
        if self.process.stdin:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        self.process = None

    def grade(self, job, notebook_timeout):
        result_file = Path(job["result"])
        result_file.parent.mkdir(parents=True, exist_ok=True)
        if result_file.exists():
            result_file.unlink()
        if self.process is None or self.process.poll() is not None:
            self.stop()
            self._start()
        started = time.monotonic()
        try:
            self.process.stdin.write((json.dumps(job) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            self.stop()
            return {"status": "error", "detail": "the grader's worker died"}
        ready, _, _ = select.select([self.done], [], [], notebook_timeout)
        line = self.done.readline() if ready else b""
        if not ready or not line:
            self.stop()
            if not ready:
                outcome = {
                    "status": "timeout",
                    "detail": f"the notebook ran longer than "
                    f"{notebook_timeout} s",
                }
            else:
                outcome = {
                    "status": "error",
                    "detail": "the grader's worker died",
                }
        elif result_file.exists():
            outcome = json.loads(result_file.read_text(encoding="utf-8"))
        else:
            outcome = {
                "status": "error",
                "detail": "the grader's worker wrote no result",
            }
        outcome["seconds"] = round(time.monotonic() - started, 2)
        return outcome


def _failure_feedback(path, student, assignment, status, detail):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(assignment)}: {html.escape(student)}</title>"
        "</head><body>"
        f"<h1>Assignment {html.escape(assignment)}</h1>"
        f"<p>Student: {html.escape(student)}</p>"
        f"<p>Your submission could not be graded: <b>{html.escape(status)}</b>"
        f" ({html.escape(detail)}). Score: 0.</p></body></html>\n",
        encoding="utf-8",
    )


def grade(
    assignment,
    submissions,
    out,
    jobs=1,
    cell_timeout=60,
    notebook_timeout=300,
    feedback_dir=None,
    progress=True,
):
    """Grade every student folder in ``submissions``; write the CSV ``out``.

    Returns the list of rows (dicts) written.
    """
    if assignment not in course.assignments():
        raise ValueError(
            f"unknown assignment {assignment!r}; the course has "
            f"{', '.join(course.assignments())}"
        )
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    out = Path(out)
    feedback_dir = (
        Path(feedback_dir)
        if feedback_dir
        else out.parent / "feedback" / assignment
    )
    master_db = course.ensure_gradebook(assignment)
    cells = graded_cells(assignment)
    max_score = sum(points for _, points in cells)
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir())
    work_root = course.GRADING / assignment

    rows = {}

    def finish(student, outcome):
        earned = {
            name: float(outcome.get("cells", {}).get(name, 0) or 0)
            for name, _ in cells
        }
        row = {
            "student_id": student,
            "assignment": assignment,
            "score": round(sum(earned.values()), 4),
            "max_score": max_score,
            "status": outcome["status"],
            **earned,
        }
        feedback = feedback_dir / f"{student}.html"
        if not outcome.get("feedback"):
            _failure_feedback(
                feedback,
                student,
                assignment,
                outcome["status"],
                outcome.get("detail", ""),
            )
        rows[student] = (row, outcome)

    pending = []
    for student in students:
        notebook = submissions / student / assignment / f"{assignment}.ipynb"
        problem = check_notebook(notebook, assignment)
        if problem:
            finish(
                student,
                {"status": problem[0], "detail": problem[1], "seconds": 0.0},
            )
        else:
            pending.append((student, notebook))

    def job_for(student, notebook):
        work = work_root / student
        return {
            "assignment": assignment,
            "student": student,
            "notebook": str(notebook.resolve()),
            "workdir": str(work),
            "result": str(work) + ".result.json",
            "master_db": str(master_db),
            "cell_timeout": cell_timeout,
            "feedback": str((feedback_dir / f"{student}.html").resolve()),
        }

    bar = tqdm(
        total=len(students),
        desc=f"grading {assignment}",
        unit="nb",
        disable=not progress,
        initial=len(rows),
    )
    workers = queue.Queue()
    for _ in range(max(1, jobs)):
        workers.put(Worker())

    def run(student, notebook):
        worker = workers.get()
        try:
            return worker.grade(job_for(student, notebook), notebook_timeout)
        finally:
            workers.put(worker)

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(run, s, nb): s for s, nb in pending}
            for future in as_completed(futures):
                student = futures[future]
                try:
                    outcome = future.result()
                except Exception as error:  # one bad submission never
                    outcome = {"status": "error", "detail": repr(error)}
                finish(student, outcome)
                bar.set_postfix_str(f"{student}: {outcome['status']}")
                bar.update(1)
    finally:
        while not workers.empty():
            workers.get().stop()
    bar.close()

    ordered = [rows[s] for s in students]
    _write_csv(out, [row for row, _ in ordered], [name for name, _ in cells])
    _write_details(out, ordered)
    if progress:
        _summary(ordered, max_score, out, feedback_dir)
    return [row for row, _ in ordered]


def _write_csv(out, rows, cell_names):
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIXED_COLUMNS + cell_names)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)


def _write_details(out, ordered):
    """A JSON-lines log beside the CSV: why each row has its status."""
    path = out.with_suffix(".details.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for row, outcome in ordered:
            f.write(
                json.dumps(
                    {
                        "student_id": row["student_id"],
                        "status": row["status"],
                        "score": row["score"],
                        "detail": outcome.get("detail", ""),
                        "seconds": outcome.get("seconds", 0.0),
                    }
                )
                + "\n"
            )


def _summary(ordered, max_score, out, feedback_dir):
    counts = {}
    for row, _ in ordered:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    scores = [row["score"] for row, _ in ordered]
    print(
        f"\n{len(ordered)} submissions: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    )
    if scores:
        print(
            f"score out of {max_score:g}: mean {statistics.mean(scores):.2f}"
            f", median {statistics.median(scores):.2f}"
        )
    slow = sorted(ordered, key=lambda r: -r[1].get("seconds", 0))[:3]
    if slow and slow[0][1].get("seconds"):
        print(
            "slowest: "
            + ", ".join(
                f"{row['student_id']} {o.get('seconds', 0):.1f} s"
                for row, o in slow
            )
        )
    for row, outcome in ordered:
        if row["status"] != "graded":
            print(
                f"  {row['student_id']}: {row['status']}: "
                f"{outcome.get('detail', '')}"
            )
    print(f"grades: {out}\nfeedback: {feedback_dir}/")
