"""The report's two plots, as PNG data embedded in the page (so that it
reads offline): the score distribution and each test's pass rate.

matplotlib's object API (``Figure`` with the Agg canvas): no display, no
global state. Colours from the Okabe-Ito palette, as in the book.
"""

import base64
import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BLUE, ORANGE, GREY = "#0072B2", "#E69F00", "#595959"


def png_data(figure):
    """A figure as a ``data:image/png;base64,...`` URL."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/png;base64,{encoded}"


def score_histogram(scores, max_score):
    """Histogram of the scores, one bar per score (or 30 bins of equal
    width when scores are fractions or the maximum is large), with the
    mean marked."""
    figure = Figure(figsize=(6.4, 3.2))
    axes = figure.add_subplot()
    top = max(max_score, max(scores, default=0), 1)
    if top <= 40 and all(float(s).is_integer() for s in scores):
        bins = np.arange(-0.5, top + 1)  # one bar centred on each score
    else:
        bins = np.linspace(0, top, 31)
    axes.hist(scores, bins=bins, color=BLUE, edgecolor="white")
    if scores:
        mean = float(np.mean(scores))
        axes.axvline(mean, color=ORANGE, linewidth=2)
        axes.annotate(
            f"mean {mean:.1f}",
            (mean, 1),
            xycoords=("data", "axes fraction"),
            xytext=(4, -14),
            textcoords="offset points",
            color=GREY,
        )
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel(f"score (out of {max_score:g})")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    return png_data(figure)


def pass_rates(tests):
    """Horizontal bars: the share of submissions that ran and passed each
    test, in notebook order from the top."""
    figure = Figure(figsize=(6.4, 0.45 * len(tests) + 1.0))
    axes = figure.add_subplot()
    names = [t.name for t in tests]
    rates = [100 * t.rate for t in tests]
    positions = np.arange(len(tests))[::-1]
    axes.barh(positions, rates, color=BLUE)
    for position, rate in zip(positions, rates):
        axes.text(min(rate + 1, 88), position, f"{rate:.0f}%", va="center")
    axes.set_yticks(positions, names)
    axes.set_xlim(0, 100)
    axes.set_xlabel("passed (% of submissions that ran)")
    axes.spines[["top", "right"]].set_visible(False)
    return png_data(figure)
