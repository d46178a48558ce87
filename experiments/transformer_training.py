"""Training the Transformer: warm-up, pre-norm and label smoothing measured.

This script produces the data of the book page "The whole Transformer"
(``book/transformer_model.md``). It trains the tiny encoder-decoder
Transformer of ``experiments/transformer.py`` (two encoder and two decoder
layers, d_model 64, four heads, learned positions) on the course's number
translation task (``seqbook.translation.NumberTranslation``, the same
splits and batches) with the recipe of Vaswani et al. (2017): Adam with
beta2 = 0.98 and eps = 1e-9, the learning rate

    rate(step) = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5),

which grows linearly for ``warmup`` steps and then decays as the inverse
square root of the step, dropout 0.1 and label smoothing 0.1. It then
changes one thing at a time:

- ``warmup``: the recipe as it is (post-norm, as in the paper);
- ``no_warmup``: the same peak learning rate from the first step, then the
  same decay (the schedule without its linear ramp);
- ``pre_norm_no_warmup``: the same without warm-up, with pre-norm layers
  (``norm_first``), which Xiong et al. (2020) found to train without one;
- ``no_smoothing``: the recipe without label smoothing.

Each variant is trained with the settings' seeds. After every epoch the script
measures the teacher-forced cross-entropy of the validation split
(without smoothing) and the exact match of greedy translations of its
first ``valid_sentences`` sentences; at the end, the exact match of the
whole test split. It also records the training loss of every step,
averaged over groups of ``loss_every`` steps, and the learning rate.

Run from the repository root; one command does everything::

    .venv/bin/python experiments/transformer_training.py

It shows a progress bar, uses fixed seeds and writes
``seqbook/data/transformer_training.json``. ``--quick`` runs a tiny
version in seconds, to check that everything works; its results are
meaningless and go to a temporary file unless ``--out`` says otherwise.
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "experiments"))

from seqbook.translation import NumberTranslation, exact_match  # noqa: E402
from seqbook.translators import TrainingOptions, training_steps  # noqa: E402
from common import run_script  # noqa: E402
from transformer import FULL as TRANSFORMER  # noqa: E402
from transformer import MODEL_SIZES, tiny_transformer  # noqa: E402
from transformer import translate_transformer  # noqa: E402

DEFAULT_OUT = REPO / "seqbook" / "data" / "transformer_training.json"

FULL = {
    # the data, batches and model of experiments/transformer.py
    "data": TRANSFORMER["data"],
    "batch_size": TRANSFORMER["batch_size"],
    # six epochs (750 steps; twelve would double the run's time)
    "epochs": 6,
    "max_len": TRANSFORMER["max_len"],
    "max_grad_norm": TRANSFORMER["max_grad_norm"],
    "model": {key: TRANSFORMER["transformer"][key] for key in MODEL_SIZES},
    # the paper's optimiser and schedule (its warm-up of 4,000 of 100,000
    # steps scaled to this run's 750 steps)
    "betas": [0.9, 0.98],
    "eps": 1e-9,
    "warmup_steps": 250,
    "label_smoothing": 0.1,
    "variants": {
        "warmup": {"warmup": True, "norm_first": False, "smoothing": True},
        "no_warmup": {"warmup": False, "norm_first": False, "smoothing": True},
        "pre_norm_no_warmup": {
            "warmup": False,
            "norm_first": True,
            "smoothing": True,
        },
        "no_smoothing": {
            "warmup": True,
            "norm_first": False,
            "smoothing": False,
        },
    },
    "seeds": [0, 1, 2],
    "valid_sentences": 300,
    "loss_every": 5,
    # test sentences whose greedy decoding is recorded step by step (by the
    # first seed of the first variant)
    "decoding_examples": [7, 8],
}

QUICK = {
    **FULL,
    "data": {"num_train": 256, "num_valid": 64, "num_test": 100, "seed": 0},
    "epochs": 2,
    "warmup_steps": 4,
    "seeds": [0],
    "valid_sentences": 32,
    "decoding_examples": [0],
}


def learning_rate(step, settings, warmup):
    """The learning rate of optimiser step ``step`` (1, 2, ...): the
    paper's schedule, or without warm-up its peak until the step where the
    warm-up would have ended, then the same decay."""
    d_model = settings["model"]["d_model"]
    steps = settings["warmup_steps"]
    decay = max(step, steps) ** -0.5  # the inverse square root after it
    ramp = step * steps**-1.5 if warmup else steps**-0.5
    return d_model**-0.5 * min(ramp, decay)


def make_model(task, settings, variant, seed):
    """A freshly initialised tiny Transformer of the variant."""
    torch.manual_seed(seed)
    model = tiny_transformer(task, settings["model"])
    transformer = model.transformer
    for layer in [*transformer.encoder.layers, *transformer.decoder.layers]:
        # nn.Transformer's layers read this flag in every forward pass;
        # both stacks already end with a layer norm of their own
        layer.norm_first = variant["norm_first"]
    return model


@torch.no_grad()
def valid_cross_entropy(model, task, batch_size):
    """Teacher-forced cross-entropy per target token of the validation
    split, without smoothing (nats)."""
    model.eval()
    total, count = 0.0, 0
    for source, _, target, _ in task.batches("valid", batch_size):
        source, target = torch.from_numpy(source), torch.from_numpy(target)
        logits = model(source, None, target[:, :-1])  # (N, T, V)
        total += F.cross_entropy(
            logits.transpose(1, 2),
            target[:, 1:],
            ignore_index=task.pad_idx,
            reduction="sum",
        ).item()
        count += int((target[:, 1:] != task.pad_idx).sum())
    return total / count


@torch.no_grad()
def decoding_steps(model, task, sentence, max_len, top=3):
    """Greedy decoding of one sentence, step by step: at every step the
    ``top`` most probable next tokens and their probabilities (the first
    is the one greedy decoding takes)."""
    model.eval()
    source = torch.from_numpy(task.encode_source([sentence])[0])  # (1, S)
    memory, source_padding = model.encode(source)  # (1, S, d_model)
    tokens = torch.tensor([[task.bos_idx]])  # (1, 1)
    steps = []
    for _ in range(max_len):
        logits = model.decode(tokens, memory, source_padding)[0, -1]  # (V,)
        probs, ids = torch.softmax(logits, dim=-1).topk(top)
        words = [task.target_vocab.itos[i] for i in ids.tolist()]
        steps.append([[w, round(p, 4)] for w, p in zip(words, probs.tolist())])
        tokens = torch.cat([tokens, ids[:1][None]], dim=1)
        if ids[0] == task.eos_idx:
            break
    return {"source": sentence, "steps": steps}


def train_epoch(model, task, optimizer, rng, config):
    """One pass over the training split (the library's
    ``training_steps``), the learning rate's schedule stepped after every
    optimiser step; the loss and gradient norm of every step. ``config``
    holds the ``TrainingOptions``, the schedule and the progress bar."""
    model.train()
    losses, norms = [], []
    for loss, norm in training_steps(
        model, task, optimizer, rng, config["options"]
    ):
        config["scheduler"].step()
        losses.append(loss)
        norms.append(norm)
        config["bar"].update(1)
    return losses, norms


def grouped(values, size):
    """Means of consecutive groups of ``size`` values, rounded."""
    values = np.asarray(values, dtype=float)
    usable = len(values) // size * size
    return np.round(values[:usable].reshape(-1, size).mean(axis=1), 4).tolist()


def train_one(task, settings, name, seed, bar):
    """Train one variant with one seed; its results as a dict."""
    variant = settings["variants"][name]
    model = make_model(task, settings, variant, seed)
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=1.0,
        betas=settings["betas"],
        eps=settings["eps"],
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: learning_rate(step + 1, settings, variant["warmup"]),
    )
    options = TrainingOptions(
        learning_rate=1.0,  # Adam's, which the schedule multiplies
        batch_size=settings["batch_size"],
        max_grad_norm=settings["max_grad_norm"],
        seed=seed,
        label_smoothing=settings["label_smoothing"] * variant["smoothing"],
    )
    config = {"options": options, "scheduler": scheduler, "bar": bar}
    rng = np.random.default_rng(seed)
    valid = task.valid[: settings["valid_sentences"]]
    result = {"seed": seed, "train_loss": [], "grad_norm": []}
    result.update(valid_cross_entropy=[], valid_exact_match=[])
    cpu = time.process_time()
    for epoch in range(settings["epochs"]):
        losses, norms = train_epoch(model, task, optimizer, rng, config)
        result["train_loss"] += losses
        result["grad_norm"] += norms
        entropy = valid_cross_entropy(model, task, settings["batch_size"])
        sources = [e for e, _ in valid]
        translations = translate_transformer(
            model, task, sources, settings["max_len"]
        )
        result["valid_cross_entropy"].append(round(entropy, 4))
        result["valid_exact_match"].append(
            round(exact_match(translations, valid), 4)
        )
        bar.set_postfix_str(
            f"{name} seed {seed} epoch {epoch + 1}: valid cross-entropy "
            f"{entropy:.3f}, exact {result['valid_exact_match'][-1]:.3f}"
        )
    result["cpu_seconds"] = round(time.process_time() - cpu, 1)
    every = settings["loss_every"]
    result["train_loss"] = grouped(result["train_loss"], every)
    result["grad_norm"] = grouped(result["grad_norm"], every)
    translations = translate_transformer(
        model, task, [e for e, _ in task.test], settings["max_len"]
    )
    result["test_exact_match"] = round(exact_match(translations, task.test), 4)
    result["parameters"] = sum(p.numel() for p in model.parameters())
    if (
        name == next(iter(settings["variants"]))
        and seed == settings["seeds"][0]
    ):
        result["decoding"] = [
            decoding_steps(model, task, task.test[i][0], settings["max_len"])
            for i in settings["decoding_examples"]
        ]
    return result


def run(settings, args=None):
    """Train every variant with every seed; the learning rates of the
    two schedules and the results by variant (``args``, the command
    line, is not used)."""
    task = NumberTranslation(**settings["data"])
    batches = -(-len(task.train) // settings["batch_size"])
    runs = len(settings["variants"]) * len(settings["seeds"])
    total = batches * settings["epochs"] * runs
    results = {}
    with tqdm(
        total=total, desc="transformer training", unit="batch", mininterval=1
    ) as bar:
        for name in settings["variants"]:
            results[name] = []
            for seed in settings["seeds"]:
                result = train_one(task, settings, name, seed, bar)
                results[name].append(result)
                bar.write(
                    f"{name} seed {seed}: test exact match "
                    f"{result['test_exact_match']:.3f}, "
                    f"{result['cpu_seconds']:.0f} CPU s"
                )
    steps = batches * settings["epochs"]
    schedule = {
        name: [
            learning_rate(step, settings, warmup)
            for step in range(1, steps + 1, settings["loss_every"])
        ]
        for name, warmup in (("warmup", True), ("no_warmup", False))
    }
    return {"learning_rate": schedule, "results": results}


def main():
    run_script(
        "Train the tiny Transformer on number translation with and "
        "without warm-up, pre-norm and label smoothing; write the results "
        "as JSON.",
        DEFAULT_OUT,
        run,
        (FULL, QUICK),
        seed_help="not used: the seeds are in the settings",
    )


if __name__ == "__main__":
    main()
