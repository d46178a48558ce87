"""Verdicts that are the judge's alone: fooling a visible test changes no
score.

On every assignment the real command grades a pair of submissions: the
same wrong code, once as is and once after a cell that makes the visible
tests agree with anything (numpy's and torch's comparisons rebound,
``np``, ``torch``, ``abs``, ``isinstance`` and the test helpers
``relative_error`` and ``numerical_gradient`` shadowed). The visible
tests then pass in the fooled kernel where they failed; the scores are
equal, cell by cell. The wrong code includes a wrong forward pass under
a right backward pass (the issue's example, gru: z and 1 - z swapped):
its visible test fails, the judge fails it too.

Training takes one step in both (the trained-model cells fail in both),
which keeps each notebook short.
"""

import html
import re

import pytest

from autograder import course
from autograder.notebooks import graded_cells
from grader_runs import rows_of, run_grader
from mutants import MUTANTS
from submissions import (
    ONE_STEP,
    REPO,
    code_cell,
    make_submission,
    solution_sources,
)

pytestmark = pytest.mark.slow

FOOL = r'''
# Everything a visible test compares with, made to agree.
import types

import numpy

numpy.allclose = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(
    numpy.broadcast(a, b).shape, bool
)
numpy.testing.assert_allclose = lambda *args, **kwargs: None


class Agreeable(types.ModuleType):
    """The module given, but for the names answered otherwise."""

    def __init__(self, module, **answers):
        super().__init__(module.__name__)
        self.__dict__.update(answers, _module=module)

    def __getattr__(self, name):
        return getattr(self._module, name)


np = Agreeable(numpy, abs=lambda x: numpy.zeros(numpy.shape(x)))
relative_error = lambda *args, **kwargs: 0.0
numerical_gradient = lambda f, x, *args, **kwargs: numpy.zeros_like(x)
abs = lambda x: 0
isinstance = lambda *args: True
try:
    import torch as real_torch
except ImportError:
    pass
else:
    real_torch.allclose = lambda *args, **kwargs: True
    real_torch.equal = lambda *args, **kwargs: True
    real_torch.testing.assert_close = lambda *args, **kwargs: None
    torch = Agreeable(
        real_torch,
        all=lambda *args, **kwargs: True,
        isclose=lambda a, b, *args, **kwargs: real_torch.ones(
            real_torch.broadcast_shapes(a.shape, b.shape), dtype=bool
        ),
        isnan=lambda x: real_torch.zeros(x.shape, dtype=bool),
    )
'''

# assignment -> the mutants (tests/mutants.py) that make its wrong code:
# a wrong forward pass under a right backward pass where there is one,
# a wrong function that another cell's visible test also calls.
WRONG = {
    "rnn": ["no_bias", "loss_divides_by_kept"],
    "lstm": ["no_forget", "cell_one_bias"],
    "gru": ["cho_update", "count_one_bias"],
    "seq2seq": ["greedy_one_too_many", "loss_sum"],
    "attention": ["dot_transposed", "softmax_then_mask"],
    "self_attention": [
        "causal_above_diagonal",
        "padding_off_by_one",
        "pe_sin_cos_swapped",
    ],
}
# The solution's backward passes under the wrong forward passes above:
# the judge fails them, as their visible tests do (numerically, against
# the student's own forward pass).
BEHIND_WRONG_FORWARD = {
    "rnn": ["test_rnn_step_backward", "test_rnn_backward"],
    "lstm": ["test_lstm_step_backward", "test_lstm_backward"],
    "gru": ["test_gru_step_backward", "test_gru_backward"],
}
# Right functions whose visible test also calls a wrong one: they score
# (the judge's check passes), whatever that visible test says.
BESIDE_WRONG_HELPER = {
    "seq2seq": ["test_beam_search"],
    "self_attention": [
        "test_MultiHeadAttention",
        "test_TransformerEncoderLayer",
    ],
}


# Run at the end of both notebooks: every visible test again (the test
# cells stop at their hidden check when the judge fails them), to show
# what the fooling does to them in the kernel.
RETRY = """
for grade_id, code in VISIBLE.items():
    try:
        exec(code, globals())
        outcome = "pass"
    except Exception:
        outcome = "fail"
    print("VISIBLE", grade_id + ":", outcome)
"""


