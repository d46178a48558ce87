"""Translating numbers: a GRU encoder-decoder with and without attention.

This script produces the data of the book pages "Sequence to sequence"
(``book/seq2seq.md``) and "Attention" (``book/attention.md``). On the task
``seqbook.translation.NumberTranslation`` (English number words to Korean
number words) it trains, with the same data, batches, optimiser and number
of steps,

- ``seq2seq``: the encoder-decoder of Sutskever, Vinyals & Le (2014) and
  Cho et al. (2014), with GRUs; the encoder's last hidden state is the only
  thing the decoder learns about the source;
- ``seq2seq_reversed``: the same model reading every source sentence
  backwards, the trick of Sutskever et al. (2014);
- ``luong``: the same encoder and decoder with global dot-product attention
  and an attentional layer tanh(W_c [c_t; s_t]) (Luong, Pham & Manning,
  2015);
- ``bahdanau``: additive attention scored with the previous decoder state,
  v^T tanh(W_b s_{t-1} + W_c h_i), whose context is an input of the decoder
  GRU (Bahdanau, Cho & Bengio, 2015), with the same one-directional
  encoder as the others.

After every epoch it measures the exact-match accuracy of greedy
translations of the validation split; at the end it stores every model's
greedy translation of every test sentence (the book computes the accuracy
by length and BLEU from them); for the attention models, the attention
weights of a few test sentences; and for the plain models, how strongly
the context vector depends on the word at each position of the input.

Run from the repository root; one command does everything::

    .venv/bin/python experiments/translation.py

It shows a progress bar, uses fixed seeds and writes
``seqbook/data/translation.json`` (the results, the command, the date, the
versions, the settings and the run time). ``--quick`` runs a tiny version in
a few seconds, to check that everything works; its results are meaningless
and go to a temporary file unless ``--out`` says otherwise.
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from seqbook.translation import NumberTranslation  # noqa: E402
from common import arguments, write_record  # noqa: E402

DEFAULT_OUT = REPO / "seqbook" / "data" / "translation.json"
MODELS = ("seq2seq", "seq2seq_reversed", "luong", "bahdanau")

FULL = {
    "data": {
        "num_train": 8000,
        "num_valid": 1000,
        "num_test": 1000,
        "seed": 0,
    },
    "embed_dim": 64,
    "hidden_size": 128,
    "batch_size": 64,
    "learning_rate": 2e-3,
    "max_grad_norm": 1.0,
    "epochs": 20,
    "max_len": 30,
    # test sentences whose attention weights are stored: the first one of
    # each of these source lengths
    "attention_lengths": [5, 9, 13, 17, 19],
    # test sentences of this length probe the plain models' context vector
    "sensitivity_length": 15,
}

QUICK = {
    **FULL,
    "data": {"num_train": 256, "num_valid": 64, "num_test": 200, "seed": 0},
    "epochs": 1,
}


# ----------------------------------------------------------------- models


class Seq2Seq(torch.nn.Module):
    """A GRU encoder-decoder (Sutskever et al., 2014; Cho et al., 2014).

    The encoder reads the source ids (N, S); its last hidden state, the
    context vector (1, N, H), is the decoder's initial state. The decoder
    reads the target shifted right (BOS first) and predicts the next token
    at every step: logits (N, T, V).
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
        states, context = self.encoder(packed)
        states, _ = pad_packed_sequence(
            states, batch_first=True, total_length=source.shape[1]
        )
        return states, context

    def decode(self, target_in, state, encoder_states, source_mask):
        """Logits (N, T, V), the last state (1, N, H) and no weights.

        The plain decoder ignores the encoder states: all it knows about
        the source is in its initial state.
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


class LuongSeq2Seq(Seq2Seq):
    """Global dot-product attention after the decoder step (Luong et al.,
    2015): scores s_t . h_i, weights a softmax over the real source words,
    context c_t the weighted sum of the h_i, output from
    tanh(W_c [c_t; s_t])."""

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embed_dim=64,
        hidden_size=128,
    ):
        super().__init__(
            source_vocab_size, target_vocab_size, embed_dim, hidden_size
        )
        self.combine = torch.nn.Linear(2 * hidden_size, hidden_size)

    def decode(self, target_in, state, encoder_states, source_mask):
        """Logits (N, T, V), the last state and the weights (N, T, S)."""
        queries, state = self.decoder(
            self.target_embedding(target_in), state
        )  # s_t, (N, T, H)
        scores = queries @ encoder_states.transpose(1, 2)  # (N, T, S)
        scores = scores.masked_fill(~source_mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (N, T, S)
        context = weights @ encoder_states  # (N, T, H)
        attentional = torch.tanh(
            self.combine(torch.cat([context, queries], dim=-1))
        )
        return self.output(attentional), state, weights


class BahdanauSeq2Seq(Seq2Seq):
    """Additive attention before the decoder step (Bahdanau et al., 2015):
    scores v . tanh(W_b s_{t-1} + W_c h_i); the context c_t and the
    previous token are the input of the decoder's GRU cell; output from
    tanh(W_o [c_t; s_t])."""

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embed_dim=64,
        hidden_size=128,
    ):
        super().__init__(
            source_vocab_size, target_vocab_size, embed_dim, hidden_size
        )
        self.decoder = torch.nn.GRUCell(embed_dim + hidden_size, hidden_size)
        self.query_layer = torch.nn.Linear(
            hidden_size, hidden_size, bias=False
        )  # W_b
        self.key_layer = torch.nn.Linear(
            hidden_size, hidden_size, bias=False
        )  # W_c
        self.score_vector = torch.nn.Linear(hidden_size, 1, bias=False)  # v
        self.combine = torch.nn.Linear(2 * hidden_size, hidden_size)

    def decode(self, target_in, state, encoder_states, source_mask):
        """Logits (N, T, V), the last state and the weights (N, T, S)."""
        s = state[0]  # s_{t-1}, (N, H)
        keys = self.key_layer(encoder_states)  # (N, S, H)
        embedded = self.target_embedding(target_in)  # (N, T, E)
        outputs, all_weights = [], []
        for t in range(target_in.shape[1]):
            hidden = torch.tanh(self.query_layer(s)[:, None] + keys)
            scores = self.score_vector(hidden)[..., 0]  # (N, S)
            scores = scores.masked_fill(~source_mask, float("-inf"))
            weights = torch.softmax(scores, dim=-1)  # (N, S)
            context = (weights[:, None] @ encoder_states)[:, 0]  # (N, H)
            s = self.decoder(
                torch.cat([embedded[:, t], context], dim=-1), s
            )  # s_t, (N, H)
            outputs.append(
                torch.tanh(self.combine(torch.cat([context, s], dim=-1)))
            )
            all_weights.append(weights)
        logits = self.output(torch.stack(outputs, dim=1))  # (N, T, V)
        return logits, s[None], torch.stack(all_weights, dim=1)


CLASSES = {
    "seq2seq": Seq2Seq,
    "seq2seq_reversed": Seq2Seq,
    "luong": LuongSeq2Seq,
    "bahdanau": BahdanauSeq2Seq,
}


# ---------------------------------------------------------- data and eval


def reverse_within_length(source, lengths):
    """Source ids (N, S) with each row's first lengths[n] ids reversed."""
    reversed_source = source.copy()
    for n, length in enumerate(lengths):
        reversed_source[n, :length] = source[n, :length][::-1]
    return reversed_source


