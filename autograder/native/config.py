"""The lines of ``nbgrader_config.py`` that plug the grader into a
course: ``python -m autograder nbgrader-config`` prints them.

The pipelines are nbgrader's own lists (``Autograde`` and
``GenerateFeedback`` in nbgrader 0.9), with our steps in their places;
the names are strings, so the file imports nothing and nbgrader loads
the classes when it builds the pipeline.
"""

from autograder import course
from autograder.job import Limits

AUTOGRADE = [
    "autograder.native.JudgedExecute",  # instead of nbgrader's Execute
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "autograder.native.ApplyVerdicts",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
    "autograder.native.HideHiddenTests",
]
FEEDBACK = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.native.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]


def _list(name, items):
    lines = [f"{name} = ["]
    lines += [f"    {_py(item)}," for item in items]
    return lines + ["]"]


def _py(value):
    """A value as Python source, strings in double quotes."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _size(n):
    """4294967296 -> '4G', as the command line writes sizes."""
    for unit, scale in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if n and n % scale == 0:
            return f"{n // scale}{unit}"
    return str(n)


def config_lines(limits=None):
    """The lines to add to a course's ``nbgrader_config.py`` (after ``c =
    get_config()``), with ``limits`` (default: the grader's)."""
    limits = limits or Limits()
    lines = [
        "# The sequence-models grader inside nbgrader (printed by",
        "# `python -m autograder nbgrader-config`): the hidden checks run",
        "# outside the student's kernel, which is sandboxed where the",
        "# machine allows and limited; no hidden test reaches the feedback.",
        *_list("c.Autograde.autograde_preprocessors", AUTOGRADE),
        *_list("c.GenerateFeedback.preprocessors", FEEDBACK),
        "# Limits per submission (as `python -m autograder grade`).",
    ]
    for name, value in course.execute_settings(limits.cell_timeout).items():
        lines.append(f"c.Execute.{name} = {_py(value)}")
    lines += [
        f"c.JudgedExecute.notebook_timeout = {limits.notebook_timeout}",
        f"c.JudgedExecute.memory_limit = {_py(_size(limits.memory_limit))}",
        f"c.JudgedExecute.max_output = {_py(_size(limits.max_output))}",
    ]
    return "\n".join(lines) + "\n"
