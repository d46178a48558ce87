"""The book's Sphinx extension for its two editions (``i18n.sphinx_ext``
in ``_config.yml``'s local extensions).

- Every page links to the same page in the other edition: a switch in the
  article's header (``templates/language-switch.html``), and
  ``<link rel="alternate" hreflang>`` in the head. The English edition is
  the site's root, the Korean one its folder ``ko/``.
- The glossary's term lines are names, in English and in Korean both:
  they are not messages (a translated term line would also rename the
  term that {term} roles point at). Display math is not a message either:
  it is kept as it is.
- The Korean edition searches Korean words without their particles
  (:mod:`i18n.search_ko`) and sets Korean text in a Korean font, with
  Korean line breaking (``static/korean.css``).
- A {glue:text} role in a translated message pastes the value of the one
  run, as in the English: Sphinx parses each translation on its own,
  without the page's notebook, so the role refers to the page's glue data
  and myst-nb fills it in when the page is written.
- In the Korean edition, every message of a page that was not translated
  (no translation, a fuzzy one, or a catalog older than the English) is
  noted: the page says so at its top, with a link to the English page, and
  ``translation-status.json`` in the edition's folder lists them, page by
  page (tests/test_translations.py reads it).
"""

import json
from html import escape
from pathlib import Path

from docutils import nodes
from myst_nb.ext.glue.roles import PasteTextRole
from myst_nb.ext.glue.utils import create_pending_glue_ref
from sphinx import addnodes
from sphinx.transforms import SphinxTransform
from sphinx.util.nodes import extract_messages

from i18n import LANGUAGE, LANGUAGE_NAMES, edition_folder
from i18n.markdown import HANGUL, is_prose
from i18n.search_ko import SearchKorean

HERE = Path(__file__).resolve().parent
SWITCH_TEMPLATE = "language-switch.html"
STATUS_FILE = "translation-status.json"
PENDING = (
    '<div class="admonition note translation-pending" lang="ko">'
    '<p class="admonition-title">번역 중</p>'
    "<p>이 페이지는 아직 번역하고 있습니다. 번역되지 않은 문단 "
    "{count}개는 영어 원문 그대로 보입니다. "
    '<a href="{url}" hreflang="en" lang="en">English</a></p></div>'
)


def is_korean(app):
    return (app.config.language or "en") == LANGUAGE


class NotMessages(SphinxTransform):
    """Keep the glossary's term lines and display math out of the
    catalogs."""

    default_priority = 15  # before sphinx.transforms.i18n.Locale (20)

    def apply(self):
        for glossary in self.document.findall(addnodes.glossary):
            for term in glossary.findall(nodes.term):
                term["translatable"] = False
        for math in self.document.findall(nodes.math_block):
            math["translatable"] = False


class NoteUntranslated(SphinxTransform):
    """Record the prose messages that the translation left in English."""

    # after sphinx.transforms.i18n.Locale (20), and after docutils' DocInfo
    # (340) has made the front matter a docinfo, which is not shown
    default_priority = 345

    def apply(self):
        if not is_korean(self.app):
            return
        missing = []
        for node, message in extract_messages(self.document):
            if node.get("translated") or HANGUL.search(message):
                continue
            if _in_docinfo(node):
                continue  # the page's front matter, which is not shown
            if is_prose(message):
                missing.append(" ".join(message.split()))
        untranslated = self.env.__dict__.setdefault("i18n_untranslated", {})
        untranslated[self.env.docname] = missing


class TranslatedPasteText(PasteTextRole):
    """{glue:text} that also works in a translated message."""

    def run(self):
        if "nb_renderer" in self.document or "::" in self.text:
            return super().run()
        key, _, fmt = self.text.rpartition(":")
        if not key:
            key, fmt = fmt, "s"
        env = self.document.settings.env
        page = Path(env.doc2path(env.docname)).name
        ref = create_pending_glue_ref(
            self.document,
            self.source,
            self.line,
            page,
            key,
            inline=True,
            gtype="text",
            fmt_spec=fmt,
        )
        return [ref], []


def _in_docinfo(node):
    while node is not None:
        if isinstance(node, nodes.docinfo):
            return True
        node = node.parent
    return False


def on_purge(app, env, docname):
    getattr(env, "i18n_untranslated", {}).pop(docname, None)


def on_merge(app, env, docnames, other):
    found = getattr(other, "i18n_untranslated", {})
    mine = env.__dict__.setdefault("i18n_untranslated", {})
    mine.update({d: found[d] for d in docnames if d in found})


def on_config(app, config):
    """The switch before the header's buttons; the templates and the
    Korean stylesheet."""
    config.templates_path = [*config.templates_path, str(HERE / "templates")]
    config.html_static_path = [*config.html_static_path, str(HERE / "static")]
    options = dict(config.html_theme_options)
    end = list(options.get("article_header_end") or [])
    if not end:
        end = ["article-header-buttons.html"]
    if SWITCH_TEMPLATE not in end:
        end.insert(0, SWITCH_TEMPLATE)
    options["article_header_end"] = end
    config.html_theme_options = options


def other_edition(app, pagename):
    """(language, relative url) of the same page in the other edition."""
    uri = app.builder.get_target_uri(pagename)
    up = "../" * pagename.count("/")
    if is_korean(app):
        return "en", up + "../" + uri
    return LANGUAGE, up + edition_folder(LANGUAGE) + uri


def on_page(app, pagename, templatename, context, doctree):
    language, url = other_edition(app, pagename)
    context["language_switch"] = {
        "language": language,
        "name": LANGUAGE_NAMES[language],
        "url": url,
    }
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{language}" '
        f'href="{escape(url)}" />'
    )
    if doctree is None or not is_korean(app):
        return
    missing = getattr(app.env, "i18n_untranslated", {}).get(pagename)
    if missing:
        banner = PENDING.format(count=len(missing), url=escape(url))
        context["body"] = banner + context.get("body", "")


def on_finished(app, exception):
    """translation-status.json: the untranslated messages of every page."""
    if exception is not None or not is_korean(app):
        return
    if app.builder.format != "html":
        return
    status = {
        "generated": "by i18n/sphinx_ext.py when the Korean edition is built",
        "untranslated": dict(
            sorted(getattr(app.env, "i18n_untranslated", {}).items())
        ),
    }
    path = Path(app.outdir) / STATUS_FILE
    text = json.dumps(status, indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def setup(app):
    app.add_search_language(SearchKorean)
    app.add_role_to_domain(
        "glue", "text", TranslatedPasteText(), override=True
    )
    app.add_transform(NotMessages)
    app.add_transform(NoteUntranslated)
    app.connect("config-inited", on_config)
    app.connect("env-purge-doc", on_purge)
    app.connect("env-merge-info", on_merge)
    app.connect("html-page-context", on_page)
    app.connect("build-finished", on_finished)
    app.add_css_file("korean.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
