"""Hidden checks of the ``seq2seq`` assignment (loss and decoding).

References: ``torch.nn.functional.cross_entropy`` with ``ignore_index`` and
autograd for the loss; exhaustive search over every token sequence for the
decoders (small vocabularies, short lengths), and a plain beam search that
follows the contract step by step for beams between 1 and exhaustive.
The step functions are random Markov chains and random recurrent models
whose state must follow its hypothesis.
"""

import itertools
import math

import numpy as np
import torch

from autograder.checks import fail

# ------------------------------------------------------------------- loss


def _reference_loss(logits, targets, pad_idx):
    x = logits.detach().clone().requires_grad_()
    loss = torch.nn.functional.cross_entropy(
        x.reshape(-1, x.shape[-1]), targets.reshape(-1), ignore_index=pad_idx
    )
    loss.backward()
    return loss.detach(), x.grad


def _loss_value(student, logits, targets, pad_idx, fn):
    out = student(logits, targets.clone(), pad_idx)
    if not isinstance(out, torch.Tensor) or out.dim() != 0:
        fail(
            f"{fn} should return a scalar tensor (0 dimensions), got "
            f"{getattr(out, 'shape', type(out).__name__)}."
        )
    return out


def sequence_cross_entropy(student):
    """Mean cross-entropy over non-pad targets, its gradient (exactly 0 at
    padding), and that extra padding changes nothing."""
    fn = "sequence_cross_entropy"
    for k, (N, T, V, pad_idx) in enumerate(
        [(2, 3, 5, 0), (4, 6, 7, 3), (1, 1, 2, 1), (3, 5, 11, 10)]
    ):
        g = torch.Generator().manual_seed(k)
        logits = torch.randn(N, T, V, generator=g, dtype=torch.float64) * 2
        targets = torch.randint(0, V, (N, T), generator=g)
        targets[targets == pad_idx] = (pad_idx + 1) % V
        lengths = torch.randint(1, T + 1, (N,), generator=g)
        for row, length in enumerate(lengths):
            targets[row, length:] = pad_idx
        ref, ref_grad = _reference_loss(logits, targets, pad_idx)
        mine_in = logits.clone().requires_grad_()
        mine = _loss_value(student, mine_in, targets, pad_idx, fn)
        context = (
            f"logits {(N, T, V)}, pad_idx {pad_idx}, "
            f"{int((targets != pad_idx).sum())} non-pad targets"
        )
        if not torch.allclose(
            mine.detach().double(), ref, rtol=1e-6, atol=1e-8
        ):
            fail(
                f"{fn} returned {mine.item():.6g}, expected {ref.item():.6g} "
                f"for {context}: {_loss_hint(mine, logits, targets, pad_idx)}."
            )
        _loss_gradient(
            fn, (mine, mine_in), ref_grad, targets == pad_idx, context
        )
        # Extra padding (and arbitrary logits there) changes nothing.
        extra = torch.randn(N, 3, V, generator=g, dtype=torch.float64) * 5
        longer = _loss_value(
            student,
            torch.cat([logits, extra], dim=1),
            torch.cat([targets, torch.full((N, 3), pad_idx)], dim=1),
            pad_idx,
            fn,
        )
        if not torch.allclose(
            longer.detach().double(), ref, rtol=1e-6, atol=1e-8
        ):
            fail(
                f"{fn} changes when padding is appended to the batch: "
                "average over the non-pad positions only."
            )


def _loss_gradient(fn, mine, ref_grad, padding, context):
    """The loss's gradient with respect to the logits equals autograd's,
    and is exactly 0 at the padding. ``mine``: (loss, logits) of the
    student's call."""
    loss, logits = mine
    if not loss.requires_grad:
        fail(
            f"{fn}: the loss does not depend differentiably on logits; "
            "compute it with torch operations."
        )
    loss.backward()
    if logits.grad is None or not torch.allclose(
        logits.grad, ref_grad, rtol=1e-6, atol=1e-9
    ):
        fail(
            f"{fn}: the gradient with respect to logits is wrong for "
            f"{context}; compute the loss with differentiable torch "
            "operations."
        )
    if (logits.grad[padding] != 0).any():
        fail(
            f"{fn}: padding positions must get no gradient at all "
            f"(exactly 0) for {context}; leave them out of the loss."
        )


