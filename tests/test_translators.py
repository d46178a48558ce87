"""Unit tests of the translation helpers of the course library
(seqbook.translation's evaluation, seqbook.translators), which the
seq2seq, attention and Transformer chapters and the experiment scripts
share."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqbook.translation import (
    LENGTH_GROUPS,
    NumberTranslation,
    accuracy_by_length,
    exact_match,
)
from seqbook.translators import (
    AttentionSeq2Seq,
    Seq2Seq,
    TrainingOptions,
    context_sensitivity,
    reverse_within_length,
    train_translator,
    training_steps,
    translate,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread is fastest, and kind to a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def task():
    return NumberTranslation(num_train=96, num_valid=16, num_test=60)


def model_for(task, cls=Seq2Seq, seed=0):
    torch.manual_seed(seed)
    sizes = len(task.source_vocab), len(task.target_vocab)
    return cls(*sizes, embed_dim=8, hidden_size=16)


def test_exact_match_counts_identical_strings():
    pairs = [("one", "일"), ("two", "이"), ("ten", "십"), ("six", "육")]
    assert exact_match(["일", "이", "십 ", "팔"], pairs) == 0.5
    assert isinstance(exact_match(["일"] * 4, pairs), float)


def test_accuracy_by_length_groups_counts_and_errors():
    pairs = [("a", "x"), ("a b", "y"), ("a b c", "z"), ("a b c d e", "w")]
    translations = ["x", "no", "z", "w"]
    rows = accuracy_by_length(translations, pairs, ((1, 3), (4, 4), (5, 9)))
    assert rows.shape == (3, 3)
    a = 2 / 3
    assert rows[0] == pytest.approx([a, math.sqrt(a * (1 - a) / 3), 3])
    assert math.isnan(rows[1, 0]) and rows[1, 2] == 0  # no 4-word source
    assert rows[2] == pytest.approx([1.0, 0.0, 1])
    with pytest.raises(ValueError, match="3 translations for 4 pairs"):
        accuracy_by_length(translations[:3], pairs)


def test_length_groups_cover_every_test_length_once(task):
    lengths = {len(e.split()) for e, _ in NumberTranslation().test}
    for length in lengths:
        inside = [lo <= length <= hi for lo, hi in LENGTH_GROUPS]
        assert sum(inside) == 1, length


def test_reverse_within_length_keeps_the_padding_at_the_end():
    source = np.array([[1, 2, 3, 0], [4, 5, 6, 7]])
    out = reverse_within_length(source, np.array([3, 4]))
    assert out.tolist() == [[3, 2, 1, 0], [7, 6, 5, 4]]
    assert source.tolist() == [[1, 2, 3, 0], [4, 5, 6, 7]]  # not modified


def test_seq2seq_context_is_the_state_after_the_last_real_word(task):
    model = model_for(task)
    source, lengths = map(
        torch.from_numpy, task.encode_source([e for e, _ in task.test[:5]])
    )
    states, context = model.encode(source, lengths)
    assert states.shape == (5, source.shape[1], 16)
    assert context.shape == (1, 5, 16)
    for n, length in enumerate(lengths.tolist()):
        assert torch.allclose(context[0, n], states[n, length - 1])
        assert torch.all(states[n, length:] == 0)


def test_attention_ignores_the_padding_and_its_weights_sum_to_one(task):
    model = model_for(task, AttentionSeq2Seq)
    sentences = [e for e, _ in task.test[:6]]
    source, lengths = map(torch.from_numpy, task.encode_source(sentences))
    target = torch.from_numpy(
        task.encode_target([k for _, k in task.test[:6]])[0]
    )
    with torch.no_grad():
        states, last = model.encode(source, lengths)
        logits, _, weights = model.decode(
            target[:, :-1], last, states, source != 0
        )
    assert weights.shape == (6, target.shape[1] - 1, source.shape[1])
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:2]))
    assert torch.all(weights.masked_select((source == 0)[:, None, :]) == 0)
    n = int(lengths.argmin())  # the shortest source, alone and unpadded
    with torch.no_grad():
        alone = model(source[n : n + 1, : lengths[n]], lengths[n : n + 1],
                      target[n : n + 1, :-1])  # fmt: skip
    assert torch.allclose(alone[0], logits[n], atol=1e-5)


class ScriptedDecoder(torch.nn.Module):
    """A stand-in translator that writes the same ids whatever it reads."""

    def __init__(self, ids, vocab_size):
        super().__init__()
        self.ids, self.vocab_size, self.step = ids, vocab_size, 0

    def encode(self, source, lengths):
        return torch.zeros(len(source), source.shape[1], 1), None

    def decode(self, target_in, state, encoder_states, source_mask):
        logits = torch.zeros(len(target_in), 1, self.vocab_size)
        logits[:, 0, self.ids[min(self.step, len(self.ids) - 1)]] = 1.0
        self.step += 1
        return logits, state, None


def test_translate_cuts_every_translation_at_its_first_eos(task):
    vocab = task.target_vocab
    ids = [vocab.stoi["사"], vocab.stoi["만"], task.eos_idx, vocab.stoi["일"]]
    model = ScriptedDecoder(ids, len(vocab))
    translations, weights = translate(model, task, ["one", "two"], 6)
    assert translations == ["사 만", "사 만"] and weights is None
    assert model.step == 6  # decoded for max_len steps, as one batch


def test_translate_returns_the_attention_weights_of_every_step(task):
    model = model_for(task, AttentionSeq2Seq)
    sentences = [e for e, _ in task.test[:3]]
    translations, weights = translate(model, task, sentences, max_len=7)
    assert len(translations) == 3 and all(
        isinstance(t, str) for t in translations
    )
    width = max(len(e.split()) for e in sentences)
    assert weights.shape == (3, 7, width)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_training_steps_yield_the_teacher_forced_loss_of_each_batch(
    task, smoothing
):
    model = model_for(task)
    options = TrainingOptions(
        batch_size=32, reverse=True, label_smoothing=smoothing
    )
    batch = next(task.batches("train", 32, np.random.default_rng(5)))
    source, lengths, target, _ = batch
    source = reverse_within_length(source, lengths)
    logits = model(*map(torch.from_numpy, (source, lengths)),
                   torch.from_numpy(target[:, :-1]))  # fmt: skip
    # smoothed targets: 1 - smoothing on the right token, plus smoothing
    # spread evenly over the whole vocabulary
    log_p = F.log_softmax(logits, -1)  # (N, T, V)
    picked = log_p.gather(-1, torch.from_numpy(target[:, 1:, None]))[..., 0]
    per_token = -(1 - smoothing) * picked - smoothing * log_p.mean(-1)
    real = torch.from_numpy(target[:, 1:] != task.pad_idx)
    expected = per_token[real].mean()
    expected.backward()
    gradients = [p.grad for p in model.parameters() if p.grad is not None]
    expected_norm = torch.cat([g.flatten() for g in gradients]).norm()
    model.zero_grad()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = training_steps(
        model, task, optimizer, np.random.default_rng(5), options
    )
    loss, norm = next(losses)
    assert loss == pytest.approx(expected.item(), rel=1e-5)
    # the global norm of the gradient before clipping
    assert norm == pytest.approx(expected_norm.item(), rel=1e-4)
    assert len([next(losses), *losses]) == 2  # 96 pairs, batches of 32


def test_train_translator_learns_and_reports_every_epoch(task):
    model = model_for(task)
    options = TrainingOptions(learning_rate=1e-2, batch_size=8)
    losses, accuracies = train_translator(model, task, 3, options, "test")
    assert len(losses) == len(accuracies) == 3
    assert losses[0] > losses[1] > losses[2]
    assert losses[-1] < 0.8 * losses[0]
    assert all(0 <= a <= 1 for a in accuracies)


def test_context_sensitivity_has_one_value_per_position(task):
    length = 3
    count = sum(len(e.split()) == length for e, _ in task.test)
    assert count
    model = model_for(task)
    change, sentences = context_sensitivity(model, task, length)
    assert sentences == count and len(change) == length
    assert all(c > 0 for c in change)
    # a model reading backwards sees the last word first: its positions
    # are still counted in the order of the English words
    backwards, _ = context_sensitivity(model, task, length, reverse=True)
    assert backwards != change


def test_diagram_helpers_draw_in_the_palette():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from seqbook.plotting import (
        PALETTE,
        diagram_arrow,
        diagram_box,
        transformer_diagram,
    )

    fig, ax = plt.subplots()
    diagram_box(ax, (0, 0), "$h_1$", PALETTE[0])
    diagram_arrow(ax, (0, 0), (1, 1), style=":", lw=3)
    box, arrow = ax.texts
    assert box.get_text() == "$h_1$"
    assert to_hex(box.get_bbox_patch().get_edgecolor()) == PALETTE[0].lower()
    assert arrow.arrow_patch.get_linewidth() == 3
    assert arrow.arrow_patch.get_linestyle() == ":"
    plt.close(fig)

    fig, ax = plt.subplots()
    transformer_diagram(ax)
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("add & norm") == 2 + 3  # encoder and decoder
    for name in ("encoder", "decoder", "feed-forward", "softmax"):
        assert name in labels, name
    assert not ax.axison
    plt.close(fig)


@pytest.mark.parametrize("value", [0.7231, 154_963, "사 만 이 천"])
@pytest.mark.parametrize("display", [False, True])
def test_glue_writes_what_myst_nb_glue_writes(value, display):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from myst_nb import glue as myst_nb_glue

    from seqbook.glue import glue

    InteractiveShell.instance()
    outputs = []
    for function in (myst_nb_glue, glue):
        with capture_output() as captured:
            function("key", value, display=display)
        (output,) = captured.outputs
        outputs.append((output.data, output.metadata))
    assert outputs[0] == outputs[1]
    data, metadata = outputs[1]
    assert metadata["scrapbook"]["name"] == "key"
    hidden = [
        mime.startswith("application/papermill.record/") for mime in data
    ]
    assert all(hidden) != display and "text/plain" in "".join(data)
