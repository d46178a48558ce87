"""Our grader against plain nbgrader, on every assignment; the fixed cost
of one submission. Figures, not assertions.

    .venv/bin/python benchmarks/grading.py [ASSIGNMENT ...] [--students N]

For each assignment (default: all six), a synthetic class of N
submissions (default 9): a third correct, a third partly wrong (the
mutants of tests/mutants.py, in turn) and a third broken (the untouched
release, a cell that raises, a syntax error). It is graded three times:

- ``python -m autograder grade --jobs 1`` and ``--jobs 2`` (each into a
  fresh CSV, so nothing is reused from a journal; the master gradebook,
  which plain nbgrader makes before its clock starts too, is made first
  by a run on one submission);
- plain serial ``nbgrader autograde ASSIGNMENT`` over every student at
  once, in a course folder of its own made with the same configuration
  (``autograder.course.nbgrader_config``); its hidden checks run in the
  kernel, as they do when a notebook is run by hand.

It prints the seconds per submission of each, the ratios (the aim:
``--jobs 2`` at least 3 times plain serial nbgrader) and whether the
scores agree, student by student and test cell by test cell. Where the
machine lets a benchmark count the CPU time of a command and of all it
starts (Linux, as root: a cgroup of its own), it prints that too, per
submission: the kernels, the workers, nbgrader, everything; and the
best ratio it allows at ``--jobs 2``: with every core busy all the
time, plain's seconds over ours' CPU seconds divided by the cores.

Then the fixed cost of one submission: an assignment whose cells do
nothing (``noop``: six solution cells and six test cells of ``pass``) is
graded at ``--jobs 1`` for classes of ``--noop-small`` and
``--noop-large`` submissions; the difference per added submission is
the grader's cost of one submission, which is set against the plain
execution of the same notebook (nbclient, a fresh kernel each time, in
one process). The aim: the difference under 0.5 s.

Last, where the time of one ``noop`` submission goes (``--breakdown``,
on by default): the worker's code runs in this process on ``noop``
submissions in turn, each phase timed (the work folder, the box, the
kernel's start, the cells, the kernel's end, the rest of nbgrader's
``autograde``, the judge's verdicts, the feedback page), first with a
kernel started for each submission, then as a worker does it (the
kernel started ahead, the feedback page's templates compiled once);
the first submission of each is left out (imports, a first kernel).

Every figure comes with the machine's load average (1 minute) before
and after it: run it alone, under the lock (``flock
/work/wt/.heavy.lock ...``). ``--students 3`` for a quick look;
``--students 0`` for the fixed cost alone.
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Not this folder (which Python puts first): its packaging.py would hide
# the `packaging` that nbgrader's imports need.
sys.path[:] = [str(REPO), str(REPO / "tests")] + [
    p for p in sys.path if Path(p or ".").resolve() != HERE
]

from autograder import course  # noqa: E402
from mutants import MUTANTS  # noqa: E402
from submissions import make_submission, solution_sources  # noqa: E402

BIN = Path(sys.executable).parent


def load():
    return os.getloadavg()[0]


def build_class(name, count, subs):
    """``count`` submissions in ``subs``; returns {student: kind}."""
    sources = solution_sources(name)
    mutants = [
        m for m in MUTANTS.get(name, []) if m[2] in sources.get(m[1], "")
    ]
    first = next(iter(sources))
    broken = [
        ("untouched", {"solved": False}),
        ("raises", {"replace": {first: "raise RuntimeError('oops')\n"}}),
        ("syntax_error", {"replace": {first: "def broken(:\n    pass\n"}}),
    ]
    kinds = {}
    for i in range(count):
        student = f"student{i:03d}"
        if i % 3 == 0 or (i % 3 == 1 and not mutants):
            make_submission(name, subs / student)
            kinds[student] = "correct"
        elif i % 3 == 1:
            mutant, grade_id, old, new = mutants[(i // 3) % len(mutants)][:4]
            make_submission(
                name,
                subs / student,
                replace={grade_id: sources[grade_id].replace(old, new)},
            )
            kinds[student] = f"mutant {mutant}"
        else:
            kind, kwargs = broken[(i // 3) % len(broken)]
            make_submission(name, subs / student, **kwargs)
            kinds[student] = kind
    return kinds


class CpuCount:
    """The CPU time of the commands started with :attr:`enter` as their
    ``preexec_fn``, and of every process they start (the kernels too,
    inside their sandboxes): a cgroup of cgroup v1's ``cpuacct``, which
    Linux gives root. ``seconds()`` is None where it cannot be made."""

    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self):
        self.path = self.ROOT / f"seqbook-bench-{os.getpid()}-{id(self)}"
        try:
            self.path.mkdir()
        except OSError:
            self.path = None

    def enter(self):
        # (in the child, before its exec: an error here would stop it)
        if self.path is not None:
            try:
                (self.path / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                pass

    def seconds(self):
        """None where nothing could be counted (no group, or the
        command could not join it)."""
        if self.path is None:
            return None
        used = int((self.path / "cpuacct.usage").read_text()) / 1e9
        return used or None

    def close(self):
        if self.path is not None:
            for _ in range(50):  # its last processes may still be ending
                try:
                    self.path.rmdir()
                    return
                except OSError:
                    time.sleep(0.1)


def counted(command, **kwargs):
    """``subprocess.run(command)``: (result, wall seconds, CPU seconds of
    it and of all it started, None where they cannot be counted)."""
    count = CpuCount()
    try:
        started = time.perf_counter()
        result = subprocess.run(command, preexec_fn=count.enter, **kwargs)
        return result, time.perf_counter() - started, count.seconds()
    finally:
        count.close()


def ours(name, subs, out, jobs, extra=()):
    """Our grader on ``subs``: (seconds, scores, statuses, CPU seconds)."""
    result, seconds, cpu = counted(
        [sys.executable, "-m", "autograder", "grade", name, str(subs)]
        + ["--out", str(out), "--jobs", str(jobs), "--quiet", "--regrade"]
        + list(extra),
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"our grader failed:\n{result.stderr[-3000:]}")
    with open(out, newline="", encoding="utf-8") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    cells = list(next(iter(rows.values())))[5:]  # the test cells
    scores = {
        student: {cell: float(row[cell]) for cell in cells}
        for student, row in rows.items()
    }
    statuses = {student: row["status"] for student, row in rows.items()}
    return seconds, scores, statuses, cpu


def _config_file(config):
    """The text of a nbgrader_config.py that holds ``config``."""
    lines = ["c = get_config()  # noqa: F821"]
    for section, values in config.items():
        for key, value in values.items():
            lines.append(f"c.{section}.{key} = {value!r}")
    return "\n".join(lines) + "\n"


def plain_nbgrader(name, subs, root, cell_timeout):
    """Serial ``nbgrader autograde`` of every student; (seconds, scores,
    CPU seconds)."""
    from nbgrader.api import Gradebook, MissingEntry

    course.generate_release(name, root=root)
    for folder in subs.iterdir():
        target = root / "submitted" / folder.name / name
        target.mkdir(parents=True)
        shutil.copy(folder / name / f"{name}.ipynb", target)
    config = course.nbgrader_config(root, cell_timeout=cell_timeout)
    (root / "nbgrader_config.py").write_text(_config_file(config))
    result, seconds, cpu = counted(
        [str(BIN / "nbgrader"), "autograde", name, "--create", "--force"],
        cwd=root,
        env=course.os_environ_for_kernel(),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        print(f"(nbgrader autograde exited {result.returncode})")
    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for folder in subs.iterdir():
            try:
                nb = gb.find_submission_notebook(name, name, folder.name)
            except MissingEntry:
                scores[folder.name] = None
                continue
            scores[folder.name] = {
                g.name: float(g.score or 0) for g in nb.grades if g.max_score
            }
    return seconds, scores, cpu


def timed(function, *args):
    """``function(*args)``, printing its figure's load before and after."""
    before = load()
    result = function(*args)
    seconds = result[0]
    return result, f"{seconds:6.1f} s (load {before:.1f} -> {load():.1f})"


