"""Unit tests of the course library students install."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from seqbook import data, evaluation, fixtures, gradcheck, models  # noqa: E402
from seqbook import plotting, training  # noqa: E402


def test_numerical_gradient_matches_a_known_derivative():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    upstream = np.array([[1.0, 2.0], [-1.0, 0.5]])
    grad = gradcheck.numerical_gradient(lambda: np.sin(x) * x, x, upstream)
    exact = (np.cos(x) * x + np.sin(x)) * upstream
    assert gradcheck.relative_error(grad, exact) < 1e-8
    assert np.array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored


def test_numerical_gradient_of_a_scalar_agrees_with_autograd():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 4))
    grad = gradcheck.numerical_gradient(lambda: np.sum(np.tanh(W) ** 3), W)
    Wt = torch.tensor(W, requires_grad=True)
    (torch.tanh(Wt) ** 3).sum().backward()
    assert gradcheck.relative_error(grad, Wt.grad.numpy()) < 1e-7


def test_numerical_gradient_refuses_float32():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        gradcheck.numerical_gradient(lambda: x.sum(), x)


def test_relative_error():
    assert gradcheck.relative_error(np.ones(3), np.ones(3)) == 0
    assert gradcheck.relative_error([1.0], [3.0]) == pytest.approx(0.5)
    assert gradcheck.relative_error(np.zeros(0), np.zeros(0)) == 0
    with pytest.raises(ValueError):
        gradcheck.relative_error(np.ones(2), np.ones(3))


def test_char_vocab_round_trip_and_errors():
    vocab = data.CharVocab("hello", sort=True)
    assert vocab.chars == ["e", "h", "l", "o"] and len(vocab) == 4
    assert vocab.decode(vocab.encode("hole")) == "hole"
    with pytest.raises(KeyError, match="z"):
        vocab.encode("hz")
    with pytest.raises(ValueError):
        data.CharVocab("")


def test_hello_example():
    vocab, x, y = data.hello_example()
    assert vocab.decode(x) == "hell" and vocab.decode(y) == "ello"


def test_one_hot():
    out = data.one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert out.shape == (2, 2, 3) and out.dtype == np.float64
    assert np.array_equal(out.argmax(-1), [[0, 2], [1, 1]])
    assert np.array_equal(out.sum(-1), np.ones((2, 2)))
    with pytest.raises(ValueError):
        data.one_hot([3], 3)


def test_bag_of_words_loses_order():
    vocabulary = ["dog", "bites", "man"]
    a = data.bag_of_words("dog bites man", vocabulary)
    assert np.array_equal(a, data.bag_of_words("man bites dog", vocabulary))
    assert np.array_equal(
        data.bag_of_words("dog dog cat", vocabulary), [2, 0, 0]
    )


def test_char_batches_are_shifted_windows():
    ids = np.arange(100)
    x, y = data.char_batches(ids, 7, 5, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 7)
    assert np.array_equal(y, x + 1)
    with pytest.raises(ValueError, match="at least"):
        data.char_batches(np.arange(5), 7, 2, np.random.default_rng(0))


def test_corpora_ship_with_the_package_and_are_reproducible():
    for name in data.CORPORA:
        assert len(data.load_corpus(name)) > 1000
    assert data.load_corpus("simple_sentences") == data.simple_sentences()
    assert data.simple_sentences(seed=1) != data.simple_sentences(seed=2)
    with pytest.raises(ValueError, match="unknown corpus"):
        data.load_corpus("imdb")


def test_fixtures_are_seeded():
    a = fixtures.random_rnn_inputs(2, 3, 4, 5, seed=7)
    b = fixtures.random_rnn_inputs(2, 3, 4, 5, seed=7)
    assert a["x"].shape == (2, 3, 4) and a["Wh"].shape == (5, 5)
    for key in a:
        assert np.array_equal(a[key], b[key])
    fixtures.seed_everything(3)
    first = (np.random.rand(), torch.rand(1).item())
    fixtures.seed_everything(3)
    assert first == (np.random.rand(), torch.rand(1).item())


def test_adam_minimises_a_quadratic():
    params = {"w": np.array([3.0, -2.0])}
    optimizer = training.Adam(params, lr=0.1)
    for _ in range(300):
        optimizer.step({"w": 2 * params["w"]})
    assert np.abs(params["w"]).max() < 1e-2
    with pytest.raises(KeyError):
        optimizer.step({})


def test_train_loop_collects_losses_and_stops_on_nan():
    losses = training.train_loop(lambda i: 1.0 / (i + 1), 5, progress=False)
    assert losses == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    with pytest.raises(FloatingPointError, match="step 2"):
        training.train_loop(
            lambda i: [1, 1, float("nan")][i], 3, progress=False
        )


def test_train_loop_keeps_the_losses_when_interrupted():
    def step(i):
        if i == 3:
            raise KeyboardInterrupt
        return float(i)

    assert training.train_loop(step, 10, progress=False) == [0.0, 1.0, 2.0]


def test_plots_use_the_colour_blind_safe_palette():
    ax = plotting.plot_curves({"a": [1, 2, 3], "b": [3, 2, 1]}, logy=True)
    colours = [line.get_color() for line in ax.get_lines()]
    assert colours == plotting.PALETTE[:2]
    ax = plotting.plot_heatmap(
        np.eye(3), ["a", "b", "c"], ["x", "y", "z"], annotate=True
    )
    assert len(ax.texts) == 9
    plotting.use_style()
    matplotlib.pyplot.close("all")


def test_greedy_decoding_diagram_unrolls_every_step_with_its_mask():
    import warnings

    plotting.use_style()
    fig, ax = matplotlib.pyplot.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no missing Hangul glyph either
        plotting.greedy_decoding_diagram(ax, ["팔", "천"])
        fig.canvas.draw()
    texts = [text.get_text() for text in ax.texts]
    # three steps: <bos>, <bos> 팔, <bos> 팔 천 as inputs; the chosen
    # tokens 팔, 천, <eos>, and above the earlier inputs their outputs
    # again (팔: chosen once, input twice, output again twice)
    assert [t for t in texts if t.startswith("step")] == [
        "step 1", "step 2", "step 3"
    ]  # fmt: skip
    assert texts.count("<bos>") == 3 and texts.count("팔") == 1 + 2 + 2
    assert texts.count("천") == 1 + 1 + 1 and texts.count("<eos>") == 1
    masks = [p for p in ax.patches if type(p) is matplotlib.patches.Rectangle]
    filled = [p for p in masks if p.get_facecolor()[:3] != (1.0, 1.0, 1.0)]
    assert len(masks) == 1 + 4 + 9 and len(filled) == 1 + 3 + 6
    matplotlib.pyplot.close("all")


def test_tied_embeddings_diagram_draws_the_matrix_and_its_three_uses():
    fig, ax = matplotlib.pyplot.subplots()
    plotting.tied_embeddings_diagram(ax, ["<bos>", "일", "이"], dim=3)
    texts = " ".join(text.get_text() for text in ax.texts)
    for part in ("source embedding", "target embedding", "output layer"):
        assert part in texts
    assert all(token in texts for token in ("<bos>", "일", "이"))
    cells = [p for p in ax.patches if type(p) is matplotlib.patches.Rectangle]
    assert len(cells) == 3 * 3  # one row of dim cells per token
    matplotlib.pyplot.close("all")


def test_number_words_in_both_languages():
    from seqbook.translation import english_number, korean_number

    cases = {
        0: ("zero", "영"),
        11: ("eleven", "십 일"),
        10000: ("ten thousand", "만"),
        210000: ("two hundred ten thousand", "이 십 일 만"),
        100000000: ("one hundred million", "일 억"),
        342511: (
            "three hundred forty two thousand five hundred eleven",
            "삼 십 사 만 이 천 오 백 십 일",
        ),
    }
    for n, (english, korean) in cases.items():
        assert english_number(n) == english
        assert korean_number(n) == korean
    with pytest.raises(ValueError):
        english_number(10**12)


def test_korean_number_words_read_back_to_the_number():
    """Brute force: parse every generated Korean reading back."""
    from seqbook.translation import korean_number, sample_numbers

    digits = {d: i for i, d in enumerate("_일이삼사오육칠팔구") if i}
    units = {"십": 10, "백": 100, "천": 1000}

    def parse(text):
        if text == "영":
            return 0
        total, group, digit = 0, 0, None
        for syllable in text.split():
            if syllable in digits:
                digit = digits[syllable]
            elif syllable in units:
                group += (digit or 1) * units[syllable]
                digit = None
            else:  # 만 or 억 closes a group
                group += digit or 0
                total += (group or 1) * (10**4 if syllable == "만" else 10**8)
                group, digit = 0, None
        return total + group + (digit or 0)

    rng = np.random.default_rng(0)
    for n in sample_numbers(2000, rng):
        assert parse(korean_number(n)) == n, n


def test_number_translation_splits_vocabularies_and_batches():
    from seqbook.translation import NumberTranslation

    task = NumberTranslation(num_train=300, num_valid=50, num_test=50)
    numbers = [
        set(task.numbers[:300]),
        set(task.numbers[300:350]),
        set(task.numbers[350:]),
    ]
    assert not (numbers[0] & numbers[1] or numbers[0] & numbers[2])
    assert task.source_vocab.pad_idx == task.target_vocab.pad_idx == 0
    source, source_lengths, target, target_lengths = next(
        task.batches("train", 8, np.random.default_rng(0))
    )
    assert source.shape[0] == target.shape[0] == 8
    assert source.shape[1] == source_lengths.max()
    assert np.all(target[:, 0] == task.bos_idx)
    for row, length in zip(target, target_lengths):
        assert row[length - 1] == task.eos_idx
        assert np.all(row[length:] == 0)
        assert task.decode_target(row[1:])
    again = NumberTranslation(num_train=300, num_valid=50, num_test=50)
    assert again.train == task.train


def test_korean_labels_render_without_missing_glyphs():
    import warnings

    plotting.use_style()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plotting.plot_heatmap(np.eye(2), ["one", "two"], ["일", "이"])
        ax.figure.canvas.draw()
    matplotlib.pyplot.close("all")


def test_reversal_reverses_within_each_length():
    x, lengths, y = data.reversal(50, np.random.default_rng(0), max_len=7)
    assert x.shape == y.shape == (50, 7) and lengths.shape == (50,)
    assert lengths.min() >= 2 and lengths.max() <= 7
    for row, length, target in zip(x, lengths, y):
        assert list(target[:length]) == list(row[:length][::-1])
        assert not row[length:].any() and not target[length:].any()
        assert row[:length].min() >= 1
    again = data.reversal(50, np.random.default_rng(0), max_len=7)
    assert np.array_equal(again[0], x)
    with pytest.raises(ValueError):
        data.reversal(3, np.random.default_rng(0), max_len=2, min_len=3)


def test_split_text_is_by_position_like_the_assignment():
    text = data.load_corpus("simple_sentences")
    train, valid = data.split_text(text)
    assert train + valid == text
    assert len(train) == int(0.9 * len(text))  # the rnn notebook's split
    ids = np.arange(50)
    first, rest = data.split_text(ids, valid_fraction=0.2)
    assert np.array_equal(first, np.arange(40))
    assert np.array_equal(rest, np.arange(40, 50))
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="valid_fraction"):
            data.split_text(text, fraction)
    with pytest.raises(ValueError, match="too short"):
        data.split_text("abc", 0.5)


def test_perplexity_and_bits_of_a_uniform_guess():
    for V in (2, 27, 1000):
        nll = np.log(V)  # a uniform guess over V tokens
        assert evaluation.perplexity(nll) == pytest.approx(V)
        assert evaluation.bits_per_token(nll) == pytest.approx(np.log2(V))
    assert evaluation.perplexity(0.0) == 1.0


class _Bigram(torch.nn.Module):
    """A language model with a fixed table: scores are log p(next | current);
    it keeps no state, and has a dropout that would change its scores."""

    def __init__(self, table):
        super().__init__()
        self.log_table = torch.log(torch.as_tensor(table))
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, x, state=None):
        return self.dropout(self.log_table[x]), state


def test_held_out_nll_is_the_mean_negative_log_likelihood():
    rng = np.random.default_rng(0)
    table = rng.dirichlet(np.ones(5), size=5)  # p(next | current), (V, V)
    ids = rng.integers(0, 5, size=300)
    expected = -np.mean(np.log(table[ids[:-1], ids[1:]]))
    model = _Bigram(table).train()
    for chunk_len in (1, 7, 256, 1000):
        nll = evaluation.held_out_nll(model, ids, chunk_len=chunk_len)
        assert nll == pytest.approx(expected, rel=1e-6)
    assert model.training  # evaluated without dropout, then put back
    model.eval()
    evaluation.held_out_nll(model, torch.from_numpy(ids))
    assert not model.training
    with pytest.raises(ValueError, match="two tokens"):
        evaluation.held_out_nll(model, ids[:1])


def test_held_out_nll_carries_the_state_across_chunks():
    torch.manual_seed(0)
    model = models.CharRNN(vocab_size=6, hidden_size=8)
    ids = np.random.default_rng(1).integers(0, 6, size=90)
    whole = evaluation.held_out_nll(model, ids, chunk_len=1000)
    chunked = evaluation.held_out_nll(model, ids, chunk_len=10)
    assert chunked == pytest.approx(whole, rel=1e-5)
    with torch.no_grad():  # and it is the mean NLL of the model's scores
        scores, _ = model(torch.from_numpy(ids[:-1])[None])
        log_p = torch.log_softmax(scores[0], dim=-1)
        direct = -log_p[torch.arange(89), torch.from_numpy(ids[1:])].mean()
    assert whole == pytest.approx(direct.item(), rel=1e-5)


def test_char_rnn_shapes_and_continued_state():
    torch.manual_seed(0)
    model = models.CharRNN(vocab_size=5, hidden_size=7)
    ids = torch.randint(0, 5, (3, 10))
    scores, state = model(ids)
    assert scores.shape == (3, 10, 5) and state.shape == (1, 3, 7)
    first, middle = model(ids[:, :4])
    rest, _ = model(ids[:, 4:], middle)
    assert torch.allclose(torch.cat([first, rest], dim=1), scores, atol=1e-6)
    states, _ = model.hidden_states(ids)
    assert torch.allclose(model.output(states), scores)


def test_early_stopping_waits_for_patience_and_restores_the_best():
    model = torch.nn.Linear(2, 1)
    stop = training.EarlyStopping(patience=2)
    decisions = []
    for value, loss in enumerate([3.0, 2.0, 2.5, 1.9, 2.2, 2.1, 1.0]):
        torch.nn.init.constant_(model.weight, float(value))
        decisions.append(stop.update(loss, model))
    assert decisions == [False, False, False, False, False, True, False]
    assert stop.best_index == 6 and stop.best == 1.0
    stop = training.EarlyStopping(patience=2)
    for value, loss in enumerate([3.0, 2.0, 2.5, 1.9, 2.2, 2.1]):
        torch.nn.init.constant_(model.weight, float(value))
        stop.update(loss, model)
    stop.restore(model)
    assert torch.all(model.weight == 3.0)  # the weights of loss 1.9
    with pytest.raises(RuntimeError):
        training.EarlyStopping().restore(model)
    with pytest.raises(ValueError):
        training.EarlyStopping(patience=0)


@pytest.fixture
def one_thread():
    """Tiny torch models train much faster on one thread than on several
    cores that other processes share."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_train_char_model_learns_and_stops_early(one_thread):
    text = "hello world. " * 40
    vocab = data.CharVocab(text)
    train_ids, valid_ids = data.split_text(vocab.encode(text))
    torch.manual_seed(0)
    model = models.CharRNN(len(vocab), 16)
    before = evaluation.held_out_nll(model, valid_ids)
    options = training.TrainOptions(
        steps=120,
        seq_len=12,
        batch_size=8,
        lr=0.02,
        eval_every=10,
        desc="test",
    )
    history = training.train_char_model(model, train_ids, valid_ids, options)
    assert len(history["loss"]) == len(history["grad_norm"]) == 120
    assert history["valid_step"] == list(range(10, 121, 10))
    assert np.mean(history["loss"][-10:]) < np.mean(history["loss"][:10])
    assert history["valid_nll"][-1] < before / 4
    assert max(history["grad_norm"]) > 0
    # early stopping: a patience of 1 on a noisy criterion stops early and
    # leaves the model with the weights of its best validation loss
    torch.manual_seed(0)
    model = models.CharRNN(len(vocab), 16)
    stop = training.EarlyStopping(patience=1)
    options.lr = 0.2  # a large step makes the validation loss go up
    history = training.train_char_model(
        model, train_ids, valid_ids, options, stop=stop
    )
    assert len(history["loss"]) < 120
    assert len(history["loss"]) == history["valid_step"][-1]
    best = min(history["valid_nll"])
    assert stop.best == best
    after = evaluation.held_out_nll(model, valid_ids)
    assert after == pytest.approx(best, rel=1e-6)
    with pytest.raises(ValueError, match="optimizer"):
        training.train_char_model(
            model, train_ids, options=training.TrainOptions(optimizer="x")
        )


