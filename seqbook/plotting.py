"""Plotting helpers with one colour-blind-safe palette for the whole book."""

import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.colors import to_rgba
from matplotlib.patches import Circle, FancyBboxPatch
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


# --------------------------------------------------------- cell diagrams
#
# The chapters on gated cells draw the LSTM and GRU cells and the
# computational graphs of their steps. The drawing code lives here so that a
# chapter's cell holds only the call; what each picture shows is described
# in the chapter (and its alt text).

_INK = PALETTE[7]
_FADED_SHAPE = 0.15  # opacity of the parts a highlight leaves in the back
_FADED_TEXT = 0.35


class _Canvas:
    """Wires, boxes and nodes of a diagram on one matplotlib Axes.

    Every element belongs to a part (a string). When `active` is a set of
    parts, the elements of the other parts are drawn faded, so that one gate
    stands out of the whole cell.
    """

    def __init__(self, ax, active=None):
        self.ax = ax
        self.active = active

    def _alpha(self, part, faded=_FADED_SHAPE):
        return 1.0 if self.active is None or part in self.active else faded

    def wire(self, part, points, colour=_INK, lw=1.4, arrow=True):
        """A polyline through `points`, with an arrow head at its end."""
        alpha = self._alpha(part)
        xs, ys = zip(*points)
        self.ax.plot(
            xs,
            ys,
            color=colour,
            lw=lw,
            alpha=alpha,
            zorder=2,
            solid_capstyle="round",
        )
        if arrow:
            style = dict(
                arrowstyle="-|>",
                color=colour,
                lw=lw,
                alpha=alpha,
                shrinkA=0,
                shrinkB=0,
            )
            self.ax.annotate(
                "",
                xy=points[-1],
                xytext=points[-2],
                arrowprops=style,
                zorder=2,
            )

    def box(self, part, xy, text, colour, size=(0.9, 0.6), fontsize=13):
        """A rounded box: a layer with weights (sigma, tanh, a product)."""
        (x, y), (width, height) = xy, size
        alpha = self._alpha(part)
        self.ax.add_patch(
            FancyBboxPatch(
                (x - width / 2, y - height / 2),
                width,
                height,
                boxstyle="round,pad=0.05",
                ec=to_rgba(colour, alpha),
                fc=to_rgba(colour, 0.3 * alpha),
                lw=1.5,
                zorder=4,
            )
        )
        self.text(part, xy, text, fontsize=fontsize, zorder=5)

    def node(
        self, part, xy, text, radius=0.26, fontsize=13, colour=PALETTE[3]
    ):
        """A circle: an elementwise operation without weights."""
        alpha = self._alpha(part)
        self.ax.add_patch(
            Circle(
                xy,
                radius,
                ec=to_rgba(colour, alpha),
                fc=to_rgba(colour, 0.25 * alpha),
                lw=1.5,
                zorder=4,
            )
        )
        self.text(part, xy, text, fontsize=fontsize, zorder=5)

    def dot(self, part, xy, colour=_INK, size=4.5):
        """A junction where a wire branches."""
        self.ax.plot(
            *xy, "o", color=colour, ms=size, alpha=self._alpha(part), zorder=3
        )

    def text(self, part, xy, text, **kwargs):
        """A label; centred unless `ha` or `va` say otherwise."""
        kwargs = {"ha": "center", "va": "center", **kwargs}
        self.ax.text(*xy, text, alpha=self._alpha(part, _FADED_TEXT), **kwargs)

    def frame(self, xy, width, height):
        """The faint rounded rectangle around one step of a cell."""
        self.ax.add_patch(
            FancyBboxPatch(
                xy,
                width,
                height,
                boxstyle="round,pad=0.1",
                ec=to_rgba(_INK, 0.5),
                fc=to_rgba(PALETTE[4], 0.06),
                lw=1.2,
                zorder=0,
            )
        )

    def finish(self, xlim, ylim):
        self.ax.set_xlim(*xlim)
        self.ax.set_ylim(*ylim)
        self.ax.set_aspect("equal")
        self.ax.axis("off")


# The parts of the LSTM cell that each highlight of draw_lstm_cell shows,
# and the equation written under the picture.
LSTM_HIGHLIGHTS = {
    "forget": (
        {"c_in", "f_mult", "bus", "feed_f", "sig_f", "f_wire"},
        r"$f_t = \sigma(x_t W_{xf} + h_{t-1} W_{hf} + b_f)$",
    ),
    "input": (
        {
            "bus",
            "feed_i",
            "feed_g",
            "sig_i",
            "tanh_g",
            "i_wire",
            "g_wire",
            "ig_mult",
        },
        r"$i_t = \sigma(x_t W_{xi} + h_{t-1} W_{hi} + b_i), \quad"
        r"g_t = \tanh(x_t W_{xg} + h_{t-1} W_{hg} + b_g)$",
    ),
    "update": (
        {
            "c_in",
            "f_mult",
            "c_mid",
            "plus",
            "c_out",
            "f_wire",
            "ig_mult",
            "ig_wire",
        },
        r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t$",
    ),
    "output": (
        {
            "c_out",
            "c_branch",
            "tanh_c",
            "tc_wire",
            "h_mult",
            "bus",
            "feed_o",
            "sig_o",
            "o_wire",
            "h_out",
        },
        r"$o_t = \sigma(x_t W_{xo} + h_{t-1} W_{ho} + b_o), \quad"
        r"h_t = o_t \odot \tanh(c_t)$",
    ),
}


