"""A small training loop with a progress bar, Adam for numpy parameters,
and the training of the book's character models with held-out evaluation
and early stopping.

``train_loop`` runs any step function; stopping it with Ctrl-C (the stop
button of a notebook) ends training cleanly and keeps the losses so far.

torch is imported by the functions that train torch models, not here:
the numpy notebooks (``train_loop``, ``Adam``) need no torch, and start a
second sooner without it.
"""

import copy
import math
import os
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from seqbook.data import char_batches


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


class EarlyStopping:
    """Early stopping on the validation loss.

    ``update(loss, model)`` records one validation loss and keeps a copy of
    the model's weights whenever the loss is the lowest so far (by more than
    ``min_delta``); it returns True once ``patience`` evaluations in a row
    have not improved on the best. ``restore(model)`` loads the best
    weights back.
    """

    def __init__(self, patience=5, min_delta=0.0):
        if patience < 1:
            raise ValueError("patience must be at least 1")
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.best_index = None
        self.best_state = None
        self.evaluations = 0
        self.waited = 0

    def update(self, loss, model):
        """Record a validation loss; True means: stop now."""
        if loss < self.best - self.min_delta:
            self.best = loss
            self.best_index = self.evaluations
            self.best_state = copy.deepcopy(model.state_dict())
            self.waited = 0
        else:
            self.waited += 1
        self.evaluations += 1
        return self.waited >= self.patience

    def restore(self, model):
        """Load the weights of the best evaluation into ``model``."""
        if self.best_state is None:
            raise RuntimeError("no validation loss was recorded")
        model.load_state_dict(self.best_state)


@dataclass
class TrainOptions:
    """How ``train_char_model`` trains.

    - steps: number of updates
    - seq_len, batch_size: each update reads batch_size random windows of
      seq_len characters (``seqbook.data.char_batches``)
    - lr, optimizer: learning rate of "adam" or "sgd"
    - max_norm: gradients are clipped to this global norm
      (``torch.nn.utils.clip_grad_norm_``); ``math.inf`` for no clipping
    - eval_every: with validation ids, the held-out loss is measured every
      this many steps
    - seed: seed of the window order
    - desc: label of the progress bar
    """

    steps: int = 400
    seq_len: int = 32
    batch_size: int = 32
    lr: float = 0.01
    optimizer: str = "adam"
    max_norm: float = 1.0
    eval_every: int = 25
    seed: int = 0
    desc: str = "training"


def optimizer_step(model, optimizer, loss, max_norm):
    """One update of ``model`` by ``optimizer`` on ``loss``: the
    gradients, clipped to the global norm ``max_norm``, then the step.
    Returns the global norm of the gradients before clipping (a float)."""
    import torch

    optimizer.zero_grad()
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return norm.item()


def train_char_model(
    model, train_ids, valid_ids=None, options=None, stop=None
):
    """Train a character model on random windows of ``train_ids``.

    Inputs:
    - model: ``model(x)`` with x a LongTensor (N, T) returns
      ``(scores, state)``, scores of shape (N, T, V)
    - train_ids, valid_ids: int arrays (L,) of the training and the
      held-out text (valid_ids may be None)
    - options: a ``TrainOptions`` (None: the defaults)
    - stop: an ``EarlyStopping``, or None to train for all the steps; with
      one, training ends when it says stop, and the model gets the weights
      of its best validation loss back

    Returns a dict of lists: ``loss``, the training loss per character of
    every step (nats); ``grad_norm``, the global gradient norm of every step
    before clipping; ``valid_step`` and ``valid_nll``, the steps at which the
    held-out loss was measured and its values (nats per character).
    """
    import torch
    import torch.nn.functional as F

    from seqbook.evaluation import held_out_nll

    options = options or TrainOptions()
    if options.optimizer not in ("adam", "sgd"):
        raise ValueError(f"unknown optimizer {options.optimizer!r}")
    kind = torch.optim.Adam if options.optimizer == "adam" else torch.optim.SGD
    optimizer = kind(model.parameters(), lr=options.lr)
    rng = np.random.default_rng(options.seed)
    history = {"loss": [], "grad_norm": [], "valid_step": [], "valid_nll": []}

    def step(i):
        x, y = char_batches(
            train_ids, options.seq_len, options.batch_size, rng
        )
        scores, _ = model(torch.from_numpy(x))  # (N, T, V)
        loss = F.cross_entropy(
            scores.flatten(0, 1), torch.from_numpy(y).flatten()
        )
        norm = optimizer_step(model, optimizer, loss, options.max_norm)
        history["loss"].append(loss.item())
        history["grad_norm"].append(norm)
        if valid_ids is not None and (i + 1) % options.eval_every == 0:
            nll = held_out_nll(model, valid_ids)
            history["valid_step"].append(i + 1)
            history["valid_nll"].append(nll)
            if stop is not None and stop.update(nll, model):
                raise _Stop
        return loss.item()

    try:
        train_loop(step, options.steps, desc=options.desc)
    except _Stop:
        pass  # early stopping: the history holds every step taken
    if stop is not None and stop.best_state is not None:
        stop.restore(model)
    return history


class _Stop(Exception):
    """Raised inside a training step when early stopping says stop."""