def texts_of(ax):
    return [text.get_text() for text in ax.texts]


def test_lstm_cell_diagram_highlights_one_gate_at_a_time():
    full = plotting.draw_lstm_cell()
    labels = texts_of(full)
    for label in (
        "$c_{t-1}$",
        "$c_t$",
        "$h_{t-1}$",
        "$x_t$",
        "$f_t$",
        "$i_t$",
        "$g_t$",
        "$o_t$",
        "forget",
        "output",
    ):
        assert label in labels, label
    assert all(text.get_alpha() in (None, 1.0) for text in full.texts)
    for gate, (parts, equation) in plotting.LSTM_HIGHLIGHTS.items():
        ax = plotting.draw_lstm_cell(highlight=gate)
        assert equation in texts_of(ax)
        alphas = [text.get_alpha() for text in ax.texts]
        # the highlighted gate in full colour, the rest of the cell faded
        assert 1.0 in alphas and any(a is not None and a < 1 for a in alphas)
        assert parts and parts <= set().union(
            *(p for p, _ in plotting.LSTM_HIGHLIGHTS.values())
        )
    forget = plotting.draw_lstm_cell(highlight="forget")
    shown = {t.get_text() for t in forget.texts if t.get_alpha() == 1.0}
    assert "$f_t$" in shown and "$o_t$" not in shown
    with pytest.raises(ValueError, match="highlight"):
        plotting.draw_lstm_cell(highlight="reset")
    matplotlib.pyplot.close("all")


