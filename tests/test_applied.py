"""The applied parts' checks cannot be fooled by what the notebook builds
around the model: the grader rebuilds the data (vocabulary, validation
text, test numbers, fresh sequences) itself, runs the notebook's
architecture with torch on the trained weights, and requires the student's
model to compute the same numbers. Each test is a trick that the checks
of earlier versions accepted; an untrained model would fail them anyway,
so each trick is built to pass the *old* way of checking (an oracle
forward, easy data, a lying vocabulary) and must fail the new one.

Honest, trained models get full marks in test_grading.py (the reference
solution graded by the real grader).
"""

import numpy as np
import pytest
import torch
from torch import nn

from alternatives import ALTERNATIVES
from autograder.checks import CheckFailure
from autograder.checks import attention as attention_checks
from autograder.checks import gru as gru_checks
from autograder.checks import lstm as lstm_checks
from autograder.checks import rnn as rnn_checks
from autograder.checks import self_attention as sa_checks
from autograder.checks import seq2seq as seq2seq_checks
from hidden import load
from mutants import MUTANTS
from submissions import solution_sources


def test_rnn_validation_text_is_the_graders():
    """Parameters that always predict one character have a tiny loss on a
    'validation text' made of that character; the grader measures the
    real one."""
    V, H = 27, 4
    params = {
        "Wx": np.zeros((V, H)),
        "Wh": np.zeros((H, H)),
        "b": np.zeros(H),
        "Wy": np.zeros((H, V)),
        "by": np.zeros(V),
    }
    params["by"][5] = 30.0
    with pytest.raises(CheckFailure, match="validation loss"):
        rnn_checks.char_model_trained(params, threshold=1.0)


class LyingVocab:
    """Encodes every text as character 0 and decodes anything as 'e'."""

    chars = list("e")

    def __len__(self):
        return 27

    def encode(self, text):
        return [0] * len(text)

    def decode(self, ids):
        return "e" * len(ids)


def test_rnn_sampling_is_judged_with_the_graders_vocabulary():
    namespace = load("rnn")

    def sample(params, vocab, start, length, temperature=1.0, rng=None):
        return start + "e" * length

    with pytest.raises(CheckFailure, match="sample_chars"):
        rnn_checks.sample_chars(sample, LyingVocab())
    # the reference solution passes with the real vocabulary
    from seqbook.data import CharVocab, load_corpus

    vocab = CharVocab(load_corpus("simple_sentences"), sort=True)
    rnn_checks.sample_chars(namespace["sample_chars"], vocab)


