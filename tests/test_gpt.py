"""The GPT-style language model of seqbook.gpt: causal, tied, read in
windows as held-out evaluation reads it, and generating the same text
with and without its key-value cache."""

import pytest
import torch

from seqbook.evaluation import held_out_nll
from seqbook.gpt import (
    CharGPT,
    GPTConfig,
    KeyValueCache,
    _cached_step,
    generate,
    temperature_sampler,
)


def model(context=16, dropout=0.1, seed=0, **sizes):
    torch.manual_seed(seed)
    config = GPTConfig(11, context=context, dropout=dropout, **sizes)
    return CharGPT(config).eval()


def test_a_later_token_never_changes_an_earlier_score():
    gpt = model()
    ids = torch.randint(0, 11, (2, 12))
    changed = ids.clone()
    changed[:, 7] = (ids[:, 7] + 1) % 11
    with torch.no_grad():
        before, after = gpt.window_scores(ids), gpt.window_scores(changed)
    assert torch.allclose(before[:, :7], after[:, :7], atol=1e-6)
    assert not torch.allclose(before[:, 7:], after[:, 7:], atol=1e-3)


def test_the_output_layer_is_the_token_embedding():
    gpt = model()
    assert gpt.output.weight is gpt.token_embedding.weight
    untied = CharGPT(GPTConfig(11, tie_weights=False))
    tied = CharGPT(GPTConfig(11))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(untied) - count(tied) == 11 * 48


def test_windows_longer_than_the_context_are_refused():
    with pytest.raises(ValueError, match="longer than the context"):
        model(context=8).window_scores(torch.zeros(1, 9, dtype=torch.long))


def test_a_long_text_is_read_in_windows_with_half_a_context_behind():
    gpt = model(context=8)
    ids = torch.randint(0, 11, (1, 30))
    with torch.no_grad():
        scores, state = gpt(ids)  # (1, 30, V)
        # token 13 is predicted from the window that starts 4 tokens
        # before the first new token of its block (12 to 15)
        window = gpt.window_scores(ids[:, 8:16])[:, 13 - 8]
        first, carried = gpt(ids[:, :10])
        rest, _ = gpt(ids[:, 10:], carried)
    assert scores.shape == (1, 30, 11) and torch.equal(state, ids[:, -4:])
    assert torch.allclose(scores[:, 13], window, atol=1e-5)
    # the first window holds the whole text up to the context
    assert torch.allclose(scores[:, :8], gpt.window_scores(ids[:, :8]))
    assert torch.allclose(first, scores[:, :10], atol=1e-6)
    # after the carried state, the next token sees the 4 tokens before it
    after = gpt.window_scores(ids[:, 6:11])[:, -1]
    assert torch.allclose(rest[:, 0], after, atol=1e-5)


def test_held_out_nll_does_not_depend_much_on_the_chunks():
    gpt = model(context=16)
    ids = torch.randint(0, 11, (200,))
    one = held_out_nll(gpt, ids, chunk_len=256)
    many = held_out_nll(gpt, ids, chunk_len=5)
    assert abs(one - many) < 0.05 and gpt.training is False


def test_the_cache_gives_the_scores_of_the_whole_window():
    gpt = model(context=32, num_layers=3)
    ids = torch.randint(0, 11, (3, 20))
    cache = KeyValueCache(3)
    with torch.no_grad():
        whole = gpt.window_scores(ids)  # (3, 20, V)
        steps = [_cached_step(gpt, ids[:, :6], cache)]  # the prompt
        steps += [
            _cached_step(gpt, ids[:, t : t + 1], cache) for t in range(6, 20)
        ]
    assert cache.length == 20
    assert cache.keys[2].shape == (3 * 4, 20, 12)  # (N * heads, t, d_k)
    assert torch.allclose(torch.cat(steps, dim=1), whole, atol=1e-5)


@pytest.mark.parametrize("choose", ["greedy", "sampled"])
def test_generation_with_and_without_the_cache_agrees(choose):
    gpt = model(context=40, dropout=0.3).train()
    prompt = torch.randint(0, 11, (2, 5))
    texts = []
    for cache in (True, False):
        kwargs = {}
        if choose == "sampled":
            kwargs["choose"] = temperature_sampler(0.8, seed=3)
        texts.append(generate(gpt, prompt, 30, cache=cache, **kwargs))
    assert texts[0].shape == (2, 35) and torch.equal(texts[0], texts[1])
    assert torch.equal(texts[0][:, :5], prompt)
    assert gpt.training  # the mode it was in is given back


def test_the_cache_refuses_a_text_longer_than_the_context():
    gpt = model(context=10)
    with pytest.raises(ValueError, match="without the cache"):
        generate(gpt, torch.zeros(1, 4, dtype=torch.long), 7)
    longer = generate(
        gpt, torch.zeros(1, 4, dtype=torch.long), 20, cache=False
    )
    assert longer.shape == (1, 24)
