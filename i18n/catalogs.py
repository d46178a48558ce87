"""The catalogs: extracted from the English, merged into the translations.

``update()`` is what ``python -m i18n update`` runs after the English
changed:

1. Sphinx's gettext builder writes one template per page
   (``_build/gettext/book/rnn.pot``; ``gettext_compact = False``), from
   the executed pages of the execution cache, so that the alt texts of
   the figures are messages too;
2. every assignment's release gives a template of its markdown's
   paragraphs (``_build/gettext/notebooks/rnn.pot``, :mod:`i18n.notebooks`);
3. each template is merged into its catalog with sphinx-intl's merge
   (babel's): an unchanged message keeps its translation, a changed one
   gets the closest old translation, marked fuzzy, with the previous
   English (``#| msgid``) beside it;
4. a message still without translation takes one from the translation
   memory: every translated message of every catalog as it was before the
   update, obsolete ones included. A paragraph that moved to another page,
   or a page split in two, keeps its translation; one that moved and
   changed gets the closest old translation, fuzzy.
5. A message without words to translate (only code, math, references)
   is filled with itself, unless the memory has a translation of it:
   a one-word title ("Summary") reads like a name (LSTM) but is
   translated ("요약"), and one kept in English takes it at the next
   update.

A catalog whose page is gone is left in place and reported: its
translations served the memory; delete it once they are carried over.
"""

import difflib
import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import normalize, read_po, unescape
from sphinx_intl.catalog import dump_po, load_po, update_with_fuzzy

from i18n import LANGUAGE, REPO, messages_dir
from i18n.markdown import is_prose

TEMPLATES = REPO / "_build" / "gettext"
LINE_WIDTH = 76
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
FUZZY_CUTOFF = 0.75


def entries(catalog):
    """The messages of a catalog (its header left out)."""
    return [m for m in catalog if m.id]


def done(message):
    """Whether a message has a translation that the build will use."""
    return bool(message.string) and not message.fuzzy


def translated(message):
    """Whether a message has a translation that is not the English kept
    as it is (a message of only code or math, or a title filled with
    itself: "Summary")."""
    return done(message) and message.string != message.id


def incomplete(path):
    """How many messages of the catalog at ``path`` lack a translation
    the build uses (untranslated or fuzzy); None when there is none."""
    if not Path(path).exists():
        return None
    with open(path, "rb") as f:
        catalog = read_po(f)
    return sum(1 for m in entries(catalog) if not done(m))


def templates(out=TEMPLATES):
    """Write the templates of the book's pages and the assignments'
    notebooks into ``out``; return the paths of the templates."""
    from i18n import notebooks
    from i18n.edition import gettext_build

    status = gettext_build(out)
    if status:
        raise SystemExit(f"the gettext build failed (status {status})")
    # The templates' own words (Search, Contents): the theme's and
    # Sphinx's catalogs translate them.
    (Path(out) / "sphinx.pot").unlink(missing_ok=True)
    notebooks.write_templates(Path(out) / "notebooks")
    return sorted(Path(out).rglob("*.pot"))


class Memory:
    """Every translation of every catalog, as they are before an update:
    exact translations by English, and the obsolete ones (paragraphs that
    changed or left their page) for a fuzzy match."""

    def __init__(self, folder):
        self.exact, self.retired = {}, {}
        for path in sorted(Path(folder).rglob("*.po")):
            catalog = read(path)
            for message in [*entries(catalog), *catalog.obsolete.values()]:
                if translated(message):
                    self.exact.setdefault(message.id, message.string)
            for message in catalog.obsolete.values():
                if done(message):
                    self.retired.setdefault(message.id, message.string)

    def closest(self, msgid):
        """(English, translation) of the closest retired message."""
        match = difflib.get_close_matches(
            msgid, list(self.retired), n=1, cutoff=FUZZY_CUTOFF
        )
        return (match[0], self.retired[match[0]]) if match else None


def fill(catalog, memory):
    """Fill the catalog's untranslated messages, and those kept in
    English that the memory translates; how many were filled from the
    memory, and how many of those are fuzzy."""
    exact = fuzzy = 0
    for message in entries(catalog):
        # babel guesses format flags from braces and percent signs: none
        # of these messages is a format string (a {doc} role is not).
        message.flags -= {"python-format", "python-brace-format"}
        known = memory.exact.get(message.id)
        if message.string and not (message.string == message.id and known):
            continue
        # a message kept in English ("Summary", which reads as a name)
        # takes the translation it has elsewhere ("요약")
        if known:
            message.string = known
            message.flags.discard("fuzzy")
            exact += 1
        elif not is_prose(message.id):
            message.string = message.id
        elif found := memory.closest(message.id):
            message.previous_id = [found[0]]
            message.string = found[1]
            message.flags.add("fuzzy")
            fuzzy += 1
    return exact, fuzzy


