"""Held-out evaluation of language models.

A language model is judged by the mean negative log-likelihood (NLL) of
text it was not trained on, in nats per token; perplexity and bits per
character are two other units of the same number:

- perplexity ``exp(nll)``: the number of equally likely choices that would
  leave the model as uncertain as it is (a uniform guess over V tokens has
  perplexity V);
- bits per token ``nll / ln 2`` (bits per character for a character
  model): the length of the code an ideal compressor built on the model
  would need.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F


def perplexity(nll):
    """Perplexity of a mean negative log-likelihood in nats per token."""
    return math.exp(nll)


def bits_per_token(nll):
    """Bits per token (per character, for a character model) of a mean
    negative log-likelihood in nats per token."""
    return nll / math.log(2)


@torch.no_grad()
def held_out_nll(model, ids, chunk_len=256):
    """Mean negative log-likelihood, in nats per token, of a text.

    Inputs:
    - model: called as ``model(x, state)`` with x a LongTensor (1, T) of ids
      and ``state`` None or what the previous call returned; returns
      ``(scores, state)`` with scores of shape (1, T, V)
    - ids: int array or LongTensor of shape (L,), the held-out text
    - chunk_len: the text is read in order, in chunks of this many tokens,
      the state carried from one chunk to the next

    Every token but the first is predicted from all the tokens before it.
    The model is put in evaluation mode (no dropout) while it reads, and
    back in the mode it was in afterwards.
    """
    ids = torch.as_tensor(np.asarray(ids), dtype=torch.long)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError("ids must be one sequence of at least two tokens")
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        for start in range(0, len(ids) - 1, chunk_len):
            targets = ids[start + 1 : start + chunk_len + 1]  # (T,)
            inputs = ids[start : start + len(targets)]  # (T,)
            scores, state = model(inputs[None], state)  # (1, T, V)
            total += F.cross_entropy(
                scores[0], targets, reduction="sum"
            ).item()
            count += len(targets)
    finally:
        model.train(was_training)
    return total / count
