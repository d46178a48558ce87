"""The book's pages as the tests read them: the pages of _toc.yml in
reading order, and the code cells of a MyST notebook page."""

import re
from dataclasses import dataclass

import yaml

from submissions import REPO

CODE_CELL = re.compile(
    r"^(?P<fence>`{3,})\{code-cell\}[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.M | re.S,
)


def toc_files():
    """Every page of _toc.yml in reading order: root, chapters, sections
    (with or without parts)."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    return files


def is_notebook(name):
    """A chapter is a MyST notebook (a kernelspec in its front matter); the
    reference pages (notation, glossary, bibliography) are plain pages."""
    text = (REPO / f"{name}.md").read_text(encoding="utf-8")
    return text.startswith("---") and "kernelspec:" in text.split("---")[1]


def chapters():
    """The pages of _toc.yml that are MyST notebooks, the intro left out."""
    return [
        name
        for name in toc_files()
        if name != "book/intro" and is_notebook(name)
    ]


@dataclass
class CodeCell:
    """A code cell of a page: its first line in the .md file, its options
    (the YAML block or ``:key: value`` lines) and its code."""

    line: int
    options: str
    code: str

    @property
    def lines(self):
        """The number of lines of code a reader sees (or unfolds)."""
        if not self.code.strip():
            return 0
        return len(self.code.rstrip("\n").split("\n"))


def code_cells(name):
    """The code cells of a page, in order."""
    text = (REPO / f"{name}.md").read_text(encoding="utf-8")
    cells = []
    for match in CODE_CELL.finditer(text):
        body = match.group("body")
        options = ""
        if body.startswith("---\n"):
            options, body = body[4:].split("\n---\n", 1)
        else:
            kept = body.split("\n")
            while kept and re.match(r":\w[\w-]*:", kept[0]):
                options += kept.pop(0) + "\n"
            body = "\n".join(kept)
        line = text.count("\n", 0, match.start()) + 1
        cells.append(CodeCell(line, options, body.strip("\n") + "\n"))
    return cells
