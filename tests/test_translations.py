"""The Korean edition's catalogs, glossary and assignments, read from the
files (no build): every catalog of locale/ko/LC_MESSAGES complete and
faithful (i18n.check), the glossary's Korean names used as it sets them,
the Korean releases generated from the English ones and the catalogs.

A catalog listed in locale/ko/pending.txt is still being translated: its
test is expected to fail (strict: once it passes, take it off the list).
"""

import json
import re

import pytest
from babel.messages.catalog import Message

from autograder import course
from i18n import check, glossary, messages_dir, notebooks
from i18n.markdown import ROLE, is_prose, kept_spans, role_target
from i18n.search_ko import SearchKorean, without_particle

from pages import toc_files
from submissions import REPO

CATALOGS = check.catalogs()
PENDING = check.pending()
# what the catalogs translate, for a title kept in English in one of them
ELSEWHERE = check.translated_elsewhere()


def name_of(path):
    return str(path.relative_to(messages_dir()))


def pending_mark(name):
    if name in PENDING:
        return pytest.mark.xfail(
            strict=True, reason=f"{name} is in locale/ko/pending.txt"
        )
    return []


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pending_mark(name_of(p))) for p in CATALOGS],
    ids=name_of,
)
def test_catalog_is_translated_and_keeps_its_markup(path):
    report = check.check(path, ELSEWHERE)
    assert not report.problems, "\n" + str(report)


def test_every_page_and_assignment_has_a_catalog_and_nothing_else_does():
    expected = {f"{page}.po" for page in toc_files()}
    expected |= {f"notebooks/{n}.po" for n in course.assignments()}
    found = {name_of(p) for p in CATALOGS}
    assert found == expected, (
        f"missing (run python -m i18n update): {expected - found}; "
        f"without a page: {found - expected}"
    )
    assert PENDING <= found, PENDING - found


def message(msgid, msgstr, fuzzy=False):
    return Message(msgid, msgstr, flags={"fuzzy"} if fuzzy else set())


GOOD = (
    "The {term}`hidden state` $h_t$ of `torch.nn.RNN` is kept "
    "({ref}`rnn-cell`).",
    "`torch.nn.RNN`의 {term}`은닉 상태 <hidden state>` $h_t$는 유지됩니다"
    "({ref}`rnn-cell`).",
)


@pytest.mark.parametrize(
    "msgstr, fuzzy, kind, words",
    [
        ("", False, "untranslated", ""),
        (GOOD[1], True, "fuzzy", "changed"),
        (GOOD[1].replace("$h_t$", "$h_{t}$"), False, "broken", "math"),
        (
            GOOD[1].replace("`torch.nn.RNN`", "`nn.RNN`"),
            False,
            "broken",
            "code",
        ),
        (GOOD[1].replace("rnn-cell", "rnn-graph"), False, "broken", "roles"),
        (
            GOOD[1].replace("<hidden state>", "<cell>"),
            False,
            "broken",
            "roles",
        ),
        (GOOD[0], False, "broken", "English itself"),
        (GOOD[0].replace("The", "Der"), False, "broken", "no Hangul"),
    ],
)
def test_the_checker_finds_each_kind_of_problem(msgstr, fuzzy, kind, words):
    assert check.problem_of(message(*GOOD)) is None
    problem = check.problem_of(message(GOOD[0], msgstr, fuzzy))
    assert problem is not None and problem.kind == kind
    assert words in problem.reason, problem.reason


def test_the_checker_finds_bold_that_a_korean_particle_keeps_open():
    english = "A **{term}`cell` (셀)** computes one step of the network."
    broken = "**{term}`셀 <cell>`(cell)**은 네트워크의 한 스텝을 계산합니다."
    fixed = "**{term}`셀 <cell>`**(cell)은 네트워크의 한 스텝을 계산합니다."
    problem = check.problem_of(message(english, broken))
    assert problem and "bold" in problem.reason
    assert check.problem_of(message(english, fixed)) is None


