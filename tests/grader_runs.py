"""Run the real grader (``python -m autograder grade``) on a folder of
submissions, and read what it wrote: the grades CSV and, beside it, the
journal of details (``<out>.details.jsonl``)."""

import csv
import json
import subprocess
import sys
from pathlib import Path

from submissions import REPO


def run_grader(name, submissions, out, *extra, timeout=1200):
    """Grade assignment ``name``'s ``submissions`` into the CSV ``out``
    (``extra``: more options of the command); the finished process."""
    command = [sys.executable, "-m", "autograder", "grade", name]
    command += [str(submissions), "--out", str(out), *extra]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def rows_of(out):
    """student_id -> its row of the grades CSV ``out``."""
    with open(out, newline="", encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def records_of(out):
    """student_id -> its record in the journal beside the CSV ``out``."""
    journal = Path(out).with_suffix(".details.jsonl")
    records = {}
    for line in journal.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        records[record["student_id"]] = record
    return records
