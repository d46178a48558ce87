"""Print how long each chapter page takes to execute: figures, not
assertions.

    .venv/bin/python benchmarks/pages.py [--rev REV] [--repeat N]
        [--cells N] [PAGE ...]

Each page (``book/seq2seq`` or ``seq2seq``; default: every notebook page
of _toc.yml) is read with jupytext and executed in a fresh kernel, with
``book/`` as its working directory as in the build, and the fastest of
``--repeat`` runs is printed (with ``--cells N``, also its N slowest cells
and the kernel's start). ``--rev`` reads the pages' sources from a git
revision instead of the working tree (with today's library and data), to
compare a change's cost with what was there before. Run it when nothing
else loads the machine (under the shared lock here).
"""

import argparse
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests")]

from pages import is_notebook, toc_files  # noqa: E402


def source(page, rev):
    """The MyST source of a page, from the working tree or a revision."""
    if rev is None:
        return (REPO / f"{page}.md").read_text(encoding="utf-8")
    return subprocess.run(
        ["git", "show", f"{rev}:{page}.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def execute(text):
    """Seconds to execute a page's notebook in a fresh kernel, and the
    executed notebook."""
    notebook = jupytext.reads(text, fmt="md:myst")
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        record_timing=True,
        resources={"metadata": {"path": str(REPO / "book")}},
    )
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started, notebook


def cell_seconds(notebook):
    """(seconds, first line) of every code cell, from nbclient's record."""
    found = []
    for cell in notebook.cells:
        timing = cell.metadata.get("execution", {})
        if cell.cell_type != "code" or "shell.execute_reply" not in timing:
            continue
        start, end = (
            datetime.datetime.fromisoformat(timing[key].replace("Z", ""))
            for key in ("iopub.execute_input", "shell.execute_reply")
        )
        first = cell.source.strip().split("\n")[0][:50]
        found.append(((end - start).total_seconds(), first))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="*", help="pages (default: all)")
    parser.add_argument("--rev", help="a git revision to read pages from")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cells", type=int, default=0, metavar="N")
    args = parser.parse_args()
    os.environ["SEQBOOK_PROGRESS"] = "0"  # as in the build
    pages = [
        page if page.startswith("book/") else f"book/{page}"
        for page in args.pages
    ] or [page for page in toc_files() if is_notebook(page)]
    total = 0.0
    for page in pages:
        text = source(page, args.rev)
        seconds, notebook = min(
            (execute(text) for _ in range(args.repeat)), key=lambda r: r[0]
        )
        total += seconds
        print(f"{page:28s} {seconds:6.1f} s", flush=True)
        cells = cell_seconds(notebook)
        for cell, first in sorted(cells, reverse=True)[: args.cells]:
            print(f"    {cell:6.1f} s  {first}")
        if args.cells:
            rest = seconds - sum(cell for cell, _ in cells)
            print(f"    {rest:6.1f} s  (kernel start and the rest)")
    label = f" at {args.rev}" if args.rev else ""
    print(f"{'total' + label:28s} {total:6.1f} s")


if __name__ == "__main__":
    main()
