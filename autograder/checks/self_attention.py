"""Hidden checks of the ``self_attention`` assignment.

References: ``torch.nn.functional.scaled_dot_product_attention``,
``torch.nn.MultiheadAttention``, ``torch.nn.TransformerEncoderLayer`` and
``torch.nn.TransformerDecoderLayer`` (dropout 0, batch_first) after
``load_state_dict``, autograd for every gradient, brute-force loops for the
masks, the formula in float64 for the positional encoding, and the
attention formula written with ``einsum`` for query rows with no position
to attend to (where torch gives NaN and the contract asks for zeros). Shapes
are random and every dimension differs, so a transposed operand or a
swapped argument cannot pass.

The notebook's whole Transformer is compared with the same architecture
made of torch's layers (``TorchTransformer``), which is also the grader's
copy of the trained translator: the applied check loads the trained weights
into it, decodes the grader's own test numbers greedily with it, and asks
the student's model for the same logits.
"""

import math

import numpy as np
import torch

from autograder.checks import CheckFailure, fail
from autograder.checks import torch_modules as tm
from autograder.checks.attention import _reference_softmax

SDPA = "scaled dot-product attention"
MHA = "multi-head attention"


def _randn(g, *shape, scale=1.0):
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def _close(a, b, rtol=1e-6, atol=1e-9):
    return a.shape == b.shape and torch.allclose(a, b, rtol=rtol, atol=atol)


def _full_mask(mask, shape):
    if mask is None:
        return torch.ones(shape, dtype=torch.bool)
    return torch.broadcast_to(mask, shape)


def _attention(q, k, v, mask, scale=None, inverted=False, dim=-1):
    """The formula, with variants used only to name a student's mistake."""
    d = q.shape[-1]
    scores = torch.einsum("...ld,...sd->...ls", q, k)
    scores = scores / (math.sqrt(d) if scale is None else scale)
    keep = _full_mask(mask, scores.shape)
    if inverted:
        keep = ~keep
    if dim == -1:
        weights = _reference_softmax(scores, keep)
    else:
        weights = _reference_softmax(
            scores.transpose(-2, -1), keep.transpose(-2, -1)
        ).transpose(-2, -1)
    return torch.einsum("...ls,...sv->...lv", weights, v), weights


def _factor(got, expected):
    """The constant c with got = c * expected, or None."""
    denominator = float((expected * expected).sum())
    if denominator == 0:
        return None
    c = float((got * expected).sum()) / denominator
    return c if _close(got, expected * c, rtol=1e-5, atol=1e-7) else None


# ----------------------------------------------- scaled dot-product attention

# (batch shape, L, S, d, dv, mask kind): every size different.
SDPA_CASES = [
    ((), 3, 5, 4, 6, None),
    ((2,), 4, 3, 5, 2, "square"),
    ((2, 3), 5, 4, 6, 3, "keys"),
    ((3,), 2, 6, 3, 4, "full"),
    ((2,), 4, 4, 16, 5, "empty_row"),
    ((2,), 3, 7, 8, 3, "large"),
]


def _sdpa_inputs(g, batch, L, S, d, dv, kind):
    scale = 12.0 if kind == "large" else 1.0
    q = _randn(g, *batch, L, d, scale=scale)
    k = _randn(g, *batch, S, d, scale=scale)
    v = _randn(g, *batch, S, dv)
    mask = None
    if kind == "square":  # one (L, S) mask broadcast over the batch
        mask = torch.rand(L, S, generator=g) < 0.6
        mask[:, 0] = True
    elif kind == "keys":  # a key-padding mask (N, 1, 1, S)
        lengths = torch.randint(1, S + 1, batch[:1], generator=g)
        lengths[0] = S - 1
        mask = (torch.arange(S)[None, :] < lengths[:, None])[:, None, None]
    elif kind in ("full", "empty_row", "large"):
        mask = torch.rand(*batch, L, S, generator=g) < 0.5
        mask[..., 0, :] = True
        if kind == "empty_row":
            mask[..., 1, :] = False  # a query with nothing to attend to
    return q, k, v, mask


def _sdpa_hint(q, k, v, mask, got_out, got_w):
    d, dv = q.shape[-1], v.shape[-1]
    out, weights = _attention(q, k, v, mask)
    variants = [
        (
            "the scores are not divided by sqrt(d_k): is the scaling missing?",
            {"scale": 1.0},
        ),
        ("the scores are divided by d instead of sqrt(d)", {"scale": d}),
        (
            "the scores are scaled by the value size dv; the scale is "
            "sqrt(d), d the size of queries and keys",
            {"scale": math.sqrt(dv)},
        ),
        (
            "the mask looks inverted: True means the query may attend to "
            "that key",
            {"inverted": True},
        ),
        (
            "the softmax runs over the queries; it must run over the keys "
            "(the last dimension)",
            {"dim": -2},
        ),
    ]
    for message, options in variants:
        if d == dv and options.get("scale") == math.sqrt(dv):
            continue
        alt_out, alt_w = _attention(q, k, v, mask, **options)
        if _close(got_out, alt_out) or _close(got_w, alt_w):
            return message
    c = _factor(got_out, out)
    if c is not None and c != 0:
        near = min(
            (abs(c - x), name)
            for x, name in [
                (math.sqrt(d), "sqrt(d)"),
                (1 / math.sqrt(d), "1/sqrt(d)"),
                (d, "d"),
                (1 / d, "1/d"),
            ]
        )
        if near[0] < 1e-3 * max(1.0, abs(c)):
            return (
                f"the output is off by a factor close to {near[1]}: is the "
                "scaling in the right place?"
            )
        return f"the output is off by a constant factor {c:.3g}"
    if _close(got_w, weights) and not _close(got_out, out):
        return "the weights are right; the output is weights @ v"
    return None


def scaled_dot_product_attention(student):
    """Output and weights equal the formula (and torch's function on rows
    with a True), every gradient equals autograd's, masks broadcast, large
    scores do not overflow, rows with nothing to attend to give zeros and no
    NaN, the dtype is kept, torch's own function is not what computes it."""
    fn = "scaled_dot_product_attention"
    for seed, case in enumerate(SDPA_CASES):
        _sdpa_case(student, fn, seed, case)
    # float32 stays float32.
    g = torch.Generator().manual_seed(99)
    q, key, v, mask = _sdpa_inputs(g, (2,), 3, 4, 5, 2, "full")
    with tm.forbid(SDPA, fn):
        result = student(q.float(), key.float(), v.float(), mask)
    _sdpa_result(fn, result, ((2, 3, 2), (2, 3, 4)), torch.float32, "float32")


def _sdpa_result(fn, result, shapes, dtype, context):
    """(output, weights) of a returned tuple, type, shape and dtype
    checked; shapes: those of the output and of the weights."""
    if not isinstance(result, tuple) or len(result) != 2:
        fail(f"{fn} should return a tuple (output, weights).")
    return (
        tm.as_tensor(result[0], "output", fn, shapes[0], dtype, context),
        tm.as_tensor(result[1], "weights", fn, shapes[1], dtype, context),
    )


