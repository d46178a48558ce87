"""Plotting helpers with one colour-blind-safe palette for the whole book."""

import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import font_manager
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
