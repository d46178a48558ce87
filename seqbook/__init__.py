"""seqbook: the course library of *Sequence Models, from RNNs to Transformers*.

Chapters and assignment notebooks import these helpers instead of pasting
them: gradient checking, seeded fixtures, data, a training loop with a
progress bar, held-out evaluation of language models, small models, and
plotting. It never contains the solution of a graded exercise.
"""

from seqbook.data import CharVocab, bag_of_words, char_batches, hello_example
from seqbook.data import load_corpus, one_hot, split_text
from seqbook.fixtures import random_rnn_inputs, seed_everything
from seqbook.gradcheck import numerical_gradient, relative_error
from seqbook.training import Adam, EarlyStopping, TrainOptions
from seqbook.training import train_char_model, train_loop

# Imported when first asked for (PEP 562): they import torch, which the
# numpy notebooks neither need nor wait for.
_LAZY = {
    "bits_per_token": "seqbook.evaluation",
    "held_out_nll": "seqbook.evaluation",
    "perplexity": "seqbook.evaluation",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seqbook' has no attribute {name!r}")


__all__ = [
    "Adam",
    "CharVocab",
    "EarlyStopping",
    "TrainOptions",
    "bag_of_words",
    "bits_per_token",
    "char_batches",
    "hello_example",
    "held_out_nll",
    "load_corpus",
    "numerical_gradient",
    "one_hot",
    "perplexity",
    "random_rnn_inputs",
    "relative_error",
    "seed_everything",
    "split_text",
    "train_char_model",
    "train_loop",
]