def _loss_hint(mine, logits, targets, pad_idx):
    value = mine.item()
    flat = logits.reshape(-1, logits.shape[-1])
    per = torch.nn.functional.cross_entropy(
        flat, targets.reshape(-1), reduction="none"
    )
    keep = targets.reshape(-1) != pad_idx
    if math.isclose(value, float(per.mean()), rel_tol=1e-6):
        return "padding positions are counted: ignore targets equal to pad_idx"
    if math.isclose(value, float(per[keep].sum()), rel_tol=1e-6):
        return "it sums; take the mean over the non-pad positions"
    per_row = (per.reshape(targets.shape) * (targets != pad_idx)).sum(1) / (
        targets != pad_idx
    ).sum(1)
    if math.isclose(value, float(per_row.mean()), rel_tol=1e-6):
        return (
            "it averages per sequence first; average over all non-pad "
            "tokens of the batch at once"
        )
    if math.isclose(
        value, float(per[keep].sum() / targets.numel()), rel_tol=1e-6
    ):
        return "it divides by N * T; divide by the number of non-pad targets"
    return "the loss is -log softmax(logits)[target], averaged over non-pad"


# --------------------------------------------------------------- decoding


class MarkovStep:
    """A random step function: log-probs depend on the previous token and,
    in "recurrent" mode, on a hidden state that follows the hypothesis."""

    def __init__(
        self,
        V,
        seed,
        recurrent=False,
        hidden=4,
        sharp=2.0,
        eos=None,
        eos_penalty=0.0,
    ):
        g = torch.Generator().manual_seed(seed)
        self.V, self.recurrent = V, recurrent
        self.bias = torch.zeros(V, dtype=torch.float64)
        if eos is not None:
            self.bias[eos] = -eos_penalty
        self.table = torch.log_softmax(
            torch.randn(V, V, generator=g, dtype=torch.float64) * sharp, -1
        )
        self.embed = torch.randn(V, hidden, generator=g, dtype=torch.float64)
        self.A = (
            torch.randn(hidden, hidden, generator=g, dtype=torch.float64) * 0.8
        )
        self.W = (
            torch.randn(hidden, V, generator=g, dtype=torch.float64) * sharp
        )
        self.calls = 0

    def initial_state(self):
        return torch.zeros(1, self.embed.shape[1], dtype=torch.float64)

    def __call__(self, tokens, state):
        self.calls += 1
        if (
            not isinstance(tokens, torch.Tensor)
            or tokens.dim() != 1
            or tokens.dtype != torch.long
        ):
            fail(
                "step_fn takes the previous tokens as a LongTensor of shape "
                f"(B,), got {getattr(tokens, 'dtype', type(tokens))} "
                f"{tuple(getattr(tokens, 'shape', ()))}."
            )
        if (
            not isinstance(state, torch.Tensor)
            or state.shape[0] != tokens.shape[0]
        ):
            fail(
                "step_fn's state must have the same first dimension B as "
                "the tokens (one row per hypothesis)."
            )
        if self.recurrent:
            new = torch.tanh(state @ self.A + self.embed[tokens])
            logits = new @ self.W + self.table[tokens] + self.bias
            return torch.log_softmax(logits, -1), new
        return self.table[tokens], state + 1


def _score(step, tokens, bos, eos, max_len):
    """Score of a hypothesis by the contract: sum of the log-probs of every
    emitted token, EOS included when emitted."""
    state, prev, total = step.initial_state(), bos, 0.0
    emitted = list(tokens) + ([eos] if len(tokens) < max_len else [])
    for token in emitted:
        log_probs, state = step(torch.tensor([prev]), state)
        total += float(log_probs[0, token])
        prev = token
    return total


