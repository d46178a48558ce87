"""Grade a class: one row per student, whatever their notebooks hold.

Each submission is graded by :mod:`autograder.worker` in a process group of
its own, with a time limit for the whole notebook and, in the kernel, a
memory limit and a cap on output (see ``worker.limit_kernels``); ``jobs``
submissions run at once. Missing, unreadable, foreign and oversized
notebooks get a row with their status without starting a kernel
(:func:`prepare_notebook`).

Nothing is lost: every result is appended to the journal
``<csv stem>.details.jsonl`` (flushed and fsync'ed) as soon as it is known,
keyed by the student, the SHA-256 of the submitted notebook's bytes and the
SHA-256 of the assignment's source notebook, and the CSV is rewritten
atomically after every result. Running the same command again reuses
every journalled result whose keys still match and grades only the rest;
``regrade=True`` ignores the journal.
"""

import csv
import datetime
import fcntl
import hashlib
import html
import json
import os
import queue
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import nbformat
from tqdm import tqdm

from autograder import course

FIXED_COLUMNS = ["student_id", "assignment", "score", "max_score", "status"]

MB = 2**20
# A submitted file larger than this is not even parsed.
MAX_FILE_BYTES = 512 * MB
# The notebook that is graded, outputs removed, may be at most this large.
MAX_NOTEBOOK_BYTES = 50 * MB
DEFAULT_MEMORY_LIMIT = 4 * 2**30
DEFAULT_MAX_OUTPUT = 1 * MB
# Statuses that say the grader failed, not the student: a journalled
# result with one of them is graded again on the next run.
RETRIED_STATUSES = {"error"}
# What the kernel or its libraries say when an allocation fails.
MEMORY_WORDS = re.compile(
    r"MemoryError|bad_alloc|[Cc]an(?:no|')t allocate memory|"
    r"[Oo]ut of memory"
)


class Interrupted(Exception):
    """Grading stopped on SIGINT/SIGTERM after saving what was done."""

    def __init__(self, signum, done, remaining):
        super().__init__(f"interrupted: {remaining} submissions remain")
        self.signum = signum
        self.done = done
        self.remaining = remaining


class GraderBusy(RuntimeError):
    """Another grader is writing the same CSV."""


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


def _nbgrader_ids(cells):
    return {
        cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for cell in cells
        if isinstance(cell, dict)
        and isinstance(cell.get("metadata"), dict)
        and isinstance(cell["metadata"].get("nbgrader"), dict)
    } - {None}


def source_ids(assignment):
    """grade_ids of every nbgrader cell of the assignment's source."""
    path = course.SOLUTIONS / assignment / f"{assignment}.ipynb"
    return _nbgrader_ids(json.loads(path.read_text("utf-8"))["cells"])


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def assignment_sha256(assignment):
    """The key of the assignment in the journal: its source notebook."""
    return file_sha256(course.SOLUTIONS / assignment / f"{assignment}.ipynb")


def checks_sha256():
    """A digest of the hidden checks' code (autograder/checks, judge.py).

    Not part of the journal's key (a reused result stays reused), but a
    rerun warns when results were graded with other checks."""
    digest = hashlib.sha256()
    root = course.REPO / "autograder"
    for path in sorted(root.glob("checks/*.py")) + [root / "judge.py"]:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _sniff(raw):
    """A guess at what a file that is not a notebook is."""
    kinds = {
        b"PK\x03\x04": "a zip archive",
        b"%PDF": "a PDF document",
        b"\x89PNG": "a PNG image",
        b"\xff\xd8\xff": "a JPEG image",
    }
    for magic, kind in kinds.items():
        if raw.startswith(magic):
            return kind
    return None


def _others(student_dir, limit=5):
    """Notebooks a student submitted under another name or place."""
    if not student_dir.is_dir():
        return []
    found = sorted(
        str(p.relative_to(student_dir))
        for p in student_dir.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    )
    if len(found) > limit:
        found = found[:limit] + [f"and {len(found) - limit} more"]
    return found


def _strip_outputs(nb):
    """Remove every output, in place (nbformat 3 or 4); outputs are never
    needed to grade, nbgrader runs the notebook again."""
    cells = list(nb.get("cells") or [])
    for sheet in nb.get("worksheets") or []:
        if isinstance(sheet, dict):
            cells += sheet.get("cells") or []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            cell["outputs"] = []
            if "execution_count" in cell:
                cell["execution_count"] = None
            if "prompt_number" in cell:
                del cell["prompt_number"]


