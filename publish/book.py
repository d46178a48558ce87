"""The book's Sphinx extension: notebooks to download and launch links.

sphinx-book-theme builds its Colab and Binder links from the page's source
file (``book/<chapter>.md``, which Colab cannot open) in the repository of
``repository.url``, and it needs that address even to offer a chapter's
``.ipynb`` for download. This extension takes over:

- Every chapter (a page with a kernelspec) gets its notebook written beside
  its HTML page, ``book/<chapter>.ipynb`` (``publish.notebooks``), and the
  download menu offers that file.
- The assignments' releases are written to ``notebooks/<name>/<name>.ipynb``
  in the site, with the install cell pointing at the published site; so
  are the copies that chapters offer with ``{download}``.
- ``{notebook-links} notebooks/<name>/<name>.ipynb`` (on the assignment
  pages) lists that notebook's download and its Colab and Binder links.
- The site works from the file system too: there the search lists its
  results without summaries (a page may not read others from file://).
- Launch links, in the page's launch menu and in ``{notebook-links}``, open
  these ``.ipynb`` files in the published tree, whose repository is
  ``repository.url`` in ``_config.yml`` (``publish.config``). While that is
  empty there is no repository, Colab or Binder link anywhere: the theme's
  own launch and repository buttons are switched off.
"""

import json
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective
from sphinx.util.osutil import relative_uri

from i18n import edition_folder
from publish import REPO, install_cell
from publish.config import published
from publish.notebooks import chapter_notebook

THEME_PROVIDERS = (
    "binderhub_url",
    "colab_url",
    "jupyterhub_url",
    "deepnote_url",
    "jupyterlite_url",
)
# Opened from the file system, a page may not read other pages: the search
# then lists its results without the summaries it would fetch from them
# (which would only fail, with an error in the console).
FILE_SEARCH = (
    'if (location.protocol === "file:") '
    "DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;"
)
LAUNCHERS = {
    "Binder": ("binder", "_static/images/logo_binder.svg"),
    "Colab": ("colab", "_static/images/logo_colab.png"),
}
# The words of {notebook-links} in each edition (i18n: the Korean one is
# built with language = "ko" into the site's ko/ folder).
LINK_WORDS = {
    "en": ("Download {name}", "Open in {service}"),
    "ko": ("{name} 내려받기", "{service}에서 열기"),
}


def language(app):
    return app.config.language or "en"


def releases(app):
    """The folder of the releases this edition publishes: notebooks/ for
    the English edition, notebooks/<language>/ for a translation."""
    folder = edition_folder(language(app))
    return REPO / "notebooks" / folder


class notebook_links(nodes.General, nodes.Element):
    """Placeholder, filled in at write time with the current address."""


class NotebookLinks(SphinxDirective):
    """``{notebook-links} PATH``: download, Colab and Binder links of the
    notebook at PATH in the published tree."""

    required_arguments = 1

    def run(self):
        path = self.arguments[0].strip("/")
        if not (REPO / path).is_file():
            raise self.error(f"no notebook {path} in the repository")
        self.env.metadata[self.env.docname]["notebook-links"] = path
        return [notebook_links(path=path)]


def on_config(app, config):
    """Work out the address; keep the theme from making links of its own."""
    options = dict(config.html_theme_options)
    buttons = dict(options.get("launch_buttons") or {})
    app.seqbook_published = published(
        options.get("repository_url", ""),
        options.get("repository_branch", ""),
        config.html_baseurl,
        buttons,
    )
    for key in THEME_PROVIDERS:
        buttons.pop(key, None)
    options["launch_buttons"] = buttons
    options["use_repository_button"] = app.seqbook_published is not None
    config.html_theme_options = options


def launch_links(app, path):
    """[(service, url)] for the notebook at ``path`` in the tree."""
    where = app.seqbook_published
    if where is None:
        return []
    # the edition's own copy, in its folder of the published tree
    path = edition_folder(language(app)) + path
    links = [
        (name, getattr(where, attr)(path))
        for name, (attr, _) in LAUNCHERS.items()
    ]
    return [(name, url) for name, url in links if url]


