"""Traps for torch's own implementations, set around a student's call.

Kernel side: copied into the sandboxed kernel (it imports the protocol
and torch, nothing else of ``autograder``). Where an exercise forbids
torch's own LSTM, GRU or attention, the check wraps the student's call in
``forbid(kind, fn)``; under the grader the judge sends the open forbids
with every call (:func:`active_forbids`) and the kernel applies them
around the student's code there. Three layers:

- the public names (``torch.lstm``, ``F.scaled_dot_product_attention``,
  ...) raise at once;
- torch's Python implementations (``nn.LSTM.forward``,
  ``F.multi_head_attention_forward``, ...) have their code objects
  swapped, so a reference the student took earlier is trapped too;
- the profiler records every operator the call reaches (``aten::lstm``,
  ...), however it was reached (``torch.ops.aten``, ``torch._C``, a
  subclass); a session the student's code stops or restarts lacks the
  grader's mark and fails the test.

Code written to find and undo these traps inside the kernel is beyond
them (the README says so).
"""

import contextlib
import threading

import torch

from autograder.judge.protocol import CheckFailure


def fail(message):
    raise CheckFailure(message)


# What each exercise must not call, by the name of torch's implementation.
FORBIDDEN = {
    "LSTM": [
        (torch, "lstm"),
        (torch, "lstm_cell"),
        (torch._VF, "lstm"),
        (torch._VF, "lstm_cell"),
        (torch.nn.LSTM, "forward"),
        (torch.nn.LSTMCell, "forward"),
    ],
    "GRU": [
        (torch, "gru"),
        (torch, "gru_cell"),
        (torch._VF, "gru"),
        (torch._VF, "gru_cell"),
        (torch.nn.GRU, "forward"),
        (torch.nn.GRUCell, "forward"),
    ],
    "scaled dot-product attention": [
        (torch.nn.functional, "scaled_dot_product_attention"),
        (torch._C._nn, "scaled_dot_product_attention"),
    ],
    "multi-head attention": [
        (torch.nn.functional, "multi_head_attention_forward"),
        (torch, "_native_multi_head_attention"),
        (torch, "_transformer_encoder_layer_fwd"),
        (torch.nn.MultiheadAttention, "forward"),
        (torch.nn.TransformerEncoderLayer, "forward"),
        (torch.nn.TransformerEncoder, "forward"),
    ],
}


# The same implementations as the dispatcher names them: every way in
# (torch.lstm bound early, torch.ops.aten, torch._C, a subclass of nn.LSTM)
# ends in one of these operators, which the profiler records.
FORBIDDEN_OPS = {
    "LSTM": {
        "aten::lstm",
        "aten::lstm_cell",
        "aten::_thnn_fused_lstm_cell",
        "aten::quantized_lstm_cell",
    },
    "GRU": {
        "aten::gru",
        "aten::gru_cell",
        "aten::_thnn_fused_gru_cell",
        "aten::quantized_gru_cell",
    },
    "scaled dot-product attention": {
        "aten::scaled_dot_product_attention",
        "aten::_scaled_dot_product_attention_math",
        "aten::_scaled_dot_product_flash_attention_for_cpu",
        "aten::_scaled_dot_product_fused_attention_overrideable",
    },
    "multi-head attention": {
        "aten::_native_multi_head_attention",
        "aten::_transformer_encoder_layer_fwd",
    },
}

_ACTIVE = threading.local()
WATCH_MARK = "seqbook::grader_watch"


def active_forbids():
    """(kind, fn) of the forbid() blocks open in this thread: the judge
    sends them with every call, and the kernel applies them there."""
    return list(getattr(_ACTIVE, "stack", []))


class _Tripped(Exception):
    pass


def _trip(kind):
    """Called by the trapped code of torch's Python implementations."""
    _ACTIVE.tripped = kind
    raise _Tripped(kind)


def _trap_code(function, kind):
    """A code object for ``function`` (same free variables, which
    ``__code__`` assignment needs) that reports ``kind`` and raises."""
    free = function.__code__.co_freevars
    lines = ["def outer():"]
    lines += [f"    {name} = None" for name in free]
    lines += ["    def trap(*args, **kwargs):"]
    if free:
        lines += [f"        ({', '.join(free)},)"]
    lines += [
        "        import autograder.judge.forbid as _tm",
        f"        _tm._trip({kind!r})",
        "    return trap",
    ]
    scope = {}
    exec("\n".join(lines), scope)
    return scope["outer"]().__code__


@contextlib.contextmanager
def _quiet_stderr():
    """The profiler's C++ side prints a line to fd 2 when it starts and
    stops; keep it out of the notebook's outputs."""
    import os
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def forbid(kind, fn):
    """Fail when torch's own ``kind`` runs while the student's code does.

    Three layers: the public names raise at once; the Python
    implementations' code objects are swapped, so a reference taken
    before the check is trapped as well; and the dispatcher's profiler
    records every operator, however it was reached."""
    if not hasattr(_ACTIVE, "stack"):
        _ACTIVE.stack = []
    outermost = not _ACTIVE.stack
    if outermost:
        _ACTIVE.tripped = None
        _ACTIVE.kinds = set()
    _ACTIVE.stack.append((kind, fn))
    _ACTIVE.kinds.add(kind)
    saved, codes = [], []

    def trap(*args, **kwargs):
        _trip(kind)

    for owner, name in FORBIDDEN[kind]:
        original = getattr(owner, name, None)
        code = getattr(original, "__code__", None)
        if code is not None and "outer.<locals>.trap" not in code.co_qualname:
            codes.append((original, code))
            original.__code__ = _trap_code(original, kind)
        elif original is not None and code is None:
            saved.append((owner, name, original))
            setattr(owner, name, trap)
    profiler = None
    if outermost:
        profiler = torch.autograd.profiler.profile()
        try:
            with _quiet_stderr():
                profiler.__enter__()
            # A mark at the start of the session: if the student's code
            # stops the grader's profiler and starts one of its own, the
            # session that ends is not this one, and the mark is missing.
            with torch.autograd.profiler.record_function(WATCH_MARK):
                pass
        except RuntimeError:
            profiler = None
            _ACTIVE.tripped = "profiler"
    try:
        yield
    except _Tripped:
        pass
    finally:
        _ACTIVE.stack.pop()
        for owner, name, original in saved:
            setattr(owner, name, original)
        for function, code in codes:
            function.__code__ = code
        if outermost:
            _verdict(profiler, fn)


def _verdict(profiler, fn):
    """After the outermost forbid(): fail if anything forbidden ran."""
    events = set()
    if profiler is not None:
        try:
            with _quiet_stderr():
                profiler.__exit__(None, None, None)
            events = {e.name for e in profiler.function_events}
        except Exception:
            _ACTIVE.tripped = "profiler"
        if WATCH_MARK not in events:
            _ACTIVE.tripped = "profiler"
    if _ACTIVE.tripped == "profiler":
        fail(
            f"{fn} ran while the grader's profiler could not watch it (a "
            "profiler of the notebook's own was running, or was switched off "
            "during the call); stop it and run again."
        )
    used = sorted(
        (k, e) for k in _ACTIVE.kinds for e in events if e in FORBIDDEN_OPS[k]
    )
    if _ACTIVE.tripped or used:
        kind = _ACTIVE.tripped or used[0][0]
        fail(
            f"{fn} calls torch's own {kind}"
            + (f" ({used[0][1]})" if used else "")
            + "; the exercise is to compute it yourself from the parameters."
        )
