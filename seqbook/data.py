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


def split_text(text, valid_fraction=0.1):
    """Split a text (or an array of ids) for held-out evaluation.

    Returns ``(train, valid)``: the first ``1 - valid_fraction`` of the
    text and the rest. The split is by position, not at random, so that no
    window of the validation text also occurs, shifted by a few characters,
    in the training text. The rnn assignment splits its corpus the same
    way.
    """
    if not 0 < valid_fraction < 1:
        raise ValueError("valid_fraction must lie strictly between 0 and 1")
    split = int((1 - valid_fraction) * len(text))
    if split < 2 or len(text) - split < 2:
        raise ValueError(
            f"a text of {len(text)} items is too short to split with "
            f"valid_fraction={valid_fraction}"
        )
    return text[:split], text[split:]


# ------------------------------------------------------- long-range tasks


def adding_problem(num_sequences, seq_len, rng):
    """The adding problem of Hochreiter & Schmidhuber (1997), as usually set.

    Each sequence has seq_len steps of two features: a value drawn
    uniformly from [0, 1] and a marker that is 1 at exactly two steps (one in
    the first half, one in the second) and 0 elsewhere. The target is the
    sum of the two marked values, so predicting 1 always gives a mean
    squared error of about 1/6 (0.167).

    Returns ``(x, y)``: float32 arrays of shapes (N, T, 2) and (N,).
    """
    if seq_len < 2:
        raise ValueError("the adding problem needs seq_len >= 2")
    values = rng.random((num_sequences, seq_len))
    markers = np.zeros((num_sequences, seq_len))
    half = seq_len // 2
    rows = np.arange(num_sequences)
    first = rng.integers(0, half, size=num_sequences)
    second = rng.integers(half, seq_len, size=num_sequences)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[rows, first] + values[rows, second]).astype(np.float32)
    return x, y


def copy_memory(num_sequences, delay, rng, num_symbols=8, length=10):
    """Copy memory: remember ``length`` symbols across ``delay`` steps.

    Tokens: 0 is blank, 1..num_symbols are symbols, num_symbols + 1 is the
    "recall now" marker. An input is the symbols, ``delay - 1`` blanks, the
    marker and ``length`` more blanks; the target is blank everywhere except
    the last ``length`` steps, which repeat the symbols. Guessing blank then
    uniformly random symbols gives a cross-entropy of
    ``length * log(num_symbols) / (delay + 2 * length)`` per step.

    Returns ``(x, y)``: int64 arrays of shape (N, delay + 2 * length).
    """
    total = delay + 2 * length
    symbols = rng.integers(1, num_symbols + 1, size=(num_sequences, length))
    x = np.zeros((num_sequences, total), dtype=np.int64)
    y = np.zeros((num_sequences, total), dtype=np.int64)
    x[:, :length] = symbols
    x[:, length + delay - 1] = num_symbols + 1
    y[:, -length:] = symbols
    return x, y


def reversal(num_sequences, rng, max_len=10, min_len=2, num_symbols=10):
    """Reverse a padded batch of symbol sequences, each within its length.

    Tokens: 0 is padding, 1..num_symbols are symbols. Lengths are drawn
    uniformly from [min_len, max_len]. A model that sees every position at
    once (self-attention) can only solve this if it knows where each token
    sits, so it is a small test of positional encoding.

    Returns ``(x, lengths, y)``: int64 arrays of shapes (N, max_len), (N,)
    and (N, max_len); ``y[n, :lengths[n]]`` is ``x[n, :lengths[n]]``
    reversed, and both are 0 past the length.
    """
    if not 1 <= min_len <= max_len:
        raise ValueError("reversal needs 1 <= min_len <= max_len")
    lengths = rng.integers(min_len, max_len + 1, size=num_sequences)
    x = np.zeros((num_sequences, max_len), dtype=np.int64)
    y = np.zeros((num_sequences, max_len), dtype=np.int64)
    for n, length in enumerate(lengths):
        symbols = rng.integers(1, num_symbols + 1, size=length)
        x[n, :length] = symbols
        y[n, :length] = symbols[::-1]
    return x, lengths.astype(np.int64), y