def test_gru_cell_diagram_names_its_gates():
    labels = texts_of(plotting.draw_gru_cell())
    for label in (
        "$h_{t-1}$",
        "$h_t$",
        "$x_t$",
        "$z_t$",
        "$r_t$",
        "$n_t$",
        "$1 - z_t$",
        "update",
        "reset",
        "candidate",
    ):
        assert label in labels, label
    matplotlib.pyplot.close("all")


@pytest.mark.parametrize(
    "graph, gradients",
    [
        (
            "lstm_step_graph",
            [
                r"$\bar c_{t-1}$",
                r"$\bar h_{t-1}$",
                r"$\bar x_t$",
                r"$\bar a_t$",
                r"$\bar f_t$",
                r"$\bar\imath_t$",
                r"$\bar g_t$",
                r"$\bar o_t$",
                r"$\bar c_t$",
                r"$\bar c_t^{\,\mathrm{next}}$",
                r"$\bar h_t$",
            ],
        ),
        (
            "gru_step_graph",
            [
                r"$\bar h_{t-1}$",
                r"$\bar x_t$",
                r"$\bar a^h$",
                r"$\bar a^x$",
                r"$\bar a^h_n$",
                r"$\bar a^x_n$",
                r"$\bar r_t$",
                r"$\bar z_t$",
                r"$\bar n_t$",
                r"$\bar h_t$",
            ],
        ),
    ],
)
def test_step_graphs_write_every_gradient_below_its_value(graph, gradients):
    ax = getattr(plotting, graph)()
    by_text = {text.get_text(): text for text in ax.texts}
    for gradient in gradients:
        assert gradient in by_text, gradient
        # gradients in vermillion, values in black
        assert matplotlib.colors.same_color(
            by_text[gradient].get_color(), plotting.PALETTE[5]
        )
    assert matplotlib.colors.same_color(
        by_text["$h_t$"].get_color(), plotting.PALETTE[7]
    )
    ax.figure.canvas.draw()  # every label renders
    matplotlib.pyplot.close("all")


