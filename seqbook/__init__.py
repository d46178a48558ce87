"""seqbook: the course library of *Sequence Models, from RNNs to Transformers*.

Chapters and assignment notebooks import these helpers instead of pasting
them: gradient checking, seeded fixtures, data, a training loop with a
progress bar, and plotting. It never contains the solution of a graded
exercise.
"""

from seqbook.data import CharVocab, bag_of_words, char_batches, hello_example
from seqbook.data import load_corpus, one_hot
from seqbook.fixtures import random_rnn_inputs, seed_everything
from seqbook.gradcheck import numerical_gradient, relative_error
from seqbook.training import Adam, train_loop

__all__ = [
    "Adam",
    "CharVocab",
    "bag_of_words",
    "char_batches",
    "hello_example",
    "load_corpus",
    "numerical_gradient",
    "one_hot",
    "random_rnn_inputs",
    "relative_error",
    "seed_everything",
    "train_loop",
]
