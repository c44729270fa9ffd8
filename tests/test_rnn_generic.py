"""RNN over any cell (Keras's custom-cell protocol), StackedRNNCells, the built-in cells
called one step at a time, and stateful recurrent layers: outputs, gradients (against
PyTorch's autograd through real Keras 3) and files compared with real Keras."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.backend import GradientTape, Tensor, gradients

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

ATOL = 1e-5


def minimal_cell_class(lib):
    """The custom cell of Keras's RNN documentation, written against `lib`."""

    class MinimalRNNCell(lib.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    initializer="uniform",
                                                    name="recurrent_kernel")
            self.built = True

        def call(self, inputs, states):
            prev_output = states[0]
            h = lib.ops.matmul(inputs, self.kernel)
            output = h + lib.ops.matmul(prev_output, self.recurrent_kernel)
            return output, [output]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return MinimalRNNCell


def two_state_cell_class(lib):
    """A cell with two states of different sizes, a training flag and an output_size."""

    class PairCell(lib.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = [units, 2 * units]
            self.output_size = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 3 * self.units), name="w")
            self.u = self.add_weight(shape=(3 * self.units, 3 * self.units), name="u",
                                     initializer="orthogonal")

        def call(self, inputs, states, training=False):
            a, b = states
            z = lib.ops.tanh(lib.ops.matmul(inputs, self.w) +
                             lib.ops.matmul(lib.ops.concatenate([a, b], axis=-1), self.u))
            scale = 0.5 if training else 1.0
            return z[:, :self.units] * scale, [z[:, :self.units], z[:, self.units:]]

    return PairCell


