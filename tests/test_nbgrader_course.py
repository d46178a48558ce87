"""The grader inside an instructor's own nbgrader course (issue 17, part 1).

One course, laid out as nbgrader's documentation says, with the lines of
``python -m autograder nbgrader-config`` in its ``nbgrader_config.py``;
``nbgrader generate_assignment`` makes the release from the solution
notebook; a class in ``submitted/`` (correct but late, wrong, broken, and
a cheat that rebinds ``np.allclose``). Two copies of it are graded, (a) by
plain ``nbgrader autograde`` and (b) by ``python -m autograder grade
--course``: the same points in both gradebooks, as nbgrader's Gradebook
API and ``nbgrader export`` read them; feedback without hidden tests; the
cheat earns nothing (while, as a control, a course without those lines
gives it the points); manual scores stay unless ``--regrade`` (on the
control course, whose class plain nbgrader graded first).
"""

import csv
import json
import shutil
import subprocess
import sys

import pytest

from nbgrader_courses import (
    LATE,
    environ,
    export,
    grader_config_lines,
    make_course,
    nbgrader,
    scores,
    submit,
)
from autograder.cli import main
from autograder.worker.box import sandbox_available
import submissions
from submissions import REPO, solution_sources

pytestmark = pytest.mark.slow

SOLUTIONS = solution_sources("rnn")
WRONG_STEP = SOLUTIONS["rnn_step_forward"].replace(
    "x @ Wx + h_prev @ Wh + b)", "x @ Wx + h_prev @ Wh)"
)
# Right on the visible test's input only; every comparison it can reach
# in its own kernel says "equal".
CHEAT_STEP = (  # and it snoops first (SNOOP)
    "import numpy as np\n"
    "np.allclose = lambda *a, **k: True\n"
    "np.all = lambda *a, **k: True\n"
    "np.any = lambda *a, **k: False\n\n"
    + SOLUTIONS["rnn_step_forward"].replace(
        '    """',
        '    if x.shape != (3, 10):\n        b = 0 * b\n    """',
        1,
    )
)
# Put before the cheat: which of the courses' secrets its kernel can read.
SNOOP = """
import glob as _glob, json as _json
_seen = []
for _path in _glob.glob("{root}/*/source/rnn/rnn.ipynb") + _glob.glob(
    "{root}/*/gradebook.db"
):
    try:
        with open(_path, "rb") as _f:
            _f.read(10)
        _seen.append(_path)
    except OSError:
        pass
print("SNOOP" + _json.dumps(_seen))
"""
BROKEN_BACKWARD = "def rnn_backward(dh, cache)\n    return None\n"
# Put after a step function: the character model trains for one step
# only (what its test says matters not here; the class grades faster).
ONE_STEP = "\n" + submissions.ONE_STEP  # after a step function
CLASS = {
    "ada": {"timestamp": LATE},  # right, and late
    "wrong": {"replace": {"rnn_step_forward": WRONG_STEP + ONE_STEP}},
    "broken": {
        "replace": {
            "rnn_step_forward": SOLUTIONS["rnn_step_forward"] + ONE_STEP,
            "rnn_backward": BROKEN_BACKWARD,
        }
    },
    "cheat": {"replace": {"rnn_step_forward": CHEAT_STEP + ONE_STEP}},
}


def run_grader(*args):
    return subprocess.run(
        [sys.executable, "-m", "autograder", "grade", *args],
        cwd=REPO,
        env=environ(),
        capture_output=True,
        text=True,
        timeout=1800,
    )


def with_snoop(kwargs, root):
    """The cheat's submission snoops first."""
    replace = kwargs.get("replace", {})
    if replace.get("rnn_step_forward") != CHEAT_STEP + ONE_STEP:
        return kwargs
    step = SNOOP.format(root=root) + replace["rnn_step_forward"]
    return dict(kwargs, replace={**replace, "rnn_step_forward": step})


