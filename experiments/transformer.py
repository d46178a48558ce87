"""Translating numbers: a tiny Transformer against seq2seq with attention.

This script produces the data of the book page "Self-attention and the
Transformer" (``book/self_attention.md``). On the task of the two chapters
before it, ``seqbook.translation.NumberTranslation`` (English number words
to Korean number words), with the same splits, the same batches in the same
order and the same number of epochs, it trains

- ``transformer``: an encoder-decoder Transformer (Vaswani et al., 2017)
  built from ``torch.nn.Transformer``: two encoder layers, two decoder
  layers, four heads, post-norm; the positions of the tokens enter as a
  learned embedding of the position added to the token embedding;
- ``transformer_no_positions``: the same model without any position
  information, to show what self-attention does with a bag of words;
- ``luong``: the GRU encoder-decoder with dot-product attention of
  ``seqbook.translators`` (Luong, Pham & Manning, 2015), trained
  again here so that its training time is measured on the same machine, at
  the same moment and with the same number of threads as the Transformer's.

After every epoch it measures the exact-match accuracy of greedy
translations of the validation split and the time spent on the training
batches alone, as wall-clock time and as the CPU time of the process (on
a machine shared with other programs, the CPU time is the steadier of the
two). At the end it stores every model's greedy translation of
every test sentence (the book computes the accuracy by input length from
them) and, for the Transformer, the attention weights of every head, layer
and attention block for a few test sentences.

Run from the repository root; one command does everything::

    .venv/bin/python experiments/transformer.py

It shows a progress bar, uses fixed seeds and writes
``seqbook/data/transformer.json`` (the results, the command, the date, the
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
sys.path.insert(0, str(REPO / "experiments"))

from seqbook.translation import NumberTranslation, exact_match  # noqa: E402
from seqbook.translators import (  # noqa: E402
    AttentionSeq2Seq,
    TrainingOptions,
    training_steps,
)
from seqbook.translators import translate as translate_rnn  # noqa: E402
from common import run_script  # noqa: E402
from translation import FULL as TRANSLATION  # noqa: E402
from translation import length_summary, print_summary, rounded  # noqa: E402

DEFAULT_OUT = REPO / "seqbook" / "data" / "transformer.json"
MODELS = ("transformer", "transformer_no_positions", "luong")
# the settings that size a TinyTransformer (its keyword arguments)
MODEL_SIZES = (
    "d_model",
    "num_heads",
    "num_encoder_layers",
    "num_decoder_layers",
    "dim_feedforward",
    "dropout",
    "max_positions",
)

FULL = {
    # the data, batches, optimiser steps and epochs of translation.py
    "data": TRANSLATION["data"],
    "batch_size": TRANSLATION["batch_size"],
    "epochs": TRANSLATION["epochs"],
    "max_len": TRANSLATION["max_len"],
    "max_grad_norm": TRANSLATION["max_grad_norm"],
    "transformer": {
        "d_model": 64,
        "num_heads": 4,
        "num_encoder_layers": 2,
        "num_decoder_layers": 2,
        "dim_feedforward": 128,
        "dropout": 0.1,
        "max_positions": 32,
        "learning_rate": 1e-3,
        "warmup_steps": 250,
    },
    "luong": {
        "embed_dim": TRANSLATION["embed_dim"],
        "hidden_size": TRANSLATION["hidden_size"],
        "learning_rate": TRANSLATION["learning_rate"],
        "warmup_steps": 0,
    },
    # test sentences whose attention weights are stored: the first one of
    # each of these source lengths
    "attention_lengths": [5, 9, 13],
}

QUICK = {
    **FULL,
    "data": {"num_train": 256, "num_valid": 64, "num_test": 200, "seed": 0},
    "epochs": 1,
}


# ------------------------------------------------------------------ model


class TinyTransformer(torch.nn.Module):
    """An encoder-decoder Transformer for translation (Vaswani et al., 2017).

    Source ids (N, S) and the target shifted right (N, T), BOS first, give
    logits of the next target token (N, T, V). Token embeddings plus learned
    position embeddings (none with ``positions=False``) feed
    ``torch.nn.Transformer`` (post-norm, ReLU, batch_first). The forward
    pass has the signature of the GRU models of ``translation.py``.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        d_model=64,
        num_heads=4,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=256,
        dropout=0.1,
        max_positions=32,
        positions=True,
    ):
        super().__init__()
        self.source_embedding = torch.nn.Embedding(
            source_vocab_size, d_model, padding_idx=0
        )
        self.target_embedding = torch.nn.Embedding(
            target_vocab_size, d_model, padding_idx=0
        )
        self.position_embedding = (
            torch.nn.Embedding(max_positions, d_model) if positions else None
        )
        self.transformer = torch.nn.Transformer(
            d_model,
            num_heads,
            num_encoder_layers,
            num_decoder_layers,
            dim_feedforward,
            dropout,
            batch_first=True,
        )
        # the nested-tensor inference path of the encoder only warns here
        self.transformer.encoder.enable_nested_tensor = False
        self.transformer.encoder.use_nested_tensor = False
        self.output = torch.nn.Linear(d_model, target_vocab_size)

    def embed(self, ids, embedding):
        """Token plus position embeddings (N, L, d_model)."""
        x = embedding(ids)  # (N, L, d_model)
        if self.position_embedding is not None:
            x = x + self.position_embedding(torch.arange(ids.shape[1]))
        return x

    def encode(self, source):
        """The encoder's output (N, S, d_model) and the source padding mask
        (N, S), True at padding: torch's convention, True = ignore."""
        source_padding = source == 0  # (N, S)
        memory = self.transformer.encoder(
            self.embed(source, self.source_embedding),
            src_key_padding_mask=source_padding,
        )
        return memory, source_padding

    def decode(self, target_in, memory, source_padding):
        """Logits (N, T, V) of the next token after every target prefix.

        The causal mask keeps every position from seeing the positions
        after it. Target padding needs no mask of its own: it only follows
        the real tokens, which therefore never attend to it, and the loss
        ignores the positions it fills.
        """
        length = target_in.shape[1]
        # torch's convention again: True above the diagonal = may not attend
        causal = torch.ones(length, length, dtype=torch.bool).triu(1)
        x = self.transformer.decoder(
            self.embed(target_in, self.target_embedding),
            memory,
            tgt_mask=causal,
            tgt_is_causal=True,
            memory_key_padding_mask=source_padding,
        )  # (N, T, d_model)
        return self.output(x)

    def forward(self, source, lengths, target_in):
        memory, source_padding = self.encode(source)
        return self.decode(target_in, memory, source_padding)


