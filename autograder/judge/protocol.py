"""The wire format between the student's kernel and the judge.

Kernel side: copied into the sandboxed kernel, it imports nothing of
``autograder`` (numpy only; torch only once a tensor travels).

A message is one JSON object, sent with its length in front
(:func:`send`, :func:`recv`); its ``op`` is one of :data:`OPS`. Values
inside it are JSON's own (None, booleans, numbers, strings, lists) or an
object with one *tag* of :data:`TAGS`: arrays and tensors travel as raw
numbers (dtype, shape, bytes), never as pickles; objects that are not
plain data stay where they live and travel as numbered handles. Each side
decodes with the one decoder, :meth:`Codec.decode`, and refuses the tags
the table does not send its way.
"""

import base64
import importlib
import json
import math
import struct
import sys
from dataclasses import dataclass

import numpy as np

# The environment variable that holds the judge's Unix socket.
ENV = "SEQBOOK_JUDGE"
# Where a check name ("rnn.rnn_step_forward") points: module.function.
CHECKS_PACKAGE = "autograder.checks"
MAX_MESSAGE = 512 * 1024 * 1024
DTYPES = {
    "float16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "bool", "complex64", "complex128",
}  # fmt: skip


class JudgeError(Exception):
    """The other side broke the protocol or went away."""


class CheckFailure(AssertionError):
    """A check found a wrong answer; the message says what is wrong.

    The checks raise it (``autograder.checks.fail``), the judge sends its
    message as the verdict, and the kernel raises it in the test cell."""


# ------------------------------------------------------------ the table

KERNEL, JUDGE, BOTH = "kernel", "judge", "both"


@dataclass(frozen=True)
class Tag:
    """One kind of value on the wire."""

    name: str  # what it is; the decoder is Codec.decode_<name>
    decoded_by: str  # KERNEL (the judge sends it), JUDGE, or BOTH
    carries: str


TAGS = {
    "nd": Tag("array", BOTH, "a numpy array: {dtype, shape, b64 bytes}"),
    "ns": Tag("scalar", BOTH, "a numpy scalar, as a 0-d array payload"),
    "tt": Tag(
        "tensor",
        BOTH,
        "a tensor: an array payload with 'rg' (requires_grad); 'tid' "
        "numbers it within its message",
    ),
    "tref": Tag(
        "tensor_reference", KERNEL, "the tensor numbered so in its message"
    ),
    "t": Tag("tuple", BOTH, "a tuple of values"),
    "l": Tag("list", BOTH, "a list of values"),
    "d": Tag("dict", BOTH, "a dict with str keys"),
    "ref": Tag("kernel_object", KERNEL, "a kernel object, by its handle"),
    "cb": Tag(
        "callback", KERNEL, "a judge function the kernel may call, by handle"
    ),
    "rng": Tag("generator", KERNEL, "a numpy Generator: its bit generator"),
    "cls": Tag(
        "student_class", JUDGE, "a class of the notebook: handle, 'name'"
    ),
    "mod": Tag(
        "student_module",
        JUDGE,
        "a torch module: handle, classes, parameters, buffers, children",
    ),
    "h": Tag(
        "student_object", JUDGE, "any other object: handle, 'type', 'callable'"
    ),
}

# op -> (who sends it, what it asks or says)
OPS = {
    "start": (KERNEL, "run check 'check' on 'args', 'kwargs'"),
    "call": (JUDGE, "call the kernel object 'target'"),
    "getattr": (JUDGE, "read attribute 'name' of the kernel object 'target'"),
    "backward": (JUDGE, "gradients of call 'call' for 'grads'"),
    "callback": (KERNEL, "call the judge function 'cb'"),
    "return": (BOTH, "the answer: 'value'"),
    "raise": (BOTH, "the answer: an exception's 'type' and 'message'"),
    "verdict": (JUDGE, "the end of a check: 'passed', 'message'"),
}

NOT_DATA = object()


# ------------------------------------------------------------ transport


def send(sock, message):
    data = json.dumps(message, allow_nan=True).encode("utf-8")
    sock.sendall(struct.pack("!Q", len(data)) + data)