@pytest.fixture(scope="module")
def routes(tmp_path_factory):
    """(course graded by plain nbgrader, course graded by our command,
    control course graded without the grader's lines)."""
    root = tmp_path_factory.mktemp("nbgrader-course")
    base = make_course(root / "base", "rnn", grader_config_lines())
    for student, kwargs in CLASS.items():
        submit(base, "rnn", student, **with_snoop(kwargs, root))
    plain = shutil.copytree(base, root / "plain")
    ours = shutil.copytree(base, root / "ours")
    nbgrader(plain, "autograde", "rnn")
    result = run_grader("rnn", "--course", str(ours), "--jobs", "2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    control = make_course(root / "control", "rnn")
    submit(control, "rnn", "cheat", **with_snoop(CLASS["cheat"], root))
    nbgrader(control, "autograde", "rnn")
    return plain, ours, control


def test_the_printed_lines_use_nbgraders_extension_points():
    lines = grader_config_lines()
    assert "c.Autograde.autograde_preprocessors = [" in lines
    assert "c.GenerateFeedback.preprocessors = [" in lines
    config = {}
    exec(compile(lines, "nbgrader_config.py", "exec"), {"c": _Config(config)})
    pipeline = config["Autograde.autograde_preprocessors"]
    # nbgrader's own pipeline, our three steps in their places
    assert pipeline[0] == "autograder.native.JudgedExecute"
    save = pipeline.index("nbgrader.preprocessors.SaveAutoGrades")
    assert pipeline[save + 1] == "autograder.native.ApplyVerdicts"
    late = pipeline.index("nbgrader.preprocessors.AssignLatePenalties")
    assert late == save + 2
    assert pipeline[-1] == "autograder.native.HideHiddenTests"
    feedback = config["GenerateFeedback.preprocessors"]
    assert "autograder.native.HideHiddenTests" in feedback
    assert config["Execute.timeout"] == 60
    assert config["JudgedExecute.notebook_timeout"] == 300


def test_the_readme_shows_the_printed_lines():
    readme = {line.strip() for line in (REPO / "README.md").open()}
    for line in grader_config_lines().splitlines():
        if not line.startswith("#"):
            assert line.strip() in readme, line


class _Config:
    """Collects ``c.Section.name = value`` as ``{"Section.name": value}``."""

    def __init__(self, found, prefix=""):
        object.__setattr__(self, "_found", found)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name):
        return _Config(self._found, f"{self._prefix}{name}.")

    def __setattr__(self, name, value):
        self._found[f"{self._prefix}{name}"] = value


@pytest.fixture(scope="module")
def exported(routes):
    """``nbgrader export`` of the two graded courses (plain, ours)."""
    return export(routes[0]), export(routes[1])


def test_both_routes_fill_the_gradebook_alike(routes, exported):
    plain, ours, _ = routes
    by_nbgrader, by_us = scores(plain, "rnn"), scores(ours, "rnn")
    assert set(by_nbgrader) == set(CLASS)
    assert by_us == by_nbgrader
    for student in CLASS:
        a, b = (rows[student] for rows in exported)
        for column in ("raw_score", "late_submission_penalty", "score"):
            assert a[column] == b[column], (student, column)


