"""Hidden checks of the ``attention`` assignment (scores, masked softmax,
context).

References are the formulas written with ``torch.einsum`` on random shapes
(every dimension different, so a transposed operand cannot pass), a
softmax over the kept positions only for the masked softmax, and autograd
for its gradient.
"""

import torch

from autograder.checks import fail
from autograder.checks.seq2seq import trained_exact_match


def _randn(g, *shape, scale=1.0):
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def _check(fn, got, expected, name, context, hint=None):
    if not isinstance(got, torch.Tensor):
        fail(f"{fn} should return a torch.Tensor, got {type(got).__name__}.")
    if tuple(got.shape) != tuple(expected.shape):
        fail(
            f"{fn}: {name} has shape {tuple(got.shape)}, expected "
            f"{tuple(expected.shape)} for {context}."
        )
    if got.dtype != expected.dtype:
        fail(
            f"{fn}: {name} is {got.dtype} for {expected.dtype} inputs; "
            "work in the dtype you are given."
        )
    if torch.isnan(got).any():
        fail(f"{fn}: {name} contains NaN for {context}.")
    if not torch.allclose(got, expected, rtol=1e-6, atol=1e-9):
        err = float((got - expected).abs().max())
        extra = hint(got) if hint else None
        fail(
            f"{fn}: {name} is wrong for {context} (largest error "
            f"{err:.3g})" + (f": {extra}." if extra else ".")
        )


SHAPES = [(2, 3, 4), (1, 1, 3), (3, 5, 2), (4, 7, 6)]  # (N, S, H)


def dot_score(student):
    """scores[n, s] = query[n] . keys[n, s], random shapes."""
    fn = "dot_score"
    for k, (N, S, H) in enumerate(SHAPES):
        g = torch.Generator().manual_seed(k)
        q, keys = _randn(g, N, H), _randn(g, N, S, H)
        expected = torch.einsum("nh,nsh->ns", q, keys)
        _check(
            fn,
            student(q.clone(), keys.clone()),
            expected,
            "scores",
            f"query ({N}, {H}), keys ({N}, {S}, {H})",
        )


def general_score(student):
    """scores[n, s] = query[n] @ W @ keys[n, s], W not symmetric."""
    fn = "general_score"
    for k, (N, S, H) in enumerate(SHAPES):
        g = torch.Generator().manual_seed(10 + k)
        q, keys, W = _randn(g, N, H), _randn(g, N, S, H), _randn(g, H, H)
        expected = torch.einsum("nh,hk,nsk->ns", q, W, keys)

        def hint(got, q=q, keys=keys, W=W):
            if torch.allclose(got, torch.einsum("nh,kh,nsk->ns", q, W, keys)):
                return "W is transposed: the score is query @ W @ key"
            if torch.allclose(got, torch.einsum("nh,nsh->ns", q, keys)):
                return "W is not used: that is the dot score"
            return None

        _check(
            fn,
            student(q.clone(), keys.clone(), W.clone()),
            expected,
            "scores",
            f"query ({N}, {H}), keys ({N}, {S}, {H})",
            hint,
        )


def additive_score(student):
    """scores[n, s] = v . tanh(query[n] @ W_q + keys[n, s] @ W_k), with
    query, key and attention sizes all different."""
    fn = "additive_score"
    for k, (N, S, Hq, Hk, A) in enumerate(
        [(2, 3, 4, 5, 6), (1, 1, 2, 3, 4), (3, 6, 5, 2, 3), (4, 4, 3, 7, 5)]
    ):
        g = torch.Generator().manual_seed(20 + k)
        q, keys = _randn(g, N, Hq), _randn(g, N, S, Hk)
        W_q, W_k, v = _randn(g, Hq, A), _randn(g, Hk, A), _randn(g, A)
        inner = (q @ W_q)[:, None, :] + keys @ W_k  # (N, S, A)
        expected = torch.tanh(inner) @ v

        def hint(got, inner=inner, v=v):
            if torch.allclose(got, inner @ v):
                return "tanh is missing: v . tanh(query W_q + key W_k)"
            if torch.allclose(got, torch.tanh(inner).sum(-1)):
                return "v is not used: project tanh(...) onto v"
            if torch.allclose(got, torch.tanh(inner @ v)):
                return "tanh goes inside, before the product with v"
            return None

        _check(
            fn,
            student(
                q.clone(), keys.clone(), W_q.clone(), W_k.clone(), v.clone()
            ),
            expected,
            "scores",
            f"query ({N}, {Hq}), keys ({N}, {S}, {Hk}), attention size {A}",
            hint,
        )