def _lstm_cell_wires(canvas, rows, cols, r):
    """The cell-state line, the input bus and the wires between the parts."""
    cell = PALETTE[0]
    y_c, y_m, y_g, y_in = rows
    x_f, x_i, x_g, x_o, x_out = cols
    w = canvas.wire
    w("c_in", [(-0.6, y_c), (x_f - r, y_c)], cell, lw=3, arrow=False)
    w("c_mid", [(x_f + r, y_c), (x_g - r, y_c)], cell, lw=3, arrow=False)
    w("c_out", [(x_g + r, y_c), (10.6, y_c)], cell, lw=3)
    w("bus", [(-0.6, y_in), (x_o, y_in)], arrow=False)
    w("bus", [(0.9, -0.5), (0.9, y_in)], arrow=False)
    canvas.dot("bus", (0.9, y_in))
    for part, col in zip(
        ("feed_f", "feed_i", "feed_g", "feed_o"), (x_f, x_i, x_g, x_o)
    ):
        w(part, [(col, y_in), (col, y_g - 0.32)])
    w("f_wire", [(x_f, y_g + 0.32), (x_f, y_c - r)])
    w("i_wire", [(x_i, y_g + 0.32), (x_i, y_m), (x_g - r, y_m)])
    w("g_wire", [(x_g, y_g + 0.32), (x_g, y_m - r)])
    w("ig_wire", [(x_g, y_m + r), (x_g, y_c - r)])
    canvas.dot("c_branch", (x_out, y_c), cell, size=5)
    w("c_branch", [(x_out, y_c), (x_out, y_m + 0.27)])
    w("tc_wire", [(x_out, y_m - 0.27), (x_out, y_g + r)])
    w("o_wire", [(x_o + 0.5, y_g), (x_out - r, y_g)])
    w("h_out", [(x_out, y_g - r), (x_out, y_in), (10.6, y_in)])
    canvas.dot("h_out", (9.2, y_in))
    w("h_out", [(9.2, y_in), (9.2, 6.2)])


def _lstm_cell_labels(canvas, rows, cols):
    """Names of the states, gates and parts of the LSTM cell."""
    y_c, y_m, y_g, y_in = rows
    x_f, x_i, x_g, x_o, _ = cols
    t = canvas.text
    big, small = {"fontsize": 13}, {"fontsize": 11}
    t("c_in", (-0.7, y_c), "$c_{t-1}$", ha="right", **big)
    t("c_out", (10.7, y_c), "$c_t$", ha="left", **big)
    t("bus", (-0.7, y_in), "$h_{t-1}$", ha="right", **big)
    t("h_out", (10.7, y_in), "$h_t$", ha="left", **big)
    t("h_out", (9.2, 6.45), "$h_t$", **big)
    t("bus", (0.9, -0.75), "$x_t$", **big)
    t("f_wire", (x_f + 0.12, y_m), "$f_t$", ha="left", **small)
    t("i_wire", (x_i - 0.12, 2.8), "$i_t$", ha="right", **small)
    t("g_wire", (x_g + 0.12, 2.75), "$g_t$", ha="left", **small)
    t("o_wire", (7.62, y_g + 0.25), "$o_t$", **small)
    t("bus", (1.5, y_in + 0.22), r"$[h_{t-1}, x_t]$", fontsize=10)
    t("c_mid", (3.65, y_c + 0.35), "cell state", color=PALETTE[0], fontsize=10)
    for part, col, name in (
        ("sig_f", x_f, "forget"),
        ("sig_i", x_i, "input"),
        ("tanh_g", x_g, "candidate"),
        ("sig_o", x_o, "output"),
    ):
        t(part, (col, y_in - 0.3), name, fontsize=9, color="0.3")


