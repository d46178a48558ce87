"""The real grader (`python -m autograder grade`, nbgrader underneath) on a
class of submissions: the solution, the untouched release, mutants and
broken notebooks. Graded once per test session, two at a time.

Every submission runs its whole notebook, training included, so each class
holds a sample of the mutants: the first of two test cells, those of the
applied part, and one that uses torch's own implementation where the
exercise forbids it. Every mutant also goes through the very same checks,
directly, in test_checks.py; test_adversarial.py grades the tricks."""

import csv
import html
import json
import re
import subprocess
import sys

import pytest

from autograder import course
from autograder.notebooks import graded_cells
from grader_runs import rows_of, run_grader
from hidden import unit_cells
from mutants import MUTANTS
from submissions import (
    REPO,
    code_cell,
    cut_training,
    grade_ids,
    make_korean_submission,
    make_submission,
    solution_sources,
)


def max_score(name):
    return sum(points for _, points in graded_cells(name))


def graded_mutants(name, count=2):
    """Mutants for the real grader: the first one of each test cell, and
    every mutant whose check needs the applied part's trained model (the
    direct run of the checks cannot test those)."""
    chosen, cells = [], set()
    for mutant in MUTANTS.get(name, []):
        if mutant[4] not in cells:
            cells.add(mutant[4])
            chosen.append(mutant)
    applied = [m for m in MUTANTS.get(name, []) if m[4] in APPLIED[name]]
    # and the last that uses torch's own implementation where the
    # exercise forbids it (the judge has the kernel refuse it)
    forbidden = [m for m in MUTANTS.get(name, []) if "torch" in m[0]][-1:]
    extra = [m for m in applied + forbidden if m not in chosen[:count]]
    return chosen[:count] + extra


def _applied_cells(name):
    return {g for g, _ in graded_cells(name)} - set(unit_cells(name))


APPLIED = {name: _applied_cells(name) for name in course.assignments()}


def mutant_source(name, grade_id, old, new):
    source = solution_sources(name)[grade_id]
    assert old in source
    return source.replace(old, new)


ORACLE_STEP = """
def make_step_fn(model, english):
    answer = task.target_vocab.encode(dict(task.test)[english])
    answer.append(task.eos_idx)
    calls = [0]

    def oracle(tokens, state):
        V = len(task.target_vocab)
        log_probs = torch.full((tokens.shape[0], V), -30.0)
        log_probs[:, answer[min(calls[0], len(answer) - 1)]] = 0.0
        calls[0] += 1
        return log_probs, state

    return oracle, torch.zeros(1, 1)
"""

# Tricks on the applied parts, one per assignment, in cells a student adds
# (the given cells are locked: nbgrader restores them): one after the
# set-up that makes training a single step, one before the applied test
# cell that answers by formula or by look-up, or swaps in easy data, so
# that the notebook's visible test passes. The grader's check must not:
# (applied test cell, code before it, words of the message).
APPLIED_TRICKS = {
    "rnn": (
        "test_char_model_trained",
        'params["by"][vocab.encode(" ")[0]] = 50.0\n'
        'val_ids = vocab.encode(" " * 500)\n'
        "val_loss = validation_loss(params, val_ids)\n",
        "validation loss",
    ),
    "lstm": (
        "test_adding_problem",
        "class Oracle(AddingModel):\n"
        "    def forward(self, x):\n"
        "        return (x[..., 0] * x[..., 1]).sum(1)\n"
        "\n"
        "model = Oracle()\n"
        "test_mse = nn.functional.mse_loss(model(torch.from_numpy(x_test)), "
        "torch.from_numpy(y_test)).item()\n",
        "differ from torch.nn.LSTM",
    ),
    "seq2seq": (
        "test_translator",
        ORACLE_STEP + "exact_match = 1.0\n",
        "exact-match accuracy",
    ),
    "attention": (
        "test_long_inputs",
        ORACLE_STEP + "long_exact_match = 1.0\n",
        "exact match is",
    ),
    "self_attention": (
        "test_translator_trained",
        "answers = {\n"
        "    tuple(task.source_vocab.encode(e)):\n"
        "        task.target_vocab.encode(k) + [task.eos_idx]\n"
        "    for e, k in task.test\n"
        "}\n"
        "\n"
        "class Oracle(Transformer):\n"
        "    def forward(self, source, lengths, target_in):\n"
        "        V = len(task.target_vocab)\n"
        "        logits = torch.full((*target_in.shape, V), -10.0)\n"
        "        for n, length in enumerate(lengths.tolist()):\n"
        "            words = tuple(source[n, :length].tolist())\n"
        "            answer = answers.get(words, [])[: target_in.shape[1]]\n"
        "            for t, token in enumerate(answer):\n"
        "                logits[n, t, token] = 10.0\n"
        "        return logits\n"
        "\n"
        "model = Oracle(len(task.source_vocab), len(task.target_vocab))\n"
        "test_exact_match = 1.0\n",
        "differ from the notebook's Transformer",
    ),
}


