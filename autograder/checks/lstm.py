"""Hidden checks of the ``lstm`` assignment (numpy, then torch modules).

References: ``torch.nn.LSTMCell`` and ``torch.nn.LSTM`` in float64 with the
student's weights loaded (blocks i, f, g, o, as the contract), torch
autograd for every gradient. Hints come from the same references with the
gate blocks permuted, and from a torch loop run on altered graphs.
"""

import itertools

import numpy as np
import torch

from autograder.checks import OwnForward, as_float64, close, compare_grads
from autograder.checks import backward_matches_own_forward, fail
from autograder.checks import hidden_states, max_error
from autograder.checks import shapes_text, unpack
from autograder.checks import torch_modules as tm

GATES = "ifgo"
TRIAL_SHAPES = [  # (N, T, D, H): D != H somewhere, N = 1 and T = 1 too
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
        "c0": rng.normal(size=(N, H)),
        "Wx": rng.normal(scale=scale, size=(D, 4 * H)),
        "Wh": rng.normal(scale=scale, size=(H, 4 * H)),
        "b": rng.normal(scale=scale, size=(4 * H,)),
    }


def _t(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def _permute(Wx, Wh, b, order):
    """Weights whose torch block k is the student's block order[k]."""
    H = Wh.shape[0]

    def blocks(a):
        parts = [a[..., j * H : (j + 1) * H] for j in range(4)]
        return np.concatenate([parts[k] for k in order], axis=-1)

    return blocks(Wx), blocks(Wh), blocks(b)


def _reference(x, h0, c0, Wx, Wh, b, dh=None, dc=None, variant=None):
    """(h (N,T,H), c (N,T,H)) and, given dh, gradients of
    sum(h * dh) + sum(c_T * dc) by autograd.

    variant None runs torch.nn.LSTM; the others run a torch loop for hints:
    "no_forget" (c = i*g), "h_is_o_c" (no tanh on c), "detach_h" /
    "detach_c" (no gradient through time along h or c), "st_tanh_c"
    (tanh(c)'s derivative dropped), "st_gates" (sigmoid derivatives
    dropped).
    """
    xt, h0t, c0t = _t(x), _t(h0), _t(c0)
    if variant is None:
        hs, cs, params = _torch_lstm(xt, (h0t, c0t), (Wx, Wh, b))
    else:
        params = (_t(Wx), _t(Wh), _t(b))
        hs, cs = _lstm_loop(xt, (h0t, c0t), params, variant)
    h = torch.stack(hs, dim=1)
    c = torch.stack(cs, dim=1)
    if dh is None:
        return h.detach().numpy(), c.detach().numpy()
    loss = (h * torch.from_numpy(dh)).sum()
    if dc is not None:
        loss = loss + (c[:, -1] * torch.from_numpy(dc)).sum()
    loss.backward()
    dWx, dWh, db = (p.grad.numpy() for p in params)
    if variant is None:  # torch.nn.LSTM holds the weights transposed
        dWx, dWh = dWx.T, dWh.T
    grads = {
        "dx": xt.grad.numpy(),
        "dh0": h0t.grad.numpy(),
        "dc0": c0t.grad.numpy(),
        "dWx": dWx,
        "dWh": dWh,
        "db": db,
    }
    return (h.detach().numpy(), c.detach().numpy()), grads


def _torch_lstm(xt, state, weights):
    """Every h_t and c_t of torch.nn.LSTM with the weights (Wx, Wh, b),
    and its parameters."""
    Wx, Wh, b = weights
    lstm = torch.nn.LSTM(Wx.shape[0], Wh.shape[0], batch_first=True).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
        lstm.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
    # torch.nn.LSTM returns only the last c; run step by step to get
    # every c_t (same module, same numbers).
    hs, cs, state = [], [], (state[0][None], state[1][None])
    for t in range(xt.shape[1]):
        out, state = lstm(xt[:, t : t + 1], state)
        hs.append(out[:, 0])
        cs.append(state[1][0])
    return hs, cs, (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0)


def _lstm_loop(xt, state, params, variant):
    """Every h_t and c_t of a torch loop with the mistake ``variant``."""
    Wxt, Wht, bt = params
    H = Wht.shape[0]
    hs, cs, (h, c) = [], [], state
    for t in range(xt.shape[1]):
        hr = h.detach() if variant == "detach_h" and t else h
        cr = c.detach() if variant == "detach_c" and t else c
        a = xt[:, t] @ Wxt + hr @ Wht + bt
        ai, af, ag, ao = a.split(H, dim=1)
        sig = torch.sigmoid
        if variant == "st_gates":

            def sig(v):
                s = torch.sigmoid(v)
                return s.detach() + v - v.detach()

        i, f, g, o = sig(ai), sig(af), torch.tanh(ag), sig(ao)
        c = i * g if variant == "no_forget" else f * cr + i * g
        tc = torch.tanh(c)
        if variant == "st_tanh_c":
            tc = tc.detach() + c - c.detach()
        h = o * c if variant == "h_is_o_c" else o * tc
        hs.append(h)
        cs.append(c)
    return hs, cs


def _order_hint(run, x, h, c, Wx, Wh, b, outputs):
    """Name the gate order when the student's matches a permutation."""
    for order in itertools.permutations(range(4)):
        if order == (0, 1, 2, 3):
            continue
        pWx, pWh, pb = _permute(Wx, Wh, b, order)
        ref = run(x, h, c, pWx, pWh, pb)
        if all(close(o, r) for o, r in zip(outputs, ref)):
            # order[k] = block the student reads gate k from.
            seen = ["?"] * 4
            for gate, block in enumerate(order):
                seen[block] = GATES[gate]
            return (
                f"the gates look ordered {', '.join(seen)}; the contract's "
                "order is i, f, g, o"
            )
    return None


def _step_variants_hint(x, h, c, Wx, Wh, b, h_next, c_next):
    for variant, message in [
        ("no_forget", "c_next forgets c_prev: c = f * c_prev + i * g"),
        ("h_is_o_c", "h_next must be o * tanh(c_next), not o * c_next"),
    ]:
        rh, rc = _reference(x[:, None], h, c, Wx, Wh, b, variant=variant)
        if close(h_next, rh[:, 0]) and close(c_next, rc[:, 0]):
            return message
    return None


def lstm_step_forward(student):
    """h_next and c_next equal torch.nn.LSTMCell's, on random shapes."""
    fn = "lstm_step_forward"
    for k, (N, _, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, 1, D, H, seed=100 + k)
        x, h, c = p["x"][:, 0], p["h0"], p["c0"]
        Wx, Wh, b = p["Wx"], p["Wh"], p["b"]
        args = [a.copy() for a in (x, h, c, Wx, Wh, b)]
        h_next, c_next, _ = unpack(
            student(*args), ("h_next", "c_next", "cache"), fn
        )
        h_next = as_float64(h_next, "h_next", fn, (N, H))
        c_next = as_float64(c_next, "c_next", fn, (N, H))
        rh, rc = _reference(p["x"], h, c, Wx, Wh, b)
        rh, rc = rh[:, 0], rc[:, 0]
        if close(h_next, rh) and close(c_next, rc):
            continue

        def step(x_, h_, c_, Wx_, Wh_, b_):
            hh, cc = _reference(x_[:, None], h_, c_, Wx_, Wh_, b_)
            return hh[:, 0], cc[:, 0]

        hint = _order_hint(step, x, h, c, Wx, Wh, b, (h_next, c_next))
        hint = hint or _step_variants_hint(x, h, c, Wx, Wh, b, h_next, c_next)
        if not hint:
            if close(c_next, rc):
                hint = "c_next is right; h_next = o * tanh(c_next) is not"
            else:
                hint = (
                    "check each gate: i, f, o = sigmoid, g = tanh of "
                    "x @ Wx + h_prev @ Wh + b split into blocks i, f, g, o"
                )
        wrong = [
            n
            for n, a, r in (("h_next", h_next, rh), ("c_next", c_next, rc))
            if not close(a, r)
        ]
        fail(
            f"{fn}: {' and '.join(wrong)} wrong for "
            f"{shapes_text(x=x, h_prev=h, Wx=Wx)} (largest error "
            f"{max(max_error(h_next, rh), max_error(c_next, rc)):.3g}): "
            f"{hint}."
        )


def lstm_forward(student):
    """All hidden states equal torch.nn.LSTM's (c0 = 0), random shapes."""
    fn = "lstm_forward"
    for k, (N, T, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, T, D, H, seed=200 + k)
        args = [p[n].copy() for n in ("x", "h0", "Wx", "Wh", "b")]
        h = hidden_states(fn, student(*args), (N, T, H))
        zeros = np.zeros((N, H))
        ref = _reference(p["x"], p["h0"], zeros, p["Wx"], p["Wh"], p["b"])[0]
        if close(h, ref):
            continue
        hint = _order_hint(
            lambda *a: (_reference(*a)[0],),
            p["x"],
            p["h0"],
            zeros,
            p["Wx"],
            p["Wh"],
            p["b"],
            (h,),
        )
        if not hint:
            wrong = [t for t in range(T) if not close(h[:, t], ref[:, t])]
            if wrong[0] == 0:
                hint = "the first state is already wrong (c0 is zeros)"
            else:
                hint = (
                    f"h_1 ... h_{wrong[0]} are right but h_{wrong[0] + 1} "
                    "is not: carry both h and c from step to step"
                )
        fail(
            f"{fn} is wrong for {shapes_text(x=p['x'], h0=p['h0'])} "
            f"(largest error {max_error(h, ref):.3g}): {hint}."
        )


STEP_NAMES = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")


def lstm_step_backward(student_forward, student_backward):
    """Every gradient of one step equals torch autograd's."""
    fn = "lstm_step_backward"
    for k, (N, _, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, 1, D, H, seed=300 + k)
        rng = np.random.default_rng(400 + k)
        dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
        x, h, c = p["x"][:, 0], p["h0"], p["c0"]
        args = [a.copy() for a in (x, h, c, p["Wx"], p["Wh"], p["b"])]
        _, _, cache = unpack(
            student_forward(*args),
            ("h_next", "c_next", "cache"),
            "lstm_step_forward",
        )
        result = unpack(
            student_backward(dh.copy(), dc.copy(), cache), STEP_NAMES, fn
        )
        shapes = [(N, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)]
        got = {
            n: as_float64(v, n, fn, s)
            for n, v, s in zip(STEP_NAMES, result, shapes)
        }
        ref_args = (p["x"], h, c, p["Wx"], p["Wh"], p["b"])

        def grads(dh_, dc_, variant=None, ref_args=ref_args):
            g = _reference(
                *ref_args, dh=dh_[:, None], dc=dc_, variant=variant
            )[1]
            return {
                "dx": g["dx"][:, 0],
                "dh_prev": g["dh0"],
                "dc_prev": g["dc0"],
                "dWx": g["dWx"],
                "dWh": g["dWh"],
                "db": g["db"],
            }

        variants = [
            (
                "dc_next is ignored: it adds to the gradient of c_next",
                grads(dh, np.zeros_like(dc)),
            ),
            (
                "the derivative of tanh(c_next) is missing",
                grads(dh, dc, "st_tanh_c"),
            ),
            (
                "the sigmoid derivatives s * (1 - s) of the gates are missing",
                grads(dh, dc, "st_gates"),
            ),
        ]
        compare_grads(
            fn, got, grads(dh, dc), shapes_text(x=x, h_prev=h), variants
        )
    _own_step_forward(fn, student_forward, student_backward)


def _own_step_forward(fn, forward, backward):
    """The gradients agree with the numerical gradient of the student's
    own lstm_step_forward, on small sizes (as the visible test asserts)."""
    N, D, H = 2, 3, 2
    p = _inputs(N, 1, D, H, seed=950)
    args = {"x": p["x"][:, 0], "h_prev": p["h0"], "c_prev": p["c0"]}
    args.update(Wx=p["Wx"], Wh=p["Wh"], b=p["b"])
    rng = np.random.default_rng(951)
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    outputs = ("h_next", "c_next", "cache")
    spec = OwnForward(fn, "lstm_step_forward", outputs, STEP_NAMES)
    backward_matches_own_forward(spec, forward, backward, args, [dh, dc])


def _own_forward(fn, forward, backward):
    """The gradients agree with the numerical gradient of the student's
    own lstm_forward, on small sizes (as the visible test asserts)."""
    N, T, D, H = 2, 2, 3, 2
    p = _inputs(N, T, D, H, seed=952)
    args = {k: p[k] for k in ("x", "h0", "Wx", "Wh", "b")}
    dh = np.random.default_rng(953).normal(size=(N, T, H))
    spec = OwnForward(fn, "lstm_forward", ("h", "cache"), SEQ_NAMES)
    backward_matches_own_forward(spec, forward, backward, args, [dh])


SEQ_NAMES = ("dx", "dh0", "dWx", "dWh", "db")


def lstm_backward(student_forward, student_backward):
    """BPTT gradients equal torch autograd's, upstream on every h_t."""
    fn = "lstm_backward"
    for k, (N, T, D, H) in enumerate(TRIAL_SHAPES):
        p = _inputs(N, T, D, H, seed=500 + k)
        dh = np.random.default_rng(600 + k).normal(size=(N, T, H))
        args = [p[n].copy() for n in ("x", "h0", "Wx", "Wh", "b")]
        _, cache = unpack(
            student_forward(*args), ("h", "cache"), "lstm_forward"
        )
        result = unpack(student_backward(dh.copy(), cache), SEQ_NAMES, fn)
        shapes = [(N, T, D), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)]
        got = {
            n: as_float64(v, n, fn, s)
            for n, v, s in zip(SEQ_NAMES, result, shapes)
        }
        zeros = np.zeros((N, H))
        ref_args = (p["x"], p["h0"], zeros, p["Wx"], p["Wh"], p["b"])

        def grads(dh_, variant=None, ref_args=ref_args):
            g = _reference(*ref_args, dh=dh_, variant=variant)[1]
            return {n: g[n] for n in SEQ_NAMES}

        last = dh.copy()
        last[:, :-1] = 0
        variants = [
            (
                "only the upstream gradient of the last state is used; add "
                "dh[:, t] at every step",
                grads(last),
            ),
            (
                "no gradient flows back through h: carry dh_prev into step "
                "t - 1",
                grads(dh, "detach_h"),
            ),
            (
                "no gradient flows back through the cell state: carry dc_prev "
                "into step t - 1",
                grads(dh, "detach_c"),
            ),
        ]
        compare_grads(
            fn, got, grads(dh), shapes_text(x=p["x"], h0=p["h0"]), variants
        )
    _own_forward(fn, student_forward, student_backward)


