"""The kernel's memory limit and output cap (the grader's
``--memory-limit`` and ``--max-output``, which the job carries).

Both hold with or without the sandbox: the memory limit is set on the
kernel's process by pid right after nbclient starts it, before any cell
runs; the outputs are cut as nbclient receives them.
"""

import json
from pathlib import Path

from autograder import notebooks
from autograder.job import MEMORY_ERROR

TRUNCATED = "[output truncated by the grader"
_LIMITS = {"memory": 0, "output": 0}


def limit_kernels(limits):
    """Bound every kernel this worker starts from now on.

    - memory: the kernel's RLIMIT_DATA (the memory it writes to: heap,
      arrays; unlike RLIMIT_AS not the address space that torch maps
      without using) is ``limits.memory_limit`` bytes, so an allocation
      beyond fails with MemoryError in that cell;
    - output: what one cell prints or displays is cut after
      ``limits.max_output`` characters, with a note in its place.
    0 means no limit.
    """
    _LIMITS["memory"] = int(limits.memory_limit or 0)
    _LIMITS["output"] = int(limits.max_output or 0)
    from nbclient.client import NotebookClient
    from nbclient.util import run_sync

    if getattr(NotebookClient, "_grader_limited", False):
        return
    NotebookClient._grader_limited = True
    start = NotebookClient.async_start_new_kernel
    output = NotebookClient.output

    async def start_limited(self, **kwargs):
        await start(self, **kwargs)
        limit = _LIMITS["memory"]
        if getattr(self.km, "grader_memory_limit", None) != limit:
            pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
            bound_memory(pid, limit)

    def output_capped(self, outs, msg, display_id, cell_index):
        if _LIMITS["output"]:
            used = self.__dict__.setdefault("_grader_output", {})
            msg = cap_output(msg, _LIMITS["output"], used, cell_index)
            if msg is None:
                return None
        return output(self, outs, msg, display_id, cell_index)

    NotebookClient.async_start_new_kernel = start_limited
    # The synchronous twin (used by nbconvert's ExecutePreprocessor) was
    # made from the original coroutine: make it again.
    NotebookClient.start_new_kernel = run_sync(start_limited)
    NotebookClient.output = output_capped


def bound_memory(pid, limit):
    """Set the RLIMIT_DATA of the kernel process ``pid`` (0: no limit),
    right after it starts: before the sandbox drops root for the
    kernel's own user, whose limits this process may then not change.
    A kernel started ahead (:func:`autograder.worker.box.start_ahead`) is
    bounded so when it starts, and its manager says with which limit."""
    import resource

    if limit and pid and hasattr(resource, "prlimit"):
        resource.prlimit(pid, resource.RLIMIT_DATA, (limit, limit))


def cap_output(msg, cap, used, cell_index):
    """``msg`` as the notebook may keep it, or None to drop it.

    used: cell index -> characters that cell has shown so far."""
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


def _hits(notebook):
    """(cells that ran out of memory, whether some output was cut)."""
    short, truncated = [], False
    for index, cell in enumerate(notebook["cells"]):
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
                grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
                short.append(grade_id or f"cell {index + 1}")
    return short, truncated


def limits_outcome(autograded, limits, outcome):
    """Status ``memory`` when a cell hit the kernel's memory limit (its
    error says MemoryError, or torch's "can't allocate memory"); a note in
    the detail when some output was cut. ``autograded``: the notebook
    nbgrader ran."""
    if outcome.get("status") != "graded" or not Path(autograded).exists():
        return outcome
    nb = json.loads(Path(autograded).read_text(encoding="utf-8"))
    short, truncated = _hits(nb)
    notes = [outcome.get("detail")] if outcome.get("detail") else []
    if short:
        limit = limits.memory_limit or 0
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
