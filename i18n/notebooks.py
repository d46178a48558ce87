"""The assignments in Korean: ``notebooks/ko/<name>/<name>.ipynb``.

Sphinx never sees the notebooks, so their messages are extracted here:
every paragraph of every markdown cell of the English release
(``notebooks/<name>/<name>.ipynb``, which ``make release`` generates from
the solution notebook) is a message of
``locale/ko/LC_MESSAGES/notebooks/<name>.po`` (:func:`write_templates`
writes the templates; :mod:`i18n.catalogs` merges them). The Korean
release is the English release with its markdown translated paragraph by
paragraph (:func:`korean_release`): its code cells, their ids, metadata,
grade ids, points and tests are the English release's, byte for byte, so
nbgrader grades both the same. An untranslated paragraph stays English.
"""

import json
from pathlib import Path

from babel.messages.pofile import read_po

from i18n import LANGUAGE, REPO, notebook_catalog
from i18n.catalogs import LINE_WIDTH, done, new_catalog
from i18n.markdown import messages, translate

RELEASES = REPO / "notebooks"


def release_path(name, language="en", root=RELEASES):
    """The release of ``name`` in ``language`` (Korean under ``ko/``)."""
    folder = Path(root) if language == "en" else Path(root) / language
    return folder / name / f"{name}.ipynb"


def assignments(root=RELEASES):
    """The assignments that have an English release, in course order."""
    from autograder.course import assignments as in_order

    return [n for n in in_order() if release_path(n, root=root).exists()]


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def notebook_messages(notebook, name):
    """[(msgid, comments)] of a notebook's markdown, in order; the
    comments name the cells (by id) that hold the message."""
    found = {}
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        where = f"{name}.ipynb, cell {cell.get('id') or number}"
        for message in messages(_source(cell)):
            found.setdefault(message, []).append(where)
    return list(found.items())


def write_templates(out, root=RELEASES):
    """One template per assignment, ``out/<name>.pot``."""
    from babel.messages.pofile import write_po

    Path(out).mkdir(parents=True, exist_ok=True)
    written = []
    for name in assignments(root):
        notebook = json.loads(release_path(name, root=root).read_text("utf-8"))
        template = new_catalog(notebook_messages(notebook, name))
        path = Path(out) / f"{name}.pot"
        with open(path, "wb") as f:
            write_po(f, template, width=LINE_WIDTH, sort_output=False)
        written.append(path)
    return written


def translations(name, language=LANGUAGE):
    """{English: translation} of the assignment's catalog (translated,
    not fuzzy)."""
    path = notebook_catalog(name, language)
    if not path.exists():
        return {}
    with open(path, "rb") as f:
        catalog = read_po(f)
    return {m.id: m.string for m in catalog if m.id and done(m)}


def korean_release(name, language=LANGUAGE, root=RELEASES):
    """The Korean release of ``name`` as notebook JSON text."""
    english = release_path(name, root=root).read_text(encoding="utf-8")
    notebook = json.loads(english)
    table = translations(name, language)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            text = translate(_source(cell), table.get)
            cell["source"] = text.splitlines(keepends=True)
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False)
    return text + "\n"


def release(names=None, language=LANGUAGE, root=RELEASES):
    """Write the Korean releases of ``names`` (default: every assignment
    with an English release); the paths written."""
    written = []
    for name in names or assignments(root):
        path = release_path(name, language, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(korean_release(name, language, root), "utf-8")
        written.append(path)
    return written
