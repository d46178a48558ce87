"""Chapters as Jupyter notebooks that open anywhere (Colab, Binder, Jupyter).

A chapter's source is a MyST markdown notebook (``book/<chapter>.md``).
``chapter_notebook`` turns it into an ``.ipynb`` with jupytext, puts the
install cell first, and makes the markdown read well outside the book:
Sphinx roles become plain text, citations "Elman (1990)", the assignment's
download a relative link, and label lines go. The code is untouched. The
book's extension writes these beside the chapters' HTML pages
(``book/<chapter>.ipynb``); the site offers them for download and the
launch buttons open them.
"""

import json
import re
from functools import lru_cache

import jupytext
import nbformat

from publish import REPO, install_cell

ROLE = re.compile(r"\{(?P<role>[a-z:]+)\}`(?P<body>[^`]+)`")
TITLED = re.compile(r"^(?P<text>.*\S)\s*<(?P<target>[^<>]+)>$", re.S)
LABEL_LINE = re.compile(r"^\([\w-]+\)=[ \t]*\n", re.M)
EQUATION_LABEL = re.compile(r"^\$\$ \([\w-]+\)[ \t]*$", re.M)


@lru_cache(maxsize=1)
def _bibliography():
    from pybtex.database import parse_file

    return parse_file(str(REPO / "book" / "references.bib")).entries


CITED = re.compile(
    r"^(?:\{(?P<pre>[^}]*)\})?(?P<key>[^{}]+)(?:\{(?P<post>[^}]*)\})?$"
)


def _authors(key):
    entry = _bibliography().get(key)
    if entry is None:
        return key, ""
    names = [" ".join(p.last_names) for p in entry.persons.get("author", [])]
    if len(names) >= 3:
        names = [names[0] + " et al."]
    return " and ".join(names), entry.fields.get("year", "n.d.")


def citation(keys, role):
    """ "Elman (1990)" for cite:t, "(Elman, 1990)" for cite:p; a note
    before or after a key (``{see}key{p. 3}``) is kept."""
    parts = []
    for item in keys.split(","):
        cited = CITED.match(item.strip())
        if cited is None:
            parts.append(item.strip())
            continue
        names, year = _authors(cited["key"].strip())
        year = ", ".join(x for x in (year, cited["post"]) if x)
        pre = f"{cited['pre']} " if cited["pre"] else ""
        if role == "cite:t":
            parts.append(f"{pre}{names} ({year})")
        else:
            parts.append(f"{pre}{names}, {year}")
    if role == "cite:t":
        return ", ".join(parts)
    return "(" + "; ".join(parts) + ")"


def _role(match):
    role, body = match["role"], match["body"]
    titled = TITLED.match(body)
    text, target = (
        (titled["text"], titled["target"]) if titled else (body, body)
    )
    if role.startswith("cite"):
        return citation(body, role)
    if role == "download":
        return f"[{text}]({target})"
    if role == "eq":
        return f"({text})"
    return text


def readable_markdown(text):
    """MyST markdown as plain Jupyter markdown (see the module's doc)."""
    text = LABEL_LINE.sub("", text)
    text = EQUATION_LABEL.sub("$$", text)
    return ROLE.sub(_role, text)


def chapter_notebook(path, published=None):
    """The notebook (nbformat 4 JSON dict) of the chapter at ``path``,
    starting with the install cell (its site set by ``published``)."""
    nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = {"name": "python"}
    for number, cell in enumerate(nb.cells):
        # stable ids: the same chapter always gives the same bytes
        cell["id"] = f"cell-{number}"
        if cell.cell_type == "markdown":
            cell.source = readable_markdown(cell.source)
    nbformat.validate(nb)
    data = json.loads(nbformat.writes(nb))
    data["cells"].insert(0, install_cell.cell())
    return install_cell.with_site(data, published)
