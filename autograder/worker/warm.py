"""What a worker sets up once so that each submission costs less.

A worker grades many submissions in turn (:mod:`autograder.worker.loop`);
what does not depend on the submission is done once per worker, never
what one submission could leave for the next:

- nbgrader and nbconvert are imported once (the loop);
- the kernel of the next submission starts while the current one is
  graded (:mod:`autograder.worker.ahead`);
- the feedback page's templates are compiled once: nbconvert makes a
  new Jinja environment for every page, which compiles every template
  again; :func:`compile_templates_once` gives each one the same
  bytecode cache, kept in memory (Jinja checks the template's source
  against it, so a changed template is compiled again);
- the job's own gradebook (a copy of the master, in its work folder,
  removed with it) is written without waiting for the disk:
  :func:`scratch_gradebook` turns off SQLite's ``fsync`` on it, and only
  on it, while the job lasts. What the job's outcome says is what the
  worker reads back from it in the same process.
"""

import contextlib
import os

_SCRATCH = set()  # the gradebooks of the jobs being graded (real paths)


class _MemoryBytecodeCache:
    """Jinja's bytecode of each template, in this process's memory."""

    def __init__(self):
        self.codes = {}

    def load_bytecode(self, bucket):
        code = self.codes.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.codes[bucket.key] = bucket.bytecode_to_string()


def compile_templates_once():
    """Every nbconvert exporter of this process shares one in-memory
    bytecode cache of its Jinja templates."""
    import jinja2
    from nbconvert.exporters.templateexporter import TemplateExporter

    if getattr(TemplateExporter, "_grader_cached", False):
        return
    kind = type(
        "MemoryBytecodeCache", (_MemoryBytecodeCache, jinja2.BytecodeCache), {}
    )
    caches = {}  # one per kind of environment: the code depends on it
    create = TemplateExporter._create_environment

    def create_cached(self):
        environment = create(self)
        key = (
            type(self).__qualname__,
            tuple(sorted(environment.extensions)),
            environment.trim_blocks,
            environment.lstrip_blocks,
            bool(environment.autoescape),
        )
        environment.bytecode_cache = caches.setdefault(key, kind())
        return environment

    TemplateExporter._grader_cached = True
    TemplateExporter._create_environment = create_cached


def _no_fsync(dbapi_connection, connection_record):
    """On connecting to a job's scratch gradebook: no fsync."""
    try:
        rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    except Exception:  # not SQLite
        return
    files = {os.path.realpath(row[2]) for row in rows if row[2]}
    if files & _SCRATCH:
        dbapi_connection.execute("PRAGMA synchronous=OFF")


@contextlib.contextmanager
def scratch_gradebook(path):
    """While it lasts, SQLite does not fsync the gradebook at ``path``
    (a job's own copy, thrown away with its work folder)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _no_fsync):
        event.listen(Engine, "connect", _no_fsync)
    real = os.path.realpath(path)
    _SCRATCH.add(real)
    try:
        yield
    finally:
        _SCRATCH.discard(real)