def _reference_softmax(scores, mask):
    """Softmax over the kept positions; zeros elsewhere and on rows with
    nothing kept. Written without -inf so the gradient is clean."""
    shifted = (
        scores
        - scores.masked_fill(~mask, -1e300)
        .amax(-1, keepdim=True)
        .clamp(min=-1e300)
        .detach()
    )
    shifted = torch.where(mask, shifted, torch.zeros_like(shifted))
    e = torch.exp(shifted) * mask
    total = e.sum(-1, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))


def masked_softmax(student):
    """Rows sum to 1 over kept positions, masked positions exactly 0, fully
    masked rows all 0 with no NaN (values and gradients), large scores."""
    fn = "masked_softmax"
    for k, shape in enumerate([(3, 5), (1, 1), (2, 3, 4), (4, 6), (2, 2, 7)]):
        g = torch.Generator().manual_seed(30 + k)
        scale = 1000.0 if k == 3 else 2.0  # naive exp overflows at k = 3
        scores = _randn(g, *shape, scale=scale)
        mask = torch.rand(*shape, generator=g) < 0.6
        flat = mask.reshape(-1, shape[-1])
        flat[0] = True
        if flat.shape[0] > 1:
            flat[-1] = False  # a fully masked row
        mask = flat.reshape(shape)
        mine_in = scores.clone().requires_grad_()
        got = student(mine_in, mask.clone())
        context = f"scores {tuple(shape)}"
        _softmax_values(fn, got, scores, mask, context)
        ref_in = scores.clone().requires_grad_()
        expected = _reference_softmax(ref_in, mask)
        if not torch.allclose(
            got.detach(), expected.detach(), rtol=1e-6, atol=1e-9
        ):
            sums = got.detach().sum(-1)
            kept = mask.any(-1)
            if not torch.allclose(sums[kept], torch.ones_like(sums[kept])):
                hint = "rows with a True position must sum to 1"
            else:
                hint = "softmax over the last dimension, kept positions only"
            fail(f"{fn} is wrong for {context}: {hint}.")
        upstream = _randn(g, *shape)
        (got * upstream).sum().backward()
        (expected * upstream).sum().backward()
        _softmax_gradient(fn, mine_in.grad, ref_in.grad, context)


def _softmax_values(fn, got, scores, mask, context):
    """Weights shaped like the scores, no NaN, masked positions 0."""
    shape = tuple(scores.shape)
    if not isinstance(got, torch.Tensor) or got.shape != scores.shape:
        fail(
            f"{fn} should return weights shaped like scores "
            f"{shape}, got {getattr(got, 'shape', type(got))}."
        )
    if torch.isnan(got).any():
        empty = (~mask).all(-1)
        if empty.any() and torch.isnan(got[empty]).any():
            fail(
                f"{fn} gives NaN on a row with no True position "
                f"({context}): such a row must be all zeros."
            )
        fail(
            f"{fn} gives NaN for {context} with scores up to "
            f"{float(scores.abs().max()):.0f}: subtract the row "
            "maximum before exponentiating."
        )
    if (got[~mask] != 0).any():
        fail(
            f"{fn}: masked positions must get exactly 0 ({context}); "
            "they got up to "
            f"{got.detach()[~mask].abs().max().item():.3g}."
        )


def _softmax_gradient(fn, got, expected, context):
    if got is None or torch.isnan(got).any():
        fail(
            f"{fn}: the gradient with respect to the scores has NaN "
            f"({context}); a fully masked row must not produce NaN "
            "gradients either (avoid 0/0 and -inf - -inf)."
        )
    if not torch.allclose(got, expected, rtol=1e-6, atol=1e-9):
        fail(
            f"{fn}: the gradient with respect to the scores is wrong "
            f"({context}); compute the weights with differentiable "
            "torch operations."
        )


def attention_context(student):
    """context[n] = sum_s weights[n, s] * values[n, s], random shapes."""
    fn = "attention_context"
    for k, (N, S, Dv) in enumerate(
        [(2, 3, 5), (1, 1, 2), (3, 6, 4), (4, 2, 7)]
    ):
        g = torch.Generator().manual_seed(40 + k)
        weights = torch.softmax(_randn(g, N, S), -1)
        values = _randn(g, N, S, Dv)
        expected = torch.einsum("ns,nsd->nd", weights, values)
        _check(
            fn,
            student(weights.clone(), values.clone()),
            expected,
            "context",
            f"weights ({N}, {S}), values ({N}, {S}, {Dv})",
        )


# --------------------------------------------------------------- applied


def long_inputs_translated(model, min_words, threshold, count=150):
    """Exact match of the trained weights on long test numbers, decoded
    greedily by the grader with its own attention."""

    def long_ones(test):
        return [p for p in test if len(p[0].split()) >= min_words][:count]

    pairs, accuracy = trained_exact_match(model, True, long_ones)
    if not accuracy >= threshold:
        fail(
            f"on {len(pairs)} test numbers of at least {min_words} words "
            f"the attention model's exact match is {accuracy:.3f}; it "
            f"should be at least {threshold}."
        )