# More tricks on an applied part, each a submission of its own: (student,
# applied test cell, code before it, words of the message). The translator's
# own look-up of the answers, and easy test pairs (numbers it was trained
# on), with training cut short.
MORE_APPLIED_TRICKS = {
    "self_attention": [
        (
            "applied_lookup",
            "test_translator_trained",
            "task.test = task.train[:500]\n"
            "answers = dict(task.train)\n"
            "\n"
            "def translate(model, sentences, max_len=30):\n"
            "    return [answers[english] for english in sentences]\n"
            "\n"
            "translations = translate(model, [e for e, _ in task.test])\n"
            "test_exact_match = float(np.mean(\n"
            "    [t == k for t, (_, k) in zip(translations, task.test)]))\n",
            "exact match is 0.000",
        )
    ],
}


def apply_trick(name, trick=None):
    test_cell, code, _ = trick or APPLIED_TRICKS[name]

    def edit(nb):
        nb["cells"].insert(grade_ids(nb).index(test_cell), code_cell(code))
        cut_training(nb)

    return edit


_CLASSES = {}


def grade_class(name, tmp_root):
    """Grade, once per session, a class for assignment ``name``: the
    solution, the untouched release, a sample of mutants (and, for rnn,
    broken notebooks)."""
    if name in _CLASSES:
        return _CLASSES[name]
    root = tmp_root / name
    subs = root / "submitted"
    make_submission(name, subs / "solution")
    make_submission(name, subs / "untouched", solved=False)
    # the Korean release, filled in the same way (tests below); its code
    # cells are the English release's (test_translations.py), so an
    # untouched Korean release would only run the untouched English again
    make_korean_submission(name, subs / "solution_ko")
    for mutant, grade_id, old, new, test_cell, _ in graded_mutants(name):
        # a mutant of a unit's cell is graded on that cell: the applied
        # part's training, which takes most of a notebook's time, is cut
        applied = test_cell in APPLIED[name]
        make_submission(
            name,
            subs / f"mutant_{mutant}",
            replace={grade_id: mutant_source(name, grade_id, old, new)},
            edit=None if applied else cut_training,
        )
    if name in APPLIED_TRICKS:
        make_submission(
            name,
            subs / "applied_trick",
            edit=apply_trick(name),
        )
    for student, *trick in MORE_APPLIED_TRICKS.get(name, []):
        make_submission(name, subs / student, edit=apply_trick(name, trick))
    if name == "rnn":
        add_broken_submissions(subs)
    out = root / "grades" / f"{name}.csv"
    # rnn's cells are quick, which keeps the endless loop's cost low; the
    # others train models, which a loaded machine slows down.
    timeout = "15" if name == "rnn" else "120"
    result = run_grader(
        name, subs, out, "--jobs", "2", "--cell-timeout", timeout
    )
    _CLASSES[name] = {
        "name": name,
        "result": result,
        "rows": rows_of(out),
        "subs": subs,
        "feedback": root / "grades" / "feedback" / name,
    }
    return _CLASSES[name]


def add_broken_submissions(subs):
    forward = solution_sources("rnn")["rnn_forward"]
    make_submission(
        "rnn",
        subs / "endless_loop",
        replace={
            "rnn_forward": forward.replace(
                "    N, T, _ = x.shape", "    while True:\n        pass"
            )
        },
    )
    make_submission(
        "rnn",
        subs / "sys_exit",
        replace={"rnn_forward": "import sys\nsys.exit(1)\n" + forward},
    )
    make_submission(
        "rnn",
        subs / "kernel_killer",
        replace={"rnn_forward": "import os\nos._exit(1)\n"},
    )
    (subs / "no_notebook" / "rnn").mkdir(parents=True)
    wrong_name = subs / "wrong_name" / "rnn"
    wrong_name.mkdir(parents=True)
    (wrong_name / "rnn (1).ipynb").write_text("{}")
    corrupt = subs / "corrupt" / "rnn"
    corrupt.mkdir(parents=True)
    (corrupt / "rnn.ipynb").write_text('{"cells": [', encoding="utf-8")
    empty = subs / "empty" / "rnn"
    empty.mkdir(parents=True)
    (empty / "rnn.ipynb").write_bytes(b"")


