"""Numerical gradient checking by central differences (CS231n style).

A backward pass is right when its gradient agrees with the slope measured by
nudging each input a little: ``(f(x + h) - f(x - h)) / 2h``. In float64 with
``h = 1e-5`` a correct gradient agrees to a relative error below about 1e-7.
"""

import numpy as np


def numerical_gradient(f, x, upstream=None, h=1e-5):
    """Gradient of ``sum(f(x) * upstream)`` with respect to ``x``.

    Inputs:
    - f: function of no argument that reads ``x`` (changed in place here)
      and returns an array or a scalar
    - x: float64 array, of any shape; restored before returning
    - upstream: array shaped like ``f()``'s output, the gradient flowing
      in from above; None for a scalar ``f``
    - h: the step of the central difference

    Returns an array shaped like ``x``.
    """
    if x.dtype != np.float64:
        raise TypeError(
            f"numerical_gradient needs a float64 array, got {x.dtype}: "
            "float32 is too coarse for central differences"
        )
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        index = it.multi_index
        saved = x[index]
        x[index] = saved + h
        plus = np.array(f(), dtype=np.float64, copy=True)
        x[index] = saved - h
        minus = np.array(f(), dtype=np.float64, copy=True)
        x[index] = saved
        weight = 1.0 if upstream is None else upstream
        grad[index] = np.sum((plus - minus) * weight) / (2 * h)
        it.iternext()
    return grad


def relative_error(a, b, floor=1e-8):
    """Largest elementwise relative error ``|a - b| / max(|a| + |b|, floor)``.

    Returns 0.0 for two empty arrays.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.abs(a) + np.abs(b), floor)
    return float(np.max(np.abs(a - b) / scale))