def test_graph_wires_stop_at_the_outline_of_their_nodes():
    op = (0.0, 0.0, "+", "op")  # a circle of radius 0.28
    x, y = plotting._clip(op, (3.0, 4.0))
    assert np.hypot(x, y) == pytest.approx(0.28 + 0.04)
    assert (x, y) == pytest.approx((0.6 * 0.32, 0.8 * 0.32))
    box = (1.0, 1.0, "W", "layer", 2.0)  # 2 wide, 0.62 high
    assert plotting._clip(box, (5.0, 1.0)) == pytest.approx((2.1, 1.0))
    assert plotting._clip(box, (1.0, -3.0)) == pytest.approx((1.0, 0.59))


def test_gate_rows_follow_pytorchs_stacking():
    from seqbook import recurrent

    assert recurrent.gate_rows(recurrent.LSTM_GATES, "g", 5) == slice(10, 15)
    assert recurrent.gate_rows(recurrent.GRU_GATES, "n", 3) == slice(6, 9)
    with pytest.raises(ValueError, match="not one of"):
        recurrent.gate_rows(recurrent.GRU_GATES, "f", 3)


def test_forget_bias_is_set_in_every_layer_and_direction():
    from seqbook import recurrent

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    before = {name: p.detach().clone() for name, p in lstm.named_parameters()}
    assert recurrent.set_forget_bias(lstm, 1.5) is lstm
    forget = recurrent.gate_rows(recurrent.LSTM_GATES, "f", 4)
    for suffix in ("l0", "l0_reverse", "l1", "l1_reverse"):
        total = getattr(lstm, f"bias_ih_{suffix}") + getattr(
            lstm, f"bias_hh_{suffix}"
        )
        assert torch.all(total[forget] == 1.5)
        for name in (f"bias_ih_{suffix}", f"bias_hh_{suffix}"):
            changed = getattr(lstm, name) != before[name]
            changed[forget] = False  # only the forget rows may change
            assert not changed.any(), name
    for name, p in lstm.named_parameters():
        if name.startswith("weight"):
            assert torch.equal(p, before[name])
    # a huge update-gate bias makes a GRU cell copy its state (z = 1)
    cell = torch.nn.GRUCell(3, 4).double()
    recurrent.set_gate_bias(cell, recurrent.GRU_GATES, "z", 40.0)
    h = torch.randn(2, 4, dtype=torch.float64)
    assert torch.allclose(cell(torch.randn(2, 3, dtype=torch.float64), h), h)
    with pytest.raises(ValueError, match="no bias"):
        recurrent.set_forget_bias(torch.nn.LSTM(3, 4, bias=False), 1.0)


