"""Grade a class: one row per student, whatever their notebooks hold.

The parent's side of ``python -m autograder grade``, in the order the data
flows:

1. ``intake``: the student folders, and each notebook checked before any
   kernel starts; missing, unreadable, foreign and oversized notebooks
   get their status here, the others a gradable copy;
2. ``journal``: results of earlier runs whose notebook and assignment are
   unchanged are reused (unless ``regrade``);
3. ``pool``: the jobs go to the workers (``--jobs`` processes of
   :mod:`autograder.worker`, each in a process group of its own with a
   time limit for the whole notebook; in the kernel, a memory limit and
   a cap on output), or with ``--scheduler`` to the workers of a Dask
   cluster (``cluster``, whose far end is ``remote``), and ``dispatch``
   takes their outcomes back;
4. ``ledger`` and ``outputs``: every outcome is appended to the journal
   (flushed and fsync'ed) the moment it is known, and the CSV is
   rewritten atomically; pages for what could not be graded; with
   ``--course``, ``course_book`` puts it into the instructor's nbgrader
   course (its gradebook, ``autograded/``);
5. ``summary``: counts, scores, the slowest, what went wrong.

Nothing is lost: Ctrl-C (or SIGTERM) stops the workers and their kernels,
writes the CSV of what is done and raises :class:`Interrupted`; after
``kill -9`` the journal holds every finished result (``session`` holds the
lock, the signals and the run folder).
"""

import contextlib
import shutil
import signal
import sys
from pathlib import Path

from autograder import course
from autograder.batch import cluster, dispatch, intake, journal, session
from autograder.batch.cluster import ClusterUnavailable
from autograder.batch.course_book import CourseBook
from autograder.batch.ledger import Assignment, Ledger
from autograder.batch.options import GradeOptions
from autograder.batch.pool import local_pool
from autograder.batch.session import GraderBusy, Interrupted, NoSandbox
from autograder.batch.summary import print_summary
from autograder.job import Job

__all__ = [
    "ClusterUnavailable",
    "GradeOptions",
    "GraderBusy",
    "Interrupted",
    "NoSandbox",
    "grade_class",
]


def grade_class(options):
    """Grade every student folder of ``options.submissions``; write the
    CSV ``options.out``. Returns the rows (dicts) written.

    Results already in the journal (same student, same notebook bytes,
    same assignment source) are reused unless ``options.regrade``. On
    SIGINT or SIGTERM, stops the workers, writes the CSV of what is done
    and raises :class:`Interrupted`.
    """
    _check_options(options)
    session.check_sandbox(options)
    lock_file = Path(options.out).with_name(Path(options.out).name + ".lock")
    with contextlib.closing(session.lock(lock_file)):
        with session.signals() as received:
            try:
                return _grade(options, received)
            except KeyboardInterrupt:  # before grading began: nothing lost
                print("\ninterrupted", file=sys.stderr)
                signum = received[0] if received else signal.SIGINT
                raise Interrupted(signum, 0, None) from None


def _check_options(options):
    if options.source and not Path(options.source).is_dir():
        raise FileNotFoundError(
            f"no source folder {options.source} (the folder of the source "
            "notebooks, <name>/<name>.ipynb: give it with --source)"
        )
    known = course.assignments(options.source)
    if options.assignment not in known:
        raise ValueError(
            f"unknown assignment {options.assignment!r}; the course has "
            f"{', '.join(known)}"
        )
    if not Path(options.submissions).is_dir():
        raise FileNotFoundError(f"no submissions folder {options.submissions}")


def _grade(options, received):
    with _pools(options) as make_pool:
        master_db = session.master_gradebook(options)
        return _grade_with(options, received, master_db, make_pool)


@contextlib.contextmanager
def _pools(options):
    """How this run makes its job pool: ``--jobs`` worker processes here,
    or, with ``--scheduler``, the workers of a Dask cluster (reached
    before anything else is done, so that a wrong address is a clear
    error at once)."""
    if not options.scheduler:
        timeout = options.limits.notebook_timeout
        yield lambda todo, run, master_db: local_pool(
            min(max(1, int(options.jobs)), len(todo)), run, timeout
        )
        return
    client = cluster.connect(options.scheduler)
    try:
        yield lambda todo, run, master_db: cluster.dask_pool(
            client, options, master_db
        )
    finally:
        client.close()


