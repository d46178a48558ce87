"""The rules the course's grader applies to a submitted notebook, as
published for students (the instructors' README says the same).

- The file: ``<assignment>/<assignment>.ipynb`` in the student's folder
  (``rnn/rnn.ipynb``); a notebook under another name or elsewhere counts
  as missing. At most :data:`MAX_FILE_BYTES` are read, and without its
  outputs (the grader removes them) it may hold :data:`MAX_NOTEBOOK_BYTES`.
- The run: a fresh kernel runs every cell from the top, in order; the
  given cells and the test cells are put back as they were released.
- The limits of :class:`Limits`; a test cell scores only when it runs
  without error and writes nothing to stderr.
"""

from dataclasses import dataclass

MB = 2**20
MAX_FILE_BYTES = 512 * 2**20  # the most the grader reads of a file
MAX_NOTEBOOK_BYTES = 50 * 2**20  # the most it grades, outputs removed

# The assignments, in the course's order.
ASSIGNMENTS = ("rnn", "lstm", "gru", "seq2seq", "attention", "self_attention")

# What the grader's kernel runs with: no progress bars, plots drawn off
# screen, one thread.
KERNEL_ENVIRONMENT = {
    "SEQBOOK_PROGRESS": "0",
    "MPLBACKEND": "Agg",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class Limits:
    """What one notebook may use when it is graded."""

    cell_timeout: int = 60  # seconds one cell may run
    notebook_timeout: int = 300  # seconds the whole notebook may run
    memory_limit: int = 4 * 2**30  # bytes of data memory; 0: none
    max_output: int = MB  # characters one cell may show; more is cut


def size_text(n):
    """4294967296 -> '4 GB'."""
    units = [(2**30, "GB"), (2**20, "MB"), (2**10, "KB"), (1, "bytes")]
    scale, unit = next((s, u) for s, u in units if n >= s or s == 1)
    return f"{n / scale:g} {unit}"
