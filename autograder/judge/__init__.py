"""Judge test cells outside the student's process.

The hidden part of a test cell calls ``check("module.name", obj, ...)``
(imported as ``from autograder.judge import check as _check``). Under the
grader, the environment variable ``SEQBOOK_JUDGE`` names a Unix socket of
the grading worker: the student's kernel connects to it and only *serves*
requests, while the worker (the judge) runs the check function of
``autograder.checks`` in its own process, on proxies of the student's
objects. Every call of a student function or module is a request: the
judge sends the inputs, the kernel runs the student's code and sends back
the outputs (arrays and tensors as raw numbers, never pickles), and the
judge compares them with its references. Gradients travel the same way: a
proxy call is a ``torch.autograd.Function`` whose backward asks the kernel
for the gradients of the same graph. Whatever the student's code rebinds
(``np.allclose``, builtins, the checks themselves) lives in the kernel and
cannot touch the comparison; the verdict is the judge's and the worker
scores by it.

Two sides, split at the process boundary:

- the kernel side, :data:`KERNEL_SIDE`: ``protocol`` (the wire format),
  ``client`` (``check``, serving the judge's requests) and ``forbid``
  (traps for torch's own implementations). It imports nothing else of
  ``autograder`` and is all of the grader that a sandboxed kernel sees;
- the judge side: ``server`` (the socket, one verdict per cell),
  ``channel`` (proxies of the student's objects) and ``mirrors`` (torch
  modules that mirror the student's).

Without ``SEQBOOK_JUDGE`` (the course's own tests, which run the hidden
blocks directly) ``check`` runs the check function in the calling process.
"""

from autograder.judge.client import check

# The modules a sandboxed kernel gets, as files of the package.
KERNEL_SIDE = [
    "__init__.py",
    "judge/__init__.py",
    "judge/protocol.py",
    "judge/client.py",
    "judge/forbid.py",
]

__all__ = ["check", "KERNEL_SIDE"]
