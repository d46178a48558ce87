"""Markdown split into the paragraphs a translator translates, and the
spans that a translation must keep as they are.

A notebook's markdown cell is split at blank lines into blocks: a
paragraph, a heading, a list, a table. Fenced code is never a message,
nor is an HTML comment. :func:`segments` returns the cell's text in
pieces, so that joining them gives the text back; :func:`translate`
replaces every translatable piece by its translation.

The spans a translation must keep are math (``$...$``, ``$$...$$``), code
(`` `...` ``), MyST roles (``{role}`target```), markdown link targets and
substitutions (:func:`kept_spans`); what is left once they are removed
is the message's prose (:func:`prose`).
"""

import re

FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^#{1,6} ")
HANGUL = re.compile("[\uac00-\ud7a3]")

MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$", re.S)
ROLE = re.compile(r"\{(?P<role>[\w:.-]+)\}`(?P<body>[^`]*)`")
CODE = re.compile(r"(?<![}`])(`+)(?!`)(?P<code>.+?)(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
URL = re.compile(r"<?https?://[^\s>)]+>?")
SUBSTITUTION = re.compile(r"\{\{.*?\}\}")
TITLED = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.S)


def _blocks(lines):
    """Lists of lines, one per block; fenced code and comments apart."""
    blocks, current, fence = [], [], None
    for line in lines:
        if fence:
            current.append(line)
            if line.startswith(fence):
                blocks.append(("code", current))
                current, fence = [], None
            continue
        opened = FENCE.match(line)
        if opened or not line.strip() or HEADING.match(line):
            if current:
                blocks.append(("text", current))
                current = []
        if opened:
            fence, current = opened.group(1), [line]
        elif not line.strip():
            blocks.append(("blank", [line]))
        elif HEADING.match(line):
            blocks.append(("text", [line]))
        else:
            current.append(line)
    if current:
        blocks.append(("code" if fence else "text", current))
    return blocks


def segments(text):
    """[(translatable, piece)] whose pieces join to ``text``."""
    lines = text.splitlines(keepends=True)
    pieces = []
    for kind, block in _blocks(lines):
        joined = "".join(block)
        body = joined.rstrip("\n")
        ending = joined[len(body) :]
        translatable = kind == "text" and not body.lstrip().startswith("<!--")
        pieces.append((translatable, body))
        if ending:
            pieces.append((False, ending))
    return pieces


def messages(text):
    """The translatable paragraphs of a markdown text, in order."""
    return [piece for ok, piece in segments(text) if ok]


def translate(text, lookup):
    """``text`` with every paragraph replaced by ``lookup(paragraph)``
    where that is not empty."""
    out = []
    for ok, piece in segments(text):
        out.append((lookup(piece) or piece) if ok else piece)
    return "".join(out)


def _normal(span):
    return " ".join(span.split())


def role_target(role, body):
    """What a role points at: the part in <> of ``text <target>``, else
    the whole body (for {glue:text}, {eq}, {cite:p}: the body)."""
    titled = TITLED.match(body)
    if titled and not role.startswith(("glue", "cite", "math")):
        return _normal(titled["target"])
    return _normal(body)


def kept_spans(message):
    """{kind: sorted list} of the spans a translation must keep."""
    text = message
    roles = [
        (m["role"], role_target(m["role"], m["body"]))
        for m in ROLE.finditer(text)
    ]
    text = ROLE.sub(" ", text)
    maths = [_normal(m.group(0)) for m in MATH.finditer(text)]
    text = MATH.sub(" ", text)
    codes = [_normal(m["code"]) for m in CODE.finditer(text)]
    text = CODE.sub(" ", text)
    return {
        "roles": sorted(roles),
        "math": sorted(maths),
        "code": sorted(codes),
        "links": sorted(m["target"] for m in LINK.finditer(text)),
        "substitutions": sorted(SUBSTITUTION.findall(text)),
    }


def prose(message):
    """The message without its kept spans, URLs and markup."""
    text = ROLE.sub(" ", message)
    text = MATH.sub(" ", text)
    text = CODE.sub(" ", text)
    text = URL.sub(" ", text)
    text = LINK.sub("] ", text)
    return SUBSTITUTION.sub(" ", text)


LOWER_WORD = re.compile(r"\b[a-z][a-z'-]{2,}\b")
CAPITAL_WORD = re.compile(r"\b[A-Z][a-z]+\b")


def is_prose(message):
    """Whether a message holds English words to translate: a word in
    lower case (of three letters or more), or two capitalised words (a
    title). A message of code, math, roles, names (LSTM, PyTorch,
    Transformer) and Korean (돈을 쓰다) is not."""
    text = prose(message)
    return (
        bool(LOWER_WORD.search(text)) or len(CAPITAL_WORD.findall(text)) >= 2
    )


def emphasis(message):
    """(bold, italic) spans a markdown renderer finds in a message. In
    Korean a closing ``**`` right after a backtick or parenthesis and
    right before a particle (``**{term}`셀 <cell>`(cell)**이``) does not
    close, and the asterisks are printed: CommonMark's rule for
    punctuation before a delimiter."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parseInline(message)
    kinds = [t.type for token in tokens for t in token.children or []]
    return kinds.count("strong_open"), kinds.count("em_open")
