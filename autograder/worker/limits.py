"""The kernel's output cap, and what the limits did to a submission.

The outputs are cut as nbclient receives them (``--max-output``);
the kernel's resource limits (memory, processes, open files, the size
of what it writes) are set as it starts (:mod:`autograder.worker.box`,
:mod:`autograder.worker.launcher`); :func:`limits_outcome` gives the
row the status of a limit that was hit.
"""

import json
from pathlib import Path

from autograder import notebooks
from autograder.job import LIMIT_ERRORS, MEMORY_ERROR, with_limits

TRUNCATED = "[output truncated by the grader"
_LIMITS = {"output": 0}


def limit_kernels(limits):
    """Cap the output of every kernel this worker starts from now on:
    what one cell prints or displays is cut after ``limits.max_output``
    characters (0: no cap), with a note in its place. (The kernel's
    resource limits are set by :mod:`autograder.worker.launcher` as it
    starts.)"""
    _LIMITS["output"] = int(limits.max_output or 0)
    from nbclient.client import NotebookClient

    if getattr(NotebookClient, "_grader_limited", False):
        return
    NotebookClient._grader_limited = True
    output = NotebookClient.output

    def output_capped(self, outs, msg, display_id, cell_index):
        if _LIMITS["output"]:
            used = self.__dict__.setdefault("_grader_output", {})
            msg = cap_output(msg, _LIMITS["output"], used, cell_index)
            if msg is None:
                return None
        return output(self, outs, msg, display_id, cell_index)

    NotebookClient.output = output_capped


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


def _said(output):
    """What an output says that could be a limit's error: an error's name
    and message, or what the kernel wrote on stderr (where it reports an
    error it could not even format)."""
    if output.get("output_type") == "error":
        return f"{output.get('ename', '')}: {output.get('evalue', '')}"
    if output.get("name") == "stderr":
        text = output.get("text", "")
        return "".join(text) if isinstance(text, list) else str(text)
    return ""


def _truncated(output):
    text = output.get("text", "")
    text = "".join(text) if isinstance(text, list) else str(text)
    return TRUNCATED in text or TRUNCATED in json.dumps(output.get("data", {}))


def _scan(notebook):
    """(status -> the cells whose errors say that limit was reached,
    whether some output was cut)."""
    found, truncated = {}, False
    for index, cell in enumerate(notebook["cells"]):
        name = notebooks.nbgrader_meta(cell).get("grade_id")
        name = name or f"cell {index + 1}"
        for output in cell.get("outputs", []):
            truncated = truncated or _truncated(output)
            said = _said(output)
            if output.get("output_type") == "error" and MEMORY_ERROR.search(
                said
            ):
                found.setdefault("memory", []).append(name)
            for status, pattern in LIMIT_ERRORS.items():
                if pattern.search(said):
                    found.setdefault(status, []).append(name)
    return found, truncated


def _describe(status, limits, cells):
    where = ", ".join(dict.fromkeys(cells))
    if status == "memory":
        limit = limits.memory_limit or 0
        size = f" (limit {limit / 2**30:g} GB)" if limit else ""
        return f"ran out of memory{size} in {where}"
    if status == "processes":
        return (
            f"could not start a process or thread (limit "
            f"{limits.max_processes}) in {where}"
        )
    if status == "open_files":
        return (
            f"could not open a file (limit {limits.max_open_files} open "
            f"files) in {where}"
        )
    return (
        f"could not write a file (limit {limits.disk_limit / 2**20:g} MB "
        f"and {limits.max_files} files) in {where}"
    )


def limits_outcome(autograded, limits, outcome):
    """The outcome with the status of the first limit the submission
    reached (:data:`~autograder.job.LIMIT_ORDER`): those the worker's
    watch saw (the outcome's ``hits``), and those a cell's error names
    (MemoryError, torch's "can't allocate memory", "Too many open
    files", ...) in a notebook that ran to its end; a note in the detail
    when some output was cut. ``autograded``: the notebook nbgrader
    ran."""
    hits = dict(outcome.get("hits") or {})
    notes = [outcome.get("detail")] if outcome.get("detail") else []
    if outcome.get("status") == "graded" and Path(autograded).exists():
        nb = json.loads(Path(autograded).read_text(encoding="utf-8"))
        found, truncated = _scan(nb)
        for status, cells in found.items():
            hits.setdefault(status, _describe(status, limits, cells))
        if truncated:
            notes.append("some output was cut (too long)")
    return with_limits(dict(outcome, detail="; ".join(notes)), hits)