def test_a_term_may_be_named_by_any_of_its_names_and_code_may_stay():
    korean = GOOD[1].replace("은닉 상태 <hidden state>", "은닉 상태")
    assert check.problem_of(message(GOOD[0], korean)) is None
    for only_code in ("`torch.nn.RNN`", "$h_t$", "LSTM", "돈을 쓰다"):
        assert not is_prose(only_code)
        assert check.problem_of(message(only_code, only_code)) is None


def test_a_title_kept_in_english_takes_its_translation_from_the_memory():
    """A title ("Summary") reads like a name (LSTM): the update filled it
    with itself; where another catalog translates it, the checker says so and
    the update's memory fills it in."""
    from babel.messages.catalog import Catalog

    from i18n.catalogs import fill

    elsewhere = {"Summary": "요약"}
    kept = message("Summary", "Summary")
    problem = check.problem_of(kept, elsewhere)
    assert problem and problem.kind == "broken" and "요약" in problem.reason
    assert check.problem_of(message("LSTM", "LSTM"), elsewhere) is None
    catalog = Catalog(locale="ko")
    catalog.add("Summary", "Summary")
    catalog.add("LSTM", "")

    class Memory:
        exact = elsewhere

    assert fill(catalog, Memory) == (1, 0)
    assert catalog.get("Summary").string == "요약"
    assert catalog.get("LSTM").string == "LSTM"


# The glossary: the one place a term's Korean name is set.
ENTRIES = glossary.entries()
HANGUL = re.compile("[\uac00-\ud7a3]")


def test_every_glossary_entry_has_english_and_korean_names():
    assert len(ENTRIES) >= 40
    for entry in ENTRIES:
        assert entry.english and entry.korean, entry
        assert entry.introduced, f"{entry.key}: no 'Introduced in'"
        assert (REPO / f"{entry.introduced}.md").exists(), entry.introduced


def translations(path):
    """msgstr of every translated message of a catalog."""
    from babel.messages.pofile import read_po

    with open(path, "rb") as f:
        return [m.string for m in read_po(f) if m.id and m.string]


TRANSLATED = [p for p in CATALOGS if name_of(p) not in PENDING]
INTRODUCTION = re.compile(
    r"\{term\}`(?P<body>[^`]*)`\**\s*\((?P<paren>[^)]*)\)"
)


def english_pages():
    return {
        page: (REPO / f"{page}.md").read_text("utf-8") for page in toc_files()
    }


@pytest.mark.parametrize("page", toc_files())
def test_english_pages_give_the_glossarys_korean_name(page):
    """{term}`x` (한국어 이름): the name in parentheses is the glossary's."""
    text = " ".join((REPO / f"{page}.md").read_text("utf-8").split())
    wrong = []
    for found in INTRODUCTION.finditer(text):
        paren = found["paren"]
        if not HANGUL.search(paren):
            continue
        key = glossary.entry_of(role_target("term", found["body"]))
        (entry,) = [e for e in ENTRIES if e.key == key] or [None]
        names = [part.strip() for part in paren.split(",")]
        if entry is None or not set(names) & set(entry.korean):
            wrong.append((found.group(0), entry and entry.korean))
    assert not wrong, wrong


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.key)
def test_the_english_page_that_introduces_a_term_gives_its_korean_name(
    entry,
):
    text = " ".join(english_pages()[entry.introduced].split())
    for found in INTRODUCTION.finditer(text):
        key = glossary.entry_of(role_target("term", found["body"]))
        names = [part.strip() for part in found["paren"].split(",")]
        if key == entry.key and set(names) & set(entry.korean):
            return
    pytest.fail(
        f"{entry.introduced}.md should introduce {{term}}`{entry.key}` "
        f"with ({entry.name})"
    )


