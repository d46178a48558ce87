"""Rules every page of the book keeps (issue 14): pages a reader can get
through, code cells that fit on a screen, and diagrams whose drawing code
lives in the course library rather than on the page.

- No page over 9,000 words as ``wc -w`` counts its .md source, code
  included: split where a reader would take a break.
- No code cell over 40 lines, ``hide-input`` cells included.
- The code that draws a figure, its cell and the functions and classes of
  the page it uses, stays under 100 lines; longer drawing code goes to
  ``seqbook.plotting``.
"""

import ast
import subprocess

import pytest

from pages import code_cells, is_notebook, toc_files
from submissions import REPO

MAX_WORDS = 9_000
MAX_CELL_LINES = 40
MAX_DRAWING_LINES = 100

PAGES = toc_files()
NOTEBOOKS = [name for name in PAGES if is_notebook(name)]


def words(name):
    """The word count of a page's .md source, as ``wc -w`` counts it."""
    result = subprocess.run(
        ["wc", "-w", f"{name}.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.split()[0])


@pytest.mark.parametrize("name", PAGES)
def test_page_has_at_most_9000_words(name):
    count = words(name)
    assert count <= MAX_WORDS, (
        f"{name}.md has {count:,} words (wc -w), more than {MAX_WORDS:,}: "
        "split it where a reader would take a break"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_code_cells_have_at_most_40_lines(name):
    long = [
        f"line {cell.line}: {cell.lines} lines"
        for cell in code_cells(name)
        if cell.lines > MAX_CELL_LINES
    ]
    assert not long, (
        f"{name}.md has code cells over {MAX_CELL_LINES} lines (shorten "
        f"them or move helpers to seqbook): {', '.join(long)}"
    )


def parse(code):
    """The syntax tree of a cell, IPython magics and shell lines left out."""
    kept = [
        "" if line.lstrip().startswith(("%", "!")) else line
        for line in code.split("\n")
    ]
    return ast.parse("\n".join(kept))


def names_used(node):
    """Every name a piece of code reads."""
    return {
        child.id
        for child in ast.walk(node)
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load)
    }


def definitions(cells):
    """Top-level functions and classes of some cells: name -> (lines,
    names they use); a later definition replaces an earlier one."""
    found = {}
    for cell in cells:
        for node in parse(cell.code).body:
            if isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                first = min(
                    [node.lineno] + [d.lineno for d in node.decorator_list]
                )
                found[node.name] = (
                    node.end_lineno - first + 1,
                    names_used(node),
                )
    return found


def drawing_lines(cells, index):
    """The lines of code that draw the figure of ``cells[index]``: the cell
    and the functions and classes of earlier cells that it uses, directly
    or through each other."""
    tree = parse(cells[index].code)
    earlier = definitions(cells[:index])
    for name in definitions([cells[index]]):
        earlier.pop(name, None)  # the cell's own, already in its lines
    total, seen = cells[index].lines, set()
    todo = list(names_used(tree))
    while todo:
        name = todo.pop()
        if name in earlier and name not in seen:
            seen.add(name)
            lines, used = earlier[name]
            total += lines
            todo.extend(used)
    return total, sorted(seen)


def draws_a_figure(cell):
    return "image" in cell.options or "plt." in cell.code


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_figures_are_drawn_by_under_100_lines_of_the_page(name):
    cells = code_cells(name)
    long = []
    for index, cell in enumerate(cells):
        if draws_a_figure(cell):
            lines, helpers = drawing_lines(cells, index)
            if lines >= MAX_DRAWING_LINES:
                long.append(f"line {cell.line}: {lines} lines {helpers}")
    assert not long, (
        f"{name}.md draws figures with {MAX_DRAWING_LINES} lines of code or "
        f"more; move the drawing code to seqbook.plotting: {long}"
    )


# The rules' own tests: each counts what it should, so that a page that
# breaks a rule cannot pass unnoticed.


def test_drawing_lines_follow_helpers_through_each_other():
    from pages import CodeCell

    helper = "def box(ax):\n" + "    ax.plot()\n" * 59
    arrow = "def arrow(ax):\n    box(ax)\n" + "    ax.plot()\n" * 38
    figure = "fig, ax = plt.subplots()\narrow(ax)\nplt.show()\n"
    cells = [CodeCell(1, "", c) for c in (helper, arrow, "x = 1\n", figure)]
    assert cells[0].lines == 60 and cells[1].lines == 40
    assert drawing_lines(cells, 3) == (103, ["arrow", "box"])
    assert drawing_lines(cells, 2) == (1, [])


def test_code_cells_are_read_with_their_options_apart(tmp_path):
    import pages

    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```{code-cell} ipython3\n---\ntags: [hide-input]\n---\n"
        "a = 1\n\nb = 2\n```\n\n```{code-cell} ipython3\n:tags: [x]\n"
        "print(a)\n```\n",
        encoding="utf-8",
    )
    original = pages.REPO
    pages.REPO = tmp_path
    try:
        first, second = pages.code_cells("page")
    finally:
        pages.REPO = original
    assert (first.line, first.lines, first.code) == (3, 3, "a = 1\n\nb = 2\n")
    assert "hide-input" in first.options
    assert (second.lines, second.code, second.options) == (
        1,
        "print(a)\n",
        ":tags: [x]\n",
    )
