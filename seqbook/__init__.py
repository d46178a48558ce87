"""seqbook: the course library of *Sequence Models, from RNNs to Transformers*.

Chapters and assignment notebooks import these helpers instead of pasting
them: gradient checking, seeded fixtures, data, a training loop with a
progress bar, held-out evaluation of language models, small models, and
plotting. It never contains the solution of a graded exercise.
"""

from seqbook.data import CharVocab, bag_of_words, char_batches, hello_example
from seqbook.data import load_corpus, one_hot, split_text
from seqbook.evaluation import bits_per_token, held_out_nll, perplexity
from seqbook.fixtures import random_rnn_inputs, seed_everything
from seqbook.gradcheck import numerical_gradient, relative_error
from seqbook.training import Adam, EarlyStopping, TrainOptions
from seqbook.training import train_char_model, train_loop

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
