"""The kernel's sandbox, from inside, through the real grading command.

A submission walks the whole file system from ``/`` (for a bounded time)
and reports what it visited, what it could write and which processes it
could see, while another full clone of this repository (with a
gradebook and an nbgrader course) lies in the temporary folder and in a
home folder made for the test, and another student's kernel runs beside
it. It must find the Python installation, and none of: a solution
notebook, a gradebook, another submission, the checks' source, a
repository; it may write only into its box and its /tmp; it sees only its
own processes; it has no network. Runs where kernels can be sandboxed
(Linux, root, bubblewrap: the README's full protection, and CI).
"""

import html
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from submissions import REPO, make_submission, solution_sources

pytestmark = pytest.mark.slow

TOKEN = f"seqbook-secret-{uuid.uuid4().hex[:8]}"

WALKER = r"""
import json, os, socket, time
NEEDLES = {needles!r}
TEXT = (".py", ".ipynb", ".json", ".csv", ".html", ".md", ".yml", ".txt",
        ".db")
report = dict(files=0, folders=0, finished=False, python=[], found=[],
              writable=[], processes={{}}, network=False)
deadline = time.monotonic() + {seconds}

def note(path, why):
    if len(report["found"]) < 500:
        report["found"].append(f"{{path}}: {{why}}")

def look(path, name):
    if {token!r} in name:
        note(path, "a clone's folder")
    if name in (".git", "solutions"):
        note(path, "a course's file")
    if not name.endswith(TEXT):
        return
    try:
        if os.path.getsize(path) > 2 * 2**20:
            return
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return
    for needle in NEEDLES:
        if needle.encode() in data:
            note(path, "holds " + needle)

walks = [os.walk(top) for top in {tops!r}]
for root, dirs, files in (entry for walk in walks for entry in walk):
    if time.monotonic() > deadline:
        break
    if root in ("/proc", "/sys", "/dev"):
        dirs[:] = []
        continue
    report["folders"] += 1
    try:
        probe = os.path.join(root, ".write-probe")
        with open(probe, "x"):
            pass
        os.unlink(probe)
        report["writable"].append(root)
    except OSError:
        pass
    for name in dirs + files:
        look(os.path.join(root, name), name)
    for name in files:
        report["files"] += 1
        if name == "os.py":
            report["python"].append(os.path.join(root, name))
else:
    report["finished"] = True
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open(f"/proc/{{pid}}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            report["processes"][pid] = os.path.basename(argv[0].decode())
        except OSError as error:
            report["processes"][pid] = str(error)
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    report["network"] = True
except OSError:
    pass
# Split so that the source shown in the feedback does not hold them.
print("WALK" + "ED " + json.dumps(report) + " :WALK" + "ED")
"""


def walker_code(tops, marker, port):
    """The walker's code: it walks ``tops`` and looks for ``marker``
    (another student's), the hidden tests, the checks and the judge."""
    # A hidden test's call names its check: rnn.clip_grad_norm.
    needles = [marker, "rnn.clip_grad_norm", "def rnn_step_forward(student"]
    needles += ["def trusted_calls(", "class Judge:"]
    return WALKER.format(
        tops=tops, needles=needles, seconds=150, token=TOKEN, port=port
    )


def report_of(text):
    """The walker's report in what it printed (a page or its stdout)."""
    start = text.index("WALKED ") + len("WALKED ")
    return json.loads(text[start : text.index(" :WALKED", start)])


def _clone(where):
    """A full clone of this repository at ``where``, with a gradebook and
    an nbgrader course of its own (solutions in ``source/``)."""
    subprocess.run(
        ["git", "clone", "--quiet", str(REPO), str(where)],
        check=True,
        capture_output=True,
    )
    course = where / "nbgrader-course"
    shutil.copytree(where / "solutions", course / "source")
    # A gradebook holds the hidden tests, as nbgrader's does.
    hidden = (where / "solutions" / "rnn" / "rnn.ipynb").read_bytes()
    (course / "gradebook.db").write_bytes(b"SQLite format 3\0" + hidden)
    (where / "grades" / ".autograder" / "course").mkdir(parents=True)
    shutil.copy(course / "gradebook.db", where / "grades" / ".autograder")


@pytest.fixture(scope="module")
def clones():
    """Two clones of the repository, in the temporary folder and in a
    home folder made (and removed) for the test."""
    if os.geteuid() != 0:
        pytest.skip("the test makes a home folder in /home: needs root")
    home_root = Path("/home")
    made_root = not home_root.exists()
    places = [Path("/tmp") / f"{TOKEN}-clone", home_root / TOKEN / "course"]
    try:
        for place in places:
            place.parent.mkdir(parents=True, exist_ok=True)
            _clone(place)
        yield places
    finally:
        shutil.rmtree(places[0], ignore_errors=True)
        shutil.rmtree(home_root / TOKEN, ignore_errors=True)
        if made_root:
            shutil.rmtree(home_root, ignore_errors=True)