def own_ids(assignment):
    """grade_ids that only this assignment's source has (not ``setup``)."""
    others = set()
    for other in course.assignments():
        if other != assignment:
            others |= source_ids(other)
    return source_ids(assignment) - others


def _foreign(ids, assignment):
    """The assignment whose cells a notebook holds, if not ``assignment``."""
    best, overlap = None, 0
    for other in course.assignments():
        if other == assignment:
            continue
        common = len(ids & own_ids(other))
        if common > overlap:
            best, overlap = other, common
    return best


def prepare_notebook(path, assignment, dest=None):
    """Check a submitted notebook and write a gradable copy to ``dest``.

    Returns ``(status, detail)``: status None when the notebook can be
    graded (detail then says what was changed, if anything: an upgrade
    from an old format, large outputs removed), else the row's status:
    ``missing``, ``invalid_notebook``, ``wrong_assignment`` or
    ``too_large``. Never raises for a bad file.
    """
    path = Path(path)
    student_dir = path.parent.parent
    if path.is_dir():
        return ("invalid_notebook", f"{path.name} is a folder, not a file")
    if not path.exists():
        others = _others(student_dir)
        if others:
            return (
                "missing",
                f"no {assignment}/{path.name}; found {', '.join(others)}",
            )
        return ("missing", f"no {assignment}/{path.name} in the submission")
    if not path.is_file():
        return ("invalid_notebook", f"{path.name} is not a regular file")
    size = path.stat().st_size
    if size == 0:
        return ("invalid_notebook", "the notebook file is empty")
    if size > MAX_FILE_BYTES:
        return (
            "too_large",
            f"the notebook file has {size / MB:.0f} MB; the grader reads "
            f"at most {MAX_FILE_BYTES // MB} MB",
        )
    raw = path.read_bytes()
    if not raw.strip():
        return ("invalid_notebook", "the notebook file is empty")
    kind = _sniff(raw)
    if kind:
        return ("invalid_notebook", f"not a notebook: {kind}")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return (
            "invalid_notebook",
            "the file is UTF-16 text; a notebook is UTF-8 (save it from "
            "Jupyter, not from a text editor)",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return (
            "invalid_notebook",
            f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset "
            f"{error.start}); a notebook saved by Jupyter is UTF-8",
        )
    del raw
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as error:
        return (
            "invalid_notebook",
            f"not JSON ({error.msg} at line {error.lineno} column "
            f"{error.colno}); the file may be cut short or edited by hand",
        )
    except RecursionError:
        return ("invalid_notebook", "not JSON (nested too deeply)")
    del text
    if (
        not isinstance(nb, dict)
        or not isinstance(nb.get("nbformat"), int)
        or not isinstance(nb.get("cells", nb.get("worksheets")), list)
    ):
        return ("invalid_notebook", "JSON, but not a Jupyter notebook")
    notes = []
    major = nb["nbformat"]
    if major > 4:
        return (
            "invalid_notebook",
            f"nbformat {major} is newer than the grader reads (4)",
        )
    _strip_outputs(nb)
    stripped = json.dumps(nb)
    if size - len(stripped) > MB:
        notes.append(
            f"its outputs ({(size - len(stripped)) / MB:.0f} MB) were "
            "removed before grading"
        )
    del nb
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = nbformat.reads(stripped, as_version=4)
            nbformat.validate(book)
    except Exception as error:
        reason = str(error).splitlines()[0][:200] if str(error) else ""
        return (
            "invalid_notebook",
            f"not a valid notebook of nbformat {major} "
            f"({type(error).__name__}: {reason})",
        )
    if major < 4:
        notes.append(f"upgraded from nbformat {major} to 4")
    ids = _nbgrader_ids(book.cells)
    if not ids & own_ids(assignment):
        other = _foreign(ids, assignment)
        return (
            "wrong_assignment",
            f"this is the notebook of {other}, not of {assignment}"
            if other
            else f"none of {assignment}'s cells are in this notebook "
            "(it was not made from the released notebook)",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = nbformat.writes(book, version=4)
    if len(text.encode("utf-8")) > MAX_NOTEBOOK_BYTES:
        return (
            "too_large",
            f"the notebook has {len(text) / MB:.0f} MB without its "
            f"outputs; the grader takes at most "
            f"{MAX_NOTEBOOK_BYTES // MB} MB",
        )
    if dest is not None:
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_text(text, encoding="utf-8")
    return (None, "; ".join(notes))


def check_notebook(path, assignment):
    """None when the file can be graded, else (status, detail)."""
    status, detail = prepare_notebook(path, assignment)
    return None if status is None else (status, detail)


# -- workers ------------------------------------------------------------------

# Run before the worker: it dies with the thread that started it (SIGKILL,
# Linux), so that a grader killed with kill -9 leaves no worker behind; its
# kernel follows (ipykernel exits when its parent goes).
_DEATH_SHIM = (
    "import ctypes, os, sys\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, 9)\n"
    "except Exception:\n"
    "    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execv(sys.executable, [sys.executable] + sys.argv[2:])\n"
)


def _descendants(pid):
    """pids of every process below ``pid`` (Linux /proc), deepest last."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(k) for k in children.read_text().split()]
            except (OSError, ValueError):
                continue
            found += kids
            todo += kids
    return found


class Worker:
    """A grading process (see :mod:`autograder.worker`) that stays alive
    across submissions, so nbgrader is imported once per worker, not once
    per student. A submission that overruns its time limit gets the
    worker's process group and its kernel killed; the next submission
    starts a fresh worker."""

    def __init__(self, env, log):
        self.env = env
        self.log = Path(log)
        self.process = None
        self.done = None
        self.closed = False
        self.lock = threading.Lock()

    def _start(self):
        read_fd, write_fd = os.pipe()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _DEATH_SHIM,
                    str(os.getpid()),
                    "-m",
                    "autograder.worker",
                    "--serve",
                    str(write_fd),
                ],
                cwd=course.REPO,
                env=self.env,
                start_new_session=True,
                pass_fds=(write_fd,),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        os.close(write_fd)
        self.done = os.fdopen(read_fd, "rb", buffering=0)

    def stop(self, close=False):
        """Kill the worker, its kernel and everything they started."""
        with self.lock:
            if close:
                self.closed = True
            process, self.process = self.process, None
            if process is None:
                return
            below = _descendants(process.pid)
            for pid in [process.pid] + below:
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
            process.wait()
            self.done.close()
            try:
                process.stdin.close()
            except OSError:
                pass

    def _log_since(self, offset):
        try:
            with open(self.log, "rb") as f:
                f.seek(offset)
                return f.read(1_000_000).decode("utf-8", "replace")
        except OSError:
            return ""

    def grade(self, job, notebook_timeout):
        """The outcome of one job, or None when the worker was closed."""
        result_file = Path(job["result"])
        result_file.parent.mkdir(parents=True, exist_ok=True)
        if result_file.exists():
            result_file.unlink()
        with self.lock:
            if self.closed:
                return None
            dead = self.process is not None and self.process.poll() is not None
        if dead:
            self.stop()
        with self.lock:
            if self.closed:
                return None
            if self.process is None:
                self._start()
            process, done = self.process, self.done
        offset = self.log.stat().st_size if self.log.exists() else 0
        started = time.monotonic()
        try:
            process.stdin.write((json.dumps(job) + "\n").encode())
            process.stdin.flush()
        except (OSError, ValueError):
            if self.closed:
                return None
            self.stop()
            return {"status": "error", "detail": "the grader's worker died"}
        try:
            ready, _, _ = select.select([done], [], [], notebook_timeout)
            line = done.readline() if ready else b""
        except (OSError, ValueError):
            ready, line = True, b""
        if self.closed:
            return None
        if not ready or not line:
            self.stop()
            if not ready:
                outcome = {
                    "status": "timeout",
                    "detail": "the notebook ran longer than "
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
        if outcome.get("status") == "kernel_died" and MEMORY_WORDS.search(
            self._log_since(offset)
        ):
            outcome["status"] = "memory"
            outcome["detail"] = (
                "the kernel died after running out of memory "
                f"(limit {_size(job.get('memory_limit', 0))})"
            )
        outcome["seconds"] = round(time.monotonic() - started, 2)
        return outcome


def _size(n):
    if not n:
        return "none"
    for unit, scale in (("GB", 2**30), ("MB", MB), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} B"


def parse_size(text):
    """Bytes of '4G', '1500M', '512k', '1000000' ('0' or 'none': 0)."""
    text = str(text).strip().lower()
    if text in ("0", "none", "off", "unlimited"):
        return 0
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", text)
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 4G, 500M)")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    return int(float(match.group(1)) * scale[match.group(2)])


# -- pages, journal, CSV ----------------------------------------------------


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


def journal_path(out):
    """The journal beside the CSV: grades/rnn.csv -> rnn.details.jsonl."""
    return Path(out).with_suffix(".details.jsonl")


def read_journal(path, assignment=None):
    """student_id -> the last record of the journal at ``path``.

    Lines that are not JSON records (a line cut short when the grader was
    killed while writing it) are skipped. Returns (records, skipped).
    """
    records, skipped = {}, 0
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return records, skipped
    with f:
        for line in f:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                skipped += 1
                continue
            if not isinstance(record, dict) or not isinstance(
                record.get("student_id"), str
            ):
                skipped += 1
                continue
            if assignment and record.get("assignment") != assignment:
                continue
            records[record["student_id"]] = record
    return records, skipped


class Journal:
    """Append-only JSON lines; each line is on disk when append returns."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "ab")
        # A line cut short by a kill must not swallow the next record.
        if self.file.tell() > 0:
            with open(self.path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    self.file.write(b"\n")

    def append(self, record):
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self.file.write(line.encode("utf-8"))
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self):
        self.file.close()


def _write_csv(out, rows, cell_names):
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIXED_COLUMNS + cell_names)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)


