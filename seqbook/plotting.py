"""Plotting helpers with one colour-blind-safe palette for the whole book."""

import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.colors import to_rgba
import numpy as np

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every
# common form of colour blindness.
PALETTE = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # green
    "#CC79A7",  # purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
]


def _hangul_font():
    """Register NanumGothic (shipped by the koreanize-matplotlib package)
    and return its family name, or None when the package is missing."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "fonts"
    path = folder / "NanumGothic.ttf"
    if not path.exists():
        return None
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def use_style():
    """Set the book's matplotlib defaults (palette, grid, size, and a
    fallback font for Korean labels)."""
    hangul = _hangul_font()
    if hangul:
        plt.rcParams["font.family"] = ["DejaVu Sans", hangul]
    plt.rcParams.update(
        {
            "axes.prop_cycle": plt.cycler(color=PALETTE),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 100,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "image.cmap": "viridis",
        }
    )


# ------------------------------------------------ diagrams of the networks
# Boxes and arrows for the computational graphs of the RNN pages: a node is
# a rounded box with a mathtext label, an edge an arrow between two node
# centres; coordinates are data coordinates of an Axes without axes.

ARROW_COLOUR = to_rgba(PALETTE[7], 0.75)


def draw_node(ax, xy, text, colour, fill=0.25, fontsize=12):
    """A rounded box at ``xy`` labelled ``text``, edged in ``colour`` and
    filled with it at opacity ``fill``."""
    ax.text(
        *xy,
        text,
        ha="center",
        va="center",
        fontsize=fontsize,
        zorder=3,
        bbox=dict(
            boxstyle="round,pad=0.35",
            edgecolor=colour,
            facecolor=to_rgba(colour, fill),
            linewidth=1.4,
        ),
    )


def draw_edge(
    ax, start, end, label=None, rad=0.0, offset=(0.0, 0.0), colour=None
):
    """An arrow from node centre ``start`` to ``end`` (curved by ``rad``),
    with an optional ``label`` placed at the midpoint plus ``offset``."""
    colour = ARROW_COLOUR if colour is None else colour
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        zorder=2,
        arrowprops=dict(
            arrowstyle="-|>",
            color=colour,
            lw=1.3,
            shrinkA=13,
            shrinkB=13,
            connectionstyle=f"arc3,rad={rad}",
        ),
    )
    if label:
        mid = (
            (start[0] + end[0]) / 2 + offset[0],
            (start[1] + end[1]) / 2 + offset[1],
        )
        ax.text(
            *mid, label, fontsize=10, ha="center", va="center", color=colour
        )


def draw_self_loop(ax, xy, label=None):
    """A loop leaving node ``xy`` on its right and coming back to it."""
    x, y = xy
    ax.annotate(
        "",
        xy=(x + 0.17, y + 0.1),
        xytext=(x + 0.17, y - 0.1),
        zorder=2,
        arrowprops=dict(
            arrowstyle="-|>",
            color=ARROW_COLOUR,
            lw=1.3,
            connectionstyle="arc,angleA=0,angleB=0,armA=28,armB=28,rad=8",
        ),
    )
    if label:
        ax.text(
            x + 0.62, y, label, fontsize=10, color=ARROW_COLOUR, va="center"
        )


def draw_task_pattern(ax, title, num_steps, inputs, outputs):
    """One sequence-task pattern: input boxes x (bottom) at the steps in
    ``inputs``, a chain of hidden states h (middle), output boxes y (top)
    at the steps in ``outputs``."""
    box = dict(boxstyle="round,pad=0.3", linewidth=1.2)
    arrow = dict(arrowstyle="->", color=PALETTE[7], alpha=0.7, linewidth=1.2)
    colours = {"x": PALETTE[0], "h": PALETTE[2], "y": PALETTE[1]}
    for t in range(num_steps):
        ax.text(
            t,
            1,
            " h ",
            ha="center",
            va="center",
            bbox=dict(box, facecolor="white", edgecolor=colours["h"]),
        )
        if t + 1 < num_steps:
            ax.annotate(
                "", xy=(t + 0.72, 1), xytext=(t + 0.28, 1), arrowprops=arrow
            )
        for kind, steps, y, tail in (
            ("x", inputs, 0, 0.22),
            ("y", outputs, 2, 1.22),
        ):
            if t not in steps:
                continue
            ax.text(
                t,
                y,
                f" {kind} ",
                ha="center",
                va="center",
                bbox=dict(
                    box,
                    facecolor=colours[kind],
                    alpha=0.35,
                    edgecolor=colours[kind],
                ),
            )
            ax.annotate(
                "", xy=(t, tail + 0.56), xytext=(t, tail), arrowprops=arrow
            )
    ax.set_xlim(-0.7, num_steps - 0.3)
    ax.set_ylim(-0.6, 2.6)
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def plot_curves(
    curves,
    xlabel="step",
    ylabel="loss",
    title=None,
    logy=False,
    ax=None,
    x=None,
):
    """Plot named curves on one axis.

    Inputs:
    - curves: dict label -> sequence of y values
    - x: shared x values, or None for 0, 1, 2, ...
    - logy: logarithmic y axis (for quantities that shrink geometrically)

    Returns the matplotlib Axes.
    """
    if ax is None:
        _, ax = plt.subplots()
    for i, (label, ys) in enumerate(curves.items()):
        xs = np.arange(len(ys)) if x is None else x
        ax.plot(xs, ys, label=label, color=PALETTE[i % len(PALETTE)])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    return ax


def plot_heatmap(
    matrix,
    xlabels=None,
    ylabels=None,
    title=None,
    ax=None,
    annotate=False,
    cmap="viridis",
    colorbar=True,
):
    """Show a 2-D array as an image with labelled rows and columns.

    Returns the matplotlib Axes.
    """
    matrix = np.asarray(matrix)
    if ax is None:
        _, ax = plt.subplots()
    image = ax.imshow(matrix, cmap=cmap, aspect="auto")
    ax.grid(False)
    if xlabels is not None:
        ax.set_xticks(range(len(xlabels)), labels=list(xlabels))
    if ylabels is not None:
        ax.set_yticks(range(len(ylabels)), labels=list(ylabels))
    if annotate:
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                color="white" if value < matrix.mean() else "black",
            )
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
    return ax
