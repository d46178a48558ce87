"""Grade one submission with nbgrader, in a process of its own.

Run by :mod:`autograder.grading` as
``python -m autograder.worker JOB_JSON``; the job names the assignment, the
student, the submitted notebook, a fresh work folder and where to write the
result. The work folder is a small nbgrader course of its own with a copy of
the master gradebook, so that submissions can be graded in parallel without
sharing a database. The parent enforces the time limit for the whole
notebook by killing this process group.
"""

import contextlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from autograder import course

HIDDEN = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?",
    re.DOTALL | re.MULTILINE,
)


def _grades(db, assignment, student, notebook):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        nb = gb.find_submission_notebook(notebook, assignment, student)
        return {
            g.name: (g.score, g.max_score) for g in nb.grades if g.max_score
        }


def sanitize_for_feedback(path):
    """Strip hidden tests and every traceback of the test cells, in place.

    A failing test cell keeps only its error's name and message (which our
    checks write for students) and loses its stderr; the source lines of
    hidden tests, and of the checks they call, never reach the feedback.
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] != "code" or not meta.get("grade"):
            continue
        source = cell["source"]
        if isinstance(source, list):
            source = "".join(source)
        cell["source"] = HIDDEN.sub("", source).rstrip("\n")
        # Warnings raised inside the hidden checks print their source lines
        # on stderr: a test cell's stderr is not shown.
        cell["outputs"] = [
            o
            for o in cell.get("outputs", [])
            if not (
                o.get("output_type") == "stream" and o.get("name") == "stderr"
            )
        ]
        for output in cell["outputs"]:
            if output.get("output_type") == "error":
                output["traceback"] = [
                    f"{output.get('ename', 'Error')}: "
                    f"{output.get('evalue', '')}"
                ]
    Path(path).write_text(json.dumps(nb, indent=1), encoding="utf-8")


CLIENT_FILES = [
    "__init__.py",
    "judge.py",
    "checks/__init__.py",
    "checks/torch_modules.py",
]


@contextlib.contextmanager
def judging(assignment, job):
    """A judge (see :mod:`autograder.judge`) listening while nbgrader runs
    the notebook, and, where the machine allows it, a sandbox for the
    kernel (see :mod:`autograder.sandbox`). Yields (judge, box folder or
    None)."""
    from autograder.judge import ENV, Judge

    _remove_stale_boxes()
    box = Path(tempfile.mkdtemp(prefix=f"seqbook-sbx-{os.getpid()}-"))
    box.chmod(0o755)
    for name in ("ipc", "home", "work", "lib/autograder/checks", "jupyter"):
        (box / name).mkdir(parents=True, exist_ok=True)
    (box / "ipc").chmod(0o777)
    judge = Judge(assignment, box / "judge.sock", job["cell_timeout"] + 30)
    saved = {k: os.environ.get(k) for k in (ENV, "SEQBOOK_SANDBOX",
                                            "JUPYTER_PATH")}  # fmt: skip
    os.environ[ENV] = judge.path
    sandboxed = job.get("sandbox", True) and sandbox_available()
    uid = 100000 + os.getpid() % 50000
    if sandboxed:
        # The box is the kernel's own: another kernel (another user) cannot
        # read its connection file; root (nbgrader, the judge) still can.
        for path in [box, *box.rglob("*")]:
            os.chown(path, uid, uid)
        box.chmod(0o700)
        for name in CLIENT_FILES:
            shutil.copy(
                course.REPO / "autograder" / name,
                box / "lib" / "autograder" / name,
            )
        spec = box / "jupyter" / "kernels" / "python3"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable,
                             str(course.REPO / "autograder" / "sandbox.py"),
                             "-f", "{connection_file}"],
                    "display_name": "Python 3 (sandboxed)",
                    "language": "python",
                }
            )
        )  # fmt: skip
        os.environ["JUPYTER_PATH"] = str(box / "jupyter")
        os.environ["SEQBOOK_SANDBOX"] = json.dumps(
            {
                "box": str(box),
                "uid": uid,
                "hide": hidden_paths(job, box),
                "client": {
                    "source": str(box / "lib" / "autograder"),
                    "target": str(course.REPO / "autograder"),
                },
            }
        )
    judge.start()
    try:
        yield judge, (box if sandboxed else None)
    finally:
        judge.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(box, ignore_errors=True)


def _remove_stale_boxes():
    """Boxes left by a worker that was killed (kill -9) go."""
    for box in Path(tempfile.gettempdir()).glob("seqbook-sbx-*"):
        pid = box.name.split("-")[2]
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
                continue  # its worker is alive
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        elif pid.isdigit():
            continue
        shutil.rmtree(box, ignore_errors=True)


def hidden_paths(job, box):
    """What the kernel must not read: the course's sources and the class's
    files. A folder that holds what the kernel needs (the Python
    installation, the course library, its box) is never hidden whole."""
    repo = course.REPO
    candidates = [
        repo / "solutions",
        repo / "tests",
        repo / ".git",
        repo / "benchmarks",
        repo / "experiments",
        Path(job["notebook"]).resolve().parents[2],
        Path(job.get("submissions") or job["notebook"]).resolve(),
        Path(job["feedback"]).resolve().parent,
        Path(job["feedback"]).resolve().parents[1],
        Path(job["result"]).resolve().parent,
    ]
    if job.get("out"):
        candidates.append(Path(job["out"]).resolve().parent)
    keep = [Path(sys.prefix).resolve(), repo / "seqbook", Path(box)]
    hidden = []
    for path in candidates:
        if not path.is_dir():
            continue
        if any(k == path or path in k.parents for k in keep):
            continue
        if str(path) not in hidden:
            hidden.append(str(path))
    return hidden


_SANDBOX = {}


def sandbox_available():
    """Whether kernels can be sandboxed here (root, namespaces allowed)."""
    if "ok" not in _SANDBOX:
        import subprocess

        probe = (
            "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True);"
            "assert os.geteuid() == 0;"
            "assert libc.unshare(0x00020000 | 0x40000000) == 0"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True
        )
        _SANDBOX["ok"] = result.returncode == 0
    return _SANDBOX["ok"]


def apply_verdicts(db, notebook, assignment, student, verdicts):
    """Score each graded cell by the judge: a cell nbgrader passed but the
    judge did not (or never saw) gets 0 in the gradebook, and its feedback
    says why. Returns {grade_id: reason} of the cells overruled."""
    from nbgrader.api import Gradebook

    overruled = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        for grade in nb.grades:
            if not grade.max_score or not (grade.auto_score or 0) > 0:
                continue
            passed, message = verdicts.get(
                grade.name,
                (False, "the grader's check of this cell never ran"),
            )
            if passed:
                continue
            overruled[grade.name] = message
            grade.auto_score = 0
        gb.db.commit()
    if overruled:
        data = json.loads(Path(notebook).read_text(encoding="utf-8"))
        for cell in data["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade_id") in overruled:
                cell.setdefault("outputs", []).append(
                    {
                        "output_type": "error",
                        "ename": "GraderCheck",
                        "evalue": overruled[meta["grade_id"]],
                        "traceback": [],
                    }
                )
        Path(notebook).write_text(json.dumps(data, indent=1), "utf-8")
    return overruled


def _timed_out(path):
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get(
                "ename"
            ) in ("CellTimeoutError", "TimeoutError"):
                return True
    return False


def grade_one(job):
    assignment, student = job["assignment"], job["student"]
    work = Path(job["workdir"])
    if work.exists():
        shutil.rmtree(work)
    submitted = work / "submitted" / student / assignment
    submitted.mkdir(parents=True)
    shutil.copy(job["master_db"], work / "gradebook.db")
    shutil.copy(job["notebook"], submitted / f"{assignment}.ipynb")

    course.quiet_nbgrader()
    with judging(assignment, job) as (judge, box):
        api = course._api(
            work,
            cell_timeout=job["cell_timeout"],
            kernel_ipc=box and Path(box) / "ipc" / "kernel",
        )
        with contextlib.redirect_stdout(io.StringIO()):
            result = api.autograde(
                assignment, student, force=True, create=True
            )
    log = result.get("log", "") + str(result.get("error", ""))
    autograded = (
        work / "autograded" / student / assignment / f"{assignment}.ipynb"
    )
    if not result["success"] or not autograded.exists():
        if re.search(r"DeadKernelError|Kernel died|kernel died", log):
            return {
                "status": "kernel_died",
                "detail": "the kernel died while running the notebook",
            }
        if "UnresponsiveKernel" in log or "unresponsive" in log:
            return {
                "status": "timeout",
                "detail": "the kernel stopped responding",
            }
        if "Timeout" in log:
            return {"status": "timeout", "detail": "a cell timed out"}
        last = [line for line in log.splitlines() if line.strip()][-3:]
        return {
            "status": "error",
            "detail": "nbgrader could not grade it: " + " / ".join(last),
        }

    overruled = apply_verdicts(
        work / "gradebook.db", autograded, assignment, student, judge.verdicts
    )
    grades = _grades(work / "gradebook.db", assignment, student, assignment)
    status, detail = "graded", ""
    if _timed_out(autograded):
        status = "timeout"
        detail = f"a cell ran longer than {job['cell_timeout']} s"

    sanitize_for_feedback(autograded)
    with contextlib.redirect_stdout(io.StringIO()):
        feedback = api.generate_feedback(assignment, student, force=True)
    html = work / "feedback" / student / assignment / f"{assignment}.html"
    feedback_path = None
    if feedback["success"] and html.exists():
        target = Path(job["feedback"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(html, target)
        feedback_path = str(target)
    return {
        "status": status,
        "detail": detail,
        "cells": {name: score for name, (score, _) in grades.items()},
        "feedback": feedback_path,
        "overruled": overruled,
    }


# -- The kernel's memory limit and output cap (the grader's --memory-limit
# and --max-output, passed in the job). Both hold with or without the
# sandbox: the limit is set on the kernel's process by pid, the outputs are
# cut as nbclient receives them.
MEMORY_ERROR = re.compile(
    r"MemoryError|bad_alloc|[Cc]an(?:no|')t allocate memory|[Oo]ut of memory"
)
TRUNCATED = "[output truncated by the grader"
_LIMITS = {"memory": 0, "output": 0}


def limit_kernels(job):
    """Bound every kernel this worker starts from now on.

    - memory: right after nbclient starts a kernel, and before any cell
      runs, its RLIMIT_DATA (the memory it writes to: heap, arrays;
      unlike RLIMIT_AS not the address space that torch maps without
      using) is set to ``job["memory_limit"]`` bytes, so an allocation
      beyond fails with MemoryError in that cell;
    - output: what one cell prints or displays is cut after
      ``job["max_output"]`` characters, with a note in its place.
    0 or a missing key means no limit.
    """
    _LIMITS["memory"] = int(job.get("memory_limit") or 0)
    _LIMITS["output"] = int(job.get("max_output") or 0)
    from nbclient.client import NotebookClient
    from nbclient.util import run_sync

    if getattr(NotebookClient, "_grader_limited", False):
        return
    NotebookClient._grader_limited = True
    start = NotebookClient.async_start_new_kernel
    output = NotebookClient.output

    async def start_limited(self, **kwargs):
        await start(self, **kwargs)
        import resource

        limit = _LIMITS["memory"]
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        if limit and pid and hasattr(resource, "prlimit"):
            resource.prlimit(pid, resource.RLIMIT_DATA, (limit, limit))

    def output_capped(self, outs, msg, display_id, cell_index):
        if _LIMITS["output"]:
            used = self.__dict__.setdefault("_grader_output", {})
            msg = _cap_output(msg, _LIMITS["output"], used, cell_index)
            if msg is None:
                return None
        return output(self, outs, msg, display_id, cell_index)

    NotebookClient.async_start_new_kernel = start_limited
    # The synchronous twin (used by nbconvert's ExecutePreprocessor) was
    # made from the original coroutine: make it again.
    NotebookClient.start_new_kernel = run_sync(start_limited)
    NotebookClient.output = output_capped


def _cap_output(msg, cap, used, cell_index):
    """``msg`` as the notebook may keep it, or None to drop it."""
    kind, content = msg.get("msg_type"), msg.get("content") or {}
    if kind == "error":
        tb = [str(line)[:10000] for line in content.get("traceback", [])]
        content = dict(
            content,
            evalue=str(content.get("evalue", ""))[:10000],
            traceback=tb[:100] + tb[100:][-100:],
        )
        return dict(msg, content=content)
    if kind not in ("stream", "display_data", "execute_result"):
        return msg
    spent = used.get(cell_index, 0)
    if spent > cap:
        return None
    if kind == "stream":
        size = len(content.get("text", ""))
    else:
        size = sum(
            len(v) if isinstance(v, str) else len(json.dumps(v))
            for v in (content.get("data") or {}).values()
        )
    if spent + size <= cap:
        used[cell_index] = spent + size
        return msg
    used[cell_index] = cap + 1
    note = f"{TRUNCATED}: a cell may show at most {cap:,} characters]"
    if kind == "stream":
        text = content.get("text", "")[: cap - spent]
        content = dict(content, text=f"{text}\n{note}\n")
    else:
        content = dict(content, data={"text/plain": note}, metadata={})
    return dict(msg, content=content)


def kernel_limits_outcome(job, outcome):
    """Status ``memory`` when a cell hit the kernel's memory limit (its
    error says MemoryError, or torch's "can't allocate memory"); a note in
    the detail when some output was cut."""
    if outcome.get("status") != "graded":
        return outcome
    assignment, student = job["assignment"], job["student"]
    path = (
        Path(job["workdir"]) / "autograded" / student / assignment
        / f"{assignment}.ipynb"
    )  # fmt: skip
    if not path.exists():
        return outcome
    nb = json.loads(path.read_text(encoding="utf-8"))
    short, truncated = [], False
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            if TRUNCATED in text or TRUNCATED in json.dumps(
                output.get("data", {})
            ):
                truncated = True
            if output.get("output_type") == "error" and MEMORY_ERROR.search(
                f"{output.get('ename', '')}: {output.get('evalue', '')}"
            ):
                meta = cell.get("metadata", {}).get("nbgrader", {})
                short.append(meta.get("grade_id") or f"cell {index + 1}")
    notes = [outcome.get("detail")] if outcome.get("detail") else []
    if short:
        limit = job.get("memory_limit") or 0
        notes.insert(
            0,
            "ran out of memory"
            + (f" (limit {limit / 2**30:g} GB)" if limit else "")
            + f" in {', '.join(dict.fromkeys(short))}",
        )
    if truncated:
        notes.append("some output was cut (too long)")
    status = "memory" if short else outcome["status"]
    return dict(outcome, status=status, detail="; ".join(notes))


def run_job(job):
    """Grade one job and write its result file; never raises."""
    try:
        limit_kernels(job)
        outcome = grade_one(job)
        outcome = kernel_limits_outcome(job, outcome)
    except Exception as error:  # reported as a row, never a crash
        outcome = {
            "status": "error",
            "detail": f"{type(error).__name__}: {error}",
        }
    Path(job["result"]).write_text(json.dumps(outcome), encoding="utf-8")


def serve(done_fd):
    """Grade the jobs read from stdin, one JSON object a line, in turn.

    nbgrader is imported once for all of them. After each job the result
    file is written and a line goes to ``done_fd``, so that what the
    kernels print on stdout never mixes with the protocol.
    """
    import nbgrader.apps  # noqa: F401  (the slow import, done once)

    course.quiet_nbgrader()
    for line in sys.stdin:
        if not line.strip():
            continue
        run_job(json.loads(line))
        os.write(done_fd, b"done\n")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        return serve(int(argv[1]))
    run_job(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
