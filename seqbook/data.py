"""Data helpers for the first chapters: characters, one-hot vectors, batches.

Everything here works offline: the corpora ship inside the package.
"""

from importlib import resources

import numpy as np

CORPORA = ("tiny_stories", "simple_sentences")

# A tiny grammar for the "simple_sentences" corpus: regular enough for a
# small character model to learn in seconds, varied enough that it cannot
# simply memorise the text.
_SUBJECTS = [
    "the cat",
    "the dog",
    "a small bird",
    "the boy",
    "the girl",
    "my friend",
    "the old man",
    "a young fox",
    "the teacher",
]
_VERBS = [
    "sat on",
    "ran to",
    "looked at",
    "walked to",
    "sang to",
    "waited by",
    "slept near",
    "jumped over",
    "painted",
]
_OBJECTS = [
    "the mat",
    "the door",
    "the hill",
    "the sea",
    "the wall",
    "the old tree",
    "the red house",
    "the river",
    "the garden",
]
_ENDINGS = [
    "",
    "",
    " in the morning",
    " at night",
    " when the rain came",
    " and then went home",
    " for a long time",
    " with a smile",
]


def hello_example():
    """The classic next-character example: input "hell", targets "ello".

    Returns ``(vocab, inputs, targets)`` where vocab is a CharVocab over
    h, e, l, o and inputs, targets are int arrays of shape (4,).
    """
    vocab = CharVocab("helo")
    return vocab, vocab.encode("hell"), vocab.encode("ello")


def load_corpus(name="tiny_stories"):
    """Text of a corpus shipped with seqbook (see ``CORPORA``)."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose one of {CORPORA}")
    if name == "simple_sentences":
        return simple_sentences()
    path = resources.files("seqbook") / "data" / f"{name}.txt"
    return path.read_text(encoding="utf-8")


def simple_sentences(num_sentences=1200, seed=0):
    """Sentences from a tiny English grammar, one per line, reproducibly.

    "the cat sat on the mat in the morning." and the like: a corpus with
    enough structure for next-character prediction and no download.
    """
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(num_sentences):
        parts = [
            rng.choice(_SUBJECTS),
            rng.choice(_VERBS),
            rng.choice(_OBJECTS),
        ]
        lines.append(" ".join(parts) + str(rng.choice(_ENDINGS)) + ".")
    return "\n".join(lines) + "\n"


class CharVocab:
    """A character vocabulary: characters <-> integer ids.

    Ids follow the order in which characters first appear in ``text``
    (or sorted order when ``sort=True``), so a vocabulary is reproducible.
    """

    def __init__(self, text, sort=False):
        chars = list(dict.fromkeys(text))
        if sort:
            chars.sort()
        if not chars:
            raise ValueError("a vocabulary needs at least one character")
        self.chars = chars
        self.index = {ch: i for i, ch in enumerate(chars)}

    def __len__(self):
        return len(self.chars)

    def __repr__(self):
        return f"CharVocab({''.join(self.chars)!r})"

    def encode(self, text):
        """Int array of shape (len(text),) holding the ids of ``text``."""
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise KeyError(f"characters not in the vocabulary: {unknown}")
        return np.array([self.index[ch] for ch in text], dtype=np.int64)

    def decode(self, ids):
        """The string whose characters have the given ids."""
        return "".join(self.chars[int(i)] for i in np.ravel(ids))


def one_hot(ids, num_classes):
    """One-hot float64 vectors: ids of shape (...) -> (..., num_classes)."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(f"ids must lie in [0, {num_classes})")
    return np.eye(num_classes, dtype=np.float64)[ids]


def bag_of_words(sentence, vocabulary):
    """Count vector of the words of ``sentence`` over ``vocabulary``.

    Word order is lost: "dog bites man" and "man bites dog" give the same
    vector, which is the point the sequence-data chapter makes with it.
    """
    index = {word: i for i, word in enumerate(vocabulary)}
    counts = np.zeros(len(vocabulary), dtype=np.int64)
    for word in sentence.split():
        if word in index:
            counts[index[word]] += 1
    return counts


def char_batches(ids, seq_len, batch_size, rng):
    """A random batch of (input, target) windows for next-character training.

    Inputs:
    - ids: int array of shape (L,), the encoded corpus
    - seq_len: window length T
    - batch_size: number of windows N
    - rng: a numpy Generator

    Returns ``(x, y)``, int arrays of shape (N, T) where ``y`` is ``x``
    shifted one character to the left.
    """
    ids = np.asarray(ids)
    if len(ids) < seq_len + 1:
        raise ValueError(
            f"the text has {len(ids)} characters; windows of {seq_len} need "
            f"at least {seq_len + 1}"
        )
    starts = rng.integers(0, len(ids) - seq_len, size=batch_size)
    x = np.stack([ids[s : s + seq_len] for s in starts])
    y = np.stack([ids[s + 1 : s + seq_len + 1] for s in starts])
    return x, y
