"""GRU translators for the number-translation task, and how to train,
run and probe them.

The chapters "Sequence to sequence" and "Attention" and the script
``experiments/translation.py`` share these: the encoder-decoder of
Sutskever, Vinyals & Le (2014) and Cho et al. (2014) (``Seq2Seq``), the
same with Luong, Pham & Manning's (2015) global dot-product attention
(``AttentionSeq2Seq``), teacher-forced training steps, batched greedy
translation and a probe of the context vector. Every model has the same
interface: ``encode(source, lengths)`` gives the encoder states and the
decoder's initial state, ``decode(target_in, state, encoder_states,
source_mask)`` the logits, the last state and the attention weights (None
without attention), and ``forward(source, lengths, target_in)`` the logits
of teacher forcing.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqbook.translation import exact_match
from seqbook.training import optimizer_step, train_loop

MAX_LEN = 30  # longer than any target of the task (23 syllables and EOS)


class Seq2Seq(torch.nn.Module):
    """A GRU encoder-decoder: source ids (N, S) -> target logits (N, T, V).

    The encoder's last state, the context vector (1, N, H), is the
    decoder's initial state and all the decoder learns about the source.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embed_dim=64,
        hidden_size=128,
    ):
        super().__init__()
        self.source_embedding = torch.nn.Embedding(
            source_vocab_size, embed_dim, padding_idx=0
        )
        self.encoder = torch.nn.GRU(embed_dim, hidden_size, batch_first=True)
        self.target_embedding = torch.nn.Embedding(
            target_vocab_size, embed_dim, padding_idx=0
        )
        self.decoder = torch.nn.GRU(embed_dim, hidden_size, batch_first=True)
        self.output = torch.nn.Linear(hidden_size, target_vocab_size)

    def encode(self, source, lengths):
        """Encoder states (N, S, H), zero at padding, and context (1, N, H).

        Packing stops every sentence at its own length, so the context is
        the state after the sentence's last real word.
        """
        packed = pack_padded_sequence(
            self.source_embedding(source),
            lengths,
            batch_first=True,
            enforce_sorted=False,
        )
        states, context = self.encoder(packed)  # context: (1, N, H)
        states, _ = pad_packed_sequence(
            states, batch_first=True, total_length=source.shape[1]
        )
        return states, context

    def decode(self, target_in, state, encoder_states, source_mask):
        """Logits (N, T, V) for the inputs target_in (N, T), the last
        state (1, N, H), and None where an attention decoder returns its
        weights. The plain decoder does not look at the encoder states.
        """
        outputs, state = self.decoder(
            self.target_embedding(target_in), state
        )  # (N, T, H)
        return self.output(outputs), state, None

    def forward(self, source, lengths, target_in):
        encoder_states, context = self.encode(source, lengths)
        logits, _, _ = self.decode(
            target_in, context, encoder_states, source != 0
        )
        return logits  # (N, T, V)