def exhaustive(step, bos, eos, max_len):
    """Best hypothesis over every sequence: (tokens, score)."""
    others = [v for v in range(step.V) if v != eos]
    best = ([], _score(step, [], bos, eos, max_len) if max_len else 0.0)
    for length in range(1, max_len + 1):
        for tokens in itertools.product(others, repeat=length):
            s = _score(step, list(tokens), bos, eos, max_len)
            if s > best[1]:
                best = (list(tokens), s)
    return best


def reference_beam(step, bos, eos, beam_size, max_len, eos_in_score=True):
    """Beam search following the contract literally (tokens, score).

    eos_in_score=False leaves EOS's log-probability out of a finished
    hypothesis's score (a common slip; used for hints only)."""
    if max_len == 0:
        return [], 0.0
    alive = [([], 0.0, step.initial_state(), bos)]
    finished = []
    while alive:
        candidates = []
        for tokens, score, state, prev in alive:
            log_probs, new_state = step(torch.tensor([prev]), state)
            for v in range(step.V):
                lp = float(log_probs[0, v])
                candidates.append((score + lp, tokens, v, new_state, lp))
        candidates.sort(key=lambda c: -c[0])
        alive = []
        for score, tokens, v, new_state, lp in candidates[:beam_size]:
            if v == eos:
                finished.append(
                    (tokens, score if eos_in_score else score - lp)
                )
            elif len(tokens) + 1 == max_len:
                finished.append((tokens + [v], score))
            else:
                alive.append((tokens + [v], score, new_state, v))
    return max(finished, key=lambda f: f[1])


def reference_greedy(step, bos, eos, max_len):
    return reference_beam(step, bos, eos, 1, max_len)


def _as_tokens(value, fn):
    if not isinstance(value, list) or not all(
        isinstance(t, (int, np.integer)) and not isinstance(t, bool)
        for t in value
    ):
        fail(f"{fn} should return a list of Python ints, got {value!r}.")
    return [int(t) for t in value]


CASES = [  # (V, eos, bos, max_len, recurrent, seed)
    (4, 1, 0, 3, False, 0),
    (5, 2, 0, 3, True, 1),
    (3, 0, 2, 4, True, 2),
    (4, 3, 0, 4, True, 3),
    (6, 1, 0, 2, False, 4),
]


def greedy_decode(student):
    """Arg-max at every step until EOS or max_len, on random step functions;
    max_len = 0 gives []."""
    fn = "greedy_decode"
    for V, eos, bos, max_len, recurrent, seed in CASES + [
        (5, 1, 0, 8, True, 9)
    ]:
        step = MarkovStep(V, seed, recurrent, sharp=1.0)
        expected = reference_greedy(step, bos, eos, max_len)[0]
        got = _as_tokens(
            student(step, step.initial_state(), bos, eos, max_len), fn
        )
        if got == expected:
            continue
        if eos in got:
            hint = "the returned list excludes EOS"
        elif bos in got[:1] and got[1:] == expected[: len(got) - 1]:
            hint = "the returned list excludes BOS"
        elif len(got) > max_len:
            hint = f"stop after max_len = {max_len} tokens"
        elif got == expected[: len(got)]:
            hint = "it stops too early: stop at EOS or after max_len tokens"
        else:
            hint = (
                "feed the chosen token and the new state back into "
                "step_fn at every step"
            )
        fail(
            f"{fn} returned {got} for a step function over {V} tokens "
            f"(EOS {eos}, max_len {max_len}); expected {expected}: {hint}."
        )
    step = MarkovStep(4, 7)
    got = student(step, step.initial_state(), 0, 1, 0)
    if _as_tokens(got, fn) != []:
        fail(f"{fn} with max_len = 0 should return [], got {got!r}.")


