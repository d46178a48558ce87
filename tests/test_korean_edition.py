"""The Korean edition as built (the `built` fixture builds both editions as
`make book` does): every page at ko/<page>.html, in Korean, linked to
the same page of the English edition and back, with the outputs of the one
run (no chapter runs again), and no message left in English on a page
whose catalog is not pending."""

import hashlib
import json
import re

import pytest

from i18n import check
from i18n.sphinx_ext import STATUS_FILE

from pages import toc_files
from site_builds import KOREAN_LOG

PAGES = toc_files()
PENDING = check.pending()


@pytest.fixture(scope="module")
def korean(built):
    result, html = built
    assert result.returncode == 0, (
        result.stdout[-3000:] + result.stderr[-3000:]
    )
    return html / "ko"


def test_the_korean_build_runs_no_code_and_warns_of_nothing(built):
    result, _ = built
    outputs = [
        result.stdout.split(KOREAN_LOG),
        result.stderr.split(KOREAN_LOG),
    ]
    assert all(len(parts) == 2 for parts in outputs), "no Korean build"
    korean = outputs[0][1] + outputs[1][1]
    assert "Executing notebook" not in korean
    assert ": WARNING:" not in korean, [
        line for line in korean.splitlines() if ": WARNING:" in line
    ]


def page(html, name):
    return (html / f"{name}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", PAGES)
def test_every_page_links_to_itself_in_the_other_edition(built, korean, name):
    _, english = built
    up = "../" * name.count("/")
    en, ko = page(english, name), page(korean, name)
    assert '<html lang="ko"' in ko or "<html lang='ko'" in ko
    assert f'href="{up}ko/{name}.html" hreflang="ko"' in en
    assert f'href="{up}../{name}.html" hreflang="en"' in ko


def images(text):
    return sorted(re.findall(r'<img[^>]*src="([^"]+)"', text))


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", PAGES)
def test_korean_pages_show_the_outputs_of_the_one_run(built, korean, name):
    _, english = built
    en, ko = images(page(english, name)), images(page(korean, name))
    assert len(en) == len(ko), (en, ko)
    folder = (english / name).parent
    for a, b in zip(en, ko):
        assert digest(folder / a) == digest((korean / name).parent / b)


def pasted(text):
    """The values that {glue:text} roles pasted into a page."""
    return sorted(re.findall(r'class="pasted-text">([^<]*)<', text))


@pytest.mark.parametrize("name", PAGES)
def test_korean_pages_paste_the_values_of_the_one_run(built, korean, name):
    """Every {glue:text} value of the English page, in the Korean one too
    (a translated message is parsed without the page's notebook:
    i18n.sphinx_ext.TranslatedPasteText)."""
    _, english = built
    assert pasted(page(korean, name)) == pasted(page(english, name))


@pytest.mark.parametrize("name", PAGES)
def test_korean_images_carry_korean_alt_text(korean, name):
    if f"{name}.po" in PENDING:
        pytest.skip("pending translation: its alt texts are still English")
    for tag in re.findall(r"<img[^>]*>", page(korean, name)):
        alt = re.search(r'alt="([^"]*)"', tag)
        if "_images/" in tag:
            assert alt and re.search("[\uac00-\ud7a3]", alt[1]), tag[:200]


def test_translated_pages_leave_nothing_in_english(korean):
    status = json.loads((korean / STATUS_FILE).read_text(encoding="utf-8"))
    left = {
        name: messages
        for name, messages in status["untranslated"].items()
        if messages and f"{name}.po" not in PENDING
    }
    assert not left, json.dumps(left, ensure_ascii=False, indent=1)[:3000]
    for name in PENDING:
        if name.startswith("book/"):
            assert status["untranslated"].get(name[:-3]), (
                f"{name} is pending but the page is all translated: take "
                "it off locale/ko/pending.txt"
            )


def test_pending_pages_say_so_and_translated_ones_do_not(korean):
    for name in PAGES:
        notice = "translation-pending" in page(korean, name)
        assert notice == (f"{name}.po" in PENDING), name


def test_korean_edition_publishes_the_korean_releases(korean):
    from i18n.notebooks import release_path

    assignments_page = page(korean, "book/assignments/rnn")
    assert "rnn.ipynb 내려받기" in assignments_page
    published = korean / "notebooks" / "rnn" / "rnn.ipynb"
    nb = json.loads(published.read_text(encoding="utf-8"))
    korean_release = json.loads(release_path("rnn", "ko").read_text("utf-8"))
    assert [c["source"] for c in nb["cells"][1:]] == [
        c["source"] for c in korean_release["cells"][1:]
    ]


def test_korean_assignments_launch_their_korean_release(site_with_address):
    """Published, the Korean edition's assignment pages open the Korean
    release (ko/notebooks/... in the student tree) in Colab and Binder."""
    result, html, _ = site_with_address
    assert result.returncode == 0, result.stderr[-3000:]
    for language, folder in (("en", ""), ("ko", "ko/")):
        text = page(html / folder if folder else html, "book/assignments/rnn")
        colab = re.findall(r'href="(https://colab[^"]+)"', text)
        assert colab, f"{language}: no Colab link"
        assert all(
            link.endswith(f"/{folder}notebooks/rnn/rnn.ipynb")
            for link in colab
        ), colab
        assert all(("/ko/" in link) == (language == "ko") for link in colab)
        assert (html / folder / "notebooks" / "rnn" / "rnn.ipynb").exists()