def draw_lstm_cell(ax=None, highlight=None):
    """Draw one step of an LSTM cell, optionally with one gate highlighted.

    Boxes are layers with weights, circles elementwise operations. The
    thick line along the top is the cell state. `highlight` is None (the
    whole cell) or one of "forget", "input", "update", "output": that part
    is drawn in colour, the rest faded, and its equation written below.

    Returns the matplotlib Axes.
    """
    if highlight is not None and highlight not in LSTM_HIGHLIGHTS:
        raise ValueError(
            f"highlight must be None or one of {list(LSTM_HIGHLIGHTS)}, "
            f"not {highlight!r}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5.4))
    active, equation = LSTM_HIGHLIGHTS[highlight] if highlight else (None, "")
    canvas = _Canvas(ax, active)
    rows = (4.6, 3.3, 2.0, 0.9)  # cell state, products, layers, inputs
    cols = (2.2, 3.7, 5.1, 6.7, 8.3)  # forget, input, candidate, output, out
    r = 0.26  # radius of an elementwise node
    canvas.frame((0.3, 0.2), 9.4, 5.15)
    _lstm_cell_wires(canvas, rows, cols, r)
    y_c, y_m, y_g, _ = rows
    x_f, x_i, x_g, x_o, x_out = cols
    gate, cand = PALETTE[1], PALETTE[2]
    canvas.node("f_mult", (x_f, y_c), r"$\odot$")
    canvas.node("plus", (x_g, y_c), "$+$")
    canvas.node("ig_mult", (x_g, y_m), r"$\odot$")
    canvas.node("h_mult", (x_out, y_g), r"$\odot$")
    canvas.box("sig_f", (x_f, y_g), r"$\sigma$", gate)
    canvas.box("sig_i", (x_i, y_g), r"$\sigma$", gate)
    canvas.box("tanh_g", (x_g, y_g), r"$\tanh$", cand)
    canvas.box("sig_o", (x_o, y_g), r"$\sigma$", gate)
    canvas.box(
        "tanh_c", (x_out, y_m), r"$\tanh$", cand, size=(0.8, 0.4), fontsize=11
    )
    _lstm_cell_labels(canvas, rows, cols)
    bottom = -1.0
    if equation:
        ax.text(5.0, -1.45, equation, ha="center", va="center", fontsize=12)
        bottom = -1.9
    canvas.finish((-1.6, 11.4), (bottom, 6.7))
    return ax


def _gru_cell_wires(canvas, rows, cols, r):
    """The hidden-state line, the two input buses, the gates' wires."""
    state, gate, cand, inp = PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[4]
    y_s, y_m, y_r, y_g, y_h, y_x = rows
    x_z, x_r, x_hn, x_rn, x_n, x_1m, x_out = cols
    w, dot = canvas.wire, canvas.dot
    w("", [(-0.7, y_s), (x_z - r, y_s)], state, lw=3, arrow=False)
    w("", [(x_z + r, y_s), (x_n - r, y_s)], state, lw=3, arrow=False)
    w("", [(x_n + r, y_s), (10.5, y_s)], state, lw=3)
    dot("", (x_out, y_s), state)
    w("", [(x_out, y_s), (x_out, 6.0)], state, lw=2)
    dot("", (0.55, y_s), state)
    w("", [(0.55, y_s), (0.55, y_h), (x_hn, y_h)], arrow=False)
    w("", [(1.15, -0.5), (1.15, y_x), (x_n, y_x)], inp, arrow=False)
    for col in (x_z, x_r):  # both gates read both buses
        dot("", (col, y_x), inp)
        dot("", (col, y_h))
        w("", [(col, y_x), (col, y_h)], inp, arrow=False)
        w("", [(col, y_h), (col, y_g - 0.32)])
    w("", [(x_z, y_g + 0.32), (x_z, y_s - r)], gate)  # z_t to the state
    dot("", (x_z, y_m), gate)
    w("", [(x_z, y_m), (x_1m - r, y_m)], gate)
    w("", [(x_1m + r, y_m), (x_n - r, y_m)], gate)
    dot("", (x_hn, y_h))
    w("", [(x_hn, y_h), (x_hn, y_g - 0.32)])
    w("", [(x_hn + 0.45, y_g), (x_rn - r, y_g)])
    w("", [(x_r, y_g + 0.32), (x_r, y_r), (x_rn, y_r), (x_rn, y_g + r)], gate)
    w("", [(x_rn + r, y_g), (x_n - 0.5, y_g)])
    w("", [(x_n, y_x), (x_n, y_g - 0.32)], inp)
    w("", [(x_n, y_g + 0.32), (x_n, y_m - r)], cand)
    w("", [(x_n, y_m + r), (x_n, y_s - r)])


def _gru_cell_labels(canvas, rows, cols):
    """Names of the state, the gates and the candidate of the GRU cell."""
    y_s, y_m, y_r, y_g, _, _ = rows
    x_z, x_r, _, _, x_n, _, x_out = cols
    t = canvas.text
    big, small = {"fontsize": 13}, {"fontsize": 11}
    t("", (-0.8, y_s), "$h_{t-1}$", ha="right", **big)
    t("", (10.6, y_s), "$h_t$", ha="left", **big)
    t("", (x_out, 6.25), "$h_t$", **big)
    t("", (1.15, -0.75), "$x_t$", **big)
    t("", (x_z - 0.12, 4.3), "$z_t$", ha="right", **small)
    t("", (3.1, y_m + 0.22), "$1 - z_t$", fontsize=10)
    t("", (4.6, y_r + 0.22), "$r_t$", **small)
    t("", (x_n + 0.12, 2.95), "$n_t$", ha="left", **small)
    t("", (x_n + 0.12, 1.2), "$x_t W_{xn} + b_{xn}$", ha="left", fontsize=9)
    t("", (5.45, y_g + 0.22), r"$+ b_{hn}$", fontsize=9)
    t("", (4.6, y_s + 0.35), "hidden state", color=PALETTE[0], fontsize=10)
    for xy, name in (
        ((x_z + 0.1, y_g + 0.5), "update"),
        ((x_r + 0.1, y_g + 0.5), "reset"),
        ((x_n + 0.55, y_g), "candidate"),
    ):
        t("", xy, name, ha="left", fontsize=9, color="0.3")


def draw_gru_cell(ax=None):
    """Draw one step of a GRU cell in PyTorch's form.

    The thick line along the top is the hidden state; h_{t-1} (black) and
    x_t (blue) feed the update and reset gates; the reset gate scales the
    recurrent term h_{t-1} W_hn + b_hn before the candidate's tanh.

    Returns the matplotlib Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5.6))
    canvas = _Canvas(ax)
    rows = (4.8, 3.75, 3.1, 2.1, 1.05, 0.45)  # state ... x_t bus
    cols = (2.0, 3.3, 4.7, 5.95, 7.3, 4.6, 9.0)  # z, r, W_hn, r*, n, 1-, out
    r = 0.25
    canvas.frame((0.15, 0.05), 9.45, 5.3)
    _gru_cell_wires(canvas, rows, cols, r)
    y_s, y_m, _, y_g, _, _ = rows
    x_z, x_r, x_hn, x_rn, x_n, x_1m, _ = cols
    gate, cand = PALETTE[1], PALETTE[2]
    canvas.node("", (x_z, y_s), r"$\odot$", radius=r)
    canvas.node("", (x_n, y_s), "$+$", radius=r)
    canvas.node("", (x_1m, y_m), "$1-$", radius=r, fontsize=10)
    canvas.node("", (x_n, y_m), r"$\odot$", radius=r)
    canvas.node("", (x_rn, y_g), r"$\odot$", radius=r)
    canvas.box("", (x_z, y_g), r"$\sigma$", gate)
    canvas.box("", (x_r, y_g), r"$\sigma$", gate)
    canvas.box("", (x_hn, y_g), "$W_{hn}$", PALETTE[4], size=(0.8, 0.6))
    canvas.box("", (x_n, y_g), r"$\tanh$", cand)
    _gru_cell_labels(canvas, rows, cols)
    canvas.finish((-1.7, 11.3), (-1.0, 6.5))
    return ax


# ------------------------------------------------- computational graphs

_NODE_SIZES = {
    "op": (0.56, 0.56),
    "layer": (2.4, 0.62),
    "end": (0.9, 0.5),
    "fork": (0.12, 0.12),
}


def _node_size(node):
    """Half width and half height of a graph node (x, y, text, kind[, w])."""
    width, height = _NODE_SIZES[node[3]]
    if len(node) > 4:
        width = node[4]
    return width / 2, height / 2


def _clip(node, towards):
    """The point where a wire from `towards` meets the node's outline."""
    x, y = node[0], node[1]
    dx, dy = towards[0] - x, towards[1] - y
    length = float(np.hypot(dx, dy)) or 1.0
    ux, uy = dx / length, dy / length
    half_w, half_h = _node_size(node)
    if node[3] == "op":
        reach = half_w
    else:
        reach = min(
            half_w / abs(ux) if ux else np.inf,
            half_h / abs(uy) if uy else np.inf,
        )
    reach += 0.04 if node[3] == "op" else 0.1  # air, and the box's pad
    return x + ux * reach, y + uy * reach


def _edge_labels(ax, points, forward, backward):
    """The value above the longest horizontal segment, its gradient below
    it (left and right of the longest segment if none is horizontal)."""
    segments = list(zip(points[:-1], points[1:]))
    flat = [s for s in segments if abs(s[1][1] - s[0][1]) < 1e-9]
    (x0, y0), (x1, y1) = max(
        flat or segments,
        key=lambda s: np.hypot(s[1][0] - s[0][0], s[1][1] - s[0][1]),
    )
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    if abs(x1 - x0) >= abs(y1 - y0):  # a horizontal or shallow segment
        places = (
            (mx, my + 0.2, "center", "bottom"),
            (mx, my - 0.2, "center", "top"),
        )
    else:
        places = (
            (mx - 0.12, my, "right", "center"),
            (mx + 0.12, my, "left", "center"),
        )
    for text, (x, y, ha, va), colour in zip(
        (forward, backward), places, (_INK, PALETTE[5])
    ):
        if text:
            ax.text(x, y, text, ha=ha, va=va, fontsize=11, color=colour)


def _graph_legend(ax, xy):
    """What the two colours of a graph's labels mean, right-aligned."""
    ax.text(
        xy[0],
        xy[1] + 0.3,
        "values: forward, left to right",
        ha="right",
        fontsize=9,
        color=_INK,
    )
    ax.text(
        xy[0],
        xy[1],
        r"gradients $\bar v = \partial L / \partial v$:"
        " backward, right to left",
        ha="right",
        fontsize=9,
        color=PALETTE[5],
    )


def draw_graph(ax, nodes, edges, colours=None):
    """Draw a computational graph: operations as nodes, values on the wires.

    - nodes: dict name -> (x, y, text, kind) or (x, y, text, kind, width);
      kind is "op" (a circle: an elementwise operation), "layer" (a box: a
      matrix product), "end" (plain text: an input, parameter or output of
      the step) or "fork" (a dot where a value is used twice)
    - edges: list of (source, target, forward, backward) or (source,
      target, forward, backward, corners): the wire carries the value named
      `forward` (written above it, in black) whose gradient `backward` is
      written below it (in vermillion), either may be ""; `corners` are
      points the wire passes through on its way
    - colours: optional dict (source, target) -> colour of that wire

    Returns the matplotlib Axes.
    """
    canvas = _Canvas(ax)
    colours = colours or {}
    for source, target, forward, backward, *rest in edges:
        corners = list(rest[0]) if rest else []
        start = _clip(
            nodes[source], corners[0] if corners else nodes[target][:2]
        )
        end = _clip(
            nodes[target], corners[-1] if corners else nodes[source][:2]
        )
        points = [start, *corners, end]
        canvas.wire("", points, colours.get((source, target), _INK))
        _edge_labels(ax, points, forward, backward)
    for node in nodes.values():
        text, kind, xy = node[2], node[3], node[:2]
        if kind == "op":
            canvas.node("", xy, text, radius=_node_size(node)[0], fontsize=12)
        elif kind == "layer":
            half_w, half_h = _node_size(node)
            canvas.box(
                "",
                xy,
                text,
                PALETTE[4],
                size=(2 * half_w, 2 * half_h),
                fontsize=11,
            )
        elif kind == "fork":
            canvas.dot("", xy, size=5)
        else:
            canvas.text("", xy, text, fontsize=13)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def lstm_step_graph(ax=None):
    """The computational graph of one LSTM step, forward and backward.

    Values travel left to right on the wires (names above them); their
    gradients, written with a bar (v-bar = dL/dv), travel right to left
    (below the wires). The cell state c_t forks: its gradient is the sum of
    what comes back from the next step and from h_t.

    Returns the matplotlib Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(10.5, 5.2))
    nodes = {
        "c0": (0, 5.4, "$c_{t-1}$", "end"),
        "h0": (0, 2.3, "$h_{t-1}$", "end"),
        "x": (0, 0.7, "$x_t$", "end"),
        "W": (3.1, -0.7, r"$W_x,\ W_h,\ b$", "end", 1.6),
        "lin": (3.1, 1.5, r"$x_t W_x + h_{t-1} W_h + b$", "layer", 2.7),
        "split": (5.3, 1.5, "split", "op", 0.7),
        "sf": (6.9, 4.3, r"$\sigma$", "op"),
        "si": (6.9, 3.2, r"$\sigma$", "op"),
        "tg": (6.9, 1.9, r"$\tanh$", "op", 0.7),
        "so": (6.9, 0.5, r"$\sigma$", "op"),
        "m1": (8.7, 5.4, r"$\odot$", "op"),
        "m2": (8.7, 2.55, r"$\odot$", "op"),
        "plus": (9.9, 5.4, "$+$", "op"),
        "fork": (11.3, 5.4, "", "fork"),
        "c1": (13.6, 5.4, "$c_t$", "end"),
        "tc": (11.3, 3.6, r"$\tanh$", "op", 0.7),
        "m3": (11.3, 1.6, r"$\odot$", "op"),
        "h1": (13.6, 1.6, "$h_t$", "end"),
    }
    edges = [
        ("x", "lin", "", r"$\bar x_t$", [(1.4, 0.7), (1.4, 1.3)]),
        ("h0", "lin", "", r"$\bar h_{t-1}$", [(1.4, 2.3), (1.4, 1.7)]),
        ("W", "lin", "", r"$\bar W_x,\ \bar W_h,\ \bar b$"),
        ("lin", "split", "$a_t$", r"$\bar a_t$"),
        ("split", "sf", "$a_f$", "", [(6.0, 1.5), (6.0, 4.3)]),
        ("split", "si", "$a_i$", "", [(6.0, 1.5), (6.0, 3.2)]),
        ("split", "tg", "$a_g$", "", [(6.0, 1.5), (6.0, 1.9)]),
        ("split", "so", "$a_o$", "", [(6.0, 1.5), (6.0, 0.5)]),
        ("c0", "m1", "$c_{t-1}$", r"$\bar c_{t-1}$"),
        ("sf", "m1", "$f_t$", r"$\bar f_t$", [(8.7, 4.3)]),
        ("si", "m2", "$i_t$", r"$\bar\imath_t$", [(8.7, 3.2)]),
        ("tg", "m2", "$g_t$", r"$\bar g_t$", [(8.7, 1.9)]),
        ("m1", "plus", "", ""),
        ("m2", "plus", "", "", [(9.9, 2.55)]),
        ("plus", "fork", "$c_t$", r"$\bar c_t$"),
        ("fork", "c1", "", r"$\bar c_t^{\,\mathrm{next}}$"),
        ("fork", "tc", "", ""),
        ("tc", "m3", "", ""),
        ("so", "m3", "$o_t$", r"$\bar o_t$", [(11.3, 0.5)]),
        ("m3", "h1", "$h_t$", r"$\bar h_t$"),
    ]
    draw_graph(
        ax,
        nodes,
        edges,
        {
            ("c0", "m1"): PALETTE[0],
            ("m1", "plus"): PALETTE[0],
            ("plus", "fork"): PALETTE[0],
            ("fork", "c1"): PALETTE[0],
        },
    )
    _graph_legend(ax, (14.2, -0.8))
    ax.set_xlim(-0.8, 14.3)
    ax.set_ylim(-1.2, 6.2)
    return ax


def _gru_graph_nodes():
    """Where the operations of one GRU step sit in its graph."""
    return {
        "h0": (0, 3.6, "$h_{t-1}$", "end"),
        "hf": (0.9, 3.6, "", "fork"),
        "x": (0, 0.6, "$x_t$", "end"),
        "Wh": (2.7, 5.0, r"$W_h,\ b_h$", "end", 1.2),
        "Wx": (2.7, -0.7, r"$W_x,\ b_x$", "end", 1.2),
        "linh": (2.7, 3.6, r"$h_{t-1} W_h + b_h$", "layer", 2.2),
        "linx": (2.7, 0.6, r"$x_t W_x + b_x$", "layer", 2.2),
        "sh": (4.95, 3.6, "split", "op", 0.7),
        "sx": (4.95, 0.6, "split", "op", 0.7),
        "z": (7.55, 4.9, r"$\sigma$", "op"),
        "r": (7.55, 3.5, r"$\sigma$", "op"),
        "zf": (8.55, 4.9, "", "fork"),
        "mr": (8.95, 2.3, r"$\odot$", "op"),
        "tn": (10.35, 1.1, r"$\tanh$", "op", 0.7),
        "om": (9.95, 4.9, "$1-$", "op"),
        "mzh": (11.55, 6.4, r"$\odot$", "op"),
        "mn": (11.55, 3.6, r"$\odot$", "op"),
        "plus": (12.75, 6.4, "$+$", "op"),
        "h1": (14.15, 6.4, "$h_t$", "end"),
    }


def _gru_graph_edges():
    """The wires of one GRU step: (source, target, value, gradient[,
    corners])."""
    return [
        ("h0", "hf", "", r"$\bar h_{t-1}$"),
        ("hf", "linh", "", ""),
        ("hf", "mzh", "$h_{t-1}$", "", [(0.9, 6.4)]),
        ("x", "linx", "", r"$\bar x_t$"),
        ("Wh", "linh", "", ""),
        ("Wx", "linx", "", ""),
        ("linh", "sh", "$a^h$", r"$\bar a^h$"),
        ("linx", "sx", "$a^x$", r"$\bar a^x$"),
        ("sh", "z", "", "", [(5.55, 3.6), (5.55, 5.0)]),
        ("sh", "r", "", "", [(5.55, 3.6)]),
        ("sh", "mr", "$a^h_n$", r"$\bar a^h_n$", [(5.55, 3.6), (5.55, 2.3)]),
        ("sx", "z", "", "", [(6.15, 0.6), (6.15, 4.8)]),
        ("sx", "r", "", "", [(6.15, 0.6), (6.15, 3.4)]),
        ("sx", "tn", "$a^x_n$", r"$\bar a^x_n$", [(6.15, 0.6), (6.15, 1.1)]),
        ("r", "mr", "$r_t$", r"$\bar r_t$", [(8.95, 3.5)]),
        ("mr", "tn", "", "", [(10.35, 2.3)]),
        ("z", "zf", "$z_t$", r"$\bar z_t$"),
        ("zf", "mzh", "", "", [(8.55, 5.7), (11.55, 5.7)]),
        ("zf", "om", "", ""),
        ("om", "mn", "", "", [(11.55, 4.9)]),
        ("tn", "mn", "$n_t$", r"$\bar n_t$", [(11.55, 1.1)]),
        ("mzh", "plus", "", ""),
        ("mn", "plus", "", "", [(12.75, 3.6)]),
        ("plus", "h1", "$h_t$", r"$\bar h_t$"),
    ]


def gru_step_graph(ax=None):
    """The computational graph of one GRU step (PyTorch's form).

    As in lstm_step_graph, values are written above the wires and their
    gradients below. The input side (blue) and the hidden side (black) each
    give three blocks; the hidden side's n block passes through the reset
    gate before the tanh, which is why its gradient differs from the input
    side's.

    Returns the matplotlib Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(10.5, 5.6))
    edges = _gru_graph_edges()
    blue = {
        (source, target): PALETTE[4]
        for source, target, *_ in edges
        if source in ("x", "Wx", "linx", "sx")
    }
    state = {
        ("hf", "mzh"): PALETTE[0],
        ("mzh", "plus"): PALETTE[0],
        ("plus", "h1"): PALETTE[0],
    }
    draw_graph(ax, _gru_graph_nodes(), edges, {**blue, **state})
    _graph_legend(ax, (14.7, -0.6))
    ax.set_xlim(-0.8, 14.8)
    ax.set_ylim(-1.1, 7.0)
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


# ------------------------------------------- the whole Transformer, GPT
# Diagrams of the pages "The whole Transformer" and "A GPT-style language
# model": which positions an attention connects, the shifted targets of
# teacher forcing, where dropout goes, and what a key-value cache keeps.


def attention_connections(ax, queries, keys, allowed, title=None):
    """Queries on top, keys below, a line from every query to every key it
    may attend to (``allowed[i, j]`` True). Keys that no query may see
    (padding) are drawn grey, with a dashed edge."""
    allowed = np.asarray(allowed, dtype=bool)
    longest = max(len(text) for text in [*queries, *keys])
    spacing = max(1.6, 0.25 * longest + 0.2)  # between box centres
    width = spacing * (max(len(queries), len(keys)) - 1)
    qx = np.linspace(0, width, len(queries))
    kx = np.linspace(0, width, len(keys))
    for i, j in zip(*np.nonzero(allowed)):
        ax.plot([qx[i], kx[j]], [1, 0], color=PALETTE[0], lw=1.1, alpha=0.6)
    hidden = ~allowed.any(axis=0)
    for x, text in zip(qx, queries):
        diagram_box(ax, (x, 1), text, PALETTE[1], fontsize=10)
    for j, (x, text) in enumerate(zip(kx, keys)):
        if hidden[j]:
            ax.text(
                x, 0, text, ha="center", va="center", fontsize=10,
                color="0.3", zorder=3,
                bbox=dict(boxstyle="round,pad=0.35", facecolor="0.93",
                          edgecolor="0.45", linestyle="--"),
            )  # fmt: skip
        else:
            diagram_box(ax, (x, 0), text, PALETTE[2], fontsize=10)
    ax.text(-1.0, 1, "queries", ha="right", va="center", fontsize=10)
    ax.text(-1.0, 0, "keys and\nvalues", ha="right", va="center", fontsize=10)
    if title:
        ax.set_title(title, fontsize=11)
    ax.set_xlim(-3.4, width + 0.9)
    ax.set_ylim(-0.35, 1.35)
    ax.axis("off")
    return ax


def mask_grid(ax, allowed, xlabels, ylabels, title=None):
    """A boolean attention mask as a grid: a filled square where query
    (row) i may attend to key (column) j, an empty one where not."""
    allowed = np.asarray(allowed, dtype=bool)
    rows, cols = allowed.shape
    for i in range(rows):
        for j in range(cols):
            ax.add_patch(
                plt.Rectangle(
                    (j - 0.45, i - 0.45), 0.9, 0.9,
                    facecolor=PALETTE[0] if allowed[i, j] else "white",
                    edgecolor=PALETTE[0] if allowed[i, j] else "0.6",
                    linewidth=0.8,
                )
            )  # fmt: skip
    ax.set_xlim(-0.6, cols - 0.4)
    ax.set_ylim(rows - 0.4, -0.6)  # the first query on top
    ax.set_aspect("equal")
    ax.set_xticks(range(cols), labels=list(xlabels), rotation=60, ha="right")
    ax.set_yticks(range(rows), labels=list(ylabels))
    ax.tick_params(length=0, labelsize=9)
    ax.grid(False)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=11)
    return ax