# Longer hypotheses on recurrent models, where a state that does not follow
# its hypothesis changes the answer: compared with the contract's beam.
LONG_CASES = [
    (V, 1, 0, L, True, 20 + k)
    for k, (V, L) in enumerate(
        [
            (4, 6),
            (5, 5),
            (5, 7),
            (6, 6),
            (6, 5),
            (7, 6),
            (8, 5),
            (8, 6),
            (5, 6),
            (7, 7),
        ]
    )
]


def beam_search(student):
    """Exhaustive with a huge beam, greedy with beam 1, the contract's beam
    in between; the score is the sum of the emitted tokens' log-probs."""
    fn = "beam_search"
    trials = [
        (case, beam)
        for case in CASES
        for beam in (1, 2, 3, case[0] ** case[3])
    ]
    trials += [(case, beam) for case in LONG_CASES for beam in (2, 3, 4)]
    for case, beam in trials:
        _beam_trial(student, fn, case, beam)
    step = MarkovStep(4, 7)
    result = student(step, step.initial_state(), 0, 1, 3, 0)
    if (
        not isinstance(result, tuple)
        or _as_tokens(result[0], fn) != []
        or float(result[1]) != 0.0
    ):
        fail(f"{fn} with max_len = 0 should return ([], 0.0), got {result!r}.")


def _beam_result(fn, result):
    """(tokens, score) of a returned tuple."""
    if not isinstance(result, tuple) or len(result) != 2:
        fail(f"{fn} should return a tuple (tokens, score).")
    tokens = _as_tokens(result[0], fn)
    try:
        score = float(result[1])
    except (TypeError, ValueError):
        fail(
            f"{fn}: the score should be a float, got "
            f"{type(result[1]).__name__}."
        )
    return tokens, score


def _beam_trial(student, fn, case, beam):
    """One search: the reference's tokens, and the score of the tokens."""
    V, eos, bos, max_len, recurrent, seed = case
    step = MarkovStep(V, seed, recurrent, sharp=1.0 if max_len > 4 else 2.0)
    expected_tokens, expected_score = (
        exhaustive(step, bos, eos, max_len)
        if beam == V**max_len
        else reference_beam(step, bos, eos, beam, max_len)
    )
    tokens, score = _beam_result(
        fn, student(step, step.initial_state(), bos, eos, beam, max_len)
    )
    context = f"beam_size {beam}, {V} tokens, EOS {eos}, max_len {max_len}"
    if eos in tokens or (
        tokens
        and tokens[0] == bos
        and bos != eos
        and expected_tokens[:1] != [bos]
    ):
        fail(f"{fn} ({context}): the returned tokens exclude BOS and EOS.")
    if tokens != expected_tokens:
        fail(
            f"{fn} ({context}) returned {tokens}, expected "
            f"{expected_tokens}: "
            f"{_beam_hint(step, tokens, bos, eos, beam, max_len)}."
        )
    true_score = _score(step, tokens, bos, eos, max_len)
    if not math.isclose(score, true_score, rel_tol=1e-6, abs_tol=1e-9):
        fail(
            f"{fn} ({context}) returned the score {score:.6g} but "
            f"its tokens have {true_score:.6g}: the score is the sum "
            "of the log-probabilities of every emitted token, EOS "
            "included, without length normalisation."
        )


def _beam_hint(step, tokens, bos, eos, beam, max_len):
    if beam > 1 and tokens == reference_greedy(step, bos, eos, max_len)[0]:
        return "it returns the greedy answer: keep beam_size hypotheses"
    no_eos = reference_beam(step, bos, eos, beam, max_len, eos_in_score=False)
    if tokens == no_eos[0]:
        return (
            "a finished hypothesis's score must include the "
            "log-probability of its EOS (EOS included)"
        )
    if beam == 1:
        return "with beam_size 1 it must return what greedy decoding returns"
    return (
        "at every step extend every unfinished hypothesis by every "
        "token, keep the beam_size best extensions (EOS ones included), "
        "and move finished ones out of the beam; each hypothesis keeps "
        "its own state"
    )