def _sdpa_case(student, fn, seed, case):
    """One case of SDPA_CASES: values, torch's function, gradients."""
    batch, L, S, d, dv, kind = case
    g = torch.Generator().manual_seed(seed)
    q, key, v, mask = _sdpa_inputs(g, batch, L, S, d, dv, kind)
    context = f"q {(*batch, L, d)}, k {(*batch, S, d)}, v {(*batch, S, dv)}, "
    context += (
        "mask=None" if mask is None else f"a mask of shape {tuple(mask.shape)}"
    )
    mine_in = [t.clone().requires_grad_() for t in (q, key, v)]
    args = mine_in + ([] if mask is None else [mask.clone()])
    with tm.forbid(SDPA, fn):
        result = student(*args)
    got = _sdpa_result(
        fn, result, ((*batch, L, dv), (*batch, L, S)), torch.float64, context
    )
    ref_in = [t.clone().requires_grad_() for t in (q, key, v)]
    want = _attention(*ref_in, mask)
    keep = _full_mask(mask, (*batch, L, S))
    _sdpa_values(fn, got, want, (q, key, v, mask), context)
    _sdpa_torch(fn, got[0], (q, key, v, mask), keep.any(-1), context)
    ups = [_randn(g, *want[0].shape), _randn(g, *want[1].shape)]
    sum((a * u).sum() for a, u in zip(got, ups)).backward()
    sum((b * u).sum() for b, u in zip(want, ups)).backward()
    _sdpa_gradients(fn, mine_in, ref_in, context)


def _sdpa_values(fn, got, want, inputs, context):
    """Output and weights equal the formula; masked weights are 0."""
    (got_out, got_w), (out, weights) = got, want
    got_out, got_w = got_out.detach(), got_w.detach()
    q, key, v, mask = inputs
    keep = _full_mask(mask, tuple(weights.shape))
    if not (_close(got_out, out.detach()) and _close(got_w, weights.detach())):
        which = "weights" if not _close(got_w, weights.detach()) else "output"
        hint = _sdpa_hint(q, key, v, mask, got_out, got_w)
        empty = ~keep.any(-1)
        if hint is None and empty.any():
            if _close(got_out[~empty], out.detach()[~empty]):
                hint = (
                    "a query row with no True in the mask must get zero "
                    "weights and a zero output"
                )
        fail(
            f"{fn}: the {which} is wrong for {context}"
            + (f": {hint}." if hint else ".")
        )
    if (got_w[~keep] != 0).any():
        fail(
            f"{fn}: weights of masked positions must be exactly 0 ({context})."
        )
    empty = ~keep.any(-1)
    if (got_out[empty] != 0).any():
        fail(
            f"{fn}: a query row with nothing to attend to must get an output "
            f"of exactly 0 ({context})."
        )


def _sdpa_torch(fn, got_out, inputs, rows, context):
    """Torch's own function agrees, on ``rows`` (those with a True)."""
    q, key, v, mask = inputs
    with torch.no_grad():
        torch_out = torch.nn.functional.scaled_dot_product_attention(
            q, key, v, attn_mask=mask
        )
    if not _close(got_out.detach()[rows], torch_out[rows]):
        fail(
            f"{fn}: the output differs from torch.nn.functional."
            f"scaled_dot_product_attention for {context}."
        )


def _sdpa_gradients(fn, mine_in, ref_in, context):
    for name, a, b in zip("qkv", mine_in, ref_in):
        if a.grad is None:
            fail(f"{fn}: no gradient reaches {name} ({context}).")
        if torch.isnan(a.grad).any():
            fail(
                f"{fn}: the gradient of {name} has NaN for {context}; "
                "avoid -inf - -inf and 0/0 on rows with nothing to "
                "attend to."
            )
        if not _close(a.grad, b.grad):
            fail(
                f"{fn}: the gradient of {name} is wrong for {context}; "
                "compute with differentiable torch operations."
            )


# ------------------------------------------------------------------ masks


def _bool_tensor(fn, value, shape, context):
    if not isinstance(value, torch.Tensor):
        fail(f"{fn} should return a torch.Tensor, got {type(value).__name__}.")
    if value.dtype != torch.bool:
        fail(f"{fn} should return a bool tensor, got {value.dtype}.")
    if tuple(value.shape) != tuple(shape):
        fail(
            f"{fn} returned shape {tuple(value.shape)}, expected "
            f"{tuple(shape)} for {context}."
        )
    return value


def causal_mask(student):
    """True on and below the diagonal, bool, (L, L), against loops."""
    fn = "causal_mask"
    for L in (1, 2, 3, 6, 9):
        expected = torch.tensor(
            [[j <= i for j in range(L)] for i in range(L)], dtype=torch.bool
        )
        got = _bool_tensor(fn, student(L), (L, L), f"L = {L}")
        if torch.equal(got, expected):
            continue
        if torch.equal(got, expected.T):
            hint = (
                "True is above the diagonal: row i is the query, and it may "
                "attend to keys j <= i"
            )
        elif torch.equal(got, expected & ~torch.eye(L, dtype=torch.bool)):
            hint = "the diagonal must be True: a position may attend to itself"
        elif torch.equal(got, ~expected):
            hint = "the mask is inverted: True means may attend"
        else:
            hint = "True where key j <= query i"
        fail(f"{fn} is wrong for L = {L}: {hint}.")


def padding_mask(student):
    """True where position < length, bool, (N, S), against loops; lengths
    0 and S included."""
    fn = "padding_mask"
    g = torch.Generator().manual_seed(7)
    for N, S in ((1, 1), (3, 5), (4, 2), (6, 7)):
        lengths = torch.randint(0, S + 1, (N,), generator=g)
        lengths[0] = S
        if N > 1:
            lengths[1] = 0
        expected = torch.tensor(
            [[s < int(n) for s in range(S)] for n in lengths],
            dtype=torch.bool,
        )
        context = f"lengths {lengths.tolist()}, S = {S}"
        got = _bool_tensor(fn, student(lengths.clone(), S), (N, S), context)
        if torch.equal(got, expected):
            continue
        if torch.equal(got, ~expected):
            hint = "the mask is inverted: True marks real tokens"
        elif torch.equal(
            got,
            torch.tensor(
                [[s <= int(n) for s in range(S)] for n in lengths],
                dtype=torch.bool,
            ),
        ):
            hint = "off by one: position s is real when s < length"
        else:
            hint = "True where the position is less than the length"
        fail(f"{fn} is wrong for {context}: {hint}.")


# ---------------------------------------------------- positional encoding