def shifted_targets_diagram(ax, tokens, bos="<bos>", eos="<eos>"):
    """Teacher forcing with shifted targets: the target with BOS and EOS,
    the decoder's input (BOS and the target, shifted right) and the labels
    (the target and EOS), one column per position, an arrow from every
    input through the decoder to the label it must predict."""
    inputs, labels = [bos, *tokens], [*tokens, eos]
    for t, (given, wanted) in enumerate(zip(inputs, labels)):
        diagram_box(ax, (t, 0), given, PALETTE[1], fontsize=11)
        diagram_box(ax, (t, 2), wanted, PALETTE[2], fontsize=11)
        diagram_arrow(ax, (t, 0), (t, 2), shrinkA=12, shrinkB=12)
        ax.text(t, -0.55, f"$t={t + 1}$", ha="center", fontsize=9)
    ax.add_patch(
        FancyBboxPatch(
            (-0.4, 0.75), len(inputs) - 0.2, 0.5,
            boxstyle="round,pad=0.05", edgecolor=PALETTE[0],
            facecolor=to_rgba(PALETTE[0], 0.15), zorder=2.5,
        )
    )  # fmt: skip
    ax.text(
        (len(inputs) - 1) / 2, 1.0,
        "decoder (causal mask): all positions in one pass",
        ha="center", va="center", fontsize=10, zorder=3,
    )  # fmt: skip
    ax.text(-0.7, 0, "decoder input\n(shifted right)", ha="right",
            va="center", fontsize=10)  # fmt: skip
    ax.text(-0.7, 2, "labels", ha="right", va="center", fontsize=10)
    ax.set_xlim(-3.0, len(inputs) - 0.4)
    ax.set_ylim(-0.8, 2.4)
    ax.axis("off")
    return ax


