"""What a catalog still needs, message by message, with the reason.

``python -m i18n check [PATH...]`` prints, for every catalog of
``locale/ko/LC_MESSAGES`` (or those named), what is

- untranslated: no translation yet;
- fuzzy: the English changed (or the translation came from a similar
  paragraph); check it against the English, then delete the ``fuzzy``
  flag;
- broken: the translation does not keep what it must: the same roles
  with the same targets ({term}, {doc}, {ref}, {eq}, {cite:p}, ...), the
  same math, the same code spans, link targets and substitutions; or a
  prose message whose translation is the English itself, or holds no
  Hangul. A message of only code, math, references or names (LSTM) may
  stay as it is, unless another catalog translates it (a one-word
  title, "Summary", looks like a name).

A {term} role may name a glossary term by any of its names, Korean ones
included: ``{term}`은닉 상태``` and ``{term}`hidden state``` point at
the same entry. The tests (tests/test_translations.py) run the same
checks; ``locale/ko/pending.txt`` lists the catalogs still being
translated, which the tests expect to be incomplete.
"""

from dataclasses import dataclass, field
from pathlib import Path

from i18n import LOCALE, REPO, messages_dir
from i18n.catalogs import read
from i18n.glossary import entry_of
from i18n.markdown import HANGUL, emphasis, is_prose, kept_spans

PENDING = LOCALE / "ko" / "pending.txt"
KINDS = ("untranslated", "fuzzy", "broken")


@dataclass
class Problem:
    kind: str  # one of KINDS
    msgid: str
    reason: str = ""

    def __str__(self):
        excerpt = " ".join(self.msgid.split())
        if len(excerpt) > 70:
            excerpt = excerpt[:67] + "..."
        text = f'  {self.kind}: "{excerpt}"'
        return text + (f"\n      {self.reason}" if self.reason else "")


@dataclass
class Report:
    path: Path
    messages: int = 0
    problems: list = field(default_factory=list)

    def count(self, kind):
        return sum(1 for p in self.problems if p.kind == kind)

    def __str__(self):
        name = (
            self.path.relative_to(REPO)
            if self.path.is_absolute()
            else self.path
        )
        counts = ", ".join(
            f"{self.count(k)} {k}" for k in KINDS if self.count(k)
        )
        head = f"{name}: {self.messages} messages"
        if not self.problems:
            return head + ", all translated"
        return head + f", {counts}\n" + "\n".join(map(str, self.problems))


def _terms(roles):
    """Roles with {term} targets as glossary entries."""
    return sorted(
        (role, entry_of(target) if role == "term" else target)
        for role, target in roles
    )


# Roles must come as often as in the English (Sphinx pairs the references
# of a message with the translation's); math and code may be repeated.
AS_SETS = ("math", "code")


def _differences(msgid, msgstr):
    """Why the translation does not keep the English's spans."""
    english, korean = kept_spans(msgid), kept_spans(msgstr)
    english["roles"] = _terms(english["roles"])
    korean["roles"] = _terms(korean["roles"])
    reasons = []
    for kind, spans in english.items():
        theirs = korean[kind]
        if kind in AS_SETS:
            spans, theirs = sorted(set(spans)), sorted(set(theirs))
        if spans == theirs:
            continue
        lost = [s for s in spans if spans.count(s) > theirs.count(s)]
        added = [s for s in theirs if theirs.count(s) > spans.count(s)]
        reasons.append(
            f"{kind} differ: the English has {_show(lost)} more, the "
            f"translation {_show(added)} more"
        )
    if emphasis(msgid) != emphasis(msgstr):
        reasons.append(
            "bold or italic differs (English {}, translation {}): a ** or * "
            "after ` or ) and before a Korean letter does not close; put "
            "it before the parenthesis, or the letter inside".format(
                emphasis(msgid), emphasis(msgstr)
            )
        )
    return reasons


def _show(spans):
    if not spans:
        return "nothing"
    return ", ".join(
        "{%s}`%s`" % s if isinstance(s, tuple) else repr(s) for s in spans
    )


def translated_elsewhere():
    """{English: translation} of every message that some catalog
    translates (the update's translation memory)."""
    from i18n.catalogs import Memory

    return Memory(messages_dir()).exact


# A translator's comment (``# same in both editions``) on a message that
# is rightly the same in Korean: a romanisation, a name.
SAME = "same in both editions"


def problem_of(message, elsewhere=None):
    """The Problem of one message, or None; ``elsewhere`` maps messages
    to their translations in other catalogs."""
    if not message.string:
        return Problem("untranslated", message.id)
    if message.fuzzy:
        before = " ".join(message.previous_id or [])
        reason = "the English changed" + (
            f'; it was: "{before[:70]}"' if before else ""
        )
        return Problem("fuzzy", message.id, reason)
    reasons = _differences(message.id, message.string)
    same = any(SAME in c for c in message.user_comments)
    if is_prose(message.id) and not same:
        if message.string == message.id:
            reasons.append("the translation is the English itself")
        elif not HANGUL.search(message.string):
            reasons.append("the translation of a prose message has no Hangul")
    elif message.string == message.id and (elsewhere or {}).get(message.id):
        reasons.append(
            f"kept in English, but translated as "
            f"{elsewhere[message.id]!r} elsewhere (python -m i18n update "
            "fills it in)"
        )
    if reasons:
        return Problem("broken", message.id, "; ".join(reasons))
    return None


def check(path, elsewhere=None):
    """The Report of the catalog at ``path``; ``elsewhere``: the
    translations of the other catalogs (default: read them)."""
    if elsewhere is None:
        elsewhere = translated_elsewhere()
    catalog = read(path)
    report = Report(Path(path))
    for message in catalog:
        if not message.id:
            continue
        report.messages += 1
        problem = problem_of(message, elsewhere)
        if problem:
            report.problems.append(problem)
    return report


def catalogs(language="ko"):
    """Every catalog of ``language``, sorted."""
    return sorted(messages_dir(language).rglob("*.po"))


def pending():
    """The catalogs (relative to LC_MESSAGES) still being translated."""
    if not PENDING.exists():
        return set()
    lines = PENDING.read_text(encoding="utf-8").splitlines()
    return {
        line.strip()
        for line in lines
        if line.strip() and not line.startswith("#")
    }


def main(argv=None):
    """Print the reports; exit 1 if any catalog not pending has a
    problem."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m i18n check")
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument(
        "--summary", action="store_true", help="one line per catalog"
    )
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.paths] or catalogs()
    waiting = pending()
    elsewhere = translated_elsewhere()
    failed = False
    for path in paths:
        report = check(path, elsewhere)
        name = str(path.relative_to(messages_dir()))
        note = " (pending)" if name in waiting else ""
        text = str(report)
        print(text.splitlines()[0] + note if args.summary else text + note)
        failed |= bool(report.problems) and name not in waiting
    return 1 if failed else 0