def _link(text, url):
    paragraph = nodes.paragraph()
    paragraph += nodes.reference("", text, refuri=url, internal=False)
    return paragraph


def on_doctree_resolved(app, doctree, docname):
    """Fill the ``{notebook-links}`` placeholders for the current build."""
    words = LINK_WORDS.get(language(app), LINK_WORDS["en"])
    for node in doctree.findall(notebook_links):
        path = node["path"]
        here = app.builder.get_target_uri(docname)
        items = nodes.bullet_list()
        download = _link(
            words[0].format(name=Path(path).name), relative_uri(here, path)
        )
        items += nodes.list_item("", download)
        for name, url in launch_links(app, path):
            text = words[1].format(service=name)
            items += nodes.list_item("", _link(text, url))
        node.replace_self(items)


def _download_button(context, path):
    """The download menu's notebook entry, pointing at ``path``."""
    url = context["pathto"](path, 1)
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        group["buttons"] = [
            b
            for b in group["buttons"]
            if b.get("label") != "download-notebook-button"
        ]
        group["buttons"].insert(
            0,
            {
                "type": "link",
                "url": url,
                "text": ".ipynb",
                "icon": "fas fa-code",
                "tooltip": "Download notebook file",
                "label": "download-notebook-button",
            },
        )


def _launch_group(app, path):
    buttons = [
        {
            "type": "link",
            "text": name,
            "tooltip": f"Launch on {name}",
            "icon": LAUNCHERS[name][1],
            "url": url,
        }
        for name, url in launch_links(app, path)
    ]
    return {
        "type": "group",
        "tooltip": "Launch interactive content",
        "icon": "fas fa-rocket",
        "buttons": buttons,
        "label": "launch-buttons",
    }


def on_page(app, pagename, templatename, context, doctree):
    """A chapter's notebook beside its page, in the download menu, and
    launch buttons for chapters and assignment pages."""
    if doctree is None:
        return
    metadata = app.env.metadata.get(pagename, {})
    notebook = metadata.get("notebook-links")
    if "kernelspec" in metadata:
        notebook = f"{pagename}.ipynb"
        data = chapter_notebook(
            app.env.doc2path(pagename), app.seqbook_published
        )
        target = Path(app.outdir) / notebook
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(install_cell.dumps(data), encoding="utf-8")
        _download_button(context, notebook)
    if notebook and launch_links(app, notebook):
        context["header_buttons"].insert(0, _launch_group(app, notebook))


def _publish_notebook(source, target, where):
    nb = json.loads(Path(source).read_text(encoding="utf-8"))
    install_cell.with_site(nb, where)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(install_cell.dumps(nb), encoding="utf-8")


def on_finished(app, exception):
    """The releases in ``notebooks/`` of the site; the chapters' download
    copies of them with the published site in their install cell."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    where = app.seqbook_published
    folder = releases(app)
    for source in sorted(folder.glob("*/*.ipynb")):
        target = out / "notebooks" / source.relative_to(folder)
        _publish_notebook(source, target, where)
    for copy in sorted((out / "_downloads").glob("*/*.ipynb")):
        nb = json.loads(copy.read_text(encoding="utf-8"))
        if (
            nb.get("cells")
            and nb["cells"][0].get("id") == install_cell.CELL_ID
        ):
            # a chapter's copy of a release: this edition's release
            release = folder / copy.stem / copy.name
            _publish_notebook(
                release if release.exists() else copy, copy, where
            )


def setup(app):
    # after documentation_options.js (priority 200), before the search runs
    app.add_js_file(None, body=FILE_SEARCH, priority=210)
    app.add_node(notebook_links)
    app.add_directive("notebook-links", NotebookLinks)
    app.connect("config-inited", on_config)
    app.connect("doctree-resolved", on_doctree_resolved)
    # after the theme's header buttons (priority 501)
    app.connect("html-page-context", on_page, priority=502)
    app.connect("build-finished", on_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": False}