@torch.no_grad()
def translate_transformer(model, task, sentences, max_len):
    """Greedy translations of English sentences, as Korean strings.

    All sentences are decoded as one batch. The decoder reads the whole
    prefix again at every step (no cache: the sentences are short), only
    for the sentences still unfinished, and stops when every translation
    has emitted EOS or after max_len steps.
    """
    model.eval()
    source = torch.from_numpy(task.encode_source(sentences)[0])
    memory, source_padding = model.encode(source)  # (N, S, d_model)
    tokens = torch.full((len(sentences), max_len + 1), task.eos_idx)
    tokens[:, 0] = task.bos_idx
    active = torch.arange(len(sentences))  # the unfinished sentences
    for t in range(max_len):
        logits = model.decode(
            tokens[active, : t + 1], memory[active], source_padding[active]
        )[:, -1]  # (active, V)
        token = logits.argmax(dim=-1)  # (active,)
        tokens[active, t + 1] = token
        active = active[token != task.eos_idx]
        if len(active) == 0:
            break
    return [task.decode_target(row) for row in tokens[:, 1:].tolist()]


def translate(model, task, kind, sentences, max_len):
    """Greedy translations with the model of either family."""
    if kind == "luong":
        return translate_rnn(model, task, sentences, max_len)[0]
    return translate_transformer(model, task, sentences, max_len)