_DROPOUT = PALETTE[5]


def _dropout_mark(ax, xy, text):
    """A small vermillion 'dropout' tag at xy with a note beside it."""
    ax.text(
        *xy, "dropout", ha="center", va="center", fontsize=8.5,
        color="white", fontweight="bold", zorder=4,
        bbox=dict(boxstyle="round,pad=0.25", facecolor=_DROPOUT,
                  edgecolor=_DROPOUT),
    )  # fmt: skip
    ax.text(xy[0] + 0.75, xy[1], text, va="center", fontsize=9, color="0.2")


def dropout_diagram(ax):
    """One post-norm encoder layer from bottom to top, with the places
    where the Transformer's dropout goes: on the sum of embeddings and
    positions, on the attention weights, on each sub-layer's output before
    the residual addition, and inside the feed-forward network."""
    x = 0.0
    blocks = [
        (0.0, "embedding $+$ position", _EMBED),
        (2.0, "multi-head attention", _ATTENTION),
        (3.4, "add & norm", _NORM),
        (4.4, "linear, ReLU", _FEED_FORWARD),
        (5.8, "linear", _FEED_FORWARD),
        (7.2, "add & norm", _NORM),
    ]
    for y, text, colour in blocks:
        _block(ax, x, y, text, colour)
    for (y0, *_), (y1, *_) in zip(blocks, blocks[1:]):
        _line(ax, (x, y0 + 0.21), (x, y1 - 0.21))
    for start, end in ((0.21, 3.4), (3.61, 7.2)):  # residual connections
        diagram_arrow(
            ax, (x - 1.3, start + 0.3), (x - 1.3, end), rad=0.4,
            shrinkA=0, shrinkB=0, lw=1.0,
        )  # fmt: skip
    marks = [
        (0.9, "on the sum of the embeddings and the positions"),
        (2.0, "on the attention weights (torch's layers)"),
        (2.7, "on the sub-layer's output, before the addition"),
        (5.1, "inside the feed-forward network (torch's layers)"),
        (6.5, "on the sub-layer's output, before the addition"),
    ]
    for y, text in marks:
        _dropout_mark(ax, (x + 1.95 if y == 2.0 else x, y), text)
    ax.set_xlim(-2.2, 7.4)
    ax.set_ylim(-0.5, 7.7)
    ax.axis("off")
    return ax


