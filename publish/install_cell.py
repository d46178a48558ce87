"""The first cell of every notebook: install the course library if missing.

Every assignment (written once in its solution notebook, so ``make
release`` carries it and the drift check covers it) and every chapter
notebook (added when it is generated) starts with this cell. It installs
``seqbook==<the book's version>`` only when ``import seqbook`` would fail,
so in the course's own environment, on Binder and under the grader (no
network) it does nothing and never runs pip.

Why a name and version with a find-links location, not a URL of the wheel:
pip resolves ``seqbook==0.1.0`` against the locations its settings give,
so the cell passes the book's site as the *default* of ``PIP_FIND_LINKS``
and a reader's own pip settings (``PIP_FIND_LINKS``, ``PIP_NO_INDEX``,
``PIP_INDEX_URL``) come first: an offline class mirror, or a test that
points pip at a folder of freshly built wheels, redirect it without
editing the notebook. A direct URL (``seqbook @ https://.../x.whl``) would
always fetch that one file. seqbook does not depend on torch, so the
install never touches torch (a CUDA build of several GB on Linux).

The site is not known when an assignment is written (and changing a
solution notebook would regrade every submission), so the cell in
``solutions/`` and ``notebooks/`` leaves it empty and publishing fills it
in (``with_site``).
"""

import json
import re

from publish import REPO, book_version

# A plain cell, not an nbgrader one: publishing changes its site line, and
# nbgrader would take a changed locked cell for a tampered test cell.
CELL_ID = "install-seqbook"
TEMPLATE = """\
# Set-up: install the course library `seqbook` {version} if it is missing.
# Where it is installed (the course's environment, Binder, grading) this
# cell does nothing; elsewhere (Colab, your own Jupyter) pip installs it
# from the book's site. seqbook does not depend on torch, so pip leaves
# your torch as it is.
import importlib.util, os, subprocess, sys

if importlib.util.find_spec("seqbook") is None:
    # the book's site; your own PIP_FIND_LINKS, if set, comes first
    wheels = "{wheels}"
    env = {{"PIP_FIND_LINKS": wheels, **os.environ}}
    pip = [sys.executable, "-m", "pip", "install", "seqbook=={version}"]
    subprocess.run(pip, env=env, check=True)
    importlib.invalidate_caches()"""
WHEELS_LINE = re.compile(r'^(    wheels = )"[^"\n]*"$', re.M)


def source(version=None, wheels=""):
    """The cell's source for the book's version (or ``version``)."""
    return TEMPLATE.format(version=version or book_version(), wheels=wheels)


def cell(version=None, wheels=""):
    """The cell as nbformat 4 JSON."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": CELL_ID,
        "metadata": {},
        "outputs": [],
        "source": source(version, wheels),
    }


def text(cell_json):
    value = cell_json.get("source", "")
    return "".join(value) if isinstance(value, list) else value


def starts_with_it(nb, wheels=""):
    """Whether notebook ``nb`` (a dict) starts with the install cell for
    the book's version and these wheels."""
    cells = nb.get("cells", [])
    return bool(cells) and text(cells[0]) == source(wheels=wheels)


def with_site(nb, published):
    """``nb`` with its install cell pointing at the published site (or
    left empty when ``published`` is None). Changes ``nb`` in place."""
    first = nb["cells"][0] if nb.get("cells") else {}
    if first.get("id") != CELL_ID:
        raise ValueError("the notebook does not start with the install cell")
    wheels = published.wheels if published else ""
    new, count = WHEELS_LINE.subn(rf'\1"{wheels}"', text(first))
    if count != 1:
        raise ValueError("the install cell has no wheels line to set")
    # keep the form the notebook has (a string, or nbformat's list of lines)
    as_list = isinstance(first.get("source"), list)
    first["source"] = new.splitlines(keepends=True) if as_list else new
    return nb


def dumps(nb):
    """A notebook as the repository writes it (stable bytes)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_into_solutions():
    """Put the install cell first in every solution notebook (replacing an
    older one); return the notebooks that changed. Run ``make release``
    afterwards."""
    changed = []
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
        if cells and cells[0].get("id") == CELL_ID:
            cells.pop(0)
        cells.insert(0, cell())
        new = dumps(nb)
        if new != path.read_text(encoding="utf-8"):
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
