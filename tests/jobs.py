"""Jobs for the tests of the job pools (tests/test_pool.py,
tests/test_cluster.py): a :class:`~autograder.job.Job` of rnn whose
fields the test names, every other path empty."""

from autograder.job import Job

PATHS = ("notebook", "workdir", "result", "master_db", "source", "feedback")


def make_job(name, **fields):
    """The job of the student ``name`` (key ``key-<name>`` unless
    ``student`` says otherwise); ``fields`` as in :class:`Job`."""
    values = dict.fromkeys(PATHS, "")
    values.update(assignment="rnn", student=f"key-{name}", student_name=name)
    values.update(fields)
    return Job(**values)
