"""Checks shared by the torch-module exercises: parameters, parity with a
torch.nn reference after load_state_dict, gradients, and that torch's own
implementation is not what computes the answer."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from autograder.checks import close, fail, max_error
from autograder.judge.forbid import forbid


def no_torch_submodule(module, kind, fn):
    """The student's module holds no torch.nn module of ``kind``."""
    banned = {
        "LSTM": (torch.nn.LSTM, torch.nn.LSTMCell),
        "GRU": (torch.nn.GRU, torch.nn.GRUCell),
        "multi-head attention": (
            torch.nn.MultiheadAttention,
            torch.nn.TransformerEncoderLayer,
            torch.nn.TransformerEncoder,
            torch.nn.TransformerDecoderLayer,
            torch.nn.Transformer,
        ),
    }[kind]
    banned_names = {f"{c.__module__}.{c.__qualname__}": c for c in banned}
    for name, sub in module.named_modules():
        found = [t for t in module_types(sub) if t in banned_names]
        if found:
            fail(
                f"{fn} holds torch's own {banned_names[found[0]].__name__} "
                f"({name or 'itself'}); build it from parameters instead."
            )


def module_types(module):
    """Qualified names of a module's classes (its MRO); for the judge's
    mirror of a student's module, those of the student's module."""
    names = getattr(module, "_remote_types", None)
    if names is not None:
        return list(names)
    return [f"{c.__module__}.{c.__qualname__}" for c in type(module).__mro__]


def build(cls, fn, *args):
    try:
        module = cls(*args)
    except Exception as error:
        fail(f"{fn}{args} raised {type(error).__name__}: {error}")
    if not isinstance(module, torch.nn.Module):
        fail(f"{fn} should be a torch.nn.Module subclass.")
    return module


def same_parameters(module, reference, fn):
    """Names, shapes and default dtype of the parameters match the reference,
    and the reference's state_dict loads."""
    got = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        shapes = sorted(
            f"{k} {got[k]} (expected {want[k]})"
            for k in set(got) & set(want)
            if got[k] != want[k]
        )
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        if shapes:
            parts.append(f"wrong shapes: {'; '.join(shapes)}")
        fail(
            f"{fn}'s parameters must be named and shaped as in torch.nn."
            f"{type(reference).__name__}: {'; '.join(parts)}."
        )
    for name, value in module.state_dict().items():
        if value.dtype != torch.get_default_dtype():
            fail(
                f"{fn}: parameter {name} is {value.dtype}; create parameters "
                "in the default dtype."
            )
    try:
        module.load_state_dict(reference.state_dict())
    except Exception as error:
        fail(f"{fn}: load_state_dict of the torch module failed: {error}")


def as_tensor(value, name, fn, shape, dtype=torch.float64, context=None):
    """A returned tensor, after checking its type, shape, dtype and that it
    holds no NaN; ``context`` (the inputs) goes into the messages."""
    where = f" for {context}" if context else ""
    if not isinstance(value, torch.Tensor):
        fail(
            f"{fn}: {name} should be a torch.Tensor, got "
            f"{type(value).__name__}."
        )
    if tuple(value.shape) != tuple(shape):
        fail(
            f"{fn}: {name} has shape {tuple(value.shape)}, expected "
            f"{tuple(shape)}{where}."
        )
    if value.dtype != dtype:
        fail(
            f"{fn}: {name} is {value.dtype} for {dtype} inputs; work in "
            "the dtype you are given."
        )
    if torch.isnan(value).any():
        fail(f"{fn}: {name} contains NaN{where}.")
    return value


def compare_tensors(fn, pairs, context):
    """pairs: name -> (got, expected) tensors; fail naming the wrong ones."""
    wrong = [
        name
        for name, (got, want) in pairs.items()
        if not close(got.detach().numpy(), want.detach().numpy())
    ]
    if wrong:
        worst = max(
            wrong,
            key=lambda k: max_error(
                pairs[k][0].detach().numpy(), pairs[k][1].detach().numpy()
            ),
        )
        err = max_error(
            pairs[worst][0].detach().numpy(), pairs[worst][1].detach().numpy()
        )
        return wrong, (
            f"{fn}: {', '.join(wrong)} differ from torch's for {context} "
            f"(largest error {err:.3g} in {worst})"
        )
    return [], ""


