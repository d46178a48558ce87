"""The pages of the book, as _toc.yml lists them (shared by test_book.py
and test_browser.py)."""

import yaml

from submissions import REPO


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
