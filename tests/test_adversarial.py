"""Submissions that try to game the grader, graded by the real command.

Each one carries the same wrong rnn_step_forward (the bias left out) as an
honest submission, ``honest_wrong``, plus a trick; no trick may earn a
point that honest_wrong does not. Others leave early, tamper with the
notebook's cells, or try to read what a student must not see.
"""

import html
import json

import pytest

from autograder import course
from grader_runs import rows_of, run_grader
from submissions import (
    REPO,
    cell_of,
    cut_training,
    make_submission,
    solution_sources,
)

WRONG_STEP = solution_sources("rnn")["rnn_step_forward"].replace(
    "x @ Wx + h_prev @ Wh + b)", "x @ Wx + h_prev @ Wh)"
)

TRICKS = {
    "rebinds_np_allclose": """
import numpy as np
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, bool)
""",
    "rebinds_np_testing": """
import numpy as np
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
""",
    "rebinds_torch_allclose": """
import torch
torch.allclose = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
""",
    "rebinds_builtins": """
import builtins
builtins.abs = lambda x: 0
builtins.AssertionError = type("Harmless", (Exception,), {})
builtins.print = lambda *a, **k: None
_real_isinstance = builtins.isinstance
""",
    "silences_errors": """
get_ipython().showtraceback = lambda *a, **k: None
get_ipython()._showtraceback = lambda *a, **k: None
""",
    "patches_the_checks": """
import autograder.judge
import autograder.judge.client
import autograder.judge.protocol
autograder.judge.check = lambda *a, **k: None
autograder.judge.client.check = lambda *a, **k: None
autograder.judge.client.KernelEnd.serve_until_return = (
    lambda self: {"passed": True}
)
autograder.judge.protocol.CheckFailure = type("Harmless", (Exception,), {})
try:
    import autograder.checks.rnn as _c
    for _name in dir(_c):
        if not _name.startswith("_"):
            setattr(_c, _name, lambda *a, **k: None)
except ImportError:
    pass
""",
}

# A step function whose outputs lie when compared.
LIAR = """
import numpy as np


class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), bool)

    def __abs__(self):
        return np.zeros(np.shape(self))

    def __array__(self, *args, **kwargs):
        return np.asarray(self.view(np.ndarray) * 0)


class Anything:
    shape = dtype = None

    def __eq__(self, other):
        return True

    def __abs__(self):
        return 0.0

    def __array__(self, *args, **kwargs):
        return np.zeros((2, 5))


def rnn_step_forward(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh).view(Liar)
    return h, (x, h_prev, Wx, Wh, h)


def rnn_forward(x, h0, Wx, Wh, b):
    return Anything(), None
"""

SNOOP = r"""
import glob, os, socket
found = []
for pattern in ["{repo}/solutions/*/*.ipynb",
                "{repo}/autograder/checks/rnn.py",
                "{repo}/autograder/judge/server.py",
                "{repo}/autograder/batch/journal.py",
                "{grades}/.autograder/course/gradebook.db", "{repo}/.git/HEAD",
                "{subs}/*/rnn/rnn.ipynb", "{grades}/*", "{grades}/*/*/*",
                "/tmp/seqbook-sbx-*/work/*.ipynb",
                "/tmp/seqbook-sbx-*/ipc/connection.json"]:
    for path in glob.glob(pattern):
        if path.startswith(os.path.dirname(os.getcwd()) + "/"):
            continue  # the kernel's own box
        try:
            with open(path, "rb") as f:
                f.read(10)
            found.append(path)
        except OSError:
            pass
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    found.append("network")
except OSError:
    pass
if found:
    raise RuntimeError("SNO" + "OPED " + " ".join(found))
print("snoop: nothing" + " reachable")
"""


def _edit(mutate):
    def edit(nb):
        mutate(nb["cells"])
        cut_training(nb)

    return edit


def _rewrite_test(cells):
    cell_of(cells, "test_rnn_step_forward")["source"] = "pass"


def _delete_test(cells):
    cells.remove(cell_of(cells, "test_rnn_step_forward"))


def _duplicate_grade_id(cells):
    fake = json.loads(json.dumps(cell_of(cells, "test_rnn_step_forward")))
    fake["source"] = "pass"
    fake["id"] = "fake"
    cells.append(fake)


def _more_points(cells):
    meta = cell_of(cells, "test_rnn_step_forward")["metadata"]["nbgrader"]
    meta["points"] = 100
    meta["checksum"] = "0" * 32


