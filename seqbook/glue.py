"""Glue a value computed on a book page into its prose, cheaply.

``glue(name, value)`` records ``value`` in the output of the running cell
under ``name``, so that the page's text can show it with myst-nb's
``{glue:text}`name:.1%``` role. It writes exactly what ``myst_nb.glue``
writes (the display data of the value under myst-nb's prefix, and its
``scrapbook`` name in the metadata; a test compares the two), without
importing ``myst_nb``, whose glue module pulls in nbformat and
jsonschema: about 1.5 s at the first glue of every page.
"""

# myst-nb reads glued values from display data under this prefix
# (papermill's, from which the format comes) when they are not shown.
HIDDEN_PREFIX = "application/papermill.record/"


def glue(name, value, display=False):
    """Record ``value`` under ``name`` for myst-nb's glue roles; shown in
    the cell's output too when ``display`` is True. Glue Python numbers
    (``float(x)``, ``int(n)``): a numpy scalar's text is
    ``np.float64(...)``, which the roles cannot format."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display as show

    data, metadata = format_display_data(value)
    prefix = "" if display else HIDDEN_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    show(
        {prefix + mime: content for mime, content in data.items()},
        raw=True,
        metadata=metadata,
    )


__all__ = ["glue"]
