"""Correct code written differently from the reference solutions: each
must pass the hidden checks (test_checks.py runs them directly,
test_applied.py uses the sampler). Student code as strings, lines as a
student would write them."""

ALTERNATIVES = {
    "rnn": {
        # rnn_forward that never calls rnn_step_forward; a list cache.
        "rnn_forward": """
def rnn_forward(x, h0, Wx, Wh, b):
    states = [h0]
    for t in range(x.shape[1]):
        states.append(np.tanh(x[:, t] @ Wx + states[-1] @ Wh + b))
    return np.stack(states[1:], axis=1), (x, states, Wx, Wh)
""",
        "sample_chars": """
def sample_chars(params, vocab, start, length, temperature=1.0, rng=None):
    rng = np.random.default_rng(0) if rng is None else rng
    V = len(vocab)
    h = np.zeros(params["Wh"].shape[0])
    text = list(start)

    def feed(h, token):
        x = np.zeros(V)
        x[token] = 1.0
        return np.tanh(x @ params["Wx"] + h @ params["Wh"] + params["b"])

    for token in vocab.encode(start):
        h = feed(h, token)
    for _ in range(length):
        z = (h @ params["Wy"] + params["by"]) / temperature
        cumulative = np.cumsum(np.exp(z - np.max(z)))
        token = int(np.searchsorted(cumulative, rng.random() * cumulative[-1]))
        token = min(token, V - 1)
        text.append(vocab.decode([token]))
        h = feed(h, token)
    return "".join(text)
""",
        "rnn_backward": """
def rnn_backward(dh, cache):
    x, states, Wx, Wh = cache
    dx = np.zeros_like(x); dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh); db = np.zeros(Wh.shape[0])
    carry = np.zeros_like(states[0])
    for t in range(x.shape[1] - 1, -1, -1):
        g = (dh[:, t] + carry) * (1 - states[t + 1] ** 2)
        dx[:, t] = g @ Wx.T
        dWx += np.einsum('nd,nh->dh', x[:, t], g)
        dWh += np.einsum('nk,nh->kh', states[t], g)
        db += g.sum(0)
        carry = g @ Wh.T
    return dx, carry, dWx, dWh, db
""",
        "temporal_softmax_loss": """
def temporal_softmax_loss(scores, y, mask):
    N, T, V = scores.shape
    flat = scores.reshape(-1, V)
    m = flat.max(1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(flat - m).sum(1))
    rows = np.arange(N * T)
    keep = mask.reshape(-1)
    loss = np.sum((lse - flat[rows, y.reshape(-1)])[keep]) / N
    p = np.exp(flat - lse[:, None])
    p[rows, y.reshape(-1)] -= 1
    p[~keep] = 0
    return float(loss), (p / N).reshape(N, T, V)
""",
        "clip_grad_norm": """
def clip_grad_norm(grads, max_norm):
    norm = np.linalg.norm(np.concatenate([g.ravel() for g in grads.values()]))
    if norm <= max_norm:
        return {k: v.copy() for k, v in grads.items()}
    return {k: v * (max_norm / norm) for k, v in grads.items()}
""",
    },
    "lstm": {
        # A cache of a different shape, a forward without the step function.
        "lstm_forward": """
def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h, c = h0, np.zeros_like(h0)
    out, steps = [], []
    for t in range(T):
        a = x[:, t] @ Wx + h @ Wh + b
        i, f, o = (1 / (1 + np.exp(-a[:, k * H:(k + 1) * H])) for k in (0, 1, 3))
        g = np.tanh(a[:, 2 * H:3 * H])
        steps.append(dict(x=x[:, t], h=h, c=c, i=i, f=f, g=g, o=o))
        c = f * c + i * g
        h = o * np.tanh(c)
        steps[-1]["c_new"] = c
        out.append(h)
    return np.stack(out, 1), {"steps": steps, "Wx": Wx, "Wh": Wh}
""",
        "lstm_backward": """
def lstm_backward(dh, cache):
    Wx, Wh = cache["Wx"], cache["Wh"]
    N, T, H = dh.shape
    dx = np.zeros((N, T, Wx.shape[0]))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H)
    gh, gc = np.zeros((N, H)), np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        s = cache["steps"][t]
        tc = np.tanh(s["c_new"])
        ht = dh[:, t] + gh
        gct = gc + ht * s["o"] * (1 - tc ** 2)
        da = np.hstack([gct * s["g"] * s["i"] * (1 - s["i"]),
                        gct * s["c"] * s["f"] * (1 - s["f"]),
                        gct * s["i"] * (1 - s["g"] ** 2),
                        ht * tc * s["o"] * (1 - s["o"])])
        dx[:, t] = da @ Wx.T
        dWx += s["x"].T @ da
        dWh += s["h"].T @ da
        db += da.sum(0)
        gh, gc = da @ Wh.T, gct * s["f"]
    return dx, gh, dWx, dWh, db
""",
        # An LSTM layer that reuses a student's LSTMCell as a function.
        "LSTM": """
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        cell = LSTMCell(input_size, hidden_size)
        for name, p in list(cell.named_parameters()):
            self.register_parameter(name + "_l0", p)

    def forward(self, x, state=None):
        N, T, _ = x.shape
        h, c = (state[0][0], state[1][0]) if state else (
            x.new_zeros(N, self.hidden_size),) * 2
        W = torch.cat([self.weight_ih_l0, self.weight_hh_l0], dim=1)
        outs = []
        for t in range(T):
            z = torch.cat([x[:, t], h], 1) @ W.T + self.bias_ih_l0 + self.bias_hh_l0
            i, f, g, o = z.split(self.hidden_size, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h.unsqueeze(1))
        return torch.cat(outs, 1), (h.unsqueeze(0), c.unsqueeze(0))
""",
    },
    "gru": {
        "gru_forward": """
def gru_forward(x, h0, Wx, Wh, bx, bh):
    H = h0.shape[1]
    hs, keep = [h0], []
    for t in range(x.shape[1]):
        gx = x[:, t] @ Wx + bx
        gh = hs[-1] @ Wh + bh
        r = 1 / (1 + np.exp(-(gx[:, :H] + gh[:, :H])))
        z = 1 / (1 + np.exp(-(gx[:, H:2 * H] + gh[:, H:2 * H])))
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        hs.append(n + z * (hs[-1] - n))
        keep.append((x[:, t], hs[-2], r, z, n, gh[:, 2 * H:]))
    return np.stack(hs[1:], axis=1), {"steps": keep, "W": (Wx, Wh)}
""",
        "gru_backward": """
def gru_backward(dh, cache):
    Wx, Wh = cache["W"]
    N, T, H = dh.shape
    dx = np.zeros((N, T, Wx.shape[0]))
    grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(3 * H), np.zeros(3 * H)]
    carry = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        x, h, r, z, n, hn = cache["steps"][t]
        g = dh[:, t] + carry
        a_n = g * (1 - z) * (1 - n * n)
        a_z = g * (h - n) * z * (1 - z)
        a_r = a_n * hn * r * (1 - r)
        gx = np.hstack([a_r, a_z, a_n])
        gh = np.hstack([a_r, a_z, a_n * r])
        dx[:, t] = gx @ Wx.T
        carry = g * z + gh @ Wh.T
        for k, v in enumerate((x.T @ gx, h.T @ gh, gx.sum(0), gh.sum(0))):
            grads[k] += v
    return (dx, carry, *grads)
""",
        "GRUCell": """
class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        k = 1 / hidden_size ** 0.5
        def p(*shape):
            return nn.Parameter(torch.rand(*shape) * 2 * k - k)
        self.weight_ih = p(3 * hidden_size, input_size)
        self.weight_hh = p(3 * hidden_size, hidden_size)
        self.bias_ih = p(3 * hidden_size)
        self.bias_hh = p(3 * hidden_size)

    def forward(self, x, h=None):
        h = torch.zeros_like(x[:, :1]).expand(-1, self.hidden_size) if h is None else h
        gx = torch.addmm(self.bias_ih, x, self.weight_ih.t())
        gh = torch.addmm(self.bias_hh, h, self.weight_hh.t())
        H = self.hidden_size
        rz = torch.sigmoid(gx[:, :2 * H] + gh[:, :2 * H])
        r, z = rz[:, :H], rz[:, H:]
        n = torch.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        return torch.lerp(n, h, z)
""",
        "count_parameters": """
def count_parameters(cell_type, input_size, hidden_size):
    gates = {"lstm": 4, "gru": 3}.get(cell_type, 1)
    weights = gates * hidden_size * (input_size + hidden_size)
    return int(weights + 2 * gates * hidden_size)
""",
    },
    "seq2seq": {
        "sequence_cross_entropy": """
def sequence_cross_entropy(logits, targets, pad_idx):
    return nn.functional.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=pad_idx)
""",
        # One hypothesis at a time through step_fn, scores as tensors.
        "beam_search": """
def beam_search(step_fn, state, bos_idx, eos_idx, beam_size, max_len):
    if max_len == 0:
        return [], 0.0
    alive, done = [(0.0, [], state, bos_idx)], []
    while alive:
        options = []
        for score, tokens, st, prev in alive:
            lp, new = step_fn(torch.tensor([prev]), st)
            for v, value in enumerate(lp[0].tolist()):
                options.append((score + value, tokens, v, new))
        options.sort(key=lambda o: o[0], reverse=True)
        alive = []
        for score, tokens, v, new in options[:beam_size]:
            if v == eos_idx or len(tokens) + 1 == max_len:
                done.append((score, tokens if v == eos_idx else tokens + [v]))
            else:
                alive.append((score, tokens + [v], new, v))
    score, tokens = max(done, key=lambda d: d[0])
    return tokens, score
""",
    },
    "attention": {
        "dot_score": """
def dot_score(query, keys):
    return torch.einsum("nh,nsh->ns", query, keys)
""",
        "general_score": """
def general_score(query, keys, W):
    return (keys @ W.T @ query.unsqueeze(-1)).squeeze(-1)
""",
        # -inf, softmax, then NaN rows replaced: values and gradients clean
        "masked_softmax": """
def masked_softmax(scores, mask):
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)
    return torch.nan_to_num(weights, nan=0.0)
""",
        "attention_context": """
def attention_context(weights, values):
    return (weights[..., None] * values).sum(dim=1)
""",
    },
    "self_attention": {
        # -1e300/-1e9 fill with torch.where, loops over heads with -inf and
        # nan_to_num, the float32 exp(log) encoding of many tutorials.
        "scaled_dot_product_attention": """
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / q.size(-1) ** 0.5)
    if mask is not None:
        mask = mask.expand_as(scores)
        scores = torch.where(mask, scores, torch.full_like(scores, -1e9 if scores.dtype == torch.float32 else -1e300))
        w = torch.softmax(scores, -1)
        w = torch.where(mask.any(-1, keepdim=True), w, torch.zeros_like(w))
    else:
        w = scores.softmax(-1)
    return torch.matmul(w, v), w
""",
        "causal_mask": """
def causal_mask(L):
    i = torch.arange(L)
    return i[None, :] <= i[:, None]
""",
        "padding_mask": """
def padding_mask(lengths, S):
    return torch.stack([torch.arange(S) < n for n in lengths]) if len(lengths) else torch.zeros(0, S, dtype=torch.bool)
""",
        "sinusoidal_positional_encoding": """
def sinusoidal_positional_encoding(max_len, d_model):
    pe = torch.zeros(max_len, d_model)
    position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe
""",
        "MultiHeadAttention": """
class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.h = num_heads
        self.in_proj_weight = nn.Parameter(torch.randn(3 * embed_dim, embed_dim) * 0.1)
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, query, key, value, mask=None):
        E = query.shape[-1]
        dk = E // self.h
        q = nn.functional.linear(query, self.in_proj_weight[:E], self.in_proj_bias[:E])
        k = nn.functional.linear(key, self.in_proj_weight[E:2 * E], self.in_proj_bias[E:2 * E])
        v = nn.functional.linear(value, self.in_proj_weight[2 * E:], self.in_proj_bias[2 * E:])
        outs, ws = [], []
        for j in range(self.h):
            sl = slice(j * dk, (j + 1) * dk)
            s = torch.einsum('nld,nsd->nls', q[..., sl], k[..., sl]) / math.sqrt(dk)
            if mask is not None:
                m = mask.expand(s.shape)
                s = s.masked_fill(~m, float('-inf'))
                w = torch.softmax(s, -1)
                w = torch.nan_to_num(w, nan=0.0)
                w = w.masked_fill(~m, 0.0)
            else:
                w = torch.softmax(s, -1)
            ws.append(w)
            outs.append(w @ v[..., sl])
        return self.out_proj(torch.cat(outs, -1)), torch.stack(ws).mean(0)
""",
        "TransformerEncoderLayer": """
class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, nhead)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x, mask=None):
        a, _ = self.self_attn(x, x, x, mask=mask)
        x = self.norm1(x + a)
        f = self.linear2(nn.functional.relu(self.linear1(x)))
        return self.norm2(x + f)
""",
        "TransformerDecoderLayer": """
class TransformerDecoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attn = MultiHeadAttention(d_model, nhead)
        self.multihead_attn = MultiHeadAttention(d_model, nhead)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)

    @staticmethod
    def add_and_norm(x, norm, sublayer):
        return norm(x + sublayer(x))

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        x = self.add_and_norm(x, self.norm1, lambda y: self.self_attn(y, y, y, mask=tgt_mask)[0])
        x = self.add_and_norm(
            x, self.norm2,
            lambda y: self.multihead_attn(query=y, key=memory, value=memory, mask=memory_mask)[0])
        return self.add_and_norm(x, self.norm3, lambda y: self.linear2(self.linear1(y).clamp(min=0)))
""",
        # the padding mask read from the ids, the causal mask written out
        "Transformer": """
class Transformer(nn.Module):
    def __init__(self, source_vocab_size, target_vocab_size, d_model=64, nhead=4, num_layers=2):
        super().__init__()
        self.source_embedding = nn.Embedding(source_vocab_size, d_model)
        self.target_embedding = nn.Embedding(target_vocab_size, d_model)
        self.register_buffer("position", sinusoidal_positional_encoding(32, d_model))
        self.encoder_layers = nn.ModuleList(TransformerEncoderLayer(d_model, nhead, 2 * d_model) for _ in range(num_layers))
        self.decoder_layers = nn.ModuleList(TransformerDecoderLayer(d_model, nhead, 2 * d_model) for _ in range(num_layers))
        self.output = nn.Linear(d_model, target_vocab_size)

    def _embed(self, embedding, ids):
        return embedding(ids) + self.position[: ids.size(1)].unsqueeze(0)

    def encode(self, source, lengths):
        keep = (source != 0).unsqueeze(1)
        h = self._embed(self.source_embedding, source)
        for layer in self.encoder_layers:
            h = layer(h, mask=keep)
        return h, keep

    def decode(self, target_in, memory, source_mask):
        T = target_in.size(1)
        future = torch.tril(torch.ones(T, T, dtype=torch.bool)).unsqueeze(0)
        h = self._embed(self.target_embedding, target_in)
        for layer in self.decoder_layers:
            h = layer(h, memory, tgt_mask=future, memory_mask=source_mask)
        return self.output(h)

    def forward(self, source, lengths, target_in):
        return self.decode(target_in, *self.encode(source, lengths))
""",
    },
}
