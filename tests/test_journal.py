"""The journal replayed without a kernel: a line cut by a kill is skipped,
the last record of a student counts, a record is reused only while its
keys hold, and records written by earlier versions of the grader are read
(the summary says when they predate the current checks)."""

import json

from autograder.batch import journal
from autograder.batch.intake import Submission
from autograder.batch.ledger import Assignment, Ledger
from autograder.batch.options import GradeOptions
from autograder.batch.summary import print_summary

# A record as the grader wrote it before its code was reshaped (the keys
# of grading.py's finish()).
OLD_RECORD = {
    "student_id": "ada",
    "assignment": "rnn",
    "status": "graded",
    "score": 5.0,
    "max_score": 18.0,
    "detail": "",
    "seconds": 12.5,
    "cells": {"test_rnn_step_forward": 2.0, "test_rnn_backward": 3.0},
    "feedback": None,
    "notebook_sha256": "n" * 64,
    "assignment_sha256": "a" * 64,
    "checks_sha256": "c" * 64,
    "graded_at": "2026-11-30T10:00:00",
    "run": "2026-11-30T09:59:00-4242",
    "overruled": {},
}


def test_a_line_cut_by_a_kill_is_skipped(tmp_path):
    path = tmp_path / "rnn.details.jsonl"
    log = journal.Journal(path)
    log.append(dict(OLD_RECORD, status="timeout"))
    log.append(dict(OLD_RECORD, student_id="bob"))
    log.close()
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"student_id": "ada", "status": "gra')  # kill -9 here
    log = journal.Journal(path)  # the next run appends after a newline
    log.append(dict(OLD_RECORD, student_id="cy"))
    log.close()
    records, skipped = journal.read_journal(path, "rnn")
    assert skipped == 1
    assert sorted(records) == ["ada", "bob", "cy"]
    assert records["ada"]["status"] == "timeout"


def test_the_last_record_of_a_student_counts(tmp_path):
    path = tmp_path / "rnn.details.jsonl"
    lines = [
        dict(OLD_RECORD, score=1.0),
        dict(OLD_RECORD, assignment="lstm", score=9.0),
        dict(OLD_RECORD, score=2.0),
        ["not", "a", "record"],
        {"student_id": 7},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    records, skipped = journal.read_journal(path, "rnn")
    assert records["ada"]["score"] == 2.0 and skipped == 2
    assert journal.read_journal(tmp_path / "none.jsonl") == ({}, 0)


def test_a_record_is_reused_only_while_its_keys_hold():
    digest, key = (
        OLD_RECORD["notebook_sha256"],
        OLD_RECORD["assignment_sha256"],
    )
    assert journal.reusable(OLD_RECORD, digest, key)
    assert not journal.reusable(OLD_RECORD, "other", key)  # resubmitted
    assert not journal.reusable(OLD_RECORD, digest, "other")  # new source
    assert not journal.reusable(dict(OLD_RECORD, status="error"), digest, key)
    assert not journal.reusable(None, digest, key)


def test_records_from_before_the_reshape_are_reused_and_flagged(
    tmp_path, capsys
):
    options = GradeOptions("rnn", tmp_path / "subs", tmp_path / "rnn.csv")
    facts = Assignment(
        "rnn",
        (("test_rnn_step_forward", 2.0), ("test_rnn_backward", 3.0)),
        OLD_RECORD["assignment_sha256"],
        journal.checks_sha256(),
    )
    log = journal.Journal(options.journal)
    ledger = Ledger(facts, options, ["ada", "bob"], log)
    assert ledger.reuse(OLD_RECORD)
    ledger.finish(
        Submission("bob", tmp_path / "bob.ipynb", None),
        {"status": "missing", "detail": "no rnn/rnn.ipynb", "seconds": 0.0},
    )
    log.close()
    rows = ledger.ordered()
    assert [row["score"] for row, _ in rows] == [5.0, 0.0]
    assert (options.feedback / "ada.html").exists()
    assert "missing" in (options.feedback / "bob.html").read_text()
    written = journal.read_journal(options.journal, "rnn")[0]
    assert list(written) == ["bob"]  # reused results are not written again
    print_summary(ledger)
    out = capsys.readouterr().out
    assert "1 reused results were graded before the hidden checks" in out
    assert "1 graded now, 1 reused" in out


def test_the_checks_digest_covers_the_checks_and_the_judge():
    assert journal.CHECKS_CODE == ["checks/*.py", "judge/*.py"]
    assert len(journal.checks_sha256()) == 64
