"""Edge cases of input and numerics checked against real Keras 3 running the same code: strided
array views, non-finite values through activations and pooling, one-value tensors as Python
numbers, tensor operators, ops on free lengths, arguments that leave nothing to compute and
text given as numbers."""

import numpy as np
import pytest

import fastkeras as fk
from side_by_side import as_numpy as _np
from side_by_side import both_libraries

keras, LIBS, IDS = both_libraries()


def test_dense_takes_reversed_and_stepped_views_as_keras():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (6, 8)).astype("float32")
    kernel = rng.uniform(-1, 1, (4, 3)).astype("float32")
    outs = []
    for lib in LIBS:
        layer = lib.layers.Dense(3)
        layer.build((None, 4))
        layer.set_weights([kernel, np.zeros(3, "float32")])
        # a reversed and a stepped view, and the same step inside a model
        got = [_np(layer(x[::-1, ::2])), _np(layer(x[:, 1::2]))]
        i = lib.Input((5, 8))
        out = lib.layers.Dense(3)(lib.layers.Lambda(lambda t: t[:, -1, ::2])(i))
        model = lib.Model(i, out)
        model.layers[-1].set_weights([kernel, np.ones(3, "float32")])
        seq = np.stack([x[:5]] * 2)
        got.append(_np(model.predict(seq, verbose=0)))
        model.compile("sgd", "mse")
        got.append(model.fit(seq, np.ones((2, 3), "float32"), verbose=0).history["loss"])
        outs.append(got)
    for a, b in zip(*outs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [{"max_value": 6.0}, {"threshold": 0.2},
                                    {"negative_slope": 0.1, "max_value": 3.0},
                                    {"negative_slope": 0.1, "threshold": 0.5}])
def test_relu_with_arguments_handles_infinities_and_nan_as_keras(kwargs):
    v = np.array([-np.inf, -3e38, -1.0, 0.0, 0.3, 0.5, 7.0, np.inf, np.nan], "float32")
    outs = [_np(lib.layers.ReLU(**kwargs)(v)) for lib in LIBS]
    np.testing.assert_array_equal(outs[0], outs[1])
    finite = ~np.isnan(outs[1])
    np.testing.assert_array_equal(np.signbit(outs[0][finite]), np.signbit(outs[1][finite]))  # no -0
    np.testing.assert_array_equal(_np(fk.activations.relu(v, **kwargs)), outs[1])


def test_relu_with_arguments_has_keras_gradients():
    v = np.array([-2.0, -0.5, 0.2, 0.7, 2.5, 4.0], "float32")
    kwargs = {"negative_slope": 0.1, "max_value": 3.0, "threshold": 0.5}
    x = fk.Variable(v)
    with fk.GradientTape() as tape:
        y = fk.ops.sum(fk.activations.relu(x, **kwargs))
    got = _np(tape.gradient(y, x))
    import torch
    t = torch.tensor(v, requires_grad=True)
    keras.activations.relu(t, **kwargs).sum().backward()
    np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_one_value_tensors_of_any_rank_are_python_numbers_as_keras(lib):
    # keras.io's reproducibility recipe prints float(initializer(shape=(1, 1)))
    for name in ("glorot_uniform", "he_normal", "orthogonal", "zeros", "ones"):
        value = lib.initializers.get(name)(shape=(1, 1))
        assert lib.ops.is_tensor(value)
        assert isinstance(float(value), float)
    assert float(lib.ops.ones((1, 1))) == 1.0 and int(lib.ops.full((1, 1, 1), 3)) == 3
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        float(lib.ops.ones((2,)))


