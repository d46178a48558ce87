"""Small models the chapters train: built from torch.nn modules, never the
graded exercises' code."""

import torch
import torch.nn.functional as F


class CharRNN(torch.nn.Module):
    """A character-level language model: one-hot characters, a vanilla
    RNN (``torch.nn.RNN``, tanh), and a linear output layer giving the
    scores ``u_t = h_t W_y + b_y`` of the next character at every step.

    ``forward(ids, state=None)`` takes ids of shape (N, T) and returns
    ``(scores, state)``: scores (N, T, V) and the last hidden state
    (1, N, H), to pass back in to continue the text.
    """

    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = torch.nn.RNN(vocab_size, hidden_size, batch_first=True)
        self.output = torch.nn.Linear(hidden_size, vocab_size)

    def hidden_states(self, ids, state=None):
        """All hidden states (N, T, H) and the last one (1, N, H)."""
        x = F.one_hot(ids, self.vocab_size).float()  # (N, T, V)
        return self.rnn(x, state)

    def forward(self, ids, state=None):
        states, state = self.hidden_states(ids, state)  # (N, T, H)
        return self.output(states), state  # (N, T, V), (1, N, H)
