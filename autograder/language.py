"""The language of a submitted notebook, and the feedback pages' own
words in it.

A notebook is Korean when most letters of its markdown are Hangul: the
Korean release (``notebooks/ko/<name>/<name>.ipynb``) is, the English one
with its few Korean terms is not. The feedback page nbgrader makes and the
page of a submission that could not be graded then say their headings,
scores and statuses in Korean (:func:`localise`, :func:`failure_words`);
the checks' messages stay as they are.
"""

import re

HANGUL = re.compile("[\uac00-\ud7a3]")
LATIN = re.compile("[A-Za-z]")

# nbgrader's feedback template (feedback/index.html.j2): its words, each
# in the markup around it, so that nothing a student wrote is changed.
KOREAN_PAGE = [
    (r"<html>", '<html lang="ko">'),
    (r"\(Score: (-?[\d.]+) / ([\d.]+)\)</h4>", r"(점수: \1 / \2)</h4>"),
    (r'">Test cell</a> \(Score: ', '">테스트 셀</a> (점수: '),
    (r'">Coding free-response</a> \(Score: ', '">코드 서술형</a> (점수: '),
    (r'">Written response</a> \(Score: ', '">서술형 답</a> (점수: '),
    (r'">Task</a> \(Score: ', '">과제</a> (점수: '),
    (r'">Comment</a></li>', '">의견</a></li>'),
    (r"Late submission penalty \(Score: ", "늦은 제출 감점 (점수: "),
    (
        r'Score: ([\d.]+) / ([\d.]+) <a href="#top">\(Top\)</a>',
        r'점수: \1 / \2 <a href="#top">(맨 위로)</a>',
    ),
    (r'<a href="#top">\(Top\)</a>', '<a href="#top">(맨 위로)</a>'),
    (r"nbgrader-label\">Student's answer<", 'nbgrader-label">학생 답안<'),
    (r"nbgrader-label\">Student's task<", 'nbgrader-label">학생 과제<'),
    (r'nbgrader-label">Grade cell: <code>', 'nbgrader-label">채점 셀: <code>'),
    (r'nbgrader-label">Task: <code>', 'nbgrader-label">과제: <code>'),
    (r"<b>Comments:</b>", "<b>의견:</b>"),
    (
        r"the grader&#x27;s check of this cell never ran|"
        r"the grader's check of this cell never ran",
        "이 셀에 대한 채점기의 검사가 실행되지 않았습니다",
    ),
]

FAILURE = {
    "en": {
        "assignment": "Assignment",
        "student": "Student",
        "failed": "Your submission could not be graded",
        "score": "Score",
        "statuses": {},
    },
    "ko": {
        "assignment": "과제",
        "student": "학생",
        "failed": "제출물을 채점하지 못했습니다",
        "score": "점수",
        "statuses": {
            "missing": "제출물 없음",
            "invalid_notebook": "읽을 수 없는 노트북",
            "wrong_assignment": "다른 과제의 노트북",
            "too_large": "너무 큰 노트북",
            "timeout": "시간 초과",
            "memory": "메모리 초과",
            "kernel_died": "커널이 멈춤",
            "error": "채점기 오류",
        },
    },
}


def of_notebook(notebook):
    """The language of ``notebook`` (a dict): "ko" when its markdown is
    mostly Hangul, else "en" (also for anything not a notebook)."""
    try:
        cells = [c for c in notebook["cells"] if c["cell_type"] == "markdown"]
        texts = [
            "".join(c["source"])
            if isinstance(c["source"], list)
            else str(c["source"])
            for c in cells
        ]
    except (KeyError, TypeError):
        return "en"
    text = "".join(texts)
    hangul, latin = len(HANGUL.findall(text)), len(LATIN.findall(text))
    return "ko" if hangul and hangul >= latin else "en"


def localise(page, language):
    """nbgrader's feedback page (HTML text) in ``language``."""
    if language != "ko":
        return page
    for pattern, replacement in KOREAN_PAGE:
        page = re.sub(pattern, replacement, page)
    return page


def failure_words(language):
    """The words of the page of a submission that could not be graded."""
    return FAILURE.get(language or "en", FAILURE["en"])