@pytest.fixture(scope="session")
def class_root(tmp_path_factory):
    return tmp_path_factory.mktemp("classes")


@pytest.fixture(scope="session", params=course.assignments())
def graded(request, class_root):
    return grade_class(request.param, class_root)


@pytest.fixture(scope="session")
def graded_rnn(class_root):
    return grade_class("rnn", class_root)


def test_command_succeeds_with_one_row_per_student(graded):
    assert graded["result"].returncode == 0, graded["result"].stderr
    students = {p.name for p in graded["subs"].iterdir()}
    assert set(graded["rows"]) == students


def test_csv_columns_follow_the_contract(graded):
    row = next(iter(graded["rows"].values()))
    columns = list(row)
    assert columns[:5] == [
        "student_id",
        "assignment",
        "score",
        "max_score",
        "status",
    ]
    assert columns[5:] == [name for name, _ in graded_cells(graded["name"])]


def test_solution_scores_full_marks(graded):
    row = graded["rows"]["solution"]
    assert row["status"] == "graded"
    assert float(row["score"]) == float(row["max_score"])
    assert float(row["score"]) == max_score(graded["name"])


def test_untouched_release_scores_zero(graded):
    row = graded["rows"]["untouched"]
    assert row["status"] == "graded"
    assert float(row["score"]) == 0


def test_korean_release_scores_exactly_what_the_english_one_does(graded):
    """The Korean release (notebooks/ko/), filled in the same way, gets the
    same points in every test cell, and full marks."""
    en, ko = graded["rows"]["solution"], graded["rows"]["solution_ko"]
    same = {k: v for k, v in en.items() if k != "student_id"}
    assert {k: v for k, v in ko.items() if k != "student_id"} == same
    assert ko["status"] == "graded"
    assert float(ko["score"]) == float(ko["max_score"]) > 0


def test_feedback_pages_speak_the_notebooks_language(graded):
    """nbgrader's page for a Korean notebook says its own words in Korean;
    the English notebook's page stays English."""
    from autograder import language

    english = (graded["feedback"] / "solution.html").read_text("utf-8")
    korean = (graded["feedback"] / "solution_ko.html").read_text("utf-8")
    korean_release = json.loads(
        (REPO / "notebooks" / "ko" / graded["name"])
        .joinpath(f"{graded['name']}.ipynb")
        .read_text("utf-8")
    )
    assert "(Score: " in english and "Test cell" in english
    if language.of_notebook(korean_release) != "ko":
        assert "(Score: " in korean  # its markdown is not translated yet
        return
    assert '<html lang="ko">' in korean
    assert "(점수: " in korean and "테스트 셀" in korean
    assert "(Score: " not in korean and "Test cell" not in korean


MUTANT_CASES = [
    (n, m) for n in course.assignments() for m in graded_mutants(n)
]


@pytest.mark.parametrize(
    "name, mutant", MUTANT_CASES, ids=[f"{n}-{m[0]}" for n, m in MUTANT_CASES]
)
def test_mutant_loses_points_and_feedback_names_the_problem(
    class_root, name, mutant
):
    graded = grade_class(name, class_root)
    mutant_name, _, _, _, test_cell, words = mutant
    row = graded["rows"][f"mutant_{mutant_name}"]
    assert row["status"] == "graded"
    assert float(row["score"]) < max_score(name)
    assert float(row[test_cell]) == 0
    page = (graded["feedback"] / f"mutant_{mutant_name}.html").read_text()
    assert words in html.unescape(page)


@pytest.mark.parametrize("name", sorted(APPLIED_TRICKS))
def test_applied_trick_earns_nothing(class_root, name):
    """The trick passes the notebook's visible test; the grader's check of
    the applied part fails it."""
    test_cell, _, words = APPLIED_TRICKS[name]
    trick_earns_nothing(
        grade_class(name, class_root), "applied_trick", test_cell, words
    )


MORE_TRICK_CASES = [
    (name, trick)
    for name, tricks in MORE_APPLIED_TRICKS.items()
    for trick in tricks
]


