"""The judge's wire format, without nbgrader: every tag of the table
travels and comes back as what it was; each side refuses the tags that
are not sent its way; a conversation over a real socket computes values
and gradients on the kernel's side."""

import contextlib
import json
import socket
import threading

import numpy as np
import pytest
import torch

from autograder.judge import channel as channels
from autograder.judge import protocol
from autograder.judge.channel import Channel, Proxy
from autograder.judge.client import KernelEnd
from autograder.judge.protocol import TAGS, JudgeError


class Student:
    """An object of the student's that is not plain data."""

    def __init__(self):
        self.answer = 42


def tags_of(encoded):
    """Every tag used anywhere in an encoded value."""
    found = set()
    if isinstance(encoded, dict):
        found |= set(encoded) & set(TAGS)
        for value in encoded.values():
            found |= tags_of(value)
    elif isinstance(encoded, list):
        for value in encoded:
            found |= tags_of(value)
    return found


def over_json(encoded):
    """What the other side receives: the message through JSON."""
    return json.loads(json.dumps(encoded, allow_nan=True))


@pytest.fixture
def ends():
    """A kernel end and a judge end (no socket: values only)."""
    return KernelEnd(None), Channel(None)


def test_every_tag_of_the_table_is_sent_and_decoded(ends):
    kernel, judge = ends
    seen = set()
    tensor = torch.arange(6.0).reshape(2, 3).requires_grad_()
    student = Student()
    module = torch.nn.Linear(3, 2)
    from_kernel = kernel.encode(
        [
            np.arange(6.0).reshape(2, 3),
            np.float32(2.5),
            tensor,
            (1, "two", None),
            {"key": [True, 3.0]},
            Student,
            module,
            student,
        ]
    )
    seen |= tags_of(from_kernel)
    array, scalar, t, tup, d, cls, mirror, proxy = judge.decode(
        over_json(from_kernel)
    )
    assert np.array_equal(array, np.arange(6.0).reshape(2, 3))
    assert scalar == np.float32(2.5) and scalar.dtype == np.float32
    assert torch.equal(t, tensor.detach()) and not t.requires_grad
    assert tup == (1, "two", None) and d == {"key": [True, 3.0]}
    assert isinstance(cls, channels.RemoteClassMeta)
    assert isinstance(proxy, Proxy)
    assert dict(mirror.named_parameters()).keys() == {"weight", "bias"}

    shared = torch.ones(2, requires_grad=True)
    callback = lambda x: x  # noqa: E731
    rng = np.random.default_rng(5)
    from_judge = judge.encode([proxy, mirror, callback, rng, shared, shared])
    seen |= tags_of(from_judge)
    leaves = {}
    back = kernel.decode(over_json(from_judge), leaves)
    assert back[0] is student and back[1] is module
    assert callable(back[2])
    expected = np.random.default_rng(5).random(4)
    assert np.array_equal(back[3].random(4), expected)
    assert back[4] is back[5] and back[4].requires_grad
    assert list(leaves.values()) == [back[4]]
    assert seen == set(TAGS), f"tags never sent: {set(TAGS) - seen}"


def test_a_side_refuses_the_tags_not_sent_its_way(ends):
    kernel, judge = ends
    with pytest.raises(JudgeError, match="unexpected tensor reference"):
        judge.decode({"tref": 0})
    for tag in ("cls", "mod", "h"):
        with pytest.raises(JudgeError, match="unexpected student"):
            kernel.decode({tag: 1})
    with pytest.raises(JudgeError, match="unknown value"):
        judge.decode({"pickle": "..."})
    payload = protocol.array_payload(np.zeros(2))
    with pytest.raises(JudgeError, match="not accepted"):
        judge.decode({"nd": dict(payload, dtype="object")})
    with pytest.raises(JudgeError, match="does not match its shape"):
        judge.decode({"nd": dict(payload, shape=[3])})


def test_objects_that_are_not_data_stay_on_their_side(ends):
    kernel, judge = ends
    encoded = kernel.encode(np.array([object()], dtype=object))
    assert set(encoded) == {"h", "type", "callable"}
    with pytest.raises(TypeError, match="cannot send"):
        judge.encode(object())


def test_messages_are_framed_by_their_length():
    left, right = socket.socketpair()
    with left, right:
        protocol.send(left, {"op": "return", "value": "x" * 100000})
        protocol.send(left, {"op": "verdict", "passed": True})
        assert protocol.recv(right)["value"] == "x" * 100000
        assert protocol.recv(right)["passed"] is True
        left.sendall((protocol.MAX_MESSAGE + 1).to_bytes(8, "big"))
        with pytest.raises(JudgeError, match="too large"):
            protocol.recv(right)


@contextlib.contextmanager
def conversation(student_function, passed):
    """A kernel serving ``student_function`` in a thread, over a socket
    pair; yields the judge's proxy of it, then gives the verdict
    ``passed``. The verdict the kernel received goes in ``served``."""
    kernel_sock, judge_sock = socket.socketpair()
    kernel = KernelEnd(kernel_sock)
    handle = kernel.encode(student_function)
    served = {}
    thread = threading.Thread(
        target=lambda: served.setdefault("end", kernel.serve_until_return())
    )
    thread.start()
    judge = Channel(judge_sock)
    channels.attach(judge)
    try:
        yield judge.decode(over_json(handle)), served
        protocol.send(judge_sock, {"op": "verdict", "passed": passed})
    finally:
        channels.attach(None)
        thread.join(timeout=10)
        kernel_sock.close()
        judge_sock.close()


def test_a_conversation_computes_values_and_gradients_in_the_kernel():
    """The judge calls a student function through a proxy; the kernel
    runs it, sends back the value, then the gradient of the same graph."""
    calls = []

    def student_square(x):
        calls.append(x)
        return (x**2).sum(), x * 3

    with conversation(student_square, True) as (square, served):
        x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
        x.requires_grad_()
        total, triple = square(x)
        assert float(total.detach()) == 14.0
        assert torch.equal(triple, 3 * x.detach())
        total.backward()
        assert torch.equal(x.grad, 2 * x.detach())
        assert len(calls) == 1  # the student's code ran in the kernel
    assert served["end"]["passed"] is True


def test_a_student_exception_arrives_as_a_remote_error():
    def student_broken(x):
        raise ValueError("shapes do not match")

    with conversation(student_broken, False) as (broken, served):
        with pytest.raises(ValueError, match="shapes do not match") as error:
            broken(np.zeros(2))
        assert isinstance(error.value, channels.RemoteError)
    assert served["end"]["passed"] is False
