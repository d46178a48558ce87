"""Plotting helpers with one colour-blind-safe palette for the whole book."""

import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.colors import to_rgba
from matplotlib.patches import FancyBboxPatch
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


# ---------------------------------------------------------------- diagrams
# Boxes and arrows for the book's block diagrams (encoder-decoder,
# attention, Transformer), in the palette above.

ARROW_COLOUR = to_rgba(PALETTE[7], 0.7)


def diagram_box(ax, xy, text, colour, alpha=0.25, **text_props):
    """A rounded box tinted with ``colour`` (``alpha``), its label centred
    at xy; ``text_props`` go to ``ax.text`` (fontsize 11 unless given)."""
    text_props.setdefault("fontsize", 11)
    ax.text(
        *xy,
        text,
        ha="center",
        va="center",
        zorder=3,
        bbox=dict(
            boxstyle="round,pad=0.35",
            edgecolor=colour,
            facecolor=to_rgba(colour, alpha),
            linewidth=1.4,
        ),
        **text_props,
    )


def diagram_arrow(ax, start, end, style="-", rad=0.0, **props):
    """An arrow from ``start`` to ``end``, shortened at both ends to clear
    the boxes; ``style`` is the line style, ``rad`` bends it, and ``props``
    override the other arrow properties (``arrowstyle``, ``lw``, ...)."""
    arrowprops = dict(
        arrowstyle="-|>",
        color=ARROW_COLOUR,
        lw=1.2,
        linestyle=style,
        shrinkA=14,
        shrinkB=14,
        connectionstyle=f"arc3,rad={rad}",
    )
    arrowprops.update(props)
    ax.annotate("", xy=end, xytext=start, zorder=2, arrowprops=arrowprops)


_ATTENTION, _FEED_FORWARD, _NORM = PALETTE[1], PALETTE[4], PALETTE[6]
_EMBED, _OUTPUT = PALETTE[3], PALETTE[2]
_STEP = 0.62  # vertical distance between the blocks of a stack
_ENCODER_BLOCK = (
    ("multi-head self-attention", _ATTENTION),
    ("add & norm", _NORM),
    ("feed-forward", _FEED_FORWARD),
    ("add & norm", _NORM),
)
_DECODER_BLOCK = (
    ("masked multi-head\nself-attention", _ATTENTION),
    ("add & norm", _NORM),
    ("encoder-decoder attention", _ATTENTION),
    *_ENCODER_BLOCK[1:],
)


def _block(ax, x, y, text, colour):
    """A filled rounded block of the Transformer diagram centred at
    (x, y)."""
    width, height = 2.6, 0.42
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0.04",
            edgecolor=colour,
            facecolor=to_rgba(colour, 0.3),
            linewidth=1.3,
            zorder=2,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9.5, zorder=3)


def _line(ax, start, end, **style):
    diagram_arrow(ax, start, end, shrinkA=0, shrinkB=0, lw=1.0, **style)


def _stack(ax, x, layers, bottom):
    """Blocks from the bottom up, joined by arrows; their centres."""
    ys = []
    for i, (text, colour) in enumerate(layers):
        y = bottom + _STEP * i
        _block(ax, x, y, text, colour)
        if i:
            _line(ax, (x, ys[-1] + 0.21), (x, y - 0.21))
        ys.append(y)
    return ys


def _transformer_side(ax, x, label, layers, side):
    """One side of the Transformer: tokens, embedding, positional
    encoding, and N blocks of ``layers`` with their residual arrows; the
    centres of the blocks. ``side`` is -1 for the encoder (residual arrows
    on the left), 1 for the decoder."""
    ax.text(x, 0.0, label, ha="center", fontsize=10, color="0.25")
    _block(ax, x, 0.7, "embedding", _EMBED)
    ax.text(x + 1.55, 1.3, "$+$ positional\nencoding", fontsize=9, va="center")
    _line(ax, (x, 0.2), (x, 0.49))
    _line(ax, (x, 0.91), (x, 1.75))
    ys = _stack(ax, x, layers, bottom=2.0)
    for i in range(0, len(ys), 2):  # around each sub-layer and its norm
        _line(
            ax,
            (x + side * 1.3, ys[i] - 0.3),
            (x + side * 1.3, ys[i + 1]),
            rad=0.5 * side,
        )
    ax.add_patch(
        plt.Rectangle(
            (x - 1.75, 1.65),
            3.5,
            ys[-1] - 1.3,
            fill=False,
            edgecolor="0.5",
            ls="--",
        )
    )
    ax.text(
        x + side * 2.1,
        (1.65 + ys[-1] + 0.35) / 2,
        r"$N \times$",
        fontsize=13,
        ha="center",
        va="center",
    )
    return ys


def transformer_diagram(ax):
    """Draw the Transformer of Vaswani et al. (2017) on ``ax``: the
    encoder and decoder stacks with their sub-layers and residual
    connections, the encoder's output feeding every decoder block's
    encoder-decoder attention, and the linear layer and softmax on top."""
    enc_x, dec_x = 0, 4.6
    enc = _transformer_side(ax, enc_x, "source tokens", _ENCODER_BLOCK, -1)
    dec = _transformer_side(
        ax, dec_x, "target tokens, shifted right", _DECODER_BLOCK, 1
    )
    _line(ax, (enc_x, enc[-1] + 0.21), (enc_x, enc[-1] + 0.9))
    diagram_arrow(
        ax,
        (enc_x, enc[-1] + 0.9),
        (dec_x - 1.3, dec[2]),
        rad=-0.25,
        color=_ATTENTION,
        lw=1.6,
        shrinkA=0,
        shrinkB=0,
    )
    ax.text(
        1.0,
        enc[-1] + 1.25,
        "encoder output\n(keys and values)",
        fontsize=9,
        color="0.25",
        ha="center",
    )
    top = _stack(
        ax,
        dec_x,
        [("linear", _OUTPUT), ("softmax", _OUTPUT)],
        bottom=dec[-1] + 0.95,
    )
    _line(ax, (dec_x, dec[-1] + 0.21), (dec_x, top[0] - 0.21))
    ax.text(
        dec_x,
        top[-1] + 0.45,
        "probabilities of the next token",
        ha="center",
        fontsize=10,
        color="0.25",
    )
    ax.text(enc_x, -0.5, "encoder", ha="center", fontsize=13)
    ax.text(dec_x, -0.5, "decoder", ha="center", fontsize=13)
    ax.set_xlim(-2.6, 7.2)
    ax.set_ylim(-0.8, top[-1] + 0.8)
    ax.axis("off")
    return ax
