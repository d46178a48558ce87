"""Every resource bounded, through the real grading command: a submission
that forks without end, starts threads without end, fills its disk,
makes files without end or opens files without end gets a row whose
status says so, and the solution graded beside them gets full marks.

Bounded: the kernels' disk is a tmpfs of 64 MB and 2000 files (never
this machine's disk), one file at most 64 MB, 128 processes and threads,
256 open files; a cell may run 15 s. Needs the sandbox (Linux, root,
bubblewrap), as CI has.
"""

import html

import pytest

from autograder.job import STATUSES
from grader_runs import records_of, rows_of, run_grader
from submissions import REPO, make_submission, solution_sources

pytestmark = pytest.mark.slow

# student -> (code in rnn_forward's cell, status, words of the detail)
GREEDY = {
    "fork_bomb": (
        "import os\nwhile True:\n    os.fork()\n",
        "processes",
        "limit 128",
    ),
    "thread_bomb": (
        "import threading, time\nwhile True:\n"
        "    threading.Thread(target=time.sleep, args=(600,)).start()\n",
        "processes",
        "limit 128",
    ),
    "fills_the_disk": (
        'with open("/tmp/big", "wb") as f:\n'
        "    while True:\n"
        '        f.write(b"x" * 2**20)\n',
        "disk",
        "64 MB",
    ),
    "one_huge_file": (
        'with open("huge", "wb") as f:\n'
        "    f.seek(2**40)\n"
        '    f.write(b"x")\n',
        "disk",
        "64 MB",
    ),
    "makes_files": (
        "import itertools\nfor i in itertools.count():\n"
        '    open(f"f{i}", "w").close()\n',
        "disk",
        "2000 files",
    ),
    "opens_files": (
        'held = []\nwhile True:\n    held.append(open("/dev/null"))\n',
        "open_files",
        "limit 256",
    ),
}


@pytest.fixture(scope="module")
def greedy(tmp_path_factory):
    from autograder.worker.box import sandbox_probe

    assert sandbox_probe().mode == "root", sandbox_probe().reason
    root = tmp_path_factory.mktemp("limits")
    subs, out = root / "submitted", root / "grades" / "rnn.csv"
    make_submission("rnn", subs / "solution")
    # Quick notebooks: the first function solved, the greedy code in the
    # second, the rest as released (it fails at once).
    step = solution_sources("rnn")["rnn_step_forward"]
    for student, (code, _, _) in GREEDY.items():
        make_submission(
            "rnn",
            subs / student,
            solved=False,
            replace={"rnn_step_forward": step, "rnn_forward": code},
        )
    result = run_grader(
        "rnn", subs, out, "--jobs", "2", "--cell-timeout", "15",
        "--disk-limit", "64M", "--max-files", "2000",
        "--max-processes", "128", "--max-open-files", "256",
    )  # fmt: skip
    rows, records = rows_of(out), records_of(out)
    return {"result": result, "rows": rows, "records": records, "out": out}


@pytest.mark.parametrize("student", sorted(GREEDY))
def test_a_greedy_submission_gets_the_status_of_its_limit(greedy, student):
    _, status, words = GREEDY[student]
    assert greedy["result"].returncode == 0, greedy["result"].stderr[-3000:]
    row, record = greedy["rows"][student], greedy["records"][student]
    assert row["status"] == status, record["detail"]
    assert words in record["detail"]
    # The cells before the greedy one are graded as usual.
    assert row["test_rnn_step_forward"] == "2.0"
    assert row["test_rnn_forward"] == "0.0"
    page = greedy["out"].parent / "feedback" / "rnn" / f"{student}.html"
    assert page.exists()


def test_the_rest_of_the_batch_is_graded_normally(greedy):
    row = greedy["rows"]["solution"]
    assert row["status"] == "graded"
    assert float(row["score"]) == float(row["max_score"]) == 18


def test_the_summary_names_each_limit(greedy):
    stdout = greedy["result"].stdout
    for status in ("processes", "disk", "open_files"):
        assert f" {status}" in stdout


def test_the_readme_lists_every_status():
    """The README's table of statuses holds exactly the grader's."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| status | meaning |") :]
    table = table[: table.index("\n\n")]
    listed = set()
    for line in table.splitlines()[2:]:
        cell = line.split("|")[1]
        listed |= {
            html.unescape(s.strip().strip("`")) for s in cell.split(",")
        }
    assert listed == set(STATUSES)
