"""The hidden checks of `rnn`, run directly (without nbgrader) on the
reference solution and on every mutant: fast, and they say which message a
mutant gets. The same mutants go through the real grader in
test_grading.py."""

import numpy as np
import pytest

from autograder.checks import CheckFailure
from autograder.checks import rnn as checks
from mutants_rnn import MUTANTS
from seqbook.data import CharVocab, load_corpus
from submissions import solution_sources


def load_functions(replace=None):
    namespace = {"np": np}
    exec("from seqbook.data import one_hot", namespace)
    for grade_id, source in solution_sources("rnn").items():
        exec((replace or {}).get(grade_id, source), namespace)
    return namespace


VOCAB = CharVocab(load_corpus("simple_sentences"), sort=True)

RUNNERS = {
    "test_rnn_step_forward": lambda f: checks.rnn_step_forward(
        f["rnn_step_forward"]
    ),
    "test_rnn_step_backward": lambda f: checks.rnn_step_backward(
        f["rnn_step_forward"], f["rnn_step_backward"]
    ),
    "test_rnn_forward": lambda f: checks.rnn_forward(f["rnn_forward"]),
    "test_rnn_backward": lambda f: checks.rnn_backward(
        f["rnn_forward"], f["rnn_backward"]
    ),
    "test_temporal_softmax_loss": lambda f: checks.temporal_softmax_loss(
        f["temporal_softmax_loss"]
    ),
    "test_clip_grad_norm": lambda f: checks.clip_grad_norm(
        f["clip_grad_norm"]
    ),
    "test_sample_chars": lambda f: checks.sample_chars(
        f["sample_chars"], VOCAB
    ),
}


@pytest.mark.parametrize("test_cell", sorted(RUNNERS))
def test_reference_solution_passes(test_cell):
    RUNNERS[test_cell](load_functions())


def mutant_functions(grade_id, old, new):
    source = solution_sources("rnn")[grade_id]
    assert old in source, f"mutant does not apply: {old!r}"
    return load_functions({grade_id: source.replace(old, new)})


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutant_fails_with_a_diagnosis(mutant):
    _, grade_id, old, new, test_cell, words = mutant
    functions = mutant_functions(grade_id, old, new)
    with pytest.raises(CheckFailure) as error:
        RUNNERS[test_cell](functions)
    assert words in str(error.value)


def test_alternative_correct_implementations_pass():
    """Correct code written differently from the reference gets through."""
    alternative = {
        # rnn_forward that never calls rnn_step_forward; a list-based cache.
        "rnn_forward": (
            "def rnn_forward(x, h0, Wx, Wh, b):\n"
            "    states = [h0]\n"
            "    for t in range(x.shape[1]):\n"
            "        states.append(np.tanh(x[:, t] @ Wx + states[-1] @ Wh + b))\n"
            "    return np.stack(states[1:], axis=1), (x, states, Wx, Wh)\n"
        ),
        "rnn_backward": (
            "def rnn_backward(dh, cache):\n"
            "    x, states, Wx, Wh = cache\n"
            "    dx = np.zeros_like(x); dWx = np.zeros_like(Wx)\n"
            "    dWh = np.zeros_like(Wh); db = np.zeros(Wh.shape[0])\n"
            "    carry = np.zeros_like(states[0])\n"
            "    for t in range(x.shape[1] - 1, -1, -1):\n"
            "        g = (dh[:, t] + carry) * (1 - states[t + 1] ** 2)\n"
            "        dx[:, t] = g @ Wx.T\n"
            "        dWx += np.einsum('nd,nh->dh', x[:, t], g)\n"
            "        dWh += np.einsum('nk,nh->kh', states[t], g)\n"
            "        db += g.sum(0)\n"
            "        carry = g @ Wh.T\n"
            "    return dx, carry, dWx, dWh, db\n"
        ),
    }
    alternative["temporal_softmax_loss"] = (
        "def temporal_softmax_loss(scores, y, mask):\n"
        "    N, T, V = scores.shape\n"
        "    flat = scores.reshape(-1, V)\n"
        "    m = flat.max(1, keepdims=True)\n"
        "    lse = m[:, 0] + np.log(np.exp(flat - m).sum(1))\n"
        "    rows = np.arange(N * T)\n"
        "    keep = mask.reshape(-1)\n"
        "    loss = np.sum((lse - flat[rows, y.reshape(-1)])[keep]) / N\n"
        "    p = np.exp(flat - lse[:, None])\n"
        "    p[rows, y.reshape(-1)] -= 1\n"
        "    p[~keep] = 0\n"
        "    return float(loss), (p / N).reshape(N, T, V)\n"
    )
    alternative["clip_grad_norm"] = (
        "def clip_grad_norm(grads, max_norm):\n"
        "    norm = np.linalg.norm(np.concatenate([g.ravel() for g in grads.values()]))\n"
        "    if norm <= max_norm:\n"
        "        return {k: v.copy() for k, v in grads.items()}\n"
        "    return {k: v * (max_norm / norm) for k, v in grads.items()}\n"
    )
    functions = load_functions(alternative)
    for run in RUNNERS.values():
        run(functions)