def compare(name, count, tmp, cell_timeout):
    """One assignment: our grader at --jobs 1 and 2, plain nbgrader;
    returns the ratios."""
    subs = tmp / name / "submitted"
    kinds = build_class(name, count, subs)
    work = tmp / name
    warm = tmp / name / "warm"
    make_submission(name, warm / "student")
    ours(name, warm, work / "warm.csv", 1)  # the master gradebook
    limit = ["--cell-timeout", str(cell_timeout)]
    times, results, cpus = {}, {}, {}
    print(f"\n{name}: {count} submissions", flush=True)
    for jobs in (1, 2):
        (seconds, scores, statuses, cpu), shown = timed(
            ours, name, subs, work / f"ours-{jobs}.csv", jobs, limit
        )
        times[jobs], results[jobs], cpus[jobs] = seconds, scores, cpu
        print(
            f"  ours --jobs {jobs}: {seconds / count:5.2f} s/nb "
            f"{_cpu(cpu, count)} {shown}"
        )
    (seconds, plain, cpu), shown = timed(
        plain_nbgrader, name, subs, work / "plain", cell_timeout
    )
    print(
        f"  plain nbgrader:  {seconds / count:5.2f} s/nb {_cpu(cpu, count)} "
        f"{shown}"
    )
    agree = _agreement(kinds, results, plain, statuses)
    ratios = {jobs: seconds / times[jobs] for jobs in (1, 2)}
    print(
        f"  plain / ours: --jobs 1 {ratios[1]:.2f}x, --jobs 2 "
        f"{ratios[2]:.2f}x; scores agree for {agree} of {count}",
        flush=True,
    )
    if cpus[2]:
        cores = os.cpu_count()
        best = seconds / cpus[2] * cores
        print(
            f"  best possible at --jobs 2 on {cores} cores (plain's seconds"
            f" / ours' CPU seconds x {cores}): {best:.2f}x"
        )
    return ratios, agree


