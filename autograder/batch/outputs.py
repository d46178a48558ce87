"""What the batch writes for people: the grades CSV and feedback pages.

The CSV is rewritten after every result, atomically (a temporary file,
then a rename), so a reader never sees half of it. A submission that
could not be graded gets a page saying why (:func:`failure_page`); the
others get the page nbgrader made in the worker.
"""

import csv
import html
import os
import shutil
from pathlib import Path

from autograder.language import failure_words

FIXED_COLUMNS = ["student_id", "assignment", "score", "max_score", "status"]


def write_csv_atomic(out, header, rows):
    """Write ``rows`` (dicts, or lists with ``header=None``) to ``out``,
    replacing it at once."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        if header is None:
            csv.writer(f).writerows(rows)
        else:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
    os.replace(tmp, out)


def write_grades(out, rows, cell_names):
    """The grades CSV: the contract's columns, then one per test cell."""
    write_csv_atomic(out, FIXED_COLUMNS + list(cell_names), rows)


def failure_page(path, record, assignment):
    """A feedback page for a submission that could not be graded, in the
    language of its notebook where that is known (``record["language"]``,
    :mod:`autograder.language`)."""
    lang = record.get("language") or "en"
    words = failure_words(lang)
    student, status = record["student_id"], record["status"]
    shown = words["statuses"].get(status, "")
    shown = f"{shown} ({status})" if shown else status
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<!DOCTYPE html>\n<html lang='{html.escape(lang)}'><head>"
        "<meta charset='utf-8'>"
        f"<title>{html.escape(assignment)}: {html.escape(student)}</title>"
        "</head><body>"
        f"<h1>{words['assignment']} {html.escape(assignment)}</h1>"
        f"<p>{words['student']}: {html.escape(student)}</p>"
        f"<p>{words['failed']}: <b>{html.escape(shown)}</b>"
        f" ({html.escape(record.get('detail', ''))}). "
        f"{words['score']}: 0.</p></body></html>\n",
        encoding="utf-8",
    )


def restore_page(page, made):
    """Put the page nbgrader made (``made``) at ``page`` if it is not
    there; False when neither exists any more."""
    if page.exists():
        return True
    if made and Path(made).exists():
        page.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(made, page)
        return True
    return False