def visible_tests(name):
    """The retry cell of assignment ``name``: grade_id -> the visible code
    of each test cell (as released), then :data:`RETRY`."""
    import json

    from autograder.notebooks import cell_text, nbgrader_meta

    release = REPO / "notebooks" / name / f"{name}.ipynb"
    cells = json.loads(release.read_text(encoding="utf-8"))["cells"]
    visible = {
        nbgrader_meta(c)["grade_id"]: cell_text(c)
        for c in cells
        if nbgrader_meta(c).get("grade")
    }
    return f"VISIBLE = {visible!r}\n" + RETRY


def passed(page):
    """How many visible tests passed when the notebook ran them again."""
    return len(re.findall(r"VISIBLE test_\w+: pass", page))


def wrong_code(name):
    """grade_id -> source of each solution cell the assignment's mutants
    change."""
    sources = dict(solution_sources(name))
    changed = {}
    for mutant, grade_id, old, new, *_ in MUTANTS[name]:
        if mutant in WRONG[name]:
            source = changed.get(grade_id, sources[grade_id])
            assert old in source, mutant
            changed[grade_id] = source.replace(old, new)
    assert len(changed) == len(WRONG[name])
    return changed


def with_cells(name, *sources):
    """An edit that puts code cells with ``sources`` after the set-up,
    and the retry of the visible tests at the end."""

    def edit(nb):
        ids = [
            c["metadata"].get("nbgrader", {}).get("grade_id")
            for c in nb["cells"]
        ]
        at = ids.index("setup") + 1
        for source in reversed(sources):
            nb["cells"].insert(at, code_cell(source))
        nb["cells"].append(code_cell(visible_tests(name)))

    return edit


def grade_pair(name, root):
    subs, out = root / name / "submitted", root / name / "grades.csv"
    wrong = wrong_code(name)
    make_submission(
        name, subs / "as_is", replace=wrong, edit=with_cells(name, ONE_STEP)
    )
    make_submission(
        name,
        subs / "fooled",
        replace=wrong,
        edit=with_cells(name, FOOL, ONE_STEP),
    )
    result = run_grader(name, subs, out, "--jobs", "2", "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = rows_of(out)
    pages = {
        student: html.unescape(
            (out.parent / "feedback" / name / f"{student}.html").read_text()
        )
        for student in rows
    }
    return rows, pages


_PAIRS = {}


@pytest.fixture(scope="module")
def pairs_root(tmp_path_factory):
    return tmp_path_factory.mktemp("verdicts")


def pair_of(name, root):
    """The pair of assignment ``name``, graded once: (rows, pages)."""
    if name not in _PAIRS:
        _PAIRS[name] = grade_pair(name, root)
    return _PAIRS[name]


@pytest.mark.parametrize("name", course.assignments())
def test_fooling_the_visible_tests_changes_no_score(pairs_root, name):
    rows, pages = pair_of(name, pairs_root)
    as_is, fooled = rows["as_is"], rows["fooled"]
    cells = [grade_id for grade_id, _ in graded_cells(name)]
    assert as_is["status"] == fooled["status"] == "graded"
    assert [fooled[c] for c in cells] == [as_is[c] for c in cells]
    assert fooled["score"] == as_is["score"]
    assert float(as_is["score"]) < float(as_is["max_score"])
    # The fooling worked where it runs: more visible tests passed there.
    assert passed(pages["fooled"]) > passed(pages["as_is"])


@pytest.mark.parametrize("name", sorted(BEHIND_WRONG_FORWARD))
def test_a_backward_pass_behind_a_wrong_forward_pass_fails(pairs_root, name):
    """The solution's backward pass, given the cache of a wrong forward
    pass, earns nothing; gru's (the issue's example) has the right
    gradients of the right function, and the judge fails it for what
    its visible test asserts: the gradient of the student's own forward
    pass."""
    rows, pages = pair_of(name, pairs_root)
    for cell in BEHIND_WRONG_FORWARD[name]:
        assert rows["as_is"][cell] == rows["fooled"][cell] == "0.0", cell
    if name == "gru":
        own = "does not match the numerical gradient of your own"
        assert own in pages["as_is"] and own in pages["fooled"]


@pytest.mark.parametrize("name", sorted(BESIDE_WRONG_HELPER))
def test_a_right_function_scores_whatever_its_visible_test_says(
    pairs_root, name
):
    rows, pages = pair_of(name, pairs_root)
    points = dict(graded_cells(name))
    for cell in BESIDE_WRONG_HELPER[name]:
        assert float(rows["as_is"][cell]) == points[cell], cell
        assert float(rows["fooled"][cell]) == points[cell], cell
    assert "the grader's own check of this cell passed" in pages["as_is"]