def _pe(max_len, d_model, layout="interleaved", exponent=2, swap=False):
    position = np.arange(max_len, dtype=np.float64)[:, None]
    i = np.arange(d_model // 2, dtype=np.float64)[None, :]
    angle = position / 10000.0 ** (exponent * i / d_model)
    first, second = np.sin(angle), np.cos(angle)
    if swap:
        first, second = second, first
    pe = np.zeros((max_len, d_model))
    if layout == "interleaved":
        pe[:, 0::2], pe[:, 1::2] = first, second
    else:
        pe[:, : d_model // 2], pe[:, d_model // 2 :] = first, second
    return pe


def sinusoidal_positional_encoding(student):
    """The formula in float64, for several sizes; default dtype; the
    familiar mistakes named."""
    fn = "sinusoidal_positional_encoding"
    dtype = torch.get_default_dtype()
    for max_len, d_model in ((1, 2), (7, 4), (40, 16), (64, 6), (23, 10)):
        context = f"max_len {max_len}, d_model {d_model}"
        got = student(max_len, d_model)
        tm.as_tensor(
            got, "the encoding", fn, (max_len, d_model), dtype, context
        )
        got = got.detach().double().numpy()
        expected = _pe(max_len, d_model)
        # Float32 rounding grows with the position; the first positions
        # are exact to 1e-5, as the visible test asserts.
        first = np.allclose(got[:5], expected[:5], rtol=1e-5, atol=1e-5)
        if first and np.allclose(got, expected, rtol=0, atol=2e-4):
            continue
        variants = [
            (
                "sin and cos are in two halves; they alternate: sin at even "
                "columns 2i, cos at odd columns 2i+1",
                _pe(max_len, d_model, layout="halves"),
            ),
            (
                "sin and cos are swapped: PE[p, 2i] is the sine",
                _pe(max_len, d_model, swap=True),
            ),
            (
                "the exponent uses i/d_model; it is 2i/d_model, 2i the even "
                "column index",
                _pe(max_len, d_model, exponent=1),
            ),
            (
                "the exponent uses the column index itself; columns 2i and "
                "2i+1 share the rate 1/10000^(2i/d_model)",
                _column_rate_pe(max_len, d_model),
            ),
        ]
        hint = (
            "PE[p, 2i] = sin(p / 10000^(2i/d_model)), PE[p, 2i+1] = cos(...)"
        )
        for message, alternative in variants:
            if np.allclose(got, alternative, rtol=0, atol=2e-4):
                hint = message
                break
        if max_len > 1 and not np.allclose(got[0], expected[0], atol=1e-6):
            hint += " (position 0 should be 0, 1, 0, 1, ...)"
        fail(
            f"{fn} is wrong for {context} (largest error "
            f"{np.abs(got - expected).max():.3g}): {hint}."
        )


def _column_rate_pe(max_len, d_model):
    position = np.arange(max_len, dtype=np.float64)[:, None]
    column = np.arange(d_model, dtype=np.float64)[None, :]
    angle = position / 10000.0 ** (column / d_model)
    pe = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, 1::2])
    return pe


# -------------------------------------------------------- multi-head attention

# (N, L, S, E, num_heads): every size different, one head and many.
MHA_SHAPES = [
    (2, 3, 5, 8, 2),
    (1, 1, 1, 4, 1),
    (3, 4, 4, 6, 3),
    (2, 5, 3, 12, 4),
]


