"""Hidden checks of the assignments, run by the autograder.

Each assignment has a module here (``rnn``, ...) with one function per graded
test cell. A check takes the student's function, runs it on generic inputs
(random shapes and values from a seeded generator), compares every output
with an independent reference (torch.nn modules, torch autograd, brute
force) and raises :class:`CheckFailure` with a message that names the likely
problem. The hidden parts of the assignments' test cells call these
functions; this package runs in the judge (the grading worker), never in
the student's kernel, and is not part of what students install.
"""

from dataclasses import dataclass

import numpy as np

# The failure the judge reports (defined with the wire format, which the
# kernel side has without the checks).
from autograder.judge.protocol import CheckFailure as CheckFailure


def fail(message):
    raise CheckFailure(message)


def unpack(result, names, function):
    """Split a returned tuple into its named parts, with a clear error."""
    if not isinstance(result, tuple) or len(result) != len(names):
        got = (
            f"a tuple of {len(result)}"
            if isinstance(result, tuple)
            else type(result).__name__
        )
        fail(
            f"{function} should return a tuple ({', '.join(names)}) of "
            f"{len(names)} values, but returned {got}."
        )
    return result


def as_float64(value, name, function, shape=None):
    """The returned value as a float64 array, after checking type and shape."""
    if not isinstance(value, np.ndarray):
        fail(
            f"{function}: {name} should be a numpy array, got "
            f"{type(value).__name__}."
        )
    if value.dtype != np.float64:
        fail(
            f"{function}: {name} has dtype {value.dtype}; numpy exercises "
            "return float64 arrays."
        )
    array = np.array(value, dtype=np.float64, copy=True)
    if shape is not None and array.shape != tuple(shape):
        fail(
            f"{function}: {name} has shape {array.shape}, expected "
            f"{tuple(shape)}."
        )
    if not np.all(np.isfinite(array)):
        fail(f"{function}: {name} contains NaN or infinite values.")
    return array


