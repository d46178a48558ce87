"""What the parent and a worker share: the job, its limits, its outcome.

The parent's batch (:mod:`autograder.batch`) and the worker process
(:mod:`autograder.worker`) import nothing of each other; a :class:`Job`
goes one way (one JSON line on the worker's stdin) and an outcome comes
back (a JSON dict: ``status``, ``detail``, the points of each cell, the
feedback page, the judge's notes). Both sides also find the processes
below one of theirs the same way (:func:`descendants`).
"""

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

MB = 2**20

# status -> what it means (the README's table).
STATUSES = {
    "graded": "the notebook ran; the points are its tests'",
    "missing": "no notebook where nbgrader's submitted layout puts it",
    "invalid_notebook": "not a notebook the grader can read",
    "wrong_assignment": "a valid notebook without this assignment's cells",
    "edited_notebook": "nbgrader cells edited beyond what the grader repairs",
    "too_large": "a notebook too large to grade",
    "timeout": "a cell or the whole notebook ran over its time limit",
    "memory": "a cell needed more than the memory limit",
    "processes": "the notebook started more processes or threads than "
    "the limit",
    "disk": "the notebook wrote more (bytes or files) than the limit",
    "open_files": "the notebook opened more files at once than the limit",
    "kernel_died": "the kernel died",
    "error": "the grader itself failed",
}
# Statuses that say the grader failed, not the student: a journalled
# result with one of them is graded again on the next run.
RETRIED = {"error"}
# What the kernel or its libraries say when an allocation fails.
MEMORY_ERROR = re.compile(
    r"MemoryError|bad_alloc|[Cc]an(?:no|')t allocate memory|[Oo]ut of memory"
)
# ... when a limit of the sandbox is reached: status -> what they say.
LIMIT_ERRORS = {
    "processes": re.compile(
        r"can't start new thread|Resource temporarily unavailable|"
        r"\[Errno 11\]|pthread_create"
    ),
    "open_files": re.compile(r"Too many open files|\[Errno 2[34]\]"),
    "disk": re.compile(
        r"No space left on device|File too large|Disk quota exceeded|"
        r"\[Errno 2[78]\]"
    ),
}
# Where a worker writes the limits it saw reached, beside the result.
LIMITS_SUFFIX = ".limits.json"
# A row gets the status of the first of these limits its kernel reached.
LIMIT_ORDER = ("processes", "open_files", "disk", "memory")


def with_limits(outcome, hits):
    """``outcome`` with the status of the first limit of ``hits`` (status
    -> what happened) in :data:`LIMIT_ORDER`, and every hit in its
    detail."""
    reached = [s for s in LIMIT_ORDER if s in hits]
    if not reached:
        return outcome
    notes = [hits[s] for s in reached]
    if outcome.get("detail"):
        notes.append(outcome["detail"])
    return dict(outcome, status=reached[0], detail="; ".join(notes))


@dataclass(frozen=True)
class Limits:
    """What one submission may use (the command's options).

    The last four hold in the sandbox (processes, and the box's size and
    number of files, only there); the kernel's open files and the size
    of one file it writes are limited everywhere."""

    cell_timeout: int = 60  # seconds one cell may run
    notebook_timeout: int = 300  # seconds the whole notebook may run
    memory_limit: int = 4 * 2**30  # the kernel's RLIMIT_DATA; 0: none
    max_output: int = 1 * MB  # characters one cell may show; 0: no cap
    max_processes: int = 256  # processes and threads (RLIMIT_NPROC)
    max_open_files: int = 1024  # files open at once (RLIMIT_NOFILE)
    disk_limit: int = 256 * MB  # bytes the kernel may write (its box)
    max_files: int = 10000  # files and folders it may make (its box)


@dataclass(frozen=True)
class Job:
    """One submission to grade, as the worker needs it.

    Paths are absolute. ``notebook`` is the gradable copy the intake
    wrote; ``workdir`` a fresh folder for nbgrader; the outcome goes to
    ``result`` and the feedback page to ``feedback``. ``out`` and
    ``submissions`` only say what the sandbox hides."""

    assignment: str
    student: str  # the key nbgrader sees (s0001), never the folder name
    student_name: str  # the folder name, for the feedback page
    notebook: str
    workdir: str
    result: str
    master_db: str  # the gradebook that knows the assignment
    source: str  # the folder of the source notebooks
    feedback: str
    limits: Limits = Limits()
    out: str = ""
    submissions: str = ""
    sandbox: bool = True  # sandbox the kernel where the machine allows
    require_sandbox: bool = False  # never run the kernel unsandboxed

    def to_json(self):
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        data["limits"] = Limits(**data.get("limits", {}))
        return cls(**data)


def format_size(n):
    """'4 GB', '1.5 MB', 'none' for 0."""
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


def descendants(pid):
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
