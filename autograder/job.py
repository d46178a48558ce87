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
    "too_large": "a notebook too large to grade",
    "timeout": "a cell or the whole notebook ran over its time limit",
    "memory": "a cell needed more than the memory limit",
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


@dataclass(frozen=True)
class Limits:
    """What one submission may use (the command's options)."""

    cell_timeout: int = 60  # seconds one cell may run
    notebook_timeout: int = 300  # seconds the whole notebook may run
    memory_limit: int = 4 * 2**30  # the kernel's RLIMIT_DATA; 0: none
    max_output: int = 1 * MB  # characters one cell may show; 0: no cap


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