def torch_value(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def keras_gradients(layer, x, cotangents, **kwargs):
    """d sum(out_i * cotangent_i) / d (x, trainable weights) in real Keras (torch autograd)."""
    xt = torch.tensor(x, requires_grad=True)
    outs = as_list(layer(xt, **kwargs))
    loss = sum((o * torch.tensor(g)).sum() for o, g in zip(outs, cotangents))
    grads = torch.autograd.grad(loss, [xt] + [v.value for v in layer.trainable_weights])
    return [g.numpy() for g in grads]


def our_gradients(layer, x, cotangents, **kwargs):
    xt = Tensor(x, requires_grad=True)
    with GradientTape():
        outs = as_list(layer(xt, **kwargs))
        total = None
        for o, g in zip(outs, cotangents):
            term = fk.ops.sum(o * g)
            total = term if total is None else total + term
    return gradients(total, [xt] + layer.trainable_weights)


def check_layer_pair(k_layer, f_layer, x, rng, mask=None, training=False, atol=ATOL):
    """Same weights -> same outputs and same gradients (input and weights)."""
    kwargs = {} if mask is None else {"mask": mask}
    k_out = as_list(k_layer(x, **kwargs, training=training))
    f_layer(x, **kwargs)
    assert [w.shape for w in f_layer.get_weights()] == [w.shape for w in k_layer.get_weights()]
    f_layer.set_weights(k_layer.get_weights())
    f_out = as_list(f_layer(x, **kwargs, training=training))
    assert len(f_out) == len(k_out)
    for a, b in zip(k_out, f_out):
        np.testing.assert_allclose(b.value, torch_value(a), atol=atol, rtol=atol)
    cot = [rng.normal(size=tuple(o.shape)).astype(np.float32) for o in f_out]
    k_mask = None if mask is None else torch.tensor(mask)
    theirs = keras_gradients(k_layer, x, cot, **({} if mask is None else {"mask": k_mask}),
                             training=training)
    ours = our_gradients(f_layer, x, cot, **kwargs, training=training)
    for i, (a, b) in enumerate(zip(theirs, ours)):
        np.testing.assert_allclose(b, a, atol=10 * atol, rtol=1e-4, err_msg=f"gradient {i}")
    return f_out


SEQ_MASK = np.array([[1, 1, 1, 0, 0, 0], [0, 1, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1]], bool)


# --- custom cells ----------------------------------------------------------------------------

@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("options", [dict(), dict(return_sequences=True),
                                     dict(return_state=True, go_backwards=True),
                                     dict(return_sequences=True, zero_output_for_mask=True)])
def test_custom_cell_matches_keras(options, masked, rng):
    x = rng.normal(size=(3, 6, 5)).astype(np.float32)
    k = keras.layers.RNN(minimal_cell_class(keras)(4), **options)
    f = fk.layers.RNN(minimal_cell_class(fk)(4), **options)
    check_layer_pair(k, f, x, rng, mask=SEQ_MASK if masked else None)


@pytest.mark.parametrize("training", [False, True])
def test_cell_with_two_states_and_a_training_flag(training, rng):
    x = rng.normal(size=(3, 6, 2)).astype(np.float32)
    k = keras.layers.RNN(two_state_cell_class(keras)(3), return_state=True,
                         return_sequences=True)
    f = fk.layers.RNN(two_state_cell_class(fk)(3), return_state=True, return_sequences=True)
    out = check_layer_pair(k, f, x, rng, mask=SEQ_MASK, training=training)
    assert [tuple(o.shape) for o in out] == [(3, 6, 3), (3, 3), (3, 6)]


def test_custom_cell_in_functional_model_trains_and_saves(tmp_path, rng):
    cell_class = minimal_cell_class(fk)
    inp = fk.Input((None, 5))
    out = fk.layers.Dense(1)(fk.layers.RNN(cell_class(8))(inp))
    model = fk.Model(inp, out)
    assert model.output_shape == (None, 1)
    x = rng.normal(size=(32, 7, 5)).astype(np.float32)
    y = x[:, :, 0].sum(axis=1, keepdims=True)
    model.compile("adam", "mse")
    hist = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    model.save(tmp_path / "custom.keras")
    again = fk.models.load_model(tmp_path / "custom.keras",
                                 custom_objects={"MinimalRNNCell": cell_class})
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


def test_cell_errors_name_the_problem():
    with pytest.raises(ValueError, match="should have a `call` method"):
        fk.layers.RNN(object())

    class NoState(fk.layers.Layer):
        def call(self, inputs, states):
            return inputs, states
    with pytest.raises(ValueError, match="state_size"):
        fk.layers.RNN(NoState())

    class BadState(NoState):
        state_size = "big"
    with pytest.raises(ValueError, match="state_size=.big."):
        fk.layers.RNN(BadState())
    with pytest.raises(ValueError, match="expects inputs of shape"):
        fk.layers.RNN(minimal_cell_class(fk)(3))(np.zeros((2, 3), np.float32))


# --- stacked cells ---------------------------------------------------------------------------

def stacked(lib, kind):
    L = lib.layers
    if kind == "lstm_gru_simple":
        return [L.LSTMCell(4), L.GRUCell(3), L.SimpleRNNCell(2, activation="relu")]
    if kind == "gru_no_reset_after":
        return [L.GRUCell(3, reset_after=False), L.LSTMCell(2, use_bias=False)]
    if kind == "with_custom":
        return [L.LSTMCell(4), minimal_cell_class(lib)(3)]
    raise KeyError(kind)


@pytest.mark.parametrize("kind", ["lstm_gru_simple", "gru_no_reset_after", "with_custom"])
@pytest.mark.parametrize("options", [dict(return_sequences=True),
                                     dict(return_state=True, go_backwards=True)])
def test_stacked_cells_match_keras(kind, options, rng):
    x = rng.normal(size=(3, 6, 5)).astype(np.float32)
    k = keras.layers.RNN(keras.layers.StackedRNNCells(stacked(keras, kind)), **options)
    f = fk.layers.RNN(fk.layers.StackedRNNCells(stacked(fk, kind)), **options)
    k(x)
    f(x)
    f.set_weights([w * 1.5 for w in k.get_weights()])
    k.set_weights([w * 1.5 for w in k.get_weights()])
    k_out, f_out = as_list(k(x, mask=SEQ_MASK)), as_list(f(x, mask=SEQ_MASK))
    flat_k = [torch_value(t) for o in k_out for t in (o if isinstance(o, list) else [o])]
    flat_f = [t.value for o in f_out for t in (o if isinstance(o, list) else [o])]
    assert len(flat_k) == len(flat_f)
    for a, b in zip(flat_k, flat_f):
        np.testing.assert_allclose(b, a, atol=ATOL)


def test_a_list_of_cells_is_stacked_and_trains_like_keras(rng):
    x = rng.normal(size=(6, 5, 3)).astype(np.float32)
    y = rng.normal(size=(6, 2)).astype(np.float32)

    def build(lib):
        L = lib.layers
        return lib.Sequential([lib.Input((5, 3)),
                               L.RNN([L.LSTMCell(4), L.GRUCell(3)], return_sequences=True),
                               L.RNN([L.SimpleRNNCell(3)]), L.Dense(2)])

    km, fm = build(keras), build(fk)
    assert isinstance(fm.layers[0].cell, fk.layers.StackedRNNCells)
    fm.set_weights(km.get_weights())
    np.testing.assert_allclose(fm.predict(x, verbose=0), np.asarray(km.predict(x, verbose=0)),
                               atol=ATOL)
    for lib, m in ((keras, km), (fk, fm)):
        m.compile(lib.optimizers.SGD(0.1), "mse")
    k_loss, f_loss = float(km.train_on_batch(x, y)), float(fm.train_on_batch(x, y))
    assert abs(k_loss - f_loss) <= ATOL * max(1.0, k_loss)
    for a, b in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(b, a, atol=ATOL, rtol=ATOL)


def test_stacked_gradients_match_keras(rng):
    x = rng.normal(size=(3, 6, 5)).astype(np.float32)
    k = keras.layers.RNN([keras.layers.LSTMCell(4), keras.layers.GRUCell(3)],
                         return_sequences=True, return_state=True)
    f = fk.layers.RNN([fk.layers.LSTMCell(4), fk.layers.GRUCell(3)], return_sequences=True,
                      return_state=True)
    k(x)
    f(x)
    f.set_weights(k.get_weights())
    cot = [rng.normal(size=(3, 6, 3)).astype(np.float32)]
    mask = {"mask": SEQ_MASK}
    theirs = keras_gradients(k, x, cot, mask=torch.tensor(SEQ_MASK))
    ours = our_gradients(f, x, cot, **mask)
    for a, b in zip(theirs, ours):
        np.testing.assert_allclose(b, a, atol=1e-4, rtol=1e-4)


def test_stacked_model_files_both_ways(tmp_path, rng):
    from keras_files import check_keras_file_both_ways
    L = fk.layers
    model = fk.Sequential([fk.Input((5, 3)),
                           L.RNN(L.StackedRNNCells([L.LSTMCell(4), L.SimpleRNNCell(2)]),
                                 return_sequences=True),
                           L.Flatten(), L.Dense(1)])
    assert [v.path for v in model.layers[0].weights][:2] == [
        "sequential/rnn/stacked_rnn_cells/lstm_cell/kernel",
        "sequential/rnn/stacked_rnn_cells/lstm_cell/recurrent_kernel"]
    check_keras_file_both_ways(model, rng.normal(size=(4, 5, 3)).astype(np.float32), tmp_path)


def test_stacked_cells_errors():
    with pytest.raises(ValueError, match="non-empty list"):
        fk.layers.StackedRNNCells([])
    with pytest.raises(ValueError, match="`call` method"):
        fk.layers.StackedRNNCells([fk.layers.LSTMCell(2), 3])


# --- the built-in cells called one step at a time --------------------------------------------

@pytest.mark.parametrize("kind", ["simple", "lstm", "gru", "gru_before"])
def test_builtin_cell_step_matches_keras(kind, rng):
    def cell(lib):
        L = lib.layers
        return {"simple": lambda: L.SimpleRNNCell(4), "lstm": lambda: L.LSTMCell(4),
                "gru": lambda: L.GRUCell(4),
                "gru_before": lambda: L.GRUCell(4, reset_after=False)}[kind]()

    kc, fc = cell(keras), cell(fk)
    x = rng.normal(size=(3, 5)).astype(np.float32)
    states = [rng.normal(size=(3, 4)).astype(np.float32)
              for _ in range(2 if kind == "lstm" else 1)]
    k_out, k_states = kc(x, states)
    f_out, f_states = fc(x, states)
    fc.set_weights([w * 1.3 for w in kc.get_weights()])
    kc.set_weights([w * 1.3 for w in kc.get_weights()])
    k_out, k_states = kc(x, states)
    f_out, f_states = fc(x, states)
    np.testing.assert_allclose(f_out.value, torch_value(k_out), atol=ATOL)
    assert len(f_states) == len(k_states)
    for a, b in zip(k_states, f_states):
        np.testing.assert_allclose(b.value, torch_value(a), atol=ATOL)
    assert fc.output_size == 4
    assert [tuple(s.shape) for s in fc.get_initial_state(3)] == [(3, 4)] * len(states)


def test_builtin_cell_dropout_masks_are_kept_for_a_sequence(rng):
    cell = fk.layers.LSTMCell(6, dropout=0.5)
    x = np.ones((4, 8), np.float32)
    states = [np.zeros((4, 6), np.float32)] * 2
    a = cell(x, states, training=True)[0].value
    b = cell(x, states, training=True)[0].value
    np.testing.assert_array_equal(a, b)  # the cached mask until it is reset
    cell.reset_dropout_mask()
    assert not np.array_equal(cell(x, states, training=True)[0].value, a)
    np.testing.assert_array_equal(cell(x, states)[0].value, cell(x, states)[0].value)


def test_rnn_over_builtin_cell_subclass_runs_its_own_step(rng):
    """A subclass that replaces the cell's step is run step by step, not by the fused
    kernel (which would ignore the new step)."""

    class Doubled(fk.layers.SimpleRNNCell):
        def call(self, inputs, states, training=False):
            out, new = super().call(inputs, states, training=training)
            return out * 2.0, new

    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    plain = fk.layers.RNN(fk.layers.SimpleRNNCell(3), return_sequences=True)
    doubled = fk.layers.RNN(Doubled(3), return_sequences=True)
    plain(x)
    doubled(x)
    doubled.set_weights(plain.get_weights())
    np.testing.assert_allclose(doubled(x).value, 2 * plain(x).value, atol=1e-6)


# --- stateful layers --------------------------------------------------------------------------

@pytest.mark.parametrize("layer", ["LSTM", "GRU", "SimpleRNN", "custom"])
def test_stateful_chunks_equal_the_whole_sequence(layer, rng):
    def make(stateful):
        if layer == "custom":
            return fk.layers.RNN(minimal_cell_class(fk)(4), stateful=stateful,
                                 return_sequences=True)
        return getattr(fk.layers, layer)(4, stateful=stateful, return_sequences=True)

    x = rng.normal(size=(3, 9, 2)).astype(np.float32)
    whole, chunked = make(False), make(True)
    whole(x)
    chunked(x[:, :1])
    chunked.set_weights(whole.get_weights())
    chunked.reset_state()
    parts = [chunked(x[:, a:b]).value for a, b in ((0, 4), (4, 5), (5, 9))]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole(x).value, atol=1e-6)
    assert all(not v.trainable for v in chunked.states)
    assert len(chunked.weights) == len(whole.weights)  # states are not weights
    chunked.reset_states()
    np.testing.assert_allclose(chunked(x[:, :4]).value, parts[0], atol=1e-6)


