"""Judge test cells outside the student's process.

The hidden part of a test cell calls ``check("module.name", obj, ...)``.
Under the grader, the environment variable ``SEQBOOK_JUDGE`` names a Unix
socket of the grading worker: the student's kernel connects to it and only
*serves* requests, while the worker (the judge) runs the check function of
``autograder.checks`` in its own process, on proxies of the student's
objects. Every call of a student function or module is a request: the
judge sends the inputs, the kernel runs the student's code and sends back
the outputs (arrays and tensors as raw numbers, never pickles), and the
judge compares them with its references. Gradients travel the same way: a
proxy call is a ``torch.autograd.Function`` whose backward asks the kernel
for the gradients of the same graph. Whatever the student's code rebinds
(``np.allclose``, builtins, the checks themselves) lives in the kernel and
cannot touch the comparison; the verdict is the judge's and the worker
scores by it.

Without ``SEQBOOK_JUDGE`` (the course's own tests, which run the hidden
blocks directly) ``check`` runs the check function in the calling process.
"""

import ast
import base64
import builtins
import contextlib
import importlib
import json
import math
import os
import socket
import struct
import sys
import threading
import traceback

import numpy as np

ENV = "SEQBOOK_JUDGE"
MAX_MESSAGE = 512 * 1024 * 1024
DTYPES = {
    "float16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "bool", "complex64", "complex128",
}  # fmt: skip


def _torch():
    """torch, imported on first use: the kernel of a notebook that never
    imports it (rnn's is numpy only) should not pay for it."""
    import torch

    return torch