def source_tensors(task, kind, sentences):
    """Padded source ids (N, S) and lengths (N,) as tensors."""
    source, lengths = task.encode_source(sentences)
    if kind == "seq2seq_reversed":
        source = reverse_within_length(source, lengths)
    return torch.from_numpy(source), torch.from_numpy(lengths)


@torch.no_grad()
def translate(model, task, kind, sentences, max_len):
    """Greedy translations of English sentences, and attention weights.

    All sentences are decoded as one batch for max_len steps; each
    translation is cut at its first EOS. Returns the list of Korean strings
    and the weights (N, max_len, S) or None.
    """
    model.eval()
    source, lengths = source_tensors(task, kind, sentences)
    encoder_states, state = model.encode(source, lengths)
    source_mask = source != task.pad_idx  # (N, S), True = a real word
    token = torch.full((len(sentences), 1), task.bos_idx)  # (N, 1)
    tokens, weights = [], []
    for _ in range(max_len):
        logits, state, step_weights = model.decode(
            token, state, encoder_states, source_mask
        )
        token = logits.argmax(dim=-1)  # the most probable token, (N, 1)
        tokens.append(token)
        if step_weights is not None:
            weights.append(step_weights)
    ids = torch.cat(tokens, dim=1).tolist()  # (N, max_len)
    translations = [task.decode_target(row) for row in ids]
    return translations, (torch.cat(weights, dim=1) if weights else None)


def exact_match(translations, pairs):
    """Fraction of translations equal to the reference."""
    return float(np.mean([t == k for t, (_, k) in zip(translations, pairs)]))