@pytest.fixture(scope="module")
def walked(clones, tmp_path_factory):
    """The walker's report, and the other student's, graded together."""
    import http.server
    import threading

    from autograder.worker.box import sandbox_probe

    probe = sandbox_probe()
    assert probe.mode == "root", (
        f"no full sandbox here (mode {probe.mode}): {probe.reason}"
    )
    root = tmp_path_factory.mktemp("sandbox")
    subs, out = root / "submitted", root / "grades" / "rnn.csv"
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    marker = f"other-student-{TOKEN}"
    walker = walker_code(["/"], marker, server.server_address[1])
    # Quick notebooks: the first function (after the walk, or a pause that
    # keeps the other kernel alive beside the walker), the rest as
    # released.
    step = solution_sources("rnn")["rnn_step_forward"]
    make_submission("rnn", subs / "walker", solved=False, replace={
        "rnn_step_forward": walker + "\n" + step})  # fmt: skip
    make_submission("rnn", subs / "other", solved=False, replace={
        "rnn_step_forward": f"# {marker}\nimport time\ntime.sleep(20)\n"
        + step})  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "rnn", str(subs),
         "--out", str(out), "--jobs", "2", "--cell-timeout", "300",
         "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    server.shutdown()
    page = out.parent / "feedback" / "rnn" / "walker.html"
    report = report_of(html.unescape(page.read_text(encoding="utf-8")))
    return {"result": result, "report": report, "out": out, "clones": clones}


def test_the_walk_covers_the_whole_file_system_it_sees(walked):
    report = walked["report"]
    assert walked["result"].returncode == 0, walked["result"].stderr[-3000:]
    assert report["finished"], f"the walk ran out of time: {report}"
    assert report["files"] > 10_000, report["files"]
    # It reached the Python installation (the base and the venv's).
    stdlib = Path(os.__file__).resolve()
    assert str(stdlib) in report["python"], report["python"][:10]


def test_no_secret_is_in_reach(walked):
    """No solution notebook, gradebook (the grader's, or either clone's:
    they hold the hidden tests), other submission, checks source or
    repository."""
    for clone in walked["clones"]:
        assert (clone / "solutions" / "rnn" / "rnn.ipynb").exists()
        assert (clone / ".git").is_dir()
    found = walked["report"]["found"]
    assert found == [], "\n".join(found)


def test_it_writes_only_into_its_box_and_tmp(walked):
    writable = walked["report"]["writable"]
    assert writable, "not even its own folders were writable"
    assert "/tmp" in writable
    box = [w for w in writable if w.startswith("/tmp/seqbook-sbx-")]
    assert {Path(w).name for w in box} >= {"work", "home", "ipc"}
    assert all(w == "/tmp" or w.startswith("/tmp/") for w in writable), (
        writable
    )


def test_it_sees_only_its_own_processes(walked):
    """pid 1 is the sandbox's init (bwrap), pid 2 the kernel; not the
    grader, not the other student's kernel beside it."""
    processes = walked["report"]["processes"]
    assert set(processes) == {"1", "2"}, processes
    assert processes["1"] == "bwrap" and processes["2"].startswith("python")


def test_it_has_no_network(walked):
    assert walked["report"]["network"] is False


def test_the_other_student_was_graded_beside_it(walked):
    import csv

    with open(walked["out"], newline="", encoding="utf-8") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    for student in ("other", "walker"):
        assert rows[student]["status"] == "graded"
        assert rows[student]["test_rnn_step_forward"] == "2.0"


def test_the_walker_finds_the_secrets_where_they_are(clones, tmp_path):
    """The control: outside a sandbox, the same walker finds the clones,
    their solutions, gradebooks and checks, the grader's own checks and
    an other student's notebook."""
    other = make_submission("rnn", tmp_path / "other", replace={
        "rnn_step_forward": f"# other-student-{TOKEN}\n"})  # fmt: skip
    tops = [str(c) for c in clones] + [str(REPO / "autograder")]
    tops.append(str(other.parent))
    code = walker_code(tops, f"other-student-{TOKEN}", 1)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    found = "\n".join(report_of(result.stdout)["found"])
    for clone in clones:
        assert f"{clone}/.git: a course's file" in found
        assert f"{clone}/solutions: a course's file" in found
        solution = clone / "solutions" / "rnn" / "rnn.ipynb"
        assert f"{solution}: holds rnn.clip_grad_norm" in found
        gradebook = clone / "nbgrader-course" / "gradebook.db"
        assert f"{gradebook}: holds rnn.clip_grad_norm" in found
    checks = REPO / "autograder" / "checks" / "rnn.py"
    assert f"{checks}: holds def rnn_step_forward(student" in found
    judge = REPO / "autograder" / "judge" / "server.py"
    assert f"{judge}: holds class Judge:" in found
    assert f"{other}: holds other-student-{TOKEN}" in found
