"""Hidden checks of the ``rnn`` assignment (vanilla RNN in numpy).

References are independent of any student-style solution: ``torch.nn.RNN``
in float64 for values, torch autograd for every gradient, and brute force
for the clipping. Hints come from the same references run on altered
graphs (a term removed, a step detached), so a message names the likely bug.
"""

import numpy as np
import torch

from autograder.checks import OwnForward, as_float64, close, compare_grads
from autograder.checks import backward_matches_own_forward, fail
from autograder.checks import hidden_states, max_error, recurrent_trial
from autograder.checks import shapes_text, unpack

# Shapes for the random trials: D != H somewhere so that a transposed
# weight cannot pass, N = 1 and T = 1 for the edge cases.
TRIAL_SHAPES = [  # (N, T, D, H)
    (2, 3, 4, 5),
    (1, 1, 3, 2),
    (4, 5, 2, 6),
    (3, 7, 5, 3),
]


def _inputs(N, T, D, H, seed):
    """The course library's seeded RNN inputs (x, h0, Wx, Wh, b), with
    weights of scale 0.6."""
    from seqbook.fixtures import random_rnn_inputs

    return random_rnn_inputs(N, T, D, H, seed=seed, scale=0.6)


def _tensor(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def _reference_rnn(
    x, h0, Wx, Wh, b, dh=None, nonlinearity="tanh", detach_recurrence=False
):
    """Hidden states (N, T, H) and, given dh, the gradients of sum(h * dh).

    ``nonlinearity`` "tanh" runs torch.nn.RNN; the other modes run a loop
    used only for hints: "identity_grad" keeps tanh's value but passes the
    gradient through unchanged (a forgotten tanh derivative), "none" drops
    tanh altogether. ``detach_recurrence`` cuts the gradient between steps.
    """
    N, T, D = x.shape
    H = Wh.shape[0]
    xt, h0t = _tensor(x), _tensor(h0)
    if nonlinearity == "tanh" and not detach_recurrence:
        rnn = torch.nn.RNN(D, H, batch_first=True).double()
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
            rnn.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
            rnn.bias_ih_l0.copy_(torch.from_numpy(b))
            rnn.bias_hh_l0.zero_()
        h, _ = rnn(xt, h0t[None])
        params = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0)
        transpose = True
    else:
        Wxt, Wht, bt = _tensor(Wx), _tensor(Wh), _tensor(b)
        states, prev = [], h0t
        for t in range(T):
            recurrent = prev.detach() if detach_recurrence and t else prev
            pre = xt[:, t] @ Wxt + recurrent @ Wht + bt
            if nonlinearity == "identity_grad":
                value = torch.tanh(pre).detach() + pre - pre.detach()
            elif nonlinearity == "none":
                value = pre
            else:
                value = torch.tanh(pre)
            states.append(value)
            prev = value
        h = torch.stack(states, dim=1)
        params = (Wxt, Wht, bt)
        transpose = False
    if dh is None:
        return h.detach().numpy()
    (h * torch.from_numpy(dh)).sum().backward()
    dWx, dWh, db = (p.grad.numpy() for p in params)
    if transpose:
        dWx, dWh = dWx.T, dWh.T
    grads = {
        "dx": xt.grad.numpy(),
        "dh0": h0t.grad.numpy(),
        "dWx": dWx,
        "dWh": dWh,
        "db": db,
    }
    return h.detach().numpy(), grads


# ---------------------------------------------------------------- forward