def _grade_with(options, received, master_db, make_pool):
    students, ignored = intake.list_students(options.submissions)
    previous, skipped = (
        ({}, 0)
        if options.regrade
        else journal.read_journal(options.journal, options.assignment)
    )
    sink = None
    if options.course:
        sink = CourseBook(options.course, options.assignment, options.regrade)
    ledger = Ledger(
        Assignment.read(options.assignment, options.source),
        options,
        students,
        journal.Journal(options.journal),
        sink,
    )
    run = None
    try:
        pending = _reuse(ledger, previous)
        run = session.run_folder(options) if pending else None
        todo = _intake(ledger, pending, run, master_db)
        ledger.write_csv()
        _report_intake(options, ledger, skipped, ignored)
        if todo:
            pool = make_pool(todo, run, master_db)
            _dispatch(options, ledger, todo, pool)
    except KeyboardInterrupt:
        _interrupted(ledger, received)
    finally:
        ledger.log.close()
        if run is not None:
            shutil.rmtree(run, ignore_errors=True)
    ledger.write_csv()
    if options.progress:
        print_summary(ledger)
    return [row for row, _ in ledger.ordered()]


def _reuse(ledger, previous):
    """Take every journalled result that still holds; the submissions
    left to grade."""
    pending = []
    for student in ledger.students:
        found = intake.submission(
            ledger.options.submissions, student, ledger.options.assignment
        )
        old = previous.get(student)
        if journal.reusable(
            old, found.digest, ledger.assignment.key
        ) and ledger.reuse(old):
            continue
        pending.append(found)
    return pending


def _intake(ledger, pending, run, master_db):
    """A row now for each notebook that cannot be graded; a job for each
    of the others (job -> (submission, what the intake changed))."""
    options, todo = ledger.options, {}
    for index, found in enumerate(pending):
        key = f"s{index:04d}"
        copy = run / "inputs" / f"{key}.ipynb"
        status, detail = intake.prepare_notebook(
            found.notebook, options.assignment, copy, options.source
        )
        if status:
            outcome = {"status": status, "detail": detail, "seconds": 0.0}
            ledger.finish(found, outcome)
            continue
        job = _job(options, found, key, run, master_db)
        todo[job] = (found, detail)
    return todo


def _job(options, found, key, run, master_db):
    """The job of ``found``, known to nbgrader as ``key``; its files in
    the run folder ``run``."""
    copy = run / "inputs" / f"{key}.ipynb"
    work = run / "work" / key
    return Job(
        assignment=options.assignment,
        student=key,
        student_name=found.student,
        notebook=str(copy.resolve()),
        workdir=str(work),
        result=str(work) + ".result.json",
        master_db=str(master_db),
        source=str(Path(options.source or course.SOLUTIONS).resolve()),
        feedback=str((options.feedback / f"{found.student}.html").resolve()),
        limits=options.limits,
        out=str(Path(options.out).resolve()),
        # What the sandbox hides for the class's files: with --course, the
        # whole course (its sources, gradebook, submissions).
        submissions=str(Path(options.course or options.submissions).resolve()),
        require_sandbox=options.require_sandbox,
    )


def _report_intake(options, ledger, skipped, ignored):
    if ledger.reused:
        options.say(
            f"{len(ledger.reused)} of {len(ledger.students)} results reused "
            f"from {options.journal} (--regrade to grade them again)"
        )
    if skipped:
        options.say(f"{skipped} unreadable journal lines ignored")
    if ignored:
        options.say(f"not student folders, ignored: {', '.join(ignored)}")


def _dispatch(options, ledger, todo, pool):
    def finish(kept, outcome):
        found, note = kept
        if note:
            detail = outcome.get("detail", "")
            outcome["detail"] = f"{detail}; {note}" if detail else note
        ledger.finish(found, outcome)

    total = len(ledger.students)
    bar = dispatch.progress_bar(options, total, total - len(todo))
    dispatch.run_jobs(pool, todo, finish, bar)


def _interrupted(ledger, received):
    session.ignore_signals()
    ledger.write_csv()
    total, done = len(ledger.students), len(ledger.rows)
    print(
        f"\ninterrupted: {done} of {total} submissions have a grade in "
        f"{ledger.options.out}, {total - done} remain; run the same "
        "command again to grade only those",
        file=sys.stderr,
    )
    signum = received[0] if received else signal.SIGINT
    raise Interrupted(signum, done, total - done) from None
