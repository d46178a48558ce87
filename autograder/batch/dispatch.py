"""Feed the pool, and take each outcome the moment it comes back.

:func:`run_jobs` submits every job, then records each outcome in the
parent's thread (``finish``) and keeps the progress bar current: the
count, the students being graded, the last result and the time left.
On Ctrl-C it stops the pool and still records the outcomes that had
arrived.
"""

import sys

from tqdm import tqdm

from autograder.batch.session import ignore_signals


def progress_bar(options, total, initial):
    return tqdm(
        total=total,
        initial=initial,
        desc=f"grading {options.assignment}",
        unit="nb",
        disable=not options.progress,
        dynamic_ncols=True,
    )


def run_jobs(pool, todo, finish, bar):
    """Grade ``todo`` (job -> what the parent keeps of it) in ``pool``;
    ``finish(kept, outcome)`` each result as soon as it is known."""
    tty = not bar.disable and sys.stderr.isatty()
    last = shown = ""
    try:
        pool.submit_all(todo)
        while pool.outstanding():
            for job, outcome in pool.completed(timeout=1.0):
                finish(todo[job], outcome)
                last = f"{job.student_name}: {outcome['status']}"
                bar.update(1)
            now = ", ".join(pool.running())
            postfix = (f"now {now}" if now else "") + (
                f" | {last}" if last else ""
            )
            if postfix != shown or tty:
                bar.set_postfix_str(postfix, refresh=True)
                shown = postfix
    except KeyboardInterrupt:
        ignore_signals()
        pool.close()
        # Results that arrived before the signal are kept.
        for job, outcome in pool.completed(timeout=0):
            finish(todo[job], outcome)
        raise
    finally:
        pool.close()
        bar.close()