# --------------------------------------------------------------- applied


def course_task():
    """The notebooks' translation task, rebuilt by the grader (the same
    arguments as the notebook's cell)."""
    from seqbook.translation import NumberTranslation

    return NumberTranslation(
        num_train=6000, num_valid=200, num_test=500, seed=0
    )


class Translator:
    """The notebook's translator, run by torch on the student's trained
    weights: GRU encoder and decoder, with Luong's dot attention when the
    weights have its ``combine`` layer."""

    def __init__(self, model, fn, attention):
        from autograder.checks import torch_modules as tm

        gru = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
        names = ["source_embedding.weight", "target_embedding.weight"]
        names += [
            f"{part}.{w}" for part in ("encoder", "decoder") for w in gru
        ]
        names += ["output.weight", "output.bias"]
        if attention:
            names += ["combine.weight", "combine.bias"]
        architecture = "AttentionSeq2Seq" if attention else "Seq2Seq"
        state = tm.trained_state(model, fn, names, architecture)
        Vs, E = state["source_embedding.weight"].shape
        Vt, Et = state["target_embedding.weight"].shape
        H = state["encoder.weight_hh_l0"].shape[1]
        nn = torch.nn

        def part(module, prefix):
            return tm.load_part(module, state, prefix, fn, architecture)

        self.source_embedding = part(nn.Embedding(Vs, E), "source_embedding.")
        self.target_embedding = part(nn.Embedding(Vt, Et), "target_embedding.")
        self.encoder = part(nn.GRU(E, H, batch_first=True), "encoder.")
        self.decoder = part(nn.GRU(Et, H, batch_first=True), "decoder.")
        self.output = part(nn.Linear(H, Vt), "output.")
        self.combine = (
            part(nn.Linear(2 * H, H), "combine.") if attention else None
        )

    def translate(self, task, english, max_len=40):
        """Greedy decoding of one sentence (no padding, so no packing)."""
        source = torch.tensor([task.source_vocab.encode(english)])
        with torch.no_grad():
            memory, state = self.encoder(self.source_embedding(source))
            tokens, previous = [], task.bos_idx
            for _ in range(max_len):
                embedded = self.target_embedding(torch.tensor([[previous]]))
                out, state = self.decoder(embedded, state)
                query = out[:, 0]  # (1, H)
                if self.combine is not None:
                    weights = torch.softmax(
                        torch.einsum("nsh,nh->ns", memory, query), dim=-1
                    )
                    context = torch.einsum("ns,nsh->nh", weights, memory)
                    query = torch.tanh(
                        self.combine(torch.cat([context, query], dim=-1))
                    )
                previous = int(self.output(query)[0].argmax())
                if previous == task.eos_idx:
                    break
                tokens.append(previous)
        return task.target_vocab.decode(tokens)

    def exact_match(self, task, pairs):
        return float(np.mean([self.translate(task, e) == k for e, k in pairs]))


def trained_exact_match(model, attention, choose):
    """(pairs, exact match) of the trained weights, as the notebook's
    translator run by the grader (:class:`Translator`), on the pairs that
    ``choose(task.test)`` picks from the test numbers of the task the
    grader rebuilt (:func:`course_task`)."""
    if not isinstance(model, torch.nn.Module):
        fail("model should be the trained torch.nn.Module.")
    task = course_task()
    pairs = choose(task.test)
    translator = Translator(model, "model", attention=attention)
    return pairs, translator.exact_match(task, pairs)


def translator_trained(model, threshold, count=300):
    """Exact match of the trained weights on the task's test numbers, both
    rebuilt by the grader, decoded greedily by the grader."""
    pairs, accuracy = trained_exact_match(
        model, False, lambda test: test[:count]
    )
    if not accuracy >= threshold:
        fail(
            f"on {len(pairs)} test numbers the model's exact-match "
            f"accuracy is {accuracy:.3f}; it should be at least "
            f"{threshold}."
        )
