"""The judge's end of one test cell's connection: proxies of the
student's objects.

Judge side (the grading worker). A check runs here on stand-ins: a
:class:`Proxy` for a function or object, a :class:`RemoteClass` for a
class, a mirror (:mod:`autograder.judge.mirrors`) for a torch module.
Calling one sends the inputs to the kernel and decodes the outputs as
plain numbers, so nothing the student's code rebinds reaches the
comparison.
"""

import builtins
import sys
import threading

import numpy as np

from autograder.judge import protocol
from autograder.judge.protocol import CheckFailure, JudgeError

_local = threading.local()


def current():
    """The channel of the check running in this thread."""
    channel = getattr(_local, "channel", None)
    if channel is None:
        raise JudgeError("no kernel is connected")
    return channel


def attach(channel):
    """Make ``channel`` the current one of this thread (None: detach)."""
    _local.channel = channel


class RemoteError(Exception):
    """The student's code raised; its type and message."""


_REMOTE_TYPES = {}


def remote_exception(type_name, message):
    """An exception that stands for the student's ``type_name``."""
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


def _is_mirror(value):
    mirrors = sys.modules.get("autograder.judge.mirrors")
    return mirrors is not None and isinstance(value, mirrors.RemoteModule)


def _active_forbids():
    from autograder.judge import forbid

    return [list(item) for item in forbid.active_forbids()]


class Channel(protocol.Codec):
    """The judge's end of one test cell's connection."""

    side = protocol.JUDGE

    def __init__(self, sock):
        super().__init__()
        self.sock = sock
        self.proxies = {}  # kernel handle -> proxy
        self.calls = 0

    # -- judge values for the kernel
    def encode(self, value, memo=None):
        memo = {} if memo is None else memo
        if isinstance(value, Proxy):
            return {"ref": object.__getattribute__(value, "_handle")}
        if isinstance(value, RemoteClass) or _is_mirror(value):
            return {"ref": value._remote_handle}
        if isinstance(value, np.random.Generator):
            return {"rng": value.bit_generator.state}
        encoded = self.encode_data(value, memo)
        if encoded is not protocol.NOT_DATA:
            return encoded
        if callable(value):
            return {"cb": self.handle(value)}
        raise TypeError(f"cannot send a {type(value).__name__} to the kernel")

    # -- kernel values: data, or proxies of kernel objects
    def decode_student_class(self, value, leaves):
        return self.proxy(value["cls"], lambda: RemoteClass.make(value))

    def decode_student_module(self, value, leaves):
        return self.module(value["mod"])

    def decode_student_object(self, value, leaves):
        return self.proxy(value["h"], lambda: Proxy(value["h"], value))

    def proxy(self, handle, make):
        handle = int(handle)
        if handle not in self.proxies:
            self.proxies[handle] = make()
        return self.proxies[handle]

    def module(self, description):
        handle = int(description["h"])
        if handle in self.proxies:
            return self.proxies[handle]
        from autograder.judge.mirrors import RemoteModule

        module = RemoteModule(description, self)
        self.proxies[handle] = module
        return module

    # -- requests
    def request(self, message):
        """Send a request; run the kernel's callbacks until its answer."""
        protocol.send(self.sock, message)
        while True:
            reply = protocol.recv(self.sock)
            op = reply.get("op")
            if op == "return":
                return reply
            if op == "raise":
                raise remote_exception(
                    str(reply.get("type", "Exception")),
                    str(reply.get("message", "")),
                )
            if op == "callback":
                self.run_callback(reply)
                continue
            raise JudgeError(f"unexpected message {op!r} from the kernel")

    def run_callback(self, message):
        function = self.objects.get(message.get("cb"))
        if function is None:
            raise JudgeError("unknown callback")
        try:
            args = self.decode(message.get("args", []))
            kwargs = self.decode(message.get("kwargs", {}))
            result = function(*args, **kwargs)
            reply = {"op": "return", "value": self.encode(result)}
        except CheckFailure as error:
            reply = {"op": "raise", "message": str(error)}
        except JudgeError:
            raise
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            reply = {"op": "raise", "message": message}
        protocol.send(self.sock, reply)

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
        torch = protocol.torch_module()
        if not (torch.is_grad_enabled() and grad_inputs):
            message["grad"] = False
            reply = self.request(message)
            self.write_back(args, kwargs, reply)
            return self.decode(reply["value"])
        message["grad"] = True
        from autograder.judge.mirrors import RemoteCall

        leaves = inputs + list(params)
        return RemoteCall.run(self, message, leaves, args, kwargs)

    def write_back(self, args, kwargs, reply):
        """Copy the kernel's in-place changes of the arguments into the
        judge's objects, so a check sees what the student's code did."""
        for path, encoded in reply.get("mutated", []):
            target = [list(args), kwargs]
            try:
                for key in path:
                    target = target[key]
            except (KeyError, IndexError, TypeError):
                continue
            _overwrite(target, self.decode(encoded))


def _overwrite(target, value):
    """Give ``target`` (an array, tensor or dict) the content ``value``."""
    if isinstance(target, np.ndarray) and isinstance(value, np.ndarray):
        if target.shape != value.shape:
            target.resize(value.shape, refcheck=False)
        target[...] = value
    elif protocol.is_tensor(target) and protocol.is_tensor(value):
        with protocol.torch_module().no_grad():
            if target.shape == value.shape:
                target.copy_(value)
            else:
                target.data = value
    elif isinstance(target, dict) and isinstance(value, dict):
        target.clear()
        target.update(value)


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
        return current().call(handle, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        handle = object.__getattribute__(self, "_handle")
        return _remote_attribute(handle, name)

    def __len__(self):
        handle = object.__getattribute__(self, "_handle")
        return int(_remote_attribute(handle, "__len__")())

    def __repr__(self):
        return f"<{object.__getattribute__(self, '_type')} of the student>"


def _remote_attribute(handle, name):
    channel = current()
    reply = channel.request({"op": "getattr", "target": handle, "name": name})
    return channel.decode(reply["value"])


class RemoteClassMeta(type):
    def __call__(cls, *args, **kwargs):
        return current().call(cls._remote_handle, args, kwargs)

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
