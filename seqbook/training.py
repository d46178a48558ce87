"""A small training loop with a progress bar, and Adam for numpy parameters.

``train_loop`` runs any step function; stopping it with Ctrl-C (the stop
button of a notebook) ends training cleanly and keeps the losses so far.
"""

import math
import os

import numpy as np
from tqdm.auto import tqdm


def _progress_default():
    # The book's build sets SEQBOOK_PROGRESS=0: a progress bar frozen into a
    # static web page helps nobody.
    return os.environ.get("SEQBOOK_PROGRESS", "1") != "0"


def train_loop(step, num_steps, desc="training", progress=None):
    """Call ``step(i)`` for i in range(num_steps) and collect the losses.

    Inputs:
    - step: function of the step number returning the loss (a float)
    - num_steps: how many steps to run
    - desc: label of the progress bar
    - progress: show a progress bar; None means yes unless the environment
      variable SEQBOOK_PROGRESS is "0"

    Returns the list of losses. Raises FloatingPointError, naming the step,
    when the loss becomes NaN or infinite. On KeyboardInterrupt, returns the
    losses so far.
    """
    if progress is None:
        progress = _progress_default()
    losses = []
    bar = tqdm(range(num_steps), desc=desc, disable=not progress)
    try:
        for i in bar:
            loss = float(step(i))
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss} at step {i}: lower the "
                    "learning rate or clip the gradients"
                )
            losses.append(loss)
            if progress and (i % 10 == 0 or i == num_steps - 1):
                bar.set_postfix(loss=f"{loss:.4f}")
    except KeyboardInterrupt:
        print(f"Stopped after {len(losses)} of {num_steps} steps.")
    finally:
        bar.close()
    return losses


class Adam:
    """Adam (Kingma & Ba, 2015) for a dict of numpy parameter arrays.

    ``step(grads)`` updates the arrays of ``params`` in place; ``grads`` is a
    dict with the same keys and shapes.
    """

    def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8):
        self.params = params
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.t = 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads):
        missing = set(self.params) - set(grads)
        if missing:
            raise KeyError(f"no gradient for parameters {sorted(missing)}")
        self.t += 1
        for name, param in self.params.items():
            grad = grads[name]
            if grad.shape != param.shape:
                raise ValueError(
                    f"gradient of {name} has shape {grad.shape}, the "
                    f"parameter has {param.shape}"
                )
            self.m[name] = self.beta1 * self.m[name] + (1 - self.beta1) * grad
            self.v[name] = self.beta2 * self.v[name] + (1 - self.beta2) * (
                grad * grad
            )
            m_hat = self.m[name] / (1 - self.beta1**self.t)
            v_hat = self.v[name] / (1 - self.beta2**self.t)
            param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
