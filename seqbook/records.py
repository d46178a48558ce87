"""Cached experiment records that the chapters read.

Some experiments of the book take minutes to hours on a CPU (long-range
memory, regularisation, the translators, the tiny Transformer, the
character language models). The scripts in the course's ``experiments/``
folder run them once and write one JSON record each: the results with the
command, the date, the versions, the machine and the settings. The records
ship inside this package, so a chapter reads them the same way in the
book's build, in Colab or from an empty folder::

    from seqbook.records import load_record
    record = load_record("translation")
"""

import json
from importlib import resources

# The records that ship with the package: name -> what made it.
RECORDS = {
    "long_range": "experiments/long_range.py",
    "regularisation": "experiments/regularisation.py",
    "translation": "experiments/translation.py",
    "transformer": "experiments/transformer.py",
    "transformer_training": "experiments/transformer_training.py",
    "language_models": "experiments/language_models.py",
}


def record_path(name):
    """Where the record ``name`` lives inside the installed package."""
    if name not in RECORDS:
        raise ValueError(
            f"unknown record {name!r}; choose one of {sorted(RECORDS)}"
        )
    return resources.files("seqbook") / "data" / f"{name}.json"


def load_record(name):
    """The record ``name`` as a dict (see ``RECORDS``)."""
    text = record_path(name).read_text(encoding="utf-8")
    return json.loads(text)
