"""A GPT-style character language model and its generation with a
key-value cache.

``CharGPT`` is a decoder-only Transformer in the manner of GPT (Radford et
al., 2018) and GPT-2 (Radford et al., 2019), built from torch.nn modules:
token embeddings plus learned position embeddings, a stack of pre-norm
``torch.nn.TransformerEncoderLayer`` with a causal mask (an encoder layer
whose self-attention may not look ahead is a decoder layer without
cross-attention), a final layer norm, and an output layer that shares its
weight with the token embedding. It reads at most ``context`` tokens at
once.

``generate`` continues a text one token at a time, either by running the
model again over the whole text at every step or, with ``cache=True``, by
keeping every layer's keys and values of the tokens already read and
computing only the new token's (Pope et al., 2023, describe the cache
and its cost). Both give the same tokens.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class GPTConfig:
    """The sizes of a ``CharGPT``.

    - vocab_size: V, the number of tokens
    - context: the longest window of tokens the model reads at once (the
      number of learned positions)
    - d_model, num_heads, num_layers, dim_feedforward: the Transformer's
      sizes
    - dropout: on the embeddings' sum, the attention weights, inside the
      feed-forward network and on every sub-layer's output
    - tie_weights: the output layer uses the token embedding's weight
    """

    vocab_size: int
    context: int = 64
    d_model: int = 48
    num_heads: int = 4
    num_layers: int = 2
    dim_feedforward: int = 192
    dropout: float = 0.1
    tie_weights: bool = True


def causal_attention_mask(length):
    """(length, length) bool mask in torch.nn's convention: True above the
    diagonal, where a position may NOT attend (a later position)."""
    return torch.ones(length, length, dtype=torch.bool).triu(1)


class CharGPT(torch.nn.Module):
    """A decoder-only Transformer language model (see the module's doc).

    ``forward(ids, state=None)`` takes ids (N, T) and returns
    ``(scores, state)``, the scores (N, T, V) of the next token after
    every position and the state to pass back in to continue the text:
    its last ``context // 2`` tokens, as ``seqbook.evaluation.held_out_nll``
    expects. A text longer than the context is read in windows that
    advance by ``context // 2`` tokens, so that every token is predicted
    from at least ``context // 2`` tokens before it (all of them, near the
    start) and at most ``context - 1``.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        d = config.d_model
        self.token_embedding = torch.nn.Embedding(config.vocab_size, d)
        self.position_embedding = torch.nn.Embedding(config.context, d)
        self.dropout = torch.nn.Dropout(config.dropout)
        self.layers = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(
                d,
                config.num_heads,
                config.dim_feedforward,
                config.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,  # pre-norm, as in GPT-2
            )
            for _ in range(config.num_layers)
        )
        self.norm = torch.nn.LayerNorm(d)
        self.output = torch.nn.Linear(d, config.vocab_size)
        torch.nn.init.normal_(self.token_embedding.weight, std=0.02)
        torch.nn.init.normal_(self.position_embedding.weight, std=0.02)
        if config.tie_weights:
            self.output.weight = self.token_embedding.weight  # (V, d)

    def embed(self, ids, start=0):
        """Token plus position embeddings (N, T, d_model) of ids (N, T)
        whose first token stands at position ``start``."""
        positions = torch.arange(start, start + ids.shape[1])  # (T,)
        x = self.token_embedding(ids) + self.position_embedding(positions)
        return self.dropout(x)

    def window_scores(self, ids):
        """Scores (N, T, V) of ids (N, T) read as one window, T at most
        ``context``: position t sees the tokens 0..t only."""
        length = ids.shape[1]
        if length > self.config.context:
            raise ValueError(
                f"a window of {length} tokens is longer than the context "
                f"({self.config.context})"
            )
        x = self.embed(ids)  # (N, T, d_model)
        mask = causal_attention_mask(length)  # (T, T)
        for layer in self.layers:
            x = layer(x, src_mask=mask, is_causal=True)  # (N, T, d_model)
        return self.output(self.norm(x))  # (N, T, V)

    def forward(self, ids, state=None):
        keep = self.config.context // 2
        history = 0 if state is None else state.shape[1]
        text = ids if state is None else torch.cat([state, ids], dim=1)
        if state is None and ids.shape[1] <= self.config.context:
            return self.window_scores(ids), text[:, -keep:]
        scores = []
        for start in range(history, text.shape[1], keep):
            end = min(start + keep, text.shape[1])  # new tokens start:end
            first = max(0, start - keep)
            window = self.window_scores(text[:, first:end])  # (N, L, V)
            scores.append(window[:, start - first :])
        return torch.cat(scores, dim=1), text[:, -keep:]


# --------------------------------------------------------------- generation