def kv_cache_diagram(axes, length=6, step=4):
    """What one step of generation computes, as a grid of query rows
    against key columns, at step ``step`` of ``length``: without a cache
    every query of the text so far (a triangle, recomputed at every step),
    with one only the newest query's row, over keys and values kept from
    earlier steps."""
    titles = ("without a cache", "with a key-value cache")
    for ax, cached, title in zip(axes, (False, True), titles):
        for i in range(length):
            for j in range(length):
                computed = j <= i <= step and (not cached or i == step)
                stored = cached and j < step and i == step
                colour = PALETTE[1] if computed else "white"
                edge = PALETTE[1] if computed else "0.75"
                ax.add_patch(
                    plt.Rectangle(
                        (j - 0.45, i - 0.45), 0.9, 0.9, facecolor=colour,
                        edgecolor=edge, hatch="..." if stored else None,
                    )
                )  # fmt: skip
        if cached:
            for j in range(step):
                ax.text(j, -0.95, "K, V\nkept", ha="center", fontsize=7.5)
        ax.set_xlim(-0.6, length - 0.4)
        ax.set_ylim(length - 0.4, -1.5)
        ax.set_aspect("equal")
        ax.set_xticks(
            range(length), labels=[str(j + 1) for j in range(length)]
        )
        ax.set_yticks(
            range(length), labels=[str(i + 1) for i in range(length)]
        )
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
        ax.tick_params(length=0)
        ax.grid(False)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        ax.set_title(title, fontsize=11)
    return axes