def _lock(path):
    """An exclusive lock on ``path`` for as long as the file stays open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        owner = f.read().strip()
        f.close()
        raise GraderBusy(
            f"another grader (pid {owner or '?'}) is writing "
            f"{path.name[: -len('.lock')]}; wait for it or stop it"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


def _master_gradebook(assignment):
    """The master gradebook, made under a lock shared by every grader."""
    course.COURSE.mkdir(parents=True, exist_ok=True)
    with open(course.COURSE / ".gradebook.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return course.ensure_gradebook(assignment)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_folder(assignment):
    """A private folder for this run; those of dead runs are removed."""
    root = course.GRADING / assignment
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("run-*"):
        try:
            pid = int(old.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(old, ignore_errors=True)
    run = root / f"run-{os.getpid()}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    return run


def list_students(submissions):
    """(student folders, ignored entries) of a submissions folder.

    Student ids are folder names; files and hidden folders (``.git``,
    ``.ipynb_checkpoints``, ``.DS_Store``) are not students."""
    students, ignored = [], []
    for entry in sorted(Path(submissions).iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            ignored.append(entry.name)
        else:
            students.append(entry.name)
    return students, ignored


# -- grading ----------------------------------------------------------------


def grade(
    assignment,
    submissions,
    out,
    jobs=1,
    cell_timeout=60,
    notebook_timeout=300,
    feedback_dir=None,
    progress=True,
    memory_limit=DEFAULT_MEMORY_LIMIT,
    max_output=DEFAULT_MAX_OUTPUT,
    regrade=False,
):
    """Grade every student folder in ``submissions``; write the CSV ``out``.

    Results already in the journal (same student, same notebook bytes,
    same assignment source) are reused unless ``regrade``. Returns the
    list of rows (dicts) written. On SIGINT or SIGTERM, stops the workers,
    writes the CSV of what is done and raises :class:`Interrupted`.
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
    say = print if progress else (lambda *a, **k: None)
    feedback_dir = (
        Path(feedback_dir)
        if feedback_dir
        else out.parent / "feedback" / assignment
    )
    lock = _lock(out.with_name(out.name + ".lock"))
    signals = []

    def on_signal(signum, frame):
        signals.append(signum)
        raise KeyboardInterrupt

    saved = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            saved[signum] = signal.signal(signum, on_signal)
    try:
        return _grade(
            assignment,
            submissions,
            out,
            max(1, int(jobs)),
            cell_timeout,
            notebook_timeout,
            feedback_dir,
            progress,
            memory_limit,
            max_output,
            regrade,
            say,
            signals,
        )
    except KeyboardInterrupt:  # before grading began: nothing to save
        print("\ninterrupted", file=sys.stderr)
        raise Interrupted(
            signals[0] if signals else signal.SIGINT, 0, None
        ) from None
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        lock.close()