# ------------------------------------------------------------ torch modules


def _randn(generator, *shape):
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def _module_trials(student_cls, fn, make_reference, case):
    """Parameters, then parity with and without a state, then float32."""
    for k, (N, T, D, H) in enumerate(TRIAL_SHAPES):
        torch.manual_seed(k)
        module = tm.build(student_cls, fn, D, H)
        tm.no_torch_submodule(module, "LSTM", fn)
        reference = tm.random_like_reference(make_reference(D, H), k)
        tm.same_parameters(module, reference, fn)
        module, reference = module.double(), reference.double()
        g = torch.Generator().manual_seed(100 + k)
        for with_state in (False, True):
            call, tensors, outputs, context = case(g, N, T, D, H, with_state)

            def make_inputs(tensors=tensors):
                return [t.clone().requires_grad_() for t in tensors]

            def hint(
                mine,
                call=call,
                tensors=tensors,
                with_state=with_state,
                reference=reference,
            ):
                found = tm.order_hint(
                    reference, call, tensors, mine, 4, GATES, "i, f, g, o"
                )
                if not found and not with_state:
                    found = "state=None means h and c start at zeros"
                return found

            trial = tm.Trial(
                call, make_inputs, outputs, context, seed=200 + k, hint=hint
            )
            tm.parity(fn, (module, reference), "LSTM", trial)
        module32 = tm.build(student_cls, fn, D, H)
        call, tensors, outputs, _ = case(g, N, T, D, H, False)
        with tm.forbid("LSTM", fn):
            result = call(module32, [t.float() for t in tensors])
        name, shape, getter = outputs[0]
        tm.as_tensor(getter(result), name, fn, shape, dtype=torch.float32)


