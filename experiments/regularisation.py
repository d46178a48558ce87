"""Regularising a character-level RNN: dropout, variational dropout, tying.

This script produces the data of the book page "Regularising recurrent
networks" (``book/rnn_regularisation.md``). It trains one small
character-level language model (an embedding, a vanilla tanh RNN, a linear
output layer) on the first 90 % of the ``tiny_stories`` corpus of
``seqbook`` and measures its loss on the last 10 % every few steps, with

- no regularisation;
- dropout on the non-recurrent connections only, a new mask at every step
  (Zaremba, Sutskever & Vinyals, 2014, "Recurrent neural network
  regularization");
- the same, plus dropout on the recurrent connection with a new mask at
  every step ("naive" recurrent dropout);
- variational dropout (Gal & Ghahramani, 2016, "A theoretically grounded
  application of dropout in recurrent neural networks"): one mask per
  sequence, the same at every step, on the inputs, the outputs and the
  recurrent connection;
- weight tying (Press & Wolf, 2017; Inan, Khosravi & Socher, 2017): the
  output layer's weight is the embedding matrix;
- variational dropout and weight tying together;

each with several seeds. Early stopping needs no run of its own: the page
applies it to the recorded validation curves.

Run from the repository root; one command does everything::

    .venv/bin/python experiments/regularisation.py

The full run takes about a quarter of an hour on a two-core laptop CPU
shared with other work (one torch thread). It shows a progress bar, uses
fixed seeds and writes ``seqbook/data/regularisation.json``. ``--quick`` runs a
tiny version in seconds, to check that everything works; its results are
meaningless and go to a temporary file unless ``--out`` says otherwise.
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from seqbook.data import CharVocab, load_corpus, split_text  # noqa: E402
from seqbook.evaluation import held_out_nll  # noqa: E402
from seqbook.training import train_char_model  # noqa: E402
from common import run_script, train_options  # noqa: E402

DEFAULT_OUT = REPO / "seqbook" / "data" / "regularisation.json"

FULL = {
    "hidden_size": 128,
    "steps": 1500,
    "seq_len": 32,
    "batch_size": 32,
    "lr": 0.003,
    "max_norm": 1.0,
    "eval_every": 50,
    "dropout": 0.3,
    "seeds": 3,
}
QUICK = dict(FULL, hidden_size=16, steps=20, eval_every=10, seeds=1)


@dataclass
class Regularisers:
    """Which regularisers a model uses.

    - dropout: probability of dropping a unit (0: no dropout)
    - recurrent: also drop units of h_{t-1} where it enters step t
    - variational: one mask per sequence, the same at every step (else a
      new mask at every step)
    - tie_weights: the output layer's weight is the embedding matrix
    """

    dropout: float = 0.0
    recurrent: bool = False
    variational: bool = False
    tie_weights: bool = False


def arms(dropout):
    """The compared configurations, by name, in the page's order."""
    return {
        "none": Regularisers(),
        "dropout": Regularisers(dropout),
        "naive recurrent": Regularisers(dropout, recurrent=True),
        "variational": Regularisers(dropout, True, variational=True),
        "tied": Regularisers(tie_weights=True),
        "variational + tied": Regularisers(dropout, True, True, True),
    }


class RegularisedCharRNN(torch.nn.Module):
    """Embedding (V, H) -> tanh RNN -> linear scores (V), with dropout
    masks as ``Regularisers`` says. ``forward(ids, state=None)`` takes ids
    (N, T) and returns scores (N, T, V) and the last state (N, H)."""

    def __init__(self, vocab_size, hidden_size, regularisers):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, hidden_size)
        torch.nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        self.cell = torch.nn.RNNCell(hidden_size, hidden_size)
        self.output = torch.nn.Linear(hidden_size, vocab_size)
        if regularisers.tie_weights:
            self.output.weight = self.embedding.weight  # one (V, H) matrix
        self.reg = regularisers

    def mask(self, shape):
        """Keep each unit with probability 1 - p, scaled by 1 / (1 - p)."""
        keep = 1 - self.reg.dropout
        return torch.bernoulli(torch.full(shape, keep)) / keep

    def masks(self, N, T, H):
        """Masks (T, N, H) for the inputs, outputs and recurrent state."""
        if not (self.training and self.reg.dropout):
            return None, None, None
        shape = (1, N, H) if self.reg.variational else (T, N, H)
        masks = [self.mask(shape).expand(T, N, H) for _ in range(3)]
        return masks[0], masks[1], masks[2] if self.reg.recurrent else None

    def forward(self, ids, state=None):
        N, T = ids.shape
        x = self.embedding(ids).transpose(0, 1)  # (T, N, H)
        H = x.shape[2]
        h = torch.zeros(N, H) if state is None else state  # (N, H)
        inputs, outputs, recurrent = self.masks(N, T, H)
        states = []
        for t in range(T):
            x_t = x[t] if inputs is None else x[t] * inputs[t]  # (N, H)
            h_in = h if recurrent is None else h * recurrent[t]  # (N, H)
            h = self.cell(x_t, h_in)  # (N, H)
            states.append(h if outputs is None else h * outputs[t])
        scores = self.output(torch.stack(states, dim=1))  # (N, T, V)
        return scores, h


def run(settings, base_seed):
    """Train every configuration with every seed; the curves and scores."""
    text = load_corpus("tiny_stories")
    vocab = CharVocab(text, sort=True)
    train_text, valid_text = split_text(text)
    train_ids, valid_ids = vocab.encode(train_text), vocab.encode(valid_text)
    options = train_options(settings, lr=settings["lr"])
    results = {}
    configs = arms(settings["dropout"])
    jobs = [(n, s) for n in configs for s in range(settings["seeds"])]
    for name, seed in tqdm(jobs, desc="regularisation"):
        torch.manual_seed(base_seed + seed)
        model = RegularisedCharRNN(
            len(vocab), settings["hidden_size"], configs[name]
        )
        options.seed, options.desc = base_seed + seed, f"{name}, {seed}"
        start = time.perf_counter()
        history = train_char_model(model, train_ids, valid_ids, options)
        results.setdefault(name, []).append(
            {
                "seed": base_seed + seed,
                "valid_step": history["valid_step"],
                "valid_nll": history["valid_nll"],
                "train_nll": held_out_nll(model, train_ids),
                "parameters": sum(p.numel() for p in model.parameters()),
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    return {
        "train_characters": len(train_ids),
        "valid_characters": len(valid_ids),
        "vocab_size": len(vocab),
        "runs": results,
    }


def main():
    """Parse the command line, run the experiment, write the JSON record."""
    run_script(
        "Train a character-level RNN with and without dropout, variational "
        "dropout and weight tying; write the validation curves as JSON.",
        DEFAULT_OUT,
        lambda settings, args: run(settings, args.seed),
        (FULL, QUICK),
        seed_help="base seed (runs use base, base + 1, ...)",
    )


if __name__ == "__main__":
    main()
