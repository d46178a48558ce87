"""Where the gates live in PyTorch's recurrent modules, and their biases.

PyTorch stacks the blocks of a gated cell along the first dimension of its
weights and biases: ``torch.nn.LSTM`` and ``torch.nn.LSTMCell`` in the order
input, forget, candidate, output (``"ifgo"``), ``torch.nn.GRU`` and
``torch.nn.GRUCell`` in the order reset, update, candidate (``"rzn"``). The
chapters on gated cells set the bias of one gate (a forget-gate bias of 1
for an LSTM, a huge bias that holds a GRU gate open or shut) in every layer
and direction of a module; these helpers do it in one place.
"""

import torch

LSTM_GATES = "ifgo"
GRU_GATES = "rzn"


def gate_rows(order, gate, hidden_size):
    """The rows of one gate in PyTorch's stacked weights and biases.

    order is LSTM_GATES or GRU_GATES, gate one of its letters. Returns a
    slice: rows ``[k H : (k + 1) H]`` of ``weight_ih``, ``weight_hh``,
    ``bias_ih`` and ``bias_hh`` for the k-th gate.
    """
    if gate not in order:
        raise ValueError(f"gate {gate!r} is not one of {list(order)}")
    k = order.index(gate)
    return slice(k * hidden_size, (k + 1) * hidden_size)


def set_gate_bias(module, order, gate, value):
    """Make the bias of one gate equal `value` everywhere, in place.

    For every layer and direction of `module` (an LSTM or GRU layer or
    cell), the gate's rows of every ``bias_ih...`` become `value` and those
    of every ``bias_hh...`` zero, so their sum, the bias the gate sees, is
    `value`. Returns the module.
    """
    rows = gate_rows(order, gate, module.hidden_size)
    found = False
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.startswith("bias_ih"):
                param[rows] = value
                found = True
            elif name.startswith("bias_hh"):
                param[rows] = 0.0
    if not found:
        raise ValueError("the module has no bias_ih parameters (bias=False?)")
    return module


def set_forget_bias(lstm, value):
    """Give every forget gate of an LSTM layer or cell the bias `value`.

    A bias of 1 or more starts the forget gates open, sigma(1) = 0.73,
    so that the cell state and its gradient survive many steps at the start
    of training (Gers et al., 2000; Jozefowicz et al., 2015).
    """
    return set_gate_bias(lstm, LSTM_GATES, "f", value)