@torch.no_grad()
def context_sensitivity(model, task, kind, length):
    """How much the context vector moves when one source word changes.

    For every test sentence of ``length`` words and every position i, the
    word at i is replaced by each of the number words in turn, and the
    change of the context vector (the encoder's last state) is measured
    relative to its norm. Returns the mean relative change for every
    position, in the order of the English words (also for the model that
    reads them backwards), and the number of sentences.
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
        return x.flip(1) if kind == "seq2seq_reversed" else x

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
    return rounded(change), len(sentences)


def rounded(values, digits=4):
    """Nested lists of floats rounded to a few decimals, for the JSON."""
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


# --------------------------------------------------------------- training


def train_one(kind, task, settings, seed, bar):
    """Train one model and evaluate it; returns its results as a dict."""
    torch.manual_seed(seed)
    model = CLASSES[kind](
        len(task.source_vocab),
        len(task.target_vocab),
        settings["embed_dim"],
        settings["hidden_size"],
    )
    optimizer = torch.optim.Adam(
        model.parameters(), lr=settings["learning_rate"]
    )
    rng = np.random.default_rng(seed)  # the same batches for every model
    valid_sources = [e for e, _ in task.valid]
    result = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_loss": [],
        "valid_exact_match": [],
    }
    start = time.perf_counter()
    for epoch in range(settings["epochs"]):
        model.train()
        losses = []
        for source, lengths, target, _ in task.batches(
            "train", settings["batch_size"], rng
        ):
            if kind == "seq2seq_reversed":
                source = reverse_within_length(source, lengths)
            source, lengths, target = map(
                torch.from_numpy, (source, lengths, target)
            )
            logits = model(source, lengths, target[:, :-1])  # (N, T, V)
            loss = F.cross_entropy(
                logits.transpose(1, 2),
                target[:, 1:],
                ignore_index=task.pad_idx,
            )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(
                model.parameters(), settings["max_grad_norm"]
            )
            optimizer.step()
            losses.append(loss.item())
            bar.update(1)
        translations, _ = translate(
            model, task, kind, valid_sources, settings["max_len"]
        )
        accuracy = exact_match(translations, task.valid)
        result["train_loss"].append(round(float(np.mean(losses)), 5))
        result["valid_exact_match"].append(round(accuracy, 4))
        bar.set_postfix_str(
            f"{kind} epoch {epoch + 1} loss "
            f"{np.mean(losses):.4f} valid {accuracy:.3f}"
        )
    result["train_seconds"] = round(time.perf_counter() - start, 1)

    test_sources = [e for e, _ in task.test]
    translations, weights = translate(
        model, task, kind, test_sources, settings["max_len"]
    )
    result["test_exact_match"] = round(exact_match(translations, task.test), 4)
    result["test_translations"] = translations
    length = settings["sensitivity_length"]
    if weights is None and length in [len(e.split()) for e, _ in task.test]:
        change, count = context_sensitivity(model, task, kind, length)
        result["context_sensitivity"] = {
            "length": length,
            "sentences": count,
            "relative_change": change,
        }
    if weights is not None:
        result["attention"] = attention_examples(
            task, translations, weights, settings
        )
    return result


def attention_examples(task, translations, weights, settings):
    """Attention weights of the first test sentence of some lengths.

    Each entry holds the test index, the source and the model's
    translation, and the weights (output tokens + EOS, source words).
    """
    examples = []
    lengths = [len(e.split()) for e, _ in task.test]
    for wanted in settings["attention_lengths"]:
        if wanted not in lengths:
            continue
        n = lengths.index(wanted)
        rows = len(translations[n].split()) + 1  # the tokens and EOS
        examples.append(
            {
                "index": n,
                "source": task.test[n][0],
                "translation": translations[n],
                "weights": rounded(weights[n, :rows, :wanted]),
            }
        )
    return examples


def run(settings, seed):
    """Train and evaluate every model; returns the results as a dict."""
    task = NumberTranslation(**settings["data"])
    batches = -(-len(task.train) // settings["batch_size"])
    total = batches * settings["epochs"] * len(MODELS)
    results = {}
    with tqdm(
        total=total, desc="translation", unit="batch", mininterval=1.0
    ) as bar:
        for kind in MODELS:
            results[kind] = train_one(kind, task, settings, seed, bar)
            bar.write(
                f"{kind}: test exact match "
                f"{results[kind]['test_exact_match']:.3f} "
                f"({results[kind]['train_seconds']:.0f} s)"
            )
    summary = accuracy_by_length(task, results)
    return results, summary


def accuracy_by_length(task, results):
    """Test exact match for groups of source lengths, for the log."""
    lengths = np.array([len(e.split()) for e, _ in task.test])
    groups = [(1, 4), (5, 8), (9, 12), (13, 16), (17, 19)]
    summary = {}
    for kind, result in results.items():
        correct = np.array(
            [
                t == k
                for t, (_, k) in zip(result["test_translations"], task.test)
            ]
        )
        summary[kind] = {
            f"{lo}-{hi}": round(
                float(correct[(lengths >= lo) & (lengths <= hi)].mean()), 4
            )
            for lo, hi in groups
            if ((lengths >= lo) & (lengths <= hi)).any()
        }
    return summary


def print_summary(summary):
    """Exact match by input length, a line per model."""
    for kind, groups in summary.items():
        print(
            f"{kind:25s}",
            "  ".join(f"{g}: {a:.3f}" for g, a in groups.items()),
        )


def main():
    args = arguments(
        "Train GRU encoder-decoders with and without attention on "
        "English-to-Korean number translation; write the results as JSON.",
        DEFAULT_OUT,
    )
    settings = QUICK if args.quick else FULL
    start = time.perf_counter()
    results, summary = run(settings, args.seed)
    print_summary(summary)
    write_record(
        args,
        settings,
        time.perf_counter() - start,
        models=list(MODELS),
        accuracy_by_length=summary,
        results=results,
    )


if __name__ == "__main__":
    main()