@pytest.mark.parametrize("where", range(4))
def test_max_pooling_gives_nan_for_a_nan_anywhere_in_the_window_as_keras(where):
    x = np.arange(1, 33, dtype="float32").reshape(1, 4, 4, 2)
    x[0, where // 2, where % 2, :] = np.nan  # one cell of the first 2x2 window
    x1 = x.reshape(1, 16, 2).copy()
    x1[0, 8 + where % 2, 1] = np.nan  # and one of window 4 in the 1-D case, second channel only
    outs = []
    for lib in LIBS:
        got = [_np(lib.layers.MaxPooling2D(2)(x)), _np(lib.layers.MaxPooling1D(2)(x1)),
               _np(lib.ops.max_pool(x, 2))]
        # a first layer of a CNN (the fused convolution and pooling) fed a NaN pixel
        i = lib.Input((6, 6, 1))
        model = lib.Sequential([i, lib.layers.Conv2D(16, 3, activation="relu"),
                                lib.layers.MaxPooling2D(2), lib.layers.Flatten()])
        model.set_weights([np.full((3, 3, 1, 16), 0.1, "float32"), np.zeros(16, "float32")])
        img = np.ones((2, 6, 6, 1), "float32")
        img[0, 0, 3 - where % 2, 0] = np.nan
        got.append(_np(model.predict(img, verbose=0)))
        outs.append(got)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_bitwise_operators_on_integer_tensors_as_keras(lib):
    t = lib.ops.convert_to_tensor(np.array([0, 1, 5, 6], "int32"))
    b = lib.ops.convert_to_tensor(np.array([True, False, True, False]))
    got = {"~t": ~t, "t&3": t & 3, "1|t": 1 | t, "t^t": t ^ t, "~b": ~b, "b&True": b & True,
           "b|b": b | b}
    want = {"~t": [-1, -2, -6, -7], "t&3": [0, 1, 1, 2], "1|t": [1, 1, 5, 7], "t^t": [0] * 4,
            "~b": [False, True, False, True], "b&True": [True, False, True, False],
            "b|b": [True, False, True, False]}
    for key, value in got.items():
        v = _np(value)
        assert v.tolist() == want[key], key
        assert (v.dtype == bool) == (key in ("~b", "b&True", "b|b")), key


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_keras_tensor_operators_and_refusals_as_keras(lib):
    i = lib.Input((4,), dtype="int32")
    f = lib.Input((4,))
    outs = [i // 2, 7 // i, i % 3, 5 % i, round(f)]
    assert [tuple(o.shape) for o in outs] == [(None, 4)] * 5
    model = lib.Model([i, f], outs)
    x = np.array([[1, 2, 3, 4]], "int32")
    y = np.array([[0.4, 1.6, -2.5, 3.5]], "float32")
    got = [_np(o).tolist() for o in model.predict([x, y], verbose=0)]
    assert got[:4] == [[[0, 1, 1, 2]], [[7, 3, 2, 1]], [[1, 2, 0, 1]], [[0, 1, 2, 1]]]
    assert got[4] == [[0.0, 2.0, -2.0, 4.0]]
    with pytest.raises(TypeError, match="cannot be used as a boolean"):
        bool(f)
    with pytest.raises(ValueError, match="symbolic"):
        float(f)
    with pytest.raises(NotImplementedError):
        list(f)


def _free_length_shapes(lib):
    ops, Input = lib.ops, lib.Input
    i = Input((None, 8))
    return {
        "slice": i[:, 3:].shape,
        "slice then Conv1D": lib.layers.Conv1D(4, 3)(i[:, 3:]).shape,
        "conv": ops.conv(Input((None, None, 3)), np.ones((5, 5, 3, 2), "float32")).shape,
        "index": Input((None,), dtype="int32")[:, 5].shape,
        "top_k": [t.shape for t in ops.top_k(Input((None,)), 3)],
        "split": [t.shape for t in ops.split(Input((None,)), 3, axis=-1)],
        "reshape": ops.reshape(Input((None, 4)), (-1, 6, 2)).shape,
        "max_pool": ops.max_pool(Input((None, None, 3)), 4).shape,
    }


def test_ops_on_free_lengths_infer_keras_shapes():
    got, want = (_free_length_shapes(lib) for lib in LIBS)
    for key in want:
        norm = (lambda s: [tuple(x) for x in s]) if isinstance(want[key], list) else tuple
        assert norm(got[key]) == norm(want[key]), key
    i = fk.Input((None, 8))
    model = fk.Model(i, fk.layers.Conv1D(4, 3)(i[:, 3:]))
    assert model.predict(np.ones((2, 10, 8), "float32"), verbose=0).shape == (2, 5, 4)


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_arguments_leaving_nothing_to_compute_raise_as_keras(lib):
    with pytest.raises(ValueError, match="`n` should be a positive integer"):
        lib.layers.RepeatVector(0)
    with pytest.raises((ValueError, RuntimeError)):  # (torch's own error in Keras)
        lib.ops.conv(np.ones((1, 5, 5, 1), "float32"), np.ones((7, 7, 1, 4), "float32"))
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        lib.layers.ConvLSTM2D(2, 7)(np.ones((1, 2, 5, 5, 1), "float32"))
    with pytest.raises((ValueError, IndexError)):  # Keras: an IndexError from its loop
        lib.layers.LSTM(3)(np.ones((2, 0, 2), "float32"))


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_text_is_not_taken_for_numbers_as_keras(lib):
    model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(1)])
    with pytest.raises(ValueError, match="Invalid dtype"):
        model.predict(np.array([["1.5", "2"]]), verbose=0)
    with pytest.raises(ValueError, match="Invalid dtype"):
        model.set_weights([np.full((2, 1), "1.5"), np.zeros(1, "float32")])


