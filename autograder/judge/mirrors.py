"""Mirrors of the student's modules, and a kernel call as a
``torch.autograd.Function``.

Judge side. A :class:`RemoteModule` holds the same submodules,
parameters and buffers as the student's module, so torch's own tools
(``state_dict``, ``load_state_dict``, ``double()``, autograd) work on the
judge's side; calling it runs the student's forward in the kernel with
the mirror's current values. Imports torch, which the protocol and the
kernel side take only when a notebook uses it; it reaches the channel
only through the object it is given.
"""

import torch

from autograder.judge.protocol import (
    JudgeError,
    flat_tensors,
    tensor_from,
    tensor_payload,
)


class RemoteCall:
    """A kernel call as a torch.autograd.Function."""

    @staticmethod
    def run(channel, message, leaves, args, kwargs):
        """Call the kernel with ``message``; ``leaves``: the tensors it
        is differentiable in (inputs, then parameters)."""
        state = {}

        class Call(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *tensors):
                reply = channel.request(message)
                state["value"] = channel.decode(reply["value"])
                state["reply"] = reply
                flat = flat_tensors(state["value"])
                state["flat"] = flat
                outs = tuple(t.clone() for t in flat)
                for t in outs:
                    if not t.is_floating_point():
                        ctx.mark_non_differentiable(t)
                # One more output, so that a result without tensors is
                # still a valid Function result.
                anchor = torch.zeros(())
                ctx.mark_non_differentiable(anchor)
                return outs + (anchor,)

            @staticmethod
            def backward(ctx, *grads):
                reply = channel.request(
                    {
                        "op": "backward",
                        "call": message["call"],
                        "grads": [
                            None if g is None else {"tt": tensor_payload(g)}
                            for g in grads[:-1]
                        ],
                    }
                )
                got = [
                    None if g is None else tensor_from(g["tt"])
                    for g in reply["value"]
                ]
                if len(got) != len(leaves):
                    raise JudgeError("wrong number of gradients")
                out = []
                for tensor, g in zip(leaves, got):
                    if g is not None:
                        if g.shape != tensor.shape:
                            raise JudgeError("gradient of the wrong shape")
                        g = g.to(tensor.dtype)
                    out.append(g)
                return tuple(out)

        outs = Call.apply(*leaves)[:-1]
        channel.write_back(args, kwargs, state["reply"])
        replacement = iter(outs)
        return _replace_tensors(state["value"], replacement)


def _replace_tensors(value, replacement):
    if isinstance(value, torch.Tensor):
        return next(replacement)
    if type(value) is tuple:
        return tuple(_replace_tensors(v, replacement) for v in value)
    if type(value) is list:
        return [_replace_tensors(v, replacement) for v in value]
    if type(value) is dict:
        return {k: _replace_tensors(v, replacement) for k, v in value.items()}
    return value


class RemoteModule(torch.nn.Module):
    """A mirror of a student's module: the same submodules, parameters
    and buffers (names, shapes, dtypes, values), so that torch's
    state_dict, load_state_dict, double() and gradients work on the
    judge's side; calling it runs the student's forward in the kernel
    with the mirror's current values."""

    def __init__(self, description, channel):
        super().__init__()
        self._remote_handle = int(description["h"])
        self._remote_types = [str(t) for t in description["types"]]
        self._remote_classes = {int(c) for c in description["classes"]}
        self._channel = channel
        self._sent = {}
        self.training = bool(description.get("training", True))
        for name, payload in description["params"].items():
            tensor = tensor_from(payload)
            self.register_parameter(
                name,
                torch.nn.Parameter(
                    tensor, requires_grad=bool(payload.get("rg"))
                ),
            )
        for name, payload in description["buffers"].items():
            self.register_buffer(name, tensor_from(payload))
        for name, child in description["children"].items():
            self.add_module(name, channel.module(child))
        for name, p in self.named_parameters():
            self._sent[("p", name)] = _signature(p)
        for name, b in self.named_buffers():
            self._sent[("b", name)] = _signature(b)
        self.__dict__["_ready"] = True

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_") or not self.__dict__.get("_ready"):
                raise
        reply = self._channel.request(
            {"op": "getattr", "target": self._remote_handle, "name": name}
        )
        return self._channel.decode(reply["value"])

    def sync(self):
        """What changed on the judge's side since it was last sent."""
        params, buffers = {}, {}
        for name, p in self.named_parameters():
            signature = _signature(p)
            if self._sent.get(("p", name)) != signature:
                params[name] = tensor_payload(p)
                self._sent[("p", name)] = signature
        for name, b in self.named_buffers():
            signature = _signature(b)
            if self._sent.get(("b", name)) != signature:
                buffers[name] = tensor_payload(b)
                self._sent[("b", name)] = signature
        training = {n: m.training for n, m in self.named_modules()}
        return {"params": params, "buffers": buffers, "training": training}

    def forward(self, *args, **kwargs):
        return self._channel.call(
            self._remote_handle,
            args,
            kwargs,
            sync=self.sync(),
            params=[p for _, p in self.named_parameters()],
        )

    def __repr__(self):
        return f"<{self._remote_types[0]} of the student>"


def _signature(tensor):
    return (tensor.dtype, tuple(tensor.shape), tensor.data_ptr(),
            tensor._version)  # fmt: skip