def test_glue_writes_what_myst_nbs_glue_writes(monkeypatch):
    from myst_nb import glue as myst_glue

    from seqbook import glue as seqbook_glue

    outputs = []

    def record(data, raw=False, metadata=None):
        outputs.append((data, raw, metadata))

    monkeypatch.setattr(seqbook_glue, "ipython_display", record)
    import myst_nb.ext.glue as myst_module

    monkeypatch.setattr(myst_module, "ipy_display", record)
    for value in (0.07734, 98_301, "text", [1, 2]):
        for display in (False, True):
            myst_glue("key", value, display=display)
            seqbook_glue.glue("key", value, display=display)
            assert outputs[-1] == outputs[-2], value
    assert outputs[0][0] == {GLUE_TEXT: "0.07734"}
    assert outputs[0][2]["scrapbook"] == {
        "name": "key",
        "mime_prefix": seqbook_glue.GLUE_PREFIX,
    }


GLUE_TEXT = "application/papermill.record/text/plain"


# A finder that refuses torch, as an environment without it does.
NO_TORCH = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"No module named {name!r} (refused)")
sys.meta_path.insert(0, NoTorch())
"""


def test_the_numpy_assignment_runs_its_setup_and_training_without_torch(
    tmp_path,
):
    """The rnn notebook's set-up cell, then ``train_loop`` with ``Adam``
    on a numpy model, where torch cannot be imported (a student's plain
    Jupyter; a grading kernel that need not pay torch's import)."""
    import json
    import os
    import subprocess
    import sys

    from submissions import REPO

    notebook = json.loads(
        (REPO / "solutions" / "rnn" / "rnn.ipynb").read_text("utf-8")
    )
    setup = next(
        "".join(cell["source"])
        for cell in notebook["cells"]
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "setup"
    )
    train = """
params = {"w": np.array([3.0, -2.0])}
optimizer = Adam(params, lr=0.1)
def step(i):
    optimizer.step({"w": 2 * params["w"]})
    return float(np.sum(params["w"] ** 2))
losses = train_loop(step, 200, progress=False)
assert losses[-1] < 1e-2 < losses[0], losses[::50]
import seqbook
assert "torch" not in sys.modules
print("trained without torch")
"""
    script = tmp_path / "no_torch.py"
    script.write_text(NO_TORCH + setup + "\n" + train, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained without torch" in result.stdout
    # what needs torch says so when asked for
    probe = NO_TORCH + "import seqbook\nseqbook.held_out_nll\n"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True
    )
    assert "No module named 'torch'" in result.stderr, result.stderr[-2000:]