def random_like_reference(reference, seed):
    """Give a reference module random (not default) parameter values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in reference.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
    return reference


def permuted_blocks(state_dict, order, num_blocks):
    """A state_dict whose gate blocks (along dim 0) are reordered."""
    out = {}
    for name, value in state_dict.items():
        blocks = value.chunk(num_blocks, dim=0)
        out[name] = torch.cat([blocks[i] for i in order], dim=0)
    return out


def np64(tensor):
    return np.asarray(tensor.detach().numpy(), dtype=np.float64)


@dataclass(frozen=True)
class Trial:
    """One run of student and reference modules on the same inputs.

    - call(module, inputs) -> the module's raw result
    - make_inputs() -> a fresh list of leaf tensors requiring grad
    - outputs: list of (name, shape, getter) where getter(result) picks
      one output tensor (it may raise CheckFailure on a malformed result)
    - context: the sizes, for messages
    - seed: of the upstream gradients
    - hint(student_outputs) -> a hint or None, when the values differ
    """

    call: Callable
    make_inputs: Callable
    outputs: list
    context: str
    seed: int
    hint: Callable | None = None


def parity(fn, modules, kind, trial):
    """Run student and reference (``modules``) on the same inputs of a
    :class:`Trial`, with torch's own ``kind`` forbidden to the student's;
    compare every output and every gradient (inputs and parameters)."""
    module, reference = modules
    call, outputs, context = trial.call, trial.outputs, trial.context
    make_inputs, hint = trial.make_inputs, trial.hint
    mine_in, ref_in = make_inputs(), make_inputs()
    with forbid(kind, fn):
        result = call(module, mine_in)
    mine = _outputs(fn, result, outputs)
    ref_result = call(reference, ref_in)
    ref = [getter(ref_result) for _, _, getter in outputs]
    names = [name for name, *_ in outputs]
    wrong, message = compare_tensors(
        fn, dict(zip(names, zip(mine, ref))), context
    )
    if wrong:
        extra = hint(mine) if hint else None
        fail(message + (f": {extra}." if extra else "."))
    generator = torch.Generator().manual_seed(trial.seed)
    ups = [
        torch.randn(r.shape, generator=generator, dtype=r.dtype) for r in ref
    ]
    sum((m * u).sum() for m, u in zip(mine, ups)).backward()
    sum((r * u).sum() for r, u in zip(ref, ups)).backward()
    wrong, message = compare_tensors(
        fn, _gradient_pairs(fn, (module, reference), mine_in, ref_in), context
    )
    if wrong:
        fail(message + ": the forward pass must stay differentiable.")
    module.zero_grad()
    reference.zero_grad()
    return mine


def _outputs(fn, result, outputs):
    """The output tensors of a student's result, each checked."""
    mine = []
    for name, shape, getter in outputs:
        try:
            value = getter(result)
        except (TypeError, IndexError, KeyError, ValueError):
            fail(
                f"{fn}.forward returned {type(result).__name__}, not the "
                f"expected structure ({', '.join(n for n, *_ in outputs)})."
            )
        mine.append(as_tensor(value, name, fn, shape))
    return mine


def _gradient_pairs(fn, modules, mine_in, ref_in):
    """name -> (student's, reference's) gradient of every input and
    parameter the reference's output depends on."""
    module, reference = modules
    pairs = {}
    for k, (a, b) in enumerate(zip(mine_in, ref_in)):
        if b.grad is not None:
            if a.grad is None:
                fail(f"{fn}: no gradient reaches input {k}.")
            pairs[f"gradient of input {k}"] = (a.grad, b.grad)
    params = dict(module.named_parameters())
    for name, param in reference.named_parameters():
        if params[name].grad is None:
            fail(f"{fn}: no gradient reaches {name}.")
        pairs[f"gradient of {name}"] = (params[name].grad, param.grad)
    return pairs