def test_steps_per_epoch_zero_means_the_whole_data_as_keras():
    x, y = np.ones((8, 2), "float32"), np.ones((8, 1), "float32")
    histories = []
    for lib in LIBS:
        model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(1, kernel_initializer="ones")])
        model.compile("sgd", "mse")
        histories.append(model.fit(x, y, batch_size=4, steps_per_epoch=0, shuffle=False,
                                   verbose=0).history["loss"])
        with pytest.raises(ValueError):
            model.fit(x, y, steps_per_epoch=-3, verbose=0)
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-6)


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_a_softmax_over_one_unit_warns_as_keras(lib):
    # a classic mistake: Dense(1, activation="softmax") for two classes always outputs 1
    with pytest.warns(UserWarning, match="softmax over axis -1 of a tensor of shape"):
        lib.layers.Dense(1, activation="softmax")(np.ones((2, 3), "float32"))
    # in a model: said once, with the data's shape (not on building the model)
    import warnings
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1, activation="softmax")])
        model.compile("sgd", "binary_crossentropy")
        model.fit(np.ones((5, 3), "float32"), np.ones((5, 1), "float32"), batch_size=5,
                  verbose=0)
    said = [str(w.message) for w in seen if "softmax over axis" in str(w.message)]
    assert len(said) == 1 and ("(5, 1)" in said[0] or "[5, 1]" in said[0])


_TARGET_GRAD_LOSSES = [
    ("MeanSquaredError", {}), ("MeanAbsoluteError", {}), ("MeanAbsolutePercentageError", {}),
    ("MeanSquaredLogarithmicError", {}), ("Huber", {"delta": 0.3}), ("LogCosh", {}),
    ("Poisson", {}), ("KLDivergence", {}), ("CosineSimilarity", {"axis": -1}), ("Hinge", {}),
    ("SquaredHinge", {}), ("CategoricalHinge", {}), ("CategoricalCrossentropy", {}),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}),
    ("BinaryCrossentropy", {}), ("BinaryCrossentropy", {"from_logits": True}),
]


@pytest.mark.parametrize("name,kwargs", _TARGET_GRAD_LOSSES,
                         ids=[f"{n}{'-' + '-'.join(k) if k else ''}"
                              for n, k in _TARGET_GRAD_LOSSES])
