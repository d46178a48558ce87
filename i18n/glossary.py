"""The glossary, ``book/glossary.md``: the one place where a term's
Korean name is set.

Each entry of its ``{glossary}`` directive is a group of term lines, the
English names first and then the Korean ones (the first Korean line is
the term's Korean name; the others are accepted synonyms), followed by
the definition, which says where the term is introduced ("Introduced in
{doc}`rnn`"). A Korean name in italics in a definition (*연속형 데이터*)
is a less usual name that some lecture notes use: the book does not.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache

from i18n import REPO
from i18n.markdown import HANGUL

GLOSSARY = REPO / "book" / "glossary.md"
INTRODUCED = re.compile(r"Introduced\s+in\s+\{doc\}`(?P<doc>[\w/]+)`")
VARIANT = re.compile(r"\*(?P<name>[^*\n]*[\uac00-\ud7a3][^*\n]*)\*")


@dataclass
class Entry:
    english: list = field(default_factory=list)
    korean: list = field(default_factory=list)
    definition: str = ""

    @property
    def key(self):
        return self.english[0].lower()

    @property
    def name(self):
        """The Korean name."""
        return self.korean[0]

    @property
    def introduced(self):
        """The page (``book/rnn``) that introduces the term."""
        found = INTRODUCED.search(self.definition)
        return f"book/{found['doc']}" if found else None

    @property
    def variants(self):
        """Less usual Korean names that the book does not use."""
        return [m["name"] for m in VARIANT.finditer(self.definition)]


def parse(text):
    """The entries of the glossary's text."""
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    result, terms = [], []
    for line in body.splitlines()[1:]:
        if line.startswith(":"):
            continue
        if line.startswith(" ") and line.strip():
            if terms:
                result.append(Entry())
                for term in terms:
                    side = "korean" if HANGUL.search(term) else "english"
                    getattr(result[-1], side).append(term)
                terms = []
            result[-1].definition += " " + line.strip()
        elif line.strip():
            terms.append(line.strip())
    for entry in result:
        entry.definition = entry.definition.strip()
    return result


@lru_cache(maxsize=1)
def entries():
    return parse(GLOSSARY.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _by_name():
    names = {}
    for entry in entries():
        for name in entry.english + entry.korean:
            names[" ".join(name.split()).lower()] = entry.key
    return names


def entry_of(name):
    """The entry's key (its first English name, lower case) of any of its
    names; an unknown name as it is."""
    name = " ".join(name.split())
    return _by_name().get(name.lower(), name)
