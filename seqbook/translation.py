"""A toy translation task that works offline: English number words to
Korean number words.

    "three hundred forty two thousand five hundred eleven"
        -> "삼 십 사 만 이 천 오 백 십 일"

English is tokenised by words, Korean by syllables (each syllable of a
Sino-Korean number is a word of its own: 일 이 삼 ... 십 백 천 만 억). The
two languages order the parts of a number differently (English groups by
thousands, Korean by ten-thousands: 만, 억), so a model cannot translate
word by word; and inputs range from one word to more than twenty, long
enough for the fixed context vector of a plain encoder-decoder to become a
bottleneck. Everything is generated from a seed: no download.
"""

import numpy as np

from seqbook.data import BOS, EOS, PAD, UNK, WordVocab, pad_batch

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = [
    "",
    "",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
]
_KOREAN_DIGITS = ["", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]
MAX_NUMBER = 999_999_999_999


def english_number(n):
    """English words for 0 <= n < 10**12, without "and" or hyphens.

    english_number(342511) == "three hundred forty two thousand five
    hundred eleven"
    """
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"n must lie in [0, {MAX_NUMBER}], got {n}")
    if n == 0:
        return "zero"

    def below_thousand(k):
        words = []
        if k >= 100:
            words += [_ONES[k // 100], "hundred"]
            k %= 100
        if k >= 20:
            words.append(_TENS[k // 10])
            k %= 10
        if k:
            words.append(_ONES[k])
        return words

    words = []
    scales = (
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
        (1, ""),
    )
    for scale, name in scales:
        part = n // scale % 1000
        if part:
            words += below_thousand(part) + ([name] if name else [])
    return " ".join(words)


def korean_number(n):
    """Sino-Korean reading of 0 <= n < 10**12, one syllable a token.

    As usually read: 1 is left out before 십, 백, 천 and 만 (10,000 is "만",
    not "일 만"), but kept before 억.

    korean_number(342511) == "삼 십 사 만 이 천 오 백 십 일"
    """
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"n must lie in [0, {MAX_NUMBER}], got {n}")
    if n == 0:
        return "영"

    def below_man(k):
        syllables = []
        for value, unit in ((1000, "천"), (100, "백"), (10, "십")):
            digit = k // value % 10
            if digit:
                if digit > 1:
                    syllables.append(_KOREAN_DIGITS[digit])
                syllables.append(unit)
        if k % 10:
            syllables.append(_KOREAN_DIGITS[k % 10])
        return syllables

    syllables = []
    eok, man, rest = n // 100_000_000, n // 10_000 % 10_000, n % 10_000
    if eok:
        syllables += (["일"] if eok == 1 else below_man(eok)) + ["억"]
    if man:
        syllables += ([] if man == 1 else below_man(man)) + ["만"]
    syllables += below_man(rest)
    return " ".join(syllables)


def sample_numbers(count, rng, max_digits=12):
    """Numbers whose count of digits is uniform in 1..max_digits, so that
    short and long inputs are equally common."""
    digits = rng.integers(1, max_digits + 1, size=count)
    low = np.where(digits == 1, 0, 10 ** (digits - 1))
    return [int(rng.integers(lo, 10**d)) for lo, d in zip(low, digits)]


class NumberTranslation:
    """English number words -> Korean number words, split and encoded.

    Attributes:
    - train, valid, test: lists of (english, korean) string pairs with no
      number in two splits
    - source_vocab, target_vocab: WordVocab with PAD (id 0), UNK, BOS, EOS
    """

    def __init__(
        self,
        num_train=8000,
        num_valid=1000,
        num_test=1000,
        seed=0,
        max_digits=12,
    ):
        rng = np.random.default_rng(seed)
        wanted = num_train + num_valid + num_test
        numbers = []
        seen = set()
        while len(numbers) < wanted:
            for n in sample_numbers(wanted, rng, max_digits):
                if n not in seen and len(numbers) < wanted:
                    seen.add(n)
                    numbers.append(n)
        pairs = [(english_number(n), korean_number(n)) for n in numbers]
        self.numbers = numbers
        self.train = pairs[:num_train]
        self.valid = pairs[num_train : num_train + num_valid]
        self.test = pairs[num_train + num_valid :]
        specials = (PAD, UNK, BOS, EOS)
        self.source_vocab = WordVocab([e for e, _ in self.train], specials)
        self.target_vocab = WordVocab([k for _, k in self.train], specials)
        self.pad_idx = self.source_vocab.pad_idx
        self.bos_idx = self.target_vocab.stoi[BOS]
        self.eos_idx = self.target_vocab.stoi[EOS]

    def encode_source(self, sentences):
        """Padded source ids (N, S) and lengths (N,), int64 arrays."""
        return pad_batch(
            [self.source_vocab.encode(s) for s in sentences], self.pad_idx
        )

    def encode_target(self, sentences):
        """Padded target ids (N, T + 2) with BOS first and EOS after the
        last token, and the lengths (N,) counting BOS and EOS."""
        ids = [
            [self.bos_idx] + self.target_vocab.encode(s) + [self.eos_idx]
            for s in sentences
        ]
        return pad_batch(ids, self.pad_idx)

    def batches(self, split, batch_size, rng=None):
        """Yield (source, source_lengths, target, target_lengths) batches.

        The split is shuffled with ``rng`` when one is given.
        """
        pairs = getattr(self, split)
        order = np.arange(len(pairs))
        if rng is not None:
            rng.shuffle(order)
        for start in range(0, len(pairs), batch_size):
            chunk = [pairs[i] for i in order[start : start + batch_size]]
            source, source_lengths = self.encode_source([e for e, _ in chunk])
            target, target_lengths = self.encode_target([k for _, k in chunk])
            yield source, source_lengths, target, target_lengths

    def decode_target(self, ids):
        """Korean text of target ids, stopping at EOS, specials removed."""
        words = []
        for i in ids:
            if int(i) == self.eos_idx:
                break
            words.append(int(i))
        return self.target_vocab.decode(words)

    def __repr__(self):
        return (
            f"NumberTranslation(train={len(self.train)}, valid="
            f"{len(self.valid)}, test={len(self.test)}, source vocab "
            f"{len(self.source_vocab)}, target vocab "
            f"{len(self.target_vocab)})"
        )


def exact_match(translations, pairs):
    """Fraction of translations identical to the reference of their
    (english, korean) pair, a float."""
    return float(np.mean([t == k for t, (_, k) in zip(translations, pairs)]))


# Groups of source lengths (English words) for accuracy by length: about
# 100 test sentences each, the shortest and longest lengths pooled.
LENGTH_GROUPS = (
    (1, 4),
    (5, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
    (17, 19),
)


def accuracy_by_length(translations, pairs, groups=LENGTH_GROUPS):
    """Exact match for groups of source lengths.

    Inputs:
    - translations: one string per pair
    - pairs: the (english, korean) pairs translated
    - groups: (shortest, longest) numbers of English words, inclusive

    Returns an array (groups, 3): the exact match of each group, its
    standard error sqrt(a (1 - a) / n), and the number n of pairs in it
    (a group without pairs has NaN accuracy and error).
    """
    if len(translations) != len(pairs):
        raise ValueError(
            f"{len(translations)} translations for {len(pairs)} pairs"
        )
    lengths = np.array([len(e.split()) for e, _ in pairs])
    correct = np.array([t == k for t, (_, k) in zip(translations, pairs)])
    rows = []
    for lo, hi in groups:
        chosen = correct[(lengths >= lo) & (lengths <= hi)]
        if len(chosen) == 0:
            rows.append((np.nan, np.nan, 0))
            continue
        a = chosen.mean()
        rows.append((a, np.sqrt(a * (1 - a) / len(chosen)), len(chosen)))
    return np.array(rows, dtype=np.float64)  # (groups, 3)


__all__ = [
    "LENGTH_GROUPS",
    "NumberTranslation",
    "accuracy_by_length",
    "exact_match",
    "english_number",
    "korean_number",
    "sample_numbers",
    "UNK",
]