def _is_tensor(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _is_module(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


class JudgeError(Exception):
    """The kernel broke the protocol or went away."""


# ------------------------------------------------------------ transport


def _send(sock, message):
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


def _recv(sock):
    (size,) = struct.unpack("!Q", _recv_exact(sock, 8))
    if size > MAX_MESSAGE:
        raise JudgeError(f"a message of {size} bytes is too large")
    return json.loads(_recv_exact(sock, size).decode("utf-8"))


# ------------------------------------------------------------- encoding


_NAMES = {}  # dtype -> its name (numpy's dtype.name is slow)
_DTYPES = {name: np.dtype(name) for name in DTYPES}


def _dtype_name(dtype):
    name = _NAMES.get(dtype)
    if name is None:
        name = _NAMES[dtype] = dtype.name
    return name


def _array_payload(array):
    array = np.asarray(array)
    if not array.flags.c_contiguous:
        array = array.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
    return {
        "dtype": _dtype_name(array.dtype),
        "shape": list(array.shape),
        "b64": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def _array_from(payload):
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


def _tensor_payload(tensor):
    t = tensor.detach().cpu()
    if t.dtype == _torch().bfloat16:
        t = t.float()
    payload = _array_payload(t.numpy())
    payload["rg"] = bool(tensor.requires_grad)
    return payload


def _tensor_from(payload):
    return _torch().from_numpy(_array_from(payload))


def _plain(value):
    """A subclass of bool, int, float or str as the plain type."""
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


NOT_DATA = object()


class _Codec:
    """Turn values into JSON and back. Objects that are not plain data stay
    where they live and travel as numbered handles."""

    def encode_data(self, value, memo):
        """Plain data as JSON (arrays and tensors as raw numbers), or
        NOT_DATA. memo: id(tensor) -> (number, tensor), so a tensor sent
        twice in one message arrives as one tensor."""
        if isinstance(value, np.generic):
            if _dtype_name(value.dtype) not in DTYPES:
                return NOT_DATA
            return {"ns": _array_payload(np.asarray(value))}
        if value is None or type(value) in (bool, int, float, str):
            return value
        if isinstance(value, (bool, int, float, str)):
            return _plain(value)
        if isinstance(value, np.ndarray):
            if _dtype_name(value.dtype) not in DTYPES:
                return NOT_DATA
            return {"nd": _array_payload(value)}
        if _is_tensor(value):
            if id(value) in memo:
                return {"tref": memo[id(value)][0]}
            memo[id(value)] = (len(memo), value)
            return {"tt": _tensor_payload(value), "tid": memo[id(value)][0]}
        if type(value) is tuple:
            return {"t": [self.encode(v, memo) for v in value]}
        if type(value) is list:
            return {"l": [self.encode(v, memo) for v in value]}
        if type(value) is dict and all(type(k) is str for k in value):
            return {"d": {k: self.encode(v, memo) for k, v in value.items()}}
        return NOT_DATA

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


# ----------------------------------------------------------- kernel side


class _Kernel(_Codec):
    """The student's side: runs what the judge asks, on its own objects."""

    def __init__(self, sock):
        super().__init__()
        self.sock = sock
        self.graphs = {}  # call id -> (outputs, leaves) kept for backward

    # encoding of kernel values for the judge
    def encode(self, value, memo=None):
        memo = {} if memo is None else memo
        encoded = self.encode_data(value, memo)
        return self.encode_object(value) if encoded is NOT_DATA else encoded

    def encode_object(self, obj):
        if isinstance(obj, type):
            return {
                "cls": self.handle(obj),
                "name": obj.__qualname__,
                "module": isinstance(obj, type)
                and "torch" in sys.modules
                and issubclass(obj, sys.modules["torch"].nn.Module),
            }
        if _is_module(obj):
            return {"mod": self.describe(obj)}
        return {
            "h": self.handle(obj),
            "type": type(obj).__qualname__,
            "callable": callable(obj),
        }

    def describe(self, module):
        classes = [
            self.handle(c)
            for c in type(module).__mro__
            if c.__module__ not in ("builtins",)
            and not c.__module__.startswith("torch")
        ]
        return {
            "h": self.handle(module),
            "types": [
                f"{c.__module__}.{c.__qualname__}"
                for c in type(module).__mro__
            ],
            "classes": classes,
            "training": module.training,
            "params": {
                n: _tensor_payload(p)
                for n, p in module._parameters.items()
                if p is not None
            },
            "buffers": {
                n: _tensor_payload(b)
                for n, b in module._buffers.items()
                if b is not None
            },
            "children": {
                n: self.describe(c)
                for n, c in module._modules.items()
                if _is_module(c)
            },
        }

    # decoding of judge values
    def decode(self, value, leaves):
        if not isinstance(value, (dict, list)):
            return value
        if isinstance(value, list):
            return [self.decode(v, leaves) for v in value]
        if "nd" in value:
            return _array_from(value["nd"])
        if "ns" in value:
            return _array_from(value["ns"])[()]
        if "tt" in value:
            tensor = _tensor_from(value["tt"])
            if value["tt"].get("rg") and tensor.is_floating_point():
                tensor.requires_grad_()
            if "tid" in value:
                leaves[value["tid"]] = tensor
            return tensor
        if "tref" in value:
            return leaves[value["tref"]]
        if "t" in value:
            return tuple(self.decode(v, leaves) for v in value["t"])
        if "l" in value:
            return [self.decode(v, leaves) for v in value["l"]]
        if "d" in value:
            return {k: self.decode(v, leaves) for k, v in value["d"].items()}
        if "ref" in value:
            return self.objects[value["ref"]]
        if "cb" in value:
            return self.callback(value["cb"])
        if "rng" in value:
            generator = getattr(np.random, value["rng"]["bit_generator"])()
            generator.state = value["rng"]
            return np.random.Generator(generator)
        raise JudgeError("unknown value")

    def callback(self, number):
        def call_judge(*args, **kwargs):
            _send(
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

    def serve_until_return(self):
        """Answer the judge's requests until it returns a value (to a
        callback) or gives the verdict."""
        while True:
            message = _recv(self.sock)
            op = message["op"]
            if op == "return":
                return self.decode(message["value"], {})
            if op == "raise":
                from autograder.checks import CheckFailure

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
            _send(self.sock, reply)

    def answer(self, message):
        op = message["op"]
        if op == "getattr":
            target = self.objects[message["target"]]
            return {
                "op": "return",
                "value": self.encode(getattr(target, message["name"])),
            }
        if op == "backward":
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
                got = _torch().autograd.grad(
                    [o for o, _ in pairs],
                    wanted,
                    [g.to(o.dtype) for o, g in pairs],
                    allow_unused=True,
                )
                it = iter(got)
                result = [
                    next(it) if t.requires_grad else None for t in leaves
                ]
            return {
                "op": "return",
                "value": [
                    None if g is None else {"tt": _tensor_payload(g)}
                    for g in result
                ],
            }
        if op == "call":
            return self.call(message)
        raise JudgeError(f"unknown request {op!r}")

    def call(self, message):
        target = self.objects[message["target"]]
        leaves = {}
        args = self.decode(message["args"], leaves)
        kwargs = self.decode(message["kwargs"], leaves)
        sync = message.get("sync")
        if sync:
            self.apply_sync(target, sync)
        saved = _snapshot(args, kwargs)
        grad = message.get("grad", False)
        with contextlib.ExitStack() as stack:
            if not grad and "torch" in sys.modules:
                stack.enter_context(sys.modules["torch"].no_grad())
            for kind, fn in message.get("forbid", []):
                from autograder.checks import torch_modules

                stack.enter_context(torch_modules.forbid(kind, fn))
            result = target(*args, **kwargs)
        reply = {"op": "return", "value": self.encode(result)}
        mutated = _mutations(saved, args, kwargs)
        if mutated:
            reply["mutated"] = [
                [path, self.encode(value)] for path, value in mutated
            ]
        if grad:
            flat = [t for t in _flat_tensors(result)]
            inputs = [leaves[i] for i in sorted(leaves)]
            params = []
            if _is_module(target):
                params = list(target.parameters())
            number = message["call"]
            self.graphs[number] = (flat, inputs + params)
        return reply

    def apply_sync(self, module, sync):
        with _torch().no_grad():
            for name, payload in sync.get("params", {}).items():
                param = module.get_parameter(name)
                param.data = _tensor_from(payload)
            for name, payload in sync.get("buffers", {}).items():
                owner, _, leaf = name.rpartition(".")
                sub = module.get_submodule(owner) if owner else module
                sub._buffers[leaf] = _tensor_from(payload)
        for name, training in sync.get("training", {}).items():
            sub = module.get_submodule(name) if name else module
            sub.training = bool(training)


def _flat_tensors(value):
    if _is_tensor(value):
        return [value]
    if type(value) in (tuple, list):
        return [t for v in value for t in _flat_tensors(v)]
    if type(value) is dict:
        return [t for v in value.values() for t in _flat_tensors(v)]
    return []


def _walk(value, path=()):
    """(path, array or tensor or dict) for what a call could change."""
    if isinstance(value, np.ndarray) or _is_tensor(value):
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
        elif _is_tensor(value) and not value.requires_grad:
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
        elif _is_tensor(value):
            same = value.shape == before.shape and bool(
                _torch().equal(value, before)
            )
        else:
            same = value.keys() == before.keys() and all(
                value[k] is before[k] for k in value
            )
        if not same:
            changed.append((list(path), value))
    return changed


def check(name, *args, **kwargs):
    """Run the check ``name`` ("module.function" of autograder.checks) on
    the given objects: by the judge when grading, else here."""
    address = os.environ.get(ENV)
    module_name, function = name.split(".")
    if not address:
        module = importlib.import_module(f"autograder.checks.{module_name}")
        return getattr(module, function)(*args, **kwargs)
    from autograder.checks import CheckFailure

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address)
    except OSError as error:
        raise CheckFailure(
            f"the grader could not be reached ({error})"
        ) from None
    with sock:
        kernel = _Kernel(sock)
        _send(
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


# ------------------------------------------------------------ judge side

_local = threading.local()


def _channel():
    channel = getattr(_local, "channel", None)
    if channel is None:
        raise JudgeError("no kernel is connected")
    return channel


class RemoteError(Exception):
    """The student's code raised; its type and message."""


_REMOTE_TYPES = {}


def _remote_exception(type_name, message):
    from autograder.checks import CheckFailure

    if type_name == "CheckFailure":
        return CheckFailure(message)
    base = getattr(builtins, type_name, None)
    if not (isinstance(base, type) and issubclass(base, Exception)):
        base = Exception
    if base is AssertionError:
        base = Exception  # only the judge's own checks fail a test
    key = (type_name, base)
    if key not in _REMOTE_TYPES:
        _REMOTE_TYPES[key] = type(type_name, (RemoteError, base), {})
    return _REMOTE_TYPES[key](message)


class _Channel(_Codec):
    """The judge's end of one test cell's connection."""

    def __init__(self, sock):
        super().__init__()
        self.sock = sock
        self.proxies = {}  # kernel handle -> proxy
        self.calls = 0

    # encoding of judge values for the kernel
    def encode(self, value, memo=None):
        memo = {} if memo is None else memo
        if isinstance(value, Proxy):
            return {"ref": object.__getattribute__(value, "_handle")}
        if isinstance(value, RemoteClass) or _is_mirror(value):
            return {"ref": value._remote_handle}
        if isinstance(value, np.random.Generator):
            return {"rng": value.bit_generator.state}
        encoded = self.encode_data(value, memo)
        if encoded is not NOT_DATA:
            return encoded
        if callable(value):
            return {"cb": self.handle(value)}
        raise TypeError(f"cannot send a {type(value).__name__} to the kernel")

    # decoding of kernel values: data, or proxies of kernel objects
    def decode(self, value):
        if not isinstance(value, (dict, list)):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if "nd" in value:
            return _array_from(value["nd"])
        if "ns" in value:
            return _array_from(value["ns"])[()]
        if "tt" in value:
            return _tensor_from(value["tt"])
        if "tref" in value:
            raise JudgeError("unexpected tensor reference")
        if "t" in value:
            return tuple(self.decode(v) for v in value["t"])
        if "l" in value:
            return [self.decode(v) for v in value["l"]]
        if "d" in value:
            return {str(k): self.decode(v) for k, v in value["d"].items()}
        if "cls" in value:
            return self.proxy(value["cls"], lambda: RemoteClass.make(value))
        if "mod" in value:
            return self.module(value["mod"])
        if "h" in value:
            return self.proxy(value["h"], lambda: Proxy(value["h"], value))
        raise JudgeError("unknown value from the kernel")

    def proxy(self, handle, make):
        handle = int(handle)
        if handle not in self.proxies:
            self.proxies[handle] = make()
        return self.proxies[handle]

    def module(self, description):
        handle = int(description["h"])
        if handle in self.proxies:
            return self.proxies[handle]
        from autograder.mirrors import RemoteModule

        module = RemoteModule(description, self)
        self.proxies[handle] = module
        return module

    def request(self, message):
        """Send a request; run the kernel's callbacks until its answer."""
        _send(self.sock, message)
        while True:
            reply = _recv(self.sock)
            op = reply.get("op")
            if op == "return":
                return reply
            if op == "raise":
                raise _remote_exception(
                    str(reply.get("type", "Exception")),
                    str(reply.get("message", "")),
                )
            if op == "callback":
                self.run_callback(reply)
                continue
            raise JudgeError(f"unexpected message {op!r} from the kernel")

    def run_callback(self, message):
        from autograder.checks import CheckFailure

        function = self.objects.get(message.get("cb"))
        if function is None:
            raise JudgeError("unknown callback")
        try:
            args = self.decode(message.get("args", []))
            kwargs = self.decode(message.get("kwargs", {}))
            result = function(*args, **kwargs)
            _send(self.sock, {"op": "return", "value": self.encode(result)})
        except CheckFailure as error:
            _send(self.sock, {"op": "raise", "message": str(error)})
        except JudgeError:
            raise
        except Exception as error:
            _send(
                self.sock,
                {"op": "raise", "message": f"{type(error).__name__}: {error}"},
            )

    def call(self, handle, args, kwargs, sync=None, params=()):
        """Call a kernel object; differentiable when torch wants it."""
        memo = {}
        message = {
            "op": "call",
            "target": handle,
            "args": self.encode(list(args), memo),
            "kwargs": self.encode(dict(kwargs), memo),
            "forbid": _active_forbids(),
        }
        if sync:
            message["sync"] = sync
        inputs = [t for _, t in sorted(memo.values(), key=lambda p: p[0])]
        grad_inputs = [t for t in inputs if t.requires_grad] + [
            p for p in params if p.requires_grad
        ]
        self.calls += 1
        message["call"] = self.calls
        if not (_torch().is_grad_enabled() and grad_inputs):
            message["grad"] = False
            reply = self.request(message)
            self.write_back(args, kwargs, reply)
            return self.decode(reply["value"])
        message["grad"] = True
        from autograder.mirrors import _RemoteCall

        return _RemoteCall.run(
            self, message, inputs, list(params), args, kwargs
        )

    def write_back(self, args, kwargs, reply):
        """Copy the kernel's in-place changes of the arguments into the
        judge's objects, so a check sees what the student's code did."""
        for path, encoded in reply.get("mutated", []):
            container = [list(args), kwargs]
            target = container
            try:
                for key in path:
                    target = target[key]
            except (KeyError, IndexError, TypeError):
                continue
            value = self.decode(encoded)
            if isinstance(target, np.ndarray) and isinstance(
                value, np.ndarray
            ):
                if target.shape == value.shape:
                    target[...] = value
                else:
                    target.resize(value.shape, refcheck=False)
                    target[...] = value
            elif _is_tensor(target) and _is_tensor(value):
                with _torch().no_grad():
                    if target.shape == value.shape:
                        target.copy_(value)
                    else:
                        target.data = value
            elif isinstance(target, dict) and isinstance(value, dict):
                target.clear()
                target.update(value)


def _is_mirror(value):
    mirrors = sys.modules.get("autograder.mirrors")
    return mirrors is not None and isinstance(value, mirrors.RemoteModule)


def _active_forbids():
    from autograder.checks import torch_modules

    return [list(item) for item in torch_modules.active_forbids()]


class Proxy:
    """A kernel object that is not plain data: call it, read attributes."""

    def __init__(self, handle, description):
        object.__setattr__(self, "_handle", int(handle))
        object.__setattr__(self, "_type", description.get("type", "object"))
        object.__setattr__(self, "_callable", description.get("callable"))

    def __call__(self, *args, **kwargs):
        if not object.__getattribute__(self, "_callable"):
            raise TypeError(
                f"'{object.__getattribute__(self, '_type')}' object is not "
                "callable"
            )
        handle = object.__getattribute__(self, "_handle")
        return _channel().call(handle, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        handle = object.__getattribute__(self, "_handle")
        reply = _channel().request(
            {"op": "getattr", "target": handle, "name": name}
        )
        return _channel().decode(reply["value"])

    def __len__(self):
        handle = object.__getattribute__(self, "_handle")
        reply = _channel().request(
            {"op": "getattr", "target": handle, "name": "__len__"}
        )
        return int(_channel().decode(reply["value"])())

    def __repr__(self):
        return f"<{object.__getattribute__(self, '_type')} of the student>"


class RemoteClassMeta(type):
    def __call__(cls, *args, **kwargs):
        return _channel().call(cls._remote_handle, args, kwargs)

    def __instancecheck__(cls, instance):
        return cls._remote_handle in getattr(instance, "_remote_classes", ())

    def __repr__(cls):
        return f"<class {cls.__qualname__} of the student>"


class RemoteClass(metaclass=RemoteClassMeta):
    """Stands for a class defined in the student's notebook."""

    _remote_handle = None

    @staticmethod
    def make(description):
        return RemoteClassMeta(
            str(description.get("name", "Student"))[:100],
            (RemoteClass,),
            {"_remote_handle": int(description["cls"])},
        )


# ------------------------------------------------------------ the server


def trusted_calls(assignment):
    """check name -> (grade_id, number of positional objects, literal
    keywords, keyword names taken from the kernel), from the source
    notebook's hidden blocks: what the kernel asks for cannot change
    which check runs, nor its thresholds."""
    from autograder import course

    path = course.SOLUTIONS / assignment / f"{assignment}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    calls = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        source = cell["source"]
        source = "".join(source) if isinstance(source, list) else source
        start = source.find("### BEGIN HIDDEN TESTS")
        end = source.find("### END HIDDEN TESTS")
        if start < 0 or end < 0:
            continue
        block = source[start:end]
        for node in ast.walk(ast.parse(block)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "_check"
            ):
                name = node.args[0].value
                literal, from_kernel = {}, []
                for keyword in node.keywords:
                    if isinstance(keyword.value, ast.Constant):
                        literal[keyword.arg] = keyword.value.value
                    else:
                        from_kernel.append(keyword.arg)
                calls[name] = (
                    meta["grade_id"],
                    len(node.args) - 1,
                    literal,
                    from_kernel,
                )
    return calls


def _failed(message):
    return {"op": "verdict", "passed": False, "message": message}


class Judge:
    """Listens on a Unix socket; runs one check per connection; keeps the
    verdict of each graded cell (the first one it sees)."""

    def __init__(self, assignment, path, timeout=600):
        self.assignment = assignment
        self.path = str(path)
        self.timeout = timeout
        self.calls = trusted_calls(assignment)
        self.verdicts = {}  # grade_id -> (passed, message)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.server.bind(self.path)
        os.chmod(self.path, 0o777)
        self.server.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.closed = False

    def start(self):
        self.thread.start()
        return self

    def close(self):
        self.closed = True
        # shutdown() wakes the accept() that close() alone would not.
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.server.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self.thread.join(timeout=5)

    def _serve(self):
        while not self.closed:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(self.timeout)
                try:
                    self._judge(conn)
                except Exception:  # a broken connection fails that cell
                    traceback.print_exc()

    def _judge(self, conn):
        from autograder.checks import CheckFailure

        start = _recv(conn)
        name = start.get("check") if isinstance(start, dict) else None
        if start.get("op") != "start" or name not in self.calls:
            _send(conn, _failed("unknown check"))
            return
        grade_id, count, literal, from_kernel = self.calls[name]
        if grade_id in self.verdicts:
            _send(conn, _failed("this test was judged already"))
            return
        self.verdicts[grade_id] = (False, "the check did not finish")
        channel = _Channel(conn)
        _local.channel = channel
        try:
            args = channel.decode(start.get("args", []))
            sent = channel.decode(start.get("kwargs", {}))
            if not isinstance(args, list) or len(args) != count:
                raise CheckFailure("the test cell was changed")
            kwargs = dict(literal)
            for key in from_kernel:
                if not isinstance(sent, dict) or key not in sent:
                    raise CheckFailure("the test cell was changed")
                kwargs[key] = sent[key]
            module_name, function = name.split(".")
            module = importlib.import_module(
                f"autograder.checks.{module_name}"
            )
            getattr(module, function)(*args, **kwargs)
            verdict = (True, "")
        except CheckFailure as error:
            verdict = (False, str(error))
        except (JudgeError, OSError) as error:
            verdict = (False, f"the check could not finish: {error}")
        except RemoteError as error:
            verdict = (
                False,
                f"your code raised {type(error).__name__}: {error}",
            )
        except Exception as error:  # the check tripped on odd output
            verdict = (
                False,
                f"your code's results could not be checked "
                f"({type(error).__name__}: {error})",
            )
        finally:
            _local.channel = None
        self.verdicts[grade_id] = verdict
        with contextlib.suppress(OSError, JudgeError):
            _send(
                conn,
                {
                    "op": "verdict",
                    "passed": verdict[0],
                    "message": verdict[1],
                },  # fmt: skip
            )