def make_model(kind, task, settings):
    """A freshly initialised model of the given kind."""
    sizes = (len(task.source_vocab), len(task.target_vocab))
    if kind == "luong":
        config = settings["luong"]
        return AttentionSeq2Seq(
            *sizes, config["embed_dim"], config["hidden_size"]
        )
    return tiny_transformer(
        task, settings["transformer"], positions=kind == "transformer"
    )


def tiny_transformer(task, config, positions=True):
    """A freshly initialised ``TinyTransformer`` for the task, sized by
    the ``MODEL_SIZES`` entries of ``config`` (its other keys ignored)."""
    sizes = {key: config[key] for key in MODEL_SIZES}
    return TinyTransformer(
        len(task.source_vocab),
        len(task.target_vocab),
        **sizes,
        positions=positions,
    )


# -------------------------------------------------------------- attention


@torch.no_grad()
def attention_maps(model, task, sentence, translation):
    """Every head's attention weights while the model reads its own
    translation of one sentence (teacher forcing with its output).

    Returns a dict with, for every layer, the encoder's self-attention
    (heads, S, S), the decoder's masked self-attention (heads, T, T) and
    its encoder-decoder attention (heads, T, S), where T counts the output
    tokens and EOS. Forward hooks ask every ``torch.nn.MultiheadAttention``
    for its per-head weights; gradients stay enabled so that torch does
    not take its fused inference path, which bypasses the hooks.
    """
    model.eval()
    source = torch.from_numpy(task.encode_source([sentence])[0])  # (1, S)
    target = task.encode_target([translation])[0]  # BOS ... EOS, (1, T + 1)
    target_in = torch.from_numpy(target)[:, :-1]  # (1, T)
    captured = {}

    def ask_for_weights(module, args, kwargs):
        kwargs.update(need_weights=True, average_attn_weights=False)
        return args, kwargs

    def keep(name):
        def hook(module, args, output):
            captured[name] = output[1][0]  # (heads, L, S)

        return hook

    blocks = []
    transformer = model.transformer
    for i, layer in enumerate(transformer.encoder.layers):
        blocks.append((f"encoder_self_{i}", layer.self_attn))
    for i, layer in enumerate(transformer.decoder.layers):
        blocks.append((f"decoder_self_{i}", layer.self_attn))
        blocks.append((f"decoder_cross_{i}", layer.multihead_attn))
    handles = []
    for name, module in blocks:
        handles.append(
            module.register_forward_pre_hook(ask_for_weights, with_kwargs=True)
        )
        handles.append(module.register_forward_hook(keep(name)))
    with torch.enable_grad():
        model(source, None, target_in)
    for handle in handles:
        handle.remove()
    return {name: rounded(captured[name].detach(), 3) for name, _ in blocks}


def attention_examples(model, task, translations, settings):
    """Per-head attention maps of the first test sentence of some lengths."""
    lengths = [len(e.split()) for e, _ in task.test]
    examples = []
    for wanted in settings["attention_lengths"]:
        if wanted not in lengths:
            continue
        n = lengths.index(wanted)
        source, reference = task.test[n]
        examples.append(
            {
                "index": n,
                "source": source,
                "reference": reference,
                "translation": translations[n],
                "weights": attention_maps(
                    model, task, source, translations[n]
                ),
            }
        )
    return examples


# --------------------------------------------------------------- training


def optimiser(model, config):
    """Adam and its learning-rate schedule: a linear warm-up over
    ``config["warmup_steps"]`` steps, then constant (post-norm
    Transformers are known to diverge without one; Xiong et al., 2020)."""
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config["learning_rate"]
    )
    warmup = config["warmup_steps"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / max(warmup, 1))
    )
    return optimizer, scheduler


