"""The kernel's side of the judge: what a hidden test block calls.

Kernel side: copied into the sandboxed kernel, it imports only the
protocol and, when a check forbids torch's own implementations, the
forbid traps; never the checks, nor the judge's server.

``check("rnn.rnn_step_forward", rnn_step_forward)`` connects to the judge
named by ``SEQBOOK_JUDGE`` and then only *serves*: it runs what the judge
asks on the student's own objects (call this, read that attribute, the
gradients of that call) and sends back the results as data, until the
judge gives its verdict. A failed verdict raises :class:`CheckFailure` in
the test cell, with the judge's message.

Without ``SEQBOOK_JUDGE`` (the course's own tests, which run the hidden
blocks directly; plain ``nbgrader autograde``) the check runs here, in
the calling process.
"""

import contextlib
import os
import socket
import sys

import numpy as np

from autograder.judge import protocol
from autograder.judge.protocol import CheckFailure, JudgeError


def check(name, *args, **kwargs):
    """Run the check ``name`` ("module.function" of autograder.checks) on
    the given objects: by the judge when grading, else here."""
    address = os.environ.get(protocol.ENV)
    if not address:
        return protocol.check_function(name)(*args, **kwargs)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address)
    except OSError as error:
        raise CheckFailure(
            f"the grader could not be reached ({error})"
        ) from None
    with sock:
        kernel = KernelEnd(sock)
        protocol.send(
            sock,
            {
                "op": "start",
                "check": name,
                "args": kernel.encode(list(args)),
                "kwargs": kernel.encode(dict(kwargs)),
            },
        )
        verdict = kernel.serve_until_return()
    if not verdict.get("passed"):
        raise CheckFailure(verdict.get("message", "failed"))


class KernelEnd(protocol.Codec):
    """The student's side: runs what the judge asks, on its own objects."""

    side = protocol.KERNEL

    def __init__(self, sock):
        super().__init__()
        self.sock = sock
        self.graphs = {}  # call id -> (outputs, leaves) kept for backward

    # -- kernel values for the judge
    def encode(self, value, memo=None):
        memo = {} if memo is None else memo
        encoded = self.encode_data(value, memo)
        if encoded is protocol.NOT_DATA:
            return self.encode_object(value)
        return encoded

    def encode_object(self, obj):
        if isinstance(obj, type):
            return {
                "cls": self.handle(obj),
                "name": obj.__qualname__,
                "module": "torch" in sys.modules
                and issubclass(obj, sys.modules["torch"].nn.Module),
            }
        if protocol.is_module(obj):
            return {"mod": self.describe(obj)}
        return {
            "h": self.handle(obj),
            "type": type(obj).__qualname__,
            "callable": callable(obj),
        }

    def describe(self, module):
        payload = protocol.tensor_payload
        return {
            "h": self.handle(module),
            "types": [
                f"{c.__module__}.{c.__qualname__}"
                for c in type(module).__mro__
            ],
            "classes": [
                self.handle(c)
                for c in type(module).__mro__
                if c.__module__ not in ("builtins",)
                and not c.__module__.startswith("torch")
            ],
            "training": module.training,
            "params": {
                n: payload(p)
                for n, p in module._parameters.items()
                if p is not None
            },
            "buffers": {
                n: payload(b)
                for n, b in module._buffers.items()
                if b is not None
            },
            "children": {
                n: self.describe(c)
                for n, c in module._modules.items()
                if protocol.is_module(c)
            },
        }

    # -- the judge's values, decoded on this side
    def decode_tensor(self, value, leaves):
        tensor = protocol.tensor_from(value["tt"])
        if value["tt"].get("rg") and tensor.is_floating_point():
            tensor.requires_grad_()
        if "tid" in value:
            leaves[value["tid"]] = tensor
        return tensor

    def decode_tensor_reference(self, value, leaves):
        return leaves[value["tref"]]

    def decode_kernel_object(self, value, leaves):
        return self.objects[value["ref"]]

    def decode_callback(self, value, leaves):
        return self.callback(value["cb"])

    def decode_generator(self, value, leaves):
        generator = getattr(np.random, value["rng"]["bit_generator"])()
        generator.state = value["rng"]
        return np.random.Generator(generator)

    def callback(self, number):
        def call_judge(*args, **kwargs):
            protocol.send(
                self.sock,
                {
                    "op": "callback",
                    "cb": number,
                    "args": self.encode(list(args)),
                    "kwargs": self.encode(dict(kwargs)),
                },
            )
            return self.serve_until_return()

        return call_judge

    # -- serving the judge's requests
    def serve_until_return(self):
        """Answer the judge's requests until it returns a value (to a
        callback) or gives the verdict."""
        while True:
            message = protocol.recv(self.sock)
            op = message["op"]
            if op == "return":
                return self.decode(message["value"], {})
            if op == "raise":
                raise CheckFailure(message["message"])
            if op == "verdict":
                return message
            try:
                reply = self.answer(message)
            except BaseException as error:  # the student's code failed
                if isinstance(error, JudgeError):
                    raise
                reply = {
                    "op": "raise",
                    "type": type(error).__name__,
                    "message": str(error)[:2000],
                }
            protocol.send(self.sock, reply)

    def answer(self, message):
        op = message["op"]
        if op == "getattr":
            target = self.objects[message["target"]]
            return {
                "op": "return",
                "value": self.encode(getattr(target, message["name"])),
            }
        if op == "backward":
            return self.backward(message)
        if op == "call":
            return self.call(message)
        raise JudgeError(f"unknown request {op!r}")

    def backward(self, message):
        """The gradients of a graph kept by :meth:`call`, for the judge's
        upstream gradients."""
        outputs, leaves = self.graphs.pop(message["call"])
        grads = [
            self.decode(g, {}) if g is not None else None
            for g in message["grads"]
        ]
        pairs = [
            (o, g)
            for o, g in zip(outputs, grads)
            if g is not None and o.requires_grad
        ]
        wanted = [t for t in leaves if t.requires_grad]
        result = [None] * len(leaves)
        if pairs and wanted:
            got = protocol.torch_module().autograd.grad(
                [o for o, _ in pairs],
                wanted,
                [g.to(o.dtype) for o, g in pairs],
                allow_unused=True,
            )
            it = iter(got)
            result = [next(it) if t.requires_grad else None for t in leaves]
        return {
            "op": "return",
            "value": [
                None if g is None else {"tt": protocol.tensor_payload(g)}
                for g in result
            ],
        }

    def call(self, message):
        target = self.objects[message["target"]]
        leaves = {}
        args = self.decode(message["args"], leaves)
        kwargs = self.decode(message["kwargs"], leaves)
        if message.get("sync"):
            apply_sync(target, message["sync"])
        saved = _snapshot(args, kwargs)
        grad = message.get("grad", False)
        with contextlib.ExitStack() as stack:
            if not grad and "torch" in sys.modules:
                stack.enter_context(sys.modules["torch"].no_grad())
            for kind, fn in message.get("forbid", []):
                from autograder.judge import forbid

                stack.enter_context(forbid.forbid(kind, fn))
            result = target(*args, **kwargs)
        reply = {"op": "return", "value": self.encode(result)}
        mutated = _mutations(saved, args, kwargs)
        if mutated:
            reply["mutated"] = [
                [path, self.encode(value)] for path, value in mutated
            ]
        if grad:
            inputs = [leaves[i] for i in sorted(leaves)]
            params = []
            if protocol.is_module(target):
                params = list(target.parameters())
            number = message["call"]
            self.graphs[number] = (
                protocol.flat_tensors(result),
                inputs + params,
            )
        return reply


