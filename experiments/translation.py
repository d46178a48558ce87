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
  and an attentional layer tanh([c_t; s_t] W_c + b_c) (Luong, Pham &
  Manning, 2015);
- ``bahdanau``: additive attention scored with the previous decoder state,
  v . tanh(s_{t-1} W_q + h_i W_k), whose context is an input of the
  decoder GRU (Bahdanau, Cho & Bengio, 2015), with the same
  one-directional encoder as the others.

The models, the training steps, the greedy translation and the probe of
the context vector come from the course library (``seqbook.translators``),
which the chapters use too; the Bahdanau model is this script's own.

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
from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from seqbook.translation import (  # noqa: E402
    NumberTranslation,
    accuracy_by_length,
    exact_match,
)
from seqbook.translators import (  # noqa: E402
    AttentionSeq2Seq,
    Seq2Seq,
    TrainingOptions,
    context_sensitivity,
    training_steps,
    translate,
)
from common import run_script  # noqa: E402

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


class BahdanauSeq2Seq(Seq2Seq):
    """Additive attention before the decoder step (Bahdanau et al., 2015):
    scores v . tanh(s_{t-1} W_q + h_i W_k); the context c_t and the
    previous token are the input of the decoder's GRU cell; output from
    tanh([c_t; s_t] W_o + b_o)."""

    def __init__(self, *args, **kwargs):
        """The arguments of ``Seq2Seq``; its modules are made first (the
        same random numbers), then its decoder is replaced by a cell."""
        super().__init__(*args, **kwargs)
        embed_dim = self.decoder.input_size
        hidden_size = self.decoder.hidden_size
        self.decoder = torch.nn.GRUCell(embed_dim + hidden_size, hidden_size)
        self.query_layer = torch.nn.Linear(
            hidden_size, hidden_size, bias=False
        )  # W_q
        self.key_layer = torch.nn.Linear(
            hidden_size, hidden_size, bias=False
        )  # W_k
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
    "luong": AttentionSeq2Seq,
    "bahdanau": BahdanauSeq2Seq,
}


# --------------------------------------------------------------- training


def rounded(values, digits=4):
    """Nested lists of floats rounded to a few decimals, for the JSON."""
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def train_one(kind, task, settings, seed, bar):
    """Train one model and evaluate it; returns its results as a dict."""
    torch.manual_seed(seed)
    model = CLASSES[kind](
        len(task.source_vocab),
        len(task.target_vocab),
        settings["embed_dim"],
        settings["hidden_size"],
    )
    options = TrainingOptions(
        learning_rate=settings["learning_rate"],
        batch_size=settings["batch_size"],
        max_grad_norm=settings["max_grad_norm"],
        seed=seed,
        reverse=kind == "seq2seq_reversed",
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
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
        for loss, _ in training_steps(model, task, optimizer, rng, options):
            losses.append(loss)
            bar.update(1)
        translations, _ = translate(
            model, task, valid_sources, settings["max_len"], options.reverse
        )
        accuracy = exact_match(translations, task.valid)
        result["train_loss"].append(round(float(np.mean(losses)), 5))
        result["valid_exact_match"].append(round(accuracy, 4))
        bar.set_postfix_str(
            f"{kind} epoch {epoch + 1} loss "
            f"{np.mean(losses):.4f} valid {accuracy:.3f}"
        )
    result["train_seconds"] = round(time.perf_counter() - start, 1)
    evaluate(model, task, settings, options.reverse, result)
    return result


def evaluate(model, task, settings, reverse, result):
    """Add the test translations, their exact match and the attention
    weights or the context vector's sensitivity to ``result``."""
    test_sources = [e for e, _ in task.test]
    translations, weights = translate(
        model, task, test_sources, settings["max_len"], reverse
    )
    result["test_exact_match"] = round(exact_match(translations, task.test), 4)
    result["test_translations"] = translations
    length = settings["sensitivity_length"]
    if weights is None and length in [len(e.split()) for e, _ in task.test]:
        change, count = context_sensitivity(model, task, length, reverse)
        result["context_sensitivity"] = {
            "length": length,
            "sentences": count,
            "relative_change": rounded(change),
        }
    if weights is not None:
        result["attention"] = attention_examples(
            task, translations, weights, settings
        )


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
    summary = length_summary(task, results)
    return results, summary


# groups of source lengths for the summary in the log and the record
SUMMARY_GROUPS = ((1, 4), (5, 8), (9, 12), (13, 16), (17, 19))


def length_summary(task, results):
    """Test exact match for groups of source lengths, a dict per model."""
    summary = {}
    for kind, result in results.items():
        rows = accuracy_by_length(
            result["test_translations"], task.test, SUMMARY_GROUPS
        )
        summary[kind] = {
            f"{lo}-{hi}": round(float(accuracy), 4)
            for (lo, hi), (accuracy, _, count) in zip(SUMMARY_GROUPS, rows)
            if count
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
    def run_all(settings, args):
        results, summary = run(settings, args.seed)
        print_summary(summary)
        record = {"models": list(MODELS), "accuracy_by_length": summary}
        return {**record, "results": results}

    run_script(
        "Train GRU encoder-decoders with and without attention on "
        "English-to-Korean number translation; write the results as JSON.",
        DEFAULT_OUT,
        run_all,
        (FULL, QUICK),
    )


if __name__ == "__main__":
    main()