def _ungraded(cells):
    for cell in cells:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade"):
            meta["grade"] = False


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory):
    import http.server
    import threading

    root = tmp_path_factory.mktemp("adversarial")
    subs = root / "submitted"
    grades = root / "grades"
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    wrong = {"rnn_step_forward": WRONG_STEP}
    # Judged on their units: the applied part trains for one step (the
    # solution and the snoop, which must score full marks, train fully).
    quick = cut_training
    make_submission("rnn", subs / "solution")
    make_submission("rnn", subs / "honest_wrong", replace=wrong, edit=quick)
    for name, trick in TRICKS.items():
        make_submission(
            "rnn",
            subs / name,
            replace={"rnn_step_forward": trick + "\n" + WRONG_STEP},
            edit=quick,
        )
    make_submission(
        "rnn",
        subs / "lying_objects",
        replace={"rnn_step_forward": LIAR, "rnn_forward": "pass"},
        edit=quick,
    )
    forward = solution_sources("rnn")["rnn_forward"]
    make_submission(
        "rnn",
        subs / "raises_keyboard_interrupt",
        replace={"rnn_forward": "raise KeyboardInterrupt\n" + forward},
        edit=quick,
    )
    make_submission(
        "rnn",
        subs / "raises_system_exit",
        replace={"rnn_forward": "raise SystemExit(0)\n" + forward},
        edit=quick,
    )
    make_submission(
        "rnn",
        subs / "kills_the_kernel",
        replace={
            "rnn_forward": "import os, signal\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        },
        edit=quick,
    )
    for name, mutate in [
        ("rewrites_a_test_cell", _rewrite_test),
        ("deletes_a_test_cell", _delete_test),
        ("duplicates_a_grade_id", _duplicate_grade_id),
        ("changes_points_and_checksum", _more_points),
        ("marks_tests_ungraded", _ungraded),
    ]:
        make_submission("rnn", subs / name, replace=wrong, edit=_edit(mutate))
    snoop = SNOOP.format(
        repo=REPO, subs=subs, grades=grades, port=server.server_address[1]
    )
    make_submission("rnn", subs / "snoops", replace={
        "rnn_step_forward": snoop + "\n"
        + solution_sources("rnn")["rnn_step_forward"]})  # fmt: skip
    out = grades / "rnn.csv"
    result = run_grader("rnn", subs, out, "--jobs", "2", "--quiet")
    server.shutdown()
    return {
        "result": result,
        "rows": rows_of(out),
        "grades": grades,
        "feedback": grades / "feedback",
    }


def _score(rows, student):
    return float(rows[student]["score"])


def test_the_class_is_graded(adversarial):
    assert adversarial["result"].returncode == 0, adversarial["result"].stderr
    rows = adversarial["rows"]
    assert _score(rows, "solution") == 18
    assert rows["honest_wrong"]["test_rnn_step_forward"] == "0.0"
    assert 0 < _score(rows, "honest_wrong") < 18


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_trick_earns_nothing(adversarial, trick):
    rows = adversarial["rows"]
    assert rows[trick]["status"] == "graded"
    assert rows[trick]["test_rnn_step_forward"] == "0.0"
    assert _score(rows, trick) <= _score(rows, "honest_wrong")


def test_lying_objects_earn_nothing(adversarial):
    row = adversarial["rows"]["lying_objects"]
    assert row["test_rnn_step_forward"] == "0.0"
    assert row["test_rnn_forward"] == "0.0"
    assert row["test_rnn_backward"] == "0.0"


@pytest.mark.parametrize(
    "student", ["raises_keyboard_interrupt", "raises_system_exit"]
)
def test_leaving_a_cell_early_loses_only_what_depends_on_it(
    adversarial, student
):
    row = adversarial["rows"][student]
    assert row["status"] == "graded"
    assert row["test_rnn_forward"] == "0.0"
    assert row["test_rnn_step_forward"] == "2.0"


def test_killing_the_kernel_is_reported(adversarial):
    row = adversarial["rows"]["kills_the_kernel"]
    assert row["status"] == "kernel_died"
    assert _score(adversarial["rows"], "kills_the_kernel") == 0


@pytest.mark.parametrize(
    "student",
    [
        "rewrites_a_test_cell",
        "deletes_a_test_cell",
        "duplicates_a_grade_id",
        "changes_points_and_checksum",
        "marks_tests_ungraded",
    ],
)
def test_edited_cells_change_nothing(adversarial, student):
    rows = adversarial["rows"]
    row = rows[student]
    assert float(row["max_score"]) == 18
    assert row.get("test_rnn_step_forward") in ("0.0", "0")
    assert _score(rows, student) <= _score(rows, "honest_wrong")


def test_nothing_secret_is_reachable_from_the_kernel(adversarial):
    from autograder.worker.box import sandbox_available

    assert sandbox_available(), (
        "kernels cannot be sandboxed on this machine (needs root and Linux "
        "namespaces)"
    )
    row = adversarial["rows"]["snoops"]
    page = html.unescape(
        (adversarial["feedback"] / "rnn" / "snoops.html").read_text()
    )
    assert "SNOOPED" not in page, page[page.find("SNOOPED") :][:500]
    assert "snoop: nothing reachable" in page
    assert _score(adversarial["rows"], "snoops") == 18, row


def test_course_paths_exist(adversarial):
    # The snoop looks where the secrets really are.
    assert (REPO / "solutions" / "rnn" / "rnn.ipynb").exists()
    assert (REPO / "autograder" / "checks" / "rnn.py").exists()
    assert (REPO / "autograder" / "judge" / "server.py").exists()
    work = adversarial["grades"] / ".autograder"
    assert course.gradebook_path(course.course_folder(work)).exists()