_CHOSEN, _GIVEN = PALETTE[2], PALETTE[1]  # labels / outputs, inputs
_FADED_BOX = dict(
    boxstyle="round,pad=0.3", facecolor="0.94", edgecolor="0.5",
    linestyle="--",
)  # fmt: skip


def _causal_grid(ax, corner, size, cell=0.28):
    """A small causal mask of ``size`` rows and columns, its top-left
    corner at ``corner``: filled on and below the diagonal."""
    x0, y0 = corner
    for i in range(size):
        for j in range(size):
            keep = j <= i
            ax.add_patch(
                plt.Rectangle(
                    (x0 + j * cell, y0 - (i + 1) * cell), cell * 0.9,
                    cell * 0.9, linewidth=0.6,
                    facecolor=PALETTE[0] if keep else "white",
                    edgecolor=PALETTE[0] if keep else "0.6",
                )
            )  # fmt: skip


def _decoding_step(ax, y, inputs, outputs, right):
    """One step of greedy decoding in a band at height ``y``: the inputs
    (the prefix) below, the decoder's outputs above, the earlier ones
    faded (recomputed, unchanged) and the last one, the token chosen,
    in green; its causal mask at x = ``right``."""
    t = len(inputs)
    ax.add_patch(
        FancyBboxPatch(
            (-0.4, y + 0.38), t - 0.2, 0.2, boxstyle="round,pad=0.04",
            edgecolor=PALETTE[0], facecolor=to_rgba(PALETTE[0], 0.15),
            zorder=1,
        )
    )  # fmt: skip
    for j, (given, out) in enumerate(zip(inputs, outputs)):
        diagram_box(ax, (j, y), given, _GIVEN, fontsize=10)
        diagram_arrow(ax, (j, y), (j, y + 0.95), shrinkA=9, shrinkB=9)
        if j < t - 1:
            ax.text(j, y + 0.95, out, ha="center", va="center",
                    fontsize=10, color="0.3", zorder=3,
                    bbox=_FADED_BOX)  # fmt: skip
        else:
            diagram_box(ax, (j, y + 0.95), out, _CHOSEN, alpha=0.35,
                        fontsize=10)  # fmt: skip
    ax.text(-2.3, y + 0.47, f"step {t}", va="center", fontsize=10.5)
    _causal_grid(ax, (right, y + 1.2), t)


def _append_arrow(ax, start, end):
    """The chosen token's way to the next step: right, down the gap
    between two columns, and into the new input from its left."""
    gap = start[0] + 0.5
    ax.plot([start[0] + 0.25, gap, gap], [start[1], start[1], end[1]],
            color=_CHOSEN, lw=1.4, zorder=2)  # fmt: skip
    diagram_arrow(
        ax, (gap, end[1]), (end[0] - 0.22, end[1]), color=_CHOSEN,
        lw=1.4, shrinkA=0, shrinkB=0,
    )  # fmt: skip


