"""The book builds with warnings as errors and every page executes."""

import json
import re

import pytest
import yaml

from autograder import course
from publish import install_cell
from publish.config import from_config

from pages import chapters, toc_files
from submissions import REPO


def test_book_builds_without_warnings(built):
    result, _ = built
    assert result.returncode == 0, (
        result.stdout[-4000:] + result.stderr[-4000:]
    )
    # Sphinx's warnings look like "path: WARNING: ..."; the kernel's own
    # start-up notices on stderr are not about the book.
    warnings = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if ": WARNING:" in line
    ]
    assert not warnings, warnings


def test_every_chapter_page_exists_and_executed(built):
    _, html = built
    for name in toc_files():
        page = html / f"{name}.html"
        assert page.exists(), page
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, name
        assert 'class="output error"' not in text, name


CHAPTERS = chapters()


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapters_have_outputs_and_figures_with_alt_text(built, name):
    _, html = built
    text = (html / f"{name}.html").read_text(encoding="utf-8")
    assert "cell_output" in text, name
    images = re.findall(r"<img[^>]*>", text)
    assert images, f"{name} has no figure"
    for tag in images:
        assert re.search(r'alt="[^"]{8,}"', tag), (name, tag[:200])


def assignment_page(assignment):
    """The page of _toc.yml that holds the assignment's section, labelled
    ``(<assignment>-assignment)=`` with hyphens for underscores
    (``(self-attention-assignment)=``): the last page of its chapter (the
    rnn chapter's pages are rnn, rnn_language_model, bptt, ...)."""
    label = f"({assignment.replace('_', '-')}-assignment)="
    pages = [
        name
        for name in toc_files()
        if label in (REPO / f"{name}.md").read_text(encoding="utf-8")
    ]
    assert len(pages) == 1, f"{label} should be on exactly one page: {pages}"
    return pages[0]


@pytest.mark.parametrize("assignment", course.assignments())
def test_chapter_links_its_assignment(built, assignment):
    _, html = built
    page = html / f"{assignment_page(assignment)}.html"
    assert page.exists(), page
    text = page.read_text(encoding="utf-8")
    # the assignment (a {download} copy), not the chapter's own notebook
    links = [
        link
        for link in re.findall(rf'href="([^"]*{assignment}\.ipynb)"', text)
        if "_downloads/" in link
    ]
    assert links, f"the chapter does not link {assignment}.ipynb"
    target = (html / "book" / links[0]).resolve()
    assert target.exists()
    # the release, its install cell pointing at the published site
    release = REPO / "notebooks" / assignment / f"{assignment}.ipynb"
    nb = json.loads(release.read_text(encoding="utf-8"))
    install_cell.with_site(nb, from_config())
    assert target.read_text(encoding="utf-8") == install_cell.dumps(nb)


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_offers_itself_as_a_notebook(built, name):
    _, html = built
    text = (html / f"{name}.html").read_text(encoding="utf-8")
    stem = name.split("/")[-1]
    # the download menu's .ipynb: the chapter's notebook, written beside
    # its page with the install cell first (publish/book.py)
    assert f'href="{stem}.ipynb"' in text, name
    notebook = json.loads((html / f"{name}.ipynb").read_text("utf-8"))
    assert notebook["cells"][0]["id"] == install_cell.CELL_ID
    assert f'href="../_sources/{name}.md"' in text, name
    # its launch links: tests/test_publish.py, with and without an address


def test_config_caches_execution_and_cites_from_the_bib_file():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "cache"
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    extensions = config["sphinx"]["config"]["extensions"]
    assert "sphinx-mathjax-offline" in extensions
    assert "sphinxcontrib.bibtex" in extensions
    assert config["launch_buttons"]["colab_url"]
    assert config["launch_buttons"]["binderhub_url"]


# Plain-text citations such as "(Elman, 1990)", "Cho et al. (2014)" or
# "Hochreiter and Schmidhuber (1997)" that should be {cite:p}/{cite:t} roles.
PLAIN_CITATION = re.compile(
    r"\([A-Z][\w-]+(?: et al\.| (?:&|and) [A-Z][\w-]+)?,\s+(?:19|20)\d\d\b"
    r"|\b[A-Z][\w-]+(?:\s+et\s+al\.|\s+(?:&|and)\s+[A-Z][\w-]+)"
    r"\s+\((?:19|20)\d\d\)"
)