def test_lstm_oracle_forward_fails():
    """A model that holds the student's LSTM but answers the adding problem
    by formula (mean squared error 0) is not what the LSTM computes."""
    LSTM = load("lstm")["LSTM"]

    class Oracle(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = LSTM(2, 8)
            self.head = nn.Linear(8, 1)

        def forward(self, x):
            return (x[..., 0] * x[..., 1]).sum(dim=1)

    with pytest.raises(CheckFailure, match="differ from torch.nn.LSTM"):
        lstm_checks.adding_model_trained(
            Oracle(), LSTM, threshold=0.03, seq_len=20
        )


def test_lstm_other_architecture_is_named():
    LSTM = load("lstm")["LSTM"]

    class Other(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = LSTM(2, 8)
            self.extra = nn.Linear(8, 8)
            self.head = nn.Linear(8, 1)

        def forward(self, x):
            return self.head(self.extra(self.lstm(x)[1][0][0])).squeeze(-1)

    with pytest.raises(CheckFailure, match="unexpected extra.bias"):
        lstm_checks.adding_model_trained(
            Other(), LSTM, threshold=0.03, seq_len=20
        )


def test_gru_oracle_forward_fails():
    """A classifier that reads the sentiment words instead of running its
    GRUCell (accuracy near 1 on the synthetic reviews)."""
    from seqbook.data import WordVocab, movie_reviews

    GRUCell = load("gru")["GRUCell"]
    vocab = WordVocab([text for text, _ in movie_reviews(3000, seed=0)])
    scores = torch.zeros(len(vocab))
    for word in ("great", "loved", "wonderful", "excellent", "fun", "best"):
        if word in vocab.stoi:
            scores[vocab.stoi[word]] = 1.0
    for word in ("boring", "awful", "hated", "bad", "worst", "dull", "silly"):
        if word in vocab.stoi:
            scores[vocab.stoi[word]] = -1.0

    class Oracle(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(len(vocab), 16)
            self.cell = GRUCell(16, 8)
            self.head = nn.Linear(8, 1)

        def forward(self, ids, lengths):
            return scores[ids].sum(dim=1)

    with pytest.raises(CheckFailure, match="differ from torch.nn.GRUCell"):
        gru_checks.review_classifier_trained(Oracle(), GRUCell, threshold=0.85)


def _transformer_parts(replace=None):
    """The notebook's Transformer class (or another implementation's), its
    layer classes (as the hidden call passes them) and the grader's task."""
    namespace = load("self_attention", replace)
    layers = [
        namespace[name]
        for name in (
            "TransformerEncoderLayer",
            "TransformerDecoderLayer",
            "MultiHeadAttention",
        )
    ]
    return namespace["Transformer"], layers, seq2seq_checks.course_task()


def test_transformer_oracle_forward_fails():
    """A Transformer whose forward answers from the grader's own test
    numbers (exact match 1 the old way), its layers unused."""
    Transformer, layers, task = _transformer_parts()
    answers = {
        tuple(task.source_vocab.encode(english)): (
            task.target_vocab.encode(korean) + [task.eos_idx]
        )
        for english, korean in task.test
    }

    class Oracle(Transformer):
        def forward(self, source, lengths, target_in):
            V = len(task.target_vocab)
            logits = torch.full((*target_in.shape, V), -10.0)
            for n, length in enumerate(lengths.tolist()):
                words = tuple(source[n, :length].tolist())
                answer = answers.get(words, [])[: target_in.shape[1]]
                for t, token in enumerate(answer):
                    logits[n, t, token] = 10.0
            return logits

    torch.manual_seed(0)
    model = Oracle(len(task.source_vocab), len(task.target_vocab))
    with pytest.raises(CheckFailure, match="differ from the notebook's"):
        sa_checks.translator_trained(model, *layers, threshold=0.8)


def test_transformer_untrained_translates_nothing():
    """Training cut short: the grader decodes the grader's test numbers
    with the weights, whatever the notebook measured."""
    Transformer, layers, task = _transformer_parts()
    torch.manual_seed(0)
    model = Transformer(len(task.source_vocab), len(task.target_vocab))
    with pytest.raises(CheckFailure, match="exact match is 0.000"):
        sa_checks.translator_trained(model, *layers, threshold=0.8, count=20)


def test_transformer_heads_kept_under_another_name_are_found():
    """The alternative MultiHeadAttention keeps its heads as ``h``: the
    check finds the count from the logits and goes on to decode."""
    Transformer, layers, task = _transformer_parts(
        ALTERNATIVES["self_attention"]
    )
    assert not hasattr(layers[2](8, 2), "num_heads")
    torch.manual_seed(0)
    model = Transformer(len(task.source_vocab), len(task.target_vocab))
    with pytest.raises(CheckFailure, match="exact match is 0.000"):
        sa_checks.translator_trained(model, *layers, threshold=0.8, count=20)


def test_transformer_other_architecture_or_vocabulary_is_named():
    Transformer, layers, task = _transformer_parts()
    sizes = len(task.source_vocab), len(task.target_vocab)
    model = Transformer(*sizes, d_model=16, nhead=2, num_layers=1)
    model.extra = nn.Linear(16, 16)
    with pytest.raises(CheckFailure, match="unexpected extra.bias"):
        sa_checks.translator_trained(model, *layers, threshold=0.8)
    easy = Transformer(sizes[0], 12, d_model=16, nhead=2, num_layers=1)
    with pytest.raises(CheckFailure, match="task's vocabularies"):
        sa_checks.translator_trained(easy, *layers, threshold=0.8)


class Seq2SeqShape(nn.Module):
    """The notebooks' translator's parameters, untrained; whatever its
    methods answer, the grader only reads the weights."""

    def __init__(self, task, attention):
        super().__init__()
        V_s, V_t = len(task.source_vocab), len(task.target_vocab)
        self.source_embedding = nn.Embedding(V_s, 8)
        self.encoder = nn.GRU(8, 16, batch_first=True)
        self.target_embedding = nn.Embedding(V_t, 8)
        self.decoder = nn.GRU(8, 16, batch_first=True)
        if attention:
            self.combine = nn.Linear(32, 16)
        self.output = nn.Linear(16, V_t)


@pytest.mark.parametrize("attention", [False, True])
def test_translators_are_decoded_from_their_weights(attention):
    """The old checks decoded with the notebook's make_step_fn and task:
    an oracle step function or easy test pairs gave full marks. Now an
    untrained translator fails, whatever the notebook defines."""
    task = seq2seq_checks.course_task()
    model = Seq2SeqShape(task, attention)
    with pytest.raises(CheckFailure, match="exact.match"):
        if attention:
            attention_checks.long_inputs_translated(
                model, min_words=13, threshold=0.5
            )
        else:
            seq2seq_checks.translator_trained(model, threshold=0.2)


def test_translator_other_architecture_is_named():
    task = seq2seq_checks.course_task()
    model = Seq2SeqShape(task, attention=True)
    with pytest.raises(CheckFailure, match="unexpected combine"):
        seq2seq_checks.translator_trained(model, threshold=0.2)


def _course_vocab():
    from seqbook.data import CharVocab, load_corpus

    return CharVocab(load_corpus("simple_sentences"), sort=True)


SAMPLE_MUTANTS = [m for m in MUTANTS["rnn"] if m[1] == "sample_chars"]


@pytest.mark.parametrize("mutant", SAMPLE_MUTANTS, ids=lambda m: m[0])
def test_rnn_sampling_mutants_fail(mutant):
    """The sampling check, run here on every mutant of sample_chars (the
    real grader gets them too, in test_grading.py)."""
    _, grade_id, old, new, _, words = mutant
    source = solution_sources("rnn")[grade_id]
    assert old in source
    namespace = load("rnn", {grade_id: source.replace(old, new)})
    with pytest.raises(CheckFailure, match=words):
        rnn_checks.sample_chars(namespace["sample_chars"], _course_vocab())


def test_rnn_sampling_written_differently_passes():
    namespace = load(
        "rnn", {"sample_chars": ALTERNATIVES["rnn"]["sample_chars"]}
    )
    rnn_checks.sample_chars(namespace["sample_chars"], _course_vocab())