def apply_sync(module, sync):
    """Take the judge's values of a module's parameters, buffers and
    training flags (what changed on the judge's mirror)."""
    with protocol.torch_module().no_grad():
        for name, payload in sync.get("params", {}).items():
            param = module.get_parameter(name)
            param.data = protocol.tensor_from(payload)
        for name, payload in sync.get("buffers", {}).items():
            owner, _, leaf = name.rpartition(".")
            sub = module.get_submodule(owner) if owner else module
            sub._buffers[leaf] = protocol.tensor_from(payload)
    for name, training in sync.get("training", {}).items():
        sub = module.get_submodule(name) if name else module
        sub.training = bool(training)


def _walk(value, path=()):
    """(path, array or tensor or dict) for what a call could change."""
    if isinstance(value, np.ndarray) or protocol.is_tensor(value):
        yield path, value
    elif type(value) in (tuple, list):
        for i, v in enumerate(value):
            yield from _walk(v, path + (i,))
    elif type(value) is dict:
        yield path, value
        for k, v in value.items():
            yield from _walk(v, path + (k,))


def _snapshot(args, kwargs):
    saved = []
    for path, value in _walk([list(args), kwargs]):
        if isinstance(value, np.ndarray):
            saved.append((path, value, value.copy()))
        elif protocol.is_tensor(value) and not value.requires_grad:
            saved.append((path, value, value.detach().clone()))
        elif isinstance(value, dict):
            saved.append((path, value, dict(value)))
    return saved


def _mutations(saved, args, kwargs):
    changed = []
    for path, value, before in saved:
        if isinstance(value, np.ndarray):
            same = (
                value.shape == before.shape
                and value.dtype == before.dtype
                and value.tobytes() == before.tobytes()
            )
        elif protocol.is_tensor(value):
            same = value.shape == before.shape and bool(
                protocol.torch_module().equal(value, before)
            )
        else:
            same = value.keys() == before.keys() and all(
                value[k] is before[k] for k in value
            )
        if not same:
            changed.append((list(path), value))
    return changed