def test_built_in_losses_pass_gradients_to_a_target_on_the_tape_as_keras(name, kwargs):
    # a distillation's teacher or a self-supervised target branch: y_true is a network's output
    import torch
    rng = np.random.default_rng(3)
    t = rng.uniform(0.05, 0.9, (4, 3)).astype("float32")
    p = rng.uniform(0.05, 0.9, (4, 3)).astype("float32")
    tv, pv = fk.Variable(t), fk.Variable(p)
    with fk.GradientTape() as tape:
        loss = getattr(fk.losses, name)(**kwargs)(tv * 1.0, pv * 1.0)
    got = [_np(g) for g in tape.gradient(loss, [tv, pv])]
    tt, pt = (torch.tensor(a, requires_grad=True) for a in (t, p))
    want_loss = getattr(keras.losses, name)(**kwargs)(tt * 1.0, pt * 1.0)
    want_loss.backward()
    np.testing.assert_allclose(float(_np(loss)), float(want_loss.detach()), rtol=1e-5)
    np.testing.assert_allclose(got[0], tt.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got[1], pt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_a_float64_weight_of_a_custom_layer_trains_as_keras():
    losses = []
    for lib in LIBS:
        class Scale(lib.layers.Layer):
            def build(self, shape):
                self.w = self.add_weight(shape=(4, 1), dtype="float64", initializer="ones")
                self.unset = self.add_weight(shape=(3,), dtype="float64")  # glorot, as Keras

            def call(self, t):
                return lib.ops.matmul(t, lib.ops.cast(self.w, "float32"))

        layer = Scale()
        model = lib.Sequential([lib.Input((4,)), layer])
        model.compile(lib.optimizers.Adam(0.1), "mse")
        history = model.fit(np.ones((6, 4), "float32"), np.zeros((6, 1), "float32"), epochs=3,
                            batch_size=6, verbose=0).history["loss"]
        assert np.all(_np(layer.unset) != 0)
        losses.append(history)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_callbacks_see_verbose_as_given_as_keras():
    seen = []
    for lib in LIBS:
        class Params(lib.callbacks.Callback):
            def on_train_begin(self, logs=None):
                got.append(dict(self.params))

            on_test_begin = on_predict_begin = on_train_begin

        got = []
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])
        model.compile("sgd", "mse")
        x, y = np.ones((6, 3), "float32"), np.ones((6, 2), "float32")
        history = model.fit(x, y, batch_size=4, epochs=2, callbacks=[Params()])  # verbose "auto"
        model.evaluate(x, y, callbacks=[Params()])
        model.predict(x, callbacks=[Params()], verbose=2)
        seen.append((got, history.params))
    assert seen[0] == seen[1]
    assert seen[0][1] == {"verbose": "auto", "epochs": 2, "steps": 2}


def test_tensors_and_variables_print_as_keras():
    got = []
    for lib in LIBS:
        t = lib.ops.sum(lib.ops.ones(3))
        rate = lib.Variable(0.001, name="rate")
        bias = lib.Variable(np.array([0.5, -2.0], "float32"), name="bias")
        got.append([f"{t}", format(t), f"{t:.2f}", lib.ops.ones((2, 2)).tolist(), str(rate),
                    repr(rate), str(bias)])
    assert got[0] == got[1]
    assert got[0][4] == "<Variable path=rate, shape=(), dtype=float32, value=0.0010000000474974513>"
    # a one-line message: the values, as numpy prints them (Keras's torch tensors print as
    # torch's do)
    t = fk.ops.sum(fk.ops.ones(3))
    assert f"{t!s}" == str(t) == "3.0" and repr(t) == "Tensor(3.0, shape=(), dtype=float32)"


def test_progress_lines_show_long_times_in_seconds_as_keras(monkeypatch):
    """An epoch over a minute shows its time in seconds, and the time per step leaves out the
    (slow) first step, as Keras's verbose=2 line does: a fake clock read once at the start and
    once per update."""
    import contextlib
    import importlib
    import io
    import types

    lines = []
    for lib in LIBS:
        module = importlib.import_module("keras.src.utils.progbar" if lib is keras
                                         else "fastkeras.callbacks.progbar_logger")
        clock = iter([0, 1000, 1100, 1200, 1300])
        fake = types.SimpleNamespace(time=lambda: float(next(clock)))
        fake.perf_counter = fake.time
        monkeypatch.setattr(module, "time", fake)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            bar = lib.utils.Progbar(4, verbose=2)
            for step in range(1, 5):
                bar.update(step, [("loss", 0.5)])
        lines.append(out.getvalue())
        monkeypatch.undo()
    assert lines[0] == lines[1] == "4/4 - 1300s - 100s/step - loss: 0.5000\n"
