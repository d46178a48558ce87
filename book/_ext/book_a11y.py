"""Accessible markup for the book's HTML (WCAG 2.1 AA).

Sphinx extensions write a few things that axe-core refuses; this extension
changes them where they are written, for every page, present and future
(tests/test_browser.py runs axe on every page in light and dark mode):

- Citation lists (docutils): entries carry the DPUB role
  ``doc-biblioentry``, deprecated in DPUB-ARIA 1.1, inside a
  ``role="list"``, which may hold only list items (axe:
  aria-required-children, aria-deprecated-role). The entries become list
  items; docutils still writes the list around them.
- Hidden code cells (myst-nb): the summary "Show code cell source" was
  named "Toggle hidden content" by an aria-label, so a speech user saying
  what they see could not reach it (WCAG 2.5.3, axe:
  label-content-name-mismatch). Without the label it is named by its text.
- The sidebar's expand buttons (pydata-sphinx-theme): a page with
  sections of its own gets a ``<summary>`` that holds only a chevron icon,
  so the button has no name (axe: summary-name). It gets a visually
  hidden name, "Sections of <page>", in the page's language.
- Code highlighting uses the accessible-pygments styles in both modes,
  unless the configuration names others.

The theme's search and colour-mode buttons are fixed by the templates in
book/_templates, colours by book/_static/a11y.css.
"""

import html
import re

from docutils import nodes
from myst_nb.sphinx_ import (
    HideCodeCellNode,
    depart_HideCellInput,
    visit_HideCellInput,
)

PYGMENTS_STYLES = {
    "pygments_light_style": "a11y-high-contrast-light",
    "pygments_dark_style": "a11y-high-contrast-dark",
}


def _rewrite_since(translator, start, old, new):
    """Replace old by new in what translator wrote from body[start] on."""
    body = translator.body
    body[start:] = [part.replace(old, new) for part in body[start:]]


def visit_citation(self, node):
    start = len(self.body)
    type(self).visit_citation(self, node)
    _rewrite_since(self, start, 'role="doc-biblioentry"', 'role="listitem"')


def depart_citation(self, node):
    type(self).depart_citation(self, node)


def visit_hidden_cell(self, node):
    start = len(self.body)
    visit_HideCellInput(self, node)
    _rewrite_since(self, start, ' aria-label="Toggle hidden content"', "")


# The name of a sidebar expand button, by the book's language.
SECTIONS_OF = {"en": "Sections of {}", "ko": "{}의 절"}

# A sidebar link followed by the theme's nameless summary.
_NAMELESS_SUMMARY = re.compile(
    r'(<a class="[^"]*reference[^"]*"[^>]*>(?P<title>(?:(?!</a>).)*)</a>\s*'
    r"<details[^>]*>\s*<summary>)(?=\s*<span class=\"toctree-toggle\")",
    re.S,
)


def name_expand_buttons(toctree_html, language):
    """Give every nameless sidebar expand button a visually hidden name."""
    label = SECTIONS_OF.get(language or "en", SECTIONS_OF["en"])

    def named(match):
        title = html.unescape(re.sub(r"<[^>]+>", "", match["title"]))
        text = html.escape(label.format(title.strip()))
        return f'{match[1]}<span class="visually-hidden">{text}</span>'

    return _NAMELESS_SUMMARY.sub(named, toctree_html)


def wrap_toctree(app, pagename, templatename, context, doctree):
    """Runs after the theme put generate_toctree_html into the context."""
    generate = context.get("generate_toctree_html")
    if generate is None or getattr(generate, "names_buttons", False):
        return

    def generate_named(kind, *args, **kwargs):
        toctree = generate(kind, *args, **kwargs)
        if kind == "raw":  # the soup itself, for the theme's own code
            return toctree
        # the sidebar's is a soup too, which the template prints
        return name_expand_buttons(str(toctree), app.config.language)

    generate_named.names_buttons = True
    context["generate_toctree_html"] = generate_named


def use_accessible_pygments(app, config):
    options = config.html_theme_options
    for key, style in PYGMENTS_STYLES.items():
        options.setdefault(key, style)


def setup(app):
    app.add_node(
        nodes.citation,
        override=True,
        html=(visit_citation, depart_citation),
    )
    app.add_node(
        HideCodeCellNode,
        override=True,
        html=(visit_hidden_cell, depart_HideCellInput),
    )
    app.connect("config-inited", use_accessible_pygments)
    # after the theme's own handler (priority 500), which sets the function
    app.connect("html-page-context", wrap_toctree, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
