"""The journal: every result, on disk the moment it is known.

``<csv stem>.details.jsonl`` holds one JSON line per result, appended,
flushed and fsync'ed, with the detail (why that status), the points, the
seconds and the keys: the SHA-256 of the submitted notebook and of the
assignment's source notebook. The last line of a student is the one that
counts. A new run reuses every result whose keys still match
(:func:`reusable`); a line cut short by a kill is skipped. Lines written
by earlier versions of the grader have the same keys and are read alike;
the digest of the hidden checks (:func:`checks_sha256`) is not a key: the
summary says when reused results predate the current checks.
"""

import hashlib
import json
import os
from pathlib import Path

from autograder import course
from autograder.batch.intake import file_sha256
from autograder.job import RETRIED

PACKAGE = Path(__file__).resolve().parent.parent  # autograder/
# The code that decides points: the checks and the judge.
CHECKS_CODE = ["checks/*.py", "judge/*.py"]


def assignment_sha256(assignment, source=None):
    """The key of the assignment in the journal: its source notebook."""
    return file_sha256(course.source_path(assignment, source))


def checks_sha256():
    """A digest of the hidden checks' code (autograder/checks, judge)."""
    digest = hashlib.sha256()
    paths = sorted(p for pattern in CHECKS_CODE for p in PACKAGE.glob(pattern))
    for path in paths:
        name = path.relative_to(PACKAGE).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


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
            record = _record(line)
            if record is None:
                skipped += 1
            elif not assignment or record.get("assignment") == assignment:
                records[record["student_id"]] = record
    return records, skipped


def _record(line):
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    if not isinstance(record.get("student_id"), str):
        return None
    return record


def reusable(record, digest, assignment_key):
    """Whether a journalled record still holds for a notebook whose bytes
    have ``digest``: same notebook, same source, not the grader's fault."""
    return bool(
        record
        and record.get("notebook_sha256") == digest
        and record.get("assignment_sha256") == assignment_key
        and record.get("status") not in RETRIED
    )


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
