"""The Korean edition: the book and the assignments in a second language,
from the same sources, kept in step by Sphinx's internationalisation.

The English text is the source. Every paragraph of it is a message of a
gettext catalog, and the Korean edition is the English one with each
message replaced by its translation:

- ``locale/ko/LC_MESSAGES/<page>.po``: one catalog per page of the book
  (``book/rnn.md`` → ``book/rnn.po``), extracted by Sphinx's gettext
  builder (``gettext_compact = False``);
- ``locale/ko/LC_MESSAGES/notebooks/<name>.po``: one catalog per
  assignment, the paragraphs of its release's markdown cells
  (:mod:`i18n.notebooks`; Sphinx never sees the notebooks).

``python -m i18n update`` extracts the messages again after the English
changed and merges them into the catalogs (:mod:`i18n.catalogs`): a
paragraph that did not change keeps its translation, one that changed
turns fuzzy (with its previous English), and one that moved to another
page, or was split off with a page, takes its translation along from the
translation memory of every catalog. ``python -m i18n check`` lists, file
by file, what is untranslated, fuzzy or broken and why
(:mod:`i18n.check`). ``python -m i18n build`` builds the Korean edition
into ``_build/html/ko/`` from the English build's execution cache
(:mod:`i18n.edition`), and ``python -m i18n release`` writes the Korean
releases of the assignments, ``notebooks/ko/<name>/<name>.ipynb``.

The book's Sphinx extension :mod:`i18n.sphinx_ext` links every page to the
same page in the other language, sets the Korean fonts and registers a
search language for Korean (:mod:`i18n.search_ko`). The glossary
(``book/glossary.md``) is the one place a term's Korean name is set
(:mod:`i18n.glossary`).
"""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCALE = REPO / "locale"
# The one translation so far; its edition lives in this folder of the site
# (_build/html/ko/) and of the published tree.
LANGUAGE = "ko"
FOLDER = "ko"
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}


def messages_dir(language=LANGUAGE):
    """The folder of a language's catalogs."""
    return LOCALE / language / "LC_MESSAGES"


def page_catalog(docname, language=LANGUAGE):
    """The catalog of a page of the book (``book/rnn``)."""
    return messages_dir(language) / f"{docname}.po"


def notebook_catalog(name, language=LANGUAGE):
    """The catalog of an assignment's markdown cells."""
    return messages_dir(language) / "notebooks" / f"{name}.po"


def edition_folder(language):
    """The edition's folder in the site: "" for English, "ko/" for Korean."""
    return "" if language in (None, "", "en") else f"{FOLDER}/"