def _mha_formula(state, num_heads, query, key, value, mask, variant=None):
    """Multi-head attention from a torch.nn.MultiheadAttention state_dict,
    zero output (before out_proj) for rows with nothing to attend to. The
    variants are mistakes, used only to name them."""
    W, b = state["in_proj_weight"], state["in_proj_bias"]
    order = {"kqv": (1, 0, 2), "qvk": (0, 2, 1)}.get(variant, (0, 1, 2))
    blocks = W.chunk(3), b.chunk(3)
    (Wq, Wk, Wv), (bq, bk, bv) = (
        [blocks[0][i] for i in order],
        [blocks[1][i] for i in order],
    )
    N, L, E = query.shape
    S = key.shape[1]
    h = num_heads

    def split(x, Wp, bp):
        y = x @ Wp.T + bp  # (N, len, E)
        if variant == "heads_interleaved":
            return y.reshape(N, -1, E // h, h).permute(0, 3, 1, 2)
        return y.reshape(N, -1, h, E // h).transpose(1, 2)  # (N, h, len, dk)

    qh, kh, vh = split(query, Wq, bq), split(key, Wk, bk), split(value, Wv, bv)
    keep = _full_mask(mask, (N, L, S))[:, None]
    scale = math.sqrt(E) if variant == "scale_E" else None
    out, weights = _attention(
        qh, kh, vh, keep, scale=scale, inverted=variant == "inverted"
    )
    if variant == "heads_interleaved":
        out = out.permute(0, 2, 3, 1).reshape(N, L, E)
    else:
        out = out.transpose(1, 2).reshape(N, L, E)
    if variant != "no_out_proj":
        out = out @ state["out_proj.weight"].T + state["out_proj.bias"]
    weights = weights.sum(1) if variant == "summed" else weights.mean(1)
    return out, weights


MHA_HINTS = [
    (
        "scale_E",
        "scale the scores by sqrt(E / num_heads), the size of one "
        "head, not sqrt(E)",
    ),
    (
        "kqv",
        "the query and key blocks of in_proj_weight are swapped; the "
        "order is q, k, v",
    ),
    (
        "qvk",
        "the key and value blocks of in_proj_weight are swapped; the "
        "order is q, k, v",
    ),
    ("inverted", "the mask looks inverted: True means may attend"),
    ("no_out_proj", "out_proj is not applied after concatenating the heads"),
    ("summed", "the weights are summed over heads; average them"),
    (
        "heads_interleaved",
        "the heads are split wrongly: head j holds "
        "columns j*E/h to (j+1)*E/h of the projection (reshape to (N, L, h, "
        "E/h), then move h forward)",
    ),
]


def _mha_hint(state, h, tensors, mask, mine):
    for variant, message in MHA_HINTS:
        with torch.no_grad():
            out, weights = _mha_formula(
                state,
                h,
                *_as_qkv([t.detach() for t in tensors]),
                mask,
                variant,
            )
        if _close(mine[0].detach(), out) or (
            variant == "summed" and _close(mine[1].detach(), weights)
        ):
            return message
    return None


def _torch_mask(mask, N, L, S, h):
    """The course's mask (True = may attend) as torch.nn.MultiheadAttention's
    attn_mask (True = may not), shape (N * num_heads, L, S)."""
    if mask is None:
        return None
    full = torch.broadcast_to(mask, (N, L, S))
    return (~full).repeat_interleave(h, dim=0)


def _mha_case(g, N, L, S, E, kind):
    """Inputs, call, outputs and a description for one trial."""
    x = _randn(g, N, L, E)
    if kind == "self":
        tensors, mask = [x], None
    else:
        tensors = [x, _randn(g, N, S, E), _randn(g, N, S, E)]
        if kind == "cross":
            mask = None
        elif kind == "keys":  # a padding mask (N, 1, S)
            lengths = torch.randint(1, S + 1, (N,), generator=g)
            mask = (torch.arange(S)[None, :] < lengths[:, None])[:, None, :]
        else:  # an (L, S) mask shared by the batch; every row keeps one
            mask = torch.rand(L, S, generator=g) < 0.5
            mask[torch.arange(L), torch.arange(L) % S] = True
    return tensors, mask


def _as_qkv(t):
    return (t[0], t[0], t[0]) if len(t) == 1 else tuple(t)


def _mha_trial(modules, g, shape, kind, k):
    """Student and torch on one kind of call (self, cross, with a padding
    or a square mask): outputs and every gradient."""
    module, reference, state = modules
    N, L, S, E, h = shape
    tensors, mask = _mha_case(g, N, L, S, E, kind)
    Lq, Sk = tensors[0].shape[1], _as_qkv(tensors)[1].shape[1]
    torch_mask = _torch_mask(mask, N, Lq, Sk, h)

    def call(mod, t):
        if isinstance(mod, torch.nn.MultiheadAttention):
            return mod(*_as_qkv(t), attn_mask=torch_mask)
        if mask is None:
            return mod(*_as_qkv(t))
        return mod(*_as_qkv(t), mask=mask.clone())

    def make_inputs():
        return [t.clone().requires_grad_() for t in tensors]

    def hint(mine):
        return _mha_hint(state, h, tensors, mask, mine)

    context = (
        f"embed_dim {E}, num_heads {h}, "
        + (
            "self-attention"
            if kind == "self"
            else f"query ({N}, {Lq}, {E}), key/value ({N}, {Sk}, {E})"
        )
        + ("" if mask is None else f", a mask of shape {tuple(mask.shape)}")
    )
    outputs = [
        ("output", (N, Lq, E), lambda r: r[0]),
        ("weights", (N, Lq, Sk), lambda r: r[1]),
    ]
    trial = tm.Trial(call, make_inputs, outputs, context, 500 + k, hint)
    tm.parity("MultiHeadAttention", (module, reference), MHA, trial)
    if mask is not None:
        keep = torch.broadcast_to(mask, (N, Lq, Sk))
        _masked_weights_zero(module, call, make_inputs(), keep, context)


def _masked_weights_zero(module, call, inputs, keep, context):
    """Keys the mask leaves out get exactly zero weight."""
    with tm.forbid(MHA, "MultiHeadAttention"):
        weights = call(module, inputs)[1]
    if (weights.detach()[~keep] != 0).any():
        fail(
            "MultiHeadAttention: positions the mask leaves out must get "
            f"exactly zero weight ({context})."
        )


def MultiHeadAttention(student_cls):
    """Parameters as torch.nn.MultiheadAttention; output, averaged weights
    and every gradient equal torch's after load_state_dict for self- and
    cross-attention, with and without masks; rows with nothing to attend to
    give zero weights and out_proj.bias; no torch multi-head attention
    inside; dtype kept."""
    fn = "MultiHeadAttention"
    for k, (N, L, S, E, h) in enumerate(MHA_SHAPES):
        torch.manual_seed(k)
        module = tm.build(student_cls, fn, E, h)
        tm.no_torch_submodule(module, MHA, fn)
        reference = tm.random_like_reference(
            torch.nn.MultiheadAttention(E, h, batch_first=True), 300 + k
        )
        tm.same_parameters(module, reference, fn)
        module, reference = module.double(), reference.double()
        state = {n: p.detach() for n, p in reference.state_dict().items()}
        g = torch.Generator().manual_seed(400 + k)
        for kind in ("self", "cross", "keys", "square"):
            _mha_trial((module, reference, state), g, (N, L, S, E, h), kind, k)
        _mha_empty_rows(module, state, h, g, N, L, S, E)
    module32 = tm.build(student_cls, fn, 6, 2)
    x = torch.randn(2, 3, 6)
    with tm.forbid(MHA, fn):
        result = module32(x, x, x)
    tm.as_tensor(result[0], "output", fn, (2, 3, 6), dtype=torch.float32)


def _mha_empty_rows(module, state, h, g, N, L, S, E):
    """A query row with no True gets zero weights and out_proj.bias."""
    fn = "MultiHeadAttention"
    tensors = [_randn(g, N, L, E), _randn(g, N, S, E), _randn(g, N, S, E)]
    mask = torch.rand(N, L, S, generator=g) < 0.5
    mask[:, :, 0] = True
    mask[0, L - 1] = False
    mine_in = [t.clone().requires_grad_() for t in tensors]
    with tm.forbid(MHA, fn):
        result = module(*mine_in, mask=mask.clone())
    context = (
        f"embed_dim {E}, num_heads {h}, a mask (N, L, S) = {(N, L, S)} "
        "with a query row that may attend to nothing"
    )
    out = tm.as_tensor(
        result[0], "output", fn, (N, L, E), torch.float64, context
    )
    weights = tm.as_tensor(
        result[1], "weights", fn, (N, L, S), torch.float64, context
    )
    ref_in = [t.clone().requires_grad_() for t in tensors]
    ref_out, ref_weights = _mha_formula(state, h, *ref_in, mask)
    if (weights[0, L - 1] != 0).any():
        fail(f"{fn}: that row's weights must be all zeros ({context}).")
    if not _close(out.detach(), ref_out.detach()):
        hint = ""
        if not _close(out[0, L - 1].detach(), state["out_proj.bias"]):
            hint = (
                ": that row's attention output is zero, so after out_proj "
                "it equals out_proj.bias"
            )
        fail(f"{fn}: the output is wrong for {context}{hint}.")
    if not _close(weights.detach(), ref_weights.detach()):
        fail(f"{fn}: the weights are wrong for {context}.")
    up = _randn(g, N, L, E)
    (out * up).sum().backward()
    (ref_out * up).sum().backward()
    for name, a, b in zip(("query", "key", "value"), mine_in, ref_in):
        if a.grad is None or torch.isnan(a.grad).any():
            fail(
                f"{fn}: the gradient of {name} is missing or NaN for "
                f"{context}."
            )
        if not _close(a.grad, b.grad):
            fail(f"{fn}: the gradient of {name} is wrong for {context}.")
    module.zero_grad()


# ---------------------------------------------------------- encoder layer

LAYER_SHAPES = [(2, 5, 8, 2, 12), (1, 1, 4, 1, 3), (3, 4, 6, 3, 10)]


def _layer_hint(reference, call, tensors, mine, d, h, ff):
    """Name the layer when the output matches a known different one."""
    state = reference.state_dict()
    tries = [
        (
            "that is the pre-norm layer (norm before each sub-layer); the "
            "contract's layer is post-norm: x = norm1(x + self_attn(x)), then "
            "x = norm2(x + linear2(relu(linear1(x))))",
            dict(norm_first=True),
        ),
        (
            "the feed-forward activation looks like GELU; use ReLU",
            dict(activation="gelu"),
        ),
    ]
    for message, options in tries:
        other = torch.nn.TransformerEncoderLayer(
            d, h, ff, dropout=0.0, batch_first=True, **options
        ).double()
        other.load_state_dict(state)
        with torch.no_grad():
            out = call(other, [t.detach() for t in tensors])
        if _close(mine[0].detach(), out):
            return message
    swapped = {
        k.replace("norm1", "tmp")
        .replace("norm2", "norm1")
        .replace("tmp", "norm2"): v
        for k, v in state.items()
    }
    other = torch.nn.TransformerEncoderLayer(
        d, h, ff, dropout=0.0, batch_first=True
    ).double()
    other.load_state_dict(swapped)
    with torch.no_grad():
        out = call(other, [t.detach() for t in tensors])
    if _close(mine[0].detach(), out):
        return "norm1 and norm2 are swapped"
    return (
        "check the residual connections (x + sub-layer(x)) and the order "
        "attention, add & norm1, feed-forward, add & norm2"
    )


def _uses_own_attention(layer, mha_cls, fn, name="self_attn"):
    attn = getattr(layer, name, None)
    if not isinstance(attn, mha_cls):
        kind = (
            tm.module_types(attn)[0].rsplit(".", 1)[-1]
            if isinstance(attn, torch.nn.Module)
            else type(attn).__name__
        )
        fail(f"{fn}.{name} should be your MultiHeadAttention, got {kind}.")


def _layer_trial(modules, g, shape, masked, k):
    """Student and torch layers on one input, with one kind of mask."""
    layer, reference = modules
    label, mask = masked
    N, L, d, h, ff = shape
    x = _randn(g, N, L, d)
    torch_mask = _torch_mask(mask, N, L, L, h)

    def call(mod, t):
        if isinstance(mod, torch.nn.TransformerEncoderLayer):
            return mod(t[0], src_mask=torch_mask)
        if mask is None:
            return mod(t[0])
        return mod(t[0], mask=mask.clone())

    def make_inputs():
        return [x.clone().requires_grad_()]

    def hint(mine):
        return _layer_hint(reference, call, [x], mine, d, h, ff)

    context = (
        f"d_model {d}, nhead {h}, dim_feedforward {ff}, x ({N}, {L}, {d}), "
        f"{label}"
    )
    outputs = [("output", (N, L, d), lambda r: r)]
    trial = tm.Trial(call, make_inputs, outputs, context, 800 + k, hint)
    tm.parity("TransformerEncoderLayer", modules, MHA, trial)


def TransformerEncoderLayer(student_cls, mha_cls):
    """Submodules and parameters as torch.nn.TransformerEncoderLayer
    (dropout 0, batch_first); self_attn is the notebook's own
    MultiHeadAttention; output and every gradient equal torch's after
    load_state_dict, without a mask, with a padding mask and with a causal
    mask; no torch multi-head attention inside; dtype kept."""
    fn = "TransformerEncoderLayer"
    for k, (N, L, d, h, ff) in enumerate(LAYER_SHAPES):
        torch.manual_seed(k)
        layer = tm.build(student_cls, fn, d, h, ff)
        _uses_own_attention(layer, mha_cls, fn)
        tm.no_torch_submodule(layer, MHA, fn)
        reference = torch.nn.TransformerEncoderLayer(
            d, h, ff, dropout=0.0, batch_first=True
        )
        reference = tm.random_like_reference(reference, 600 + k)
        tm.same_parameters(layer, reference, fn)
        layer, reference = layer.double(), reference.double()
        g = torch.Generator().manual_seed(700 + k)
        lengths = torch.randint(1, L + 1, (N,), generator=g)
        masks = {
            "no mask": None,
            "a padding mask (N, 1, L)": (
                torch.arange(L)[None, :] < lengths[:, None]
            )[:, None, :],
            "a causal mask (L, L)": torch.ones(L, L, dtype=torch.bool).tril(),
        }
        for label, mask in masks.items():
            modules = (layer, reference)
            _layer_trial(modules, g, (N, L, d, h, ff), (label, mask), k)
    layer32 = tm.build(student_cls, fn, 4, 2, 6)
    with tm.forbid(MHA, fn):
        out = layer32(torch.randn(2, 3, 4))
    tm.as_tensor(out, "output", fn, (2, 3, 4), dtype=torch.float32)


# ---------------------------------------------------------- decoder layer

# (N, L, S, d_model, nhead, dim_feedforward), every size different but in
# the first: there L == S, so that a layer that mixes up x and memory still
# runs and its mistake can be named.
DECODER_SHAPES = [
    (2, 4, 4, 8, 2, 12),
    (3, 3, 5, 6, 3, 10),
    (1, 1, 2, 4, 1, 3),
    (2, 5, 3, 12, 4, 7),
]
DECODER = "TransformerDecoderLayer"
DECODER_ORDER = (
    "masked self-attention, add & norm1, cross-attention (queries from x, "
    "keys and values from memory), add & norm2, feed-forward, add & norm3"
)


def _state_part(state, prefix):
    return {
        name[len(prefix) :]: value
        for name, value in state.items()
        if name.startswith(prefix)
    }


def _decoder_formula(state, h, x, memory, masks, variant=None):
    """The post-norm decoder layer from a torch.nn.TransformerDecoderLayer
    state_dict, with the contract's zero attention output for rows with
    nothing to attend to. The variants are mistakes, to name them."""
    tgt_mask, memory_mask = masks
    if variant == "masks_inverted":
        tgt_mask = None if tgt_mask is None else ~tgt_mask
        memory_mask = None if memory_mask is None else ~memory_mask
    tgt_mask = None if variant == "no_tgt_mask" else tgt_mask
    memory_mask = None if variant == "no_memory_mask" else memory_mask
    if variant == "masks_swapped":
        tgt_mask, memory_mask = memory_mask, tgt_mask
    F = torch.nn.functional

    def attend(prefix, q, k, v, mask):
        part = _state_part(state, prefix + ".")
        return _mha_formula(part, h, q, k, v, mask)[0]

    def norm(name, y):
        w, b = state[f"{name}.weight"], state[f"{name}.bias"]
        return F.layer_norm(y, y.shape[-1:], w, b)

    def feed_forward(y):
        hidden = F.linear(y, state["linear1.weight"], state["linear1.bias"])
        hidden = F.gelu(hidden) if variant == "gelu" else F.relu(hidden)
        return F.linear(hidden, state["linear2.weight"], state["linear2.bias"])

    cross_inputs = {
        "cross_kv_from_x": lambda y: (y, y, y),
        "cross_k_from_x": lambda y: (y, y, memory),
        "cross_v_from_x": lambda y: (y, memory, y),
        "cross_q_from_memory": lambda y: (memory, y, y),
    }.get(variant, lambda y: (y, memory, memory))

    def self_block(y):
        return attend("self_attn", y, y, y, tgt_mask)

    def cross_block(y):
        return attend("multihead_attn", *cross_inputs(y), memory_mask)

    if variant == "pre_norm":
        x = x + self_block(norm("norm1", x))
        x = x + cross_block(norm("norm2", x))
        return x + feed_forward(norm("norm3", x))
    blocks = [self_block, cross_block]
    if variant == "cross_first":
        blocks.reverse()
    x = norm("norm1", x + blocks[0](x))
    x = norm("norm2", x + blocks[1](x))
    return norm("norm3", x + feed_forward(x))


DECODER_HINTS = [
    (
        "pre_norm",
        "that is the pre-norm layer (norm before each sub-layer); "
        "the contract's layer is post-norm: x = norm(x + sub-layer(x))",
    ),
    (
        "cross_kv_from_x",
        "the cross-attention reads its keys and values from x instead of "
        "memory",
    ),
    (
        "cross_k_from_x",
        "the cross-attention reads its keys from x instead of memory",
    ),
    (
        "cross_v_from_x",
        "the cross-attention reads its values from x instead of memory",
    ),
    (
        "cross_q_from_memory",
        "the cross-attention takes its queries from memory and its keys "
        "and values from x; queries come from x, keys and values from "
        "memory",
    ),
    ("no_tgt_mask", "the target mask is not applied in self-attention"),
    ("no_memory_mask", "the memory mask is not applied in cross-attention"),
    (
        "masks_swapped",
        "tgt_mask and memory_mask are swapped: tgt_mask goes "
        "to the self-attention, memory_mask to the cross-attention",
    ),
    (
        "masks_inverted",
        "the masks look inverted: True means may attend "
        "(torch.nn.MultiheadAttention's masks mean the opposite)",
    ),
    ("cross_first", "the cross-attention comes before the self-attention"),
    ("gelu", "the feed-forward activation looks like GELU; use ReLU"),
]


def _renamed(state, mapping):
    """A state_dict whose submodules are renamed by ``mapping`` (a name
    mapped to None takes self_attn's weights)."""
    out = {}
    for name, value in state.items():
        head, dot, rest = name.partition(".")
        if mapping.get(head, head) is None:
            value = state[f"self_attn.{rest}"]
        out[(mapping.get(head) or head) + dot + rest] = value
    return out


def _swapped_modules():
    """(message, renaming) for submodules used in each other's place."""
    import itertools

    norms = ("norm1", "norm2", "norm3")
    tries = [
        (
            "self_attn and multihead_attn are swapped: self_attn is the "
            "masked self-attention, multihead_attn the cross-attention",
            {"self_attn": "multihead_attn", "multihead_attn": "self_attn"},
        ),
        (
            "the cross-attention uses self_attn; it is multihead_attn, "
            "with weights of its own",
            {"multihead_attn": None},
        ),
    ]
    for order in itertools.permutations(norms):
        moved = [(a, b) for a, b in zip(norms, order) if a != b]
        if len(moved) == 2:
            message = f"{moved[0][0]} and {moved[0][1]} are swapped"
        elif moved:
            message = (
                f"the norms are used in the order {', '.join(order)}; "
                "norm1 follows the self-attention, norm2 the "
                "cross-attention, norm3 the feed-forward block"
            )
        else:
            continue
        tries.append((message, dict(zip(order, norms))))
    return tries


def _decoder_hint(state, h, inputs, masks, mine):
    """Name the layer when the output matches a known different one."""
    x, memory = (t.detach() for t in inputs)
    state = {k: v.detach() for k, v in state.items()}
    got = mine[0].detach()
    tries = [(m, state, v) for v, m in DECODER_HINTS]
    tries += [(m, _renamed(state, r), None) for m, r in _swapped_modules()]
    for message, weights, variant in tries:
        try:
            with torch.no_grad():
                out = _decoder_formula(weights, h, x, memory, masks, variant)
        except RuntimeError:  # the variant does not fit these shapes
            continue
        if _close(got, out):
            return message
    return f"check the residual connections and the order: {DECODER_ORDER}"


class _ContractDecoderLayer(torch.nn.TransformerDecoderLayer):
    """torch's layer computed by the contract's formula, for masks with a
    query row that may attend to nothing (torch gives NaN there)."""

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        state = dict(self.named_parameters())
        h = self.self_attn.num_heads
        return _decoder_formula(state, h, x, memory, (tgt_mask, memory_mask))


def _decoder_masks(g, shape):
    """label -> (tgt_mask, memory_mask): every case of the contract."""
    N, L, S = shape[:3]
    lengths = torch.randint(1, S + 1, (N,), generator=g)
    lengths[0] = max(1, S - 1)
    padding = (torch.arange(S)[None, :] < lengths[:, None])[:, None, :]
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    tgt = torch.rand(N, L, L, generator=g) < 0.5
    tgt[:, torch.arange(L), torch.arange(L)] = True
    memory = torch.rand(L, S, generator=g) < 0.5
    memory[torch.arange(L), torch.arange(L) % S] = True
    return {
        "no masks": (None, None),
        "a causal target mask (L, L)": (causal, None),
        "a source padding mask (N, 1, S)": (None, padding),
        "a causal target mask and a source padding mask": (causal, padding),
        "a target mask (N, L, L) and a memory mask (L, S)": (tgt, memory),
    }


def _empty_row_masks(g, shape):
    """Masks (N, L, L) and (N, L, S) with a query row that may attend to
    nothing in each attention."""
    N, L, S = shape[:3]
    tgt = torch.ones(L, L, dtype=torch.bool).tril().repeat(N, 1, 1)
    memory = torch.rand(N, L, S, generator=g) < 0.5
    memory[..., 0] = True
    tgt[0, L - 1] = False
    memory[N - 1, 0] = False
    return tgt, memory


def _decoder_trial(modules, g, shape, masked, k):
    """Student and reference layers on one input, with one case of masks."""
    layer, reference = modules
    label, masks = masked
    N, L, S, d, h, ff = shape
    x, memory = _randn(g, N, L, d), _randn(g, N, S, d)
    contract = isinstance(reference, _ContractDecoderLayer)
    torch_masks = (
        _torch_mask(masks[0], N, L, L, h),
        _torch_mask(masks[1], N, L, S, h),
    )

    def call(mod, t):
        if mod is reference and not contract:
            tgt, mem = torch_masks
            return mod(t[0], t[1], tgt_mask=tgt, memory_mask=mem)
        if masks[0] is None and masks[1] is None:
            return mod(t[0], t[1])
        given = [m if m is None else m.clone() for m in masks]
        return mod(t[0], t[1], *given)

    def make_inputs():
        return [x.clone().requires_grad_(), memory.clone().requires_grad_()]

    def hint(mine):
        return _decoder_hint(
            reference.state_dict(), h, (x, memory), masks, mine
        )

    context = (
        f"d_model {d}, nhead {h}, dim_feedforward {ff}, x ({N}, {L}, {d}), "
        f"memory ({N}, {S}, {d}), {label}"
    )
    outputs = [("output", (N, L, d), lambda r: r)]
    trial = tm.Trial(call, make_inputs, outputs, context, 1100 + k, hint)
    tm.parity(DECODER, modules, MHA, trial)


def TransformerDecoderLayer(student_cls, mha_cls):
    """Submodules and parameters as torch.nn.TransformerDecoderLayer
    (dropout 0, batch_first); self_attn and multihead_attn are the
    notebook's own MultiHeadAttention; output and every gradient (x,
    memory, every parameter) equal torch's after load_state_dict without
    masks, with a causal target mask, a source padding mask, both, and
    general masks; rows with nothing to attend to follow the contract; no
    torch multi-head attention inside; dtype kept."""
    for k, shape in enumerate(DECODER_SHAPES):
        N, L, S, d, h, ff = shape
        torch.manual_seed(k)
        layer = tm.build(student_cls, DECODER, d, h, ff)
        for name in ("self_attn", "multihead_attn"):
            _uses_own_attention(layer, mha_cls, DECODER, name)
        tm.no_torch_submodule(layer, MHA, DECODER)
        reference = torch.nn.TransformerDecoderLayer(
            d, h, ff, dropout=0.0, batch_first=True
        )
        reference = tm.random_like_reference(reference, 900 + k)
        tm.same_parameters(layer, reference, DECODER)
        layer, reference = layer.double(), reference.double()
        g = torch.Generator().manual_seed(1000 + k)
        for masked in _decoder_masks(g, shape).items():
            _decoder_trial((layer, reference), g, shape, masked, k)
        contract = _ContractDecoderLayer(
            d, h, ff, dropout=0.0, batch_first=True
        ).double()
        contract.load_state_dict(reference.state_dict())
        label = "masks with a query row that may attend to nothing"
        masked = (label, _empty_row_masks(g, shape))
        _decoder_trial((layer, contract), g, shape, masked, k)
    layer32 = tm.build(student_cls, DECODER, 4, 2, 6)
    with tm.forbid(MHA, DECODER):
        out = layer32(torch.randn(2, 3, 4), torch.randn(2, 5, 4))
    tm.as_tensor(out, "output", DECODER, (2, 3, 4), dtype=torch.float32)


# --------------------------------------------------------- the Transformer

ARCHITECTURE = (
    "Transformer (embeddings, positional encoding, your encoder and "
    "decoder layers, linear read-out)"
)
ENCODER_KEYS = {
    f"{part}.{name}"
    for part, names in (
        ("self_attn", ("in_proj_weight", "in_proj_bias")),
        ("self_attn.out_proj", ("weight", "bias")),
        ("linear1", ("weight", "bias")),
        ("linear2", ("weight", "bias")),
        ("norm1", ("weight", "bias")),
        ("norm2", ("weight", "bias")),
    )
    for name in names
}
DECODER_KEYS = (
    ENCODER_KEYS
    | {k.replace("self_attn", "multihead_attn") for k in ENCODER_KEYS}
    | {"norm3.weight", "norm3.bias"}
)
TOP_KEYS = (
    "source_embedding.weight",
    "target_embedding.weight",
    "position",
    "output.weight",
    "output.bias",
)


def _transformer_key(name):
    """Is ``name`` a parameter or buffer of the notebook's Transformer?"""
    if name in TOP_KEYS:
        return True
    head, _, rest = name.partition(".")
    number, _, key = rest.partition(".")
    keys = {"encoder_layers": ENCODER_KEYS, "decoder_layers": DECODER_KEYS}
    return head in keys and number.isdigit() and key in keys[head]


class TorchTransformer(torch.nn.Module):
    """The notebook's Transformer made of torch's layers, with the
    notebook's names: the reference of the checks, and the grader's copy
    of a trained model. ``variant`` names a mistake, to recognise it.

    sizes: (source vocabulary, target vocabulary, d_model, nhead,
    dim_feedforward, (encoder layers, decoder layers), positions)."""

    def __init__(self, sizes, variant=None):
        super().__init__()
        Vs, Vt, d, h, ff, layers, max_len = sizes
        nn = torch.nn
        options = dict(dropout=0.0, batch_first=True)
        self.source_embedding = nn.Embedding(Vs, d)
        self.target_embedding = nn.Embedding(Vt, d)
        self.register_buffer("position", torch.zeros(max_len, d))
        self.encoder_layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d, h, ff, **options)
            for _ in range(layers[0])
        )
        self.decoder_layers = nn.ModuleList(
            nn.TransformerDecoderLayer(d, h, ff, **options)
            for _ in range(layers[1])
        )
        self.output = nn.Linear(d, Vt)
        self.sizes, self.variant = sizes, variant

    def embed(self, embedding, tokens, side):
        x = embedding(tokens)  # (N, length, E)
        if self.variant == "scaled_embeddings":
            x = x * math.sqrt(x.shape[-1])
        if self.variant != f"no_{side}_positions":
            x = x + self.position[: tokens.shape[1]]
        return x

    def encode(self, source, lengths):
        """Every encoder layer's output (the memory is the last), and
        the padded source positions (N, S) (torch's mask: True = ignore)."""
        padded = torch.arange(source.shape[1])[None, :] >= lengths[:, None]
        mask = None if self.variant == "no_encoder_mask" else padded
        x, outputs = self.embed(self.source_embedding, source, "source"), []
        for layer in self.encoder_layers:
            x = layer(x, src_key_padding_mask=mask)
            outputs.append(x)
        return outputs, padded

    def decode(self, target_in, outputs, padded):
        """Logits (N, T, V) of the next token at each position."""
        T = target_in.shape[1]
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        future = None if self.variant == "no_causal_mask" else future
        padded = None if self.variant == "no_memory_mask" else padded
        y = self.embed(self.target_embedding, target_in, "target")
        for k, layer in enumerate(self.decoder_layers):
            memory = outputs[-1]
            if self.variant == "layerwise_memory":
                memory = outputs[min(k, len(outputs) - 1)]
            y = layer(
                y, memory, tgt_mask=future, memory_key_padding_mask=padded
            )
        return self.output(y)  # (N, T, V)

    def forward(self, source, lengths, target_in):
        return self.decode(target_in, *self.encode(source, lengths))