def _step_forward_hint(student, x, h, Wx, Wh, b, expected):
    """Name the likely bug of a wrong rnn_step_forward by isolating terms."""
    fn = "rnn_step_forward"

    def run(x_, h_, b_):
        out = unpack(student(x_, h_, Wx, Wh, b_), ("h_next", "cache"), fn)
        return np.asarray(out[0], dtype=np.float64)

    zero_x, zero_h, zero_b = (
        np.zeros_like(x),
        np.zeros_like(h),
        np.zeros_like(b),
    )
    try:
        only_b = run(zero_x, zero_h, b)
        only_x = run(x, zero_h, zero_b)
        only_h = run(zero_x, h, zero_b)
        got = run(x, h, b)
    except Exception as error:  # a crash on zeros is a bug in itself
        return f"it raised {type(error).__name__} when x, h_prev or b is zero."
    pre = x @ Wx + h @ Wh + b
    if close(got, pre):
        return "h_next is the pre-activation: apply tanh to it."
    if close(got, 1 / (1 + np.exp(-pre))):
        return "h_next uses a sigmoid; the vanilla RNN uses tanh."
    if close(got, np.maximum(pre, 0)):
        return "h_next uses ReLU; the vanilla RNN uses tanh."
    if close(only_b, 0) and not close(np.tanh(b) * np.ones_like(only_b), 0):
        return "h_next ignores the bias b."
    if close(only_x, 0):
        return "h_next ignores the input x (the term x @ Wx)."
    if close(only_h, 0):
        return "h_next ignores the previous hidden state h_prev (h_prev @ Wh)."
    if (
        Wh.shape[0] == Wh.shape[1]
        and close(only_h, np.tanh(h @ Wh.T))
        and not close(only_h, np.tanh(h @ Wh))
    ):
        return "the recurrent term uses Wh transposed: compute h_prev @ Wh."
    if close(got, np.tanh(x @ Wx + h @ Wh + 2 * b)):
        return "the bias b is added twice."
    if not close(only_x, np.tanh(x @ Wx)):
        return "the input term is wrong: it should be x @ Wx."
    if not close(only_h, np.tanh(h @ Wh)):
        return "the recurrent term is wrong: it should be h_prev @ Wh."
    return (
        "each term alone is right but the sum is not: h_next = "
        "tanh(x @ Wx + h_prev @ Wh + b)."
    )


def rnn_step_forward(student):
    """h_next equals torch.nn.RNN's output for one step, on random shapes."""
    fn = "rnn_step_forward"
    for i, (N, _, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, 1, D, H, seed=100 + i)
        x, h, Wx, Wh, b = p["x"][:, 0], p["h0"], p["Wx"], p["Wh"], p["b"]
        copies = [a.copy() for a in (x, h, Wx, Wh, b)]
        h_next, _ = unpack(student(*copies), ("h_next", "cache"), fn)
        h_next = as_float64(h_next, "h_next", fn, shape=(N, H))
        expected = _reference_rnn(p["x"], h, Wx, Wh, b)[:, 0]
        if not close(h_next, expected):
            hint = _step_forward_hint(student, x, h, Wx, Wh, b, expected)
            fail(
                f"{fn} is wrong for {shapes_text(x=x, h_prev=h, Wx=Wx)} "
                f"(largest error {max_error(h_next, expected):.3g}): {hint}"
            )


