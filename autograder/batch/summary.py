"""The summary printed at the end of a batch."""

import statistics


def print_summary(ledger):
    """Counts of each status, mean and median score, the slowest
    submissions graded now, reused results that predate the current
    checks, and the detail of every row that is not ``graded``."""
    ordered = ledger.ordered()
    counts = {}
    for row, _ in ordered:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    print(
        f"\n{len(ordered)} submissions: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + f" ({len(ledger.fresh)} graded now, {len(ledger.reused)} reused)"
    )
    scores = [row["score"] for row, _ in ordered]
    if scores:
        print(
            f"score out of {ledger.assignment.max_score:g}: mean "
            f"{statistics.mean(scores):.2f}, median "
            f"{statistics.median(scores):.2f}"
        )
    _slowest(ordered, set(ledger.fresh))
    _stale(ordered, set(ledger.reused), ledger.assignment.checks_key)
    for row, record in ordered:
        if row["status"] != "graded":
            print(
                f"  {row['student_id']}: {row['status']}: "
                f"{record.get('detail', '')}"
            )
    print(
        f"grades: {ledger.options.out}\nfeedback: {ledger.options.feedback}/"
    )
    if ledger.sink is not None:
        print(
            f"course: {ledger.sink.coursedir.root} (gradebook "
            f"{ledger.sink.shown_url}); nbgrader's feedback: "
            f"nbgrader generate_feedback {ledger.assignment.name}"
        )


def _slowest(ordered, fresh):
    now = [
        (row, record) for row, record in ordered if row["student_id"] in fresh
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


def _stale(ordered, reused, checks):
    stale = [
        row["student_id"]
        for row, record in ordered
        if row["student_id"] in reused
        and record.get("checks_sha256") not in (None, checks)
    ]
    if stale:
        print(
            f"note: {len(stale)} reused results were graded before the "
            "hidden checks (autograder/checks, autograder/judge) last "
            "changed; use --regrade to grade them with the current checks"
        )