def close(actual, expected, rtol=1e-6, atol=1e-8):
    """True when two arrays agree within the tolerance (never ``==``)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if expected.ndim == 0:
        expected = np.broadcast_to(expected, actual.shape)
    if actual.shape != expected.shape:
        return False
    return bool(
        np.all(np.abs(actual - expected) <= atol + rtol * np.abs(expected))
    )


def max_error(actual, expected):
    return float(np.max(np.abs(np.asarray(actual) - np.asarray(expected))))


def shapes_text(**arrays):
    return ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items())


def compare_grads(fn, got, expected, context, variants=(), labels=None):
    """Fail naming each wrong gradient, with a hint when one is recognised.

    - got, expected: dicts name -> array, in the order of the signature
    - variants: (message, gradients) pairs computed on altered graphs; the
      message is the hint when the wrong gradients match that variant
    - labels: names to show instead of the keys
    """
    labels = labels or {}
    wrong = [k for k in expected if not close(got[k], expected[k])]
    if not wrong:
        return
    hints = []
    for message, alt in variants:
        if all(close(got[k], alt[k]) for k in wrong):
            hints.append(message)
            break
    for k in wrong:
        a, e = np.asarray(got[k]), np.asarray(expected[k])
        name = labels.get(k, k)
        if close(a, -e):
            hints.append(f"{name} has the wrong sign")
        elif a.ndim == 2 and a.shape[0] == a.shape[1] and close(a, e.T):
            hints.append(f"{name} is transposed")
        elif np.any(a) and np.any(e):
            factor = np.sum(a * e) / np.sum(e * e)
            if close(a, e * factor):
                hints.append(f"{name} is off by a constant factor")
    hint = "; ".join(hints) or (
        "compare each term of your derivation with the chain rule"
    )
    worst = max(wrong, key=lambda k: max_error(got[k], expected[k]))
    names = ", ".join(labels.get(k, k) for k in wrong)
    fail(
        f"{fn}: {names} {'is' if len(wrong) == 1 else 'are'} wrong for "
        f"{context} (largest error "
        f"{max_error(got[worst], expected[worst]):.3g} in "
        f"{labels.get(worst, worst)}): {hint}."
    )


def matches_own_forward(fn, forward, loss, args, grads):
    """Fail unless every gradient in ``grads`` equals the numerical
    gradient of the student's own forward pass (what the visible test of
    a backward pass asserts): a backward pass gives the gradient of what
    its forward pass computes, so a right backward pass behind a wrong
    forward pass fails too, as in the notebook.

    - forward: the name of the student's forward function, for messages
    - loss(**arrays) -> float: the scalar the backward pass
      differentiates, computed with the student's forward pass
    - args: name -> array, every input of the forward pass
    - grads: name -> the student's gradient, for the inputs it has
    """
    from seqbook.gradcheck import numerical_gradient, relative_error

    values = {k: np.array(v, dtype=np.float64) for k, v in args.items()}
    first = dict(list(args.items())[:2])
    for name, grad in grads.items():
        numeric = numerical_gradient(lambda: loss(**values), values[name])
        error = relative_error(grad, numeric)
        if not error < 1e-6:
            fail(
                f"{fn}: the gradient of {name} does not match the "
                f"numerical gradient of your own {forward} (relative error "
                f"{error:.2e}, for {shapes_text(**first)}): the backward "
                f"pass must give the gradient of what {forward} computes "
                f"(is {forward} right?)."
            )


def hidden_states(fn, result, shape):
    """The states h (N, T, H) that a forward pass returned with its cache,
    as float64, after checking that h0 was left out."""
    N, T, H = shape
    h, _ = unpack(result, ("h", "cache"), fn)
    if isinstance(h, np.ndarray) and h.shape == (N, T + 1, H):
        fail(f"{fn} returns {T + 1} states for T = {T}: leave h0 out.")
    return as_float64(h, "h", fn, (N, T, H))


@dataclass(frozen=True)
class OwnForward:
    """A backward pass and the forward pass whose cache it takes.

    - fn: the backward function's name; forward: the forward's name
    - outputs: the names of what the forward returns, the cache last
    - grads: the names of what the backward returns
    """

    fn: str
    forward: str
    outputs: tuple
    grads: tuple


def backward_matches_own_forward(spec, forward, backward, args, upstream):
    """Run the student's forward and backward passes on ``args`` (name ->
    array, every input of the forward, in order) and fail unless each
    gradient is the numerical gradient of the scalar sum(output * up)
    over the outputs before the cache (see :func:`matches_own_forward`).

    - spec: an :class:`OwnForward`
    - upstream: one array per output before the cache
    """

    def run(**arrays):
        out = forward(*[np.array(arrays[k]) for k in args])
        return unpack(out, spec.outputs, spec.forward)

    cache = run(**args)[-1]
    ups = [up.copy() for up in upstream]
    result = unpack(backward(*ups, cache), spec.grads, spec.fn)
    grads = {
        k: as_float64(g, f"d{k}", spec.fn, args[k].shape)
        for k, g in zip(args, result)
    }

    def loss(**arrays):
        outs = run(**arrays)
        return float(
            sum(
                np.sum(as_float64(out, name, spec.forward) * up)
                for out, name, up in zip(outs, spec.outputs, upstream)
            )
        )

    matches_own_forward(spec.fn, spec.forward, loss, args, grads)


def recurrent_trial(make_inputs, weights, step):
    """Inputs and upstream gradient of the own-forward check of a
    recurrent layer's backward pass, on small sizes.

    - make_inputs(N, T, D, H, seed) -> dict with "x" (N, T, D), "h0" and
      the weights
    - weights: the names of the weights, in the forward's order
    - step: one step (x (N, D), h_prev) or the whole sequence (x, h0)
    """
    N, T, D, H = 2, 2, 3, 2
    p = make_inputs(N, T, D, H, seed=950)
    first = "h_prev" if step else "h0"
    args = {"x": p["x"][:, 0] if step else p["x"], first: p["h0"]}
    args.update({k: p[k] for k in weights})
    up = np.random.default_rng(951).normal(size=(N, H) if step else (N, T, H))
    return args, up