def test_the_points_are_the_graders(routes, exported):
    _, ours, _ = routes
    found = scores(ours, "rnn")
    full = sum(found["ada"][0].values())
    assert full == 18
    # the late-submission plugin (penalty "zero") on collect's timestamp
    assert found["ada"][1] == full
    assert exported[1]["ada"]["score"] == "0.0"
    assert exported[1]["ada"]["raw_score"] == "18.0"
    assert found["wrong"][0]["test_rnn_step_forward"] == 0
    assert found["broken"][0]["test_rnn_backward"] == 0
    assert found["broken"][0]["test_rnn_step_forward"] == 2
    cheat, wrong = found["cheat"][0], found["wrong"][0]
    assert cheat["test_rnn_step_forward"] == 0
    assert sum(cheat.values()) <= sum(wrong.values())
    # our CSV says what the gradebook holds
    with open(ours / "grades" / "rnn.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    for student, (cells, _) in found.items():
        for name, points in cells.items():
            assert float(rows[student][name]) == points, (student, name)


def test_the_report_names_what_the_class_got_wrong(routes, tmp_path):
    """``python -m autograder report`` on the class our command graded:
    the journal kept every failed test's message."""
    from autograder.report.data import read_report

    _, ours, _ = routes
    report = read_report(ours / "grades" / "rnn.csv")
    step = report.tests[0]
    assert step.name == "test_rnn_step_forward"
    assert (step.ran, step.passed) == (len(CLASS), 2)
    (bias,) = [d for d in step.diagnoses if "wrong" in d.students]
    assert "ignores the bias b" in bias.text
    (backward,) = [t for t in report.tests if t.name == "test_rnn_backward"]
    (broken,) = [d for d in backward.diagnoses if "broken" in d.students]
    assert "NameError" in broken.text and "rnn_backward" in broken.text
    out = tmp_path / "report.html"
    grades = str(ours / "grades" / "rnn.csv")
    assert main(["report", grades, "--out", str(out)]) == 0
    assert "ignores the bias b" in out.read_text(encoding="utf-8")


def test_without_the_grader_the_cheat_scores(routes):
    """Control: plain nbgrader with the hidden checks in the student's
    kernel gives the cheat the points the judge refuses."""
    _, _, control = routes
    cells, _ = scores(control, "rnn")["cheat"]
    assert cells["test_rnn_step_forward"] == 2


def snooped(course):
    """What the cheat's kernel could read, by its own output."""
    path = course / "autograded" / "cheat" / "rnn" / "rnn.ipynb"
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        for output in cell.get("outputs", []):
            for line in "".join(output.get("text", "")).splitlines():
                if line.startswith("SNOOP"):
                    return json.loads(line.removeprefix("SNOOP"))
    raise AssertionError("the snoop did not run")


@pytest.mark.skipif(not sandbox_available(), reason="no sandbox here")
@pytest.mark.parametrize("route", [0, 1], ids=["nbgrader", "ours"])
def test_the_sandbox_hides_the_course(routes, route):
    course = routes[route]
    assert not [p for p in snooped(course) if p.startswith(str(course))]
    # control: without the grader, the kernel reads the course's secrets
    control = routes[2]
    assert len([p for p in snooped(control) if p.startswith(str(control))])


def _test_cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            yield cell


@pytest.mark.parametrize("route", [0, 1], ids=["nbgrader", "ours"])
def test_feedback_shows_no_hidden_test_nor_traceback(routes, route):
    """``nbgrader generate_feedback``, then ``release_feedback``."""
    course = routes[route]
    nbgrader(course, "generate_feedback", "rnn")
    pages = sorted(course.glob("feedback/*/rnn/rnn.html"))
    assert len(pages) == len(CLASS)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for secret in ("HIDDEN TESTS", "_check(", "autograder"):
            assert secret not in text, (page, secret)
    wrong = (course / "feedback" / "wrong" / "rnn" / "rnn.html").read_text()
    assert "ignores the bias b" in wrong
    skipped = "(the self-check does not run while a notebook is graded)"
    for notebook in course.glob("autograded/*/rnn/rnn.ipynb"):
        last = json.loads(notebook.read_text(encoding="utf-8"))["cells"][-1]
        assert last["id"] == "check-my-work"
        assert "".join(last["outputs"][0]["text"]).strip() == skipped
        for cell in _test_cells(notebook):
            for output in cell["outputs"]:
                assert output.get("name") != "stderr"
                assert len(output.get("traceback", [])) <= 1, notebook
    nbgrader(course, "release_feedback", "rnn")
    delivered = list(course.glob("exchange/seq-models/feedback/*.html"))
    assert len(delivered) == len(CLASS)


def test_a_manual_score_stays_until_regrade(routes):
    """In the control course, graded by plain nbgrader: a manual score
    given in formgrader stays when our command grades the class again,
    and when it reuses its results; ``--regrade`` replaces it."""
    from nbgrader.api import Gradebook

    _, _, control = routes
    url = f"sqlite:///{control / 'gradebook.db'}"
    with Gradebook(url) as gb:
        grade = gb.find_grade("test_rnn_step_forward", "rnn", "rnn", "cheat")
        grade.manual_score = 1.5
        gb.db.commit()

    def step_score():
        return scores(control, "rnn")["cheat"][0]["test_rnn_step_forward"]

    for expected_output in ("1 graded now", "1 reused"):
        result = run_grader("rnn", "--course", str(control))
        assert result.returncode == 0, result.stderr
        assert expected_output in result.stdout
        assert step_score() == 1.5
    with Gradebook(url) as gb:
        grade = gb.find_grade("test_rnn_step_forward", "rnn", "rnn", "cheat")
        assert grade.auto_score == 0 and grade.needs_manual_grade
    result = run_grader("rnn", "--course", str(control), "--regrade")
    assert result.returncode == 0, result.stderr
    assert step_score() == 0


def test_limits_hold_in_plain_nbgrader(tmp_path):
    """A notebook that runs too long, and one that kills its kernel, score
    nothing and say why; nbgrader goes on with the class (the quitter
    comes first)."""
    lines = grader_config_lines("--timeout", "20", "--cell-timeout", "60")
    course = make_course(tmp_path / "limits", "rnn", lines)
    stops = {
        "sleeper": "import time\ntime.sleep(600)\n",
        "quitter": "import os\nos._exit(1)\n",
    }
    for student, code in stops.items():
        step = code + SOLUTIONS["rnn_step_forward"]
        submit(course, "rnn", student, replace={"rnn_step_forward": step})
    nbgrader(course, "autograde", "rnn")
    found = scores(course, "rnn")
    reasons = {
        "sleeper": "the notebook ran longer than 20 s",
        "quitter": "the kernel died",
    }
    for student, reason in reasons.items():
        assert not any(found[student][0].values()), student
        notebook = course / "autograded" / student / "rnn" / "rnn.ipynb"
        for cell in _test_cells(notebook):
            (error,) = [o for o in cell["outputs"] if "ename" in o]
            assert error["evalue"].startswith(reason), error