def _recv_exact(sock, n):
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise JudgeError("the kernel closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv(sock):
    (size,) = struct.unpack("!Q", _recv_exact(sock, 8))
    if size > MAX_MESSAGE:
        raise JudgeError(f"a message of {size} bytes is too large")
    return json.loads(_recv_exact(sock, size).decode("utf-8"))


def check_function(name):
    """The check that ``name`` ("module.function") names. Only the judge
    and a run without a judge look it up; a sandboxed kernel never has
    the checks."""
    module_name, function = name.split(".")
    module = importlib.import_module(f"{CHECKS_PACKAGE}.{module_name}")
    return getattr(module, function)


# ----------------------------------------------------- arrays, tensors


def torch_module():
    """torch, imported on first use: the kernel of a notebook that never
    imports it (rnn's is numpy only) should not pay for it."""
    import torch

    return torch


def is_tensor(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def is_module(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


_NAMES = {}  # dtype -> its name (numpy's dtype.name is slow)
_DTYPES = {name: np.dtype(name) for name in DTYPES}


def dtype_name(dtype):
    name = _NAMES.get(dtype)
    if name is None:
        name = _NAMES[dtype] = dtype.name
    return name


def array_payload(array):
    array = np.asarray(array)
    if not array.flags.c_contiguous:
        array = array.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
    return {
        "dtype": dtype_name(array.dtype),
        "shape": list(array.shape),
        "b64": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def array_from(payload):
    """A numpy array from a payload; only plain numeric dtypes."""
    dtype = _DTYPES.get(payload.get("dtype"))
    if dtype is None:
        raise JudgeError(f"dtype {payload.get('dtype')!r} is not accepted")
    shape = tuple(int(s) for s in payload["shape"])
    if any(s < 0 for s in shape):
        raise JudgeError("negative shape")
    data = base64.b64decode(payload["b64"])
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise JudgeError("array data does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def tensor_payload(tensor):
    t = tensor.detach().cpu()
    if t.dtype == torch_module().bfloat16:
        t = t.float()
    payload = array_payload(t.numpy())
    payload["rg"] = bool(tensor.requires_grad)
    return payload


def tensor_from(payload):
    return torch_module().from_numpy(array_from(payload))


def flat_tensors(value):
    """The tensors of a value (nested tuples, lists, dicts), in order."""
    if is_tensor(value):
        return [value]
    if type(value) in (tuple, list):
        return [t for v in value for t in flat_tensors(v)]
    if type(value) is dict:
        return [t for v in value.values() for t in flat_tensors(v)]
    return []


def _plain(value):
    """A subclass of bool, int, float or str as the plain type."""
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


# ----------------------------------------------------------- the codec


class Codec:
    """Turns values into JSON and back, for one side (``side``).

    Objects that are not plain data stay where they live and travel as
    numbered handles (:meth:`handle`)."""

    side = None  # KERNEL or JUDGE

    def __init__(self):
        self.objects = {}  # handle -> object living on this side
        self.ids = {}  # id(object) -> handle
        self.next = 1

    def handle(self, obj):
        key = id(obj)
        if key not in self.ids:
            self.ids[key] = self.next
            self.objects[self.next] = obj
            self.next += 1
        return self.ids[key]

    def encode_data(self, value, memo):
        """Plain data as JSON (arrays and tensors as raw numbers), or
        NOT_DATA. memo: id(tensor) -> (number, tensor), so a tensor sent
        twice in one message arrives as one tensor."""
        if isinstance(value, np.generic):
            if dtype_name(value.dtype) not in DTYPES:
                return NOT_DATA
            return {"ns": array_payload(np.asarray(value))}
        if value is None or type(value) in (bool, int, float, str):
            return value
        if isinstance(value, (bool, int, float, str)):
            return _plain(value)
        if isinstance(value, np.ndarray):
            if dtype_name(value.dtype) not in DTYPES:
                return NOT_DATA
            return {"nd": array_payload(value)}
        if is_tensor(value):
            if id(value) in memo:
                return {"tref": memo[id(value)][0]}
            memo[id(value)] = (len(memo), value)
            return {"tt": tensor_payload(value), "tid": memo[id(value)][0]}
        return self._encode_container(value, memo)

    def _encode_container(self, value, memo):
        if type(value) is tuple:
            return {"t": [self.encode(v, memo) for v in value]}
        if type(value) is list:
            return {"l": [self.encode(v, memo) for v in value]}
        if type(value) is dict and all(type(k) is str for k in value):
            return {"d": {k: self.encode(v, memo) for k, v in value.items()}}
        return NOT_DATA

    def encode(self, value, memo=None):
        raise NotImplementedError

    # The one decoder: a value from the other side, as this side uses it.
    def decode(self, value, leaves=None):
        """``leaves``: tid -> tensor, the tensors of this message so far."""
        if not isinstance(value, (dict, list)):
            return value
        leaves = {} if leaves is None else leaves
        if isinstance(value, list):
            return [self.decode(v, leaves) for v in value]
        for tag, kind in TAGS.items():
            if tag in value:
                if kind.decoded_by not in (BOTH, self.side):
                    raise JudgeError(
                        f"unexpected {kind.name.replace('_', ' ')}"
                    )
                return getattr(self, f"decode_{kind.name}")(value, leaves)
        raise JudgeError(f"unknown value from the {self.other}")

    @property
    def other(self):
        return JUDGE if self.side == KERNEL else KERNEL

    def decode_array(self, value, leaves):
        return array_from(value["nd"])

    def decode_scalar(self, value, leaves):
        return array_from(value["ns"])[()]

    def decode_tensor(self, value, leaves):
        return tensor_from(value["tt"])

    def decode_tuple(self, value, leaves):
        return tuple(self.decode(v, leaves) for v in value["t"])

    def decode_list(self, value, leaves):
        return [self.decode(v, leaves) for v in value["l"]]

    def decode_dict(self, value, leaves):
        return {str(k): self.decode(v, leaves) for k, v in value["d"].items()}