def read(path):
    """The catalog at ``path``, with the previous English of its fuzzy
    messages: babel reads ``#| msgid`` lines as comments."""
    catalog = load_po(str(path))
    for message in [*entries(catalog), *catalog.obsolete.values()]:
        lines = [c[1:].strip() for c in message.user_comments]
        lines = [
            c
            for c, kept in zip(lines, message.user_comments)
            if kept.startswith("|")
        ]
        if not lines or not lines[0].startswith("msgid "):
            continue
        message.user_comments = [
            c for c in message.user_comments if not c.startswith("|")
        ]
        # joined with spaces: also what babel's writer wrapped as text
        strings = QUOTED.findall(" ".join(lines)[len("msgid ") :])
        message.previous_id = ["".join(unescape(s) for s in strings)]
    return catalog


def write(path, catalog):
    """Write the catalog at ``path``, with the previous English of its
    fuzzy messages (``#| msgid``) as gettext writes it: babel wraps that
    comment as text, which cuts its strings (msgfmt and Poedit refuse the
    file, and babel reads no previous English back)."""
    for message in entries(catalog):
        # babel guesses format flags from braces and percent signs: none
        # of these messages is a format string (a {doc} role is not).
        message.flags -= {"python-format", "python-brace-format"}
    dump_po(str(path), catalog, width=LINE_WIDTH, include_previous=False)
    previous = {
        m.id: m.previous_id[0]
        for m in entries(catalog)
        if m.fuzzy and m.previous_id
    }
    if previous:
        text = Path(path).read_text(encoding="utf-8")
        blocks = [_with_previous(b, previous) for b in text.split("\n\n")]
        Path(path).write_text("\n\n".join(blocks), encoding="utf-8")


def _with_previous(block, previous):
    """A message's block of a .po file, with ``#| msgid`` before its
    msgid when ``previous`` has its previous English."""
    lines = block.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("msgid ")]
    if not starts:
        return block
    first = starts[0]
    strings = [lines[first][len("msgid ") :]]
    for line in lines[first + 1 :]:
        if not line.startswith('"'):
            break
        strings.append(line)
    msgid = "".join(unescape(s) for s in strings)
    if msgid not in previous:
        return block
    comment = f"msgid {normalize(previous[msgid], width=LINE_WIDTH)}"
    added = ["#| " + line for line in comment.split("\n")]
    return "\n".join(lines[:first] + added + lines[first:])


def merge(template, target, memory):
    """Merge the template at ``template`` into the catalog at ``target``;
    a line that says what changed."""
    pot = load_po(str(template))
    if target.exists():
        catalog = read(target)
        before = {m.id: (m.string, m.fuzzy) for m in entries(catalog)}
        update_with_fuzzy(catalog, pot)
    else:
        catalog, before = pot, {}
        catalog.locale = LANGUAGE
    exact, fuzzy = fill(catalog, memory)
    after = {m.id: (m.string, m.fuzzy) for m in entries(catalog)}
    fuzzy_ones = any(m.fuzzy for m in entries(catalog))
    if after != before or not target.exists() or fuzzy_ones:
        # an unchanged catalog is not written again (nor its date), unless
        # its previous English may be in babel's broken form
        write(target, catalog)
    added = len(set(after) - set(before))
    removed = len(set(before) - set(after))
    todo = sum(1 for m in entries(catalog) if not done(m))
    return (
        f"{target.relative_to(REPO)}: +{added} -{removed} messages, "
        f"{exact} from memory, {fuzzy} fuzzy from memory, {todo} to do"
    )


def orphans(pot_folder, folder):
    """Catalogs without a template: their page or notebook is gone."""
    names = {
        p.relative_to(pot_folder).with_suffix("")
        for p in Path(pot_folder).rglob("*.pot")
    }
    return [
        p
        for p in sorted(Path(folder).rglob("*.po"))
        if p.relative_to(folder).with_suffix("") not in names
    ]


def update(out=TEMPLATES, language=LANGUAGE, extract=True):
    """Templates (unless ``extract`` is False), then every catalog of
    ``language`` merged; the report's lines."""
    folder = messages_dir(language)
    folder.mkdir(parents=True, exist_ok=True)
    memory = Memory(folder)
    paths = templates(out) if extract else sorted(Path(out).rglob("*.pot"))
    lines = []
    for template in paths:
        target = folder / template.relative_to(out).with_suffix(".po")
        lines.append(merge(template, target, memory))
    for path in orphans(out, folder):
        lines.append(
            f"{path.relative_to(REPO)}: no page or notebook of this name "
            "any more; its translations were offered to the others: "
            "delete it once it is of no more use"
        )
    return lines


def new_catalog(messages, project="Sequence Models"):
    """A template (babel Catalog) of ``messages``: [(msgid, comments)],
    the comments saying where the message is."""
    catalog = Catalog(
        project=project, copyright_holder="The course team", fuzzy=False
    )
    for msgid, comments in messages:
        catalog.add(msgid, auto_comments=comments)
    return catalog
