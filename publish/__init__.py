"""Publishing: what students and readers get, built from this repository.

This repository holds the solutions and the grader's hidden checks, so it
is never what students open. ``make publish`` (``python -m publish``)
builds a separate *student tree* in ``_publish/``:

- the built site (the book's HTML), which also holds each chapter as a
  notebook (``book/<chapter>.ipynb``) and each assignment's release
  (``notebooks/<name>/<name>.ipynb``), written there by the book's Sphinx
  extension (``publish.book``);
- ``wheels/``: the course library's wheel and a page listing it, the place
  the notebooks' install cell finds it;
- ``seqbook/``: the course library's source;
- ``binder/``: the environment Binder builds (Python 3.11, torch's CPU
  build, the course library);
- a README for students, and the workflow that serves the tree with
  GitHub Pages.

Its address is set in one place, ``repository.url`` in ``_config.yml``
(``publish.config``). While it is empty nothing links to it: no
repository, Colab or Binder button or link appears anywhere.

Modules: ``config`` (the address and the launch links), ``install_cell``
(the first cell of every notebook), ``notebooks`` (chapter notebooks),
``wheels`` (building the wheels), ``tree`` (assembling the tree),
``book`` (the Sphinx extension) and ``freshenv`` (a fresh virtual
environment, for the tests and the benchmark).
"""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VERSION_FILE = REPO / "VERSION"


def book_version():
    """The book's version: the one line of VERSION, read by every wheel."""
    return VERSION_FILE.read_text(encoding="utf-8").strip()