def _cpu(cpu, count):
    """CPU seconds per submission, as shown beside the wall clock's."""
    if cpu is None:
        return "(CPU not counted here)"
    return f"({cpu / count:5.2f} s/nb of CPU)"


def _agreement(kinds, results, plain, statuses):
    agree = 0
    for student in sorted(kinds):
        a, b, c = results[1][student], results[2][student], plain[student]
        if a == b == c:
            agree += 1
            continue
        differ = sorted(
            cell for cell in a if not (c and a[cell] == b[cell] == c.get(cell))
        )
        print(
            f"    {student} ({kinds[student]}, {statuses[student]}): "
            f"differ in {', '.join(differ) or 'all cells'}: ours "
            f"{sum(a.values()):g}/{sum(b.values()):g}, plain "
            f"{sum(c.values()) if c else 'not graded'}"
        )
    return agree


def noop_notebook(cells=6):
    """An nbgrader source notebook whose cells do nothing."""

    def cell(grade_id, **meta):
        nbgrader = {"grade_id": grade_id, "schema_version": 3}
        nbgrader.update(task=False, **meta)
        return {
            "cell_type": "code",
            "execution_count": None,
            "id": grade_id.replace("_", "-"),
            "metadata": {"nbgrader": nbgrader},
            "outputs": [],
            "source": "pass",
        }

    body = []
    for i in range(cells):
        body.append(cell(f"f{i}", solution=True, grade=False, locked=False))
        body.append(
            cell(
                f"test_f{i}", solution=False, grade=True, locked=True, points=1
            )  # fmt: skip
        )
    return {
        "cells": body,
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def plain_execution(notebook, count, folder):
    """Seconds of each of ``count`` plain runs of ``notebook`` (nbclient,
    a fresh kernel each)."""
    import nbformat
    from nbclient import NotebookClient

    os.environ.update(course.os_environ_for_kernel())
    seconds = []
    for _ in range(count):
        nb = nbformat.from_dict(json.loads(json.dumps(notebook)))
        started = time.perf_counter()
        NotebookClient(
            nb, timeout=60, resources={"metadata": {"path": str(folder)}}
        ).execute()
        seconds.append(time.perf_counter() - started)
    return seconds


def fixed_cost(tmp, small, large):
    """The grader's cost of one more submission of ``noop``, and plain
    execution's of the same notebook."""
    source = tmp / "noop-source"
    notebook = noop_notebook()
    (source / "noop").mkdir(parents=True)
    text = json.dumps(notebook, indent=1)
    (source / "noop" / "noop.ipynb").write_text(text)
    extra = ["--source", str(source)]
    totals = {}
    for count in (1, small, large):
        subs = tmp / f"noop-{count}"
        for i in range(count):
            (subs / f"s{i:03d}" / "noop").mkdir(parents=True)
            (subs / f"s{i:03d}" / "noop" / "noop.ipynb").write_text(text)
        before = load()
        seconds, _, statuses, _ = ours(
            "noop", subs, tmp / "noop.csv", 1, extra
        )
        assert set(statuses.values()) == {"graded"}, statuses
        totals[count] = seconds
        print(
            f"  ours --jobs 1, {count:2d} noop submissions: {seconds:6.1f} s "
            f"(load {before:.1f} -> {load():.1f})",
            flush=True,
        )
    per = (totals[large] - totals[small]) / (large - small)
    before = load()
    plain = plain_execution(notebook, large, tmp)[1:]
    mean = sum(plain) / len(plain)
    print(
        f"  plain execution of the same notebook: {mean:.2f} s each (load "
        f"{before:.1f} -> {load():.1f})"
    )
    return per, mean


class Phases:
    """Seconds spent in named phases, by wrapping the functions that do
    them (undone by :meth:`restore`)."""

    def __init__(self):
        self.seconds, self.saved = {}, []

    def wrap(self, owner, name, label):
        function = getattr(owner, name)
        self.saved.append((owner, name, function))

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent = time.perf_counter() - started
                self.seconds[label] = self.seconds.get(label, 0.0) + spent

        setattr(owner, name, timed)

    def restore(self):
        for owner, name, function in reversed(self.saved):
            setattr(owner, name, function)
        self.saved = []


def _phases():
    """The phases of one submission in the worker, wrapped."""
    from nbclient.client import NotebookClient
    from nbgrader.apps.api import NbGraderAPI

    from autograder.worker import ahead, autograde, box, verdicts

    phases = Phases()
    phases.wrap(autograde, "stage", "work folder (stage)")
    phases.wrap(box, "open_launch", "a box opened")
    phases.wrap(ahead, "start_next", "next box and kernel, ahead")
    phases.wrap(NbGraderAPI, "autograde", "nbgrader's autograde")
    phases.wrap(NotebookClient, "start_new_kernel", "kernel start")
    phases.wrap(NotebookClient, "start_new_kernel_client", "kernel ready")
    phases.wrap(NotebookClient, "execute_cell", "cells")
    phases.wrap(NotebookClient, "_cleanup_kernel", "kernel end")
    phases.wrap(verdicts, "apply_verdicts", "judge's verdicts")
    phases.wrap(autograde, "_feedback", "feedback page")
    phases.wrap(autograde, "_graded", "total")
    return phases


def _noop_jobs(tmp, count):
    """``count`` jobs of the noop assignment, in a course of their own."""
    from autograder.job import Job, Limits

    source = tmp / "breakdown-source"
    (source / "noop").mkdir(parents=True)
    notebook = source / "noop" / "noop.ipynb"
    notebook.write_text(json.dumps(noop_notebook(), indent=1))
    root = tmp / "breakdown"
    course.ensure_gradebook("noop", root / "course", source=source)
    return [
        Job(
            assignment="noop",
            student=f"s{i}",
            student_name=f"s{i}",
            notebook=str(notebook),
            workdir=str(root / "work" / f"s{i}"),
            result=str(root / "work" / f"s{i}.result.json"),
            master_db=str(root / "course" / "gradebook.db"),
            source=str(source),
            feedback=str(root / "feedback" / f"s{i}.html"),
            limits=Limits(cell_timeout=60),
        )
        for i in range(count)
    ]


def _timed_jobs(jobs, launcher):
    """Mean seconds of each phase over ``jobs`` but the first."""
    from autograder.worker import loop

    phases = _phases()
    try:
        loop.run_job(jobs[0], launcher)
        phases.seconds = {}
        for job in jobs[1:]:
            loop.run_job(job, launcher)
    finally:
        phases.restore()
    means = {k: v / (len(jobs) - 1) for k, v in phases.seconds.items()}
    inside = ("kernel start", "kernel ready", "cells", "kernel end")
    rest = means.pop("nbgrader's autograde", 0)
    means["nbgrader's autograde, the rest"] = rest - sum(
        means.get(k, 0) for k in inside
    )
    return means


def breakdown(tmp, count):
    """Where one noop submission's time goes: a kernel started for it,
    then a kernel started ahead (as the worker does)."""
    import nbgrader.apps  # noqa: F401  (as a worker: imported once)

    from autograder.worker import ahead, warm
    from autograder.worker.box import kernel_launch

    os.environ.update(course.os_environ_for_kernel())
    course.quiet_nbgrader()
    jobs = _noop_jobs(tmp, 2 * count)
    before = load()
    fresh = _timed_jobs(jobs[:count], kernel_launch)
    ahead.take_kernels_ahead()
    warm.compile_templates_once()
    try:
        started = _timed_jobs(jobs[count:], ahead.launch_ahead)
    finally:
        ahead.discard()
    print(f"\nwhere a noop submission's time goes (mean of {count - 1}, "
          f"load {before:.1f} -> {load():.1f}):")  # fmt: skip
    print(f"  {'phase':34s} kernel per job  kernel ahead")
    for phase in dict.fromkeys([*fresh, *started]):
        if phase != "total":
            print(f"  {phase:34s} {fresh.get(phase, 0):9.3f} s "
                  f"{started.get(phase, 0):9.3f} s")  # fmt: skip
    print(f"  {'total':34s} {fresh['total']:9.3f} s "
          f"{started['total']:9.3f} s")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--students", type=int, default=9)
    parser.add_argument("--cell-timeout", type=int, default=120)
    parser.add_argument("--noop-small", type=int, default=4)
    parser.add_argument("--noop-large", type=int, default=16)
    parser.add_argument("--skip-noop", action="store_true")
    parser.add_argument("--breakdown", type=int, default=5, metavar="N")
    args = parser.parse_args()
    names = args.assignments or course.assignments()
    unknown = set(names) - set(course.assignments())
    if unknown:
        raise SystemExit(f"unknown assignment(s): {', '.join(unknown)}")
    print(f"{os.cpu_count()} cores; load average {load():.2f} at the start")
    tmp = Path(tempfile.mkdtemp(prefix="seqbook-bench-grading-"))
    try:
        if args.students:  # 0: the fixed cost alone
            ratios = {
                name: compare(name, args.students, tmp, args.cell_timeout)
                for name in names
            }
            _table(ratios, args.students)
        if not args.skip_noop:
            print("\nfixed cost of one submission (noop assignment):")
            per, plain = fixed_cost(tmp, args.noop_small, args.noop_large)
            print(
                f"  grader: {per:.2f} s per added submission; plain "
                f"execution {plain:.2f} s; fixed cost {per - plain:+.2f} s"
            )
        if args.breakdown > 1:
            breakdown(tmp, args.breakdown)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average {load():.2f} at the end")


def _table(ratios, count):
    print(f"\nplain serial nbgrader / ours ({count} submissions each):")
    print("  assignment      --jobs 1  --jobs 2  scores agree")
    for name, (ratio, agree) in ratios.items():
        print(
            f"  {name:14s} {ratio[1]:8.2f}x {ratio[2]:8.2f}x  {agree}/{count}"
        )


if __name__ == "__main__":
    main()