def rnn_forward(student):
    """All hidden states equal torch.nn.RNN's output, on random shapes."""
    fn = "rnn_forward"
    for i, (N, T, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, T, D, H, seed=200 + i)
        args = [p[k].copy() for k in ("x", "h0", "Wx", "Wh", "b")]
        h = hidden_states(fn, student(*args), (N, T, H))
        expected = _reference_rnn(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
        if close(h, expected):
            continue
        wrong = [t for t in range(T) if not close(h[:, t], expected[:, t])]
        if T > 1 and close(h[:, 1:], expected[:, :-1]):
            hint = (
                "the states are shifted by one step: h[:, t] is h_t, "
                "after x_t."
            )
        elif T > 1 and close(h[:, ::-1], expected):
            hint = "the states come out in reverse time order."
        elif wrong[0] == 0:
            hint = "the very first state h_1 is already wrong."
        else:
            hint = (
                f"h_1 ... h_{wrong[0]} are right but h_{wrong[0] + 1} is "
                "not: is the new state fed back as h_prev at every step?"
            )
        fail(
            f"{fn} is wrong for "
            f"{shapes_text(x=p['x'], h0=p['h0'], Wx=p['Wx'])} (largest error "
            f"{max_error(h, expected):.3g}): {hint}"
        )


# --------------------------------------------------------------- backward

GRAD_NAMES = ("dx", "dh0", "dWx", "dWh", "db")


def _compare_grads(fn, got, expected, variants, context, step=False):
    labels = {"dh0": "dh_prev"} if step else {}
    compare_grads(fn, got, expected, context, variants, labels)


def rnn_step_backward(student_forward, student_backward):
    """Every gradient of one step equals torch autograd's, on random shapes."""
    fn = "rnn_step_backward"
    for i, (N, _, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, 1, D, H, seed=300 + i)
        x, h, Wx, Wh, b = p["x"][:, 0], p["h0"], p["Wx"], p["Wh"], p["b"]
        dnext = np.random.default_rng(400 + i).normal(size=(N, H))
        _, cache = unpack(
            student_forward(
                x.copy(), h.copy(), Wx.copy(), Wh.copy(), b.copy()
            ),
            ("h_next", "cache"),
            "rnn_step_forward",
        )
        result = unpack(
            student_backward(dnext.copy(), cache),
            ("dx", "dh_prev", "dWx", "dWh", "db"),
            fn,
        )
        shapes = [(N, D), (N, H), (D, H), (H, H), (H,)]
        names = ("dx", "dh_prev", "dWx", "dWh", "db")
        arrays = [
            as_float64(v, n, fn, s) for v, n, s in zip(result, names, shapes)
        ]
        got = dict(zip(GRAD_NAMES, arrays))
        args = (p["x"], h, Wx, Wh, b, dnext[:, None])
        _, expected = _reference_rnn(*args)
        _, no_tanh = _reference_rnn(*args, nonlinearity="identity_grad")
        expected["dx"] = expected["dx"][:, 0]
        no_tanh["dx"] = no_tanh["dx"][:, 0]
        variants = [
            (
                "the derivative of tanh is missing: multiply the upstream "
                "gradient by (1 - h_next**2) first",
                no_tanh,
            )
        ]
        _compare_grads(
            fn,
            got,
            expected,
            variants,
            shapes_text(x=x, h_prev=h, Wx=Wx),
            step=True,
        )
    _own_forward(fn, student_forward, student_backward, step=True)


def _own_forward(fn, forward, backward, step):
    """The gradients agree with the numerical gradient of the student's
    own forward pass, on small sizes (as the visible test asserts)."""
    args, up = recurrent_trial(_inputs, ("Wx", "Wh", "b"), step)
    name = "rnn_step_forward" if step else "rnn_forward"
    spec = OwnForward(fn, name, ("h", "cache"), GRAD_NAMES)
    backward_matches_own_forward(spec, forward, backward, args, [up])


def rnn_backward(student_forward, student_backward):
    """BPTT gradients equal torch autograd's with upstream on every state."""
    fn = "rnn_backward"
    for i, (N, T, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, T, D, H, seed=500 + i)
        dh = np.random.default_rng(600 + i).normal(size=(N, T, H))
        args = [p[k].copy() for k in ("x", "h0", "Wx", "Wh", "b")]
        _, cache = unpack(
            student_forward(*args), ("h", "cache"), "rnn_forward"
        )
        result = unpack(student_backward(dh.copy(), cache), GRAD_NAMES, fn)
        shapes = [(N, T, D), (N, H), (D, H), (H, H), (H,)]
        arrays = [
            as_float64(v, n, fn, s)
            for v, n, s in zip(result, GRAD_NAMES, shapes)
        ]
        got = dict(zip(GRAD_NAMES, arrays))
        ref_args = (p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
        _, expected = _reference_rnn(*ref_args, dh=dh)
        last_only = dh.copy()
        last_only[:, :-1] = 0
        variants = [
            (
                "only the upstream gradient of the last state is used; dh "
                "holds "
                "a gradient for every state h_t, add dh[:, t] at each step",
                _reference_rnn(*ref_args, dh=last_only)[1],
            ),
            (
                "the gradient does not flow back through time: carry dh_prev "
                "of step t into step t - 1",
                _reference_rnn(*ref_args, dh=dh, detach_recurrence=True)[1],
            ),
            (
                "the derivative of tanh is missing",
                _reference_rnn(*ref_args, dh=dh, nonlinearity="identity_grad")[
                    1
                ],
            ),
        ]
        _compare_grads(
            fn,
            got,
            expected,
            variants,
            shapes_text(x=p["x"], h0=p["h0"], Wx=p["Wx"]),
        )
    _own_forward(fn, student_forward, student_backward, step=False)


# ------------------------------------------------------------------- loss


def _reference_loss(scores, y, mask):
    s = torch.tensor(scores, dtype=torch.float64, requires_grad=True)
    N, T, V = scores.shape
    per_position = torch.nn.functional.cross_entropy(
        s.reshape(N * T, V), torch.from_numpy(y.reshape(-1)), reduction="none"
    )
    loss = (per_position * torch.from_numpy(mask.reshape(-1))).sum() / N
    loss.backward()
    return float(loss.detach()), s.grad.numpy()


def temporal_softmax_loss(student):
    """Loss and dscores equal torch's cross-entropy and autograd."""
    fn = "temporal_softmax_loss"
    trials = [(2, 3, 4), (1, 1, 2), (4, 6, 7), (3, 5, 10)]
    for i, (N, T, V) in enumerate(trials):
        rng = np.random.default_rng(700 + i)
        scores = rng.normal(size=(N, T, V))
        y = rng.integers(0, V, size=(N, T))
        mask = rng.random((N, T)) < 0.6
        mask[0, 0] = True
        mask[-1, -1] = False if T > 1 else True
        if i == 3:
            scores = scores * 1000.0  # a naive exp overflows here
        result = unpack(
            student(scores.copy(), y.copy(), mask.copy()),
            ("loss", "dscores"),
            fn,
        )
        loss = _scalar_loss(fn, result[0], scores)
        dscores = as_float64(result[1], "dscores", fn, shape=(N, T, V))
        ref_loss, ref_d = _reference_loss(scores, y, mask)
        kept = int(mask.sum())
        context = f"scores {(N, T, V)} with {kept} of {N * T} positions kept"
        if not close(loss, ref_loss):
            hint = _loss_hint(loss, ref_loss, (scores, y, mask))
            fail(
                f"{fn}: loss is {float(loss):.6g}, expected {ref_loss:.6g} "
                f"for {context}: {hint}."
            )
        if not close(dscores, ref_d):
            hint = _dscores_hint(dscores, ref_d, mask)
            fail(
                f"{fn}: dscores is wrong for {context} (largest error "
                f"{max_error(dscores, ref_d):.3g}): {hint}."
            )


def _scalar_loss(fn, value, scores):
    """The returned loss as a finite float64 scalar."""
    loss = (
        np.asarray(value, dtype=np.float64)
        if np.isscalar(value) or np.ndim(value) == 0
        else None
    )
    if loss is None:
        fail(f"{fn}: loss should be a scalar, got shape {np.shape(value)}.")
    if not np.isfinite(loss):
        fail(
            f"{fn}: the loss is {float(loss)} for scores of size up to "
            f"{np.abs(scores).max():.0f}: subtract the row maximum before "
            "exponentiating (a numerically stable softmax)."
        )
    return loss


def _loss_hint(loss, ref_loss, inputs):
    scores, y, mask = inputs
    N, T = mask.shape
    kept = int(mask.sum())
    everything = _reference_loss(scores, y, np.ones_like(mask))[0]
    if close(loss, everything):
        return "masked positions are counted: use only mask == True"
    if close(loss, ref_loss * N / kept):
        return "it divides by the number of kept positions; divide by N"
    if close(loss, ref_loss * N):
        return "it sums without dividing by N"
    if close(loss, ref_loss * N / (N * T)):
        return "it divides by N * T; divide by N"
    return (
        "the loss is -log softmax(scores)[y] summed over kept positions, / N"
    )


def _dscores_hint(dscores, ref_d, mask):
    N = mask.shape[0]
    if np.any(np.abs(dscores[~mask]) > 1e-12):
        return "dscores is not zero at masked positions"
    if close(dscores, ref_d * N):
        return "dscores is missing the factor 1 / N"
    if close(dscores, -ref_d):
        return "dscores has the wrong sign (softmax minus one-hot)"
    return (
        "dscores should be (softmax(scores) - onehot(y)) / N at kept positions"
    )


# --------------------------------------------------------------- clipping


def clip_grad_norm(student):
    """Global-norm clipping equals brute force; inputs stay untouched."""
    fn = "clip_grad_norm"
    rng = np.random.default_rng(800)
    for trial in range(6):
        grads = {
            "Wx": rng.normal(size=(3, 4)),
            "Wh": rng.normal(size=(4, 4)) * 3,
            "b": rng.normal(size=(4,)),
        }
        if trial == 5:
            grads["W_extra"] = rng.normal(size=(2, 2, 2))
        total = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
        # Above and below the global norm, never equal to it.
        max_norm = total * (0.37, 2.5, 0.05, 1.3, 0.8, 0.5)[trial]
        originals = {k: v.copy() for k, v in grads.items()}
        inputs = dict(grads)
        result = student(inputs, max_norm)
        for k in grads:
            if not np.array_equal(grads[k], originals[k]):
                fail(
                    f"{fn} modified the input array {k!r} in place; return "
                    "scaled copies instead."
                )
        if set(inputs) != set(originals):
            fail(f"{fn} modified the input dict; return a new one.")
        if not isinstance(result, dict):
            fail(f"{fn} should return a dict, got {type(result).__name__}.")
        if set(result) != set(grads):
            fail(
                f"{fn} returned keys {sorted(result)}, expected "
                f"{sorted(grads)}."
            )
        scale = min(1.0, max_norm / total)
        context = f"global norm {total:.4g} and max_norm {max_norm:.4g}"
        for k, g in originals.items():
            got = as_float64(result[k], k, fn, shape=g.shape)
            if close(got, g * scale):
                continue
            own = np.sqrt(np.sum(g * g))
            if close(got, g * min(1.0, max_norm / own)):
                hint = (
                    "each array is clipped by its own norm; use the one "
                    "global norm over all arrays"
                )
            elif scale == 1.0:
                hint = "the norm is below max_norm, so nothing should change"
            elif close(
                got,
                g
                * max_norm
                / np.sum([np.sum(np.abs(v)) for v in originals.values()]),
            ):
                hint = "the norm should be the L2 norm, not the L1 norm"
            else:
                hint = "scale every array by max_norm / global_norm"
            fail(f"{fn}: {k!r} is wrong for {context}: {hint}.")


# -------------------------------------------------------- applied part


def _reference_scores(params, ids):
    """Scores (len(ids), V) after each character, by a torch forward pass."""
    p = {
        k: torch.as_tensor(np.asarray(v, dtype=np.float64))
        for k, v in params.items()
    }
    V = p["Wx"].shape[0]
    h = torch.zeros(p["Wh"].shape[0], dtype=torch.float64)
    out = []
    for token in ids:
        x = torch.nn.functional.one_hot(torch.tensor(int(token)), V).double()
        h = torch.tanh(x @ p["Wx"] + h @ p["Wh"] + p["b"])
        out.append(h @ p["Wy"] + p["by"])
    return torch.stack(out).numpy()


def _softmax(scores):
    e = np.exp(scores - scores.max())
    return e / e.sum()


def _course_data():
    """The notebook's vocabulary and validation text, rebuilt here from the
    course's corpus: the grader trusts none of the notebook's objects."""
    from seqbook.data import CharVocab, load_corpus

    text = load_corpus("simple_sentences")
    vocab = CharVocab(text, sort=True)
    return vocab, vocab.encode(text[int(0.9 * len(text)) :])


def _samples_greedily(fn, student, params, vocabs, start):
    """At a temperature near 0, the most likely character every time."""
    vocab, notebook_vocab = vocabs
    out = student(
        {k: v.copy() for k, v in params.items()},
        notebook_vocab,
        start,
        12,
        temperature=1e-3,
        rng=np.random.default_rng(0),
    )
    if (
        not isinstance(out, str)
        or not out.startswith(start)
        or len(out) != len(start) + 12
    ):
        fail(
            f"{fn} should return start plus 12 characters as a str, got "
            f"{out!r}."
        )
    greedy = list(vocab.encode(start))
    for _ in range(12):
        greedy.append(int(np.argmax(_reference_scores(params, greedy)[-1])))
    if out != vocab.decode(greedy):
        fail(
            f"{fn} at a temperature near 0 should always pick the most "
            f"likely character: expected {vocab.decode(greedy)!r}, got "
            f"{out!r}. Is the hidden state carried from the start text "
            "and from each generated character?"
        )


def sample_chars(student, notebook_vocab):
    """Samples follow softmax(scores / temperature) given the start text.
    The student's function gets the notebook's vocabulary; everything the
    grader computes or reads back uses its own."""
    fn = "sample_chars"
    vocab, _ = _course_data()
    V, H = len(vocab), 8
    rng = np.random.default_rng(900)
    params = {
        "Wx": rng.normal(scale=1.0, size=(V, H)),
        "Wh": rng.normal(scale=0.5, size=(H, H)),
        "b": rng.normal(scale=0.3, size=(H,)),
        "Wy": rng.normal(scale=1.5, size=(H, V)),
        "by": rng.normal(scale=0.5, size=(V,)),
    }
    start = vocab.decode([3, 1, 4 % V])
    _samples_greedily(fn, student, params, (vocab, notebook_vocab), start)
    n = 4000  # one long sample per temperature: one call, not n
    for temperature in (0.5, 2.0):
        text = student(
            {k: v.copy() for k, v in params.items()},
            notebook_vocab,
            start,
            n,
            temperature=temperature,
            rng=np.random.default_rng(7),
        )
        if (
            not isinstance(text, str)
            or len(text) != len(start) + n
            or not text.startswith(start)
            or not set(text) <= set(vocab.chars)
        ):
            fail(
                f"{fn} should return start plus {n} characters of the "
                f"vocabulary, got a {type(text).__name__} of length "
                f"{len(text) if isinstance(text, str) else '?'}."
            )
        _sampled_like_softmax(fn, params, vocab, start, text, temperature)


def _sampled_like_softmax(fn, params, vocab, start, text, temperature):
    """Each generated character should be drawn from softmax(scores / T)
    given everything before it. Along the path the student's sampler
    took, the grader knows each step's distribution p_t; two statistics
    with known mean and variance under correct sampling: how often each
    character came (sum of p_t(c) expected), and the log-probability of
    what came (a wrong temperature shifts it)."""
    ids = vocab.encode(text)
    scores = _reference_scores(params, ids[:-1])[len(start) - 1 :]
    drawn = np.asarray(ids[len(start) :])
    logits = scores / temperature
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    p = np.exp(log_p)  # (n, V): the distribution of each step
    n = len(drawn)
    counts = np.bincount(drawn, minlength=p.shape[1])
    expected = p.sum(axis=0)
    spread = np.sqrt((p * (1 - p)).sum(axis=0))
    bound = 5 * spread + 0.01 * n
    if np.any(np.abs(counts - expected) > bound):
        worst = int(np.argmax(np.abs(counts - expected) - bound))
        fail(
            f"{fn} at temperature {temperature}: character "
            f"{vocab.decode([worst])!r} came {counts[worst] / n:.3f} of the "
            f"time in {n} characters, expected {expected[worst] / n:.3f}: "
            "sample from softmax(scores / temperature) with the given rng."
        )
    got = log_p[np.arange(n), drawn].sum()
    mean = (p * log_p).sum()
    variance = (
        (p * log_p**2).sum(axis=1) - (p * log_p).sum(axis=1) ** 2
    ).sum()
    z = (got - mean) / np.sqrt(max(variance, 1e-12))
    if abs(z) > 5:
        fail(
            f"{fn} at temperature {temperature}: the characters it drew are "
            f"{'more' if z > 0 else 'less'} likely than samples would be "
            "(is the temperature applied as scores / temperature?): sample "
            "from softmax(scores / temperature) with the given rng."
        )


def char_model_trained(params, threshold):
    """The trained parameters reach the loss bound on the validation text,
    both rebuilt by the grader and measured by torch."""
    vocab, val_ids = _course_data()
    V = len(vocab)
    if not isinstance(params, dict):
        fail("params should be the dict of trained parameters.")
    expected = {
        "Wx": (V, None),
        "Wh": (None, None),
        "b": (None,),
        "Wy": (None, V),
        "by": (V,),
    }
    for name, shape in expected.items():
        value = params.get(name)
        if (
            not isinstance(value, np.ndarray)
            or value.ndim != len(shape)
            or any(
                s is not None and s != d for s, d in zip(shape, value.shape)
            )
        ):
            fail(f"params[{name!r}] is missing or has the wrong shape.")
        if not np.all(np.isfinite(value)):
            fail(f"params[{name!r}] holds NaN or infinite values.")
    ids = np.asarray(val_ids)
    scores = _reference_scores(params, ids[:-1])
    log_probs = scores - scores.max(axis=1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(axis=1, keepdims=True))
    loss = -float(np.mean(log_probs[np.arange(len(ids) - 1), ids[1:]]))
    if not loss < threshold:
        fail(
            f"the trained model's validation loss, measured independently, "
            f"is {loss:.3f} nats per character; it should be below "
            f"{threshold}."
        )