def korean_introductions(entry):
    """(catalog, message) where the Korean text introduces the entry: its
    {term} role followed by the English name in parentheses."""
    english = {name.lower() for name in entry.english}
    found = []
    for path in TRANSLATED:
        for text in translations(path):
            for match in INTRODUCTION.finditer(" ".join(text.split())):
                target = role_target("term", match["body"])
                first = match["paren"].split(",")[0].strip().lower()
                if glossary.entry_of(target) == entry.key and first in english:
                    found.append((name_of(path), text))
    return found


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.key)
def test_korean_pages_introduce_a_term_once_with_its_english_name(entry):
    catalog = f"{entry.introduced}.po"
    if catalog in PENDING:
        pytest.xfail(f"{catalog} is pending translation")
    found = korean_introductions(entry)
    assert [c for c, _ in found] == [catalog], (
        f"{entry.key}: the Korean text should give ({entry.english[0]}) "
        f"once, on {catalog}, after its Korean name {entry.name}; "
        f"found {found}"
    )


def term_roles(text):
    for match in ROLE.finditer(text):
        if match["role"] == "term":
            body = " ".join(match["body"].split())
            yield body, glossary.entry_of(role_target("term", body))


@pytest.mark.parametrize("path", TRANSLATED, ids=name_of)
def test_korean_text_names_terms_by_the_glossarys_korean_name(path):
    by_key = {e.key: e for e in ENTRIES}
    wrong, variants = [], []
    for text in translations(path):
        for body, key in term_roles(text):
            shown = re.sub(r"\s*<[^<>]*>$", "", body)
            entry = by_key.get(key)
            if entry and not any(shown.startswith(k) for k in entry.korean):
                wrong.append((body, entry.korean))
        if name_of(path) == "book/glossary.po":
            continue  # where the names not to use are named
        for entry in ENTRIES:
            variants += [v for v in entry.variants if v in text]
    assert not wrong, f"{{term}} roles not shown by a Korean name: {wrong}"
    assert not variants, f"names the glossary says not to use: {variants}"


# The assignments: the Korean release is generated, differs only in markdown.
ASSIGNMENTS = course.assignments()


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_korean_release_is_generated_from_the_english_and_the_catalog(name):
    committed = notebooks.release_path(name, "ko")
    assert committed.exists(), f"{committed}: run make release"
    assert committed.read_text("utf-8") == notebooks.korean_release(name), (
        f"notebooks/ko/{name} is out of date: run `make release` and commit"
    )


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_korean_and_english_releases_differ_only_in_markdown(name):
    english = load(notebooks.release_path(name))
    korean = load(notebooks.release_path(name, "ko"))
    assert english["metadata"] == korean["metadata"]
    assert len(english["cells"]) == len(korean["cells"])
    for en, ko in zip(english["cells"], korean["cells"]):
        if en["cell_type"] == "markdown":
            assert {k: v for k, v in en.items() if k != "source"} == {
                k: v for k, v in ko.items() if k != "source"
            }
        else:
            assert en == ko, en.get("id")


TRANSLATED_ASSIGNMENTS = [
    n for n in ASSIGNMENTS if f"notebooks/{n}.po" not in PENDING
]


