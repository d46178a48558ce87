"""What the class got wrong: ``python -m autograder report GRADES_CSV
--out report.html``.

Reads a grades CSV and its journal (:mod:`autograder.report.data`) and
writes one page for the instructor (:mod:`autograder.report.page`): the
score distribution, each test's pass rate, the most frequent diagnostic
messages of each test with their counts, the statuses and the slowest
submissions. The plots (:mod:`autograder.report.plots`) are embedded, so
the page reads offline.
"""

from pathlib import Path

from autograder.report.data import read_report
from autograder.report.page import render

__all__ = ["write_report"]


def write_report(csv_path, out):
    """Write the report of ``csv_path`` to ``out``; returns the report."""
    report = read_report(csv_path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(report), encoding="utf-8")
    return report