def train_one(kind, task, settings, seed, bar):
    """Train one model and evaluate it; returns its results as a dict."""
    config = settings["luong" if kind == "luong" else "transformer"]
    torch.manual_seed(seed)
    model = make_model(kind, task, settings)
    optimizer, scheduler = optimiser(model, config)
    rng = np.random.default_rng(seed)  # the same batches for every model
    options = TrainingOptions(
        learning_rate=config["learning_rate"],
        batch_size=settings["batch_size"],
        max_grad_norm=settings["max_grad_norm"],
        seed=seed,
    )
    valid_sources = [e for e, _ in task.valid]
    result = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_loss": [],
        "valid_exact_match": [],
        "epoch_train_seconds": [],
        "epoch_cpu_seconds": [],
    }
    start = time.perf_counter()
    for epoch in range(settings["epochs"]):
        model.train()
        losses = []
        epoch_start = time.perf_counter()
        cpu_start = time.process_time()
        for loss, _ in training_steps(model, task, optimizer, rng, options):
            scheduler.step()
            losses.append(loss)
            bar.update(1)
        result["epoch_train_seconds"].append(
            round(time.perf_counter() - epoch_start, 2)
        )
        # CPU time of this process: on a shared machine, less disturbed
        # by other programs than the wall-clock time
        result["epoch_cpu_seconds"].append(
            round(time.process_time() - cpu_start, 2)
        )
        translations = translate(
            model, task, kind, valid_sources, settings["max_len"]
        )
        accuracy = exact_match(translations, task.valid)
        result["train_loss"].append(round(float(np.mean(losses)), 5))
        result["valid_exact_match"].append(round(accuracy, 4))
        bar.set_postfix_str(
            f"{kind} epoch {epoch + 1} loss "
            f"{np.mean(losses):.4f} valid {accuracy:.3f}"
        )
    # like translation.py: the batches and the validation after each epoch
    result["train_seconds"] = round(time.perf_counter() - start, 1)
    # the optimisation steps alone, without the validation
    result["batch_seconds"] = round(sum(result["epoch_train_seconds"]), 1)
    result["batch_cpu_seconds"] = round(sum(result["epoch_cpu_seconds"]), 1)
    evaluate(model, kind, task, settings, result)
    return result


def evaluate(model, kind, task, settings, result):
    """Add the test translations, their exact match, the time they took
    and, for the Transformer, its attention maps to ``result``."""
    test_sources = [e for e, _ in task.test]
    start = time.perf_counter()
    translations = translate(
        model, task, kind, test_sources, settings["max_len"]
    )
    result["test_translate_seconds"] = round(time.perf_counter() - start, 2)
    result["test_exact_match"] = round(exact_match(translations, task.test), 4)
    result["test_translations"] = translations
    if kind == "transformer":
        result["attention"] = attention_examples(
            model, task, translations, settings
        )


def run(settings, seed, models):
    """Train and evaluate the models; returns the results as a dict."""
    task = NumberTranslation(**settings["data"])
    longest = max(
        max(len(e.split()), len(k.split()) + 1) for e, k in task.train
    )
    limit = settings["transformer"]["max_positions"]
    assert max(longest, settings["max_len"] + 1) <= limit, "max_positions"
    batches = -(-len(task.train) // settings["batch_size"])
    total = batches * settings["epochs"] * len(models)
    results = {}
    with tqdm(
        total=total, desc="transformer", unit="batch", mininterval=1.0
    ) as bar:
        for kind in models:
            results[kind] = train_one(kind, task, settings, seed, bar)
            bar.write(
                f"{kind}: test exact match "
                f"{results[kind]['test_exact_match']:.3f} "
                f"({results[kind]['batch_seconds']:.0f} s of batches)"
            )
    return results, length_summary(task, results)


def main():
    def models(parser):
        parser.add_argument(
            "--models",
            nargs="+",
            choices=MODELS,
            default=list(MODELS),
            help="the models to train (default: all)",
        )

    def run_models(settings, args):
        results, summary = run(settings, args.seed, args.models)
        print_summary(summary)
        record = {"models": list(args.models), "accuracy_by_length": summary}
        return {**record, "results": results}

    run_script(
        "Train a tiny Transformer and a GRU encoder-decoder with attention "
        "on English-to-Korean number translation; write the results as "
        "JSON.",
        DEFAULT_OUT,
        run_models,
        (FULL, QUICK),
        threads_help="torch threads (1 is fastest for these small tensors, "
        "and the same for every model keeps the times comparable)",
        more=models,
    )


if __name__ == "__main__":
    main()