def test_stateful_lstm_matches_keras_over_batches(rng):
    x = rng.normal(size=(2, 8, 3)).astype(np.float32)
    k = keras.layers.LSTM(5, stateful=True, return_state=True)
    f = fk.layers.LSTM(5, stateful=True, return_state=True)
    k(x[:, :2])
    f(x[:, :2])
    f.set_weights(k.get_weights())
    k.reset_state()
    f.reset_state()
    for a, b in ((0, 3), (3, 8)):
        for ko, fo in zip(k(x[:, a:b]), f(x[:, a:b])):
            np.testing.assert_allclose(fo.value, torch_value(ko), atol=ATOL)
    for ks, fs in zip(k.states, f.states):
        np.testing.assert_allclose(fs.value, torch_value(ks.value), atol=ATOL)


def test_stateful_model_trains_and_carries_states_through_fit(rng):
    model = fk.Sequential([fk.Input((4, 2), batch_size=4),
                           fk.layers.LSTM(3, stateful=True), fk.layers.Dense(1)])
    x = rng.normal(size=(8, 4, 2)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    model.compile("sgd", "mse")
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    lstm = model.layers[0]
    carried = [s.value.copy() for s in lstm.states]
    assert any(np.abs(c).sum() > 0 for c in carried)
    lstm.reset_state()
    assert all(np.abs(s.value).sum() == 0 for s in lstm.states)
    # The carried state changes predictions: a second pass differs from the first.
    first = model.predict(x[:4], batch_size=4, verbose=0)
    second = model.predict(x[:4], batch_size=4, verbose=0)
    assert not np.allclose(first, second)


def test_stateful_errors_name_the_batch_sizes(rng):
    layer = fk.layers.GRU(3, stateful=True)
    layer(rng.normal(size=(4, 5, 2)).astype(np.float32))
    with pytest.raises(ValueError, match="(?s)Expected batch size: 4.*Received batch size: 3"):
        layer(rng.normal(size=(3, 5, 2)).astype(np.float32))
    with pytest.raises(ValueError, match="batch size must be static"):
        fk.layers.LSTM(3, stateful=True)(fk.Input((5, 2)))


def test_stateful_states_feed_another_layer(rng):
    """Keras's guide: a stateful layer's states start another layer's sequence."""
    x = rng.normal(size=(2, 6, 3)).astype(np.float32)
    first = fk.layers.LSTM(4, stateful=True)
    first(x)
    second = fk.layers.LSTM(4)
    out = second(x, initial_state=first.states)
    assert tuple(out.shape) == (2, 4)


def test_rnn_config_round_trips_with_keras():
    L = fk.layers
    layer = L.RNN([L.LSTMCell(4), L.GRUCell(2, reset_after=False)], return_sequences=True,
                  stateful=False, go_backwards=True, name="stacked")
    config = layer.get_config()
    theirs = keras.layers.RNN.from_config(config)
    assert isinstance(theirs.cell, keras.layers.StackedRNNCells)
    assert [type(c).__name__ for c in theirs.cell.cells] == ["LSTMCell", "GRUCell"]
    again = L.RNN.from_config(theirs.get_config())
    assert [c.units for c in again.cell.cells] == [4, 2]
    assert again.cell.cells[1].reset_after is False and again.go_backwards