def greedy_decoding_diagram(ax, tokens, bos="<bos>", eos="<eos>"):
    """Greedy decoding unrolled, one band per step from the top. At step
    t the decoder reads the prefix ``bos`` y_1 ... y_{t-1} under a causal
    mask of shape (t, t), drawn on the right; the outputs of the earlier
    positions come out unchanged (faded) and the most probable token at
    the last position (green) is appended to the next step's input, until
    it is ``eos``."""
    inputs, outputs = [bos, *tokens], [*tokens, eos]
    band, right = 1.9, len(inputs) + 0.9
    for t in range(1, len(inputs) + 1):
        y = -(t - 1) * band
        _decoding_step(ax, y, inputs[:t], outputs[:t], right)
        if t < len(inputs):  # the chosen token becomes the next input
            _append_arrow(ax, (t - 1, y + 0.95), (t, y - band))
    roles = (
        (0.95, "output"),
        (0.47, "decoder"),
        (0, "input"),
        (0.95 - band, "earlier outputs,\nunchanged"),
    )
    for y, text in roles:
        ax.text(-0.6, y, text, ha="right", va="center", fontsize=9,
                color="0.25")  # fmt: skip
    notes = (
        (0.75, 0.95, "most probable token (arg max)"),
        (1.45, -band, "appended to the input"),
        (len(inputs) - 0.4, 0.95 - (len(inputs) - 1) * band, f"{eos}: stop"),
    )
    for x, y, text in notes:
        ax.text(x, y, text, va="center", fontsize=9, color="0.2")
    ax.text(right + 0.7, 1.55, "causal mask", ha="center", fontsize=9.5)
    last = -(len(inputs) - 1) * band
    ax.set_xlim(-2.4, right + 1.6)
    ax.set_ylim(last - 0.45, 1.85)
    ax.axis("off")
    return ax


def _embedding_matrix(ax, corner, tokens, highlight, dim):
    """The matrix E, one row of ``dim`` cells per token (labelled on the
    left), its top-left corner at ``corner``; the row ``highlight`` in
    orange. Returns the centre of its top edge and of the highlighted
    row's right end."""
    x0, y0 = corner
    cell = 0.36
    for i, token in enumerate(tokens):
        colour = _GIVEN if i == highlight else _EMBED
        for j in range(dim):
            ax.add_patch(
                plt.Rectangle(
                    (x0 + j * cell, y0 - (i + 1) * cell), cell * 0.92,
                    cell * 0.92, facecolor=to_rgba(colour, 0.45),
                    edgecolor=colour, linewidth=0.8,
                )
            )  # fmt: skip
        ax.text(x0 - 0.12, y0 - (i + 0.5) * cell, token, ha="right",
                va="center", fontsize=9)  # fmt: skip
    width = dim * cell
    ax.text(x0 + width / 2, y0 - len(tokens) * cell - 0.3,
            r"$E$: $(V, d_\mathrm{model})$, one row per token",
            ha="center", va="top", fontsize=10)  # fmt: skip
    row_end = (x0 + width, y0 - (highlight + 0.5) * cell)
    return (x0 + width / 2, y0), row_end


def tied_embeddings_diagram(ax, tokens, highlight=1, dim=4):
    """One embedding matrix E used three times: rows of E, scaled by
    sqrt(d_model), embed the source and the target tokens, and E
    transposed is the output layer, u = y E^T. The source's use (dashed)
    needs one vocabulary for both languages, as in the paper. The row of
    token ``tokens[highlight]`` is both its embedding and the weights of
    its score."""
    top, row_end = _embedding_matrix(ax, (4.3, 2.4), tokens, highlight, dim)
    sqrt_d = r"\sqrt{d_\mathrm{model}}"
    uses = {
        "source": ((1.0, 3.7), f"source embedding\n$E[x]\\,{sqrt_d}$"),
        "target": ((5.0, 3.7), f"target embedding\n$E[y]\\,{sqrt_d}$"),
        "output": ((9.0, 5.4), "output layer\n$u = y\\,E^\\top$"),
    }
    for name, (xy, text) in uses.items():
        diagram_box(ax, xy, text, _EMBED, fontsize=10)
        diagram_arrow(
            ax, top, (xy[0], xy[1] - 0.45), color=_EMBED, lw=1.6,
            style="--" if name == "source" else "-", shrinkA=4, shrinkB=4,
            rad={"source": 0.2, "target": 0.0, "output": -0.25}[name],
        )  # fmt: skip
    diagram_box(ax, (1.0, 5.4), "encoder", _ATTENTION, fontsize=10.5)
    diagram_box(ax, (5.0, 5.4), "decoder", _ATTENTION, fontsize=10.5)
    diagram_box(ax, (9.0, 6.9), "softmax", _OUTPUT, fontsize=10.5)
    arrows = (
        ((1.0, 4.15), (1.0, 5.15)),  # embeddings up into their stacks
        ((5.0, 4.15), (5.0, 5.15)),
        ((1.55, 5.4), (4.45, 5.4)),  # the memory
        ((5.55, 5.4), (8.2, 5.4)),  # the decoder's output y
        ((9.0, 5.85), (9.0, 6.65)),
    )
    for start, end in arrows:
        diagram_arrow(ax, start, end, shrinkA=0, shrinkB=0)
    ax.text(6.9, 5.55, "$y$", fontsize=11, ha="center")
    ax.text(3.0, 5.55, "memory", fontsize=9, ha="center", color="0.25")
    ax.text(1.0, 2.75, "shared only with one\nvocabulary (the paper)",
            ha="center", va="top", fontsize=9, color="0.25")  # fmt: skip
    ax.text(row_end[0] + 0.25, row_end[1],
            "row $e_k$ of token $k$: its embedding,\nand the weights "
            "of its score $u_k = y \\cdot e_k$",
            va="center", fontsize=9, color="0.2")  # fmt: skip
    ax.set_xlim(-0.6, 10.6)
    ax.set_ylim(-0.7, 7.3)
    ax.axis("off")
    return ax