def _ignore_signals():
    """No second Ctrl-C while the grader saves what it has."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)


def _grade(
    assignment,
    submissions,
    out,
    jobs,
    cell_timeout,
    notebook_timeout,
    feedback_dir,
    progress,
    memory_limit,
    max_output,
    regrade,
    say,
    signals,
):
    master_db = _master_gradebook(assignment)
    cells = graded_cells(assignment)
    names = [name for name, _ in cells]
    max_score = sum(points for _, points in cells)
    assignment_key = assignment_sha256(assignment)
    checks_key = checks_sha256()
    students, ignored = list_students(submissions)
    journal_file = journal_path(out)
    previous, skipped = (
        ({}, 0) if regrade else read_journal(journal_file, assignment)
    )
    run_id = f"{datetime.datetime.now().isoformat(timespec='seconds')}"
    run_id += f"-{os.getpid()}"

    rows, records = {}, {}
    fresh, reused = [], []

    def row_of(record):
        earned = {
            name: float((record.get("cells") or {}).get(name, 0) or 0)
            for name in names
        }
        return {
            "student_id": record["student_id"],
            "assignment": assignment,
            "score": round(sum(earned.values()), 4),
            "max_score": max_score,
            "status": record["status"],
            **earned,
        }

    def write_csv():
        _write_csv(out, [rows[s] for s in students if s in rows], names)

    def page_of(student):
        return feedback_dir / f"{student}.html"

    def ensure_page(record):
        page = page_of(record["student_id"])
        if record.get("feedback"):
            if page.exists():
                return True
            if Path(record["feedback"]).exists():
                page.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(record["feedback"], page)
                return True
            return False
        _failure_feedback(
            page,
            record["student_id"],
            assignment,
            record["status"],
            record.get("detail", ""),
        )
        return True

    journal = Journal(journal_file)
    run = None
    try:
        pending = []
        for student in students:
            notebook = (
                submissions / student / assignment / f"{assignment}.ipynb"
            )
            digest = file_sha256(notebook) if notebook.is_file() else None
            old = previous.get(student)
            if (
                old
                and old.get("notebook_sha256") == digest
                and old.get("assignment_sha256") == assignment_key
                and old.get("status") not in RETRIED_STATUSES
                and ensure_page(old)
            ):
                rows[student] = row_of(old)
                records[student] = old
                reused.append(student)
                continue
            pending.append((student, notebook, digest))
        if pending and run is None:
            run = _run_folder(assignment)

        def finish(student, digest, outcome):
            earned = {
                name: float((outcome.get("cells") or {}).get(name, 0) or 0)
                for name in names
            }
            record = {
                "student_id": student,
                "assignment": assignment,
                "status": outcome["status"],
                "score": round(sum(earned.values()), 4),
                "max_score": max_score,
                "detail": outcome.get("detail", ""),
                "seconds": outcome.get("seconds", 0.0),
                "cells": earned,
                "feedback": outcome.get("feedback"),
                "notebook_sha256": digest,
                "assignment_sha256": assignment_key,
                "checks_sha256": checks_key,
                "graded_at": datetime.datetime.now().isoformat(
                    timespec="seconds"
                ),
                "run": run_id,
            }
            for key, value in outcome.items():  # e.g. the judge's notes
                record.setdefault(key, value)
            if not record["feedback"]:
                _failure_feedback(
                    page_of(student),
                    student,
                    assignment,
                    record["status"],
                    record["detail"],
                )
            journal.append(record)
            records[student] = record
            rows[student] = row_of(record)
            fresh.append(student)
            write_csv()

        jobs_todo = []
        for index, (student, notebook, digest) in enumerate(pending):
            key = f"s{index:04d}"
            copy = run / "inputs" / f"{key}.ipynb"
            status, detail = prepare_notebook(notebook, assignment, copy)
            if status:
                finish(
                    student,
                    digest,
                    {"status": status, "detail": detail, "seconds": 0.0},
                )
                continue
            work = run / "work" / key
            jobs_todo.append(
                (
                    student,
                    digest,
                    detail,
                    {
                        "assignment": assignment,
                        "student": key,
                        "student_name": student,
                        "notebook": str(copy.resolve()),
                        "workdir": str(work),
                        "result": str(work) + ".result.json",
                        "master_db": str(master_db),
                        "cell_timeout": cell_timeout,
                        "memory_limit": memory_limit,
                        "max_output": max_output,
                        "out": str(out.resolve()),
                        "submissions": str(submissions.resolve()),
                        "feedback": str(page_of(student).resolve()),
                    },
                )
            )
        write_csv()
        if reused:
            say(
                f"{len(reused)} of {len(students)} results reused from "
                f"{journal_file} (--regrade to grade them again)"
            )
        if skipped:
            say(f"{skipped} unreadable journal lines ignored")
        if ignored:
            say(f"not student folders, ignored: {', '.join(ignored)}")

        if jobs_todo:
            _run_jobs(
                jobs_todo,
                jobs,
                run,
                notebook_timeout,
                finish,
                progress,
                f"grading {assignment}",
                len(students),
                len(students) - len(jobs_todo),
            )
    except KeyboardInterrupt:
        _ignore_signals()
        write_csv()
        remaining = len(students) - len(rows)
        print(
            f"\ninterrupted: {len(rows)} of {len(students)} submissions "
            f"have a grade in {out}, {remaining} remain; run the same "
            "command again to grade only those",
            file=sys.stderr,
        )
        raise Interrupted(
            signals[0] if signals else signal.SIGINT, len(rows), remaining
        ) from None
    finally:
        journal.close()
        if run is not None:
            shutil.rmtree(run, ignore_errors=True)

    write_csv()
    ordered = [(rows[s], records[s]) for s in students]
    if progress:
        _summary(
            ordered, max_score, out, feedback_dir, fresh, reused, checks_key
        )
    return [row for row, _ in ordered]


def _run_jobs(
    todo,
    jobs,
    run,
    notebook_timeout,
    finish,
    progress,
    label,
    total,
    initial,
):
    """Grade ``todo`` with ``jobs`` workers; ``finish`` each result in the
    calling (main) thread, as soon as it is known."""
    env = course.os_environ_for_kernel()
    workers = [
        Worker(env, run / f"worker-{i}.log")
        for i in range(min(jobs, len(todo)))
    ]
    idle = queue.Queue()
    for worker in workers:
        idle.put(worker)
    busy, busy_lock = {}, threading.Lock()

    def work(student, job):
        worker = idle.get()
        try:
            with busy_lock:
                busy[student] = time.monotonic()
            return worker.grade(job, notebook_timeout)
        finally:
            with busy_lock:
                busy.pop(student, None)
            idle.put(worker)

    bar = tqdm(
        total=total,
        initial=initial,
        desc=label,
        unit="nb",
        disable=not progress,
        dynamic_ncols=True,
    )
    pool = ThreadPoolExecutor(max_workers=len(workers))
    futures = {}
    last = shown = ""
    tty = progress and sys.stderr.isatty()
    try:
        for student, digest, note, job in todo:
            futures[pool.submit(work, student, job)] = (student, digest, note)
        waiting = set(futures)
        while waiting:
            done, waiting = wait(
                waiting, timeout=1.0, return_when=FIRST_COMPLETED
            )
            for future in done:
                status = _finish_future(future, futures, finish)
                if status:
                    last = f"{futures[future][0]}: {status}"
                bar.update(1)
            with busy_lock:
                now = ", ".join(sorted(busy))
            postfix = (f"now {now}" if now else "") + (
                f" | {last}" if last else ""
            )
            if postfix != shown or tty:
                bar.set_postfix_str(postfix, refresh=True)
                shown = postfix
    except KeyboardInterrupt:
        _ignore_signals()
        for future in futures:
            future.cancel()
        for worker in workers:
            worker.stop(close=True)
        pool.shutdown(wait=True)
        # Results that arrived before the signal are kept.
        for future in futures:
            if future.done() and not future.cancelled():
                _finish_future(future, futures, finish, errors=False)
        raise
    finally:
        for worker in workers:
            worker.stop(close=True)
        pool.shutdown(wait=True)
        bar.close()


def _finish_future(future, futures, finish, errors=True):
    student, digest, note = futures[future]
    if getattr(future, "_grader_finished", False):
        return None
    future._grader_finished = True
    try:
        outcome = future.result()
    except Exception as error:  # one bad submission never stops the rest
        if not errors:
            return None
        outcome = {"status": "error", "detail": repr(error)}
    if outcome is None:  # the worker was stopped: graded next time
        return None
    if note:
        detail = outcome.get("detail", "")
        outcome["detail"] = f"{detail}; {note}" if detail else note
    finish(student, digest, outcome)
    return outcome["status"]


def _summary(ordered, max_score, out, feedback_dir, fresh, reused, checks):
    counts = {}
    for row, _ in ordered:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    scores = [row["score"] for row, _ in ordered]
    print(
        f"\n{len(ordered)} submissions: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + f" ({len(fresh)} graded now, {len(reused)} reused)"
    )
    if scores:
        print(
            f"score out of {max_score:g}: mean {statistics.mean(scores):.2f}"
            f", median {statistics.median(scores):.2f}"
        )
    now = [
        (row, record)
        for row, record in ordered
        if row["student_id"] in set(fresh)
    ]
    slow = sorted(now, key=lambda r: -(r[1].get("seconds") or 0))[:3]
    if slow and slow[0][1].get("seconds"):
        print(
            "slowest: "
            + ", ".join(
                f"{row['student_id']} {record.get('seconds', 0):.1f} s"
                for row, record in slow
            )
        )
    stale = [
        row["student_id"]
        for row, record in ordered
        if row["student_id"] in set(reused)
        and record.get("checks_sha256") not in (None, checks)
    ]
    if stale:
        print(
            f"note: {len(stale)} reused results were graded before the "
            "hidden checks (autograder/checks, judge.py) last changed; "
            "use --regrade to grade them with the current checks"
        )
    for row, record in ordered:
        if row["status"] != "graded":
            print(
                f"  {row['student_id']}: {row['status']}: "
                f"{record.get('detail', '')}"
            )
    print(f"grades: {out}\nfeedback: {feedback_dir}/")


# -- the combined gradebook ---------------------------------------------------


def gradebook(csv_paths, out, max_row=False):
    """Combine per-assignment grade CSVs into one LMS-ready gradebook.

    ``out`` gets one row per student: ``student_id``, one column per
    assignment (its score; empty when the student has no row in that
    assignment's CSV) and ``total``. The max scores go to a second file,
    ``<out stem>.max.csv`` (``assignment,max_score``, ending with
    ``total``), and, with ``max_row``, also to a first row whose
    student_id is ``max_score``. Returns (rows, max_scores).
    """
    scores, maxima = {}, {}
    for path in csv_paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no grades file {path}")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = set(FIXED_COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise ValueError(
                    f"{path} is not a grades CSV: no column "
                    f"{', '.join(sorted(missing))}"
                )
            seen = None
            for row in reader:
                name = row["assignment"]
                if seen is None:
                    seen = name
                    if name in maxima:
                        raise ValueError(
                            f"two grade files for assignment {name!r}"
                        )
                elif name != seen:
                    raise ValueError(f"{path} mixes assignments")
                maxima[name] = max(
                    maxima.get(name, 0.0), float(row["max_score"])
                )
                scores.setdefault(row["student_id"], {})[name] = float(
                    row["score"]
                )
    order = course.ORDER
    names = sorted(
        maxima, key=lambda n: (order.index(n) if n in order else 99, n)
    )

    def number(x):
        return f"{x:g}"

    rows = []
    for student in sorted(scores):
        own = scores[student]
        row = {"student_id": student}
        for name in names:
            row[name] = number(own[name]) if name in own else ""
        row["total"] = number(sum(own.values()))
        rows.append(row)
    total_max = sum(maxima[n] for n in names)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = ["student_id", *names, "total"]
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        if max_row:
            writer.writerow(
                {
                    "student_id": "max_score",
                    **{n: number(maxima[n]) for n in names},
                    "total": number(total_max),
                }
            )
        writer.writerows(rows)
    os.replace(tmp, out)
    max_file = out.with_suffix(".max.csv")
    with open(max_file, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["assignment", "max_score"])
        for name in names:
            writer.writerow([name, number(maxima[name])])
        writer.writerow(["total", number(total_max)])
    return rows, {**{n: maxima[n] for n in names}, "total": total_max}