def prose(name):
    """The markdown of a page without its code cells, code blocks, and
    reference list."""
    text = (REPO / f"{name}.md").read_text(encoding="utf-8")
    text = re.sub(
        r"^(`{3,})\{code-cell\}.*?^\1\s*$", "", text, flags=re.M | re.S
    )
    text = re.sub(r"^(`{3,})(?!\{).*?^\1\s*$", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


@pytest.mark.parametrize("name", toc_files())
def test_citations_are_bibtex_roles(name):
    found = PLAIN_CITATION.findall(prose(name))
    assert not found, f"{name}: cite with {{cite:p}}/{{cite:t}}: {found}"


def bib_keys():
    bib = (REPO / "book" / "references.bib").read_text(encoding="utf-8")
    return re.findall(r"^@\w+\{([^,\s]+),", bib, flags=re.M)


def test_bib_has_the_original_papers_with_full_entries():
    bib = (REPO / "book" / "references.bib").read_text(encoding="utf-8")
    keys = bib_keys()
    assert len(keys) == len(set(keys)), "duplicate keys"
    for key in [
        "elman1990finding",
        "hochreiter1997long",
        "cho2014learning",
        "chung2014empirical",
        "sutskever2014sequence",
        "bahdanau2015neural",
        "luong2015effective",
        "vaswani2017attention",
        "bengio1994learning",
        "pascanu2013difficulty",
        "graves2013generating",
        "papineni2002bleu",
        "ba2016layer",
        "he2016deep",
        "xiong2020layer",
        "gers2000learning",
        "gers2000recurrent",
    ]:
        assert key in keys, key
    for entry in re.split(r"^@", bib, flags=re.M)[1:]:
        key = entry.split("{", 1)[1].split(",", 1)[0]
        for field in ("author", "title", "year"):
            assert re.search(rf"^\s*{field}\s*=", entry, re.M), (key, field)
        venue = (
            "journal",
            "booktitle",
            "publisher",
            "howpublished",
            "institution",
        )
        assert any(re.search(rf"^\s*{v}\s*=", entry, re.M) for v in venue), (
            key,
            "venue",
        )


def test_every_citation_resolves_to_a_bib_entry():
    keys = set(bib_keys())
    for name in toc_files():
        text = (REPO / f"{name}.md").read_text(encoding="utf-8")
        for target in re.findall(r"\{cite:[pt]\}`([^`]*)`", text):
            for key in re.sub(r"\{[^}]*\}", "", target).split(","):
                assert key.strip() in keys, (name, key)


def test_bibliography_page_lists_the_cited_papers(built):
    _, html = built
    text = (html / "book" / "bibliography.html").read_text(encoding="utf-8")
    for phrase in [
        "Finding structure in time",
        "Long short-term memory",
        "Attention is all you need",
        "BLEU",
    ]:
        assert phrase.lower() in text.lower(), phrase


CONTRACT_SYMBOLS = ["x_t", "h_t", "W_x", "W_h", "b", "N", "T", "D", "H", "V"]


def test_notation_page_has_the_contract_symbols():
    text = (REPO / "book" / "notation.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| $")]
    symbols = {re.match(r"\| \$([^$]+)\$", row).group(1) for row in rows}
    for symbol in CONTRACT_SYMBOLS:
        assert symbol in symbols, symbol
    # the one equation of the contract, in the book's row-vector form
    assert r"h_t = \tanh(x_t W_x + h_{t-1} W_h + b)" in text


HANGUL = re.compile(r"[\uac00-\ud7a3]")


def glossary_entries():
    """Glossary entries as lists of term lines (English first, then its
    Korean name), read from the glossary directive."""
    text = (REPO / "book" / "glossary.md").read_text(encoding="utf-8")
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    entries, terms = [], []
    for line in body.splitlines()[1:]:
        if not line.strip() or line.startswith(":"):
            continue
        if line.startswith(" "):
            if terms:
                entries.append(terms)
                terms = []
        else:
            terms.append(line.strip())
    return entries


def test_glossary_gives_every_term_in_english_and_korean():
    entries = glossary_entries()
    assert len(entries) >= 40
    for terms in entries:
        assert not HANGUL.search(terms[0]), terms
        assert any(HANGUL.search(term) for term in terms[1:]), terms


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_links_its_terms_to_the_glossary(built, name):
    _, html = built
    text = (html / f"{name}.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="glossary\.html#(term-[^"]+)"', text))
    assert links, f"{name} links no term to the glossary"
    glossary = (html / "book" / "glossary.html").read_text(encoding="utf-8")
    for anchor in links:
        assert f'id="{anchor}"' in glossary, anchor


@pytest.mark.parametrize("name", toc_files())
def test_every_image_has_alt_text_and_no_page_loads_from_outside(built, name):
    _, html = built
    text = (html / f"{name}.html").read_text(encoding="utf-8")
    for tag in re.findall(r"<img[^>]*>", text):
        assert re.search(r'alt="[^"]{8,}"', tag), (name, tag[:200])
    # scripts, styles and images come from the built site, never a CDN
    outside = re.findall(
        r'<(?:script|img|link|iframe)[^>]*(?:src|href)="(https?:[^"]+)"[^>]*>',
        text,
    )
    assert not outside, (name, outside)


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_plots_with_the_colour_blind_safe_style(name):
    # seqbook.plotting.use_style: the Okabe-Ito palette and viridis
    text = (REPO / f"{name}.md").read_text(encoding="utf-8")
    assert "use_style()" in text, name
    named = re.findall(r"color=\"(red|green|blue|tab:\w+)\"", text)
    assert not named, (name, named)