TRANSFORMER_HINTS = [
    (
        "no_causal_mask",
        "the decoder's self-attention has no causal mask: in training each "
        "position would see the very token it must predict",
    ),
    (
        "no_memory_mask",
        "the decoder's cross-attention does not get the source padding mask",
    ),
    (
        "no_encoder_mask",
        "the encoder's self-attention does not get the source padding mask",
    ),
    (
        "no_source_positions",
        "the positional encoding is not added to the source embeddings",
    ),
    (
        "no_target_positions",
        "the positional encoding is not added to the target embeddings",
    ),
    (
        "scaled_embeddings",
        "the embeddings are multiplied by sqrt(d_model); here the "
        "positional encoding is added to the embeddings as they are",
    ),
    (
        "layerwise_memory",
        "decoder layer k reads encoder layer k's output; every decoder "
        "layer reads the memory, the encoder's last output",
    ),
]


def _transformer_hint(reference, inputs, mine):
    state = reference.state_dict()
    for variant, message in TRANSFORMER_HINTS:
        other = TorchTransformer(reference.sizes, variant).double()
        other.load_state_dict(state)
        with torch.no_grad():
            out = other(*inputs)
        if _close(mine[0].detach(), out):
            return message
    return (
        "x = embedding(tokens) + position[:length] on both sides; the "
        "encoder layers with the source padding mask; the decoder layers "
        "with causal_mask(T) and, for the memory, the same padding mask; "
        "then the read-out output"
    )


MHA_CLASS = "MultiHeadAttention"


def _holds_own_layers(model, classes, fn):
    """``model`` holds the notebook's own layers, and no torch attention."""
    for cls, name in zip(
        classes,
        ("TransformerEncoderLayer", "TransformerDecoderLayer", MHA_CLASS),
    ):
        if not any(isinstance(m, cls) for m in model.modules()):
            fail(f"{fn} must be built from your {name}.")
    tm.no_torch_submodule(model, MHA, fn)


def _torch_copy(state, heads, fn):
    """The notebook's architecture made of torch's layers, holding the
    weights ``state`` of the student's model."""
    for name in TOP_KEYS:
        if name not in state:
            fail(f"{fn} has no {name}; keep the notebook's {ARCHITECTURE}.")
    counts = []
    for part in ("encoder_layers", "decoder_layers"):
        prefix = part + "."
        found = {int(n.split(".")[1]) for n in state if n.startswith(prefix)}
        if not found or sorted(found) != list(range(len(found))):
            fail(
                f"{fn}'s {part} are missing; keep the notebook's "
                f"{ARCHITECTURE}."
            )
        counts.append(len(found))
    Vs, d = state["source_embedding.weight"].shape
    Vt = state["target_embedding.weight"].shape[0]
    ff = state["encoder_layers.0.linear1.weight"].shape[0]
    if not isinstance(heads, int) or heads < 1 or d % heads:
        fail(f"{fn}: each MultiHeadAttention should keep its num_heads.")
    sizes = (Vs, Vt, d, heads, ff, tuple(counts), state["position"].shape[0])
    return tm.load_into(TorchTransformer(sizes), state, fn, ARCHITECTURE)


# (source vocabulary, target vocabulary, d_model, nhead, num_layers), and
# (N, S, T) of the inputs
TRANSFORMER_CASES = [
    ((9, 7, 8, 2, 2), (3, 5, 4)),
    ((6, 11, 12, 3, 1), (4, 3, 6)),
]


def _transformer_inputs(g, sizes, shape):
    """Padded source ids (N, S), their lengths (N,) and target ids (N, T);
    no id is 0 (the padding) but the padding."""
    (Vs, Vt, *_), (N, S, T) = sizes, shape
    lengths = torch.randint(1, S + 1, (N,), generator=g)
    lengths[0], lengths[-1] = S, 1
    source = torch.randint(1, Vs, (N, S), generator=g)
    source[torch.arange(S)[None, :] >= lengths[:, None]] = 0
    target_in = torch.randint(1, Vt, (N, T), generator=g)
    return source, lengths, target_in


def Transformer(student_cls, encoder_cls, decoder_cls, mha_cls):
    """Made of the notebook's own layers; parameters and buffer as the
    notebook's; logits and every parameter's gradient equal those of the
    same architecture made of torch's layers after load_state_dict, on
    padded sources; no torch multi-head attention inside; dtype kept."""
    classes = (encoder_cls, decoder_cls, mha_cls)
    for k, case in enumerate(TRANSFORMER_CASES):
        _transformer_trial(student_cls, classes, k, case)
    _float32_logits(student_cls, "Transformer")


def _transformer_trial(student_cls, classes, k, case):
    """The student's Transformer and the torch copy, with the same random
    weights, on one padded batch: logits and every gradient."""
    fn = "Transformer"
    sizes, (N, S, T) = case
    torch.manual_seed(k)
    model = tm.build(student_cls, fn, *sizes)
    _holds_own_layers(model, classes, fn)
    state = tm.trained_state(model, fn, _transformer_key, ARCHITECTURE)
    reference = _torch_copy(state, sizes[3], fn)
    reference = tm.random_like_reference(reference, 1300 + k).train()
    with torch.no_grad():
        d, max_len = sizes[2], reference.position.shape[0]
        reference.position.copy_(torch.from_numpy(_pe(max_len, d)))
    tm.same_parameters(model, reference, fn)
    model, reference = model.double(), reference.double()
    g = torch.Generator().manual_seed(1400 + k)
    inputs = _transformer_inputs(g, sizes, (N, S, T))

    def call(module, _):
        return module(*(t.clone() for t in inputs))

    def hint(mine):
        return _transformer_hint(reference, inputs, mine)

    trial = tm.Trial(
        call,
        list,
        [("logits", (N, T, sizes[1]), lambda r: r)],
        f"d_model {sizes[2]}, nhead {sizes[3]}, num_layers {sizes[4]}, "
        f"source ({N}, {S}) with lengths {inputs[1].tolist()}, "
        f"target_in ({N}, {T})",
        seed=1500 + k,
        hint=hint,
    )
    tm.parity(fn, (model, reference), MHA, trial)


def _float32_logits(student_cls, fn):
    model = tm.build(student_cls, fn, 5, 6, 4, 2, 1)
    source, target_in = torch.tensor([[1, 2, 0]]), torch.tensor([[3, 4]])
    with tm.forbid(MHA, fn):
        logits = model(source, torch.tensor([2]), target_in)
    tm.as_tensor(logits, "logits", fn, (1, 2, 6), dtype=torch.float32)


# --------------------------------------------------------------- applied

# Longer than any target of the task (23 syllables and EOS).
MAX_TRANSLATION = 30


@torch.no_grad()
def greedy_translations(reference, task, sentences):
    """The grader's greedy decoding of ``sentences`` with the torch copy
    of a trained Transformer: BOS first, then the arg-max of the last
    position, until every sentence has emitted EOS."""
    source, lengths = map(torch.from_numpy, task.encode_source(sentences))
    outputs, padded = reference.encode(source, lengths)
    steps = min(MAX_TRANSLATION, reference.position.shape[0] - 1)
    tokens = torch.full((len(sentences), 1), task.bos_idx)  # (N, 1)
    finished = torch.zeros(len(sentences), dtype=torch.bool)
    for _ in range(steps):
        logits = reference.decode(tokens, outputs, padded)[:, -1]  # (N, V)
        following = logits.argmax(-1)
        tokens = torch.cat([tokens, following[:, None]], dim=1)
        finished |= following == task.eos_idx
        if finished.all():
            break
    return [task.decode_target(row) for row in tokens[:, 1:].tolist()]


def _teacher_forced_batch(model, task, pairs):
    """The grader's sentences as (source, lengths, target_in), the
    positions that hold a real target token (N, T), and the student's
    logits on them (padded sources, targets shifted right)."""
    source, lengths = task.encode_source([e for e, _ in pairs])
    target, _ = task.encode_target([k for _, k in pairs])
    source, lengths, target = map(torch.from_numpy, (source, lengths, target))
    inputs = (source, lengths, target[:, :-1])
    model.eval()
    with torch.no_grad(), tm.forbid(MHA, "model"):
        logits = model(*inputs)
    return inputs, target[:, 1:] != task.pad_idx, logits


def _agrees_with(reference, batch):
    """The student's model computed the torch copy's logits."""
    inputs, real, logits = batch
    with torch.no_grad():
        expected = reference(*inputs)
    if not isinstance(logits, torch.Tensor) or logits.shape != expected.shape:
        fail(
            "model(source, lengths, target_in) should return logits of "
            f"shape (N, T, V) = {tuple(expected.shape)}, got "
            f"{getattr(logits, 'shape', type(logits).__name__)}."
        )
    tm.agrees(
        "model",
        logits[real],
        expected[real],
        "the notebook's Transformer made of torch.nn.TransformerEncoderLayer "
        "and torch.nn.TransformerDecoderLayer",
        atol=1e-3,
    )


def _head_counts(model, d_model):
    """The model's own num_heads first, if it keeps one, then every
    divisor of d_model (a correct MultiHeadAttention may call it
    anything)."""
    try:
        heads = model.get_submodule("encoder_layers.0.self_attn").num_heads
    except Exception:  # no such module or attribute
        heads = None
    counts = [h for h in range(1, d_model + 1) if d_model % h == 0]
    if heads in counts:
        counts.remove(heads)
        counts.insert(0, heads)
    return counts


def _agreeing_copy(model, state, task, pairs):
    """The torch copy, with the number of heads with which it computes the
    student's logits; the failure for the model's own count if none."""
    batch = _teacher_forced_batch(model, task, pairs)
    first, d_model = None, state["source_embedding.weight"].shape[1]
    for heads in _head_counts(model, d_model):
        reference = _torch_copy(state, heads, "model")
        try:
            _agrees_with(reference, batch)
        except CheckFailure as error:
            first = first or error
            continue
        return reference
    raise first


def translator_trained(
    model, encoder_cls, decoder_cls, mha_cls, threshold, count=300
):
    """The trained weights, loaded into the notebook's Transformer made of
    torch's layers, translate the grader's own test numbers (the task
    rebuilt from seqbook), decoded greedily by the grader; the student's
    model, made of the notebook's own layers, computes the same logits."""
    from autograder.checks.seq2seq import course_task

    if not isinstance(model, torch.nn.Module):
        fail("model should be the trained torch.nn.Module.")
    classes = (encoder_cls, decoder_cls, mha_cls)
    _holds_own_layers(model, classes, "model")
    state = tm.trained_state(model, "model", _transformer_key, ARCHITECTURE)
    # one head always fits: the weights' shapes, whatever the heads
    reference = _torch_copy(state, 1, "model")
    task = course_task()
    vocabularies = (len(task.source_vocab), len(task.target_vocab))
    if reference.sizes[:2] != vocabularies:
        fail(
            "model's embeddings hold {} source and {} target tokens; the "
            "task's vocabularies have {} and {}: build the model with "
            "len(task.source_vocab) and len(task.target_vocab).".format(
                *reference.sizes[:2], *vocabularies
            )
        )
    pairs = task.test[:count]
    reference = _agreeing_copy(model, state, task, pairs[:64])
    translations = greedy_translations(reference, task, [e for e, _ in pairs])
    accuracy = float(
        np.mean([t == k for t, (_, k) in zip(translations, pairs)])
    )
    if not accuracy >= threshold:
        fail(
            f"on {len(pairs)} test numbers the Transformer's exact match "
            f"is {accuracy:.3f}; it should be at least {threshold}."
        )