class KeyValueCache:
    """Every layer's keys and values of the tokens read so far, each of
    shape (N * num_heads, t, d_k) as torch's multi-head attention takes
    them (``static_k``, ``static_v``)."""

    def __init__(self, num_layers):
        self.keys = [None] * num_layers
        self.values = [None] * num_layers

    @property
    def length(self):
        """How many tokens the cache holds."""
        return 0 if self.keys[0] is None else self.keys[0].shape[1]


def _heads(x, num_heads):
    """(N, L, E) -> (N * num_heads, L, E / num_heads), the layout of
    torch.nn.functional.multi_head_attention_forward."""
    n, length, embed_dim = x.shape
    x = x.reshape(n, length, num_heads, embed_dim // num_heads)
    return x.transpose(1, 2).reshape(n * num_heads, length, -1)


def _cached_attention(attention, h, cache, index):
    """Self-attention of the new positions h (N, L, E) over the cached
    ones and themselves, through ``attention`` (a
    ``torch.nn.MultiheadAttention``); appends their keys and values to
    layer ``index`` of the cache. Only the new keys and values are
    projected; torch computes the attention from the cached ones."""
    heads = attention.num_heads
    _, w_k, w_v = attention.in_proj_weight.chunk(3)  # (E, E) each
    _, b_k, b_v = attention.in_proj_bias.chunk(3)
    new_k = _heads(F.linear(h, w_k, b_k), heads)  # (N * heads, L, d_k)
    new_v = _heads(F.linear(h, w_v, b_v), heads)
    old = 0 if cache.keys[index] is None else cache.keys[index].shape[1]
    if old:
        new_k = torch.cat([cache.keys[index], new_k], dim=1)
        new_v = torch.cat([cache.values[index], new_v], dim=1)
    cache.keys[index], cache.values[index] = new_k, new_v
    length = h.shape[1]
    if length > 1 and old:
        raise ValueError("several new tokens after cached ones")
    # one new token may see every key; a prompt is causal within itself
    mask = causal_attention_mask(length) if length > 1 else None
    query = h.transpose(0, 1)  # (L, N, E): torch's functional layout
    out, _ = F.multi_head_attention_forward(
        query, query, query, h.shape[-1], heads,
        attention.in_proj_weight, attention.in_proj_bias, None, None,
        False, 0.0, attention.out_proj.weight, attention.out_proj.bias,
        training=False, need_weights=False, attn_mask=mask,
        static_k=new_k, static_v=new_v,
    )  # fmt: skip
    return out.transpose(0, 1)  # (N, L, E)


def _cached_step(model, ids, cache):
    """Scores (N, L, V) of new tokens ids (N, L) that follow the cached
    ones, through the model's pre-norm layers, filling the cache."""
    x = model.embed(ids, start=cache.length)  # (N, L, d_model)
    for index, layer in enumerate(model.layers):
        h = layer.norm1(x)
        x = x + _cached_attention(layer.self_attn, h, cache, index)
        h = layer.activation(layer.linear1(layer.norm2(x)))
        x = x + layer.linear2(h)  # (N, L, d_model)
    return model.output(model.norm(x))


def greedy_choice(scores):
    """The most likely next token of every row of scores (N, V)."""
    return scores.argmax(dim=-1)


def temperature_sampler(temperature=1.0, seed=0):
    """A choice of the next token that samples from softmax(scores / T)
    with its own seeded generator."""
    generator = torch.Generator().manual_seed(seed)

    def choose(scores):
        probs = torch.softmax(scores / temperature, dim=-1)  # (N, V)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]

    return choose


@torch.no_grad()
def generate(model, prompt, num_tokens, choose=greedy_choice, cache=True):
    """Continue ``prompt`` (ids (N, P)) by ``num_tokens`` tokens.

    ``choose`` maps the scores (N, V) of the next token to the chosen ids
    (N,) (``greedy_choice`` or a ``temperature_sampler``). Without a
    cache, every step runs the model over the last ``context`` tokens;
    with one, the prompt is read once and every step computes only the
    newest token, and the whole text must fit in the context. Returns the
    ids (N, P + num_tokens).
    """
    was_training = model.training
    model.eval()
    ids = torch.as_tensor(np.asarray(prompt), dtype=torch.long)
    context = model.config.context
    if cache and ids.shape[1] + num_tokens > context:
        raise ValueError(
            f"the prompt and {num_tokens} new tokens do not fit in the "
            f"context of {context} tokens: generate without the cache"
        )
    store = KeyValueCache(len(model.layers))
    new = ids
    try:
        for _ in range(num_tokens):
            if cache:
                scores = _cached_step(model, new, store)[:, -1]  # (N, V)
            else:
                scores = model.window_scores(ids[:, -context:])[:, -1]
            new = choose(scores)[:, None]  # (N, 1)
            ids = torch.cat([ids, new], dim=1)
    finally:
        model.train(was_training)
    return ids