# The id names the assignment: conftest.scope_of sends the test to the
# process that grades that assignment's class (not a second grading).
@pytest.mark.parametrize(
    "name, trick",
    MORE_TRICK_CASES,
    ids=[f"{name}-{t[0]}" for name, t in MORE_TRICK_CASES],
)
def test_more_applied_tricks_earn_nothing(class_root, name, trick):
    student, test_cell, _, words = trick
    trick_earns_nothing(
        grade_class(name, class_root), student, test_cell, words
    )


def trick_earns_nothing(graded, student, test_cell, words):
    row = graded["rows"][student]
    assert row["status"] == "graded"
    assert float(row[test_cell]) == 0
    page = html.unescape((graded["feedback"] / f"{student}.html").read_text())
    assert words in page
    # the test cell's own output, before the last cell (the self-check,
    # whose source names every test)
    cells = page.split("check_my_work")[0]
    assert "visible tests passed" in cells.split(test_cell)[-1]


@pytest.mark.parametrize(
    "student, status",
    [
        ("endless_loop", "timeout"),
        ("kernel_killer", "kernel_died"),
        ("no_notebook", "missing"),
        ("wrong_name", "missing"),
        ("corrupt", "invalid_notebook"),
        ("empty", "invalid_notebook"),
    ],
)
def test_broken_submissions_get_their_status(graded_rnn, student, status):
    row = graded_rnn["rows"][student]
    assert row["status"] == status
    assert float(row["max_score"]) == max_score("rnn")
    assert (graded_rnn["feedback"] / f"{student}.html").exists()


def test_endless_loop_loses_the_looping_tests_only(graded_rnn):
    row = graded_rnn["rows"]["endless_loop"]
    assert float(row["test_rnn_forward"]) == 0
    assert float(row["test_rnn_step_forward"]) == 2


def test_sys_exit_is_graded_without_the_cell(graded_rnn):
    row = graded_rnn["rows"]["sys_exit"]
    assert row["status"] == "graded"
    assert float(row["test_rnn_forward"]) == 0
    assert float(row["test_rnn_step_forward"]) == 2


def test_feedback_never_shows_hidden_tests(graded):
    name = graded["name"]
    source = json.loads(
        (REPO / "solutions" / name / f"{name}.ipynb").read_text()
    )
    hidden = []
    for cell in source["cells"]:
        text = "".join(cell["source"])
        for block in re.findall(
            r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN", text, re.DOTALL
        ):
            hidden += [
                line.strip() for line in block.splitlines() if line.strip()
            ]
    assert hidden
    pages = list(graded["feedback"].glob("*.html"))
    assert len(pages) == len(graded["rows"])
    for page in pages:
        text = html.unescape(page.read_text())
        assert "HIDDEN TESTS" not in text
        assert "autograder" not in text, page.name
        for line in hidden:
            assert line not in text, (page.name, line)


@pytest.mark.slow
def test_whole_notebook_time_limit(tmp_path):
    subs = tmp_path / "submitted"
    slow = "import time\ntime.sleep(4)\n"
    make_submission(
        "rnn",
        subs / "slowpoke",
        replace={
            grade_id: slow + source
            for grade_id, source in solution_sources("rnn").items()
        },
    )
    out = tmp_path / "rnn.csv"
    result = run_grader("rnn", subs, out, "--timeout", "12", "--quiet")
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["status"] == "timeout"
    assert float(row["score"]) == 0


def test_unknown_assignment_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            "nosuch",
            str(tmp_path),
            "--out",
            str(tmp_path / "x.csv"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "unknown assignment 'nosuch'" in result.stderr
    assert "Traceback" not in result.stderr


def test_each_class_is_graded_by_one_process():
    """A test of an assignment's class (a test function with a ``name``
    argument) runs in that assignment's scope (conftest.scope_of): its
    id names the assignment, else a second process grades the whole
    class again. Read from pytest's own collection of this file,
    whatever this run selected."""
    import inspect

    from conftest import scope_of

    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
         "no:cacheprovider", "tests/test_grading.py"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    ).stdout.split()  # fmt: skip
    checked = 0
    for nodeid in listed:
        if not nodeid.startswith("tests/test_grading.py::"):
            continue
        function = globals()[nodeid.split("::")[1].partition("[")[0]]
        if "name" in inspect.signature(function).parameters:
            params = nodeid.rpartition("[")[2].rstrip("]").split("-")
            named = [n for n in course.assignments() if n in params]
            assert named, f"{nodeid}: its id names no assignment"
            assert scope_of(nodeid) == f"grading-{named[0]}", nodeid
            checked += 1
    assert checked > 20, listed[-20:]
