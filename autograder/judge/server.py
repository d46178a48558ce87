"""The judge: a Unix socket server in the grading worker.

Judge side. While nbgrader runs a notebook, each hidden block's
``check(...)`` connects here; the judge runs the check function of
``autograder.checks`` in its own process on proxies of the student's
objects (:mod:`autograder.judge.channel`) and keeps one verdict per graded
cell. What the kernel asks for cannot change which check runs nor its
thresholds: both come from the source notebook's hidden blocks
(:func:`trusted_calls`), never from the student's copy.
"""

import ast
import contextlib
import os
import socket
import threading
import traceback

from autograder import course, notebooks
from autograder.judge import channel as channels
from autograder.judge import protocol
from autograder.judge.protocol import CheckFailure, JudgeError


_CALLS = {}  # (path, mtime, size) -> trusted calls: read once per worker


def trusted_calls(assignment, source=None):
    """check name -> (grade_id, number of positional objects, literal
    keywords, keyword names taken from the kernel), from the source
    notebook's hidden blocks (parsed again when the file changes)."""
    path = course.source_path(assignment, source).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _CALLS:
        _CALLS[key] = _parse_calls(assignment, source)
    return dict(_CALLS[key])


def _parse_calls(assignment, source):
    calls = {}
    for grade_id, text in notebooks.test_cells(
        notebooks.read_source(assignment, source)
    ):
        for block in notebooks.hidden_blocks(text):
            for node in ast.walk(ast.parse(block)):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "_check"
                ):
                    calls[node.args[0].value] = _trusted(grade_id, node)
    return calls


def _trusted(grade_id, node):
    literal, from_kernel = {}, []
    for keyword in node.keywords:
        if isinstance(keyword.value, ast.Constant):
            literal[keyword.arg] = keyword.value.value
        else:
            from_kernel.append(keyword.arg)
    return (grade_id, len(node.args) - 1, literal, from_kernel)


def _failed(message):
    return {"op": "verdict", "passed": False, "message": message}


class Judge:
    """Listens on a Unix socket; runs one check per connection; keeps the
    verdict of each graded cell (the first one it sees)."""

    def __init__(self, assignment, path, timeout=600, source=None):
        self.assignment = assignment
        self.path = str(path)
        self.timeout = timeout
        self.calls = trusted_calls(assignment, source)
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
        start = protocol.recv(conn)
        name = start.get("check") if isinstance(start, dict) else None
        if start.get("op") != "start" or name not in self.calls:
            protocol.send(conn, _failed("unknown check"))
            return
        grade_id = self.calls[name][0]
        if grade_id in self.verdicts:
            protocol.send(conn, _failed("this test was judged already"))
            return
        self.verdicts[grade_id] = (False, "the check did not finish")
        verdict = self._run(name, start, channels.Channel(conn))
        self.verdicts[grade_id] = verdict
        with contextlib.suppress(OSError, JudgeError):
            protocol.send(
                conn,
                {"op": "verdict", "passed": verdict[0], "message": verdict[1]},
            )

    def _run(self, name, start, channel):
        """(passed, message) of the check ``name`` on the kernel's objects."""
        _, count, literal, from_kernel = self.calls[name]
        channels.attach(channel)
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
            protocol.check_function(name)(*args, **kwargs)
            return (True, "")
        except Exception as error:
            return (False, _message(error))
        finally:
            channels.attach(None)


def _message(error):
    """What the feedback says when a check did not pass."""
    if isinstance(error, CheckFailure):
        return str(error)
    if isinstance(error, (JudgeError, OSError)):
        return f"the check could not finish: {error}"
    if isinstance(error, channels.RemoteError):
        return f"your code raised {type(error).__name__}: {error}"
    # the check tripped on odd output
    return (
        f"your code's results could not be checked "
        f"({type(error).__name__}: {error})"
    )