@pytest.mark.parametrize("name", TRANSLATED_ASSIGNMENTS)
def test_translated_korean_release_reads_in_korean(name):
    from autograder import language

    korean = load(notebooks.release_path(name, "ko"))
    assert language.of_notebook(korean) == "ko"
    assert language.of_notebook(load(notebooks.release_path(name))) == "en"
    for cell in korean["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and is_prose(text):
            assert HANGUL.search(text), text[:200]


def test_a_notebook_paragraph_keeps_its_code_and_math_when_translated():
    text = "# Title\n\nSome `x` and $y$.\n\n```python\nz = 1\n```\n"
    table = {"# Title": "# 제목", "Some `x` and $y$.": "`x`와 $y$."}
    from i18n.markdown import translate

    out = translate(text, table.get)
    assert out == "# 제목\n\n`x`와 $y$.\n\n```python\nz = 1\n```\n"
    assert kept_spans("Some `x` and $y$.") == kept_spans("`x`와 $y$.")


# Search: Korean words are indexed with and without their particles.


def test_korean_search_indexes_words_without_their_particles():
    search = SearchKorean({})
    words = search.split("은닉 상태를 기울기가 RNN은 값이")
    for word in ("은닉", "상태를", "상태", "기울기", "RNN", "값"):
        assert word in words, words
    assert without_particle("상태를", keep=2) == "상태"
    assert without_particle("차이", keep=2) == "차이"
    assert search.stem("gradients") == search.stem("gradient")
    assert "EnglishStemmer" in search.js_stemmer_code


# The grader's feedback pages follow the notebook's language.

NBGRADER_PAGE = (
    "<html>\n<h4>rnn (Score: 3.0 / 18.0)</h4>"
    '<li><a href="#test_step">Test cell</a> (Score: 0.0 / 2.0)</li>'
    '<span class="nbgrader-label">Student\'s answer</span>'
    '<span class="pull-right">Score: 0.0 / 2.0 <a href="#top">(Top)</a>'
    "</span><pre>print('Test cell (Score: 1 / 2)')</pre>"
)


def test_nbgrader_feedback_page_in_korean_keeps_what_students_wrote():
    from autograder import language

    assert language.localise(NBGRADER_PAGE, "en") == NBGRADER_PAGE
    korean = language.localise(NBGRADER_PAGE, "ko")
    for words in (
        '<html lang="ko">',
        "(점수: 3.0 / 18.0)</h4>",
        ">테스트 셀</a> (점수: 0.0 / 2.0)",
        "학생 답안",
        '점수: 0.0 / 2.0 <a href="#top">(맨 위로)</a>',
    ):
        assert words in korean, (words, korean)
    assert "<pre>print('Test cell (Score: 1 / 2)')</pre>" in korean


def test_failure_page_says_its_words_in_the_notebooks_language(tmp_path):
    from autograder.batch.outputs import failure_page

    record = {"student_id": "김철수", "status": "timeout", "detail": "slow"}
    failure_page(tmp_path / "en.html", record, "rnn")
    failure_page(tmp_path / "ko.html", dict(record, language="ko"), "rnn")
    english = (tmp_path / "en.html").read_text("utf-8")
    korean = (tmp_path / "ko.html").read_text("utf-8")
    assert "could not be graded: <b>timeout</b>" in english
    assert "채점하지 못했습니다: <b>시간 초과 (timeout)</b>" in korean
    assert "lang='ko'" in korean and "김철수" in korean


def test_a_fuzzy_message_keeps_its_previous_english_in_gettext_form(
    tmp_path,
):
    """`#| msgid` as gettext writes it: a string per line, read back
    (babel reads it as a comment; i18n.catalogs.read does not)."""
    from babel.messages.catalog import Catalog

    from i18n.catalogs import read, write

    before = "The old English, long enough to be cut into lines: " * 3
    catalog = Catalog(locale="ko")
    catalog.add("The new English.", "새 번역.", flags={"fuzzy"})
    catalog.get("The new English.").previous_id = [before]
    catalog.add("Kept.", "유지.")
    path = tmp_path / "page.po"
    write(path, catalog)
    text = path.read_text(encoding="utf-8")
    comment = [line for line in text.splitlines() if line.startswith("#|")]
    assert comment[0] == '#| msgid ""' and len(comment) > 2
    assert all(line.startswith('#| "') for line in comment[1:])
    back = read(path)
    assert back.get("The new English.").previous_id == [before]
    assert back.get("The new English.").fuzzy
    assert back.get("The new English.").user_comments == []
    assert back.get("Kept.").previous_id == []
    write(path, back)
    assert path.read_text(encoding="utf-8") == text


def test_a_message_rightly_the_same_in_korean_says_so():
    """A romanisation (the seq2seq chapter's syllable table) is the same in
    both editions: kept as it is, it is broken unless a translator's
    comment says so."""
    plain = message("baek", "baek")
    assert check.problem_of(plain).kind == "broken"
    said = Message("baek", "baek", user_comments=[check.SAME])
    assert check.problem_of(said) is None
