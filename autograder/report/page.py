"""The report as one HTML page: no script, no request, plots embedded.

Written for a screen reader as much as for the eye: a heading for each
part, tables with captions and header cells, each plot described in its
alternative text (and its numbers given in a table beside it).
"""

import datetime
import html

from autograder.job import STATUSES
from autograder.report import plots

STYLE = """
body { font-family: system-ui, sans-serif; color: #1a1a1a;
  background: #fff; margin: 0; line-height: 1.45; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; min-width: 24rem; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { border-bottom: 1px solid #c8c8c8; padding: 0.3rem 0.7rem;
  text-align: left; vertical-align: top; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; }
.quiet { color: #595959; }
details { margin: 0.2rem 0; }
code { font-size: 0.95em; }
"""


def esc(value):
    return html.escape(str(value), quote=True)


def table(caption, header, rows, numeric=()):
    """An HTML table; columns whose index is in ``numeric`` align right."""

    def cell(tag, index, value, scope=""):
        css = ' class="number"' if index in numeric else ""
        return f"<{tag}{scope}{css}>{value}</{tag}>"

    head = "".join(
        cell("th", i, esc(h), ' scope="col"') for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return (
        f"<table><caption>{esc(caption)}</caption><thead><tr>{head}</tr>"
        f"</thead><tbody>{body}</tbody></table>"
    )


def overview(report):
    stats = report.stats()
    graded = report.statuses.get("graded", 0)
    parts = [
        f"<h1>What the class got wrong: {esc(report.assignment)}</h1>",
        f"<p>{len(report.rows)} students, {graded} graded normally. Scores "
        f"out of {report.max_score:g}: mean {stats['mean']:.2f}, median "
        f"{stats['median']:.2f}, lowest {stats['min']:g}, highest "
        f"{stats['max']:g}.</p>",
        f'<p class="quiet">From <code>{esc(report.csv_path)}</code> and its '
        f"journal, {datetime.datetime.now():%Y-%m-%d %H:%M}.</p>",
    ]
    return "\n".join(parts)


def scores_section(report):
    scores, top = report.scores, report.max_score
    stats = report.stats()
    counts = {}
    for score in scores:
        counts[score] = counts.get(score, 0) + 1
    alt = (
        f"Histogram of the {len(scores)} scores out of {top:g}: mean "
        f"{stats['mean']:.1f}, median {stats['median']:.1f}; the most "
        f"frequent score is {max(counts, key=counts.get):g} "
        f"({max(counts.values())} students). The table below gives every "
        "score."
    )
    rows = [(f"{s:g}", n) for s, n in sorted(counts.items(), reverse=True)]
    return (
        "<h2>Scores</h2>"
        f'<img src="{plots.score_histogram(scores, top)}" alt="{esc(alt)}">'
        "<details><summary>Every score and how many students had it"
        "</summary>"
        + table("Students per score", ["score", "students"], rows, (0, 1))
        + "</details>"
    )


def tests_section(report):
    ordered = sorted(report.tests, key=lambda t: t.rate)
    alt = (
        f"Bar chart of the share of submissions that passed each of the "
        f"{len(report.tests)} tests; hardest: "
        + ", ".join(f"{t.name} {100 * t.rate:.0f}%" for t in ordered[:3])
        + ". The table below gives every test."
    )
    rows = [
        (
            f"<code>{esc(t.name)}</code>",
            f"{t.points:g}",
            f"{t.passed} of {t.ran}",
            f"{100 * t.rate:.0f}%",
        )
        for t in report.tests
    ]
    return (
        "<h2>Each test's pass rate</h2>"
        f'<img src="{plots.pass_rates(report.tests)}" alt="{esc(alt)}">'
        + table(
            "Pass rate of each test, among the submissions that ran",
            ["test", "points", "passed", "rate"],
            rows,
            (1, 2, 3),
        )
    )


def diagnoses_section(report, shown=5):
    parts = [
        "<h2>Most frequent diagnoses</h2>",
        "<p>For each test, the messages of the checks that failed, most "
        "frequent first (messages that differ only in their numbers count "
        "as one).</p>",
    ]
    for test in report.tests:
        parts.append(f"<h3><code>{esc(test.name)}</code></h3>")
        if not test.diagnoses:
            parts.append(
                f"<p>Every submission that ran passed ({test.ran}).</p>"
            )
            continue
        rows = []
        for d in test.diagnoses[:shown]:
            note = (
                ' <span class="quiet">(numbers vary)</span>'
                if len(d.variants) > 1
                else ""
            )
            who = ", ".join(esc(s) for s in sorted(d.students))
            rows.append((d.count, esc(d.text) + note, who))
        caption = (
            f"Why {test.name} failed ({test.ran - test.passed} of {test.ran})"
        )
        parts.append(
            table(caption, ["students", "message", "who"], rows, (0,))
        )
        if len(test.diagnoses) > shown:
            rest = sum(d.count for d in test.diagnoses[shown:])
            parts.append(f"<p>... and {rest} with other messages.</p>")
    return "\n".join(parts)


def statuses_section(report):
    rows = [
        (f"<code>{esc(s)}</code>", n, esc(STATUSES.get(s, "")))
        for s, n in sorted(report.statuses.items(), key=lambda kv: -kv[1])
    ]
    parts = [
        "<h2>Statuses</h2>",
        table(
            "Rows per status", ["status", "students", "meaning"], rows, (1,)
        ),
    ]
    if report.not_graded:
        others = [
            (esc(student), f"<code>{esc(status)}</code>", esc(detail))
            for student, status, detail in report.not_graded
        ]
        parts.append(
            table(
                "Submissions not graded normally",
                ["student", "status", "detail"],
                others,
            )
        )
    return "\n".join(parts)


def slowest_section(report):
    if not report.slowest:
        return "<h2>Slowest submissions</h2><p>No timings in the journal.</p>"
    rows = [(esc(s), f"{seconds:.1f}") for s, seconds in report.slowest]
    return "<h2>Slowest submissions</h2>" + table(
        "Seconds each took to grade, slowest first",
        ["student", "seconds"],
        rows,
        (1,),
    )


def render(report):
    """The whole page."""
    title = f"{report.assignment}: what the class got wrong"
    body = "\n".join(
        section(report)
        for section in (
            overview,
            scores_section,
            tests_section,
            diagnoses_section,
            statuses_section,
            slowest_section,
        )
    )
    return (
        "<!DOCTYPE html><!-- Generated by `python -m autograder report` "
        "from a grades CSV and its journal; do not edit. -->\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )
