"""Hidden checks of the ``gru`` assignment (PyTorch's form of the GRU).

References: ``torch.nn.GRUCell`` and ``torch.nn.GRU`` in float64 with the
student's weights loaded (blocks r, z, n; bx is bias_ih, bh is bias_hh),
torch autograd for every gradient, and the parameter count of the torch
modules themselves. Hints come from permuted gate blocks and from a torch
loop run with the other common conventions (the lecture notes' form, as in
Chung et al. 2014).
"""

import itertools

import numpy as np
import torch

from autograder.checks import OwnForward, as_float64, close, compare_grads
from autograder.checks import backward_matches_own_forward, fail
from autograder.checks import hidden_states, max_error, recurrent_trial
from autograder.checks import shapes_text, unpack
from autograder.checks import torch_modules as tm

GATES = "rzn"
TRIAL_SHAPES = [  # (N, T, D, H)
    (2, 3, 4, 5),
    (1, 1, 3, 2),
    (3, 4, 2, 3),
    (4, 6, 5, 4),
]


def _inputs(N, T, D, H, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=(N, T, D)),
        "h0": rng.normal(size=(N, H)),
        "Wx": rng.normal(scale=scale, size=(D, 3 * H)),
        "Wh": rng.normal(scale=scale, size=(H, 3 * H)),
        "bx": rng.normal(scale=scale, size=(3 * H,)),
        "bh": rng.normal(scale=scale, size=(3 * H,)),
    }


def _t(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def _reference(x, h0, Wx, Wh, bx, bh, dh=None, variant=None):
    """h (N, T, H) and, given dh, the gradients of sum(h * dh).

    variant None runs torch.nn.GRU; the others run a torch loop for hints:
    "z_swapped" (h' = z n + (1 - z) h), "reset_before" (r applied to h
    before the matmul), "bh_outside" (bh_n added outside r * (...)),
    "detach" (no gradient through time), "st_gates" (sigmoid derivatives
    dropped), "st_tanh" (tanh derivative dropped).
    """
    xt, h0t = _t(x), _t(h0)
    if variant is None:
        h, params = _torch_gru(xt, h0t, (Wx, Wh, bx, bh))
    else:
        params = tuple(_t(w) for w in (Wx, Wh, bx, bh))
        h = _gru_loop(xt, h0t, params, variant)
    if dh is None:
        return h.detach().numpy()
    (h * torch.from_numpy(dh)).sum().backward()
    dWx, dWh, dbx, dbh = (p.grad.numpy() for p in params)
    if variant is None:  # torch.nn.GRU holds the weights transposed
        dWx, dWh = dWx.T, dWh.T
    return h.detach().numpy(), {
        "dx": xt.grad.numpy(),
        "dh0": h0t.grad.numpy(),
        "dWx": dWx,
        "dWh": dWh,
        "dbx": dbx,
        "dbh": dbh,
    }


def _torch_gru(xt, h0t, weights):
    """h of torch.nn.GRU with the weights (Wx, Wh, bx, bh), and its
    parameters."""
    Wx, Wh, bx, bh = weights
    gru = torch.nn.GRU(Wx.shape[0], Wh.shape[0], batch_first=True).double()
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
        gru.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
        gru.bias_ih_l0.copy_(torch.from_numpy(bx))
        gru.bias_hh_l0.copy_(torch.from_numpy(bh))
    h, _ = gru(xt, h0t[None])
    params = (
        gru.weight_ih_l0,
        gru.weight_hh_l0,
        gru.bias_ih_l0,
        gru.bias_hh_l0,
    )
    return h, params


def _straight(f, v):
    """f(v), with the derivative of the identity."""
    return f(v).detach() + v - v.detach()


def _gru_loop(xt, h0t, params, variant):
    """h (N, T, H) of a torch loop, with the mistake ``variant``."""
    Wxt, Wht, bxt, bht = params
    H = Wht.shape[0]
    sig, tanh = torch.sigmoid, torch.tanh
    if variant == "st_gates":

        def sig(v):
            return _straight(torch.sigmoid, v)

    if variant == "st_tanh":

        def tanh(v):
            return _straight(torch.tanh, v)

    states, h = [], h0t
    for t in range(xt.shape[1]):
        hr = h.detach() if variant == "detach" and t else h
        ax = xt[:, t] @ Wxt + bxt
        ah = hr @ Wht + bht
        r = sig(ax[:, :H] + ah[:, :H])
        z = sig(ax[:, H : 2 * H] + ah[:, H : 2 * H])
        if variant == "reset_before":
            recurrent = (r * hr) @ Wht[:, 2 * H :] + bht[2 * H :]
        elif variant == "bh_outside":
            recurrent = r * (hr @ Wht[:, 2 * H :]) + bht[2 * H :]
        else:
            recurrent = r * ah[:, 2 * H :]
        n = tanh(ax[:, 2 * H :] + recurrent)
        if variant == "z_swapped":
            h = z * n + (1 - z) * hr
        else:
            h = (1 - z) * n + z * hr
        states.append(h)
    return torch.stack(states, dim=1)


def _permute(p, order):
    H = p["Wh"].shape[0]
    out = dict(p)
    for key in ("Wx", "Wh", "bx", "bh"):
        parts = [p[key][..., j * H : (j + 1) * H] for j in range(3)]
        out[key] = np.concatenate([parts[k] for k in order], axis=-1)
    return out


def _forward_hint(h, p):
    """Name the bug of a wrong forward from permutations and variants."""
    args = ("x", "h0", "Wx", "Wh", "bx", "bh")
    for order in itertools.permutations(range(3)):
        if order == (0, 1, 2):
            continue
        q = _permute(p, order)
        if close(h, _reference(*(q[a] for a in args))):
            seen = ["?"] * 3
            for gate, block in enumerate(order):
                seen[block] = GATES[gate]
            return (
                f"the gates look ordered {', '.join(seen)}; the "
                "contract's order is r, z, n"
            )
    for variant, message in [
        (
            "z_swapped",
            "z weights the old state in PyTorch's form: "
            "h_next = (1 - z) * n + z * h_prev (the lecture notes' form "
            "swaps them)",
        ),
        (
            "reset_before",
            "the reset gate multiplies (h_prev @ Wh_n + bh_n) "
            "after the matmul in PyTorch's form, not h_prev before it",
        ),
        (
            "bh_outside",
            "bh_n belongs inside the reset: "
            "n = tanh(x Wx_n + bx_n + r * (h_prev Wh_n + bh_n))",
        ),
    ]:
        if close(h, _reference(*(p[a] for a in args), variant=variant)):
            return message
    return None


def gru_step_forward(student):
    """h_next equals torch.nn.GRUCell's, on random shapes."""
    fn = "gru_step_forward"
    for k, (N, _, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, 1, D, H, seed=100 + k)
        x = p["x"][:, 0]
        args = [
            a.copy() for a in (x, p["h0"], p["Wx"], p["Wh"], p["bx"], p["bh"])
        ]
        h_next, _ = unpack(student(*args), ("h_next", "cache"), fn)
        h_next = as_float64(h_next, "h_next", fn, (N, H))
        ref = _reference(p["x"], p["h0"], p["Wx"], p["Wh"], p["bx"], p["bh"])[
            :, 0
        ]
        if close(h_next, ref):
            continue
        hint = _forward_hint(h_next[:, None], p) or (
            "check each gate: r, z = sigmoid, n = tanh, with the blocks "
            "r, z, n of x @ Wx + bx and h_prev @ Wh + bh"
        )
        fail(
            f"{fn} is wrong for {shapes_text(x=x, h_prev=p['h0'])} "
            f"(largest error {max_error(h_next, ref):.3g}): {hint}."
        )


def gru_forward(student):
    """All hidden states equal torch.nn.GRU's, on random shapes."""
    fn = "gru_forward"
    for k, (N, T, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, T, D, H, seed=200 + k)
        args = [p[a].copy() for a in ("x", "h0", "Wx", "Wh", "bx", "bh")]
        h = hidden_states(fn, student(*args), (N, T, H))
        ref = _reference(*(p[a] for a in ("x", "h0", "Wx", "Wh", "bx", "bh")))
        if close(h, ref):
            continue
        hint = _forward_hint(h, p)
        if not hint:
            wrong = [t for t in range(T) if not close(h[:, t], ref[:, t])]
            hint = (
                "the first state is already wrong"
                if wrong[0] == 0
                else f"h_1 ... h_{wrong[0]} are right but h_{wrong[0] + 1} is "
                "not: feed each new state back as h_prev"
            )
        fail(
            f"{fn} is wrong for {shapes_text(x=p['x'], h0=p['h0'])} "
            f"(largest error {max_error(h, ref):.3g}): {hint}."
        )


NAMES = ("dx", "dh0", "dWx", "dWh", "dbx", "dbh")


def _variants(grads):
    return [
        (
            "the sigmoid derivatives s * (1 - s) of r and z are missing",
            grads("st_gates"),
        ),
        ("the derivative of tanh for n is missing", grads("st_tanh")),
    ]


def _own_forward(fn, forward, backward, step):
    """The gradients agree with the numerical gradient of the student's
    own forward pass, on small sizes (as the visible test asserts)."""
    args, up = recurrent_trial(_inputs, ("Wx", "Wh", "bx", "bh"), step)
    name = "gru_step_forward" if step else "gru_forward"
    spec = OwnForward(fn, name, ("h", "cache"), NAMES)
    backward_matches_own_forward(spec, forward, backward, args, [up])


def gru_step_backward(student_forward, student_backward):
    """Every gradient of one step equals torch autograd's."""
    fn = "gru_step_backward"
    for k, (N, _, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, 1, D, H, seed=300 + k)
        dnext = np.random.default_rng(400 + k).normal(size=(N, H))
        args = [
            a.copy()
            for a in (
                p["x"][:, 0],
                p["h0"],
                p["Wx"],
                p["Wh"],
                p["bx"],
                p["bh"],
            )
        ]
        _, cache = unpack(
            student_forward(*args), ("h_next", "cache"), "gru_step_forward"
        )
        result = unpack(
            student_backward(dnext.copy(), cache),
            ("dx", "dh_prev", "dWx", "dWh", "dbx", "dbh"),
            fn,
        )
        shapes = [(N, D), (N, H), (D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,)]
        labels = {"dh0": "dh_prev"}
        got = {
            n: as_float64(v, labels.get(n, n), fn, s)
            for n, v, s in zip(NAMES, result, shapes)
        }

        def grads(variant=None, p=p, dnext=dnext):
            g = _reference(
                *(p[a] for a in ("x", "h0", "Wx", "Wh", "bx", "bh")),
                dh=dnext[:, None],
                variant=variant,
            )[1]
            g["dx"] = g["dx"][:, 0]
            return g

        compare_grads(
            fn,
            got,
            grads(),
            shapes_text(x=p["x"][:, 0], h_prev=p["h0"]),
            _variants(grads),
            labels,
        )
    _own_forward(fn, student_forward, student_backward, step=True)


def gru_backward(student_forward, student_backward):
    """BPTT gradients equal torch autograd's, upstream on every h_t."""
    fn = "gru_backward"
    for k, (N, T, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, T, D, H, seed=500 + k)
        dh = np.random.default_rng(600 + k).normal(size=(N, T, H))
        args = [p[a].copy() for a in ("x", "h0", "Wx", "Wh", "bx", "bh")]
        _, cache = unpack(
            student_forward(*args), ("h", "cache"), "gru_forward"
        )
        result = unpack(student_backward(dh.copy(), cache), NAMES, fn)
        shapes = [
            (N, T, D),
            (N, H),
            (D, 3 * H),
            (H, 3 * H),
            (3 * H,),
            (3 * H,),
        ]
        got = {
            n: as_float64(v, n, fn, s)
            for n, v, s in zip(NAMES, result, shapes)
        }
        ref_args = tuple(p[a] for a in ("x", "h0", "Wx", "Wh", "bx", "bh"))

        def grads(variant=None, upstream=None, ref_args=ref_args, dh=dh):
            up = dh if upstream is None else upstream
            return _reference(*ref_args, dh=up, variant=variant)[1]

        last = dh.copy()
        last[:, :-1] = 0
        variants = [
            (
                "only the upstream gradient of the last state is used; add "
                "dh[:, t] at every step",
                grads(upstream=last),
            ),
            (
                "the gradient does not flow back through time: carry dh_prev "
                "into step t - 1",
                grads("detach"),
            ),
        ] + _variants(grads)
        compare_grads(
            fn, got, grads(), shapes_text(x=p["x"], h0=p["h0"]), variants
        )
    _own_forward(fn, student_forward, student_backward, step=False)


# ----------------------------------------------------------- torch module


def GRUCell(student_cls):
    """Parameters as torch.nn.GRUCell; h and every gradient equal torch's
    after load_state_dict; no torch GRU inside; dtype kept."""
    fn = "GRUCell"
    for k, (N, _, D, H) in enumerate(TRIAL_SHAPES):
        torch.manual_seed(k)
        module = tm.build(student_cls, fn, D, H)
        tm.no_torch_submodule(module, "GRU", fn)
        reference = tm.random_like_reference(torch.nn.GRUCell(D, H), k)
        tm.same_parameters(module, reference, fn)
        module, reference = module.double(), reference.double()
        g = torch.Generator().manual_seed(100 + k)
        x = torch.randn(N, D, generator=g, dtype=torch.float64)
        h = torch.randn(N, H, generator=g, dtype=torch.float64)
        for tensors in ([x], [x, h]):

            def call(module, t):
                return module(*t)

            def hint(mine, tensors=tensors, call=call, reference=reference):
                found = tm.order_hint(
                    reference, call, tensors, mine, 3, GATES, "r, z, n"
                )
                if not found and len(tensors) == 1:
                    found = "h=None means the state starts at zeros"
                return found

            context = (
                f"x ({N}, {D}), hidden_size {H}, "
                f"{'a given h' if len(tensors) == 2 else 'h=None'}"
            )
            trial = tm.Trial(
                call,
                lambda tensors=tensors: [
                    t.clone().requires_grad_() for t in tensors
                ],
                [("h", (N, H), lambda r: r)],
                context,
                seed=200 + k,
                hint=hint,
            )
            tm.parity(fn, (module, reference), "GRU", trial)
        module32 = tm.build(student_cls, fn, D, H)
        with tm.forbid("GRU", fn):
            out = module32(x.float())
        tm.as_tensor(out, "h", fn, (N, H), dtype=torch.float32)


def count_parameters(student):
    """Equals the parameter count of the one-layer torch.nn module."""
    fn = "count_parameters"
    modules = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
    blocks = {"rnn": 1, "lstm": 4, "gru": 3}
    for cell_type, (D, H) in itertools.product(
        modules, [(3, 5), (10, 2), (1, 1), (64, 128)]
    ):
        expected = sum(
            p.numel() for p in modules[cell_type](D, H).parameters()
        )
        got = student(cell_type, D, H)
        if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
            fail(f"{fn} should return an int, got {type(got).__name__}.")
        if got == expected:
            continue
        k = blocks[cell_type]
        if got == k * (D * H + H * H + H):
            hint = (
                "PyTorch has two bias vectors, bias_ih and bias_hh, "
                "each of size blocks * H"
            )
        elif any(got == j * (D * H + H * H + 2 * H) for j in (1, 3, 4)):
            hint = (
                f"a one-layer {cell_type} has {k} block(s) of weights "
                "(rnn 1, gru 3: r, z, n, lstm 4: i, f, g, o)"
            )
        else:
            hint = (
                "count blocks * (input_size * hidden_size + "
                "hidden_size**2 + 2 * hidden_size)"
            )
        fail(
            f"{fn}({cell_type!r}, {D}, {H}) returned {got}, torch.nn."
            f"{modules[cell_type].__name__} has {expected}: {hint}."
        )


# --------------------------------------------------------------- applied


REVIEW_CLASSIFIER = [
    "embedding.weight",
    "cell.weight_ih",
    "cell.weight_hh",
    "cell.bias_ih",
    "cell.bias_hh",
    "head.weight",
    "head.bias",
]


def review_classifier_trained(model, cell_cls, threshold):
    """The trained weights, run by torch.nn.GRUCell in the grader on reviews
    it encodes with its own vocabulary, reach the accuracy; the student's
    model computes the same logits with the student's GRUCell."""
    from seqbook.data import WordVocab, movie_reviews, pad_batch

    if not isinstance(model, torch.nn.Module):
        fail("model should be the trained torch.nn.Module.")
    if not any(isinstance(m, cell_cls) for m in model.modules()):
        fail("model must contain your GRUCell.")
    tm.no_torch_submodule(model, "GRU", "model")
    architecture = "ReviewClassifier (embedding, your GRUCell, linear head)"
    state = tm.trained_state(model, "model", REVIEW_CLASSIFIER, architecture)
    vocab = WordVocab([text for text, _ in movie_reviews(3000, seed=0)])
    V, E = state["embedding.weight"].shape
    if V != len(vocab):
        fail(
            f"model's embedding has {V} rows; the notebook's vocabulary has "
            f"{len(vocab)} words."
        )
    H = state["cell.weight_hh"].shape[1]
    embedding = tm.load_part(
        torch.nn.Embedding(V, E), state, "embedding.", "model", architecture
    )
    cell = tm.load_part(
        torch.nn.GRUCell(E, H), state, "cell.", "model", architecture
    )
    head = tm.load_part(
        torch.nn.Linear(H, 1), state, "head.", "model", architecture
    )
    reviews = movie_reviews(1000, seed=4242)
    ids, lengths = map(
        torch.from_numpy, pad_batch([vocab.encode(t) for t, _ in reviews])
    )
    labels = np.array([label for _, label in reviews])
    with torch.no_grad():
        h = torch.zeros(len(reviews), H)
        for t in range(ids.shape[1]):  # padding leaves h as it is
            step = cell(embedding(ids[:, t]), h)
            h = torch.where((t < lengths)[:, None], step, h)
        reference = head(h).reshape(-1)
        with tm.forbid("GRU", "model"):
            logits = model(ids, lengths)
    if not isinstance(logits, torch.Tensor) or logits.numel() != len(labels):
        fail("model should return one logit per review.")
    tm.agrees("model", logits, reference, "torch.nn.GRUCell and the head")
    accuracy = float(np.mean((reference.numpy() > 0) == (labels == 1)))
    if not accuracy >= threshold:
        fail(
            f"on 1000 fresh reviews the classifier's accuracy is "
            f"{accuracy:.3f}; it should be at least {threshold}."
        )