class AttentionSeq2Seq(Seq2Seq):
    """Seq2Seq with Luong et al.'s global dot-product attention after the
    decoder step: scores s_t . h_i over the real source words, context
    c_t = sum_i alpha_ti h_i, and output from tanh([c_t; s_t] W_c + b_c).
    """

    def __init__(self, *args, **kwargs):
        """The arguments of ``Seq2Seq``; its modules are made first."""
        super().__init__(*args, **kwargs)
        hidden_size = self.decoder.hidden_size
        self.combine = torch.nn.Linear(2 * hidden_size, hidden_size)  # W_c

    def decode(self, target_in, state, encoder_states, source_mask):
        """Logits (N, T, V), the last state (1, N, H) and the attention
        weights (N, T, S); source_mask (N, S) is True at real words."""
        queries, state = self.decoder(
            self.target_embedding(target_in), state
        )  # s_t, (N, T, H)
        scores = queries @ encoder_states.transpose(1, 2)  # (N, T, S)
        scores = scores.masked_fill(~source_mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (N, T, S)
        context = weights @ encoder_states  # c_t, (N, T, H)
        attentional = torch.tanh(
            self.combine(torch.cat([context, queries], dim=-1))
        )  # (N, T, H)
        return self.output(attentional), state, weights


def reverse_within_length(source, lengths):
    """Source ids (N, S) with each row's first lengths[n] ids reversed,
    the padding left at the end (Sutskever et al.'s reversed input)."""
    reversed_source = source.copy()
    for n, length in enumerate(lengths):
        reversed_source[n, :length] = source[n, :length][::-1]
    return reversed_source


@dataclass
class TrainingOptions:
    """How a translator is trained: Adam at ``learning_rate`` on shuffled
    batches of ``batch_size`` pairs, the gradient norm clipped at
    ``max_grad_norm``; ``seed`` fixes the order of the batches,
    ``reverse`` feeds every source sentence backwards, and
    ``label_smoothing`` spreads that much of each target's probability
    over the whole vocabulary in the loss."""

    learning_rate: float = 2e-3
    batch_size: int = 64
    max_grad_norm: float = 1.0
    seed: int = 0
    reverse: bool = False
    label_smoothing: float = 0.0


def training_steps(model, task, optimizer, rng, options):
    """One pass over the training split in batches shuffled by ``rng``,
    with teacher forcing; yields the loss of every batch and its gradient
    norm (before clipping) after its step.

    The loss is the cross-entropy of every next token, averaged over the
    real tokens (padding ignored); the gradient norm is clipped before
    the optimiser's step. Any model with ``forward(source, lengths,
    target_in) -> logits (N, T, V)`` can be trained.
    """
    for source, lengths, target, _ in task.batches(
        "train", options.batch_size, rng
    ):
        if options.reverse:
            source = reverse_within_length(source, lengths)
        source, lengths, target = map(
            torch.from_numpy, (source, lengths, target)
        )
        logits = model(source, lengths, target[:, :-1])  # (N, T, V)
        loss = F.cross_entropy(
            logits.transpose(1, 2),
            target[:, 1:],  # the targets shifted left: the next tokens
            ignore_index=task.pad_idx,
            label_smoothing=options.label_smoothing,
        )
        norm = optimizer_step(model, optimizer, loss, options.max_grad_norm)
        yield loss.item(), norm


@torch.no_grad()
def translate(model, task, sentences, max_len=MAX_LEN, reverse=False):
    """Greedy translations of English sentences, and attention weights.

    All sentences are decoded as one batch for max_len steps; each
    translation is cut at its first EOS. Returns the list of Korean
    strings and the weights (N, max_len, S), or None for a model without
    attention. ``reverse`` feeds the sources backwards.
    """
    model.eval()
    source, lengths = task.encode_source(sentences)
    if reverse:
        source = reverse_within_length(source, lengths)
    source, lengths = torch.from_numpy(source), torch.from_numpy(lengths)
    encoder_states, state = model.encode(source, lengths)
    source_mask = source != task.pad_idx  # (N, S), True at real words
    token = torch.full((len(sentences), 1), task.bos_idx)  # (N, 1)
    tokens, weights = [], []
    for _ in range(max_len):
        logits, state, step_weights = model.decode(
            token, state, encoder_states, source_mask
        )  # (N, 1, V)
        token = logits.argmax(dim=-1)  # the most probable token, (N, 1)
        tokens.append(token)
        if step_weights is not None:
            weights.append(step_weights)  # (N, 1, S)
    ids = torch.cat(tokens, dim=1).tolist()  # (N, max_len)
    translations = [task.decode_target(row) for row in ids]
    return translations, (torch.cat(weights, dim=1) if weights else None)


def train_translator(model, task, epochs, options=None, desc="training"):
    """Train ``model`` for ``epochs`` passes with Adam, clipping and
    teacher forcing, with a progress bar (``train_loop``).

    Returns the mean training loss and the exact match of the greedy
    translations of the validation split after every epoch, two lists.
    """
    options = options or TrainingOptions()
    optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
    rng = np.random.default_rng(options.seed)
    valid_sources = [e for e, _ in task.valid]
    accuracies = []

    def epoch(i):
        model.train()
        steps = training_steps(model, task, optimizer, rng, options)
        losses = [loss for loss, _ in steps]
        translations, _ = translate(
            model, task, valid_sources, reverse=options.reverse
        )
        accuracies.append(exact_match(translations, task.valid))
        return np.mean(losses)

    return train_loop(epoch, epochs, desc=desc), accuracies


@torch.no_grad()
def context_sensitivity(model, task, length, reverse=False):
    """How much the context vector moves when one source word changes.

    For every test sentence of ``length`` words and every position i, the
    word at i is replaced by each of the number words in turn, and the
    change of the context vector (the encoder's last state) is measured
    relative to its norm. Returns the mean relative change for every
    position, in the order of the English words (also for a model that
    reads them backwards, ``reverse``), and the number of sentences.
    """
    model.eval()
    word_ids = torch.tensor(
        [
            i
            for i, w in enumerate(task.source_vocab.itos)
            if not w.startswith("<")
        ]
    )
    sentences = [e for e, _ in task.test if len(e.split()) == length]
    ids = torch.tensor([task.source_vocab.encode(e) for e in sentences])

    def reading(x):  # the order in which the model reads the words
        return x.flip(1) if reverse else x

    _, context = model.encode(reading(ids), torch.full((len(ids),), length))
    context = context[0].repeat_interleave(len(word_ids), dim=0)  # (N W, H)
    varied = ids.repeat_interleave(len(word_ids), dim=0)  # (N W, S)
    lengths = torch.full((len(varied),), length)
    change = []
    for i in range(length):
        edited = varied.clone()
        edited[:, i] = word_ids.repeat(len(ids))  # every word at position i
        _, new = model.encode(reading(edited), lengths)  # (1, N W, H)
        relative = (new[0] - context).norm(dim=1) / context.norm(dim=1)
        change.append(relative.mean().item())
    return change, len(sentences)


__all__ = [
    "MAX_LEN",
    "AttentionSeq2Seq",
    "Seq2Seq",
    "TrainingOptions",
    "context_sensitivity",
    "reverse_within_length",
    "train_translator",
    "training_steps",
    "translate",
]