def order_hint(
    reference, call, inputs, mine, num_blocks, gate_names, contract_order
):
    """Name the gate order when the student's outputs match a reference
    whose gate blocks are permuted."""
    import itertools

    saved = {k: v.clone() for k, v in reference.state_dict().items()}
    try:
        for order in itertools.permutations(range(num_blocks)):
            if order == tuple(range(num_blocks)):
                continue
            reference.load_state_dict(
                permuted_blocks(saved, order, num_blocks)
            )
            with torch.no_grad():
                ref = call(reference, [t.detach() for t in inputs])
            ref = ref if isinstance(ref, (tuple, list)) else (ref,)
            flat = _flatten(ref)
            if len(flat) >= len(mine) and all(
                close(np64(m), np64(r)) for m, r in zip(mine, flat)
            ):
                seen = ["?"] * num_blocks
                for gate, block in enumerate(order):
                    seen[block] = gate_names[gate]
                return (
                    f"the gates look ordered {', '.join(seen)}; the "
                    f"contract's order is {contract_order}"
                )
    finally:
        reference.load_state_dict(saved)
    return None


def _flatten(values):
    out = []
    for v in values:
        if isinstance(v, (tuple, list)):
            out.extend(_flatten(v))
        else:
            out.append(v)
    return out


# ------------------------------------------------ trained models (applied)


def trained_state(model, fn, expected, architecture):
    """The trained model's parameters and buffers as float32 tensors; their
    names must be those of the notebook's architecture (``expected``: names,
    or a predicate on a name)."""
    state = {
        name: value.detach().to(torch.float32)
        for name, value in model.state_dict().items()
    }
    wanted = expected if callable(expected) else set(expected).__contains__
    extra = sorted(name for name in state if not wanted(name))
    missing = [] if callable(expected) else sorted(set(expected) - set(state))
    if extra or missing:
        fail(
            f"{fn}'s parameters should be those of the notebook's "
            f"{architecture}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra[:4])}" if extra else "")
            + ". Keep its architecture and train it."
        )
    for name, value in state.items():
        if not torch.all(torch.isfinite(value)):
            fail(f"{fn}: {name} holds NaN or infinite values.")
    return state


def load_part(reference, state, prefix, fn, architecture):
    """Load ``state``'s entries under ``prefix`` into a torch reference."""
    part = {
        name[len(prefix) :]: value
        for name, value in state.items()
        if name.startswith(prefix)
    }
    weights = f"the weights under {prefix[:-1]!r}"
    return load_into(reference, part, fn, architecture, weights)


def load_into(reference, state, fn, architecture, weights="the weights"):
    """``reference`` in eval mode with ``state`` loaded; when torch
    refuses it, fail saying that ``weights`` do not fit the notebook's
    ``architecture``, and torch's reason."""
    try:
        reference.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[-1].strip()
        fail(
            f"{fn}: {weights} do not fit the notebook's {architecture} "
            f"({first})."
        )
    return reference.eval()


def agrees(fn, got, want, what, atol=1e-4, rtol=1e-3):
    """The student's model computed ``want``, the notebook's architecture
    run by torch on the same weights: else its forward is something else."""
    if not isinstance(got, torch.Tensor):
        fail(f"{fn} should return a tensor, got {type(got).__name__}.")
    got = got.detach().to(torch.float64).reshape(want.shape)
    want = want.detach().to(torch.float64)
    error = float((got - want).abs().max()) if got.numel() else 0.0
    if not torch.allclose(got, want, rtol=rtol, atol=atol):
        fail(
            f"{fn}'s outputs differ from {what} on the same inputs and "
            f"weights (largest difference {error:.3g}): the trained model "
            "should compute its answer with the layers you wrote, as the "
            "notebook's architecture does."
        )
