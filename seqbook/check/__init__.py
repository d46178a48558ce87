"""A self-check for students: run an assignment notebook as the grader
will and see which visible tests pass, before handing it in.

    python -m seqbook.check PATH/TO/rnn.ipynb

or, from inside the notebook, its last cell (``check_my_work``). The
notebook runs in a fresh kernel, in an empty folder, every cell in order
from the top, under the grader's limits (:mod:`seqbook.check.rules`;
those this machine cannot apply are named). The report gives, for every
test cell, *passed*, *failed* with the test's message, or *not
attempted* (the code it tests still raises ``NotImplementedError``),
with its points; and what the grader would refuse or mark down: a wrong
file name or folder, test cells changed or deleted, a cell over the time
limit, outputs too large, tests that pass only when cells run out of
order. The exit status is 0 only when every visible test passes.

The check knows only what a released notebook holds: its visible tests.
The grader also runs hidden tests, which are not in the notebook and
never run here.

Modules: ``rules`` (the grader's published rules), ``notebook``
(reading a notebook's cells and their grading metadata), ``form`` (what
is wrong before running), ``run`` (the run), ``report`` (the verdict and
the command), ``cell`` (the notebook's last cell).
"""

from seqbook.check.cell import check_my_work

__all__ = ["check_my_work"]