def LSTMCell(student_cls):
    """Parameters as torch.nn.LSTMCell; outputs and every gradient equal
    torch's after load_state_dict; no torch LSTM inside; dtype kept."""

    def case(g, N, T, D, H, with_state):
        tensors = [_randn(g, N, D)]
        if with_state:
            tensors += [_randn(g, N, H), _randn(g, N, H)]

        def call(module, t):
            return module(t[0], (t[1], t[2])) if len(t) == 3 else module(t[0])

        outputs = [
            ("h", (N, H), lambda r: r[0]),
            ("c", (N, H), lambda r: r[1]),
        ]
        context = (
            f"x ({N}, {D}), hidden_size {H}, "
            f"{'a given state' if with_state else 'state=None'}"
        )
        return call, tensors, outputs, context

    _module_trials(student_cls, "LSTMCell", torch.nn.LSTMCell, case)


def LSTM(student_cls):
    """One batch-first layer: parameters as torch.nn.LSTM; output, h_n, c_n
    and every gradient equal torch's; no torch LSTM inside."""

    def case(g, N, T, D, H, with_state):
        tensors = [_randn(g, N, T, D)]
        if with_state:
            tensors += [_randn(g, 1, N, H), _randn(g, 1, N, H)]

        def call(module, t):
            return module(t[0], (t[1], t[2])) if len(t) == 3 else module(t[0])

        outputs = [
            ("output", (N, T, H), lambda r: r[0]),
            ("h_n", (1, N, H), lambda r: r[1][0]),
            ("c_n", (1, N, H), lambda r: r[1][1]),
        ]
        context = (
            f"x ({N}, {T}, {D}), hidden_size {H}, "
            f"{'a given state' if with_state else 'state=None'}"
        )
        return call, tensors, outputs, context

    _module_trials(
        student_cls,
        "LSTM",
        lambda D, H: torch.nn.LSTM(D, H, batch_first=True),
        case,
    )


