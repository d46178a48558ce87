"""Glue a value computed on a book page into the page's text, cheaply.

The chapters quote the numbers their code computes with myst-nb's
``{glue:text}`name:format``` role. myst-nb's own ``glue`` function imports
nbformat, which imports jsonschema and its format checkers: about two
seconds of every page's build spent on one import. This module writes the
same output (a display of the value's formatted representation under
myst-nb's ``application/papermill.record/`` prefix, named in the output's
``scrapbook`` metadata) with IPython alone; tests/test_seqbook.py checks
that it matches myst-nb's ``glue``.
"""

from IPython.core.formatters import format_display_data
from IPython.display import display as ipython_display

GLUE_PREFIX = "application/papermill.record/"


def glue(name, value, display=False):
    """Make `value` available to the page's text as ``{glue:text}`name```.

    Numbers should be plain Python numbers (``float(x)``, ``tensor.item()``):
    the role formats the value's text representation, and numpy's
    ``np.float64(0.5)`` is not a number to it. With display=True the value is
    also shown in the cell's output, as with myst-nb's glue.
    """
    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipython_display(
        {prefix + mime: data for mime, data in bundle.items()},
        raw=True,
        metadata=metadata,
    )
