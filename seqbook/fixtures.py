"""Seeded fixtures: the same random inputs on every machine and every run."""

import random

import numpy as np


def seed_everything(seed=0):
    """Seed Python's, numpy's and torch's random number generators."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # the numpy chapters work without torch
        return
    torch.manual_seed(seed)


def random_rnn_inputs(N=2, T=3, D=4, H=5, seed=0, scale=0.5):
    """Random float64 inputs for a vanilla RNN, drawn from a seeded generator.

    Returns a dict with:
    - x: input sequence, of shape (N, T, D)
    - h0: initial hidden state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, H)
    - Wh: hidden-to-hidden weights, of shape (H, H)
    - b: bias, of shape (H,)
    """
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=(N, T, D)),
        "h0": rng.normal(size=(N, H)),
        "Wx": rng.normal(scale=scale, size=(D, H)),
        "Wh": rng.normal(scale=scale, size=(H, H)),
        "b": rng.normal(scale=scale, size=(H,)),
    }