# ----------------------------------------------------- word-level helpers

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"


class WordVocab:
    """A word vocabulary with special tokens first (PAD is always id 0).

    Words seen fewer than ``min_count`` times map to UNK.
    """

    def __init__(self, sentences, specials=(PAD, UNK), min_count=1):
        if PAD not in specials or UNK not in specials:
            raise ValueError("specials must contain PAD and UNK")
        counts = {}
        for sentence in sentences:
            for word in sentence.split():
                counts[word] = counts.get(word, 0) + 1
        words = sorted(
            w
            for w, c in counts.items()
            if c >= min_count and w not in specials
        )
        self.itos = [PAD] + [s for s in specials if s != PAD] + words
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.pad_idx = self.stoi[PAD]
        self.unk_idx = self.stoi[UNK]

    def __len__(self):
        return len(self.itos)

    def __repr__(self):
        return f"WordVocab({len(self)} tokens)"

    def encode(self, sentence):
        """List of ids of the words of ``sentence`` (UNK for unknown)."""
        return [self.stoi.get(w, self.unk_idx) for w in sentence.split()]

    def decode(self, ids, skip_specials=True):
        """The words of ``ids`` joined by spaces."""
        words = [self.itos[int(i)] for i in ids]
        if skip_specials:
            words = [
                w for w in words if not (w.startswith("<") and w.endswith(">"))
            ]
        return " ".join(words)


def pad_batch(sequences, pad_idx=0):
    """Pad lists of ids to one length.

    Returns ``(ids, lengths)``: int64 arrays of shapes (N, max_len) and
    (N,), shorter sequences filled with ``pad_idx`` on the right.
    """
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    ids = np.full(
        (len(sequences), max(lengths, default=0)), pad_idx, dtype=np.int64
    )
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
    return ids, lengths


_POSITIVE = [
    "good",
    "great",
    "wonderful",
    "funny",
    "moving",
    "clever",
    "beautiful",
    "charming",
]
_NEGATIVE = [
    "bad",
    "boring",
    "awful",
    "dull",
    "silly",
    "weak",
    "clumsy",
    "tedious",
]
_TOPICS = [
    "the film",
    "the story",
    "the acting",
    "the music",
    "the ending",
    "the script",
    "the camera work",
    "the cast",
]
_FILLERS = [
    "i think",
    "honestly",
    "to be fair",
    "in the end",
    "overall",
    "for me",
    "at times",
    "my friends said",
]


def movie_reviews(num_reviews, seed=0):
    """Short synthetic movie reviews with a sentiment label, offline.

    Each review strings together a few clauses like "the music was not
    dull"; a negation flips a clause, and the label (1 positive, 0
    negative) is the sign of the sum of the clauses, so a model must read
    words in order, not just count them. Ties are avoided.

    Returns a list of ``(text, label)``.
    """
    rng = np.random.default_rng(seed)
    reviews = []
    while len(reviews) < num_reviews:
        clauses, total = [], 0
        for _ in range(int(rng.integers(1, 5))):
            positive = bool(rng.random() < 0.5)
            word = rng.choice(_POSITIVE if positive else _NEGATIVE)
            negated = bool(rng.random() < 0.35)
            sign = (1 if positive else -1) * (-1 if negated else 1)
            strength = 2 if rng.random() < 0.3 else 1
            adverb = "really " if strength == 2 else ""
            verb = "was not" if negated else "was"
            clause = f"{rng.choice(_TOPICS)} {verb} {adverb}{word}"
            if rng.random() < 0.4:
                clause = f"{rng.choice(_FILLERS)} {clause}"
            clauses.append(clause)
            total += sign * strength
        if total == 0:
            continue
        reviews.append((" and ".join(clauses) + " .", int(total > 0)))
    return reviews