# --------------------------------------------------------------- applied


ADDING_MODEL = [
    "lstm.weight_ih_l0",
    "lstm.weight_hh_l0",
    "lstm.bias_ih_l0",
    "lstm.bias_hh_l0",
    "head.weight",
    "head.bias",
]


def adding_model_trained(model, lstm_cls, threshold, seq_len):
    """The trained weights, run by torch.nn.LSTM and a linear head in the
    grader, beat the baseline on fresh adding problems; the student's model
    computes the same numbers with the student's LSTM."""
    from seqbook.data import adding_problem

    if not isinstance(model, torch.nn.Module):
        fail("model should be the trained torch.nn.Module.")
    if not any(isinstance(m, lstm_cls) for m in model.modules()):
        fail("model must contain your LSTM class.")
    tm.no_torch_submodule(model, "LSTM", "model")
    architecture = "AddingModel (your LSTM, then a linear head)"
    state = tm.trained_state(model, "model", ADDING_MODEL, architecture)
    H = state["lstm.weight_hh_l0"].shape[1]
    lstm = tm.load_part(
        torch.nn.LSTM(2, H, batch_first=True),
        state,
        "lstm.",
        "model",
        architecture,
    )
    head = tm.load_part(
        torch.nn.Linear(H, 1), state, "head.", "model", architecture
    )
    x, y = adding_problem(1000, seq_len, np.random.default_rng(12345))
    x = torch.from_numpy(x)
    with torch.no_grad():
        reference = head(lstm(x)[1][0][0]).reshape(-1)
        with tm.forbid("LSTM", "model"):
            prediction = model(x)
    if not isinstance(prediction, torch.Tensor) or prediction.numel() != len(
        y
    ):
        fail(
            "model should return one number per sequence, got "
            f"{getattr(prediction, 'shape', type(prediction).__name__)}."
        )
    tm.agrees("model", prediction, reference, "torch.nn.LSTM and the head")
    mse = float(((reference - torch.from_numpy(y)) ** 2).mean())
    if not np.isfinite(mse) or not mse < threshold:
        fail(
            f"on 1000 fresh adding problems of length {seq_len} the model's "
            f"mean squared error is {mse:.4f}; it should be below "
            f"{threshold} (always predicting 1 gives about 0.167)."
        )
