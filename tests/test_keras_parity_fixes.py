"""Keras-compatibility fixes, each checked against real Keras 3 where it can run the same code:
Model subclasses built functionally, numpy on the left of tensor ops, a watched input in the
tape, integer dtypes and list axes of ops, metric trackers of custom train steps, fit/evaluate
without targets, nested step logs, optimizer building, the propagated `training` flag,
single inputs given as lists, scalar tensors used as Python numbers, tensor-valued image
crop/pad arguments, int variables, accuracy metrics, metric names, schedules, validation_freq
lists, stateful RNN states, positional and unknown layer arguments."""

import contextlib
import io
import re
import warnings

import numpy as np
import pytest

import fastkeras as fk

keras = pytest.importorskip("keras")


def _np(value):
    """A tensor of either library (or a number) as a numpy array."""
    if hasattr(value, "detach"):  # a torch tensor (Keras's torch backend)
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _dtype(lib, value):
    return lib.backend.standardize_dtype(value.dtype)


def _grads(lib, loss_fn, variables):
    """(loss, gradients of loss w.r.t. variables): fastkeras's tape, or torch's backward in
    Keras (the torch flavour of keras.io's "Customizing what happens in fit()")."""
    variables = list(variables)
    if lib is fk:
        with fk.GradientTape() as tape:
            loss = loss_fn()
        return loss, tape.gradient(loss, variables)
    for v in variables:
        v.value.grad = None
    loss = loss_fn()
    loss.backward()
    return loss, [v.value.grad for v in variables]


def _apply(lib, optimizer, grads, variables):
    if lib is fk:
        optimizer.apply_gradients(zip(grads, variables))
        return
    import torch

    with torch.no_grad():
        optimizer.apply_gradients(zip(grads, variables))


def _fixed(model, seed=0, scale=0.3):
    """Gives the model's weights fixed values (the same in both libraries)."""
    rng = np.random.default_rng(seed)
    model.set_weights([(scale * rng.standard_normal(w.shape)).astype(w.dtype)
                       for w in model.get_weights()])


# 1. Model subclasses -----------------------------------------------------------------------

def test_model_subclass_called_with_inputs_and_outputs_is_functional():
    # keras.io "Customizing fit()": `CustomModel(inputs, outputs)` where CustomModel only
    # overrides train_step is a functional model (Keras makes the subclass Functional).
    rng = np.random.default_rng(0)
    x = rng.random((16, 4)).astype("float32")
    y = rng.random((16, 1)).astype("float32")
    weights = [np.full((4, 1), 0.2, "float32"), np.array([0.1], "float32")]
    histories = []
    for lib in (fk, keras):
        class CustomModel(lib.Model):
            def train_step(self, data):
                x, y = data

                def loss_fn():
                    self._y_pred = self(x, training=True)
                    return self.compute_loss(y=y, y_pred=self._y_pred)

                loss, grads = _grads(lib, loss_fn, self.trainable_weights)
                _apply(lib, self.optimizer, grads, self.trainable_weights)
                for metric in self.metrics:
                    if metric.name == "loss":
                        metric.update_state(loss)
                    else:
                        metric.update_state(y, self._y_pred)
                return {m.name: m.result() for m in self.metrics}

        inputs = lib.Input((4,))
        model = CustomModel(inputs, lib.layers.Dense(1)(inputs))
        assert len(model.weights) == 2
        assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense"]
        assert tuple(model(x[:3]).shape) == (3, 1)
        assert tuple(model.output.shape) == (None, 1)
        kw_model = CustomModel(inputs=inputs, outputs=model.output)
        assert len(kw_model.weights) == 2
        model.set_weights(weights)
        model.compile(lib.optimizers.SGD(0.05), "mse", metrics=["mae"])
        history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0).history
        histories.append(history)
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-5)
    # the compiled metrics' results keep Keras's names ("mae", not prefixed by the output)
    assert sorted(histories[0]) == sorted(histories[1]) == ["loss", "mae"]
    np.testing.assert_allclose(histories[0]["mae"], histories[1]["mae"], rtol=1e-5)
    from fastkeras.models.functional import Functional

    inputs = fk.Input((4,))
    assert isinstance(type("Sub", (fk.Model,), {})(inputs, fk.layers.Dense(1)(inputs)),
                      Functional)


def test_model_subclass_taking_two_models_stays_a_plain_subclass():
    # __init__(self, encoder, decoder) calling super().__init__(): two positional arguments
    # that are models, not (inputs, outputs).
    x = np.random.default_rng(1).random((3, 4)).astype("float32")
    outs = []
    for lib in (fk, keras):
        class AutoEncoder(lib.Model):
            def __init__(self, encoder, decoder):
                super().__init__()
                self.encoder = encoder
                self.decoder = decoder

            def call(self, inputs):
                return self.decoder(self.encoder(inputs))

        encoder = lib.Sequential([lib.Input((4,)), lib.layers.Dense(2)])
        decoder = lib.Sequential([lib.Input((2,)), lib.layers.Dense(4)])
        _fixed(encoder, 0)
        _fixed(decoder, 1)
        model = AutoEncoder(encoder, decoder)
        out = _np(model(x))
        assert out.shape == (3, 4)
        assert len(model.weights) == 4
        assert model.encoder is encoder and model.decoder is decoder
        np.testing.assert_allclose(out, _np(decoder(encoder(x))), rtol=1e-6)
        outs.append(out)
    from fastkeras.models.functional import Functional

    assert not isinstance(model, Functional)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)


# 2. numpy on the left ----------------------------------------------------------------------

def test_numpy_on_the_left_of_a_tensor_op_keeps_the_gradient():
    v = fk.Variable(np.array([1.0, 2.0, 3.0], "float32"))
    a = np.full(3, 5.0, "float32")
    with fk.GradientTape() as tape:
        diff = a - v
        doubled = np.float32(2) * v
        ratio = a / (v + 1)
        assert all(fk.ops.is_tensor(t) and not isinstance(t, np.ndarray)
                   for t in (diff, doubled, ratio))
        loss_diff = fk.ops.sum(diff * diff)
    np.testing.assert_allclose(_np(diff), [4, 3, 2])
    np.testing.assert_allclose(_np(doubled), [2, 4, 6])
    np.testing.assert_allclose(_np(ratio), [2.5, 5 / 3, 1.25], rtol=1e-6)
    # d/dv sum((a - v)^2) = -2 (a - v)
    np.testing.assert_allclose(_np(tape.gradient(loss_diff, [v])[0]), [-8, -6, -4])
    with fk.GradientTape() as tape:
        loss_mul = fk.ops.sum(np.float32(2) * v)
    np.testing.assert_allclose(_np(tape.gradient(loss_mul, [v])[0]), [2, 2, 2])
    with fk.GradientTape() as tape:
        loss_div = fk.ops.sum(a / (v + 1))
    # d/dv a / (v + 1) = -a / (v + 1)^2
    np.testing.assert_allclose(_np(tape.gradient(loss_div, [v])[0]),
                               -5.0 / np.array([4.0, 9.0, 16.0]), rtol=1e-6)


# 3. no call() ------------------------------------------------------------------------------

def test_layer_or_model_without_call_raises_not_implemented():
    x = np.ones((3, 4), "float32")
    for lib in (fk, keras):
        class NoCallLayer(lib.layers.Layer):
            pass

        class NoCallModel(lib.Model):
            def __init__(self):
                super().__init__()
                self.dense = lib.layers.Dense(2)

        with pytest.raises(NotImplementedError):
            NoCallLayer()(x)
        with pytest.raises(NotImplementedError):
            NoCallModel()(x)
        with pytest.raises(NotImplementedError):
            NoCallModel().predict(x, verbose=0)


# 4. GradientTape.watch ---------------------------------------------------------------------

def test_tape_watch_gives_gradients_for_tensors():
    x = fk.ops.convert_to_tensor(np.array([1.0, 2.0, 3.0], "float32"))
    with fk.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = fk.ops.sum(x * x)
        z = fk.ops.sum(3.0 * x)
    np.testing.assert_allclose(_np(tape.gradient(y, x)), [2, 4, 6])
    np.testing.assert_allclose(_np(tape.gradient(z, x)), [3, 3, 3])  # persistent: again

    # saliency: gradient of a model's output with respect to its input
    inputs = fk.Input((3,))
    model = fk.Model(inputs, fk.layers.Dense(2, activation="tanh")(inputs))
    kernel = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], "float32")
    bias = np.array([0.05, -0.1], "float32")
    model.set_weights([kernel, bias])
    data = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]], "float32")
    images = fk.ops.convert_to_tensor(data)
    with fk.GradientTape() as tape:
        tape.watch(images)
        out = fk.ops.sum(model(images))
    # d sum(tanh(xW + b)) / dx = (1 - tanh^2) @ W^T
    expected = (1 - np.tanh(data @ kernel + bias) ** 2) @ kernel.T
    np.testing.assert_allclose(_np(tape.gradient(out, images)), expected, rtol=1e-5, atol=1e-6)


# 5. ops: list axes and integer dtypes ------------------------------------------------------

def test_reductions_accept_a_list_axis():
    data = np.arange(24, dtype="float32").reshape(2, 3, 4)
    for name in ("sum", "mean", "max", "min", "std", "var"):
        results = []
        for lib in (fk, keras):
            out = getattr(lib.ops, name)(lib.ops.convert_to_tensor(data), axis=[1, 2])
            results.append(_np(out))
        expected = getattr(np, name)(data, axis=(1, 2))
        np.testing.assert_allclose(results[0], results[1], rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(results[0], expected, rtol=1e-5, err_msg=name)
        assert results[0].shape == (2,)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_ops_keep_integer_dtypes(dtype):
    data = np.arange(-3, 3).reshape(2, 3).astype(dtype)
    cases = {
        "sum": lambda ops, t: ops.sum(t),
        "sum_axis": lambda ops, t: ops.sum(t, axis=0),
        "max": lambda ops, t: ops.max(t, axis=1),
        "min": lambda ops, t: ops.min(t),
        "abs": lambda ops, t: ops.abs(t),
        "clip": lambda ops, t: ops.clip(t, -1, 1),
        "concatenate": lambda ops, t: ops.concatenate([t, t], axis=-1),
        "stack": lambda ops, t: ops.stack([t, t]),
        "square": lambda ops, t: ops.square(t),
        "negative": lambda ops, t: ops.negative(t),
        "sign": lambda ops, t: ops.sign(t),
        "relu": lambda ops, t: ops.relu(t),
    }
    for name, fn in cases.items():
        seen = []
        for lib in (fk, keras):
            out = fn(lib.ops, lib.ops.convert_to_tensor(data))
            seen.append((_dtype(lib, out), _np(out).tolist()))
        assert seen[0] == seen[1], name
        assert seen[0][0] == dtype, name


# 6. metric trackers of a custom train_step -------------------------------------------------

def test_metric_trackers_in_attributes_lists_dicts_and_sublayers():
    # Keras finds the trackers wherever the model keeps them, lists them in model.metrics and
    # resets them at the start of each epoch.
    results = []
    for lib in (fk, keras):
        class Inner(lib.layers.Layer):
            def __init__(self):
                super().__init__()
                self.m_inner = lib.metrics.Mean(name="inner")

        class Tracked(lib.Model):
            def __init__(self):
                super().__init__()
                self.dense = lib.layers.Dense(1)
                self.pub = lib.metrics.Mean(name="pub")
                self._priv = lib.metrics.Mean(name="priv")
                self.lst = [lib.metrics.Mean(name="lst")]
                self.dct = {"a": lib.metrics.Mean(name="dct")}
                self.inner = Inner()
                self.steps = 0

            def call(self, x):
                return self.dense(x)

            def trackers(self):
                return [self.pub, self._priv, self.lst[0], self.dct["a"], self.inner.m_inner]

            def train_step(self, data):
                self.steps += 1
                for i, metric in enumerate(self.trackers()):
                    metric.update_state(float(self.steps * (i + 1)))
                return {m.name: m.result() for m in self.trackers()}

        model = Tracked()
        model.compile(optimizer="sgd")
        history = model.fit(np.ones((4, 2), "float32"), epochs=2, batch_size=2, verbose=0)
        results.append((history.history, [m.name for m in model.metrics]))
    assert results[0][1] == results[1][1] == ["loss", "pub", "priv", "lst", "dct", "inner"]
    assert results[0][0] == results[1][0]
    assert results[0][0]["pub"] == [1.5, 3.5]  # reset each epoch: mean(1, 2), mean(3, 4)
    assert results[0][0]["inner"] == [7.5, 17.5]


# 7. fit / evaluate without targets ---------------------------------------------------------

def test_fit_or_evaluate_without_y_under_a_compiled_loss_raises():
    x = np.random.default_rng(0).random((16, 4)).astype("float32")
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(4)])
        model.compile("sgd", "mse")
        with pytest.raises(ValueError):
            model.fit(x, epochs=1, verbose=0)
        with pytest.raises(ValueError):
            model.evaluate(x, verbose=0)


# 8. validation data without targets --------------------------------------------------------

def _autoencoder(lib):
    ops = lib.ops

    class AE(lib.Model):
        def __init__(self):
            super().__init__()
            self.dense = lib.layers.Dense(4)
            self.tracker = lib.metrics.Mean(name="loss")

        def call(self, x):
            return self.dense(x)

        def _loss(self, data):
            if isinstance(data, tuple):
                data = data[0]
            return ops.mean(ops.square(self(data) - data))

        def train_step(self, data):
            loss, grads = _grads(lib, lambda: self._loss(data), self.trainable_weights)
            _apply(lib, self.optimizer, grads, self.trainable_weights)
            self.tracker.update_state(loss)
            return {"loss": self.tracker.result()}

        def test_step(self, data):
            self.tracker.update_state(self._loss(data))
            return {"loss": self.tracker.result()}

    return AE()


@pytest.mark.parametrize("form", ["tuple", "array"])
def test_validation_data_without_targets(form):
    x = np.random.default_rng(0).random((16, 4)).astype("float32")
    histories = []
    for lib in (fk, keras):
        model = _autoencoder(lib)
        model(x[:1])
        _fixed(model, 0)
        model.compile(optimizer=lib.optimizers.SGD(0.1))
        val = (x[:8],) if form == "tuple" else x[:8]
        histories.append(model.fit(x, epochs=2, batch_size=8, shuffle=False, verbose=0,
                                   validation_data=val).history)
    assert sorted(histories[0]) == sorted(histories[1]) == ["loss", "val_loss"]
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-5)


# 9. nested logs of a custom train_step -----------------------------------------------------

def test_nested_step_logs_keys_and_progress_order():
    x = np.ones((8, 3), "float32")
    seen = []
    for lib in (fk, keras):
        class Logs(lib.Model):
            def __init__(self):
                super().__init__()
                self.dense = lib.layers.Dense(1)

            def call(self, x):
                return self.dense(x)

            def train_step(self, data):
                return {"zeta": 1.0, "alpha": lib.ops.convert_to_tensor(2.0),
                        "nested": {"mid": 3.0, "b": 4.0}}

        model = Logs()
        model.compile(optimizer="sgd")
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            history = model.fit(x, epochs=1, batch_size=4, verbose=2)
        line = [s for s in buffer.getvalue().splitlines() if "step" in s][-1]
        seen.append((list(history.history), history.history, re.findall(r"(\w+): ", line),
                     re.findall(r"\w+: [\d.]+", line)))
    assert seen[0] == seen[1]
    assert seen[0][0] == ["alpha", "b", "mid", "zeta"]
    assert seen[0][3] == ["alpha: 2.0000", "b: 4.0000", "mid: 3.0000", "zeta: 1.0000"]


# 10. fit / evaluate build the compiled optimizer -------------------------------------------

def _summary_optimizer_line(model):
    lines = []
    model.summary(print_fn=lambda s, **kwargs: lines.append(s))
    found = [s.strip() for s in "\n".join(lines).splitlines() if "Optimizer params" in s]
    return found


def test_fit_builds_the_compiled_optimizer_of_a_gan_style_model():
    data = np.random.default_rng(0).random((32, 6)).astype("float32")
    seen = []
    for lib in (fk, keras):
        ops = lib.ops
        disc = lib.Sequential([lib.Input((6,)), lib.layers.Dense(8), lib.layers.Dense(1)],
                              name="discriminator")
        gen = lib.Sequential([lib.Input((4,)), lib.layers.Dense(6, activation="sigmoid")],
                             name="generator")
        _fixed(disc, 0)
        _fixed(gen, 1)

        class GAN(lib.Model):
            def __init__(self, discriminator, generator):
                super().__init__()
                self.discriminator = discriminator
                self.generator = generator

            def compile(self, d_optimizer, g_optimizer, loss_fn):
                super().compile()
                self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
                self.loss_fn = loss_fn
                self.d_loss_metric = lib.metrics.Mean(name="d_loss")
                self.g_loss_metric = lib.metrics.Mean(name="g_loss")

            @property
            def metrics(self):
                return [self.d_loss_metric, self.g_loss_metric]

            def train_step(self, real):
                b = ops.shape(real)[0]
                z = real[:, :4] * 2.0 - 1.0  # deterministic "noise"
                combined = ops.concatenate([self.generator(z), real], axis=0)
                labels = ops.concatenate([ops.ones((b, 1)), ops.zeros((b, 1))], axis=0)
                d_vars = self.discriminator.trainable_weights
                d_loss, grads = _grads(
                    lib, lambda: self.loss_fn(labels, self.discriminator(combined)), d_vars)
                _apply(lib, self.d_optimizer, grads, d_vars)
                g_vars = self.generator.trainable_weights
                g_loss, grads = _grads(
                    lib, lambda: self.loss_fn(ops.zeros((b, 1)),
                                              self.discriminator(self.generator(z))), g_vars)
                _apply(lib, self.g_optimizer, grads, g_vars)
                self.d_loss_metric.update_state(d_loss)
                self.g_loss_metric.update_state(g_loss)
                return {"d_loss": self.d_loss_metric.result(),
                        "g_loss": self.g_loss_metric.result()}

        gan = GAN(disc, gen)
        gan.built = True
        gan.compile(lib.optimizers.Adam(1e-3), lib.optimizers.Adam(1e-3),
                    lib.losses.BinaryCrossentropy(from_logits=True))
        history = gan.fit(data, epochs=2, batch_size=16, shuffle=False, verbose=0).history
        seen.append((len(gan.optimizer.variables), _summary_optimizer_line(gan), history,
                     len(gan.d_optimizer.variables)))
    ours, theirs = seen
    assert ours[0] == theirs[0]
    assert ours[0] > 2  # the compiled optimizer has slots for the trainable variables
    assert ours[1] == theirs[1] and len(ours[1]) == 1
    assert ours[3] == theirs[3]
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose(ours[2][key], theirs[2][key], rtol=1e-5)


def test_evaluate_builds_the_compiled_optimizer():
    counts = []
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])
        model.compile("adam", "mse")
        model.evaluate(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
        counts.append((len(model.optimizer.variables), _summary_optimizer_line(model)))
    assert counts[0] == counts[1]
    assert counts[0][0] == 2 + 2 * 2  # iterations, learning rate, 2 slots for each weight


# 11. the training flag ---------------------------------------------------------------------

def test_training_flag_reaches_layers_called_inside_layers():
    x = np.ones((4, 3), "float32")
    y = np.ones((4, 1), "float32")
    results = []
    for lib in (fk, keras):
        seen = []

        def probe(default):
            class Probe(lib.layers.Layer):
                def call(self, x, training=default):
                    seen.append((self.name, training))
                    return x

            return Probe

        class Outer(lib.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.inner_t = probe(True)(name="inner_T")
                self.inner_n = probe(None)(name="inner_N")

            def call(self, x):
                return self.inner_n(self.inner_t(x))

        inputs = lib.Input((3,))
        hidden = probe(None)(name="mN")(probe(True)(name="mT")(inputs))
        model = lib.Model(inputs, lib.layers.Dense(1)(Outer(name="outer")(hidden)))
        model.compile("sgd", "mse")
        runs = {}
        for tag, run in (("call", lambda: model(x)),
                         ("call_training", lambda: model(x, training=True)),
                         ("predict", lambda: model.predict(x, verbose=0)),
                         ("fit", lambda: model.fit(x, y, batch_size=4, epochs=1, verbose=0)),
                         ("evaluate", lambda: model.evaluate(x, y, verbose=0)),
                         ("train_on_batch", lambda: model.train_on_batch(x, y)),
                         ("predict_on_batch", lambda: model.predict_on_batch(x)),
                         ("outer_eager", lambda: Outer(name="outer")(x, training=False))):
            seen.clear()
            run()
            runs[tag] = list(seen[-4:]) if tag != "outer_eager" else list(seen[-2:])
        results.append(runs)
    assert results[0] == results[1]
    assert results[0]["fit"] == [("mT", True), ("mN", True), ("inner_T", True),
                                 ("inner_N", True)]
    assert results[0]["predict"] == [("mT", False), ("mN", False), ("inner_T", False),
                                     ("inner_N", False)]


def _blocks(lib):
    layers = lib.layers

    class ConvBlock(layers.Layer):
        def __init__(self, filters, **kwargs):
            super().__init__(**kwargs)
            self.conv = layers.Conv2D(filters, 3, padding="same")
            self.bn = layers.BatchNormalization()

        def call(self, x):  # no training argument passed on
            return lib.ops.relu(self.bn(self.conv(x)))

    class DropBlock(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.drop = layers.Dropout(0.5)

        def call(self, x):
            return self.drop(x)

    return ConvBlock, DropBlock


def test_batch_norm_and_dropout_inside_custom_layers_train_during_fit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 6, 6, 2)).astype("float32")
    y = rng.standard_normal((8, 1)).astype("float32")
    results = []
    for lib in (fk, keras):
        ConvBlock, DropBlock = _blocks(lib)
        inputs = lib.Input((6, 6, 2))
        block = ConvBlock(4)
        pooled = lib.layers.GlobalAveragePooling2D()(block(inputs))
        model = lib.Model(inputs, lib.layers.Dense(1)(pooled))
        _fixed(model, 0)
        model.set_weights([w if w.ndim > 1 or i < 2 else np.abs(w) + 0.5
                           for i, w in enumerate(model.get_weights())])
        before = _np(block.bn.moving_mean).copy()
        model.compile(lib.optimizers.SGD(0.1), "mse")
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
        moved = _np(block.bn.moving_mean)
        assert np.abs(moved - before).max() > 1e-4  # BN used and updated batch statistics
        predicted = model.predict(x, verbose=0)
        results.append((history["loss"], moved, predicted))

        # Dropout inside a custom layer drops during fit, not in predict
        fractions = []

        class ZeroFraction(lib.layers.Layer):
            def call(self, x):
                if not isinstance(x, lib.KerasTensor):
                    fractions.append(float(np.mean(_np(x) == 0)))
                return x

        inputs = lib.Input((400,))
        out = lib.layers.Dense(1)(ZeroFraction()(DropBlock()(inputs)))
        dropper = lib.Model(inputs, out)
        dropper.compile(lib.optimizers.SGD(0.0), "mse")
        dropper.fit(np.ones((2, 400), "float32"), np.ones((2, 1), "float32"), verbose=0)
        assert 0.3 < fractions[-1] < 0.7
        dropper.predict(np.ones((2, 400), "float32"), verbose=0)
        assert fractions[-1] == 0.0
    for ours, theirs in zip(results[0], results[1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_subclassed_model_call_without_training_passes_none():
    # Keras: a model whose call() has no `training` parameter leaves its layers' training as
    # None in fit and predict; one that has it passes True in fit, False in predict.
    x = np.ones((4, 3), "float32")
    y = np.ones((4, 1), "float32")
    results = []
    for lib in (fk, keras):
        seen = []

        class Probe(lib.layers.Layer):
            def call(self, x, training=None):
                seen.append(training)
                return x

        class Net(lib.Model):
            def __init__(self):
                super().__init__()
                self.probe = Probe()
                self.out = lib.layers.Dense(1)

            def call(self, x):
                return self.out(self.probe(x))

        class NetWithTraining(Net):
            def call(self, x, training=None):
                return self.out(self.probe(x))

        runs = []
        for cls in (Net, NetWithTraining):
            net = cls()
            net(x)
            seen.clear()
            net(x, training=True)
            direct = list(seen)
            net.compile("sgd", "mse")
            seen.clear()
            net.fit(x, y, batch_size=2, epochs=1, verbose=0)
            fit = seen[-2:]  # the two training steps
            seen.clear()
            net.predict(x, verbose=0)
            runs.append((direct, fit, list(seen)))
        results.append(runs)
    assert results[0] == results[1]
    assert results[0][0] == ([True], [None, None], [None])
    assert results[0][1] == ([True], [True, True], [False])


# 12. activation = None ---------------------------------------------------------------------

def test_setting_activation_to_none_gives_logits():
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    outs = []
    for lib in (fk, keras):
        inputs = lib.Input((4,))
        model = lib.Model(inputs, lib.layers.Dense(3, activation="softmax")(inputs))
        _fixed(model, 0, 1.0)
        kernel, bias = model.get_weights()
        model.layers[-1].activation = None
        logits = model.predict(x, verbose=0)
        np.testing.assert_allclose(logits, x @ kernel + bias, rtol=1e-5, atol=1e-6)
        outs.append(logits)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)


# 13. a single input given as a list --------------------------------------------------------

def test_single_input_sequential_takes_its_input_in_a_list_or_tuple():
    rng = np.random.default_rng(0)
    x = rng.random((6, 4, 4, 3)).astype("float32")
    y = rng.random((6, 1)).astype("float32")
    results = []
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((4, 4, 3)), lib.layers.GlobalAveragePooling2D(),
                                lib.layers.Dense(1)])
        _fixed(model, 0)
        weights = model.get_weights()
        model.compile(lib.optimizers.SGD(0.1), "mse")
        per_form = []
        for data in (x, [x], (x,)):
            model.set_weights(weights)
            called = _np(model(data))
            predicted = model.predict(data, verbose=0)
            evaluated = model.evaluate(data, y, verbose=0)
            fitted = model.fit(data, y, batch_size=3, epochs=2, shuffle=False,
                               verbose=0).history["loss"]
            per_form.append((called, predicted, evaluated, fitted))
        for form in per_form[1:]:
            for a, b in zip(form, per_form[0]):
                np.testing.assert_allclose(a, b, rtol=1e-6)
        results.append(per_form[0])
    for a, b in zip(results[0], results[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# 14. scalar tensors as Python numbers ------------------------------------------------------

def test_scalar_tensors_as_python_numbers():
    names = ["cat", "dog", "bird"]
    seen = []
    for lib in (fk, keras):
        ops = lib.ops
        preds = ops.convert_to_tensor(np.array([[0.1, 0.7, 0.2]], "float32"))
        index = ops.argmax(preds[0])
        percent = "%d" % index  # noqa: UP031 (the %-format is what is tested)
        seen.append((int(index), names[index], list(range(ops.convert_to_tensor(3, "int32"))),
                     percent, f"{preds[0, 1]:.2f}", _np(preds[:, index]).tolist(),
                     float(preds[0, 2])))
    assert seen[0] == seen[1]
    assert seen[0][:5] == (1, "dog", [0, 1, 2], "1", "0.70")


# 15. image crop/pad with tensor arguments --------------------------------------------------

def test_crop_and_pad_images_take_tensor_arguments():
    image = np.arange(36, dtype="float32").reshape(6, 6, 1)
    seen = []
    for lib in (fk, keras):
        ops = lib.ops
        top = ops.cast(ops.convert_to_tensor(1.7), "int32")
        left = ops.cast(ops.convert_to_tensor(2.2), "int32")
        height = ops.convert_to_tensor(3, dtype="int32")
        width = ops.clip(ops.convert_to_tensor(10, "int32"), 0, 3)
        cropped = ops.image.crop_images(ops.convert_to_tensor(image), top_cropping=top,
                                        left_cropping=left, target_height=height,
                                        target_width=width)
        padded = ops.image.pad_images(ops.ones((3, 3, 1)), top_padding=top,
                                      left_padding=left, target_height=6, target_width=6)
        seen.append((_np(cropped), _np(padded)))
    np.testing.assert_array_equal(seen[0][0], seen[1][0])
    np.testing.assert_array_equal(seen[0][1], seen[1][1])
    np.testing.assert_array_equal(seen[0][0], image[1:4, 2:5])
    expected = np.zeros((6, 6, 1), "float32")
    expected[1:4, 2:5] = 1
    np.testing.assert_array_equal(seen[0][1], expected)


# 16. integer variables ---------------------------------------------------------------------

def test_integer_variables_cast_what_they_are_given():
    x = np.random.RandomState(0).randn(32, 5).astype("float32")
    seen = []
    for lib in (fk, keras):
        v = lib.Variable(np.array(3, "int32"), dtype="int32", trainable=False)
        v.assign(2.0)
        stored = _np(v.value)
        norm = lib.layers.Normalization()
        norm.adapt(x)
        weights = norm.get_weights()
        weights[2] = np.full(weights[2].shape, 7.0)  # count: a float array for an int variable
        norm.set_weights([w.astype("float32") for w in weights])
        after = norm.get_weights()
        seen.append((stored.item(), str(stored.dtype), _dtype(lib, v),
                     [str(w.dtype) for w in after], int(after[2])))
        np.testing.assert_allclose(_np(norm(x)), (x - x.mean(0)) / x.std(0), rtol=1e-4,
                                   atol=1e-4)
    assert seen[0] == seen[1]
    assert seen[0][:3] == (2, "int32", "int32")
    assert seen[0][4] == 7


# 17-19. metrics ----------------------------------------------------------------------------

def test_sparse_top_k_accuracy_from_sorted_ids():
    y_true = np.array([1, 0, 3])
    ids = np.array([[1, 2], [3, 2], [0, 1]])
    seen = []
    for lib in (fk, keras):
        metric = lib.metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
        metric.update_state(y_true, ids)
        seen.append((float(_np(metric.result())), metric.get_config()))
    assert seen[0] == seen[1]
    assert seen[0][0] == pytest.approx(1 / 3)
    assert seen[0][1]["from_sorted_ids"] is True


def test_binary_accuracy_is_element_wise():
    y_true = np.array([1, 0, 1, 1], "float32")
    y_pred = np.array([0.9, 0.2, 0.3, 0.6], "float32")
    weights = np.array([1, 1, 3, 0.5], "float32")
    from keras.src.metrics.accuracy_metrics import accuracy  # not exported by Keras

    accuracy_fns = {"fastkeras": fk.metrics.accuracy, "keras": accuracy}
    seen = []
    for lib in (fk, keras):
        two_true, two_pred = np.stack([y_true, y_true], 1), np.stack([y_pred, y_pred], 1)
        binary = lib.metrics.binary_accuracy(two_true, two_pred)
        plain = accuracy_fns[lib.__name__](two_true, (two_pred > 0.5).astype("float32"))
        one_d = lib.metrics.BinaryAccuracy()
        one_d.update_state(y_true, y_pred, sample_weight=weights)
        per_element = lib.metrics.BinaryAccuracy()
        per_element.update_state(np.stack([y_true, 1 - y_true], 1), two_pred,
                                 sample_weight=np.stack([weights, 1 + weights], 1))
        accuracy = lib.metrics.Accuracy()
        accuracy.update_state(y_true, (y_pred > 0.5).astype("float32"), sample_weight=weights)
        seen.append((_np(binary).tolist(), _np(plain).tolist(), float(_np(one_d.result())),
                     float(_np(per_element.result())), float(_np(accuracy.result()))))
    ours, theirs = seen
    assert np.shape(ours[0]) == np.shape(ours[1]) == (4, 2)
    assert ours[:2] == theirs[:2]
    np.testing.assert_allclose(ours[2:], theirs[2:], rtol=1e-6)
    assert ours[2] == pytest.approx(2.5 / 5.5)


def test_metrics_names_and_variables_after_fit_with_metric_objects():
    rng = np.random.RandomState(0)
    x = rng.randn(32, 5).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    seen = []
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((5,)), lib.layers.Dense(1, activation="sigmoid")])
        model.compile("sgd", "binary_crossentropy",
                      metrics=["accuracy", lib.metrics.AUC(),
                               lib.metrics.Precision(thresholds=0.3)])
        model.fit(x, y, epochs=1, verbose=0)
        seen.append((model.metrics_names, len(model.metrics_variables),
                     [type(m).__name__ for m in model.metrics]))
    assert seen[0] == seen[1]
    assert seen[0][0] == ["loss", "compile_metrics"]


# 20. schedules and lambda metrics ----------------------------------------------------------

def test_scheduled_learning_rate_has_numpy_and_lambda_metric_name():
    rng = np.random.RandomState(0)
    x = rng.randn(32, 5).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    seen = []
    for lib in (fk, keras):
        schedule = lib.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
        opt = lib.optimizers.Adam(schedule)
        first = float(opt.learning_rate.numpy())
        v = lib.Variable(np.ones(2, "float32"))
        for _ in range(5):
            _apply(lib, opt, [lib.ops.convert_to_tensor(np.ones(2, "float32"))], [v])
        later = float(opt.learning_rate.numpy())
        model = lib.Sequential([lib.Input((5,)), lib.layers.Dense(1, activation="sigmoid")])
        model.compile("sgd", "binary_crossentropy",
                      metrics=[lambda yt, yp: lib.ops.mean(yp)])
        keys = sorted(model.fit(x, y, epochs=1, verbose=0).history)
        seen.append((first, later, keys))
    assert seen[0][2] == seen[1][2] == ["lambda", "loss"]
    np.testing.assert_allclose(seen[0][:2], seen[1][:2], rtol=1e-6)
    np.testing.assert_allclose(seen[0][:2], [0.1, 0.1 * 0.5 ** 0.5], rtol=1e-6)


# 21. validation_freq as a list -------------------------------------------------------------

def test_validation_freq_list():
    rng = np.random.RandomState(0)
    x = rng.randn(64, 5).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    histories = []
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((5,)), lib.layers.Dense(1, activation="sigmoid")])
        model.set_weights([np.full((5, 1), 0.1, "float32"), np.zeros(1, "float32")])
        model.compile(lib.optimizers.SGD(0.1), "binary_crossentropy")
        history = model.fit(x, y, batch_size=16, epochs=3, validation_data=(x[:16], y[:16]),
                            validation_freq=[1, 3], shuffle=False, verbose=0).history
        histories.append(history)
        with pytest.raises(ValueError):
            model.fit(x, y, epochs=1, validation_data=(x[:16], y[:16]), validation_freq="x",
                      verbose=0)
    assert len(histories[0]["loss"]) == 3
    assert len(histories[0]["val_loss"]) == len(histories[1]["val_loss"]) == 2
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-5)


# 22. stateful RNNs -------------------------------------------------------------------------

def test_stateful_rnn_evaluate_and_fit_continue_from_the_predict_state():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    y = rng.normal(size=(4, 1)).astype("float32")
    seen = []
    weights = None
    for lib in (fk, keras):
        def build():
            inputs = lib.Input(batch_shape=(4, 3, 3))
            rnn = lib.layers.SimpleRNN(5, stateful=True)
            model = lib.Model(inputs, lib.layers.Dense(1)(rnn(inputs)))
            if weights is None:
                _fixed(model, 0, 0.5)
            else:
                model.set_weights(weights)
            model.compile("sgd", "mse")
            return model, rnn

        model, rnn = build()
        weights = model.get_weights()
        model.predict_on_batch(x[:, :3])
        state = _np(rnn.states[0]).copy()
        expected = float(np.mean((_np(model.predict_on_batch(x[:, 3:])) - y) ** 2))
        rnn.states[0].assign(state)
        evaluated = float(model.evaluate(x[:, 3:], y, batch_size=4, verbose=0))
        assert evaluated == pytest.approx(expected, rel=1e-5)

        model, rnn = build()
        model.predict(x[:, :3], verbose=0)
        fitted = model.fit(x[:, 3:], y, batch_size=4, epochs=1, shuffle=False,
                           verbose=0).history["loss"][0]
        assert fitted == pytest.approx(expected, rel=1e-5)
        seen.append((evaluated, fitted))
    np.testing.assert_allclose(seen[0], seen[1], rtol=1e-5)


def test_stateful_rnn_states_exist_once_the_model_is_built():
    seen = []
    for lib in (fk, keras):
        layers = lib.layers
        inputs = lib.Input(batch_shape=(2, 3, 3))
        gru = layers.GRU(2, stateful=True)
        bidi = layers.Bidirectional(layers.LSTM(3, stateful=True, return_sequences=True))
        lib.Model(inputs, gru(bidi(inputs)))
        lstm = layers.LSTM(4, stateful=True)
        lib.Sequential([lib.Input(batch_shape=(2, 3, 3)), lstm])
        shapes = []
        for layer in (gru, bidi.forward_layer, bidi.backward_layer, lstm):
            assert layer.states is not None
            values = [_np(s) for s in layer.states]
            assert all(not v.any() for v in values)
            shapes.append([v.shape for v in values])
        gru.states[0].assign(np.ones((2, 2), "float32"))
        np.testing.assert_array_equal(_np(gru.states[0]), np.ones((2, 2)))
        seen.append(shapes)
    assert seen[0] == seen[1]
    assert seen[0] == [[(2, 2)], [(2, 3), (2, 3)], [(2, 3), (2, 3)], [(2, 4), (2, 4)]]


# 23-24. layer arguments --------------------------------------------------------------------

def _positional_layers(lib):
    layers = lib.layers
    return {"LSTM": layers.LSTM(4, "tanh", "sigmoid", False),
            "GRU": layers.GRU(4, "tanh", "sigmoid", False),
            "SimpleRNN": layers.SimpleRNN(4, "tanh", True, "zeros"),
            "LayerNormalization": layers.LayerNormalization(-1, 1e-3, True, True, "ones"),
            "LSTMCell": layers.LSTMCell(4, "tanh", "sigmoid", False),
            "GRUCell": layers.GRUCell(4, "tanh", "sigmoid", False)}


def test_positional_arguments_follow_keras_order():
    seen = []
    for lib in (fk, keras):
        described = {}
        for name, layer in _positional_layers(lib).items():
            config = layer.get_config()
            described[name] = {
                key: config[key]["class_name"] if isinstance(config[key], dict) else config[key]
                for key in ("use_bias", "kernel_initializer", "beta_initializer",
                            "activation", "recurrent_activation", "epsilon", "axis")
                if key in config}
        seen.append(described)
    assert seen[0] == seen[1]
    assert seen[0]["LSTM"]["use_bias"] is False
    assert seen[0]["GRU"]["use_bias"] is False
    assert seen[0]["SimpleRNN"]["kernel_initializer"] == "Zeros"
    assert seen[0]["LayerNormalization"]["beta_initializer"] == "Ones"
    assert seen[0]["LSTMCell"]["use_bias"] is False
    assert seen[0]["GRUCell"]["use_bias"] is False


@pytest.mark.parametrize("name", ["Dense", "LSTM", "GRU", "Embedding", "Bidirectional"])
def test_unknown_keyword_arguments_raise(name):
    for lib in (fk, keras):
        makers = {"Dense": lambda **kw: lib.layers.Dense(3, **kw),
                  "LSTM": lambda **kw: lib.layers.LSTM(3, **kw),
                  "GRU": lambda **kw: lib.layers.GRU(3, **kw),
                  "Embedding": lambda **kw: lib.layers.Embedding(10, 3, **kw),
                  "Bidirectional": lambda **kw: lib.layers.Bidirectional(lib.layers.LSTM(3),
                                                                         **kw)}
        with pytest.raises(ValueError, match=f"Unrecognized keyword arguments passed to {name}"):
            makers[name](time_major=True)


def test_legacy_input_shape_and_input_length_warn():
    for lib in (fk, keras):
        for make in (lambda: lib.layers.Dense(3, input_shape=(4,)),
                     lambda: lib.layers.LSTM(3, input_shape=(5, 2)),
                     lambda: lib.layers.Embedding(10, 3, input_length=5)):
            with pytest.warns(UserWarning):
                make()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lib.layers.Dense(3)
            lib.layers.Embedding(10, 3)


@pytest.mark.parametrize("optimizer", ["nadam", "adam", "adamax", "rmsprop", "adagrad",
                                       "adadelta", "ftrl", "lion", "adamw"])
def test_fit_with_each_optimizer_follows_keras_over_several_steps(optimizer):
    """fit's fast update path, from the first step on (fit builds the optimizer first, as
    Keras does), gives Keras's losses: Nadam's per-step momentum schedule included."""
    rng = np.random.default_rng(0)
    x = rng.random((128, 5)).astype("float32")
    y = rng.random((128, 1)).astype("float32")
    weights = [np.full((5, 8), 0.1, "float32"), np.zeros(8, "float32"),
               np.full((8, 1), 0.2, "float32"), np.zeros(1, "float32")]
    histories = []
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((5,)), lib.layers.Dense(8, activation="relu"),
                                lib.layers.Dense(1)])
        model.set_weights(weights)
        model.compile(optimizer, "mse")
        histories.append(model.fit(x, y, epochs=3, batch_size=32, shuffle=False,
                                   verbose=0).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-5)


def test_loading_a_model_with_a_custom_compile_warns_as_keras(tmp_path):
    """Keras does not call an overridden compile() when loading, and says so."""
    for lib in (fk, keras):
        class TwoOptimizers(lib.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.dense = lib.layers.Dense(1)

            def call(self, x):
                return self.dense(x)

            def compile(self, first, second):
                super().compile()
                self.first, self.second = first, second

        model = TwoOptimizers()
        model(np.zeros((1, 2), "float32"))
        model.compile(lib.optimizers.SGD(), lib.optimizers.Adam())
        path = str(tmp_path / f"{lib.__name__}.keras")
        model.save(path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.models.load_model(path, custom_objects={"TwoOptimizers": TwoOptimizers})
        assert any("was not called as part of model loading" in str(w.message)
                   for w in caught), lib


def test_float16_data_reaches_a_custom_train_step_as_float32():
    seen = []

    class Probe(fk.Model):
        def __init__(self):
            super().__init__()
            self.dense = fk.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            seen.append(np.asarray(data[0]).dtype)
            return {"loss": 0.0}

    model = Probe()
    model.compile("sgd")
    model.fit(np.ones((4, 2), np.float16), np.ones((4, 1), np.float16), verbose=0)
    assert seen == [np.float32]


def _three_output_model(lib):
    inputs = lib.Input((5,), name="x")
    hidden = lib.layers.Dense(4)(inputs)
    outputs = {name: lib.layers.Dense(width, name=name)(hidden)
               for name, width in (("zeta", 1), ("alpha", 3), ("mid", 2))}
    model = lib.Model(inputs, outputs)
    model.set_weights([np.full(w.shape, 0.1 * (i + 1), "float32")
                       for i, w in enumerate(model.get_weights())])
    return model


def test_evaluate_lists_per_output_losses_in_the_loss_dict_order():
    rng = np.random.default_rng(0)
    x = rng.random((16, 5)).astype("float32")
    y = {"zeta": rng.random((16, 1)).astype("float32"),
         "alpha": rng.random((16, 3)).astype("float32"),
         "mid": rng.random((16, 2)).astype("float32")}
    results = []
    for lib in (fk, keras):
        model = _three_output_model(lib)
        model.compile("sgd", loss={"mid": "mse", "alpha": "mse", "zeta": "mse"})
        values = model.evaluate(x, y, verbose=0)
        results.append((model.metrics_names, values))
        single = _three_output_model(lib)
        single.compile("sgd", loss={"alpha": "mse"})
        value = single.evaluate(x, y, verbose=0)
        assert np.ndim(value) == 0, lib  # one loss: a number, not a list
    assert results[0][0] == results[1][0]
    assert results[0][0][1:] == ["mid_loss", "alpha_loss", "zeta_loss"]
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5)


def test_callback_list_adds_history_and_progress_bar():
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(1)])
        callbacks = lib.callbacks.CallbackList(add_history=True, add_progbar=True, model=model)
        names = sorted(type(cb).__name__ for cb in callbacks.callbacks)
        assert names == ["History", "ProgbarLogger"], lib
        assert model.history is not None


def test_a_layers_trainable_weights_come_first_as_in_keras():
    names = []
    for lib in (fk, keras):
        class Counter(lib.layers.Layer):
            def build(self, shape):
                self.seen = self.add_weight(shape=(2,), initializer="zeros", trainable=False,
                                            name="seen")
                self.scale = self.add_weight(shape=(shape[-1],), initializer="ones",
                                             name="scale")

            def call(self, x):
                return x * self.scale

        layer = Counter()
        layer(np.ones((1, 3), "float32"))
        names.append([w.name for w in layer.weights])
    assert names[0] == names[1] == ["scale", "seen"]


def test_files_keras_can_read_sequential_input_shape_and_custom_losses(tmp_path):
    """Keras loads what fastkeras saves from the README's `input_shape=` model (no
    `batch_input_shape` in layer configs) and from a compile with a registered loss function
    (written as Keras writes functions)."""
    @fk.saving.register_keras_serializable(package="parity")
    def half_mse(y_true, y_pred):
        return fk.ops.mean(fk.ops.square(y_true - y_pred)) * 0.5

    @keras.saving.register_keras_serializable(package="parity")
    def half_mse_keras(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred)) * 0.5

    with pytest.warns(UserWarning, match="input_shape"):
        model = fk.Sequential([fk.layers.Flatten(input_shape=[4, 2]), fk.layers.Dense(3)])
    model.compile("sgd", loss=half_mse)
    x = np.random.default_rng(0).random((2, 4, 2)).astype("float32")
    path = str(tmp_path / "m.keras")
    model.save(path)
    config = model.layers[0].get_config()
    assert "batch_input_shape" not in config
    loaded = keras.models.load_model(path, custom_objects={"parity>half_mse": half_mse_keras})
    np.testing.assert_allclose(_np(loaded.predict(x, verbose=0)), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_a_shared_layer_adds_its_activity_loss_for_every_call():
    values = []
    x = np.ones((2, 3), "float32")
    for lib in (fk, keras):
        shared = lib.layers.Dense(2, kernel_initializer="ones", activity_regularizer="l2")
        inputs = lib.Input((3,))
        model = lib.Model(inputs, lib.layers.Add()([shared(inputs), shared(inputs * 2.0)]))
        assert len(model.losses) == 0  # nothing from building the model, as Keras
        model(x)
        values.append(sorted(float(_np(loss)) for loss in model.losses))
    np.testing.assert_allclose(values[0], values[1], rtol=1e-6)
    assert len(values[0]) == 2


def test_an_infinite_gradient_through_relu_maximum_and_clip_gives_zero_where_they_are_flat():
    x = fk.Variable(np.array([-1.0, 0.0, 2.0], "float32"))
    for f in (fk.ops.relu, lambda v: fk.ops.maximum(v, 0.0), lambda v: fk.ops.clip(v, 0.0, 9.0)):
        with fk.GradientTape() as tape:
            y = fk.ops.sum(fk.ops.sqrt(f(x)))
        grad = tape.gradient(y, x)
        # flat at -1: 0, not inf * 0 = NaN (at 0 relu passes nothing, maximum and clip inf)
        assert grad[0] == 0.0 and not np.isnan(grad).any()
        assert np.isclose(grad[2], 0.5 / np.sqrt(2))


def test_argmax_dtype_save_format_and_swish_name_as_keras(tmp_path):
    x = np.array([[1.0, 3.0, 2.0]], "float32")
    for lib in (fk, keras):
        assert _dtype(lib, lib.ops.argmax(x, axis=1)) == "int32"
        assert _dtype(lib, lib.ops.argmin(x, axis=1)) == "int32"
        assert lib.layers.Dense(2, activation="swish").get_config()["activation"] == "silu"
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        with pytest.raises(ValueError, match="save_format"):
            model.save(str(tmp_path / "model"), save_format="h5")
        with pytest.raises(ValueError, match="not supported"):
            model.save(str(tmp_path / f"{lib.__name__}.keras"), unknown=1)


def test_h5_without_optimizer_and_missing_files_as_keras(tmp_path):
    import h5py
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        model.compile("sgd", "mse")
        path = str(tmp_path / f"{lib.__name__}.h5")
        model.save(path, include_optimizer=False)
        with h5py.File(path) as f:
            assert "training_config" not in f.attrs, lib
        with pytest.raises(ValueError):
            lib.models.load_model(str(tmp_path / "missing.keras"))
    with pytest.raises(FileNotFoundError):  # also the FileNotFoundError it is
        fk.models.load_model(str(tmp_path / "missing.keras"))


def test_progbar_lines_as_keras():
    """keras.utils.Progbar (verbose=2, one line at the end): names given earlier stay, array
    values show their mean, the final update shows its own values."""
    def runs(lib):
        lines = []
        for target, updates, stateful in (
                (3, [(1, [("loss", 1.0), ("acc", 0.5)]), (2, [("loss", 1.0), ("acc", 0.7)]),
                     (3, [("loss", 2.0)])], None),
                (2, [(1, [("m", np.array([1.0, 3.0]))]), (2, [("m", np.array([2.0, 4.0]))])],
                 None),
                (2, [(1, [("s", 5.0), ("l", 1.0)]), (2, [("l", -4.0)])], ["s"])):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                bar = lib.utils.Progbar(target, verbose=2, stateful_metrics=stateful)
                for current, values in updates:
                    bar.update(current, values)
            lines.append(re.sub(r" - \d+s - \d+(us|ms|s)/step", "", out.getvalue()))
        return lines

    assert runs(fk) == runs(keras)


@pytest.mark.parametrize("kind", ["arrays", "generator", "pydataset"])
def test_fit_and_evaluate_build_the_model_before_their_callbacks_begin(kind):
    # Keras's loops build an unbuilt model (and its optimizer) from the first batch's shapes
    # before `on_train_begin` / `on_test_begin`, so a callback can read the weights there.
    seen = {}

    class Peek(fk.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["train"] = (self.model.built, self.model.count_params(),
                             len(self.model.optimizer.variables))

        def on_test_begin(self, logs=None):
            seen["test"] = (self.model.built, self.model.count_params())

    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)

    def data():
        if kind == "arrays":
            return {"x": x, "y": y, "batch_size": 8}
        if kind == "generator":
            return {"x": ((x[i:i + 8], y[i:i + 8]) for i in (0, 8) * 50), "steps_per_epoch": 2}

        class Batches(fk.utils.PyDataset):
            def __len__(self):
                return 2

            def __getitem__(self, i):
                return x[8 * i:8 * i + 8], y[8 * i:8 * i + 8]
        return {"x": Batches()}

    def model():
        m = fk.Sequential([fk.layers.Dense(4, activation="relu"), fk.layers.Dense(1)])
        m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return m

    m = model()
    m.fit(**data(), epochs=1, verbose=0, callbacks=[Peek()])
    assert seen["train"] == (True, 21, 2 + 2 * 4)  # iterations, learning rate, m and v each
    m = model()
    args = data()
    args.pop("steps_per_epoch", None)
    m.evaluate(**args, steps=2 if kind == "generator" else None, verbose=0, callbacks=[Peek()])
    assert seen["test"] == (True, 21)


def test_merge_layers_take_one_input_and_dot_keeps_its_axes_argument():
    # Keras 3's elementwise merges take "at least 1 input" (a loop's list of one branch);
    # Subtract still takes exactly two. Dot's `axes` attribute is the argument as given.
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for name in ("Add", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"):
        np.testing.assert_array_equal(np.asarray(getattr(fk.layers, name)()([x])), x)
        i = fk.Input((3,))
        model = fk.Model(i, getattr(fk.layers, name)()([i]))
        np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        fk.layers.Subtract()([x])
    assert fk.layers.Dot(1).axes == 1 and fk.layers.Dot((1, 2)).axes == (1, 2)
    assert fk.layers.Dot(1).get_config()["axes"] == 1


def test_predict_keeps_the_output_structure():
    # A tuple of outputs comes back as a tuple (as Keras's predict maps over the structure),
    # a list as a list, nested structures as they are, batched or not.
    i = fk.Input((3,))
    y, s = fk.layers.Dense(2)(i), fk.layers.Dense(1)(i)
    x = np.ones((70, 3), np.float32)
    for outputs, kind in (((y, s), tuple), ([y, s], list), ((y, [s, y]), tuple)):
        model = fk.Model(i, outputs)
        for batch_size in (None, 100):
            out = model.predict(x, batch_size=batch_size, verbose=0)
            assert type(out) is kind and out[0].shape == (70, 2)
        assert type(model.predict_on_batch(x)) is kind
    nested = fk.Model(i, (y, [s, y])).predict(x, verbose=0)
    assert type(nested[1]) is list and nested[1][0].shape == (70, 1)
    gru_in = fk.Input((4, 2))
    gru = fk.Model(gru_in, fk.layers.GRU(2, return_state=True)(gru_in))
    assert type(gru.predict(np.ones((3, 4, 2), np.float32), verbose=0)) is tuple


def test_callbacks_argument_forms_and_a_reused_history():
    # Keras flattens `callbacks=`: one callback alone works in fit, evaluate and predict.
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
    y = x.sum(axis=1, keepdims=True)
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    calls = []
    single = fk.callbacks.LambdaCallback(lambda epoch, logs: calls.append(("epoch", epoch)))
    model.fit(x, y, epochs=2, verbose=0, callbacks=single)
    model.evaluate(x, y, verbose=0, callbacks=fk.callbacks.LambdaCallback(
        on_test_begin=lambda logs: calls.append("test")))
    model.predict(x, verbose=0, callbacks=[[fk.callbacks.LambdaCallback(
        on_predict_end=lambda logs: calls.append("predict"))]])
    assert calls == [("epoch", 0), ("epoch", 1), "test", "predict"]
    # LambdaCallback keeps other keywords as attributes, as Keras's does
    assert fk.callbacks.LambdaCallback(note="x").note == "x"
    # A History passed to several fits keeps the earlier epochs' values; `epoch` restarts.
    history = fk.callbacks.History()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[history])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[history])
    assert history.epoch == [0] and len(history.history["loss"]) == 3
    assert len(model.fit(x, y, epochs=1, verbose=0).history["loss"]) == 1


def test_a_one_element_input_or_output_list_stays_a_list_on_the_model():
    # Keras keeps the constructor's structure in `model.input`/`model.output` (so `[0]` is the
    # tensor, not a slice of it) while calls and predict still take and give the array.
    i = fk.Input((4,))
    o = fk.layers.Dense(2)(i)
    x = np.ones((3, 4), np.float32)
    for model, input_list, output_list in ((fk.Model(i, [o]), False, True),
                                           (fk.Model([i], o), True, False),
                                           (fk.Model([i], [o]), True, True)):
        assert isinstance(model.input, list) == input_list
        assert isinstance(model.output, list) == output_list
        assert model.output[0].shape == (None, 2) if output_list else model.output.shape == (
            None, 2)
        assert model.predict(x, verbose=0).shape == (3, 2)
        assert np.asarray(model(x)).shape == (3, 2)
    extractor = fk.Model(fk.Model(i, [o]).input, fk.Model(i, [o]).output)
    assert extractor.predict(x, verbose=0).shape == (3, 2)


def test_learning_rate_schedules_return_tensors_as_keras():
    # Keras's schedules return backend tensors (`.numpy()` works); a PiecewiseConstantDecay of
    # integer values gives an int32 tensor.
    s = fk.optimizers.schedules
    rate = s.ExponentialDecay(0.1, 10, 0.9)(5)
    assert isinstance(rate, fk.backend.Tensor)
    assert rate.numpy() == pytest.approx(0.09486832) and rate.numpy().dtype == np.float32
    piecewise = s.PiecewiseConstantDecay([10, 20], [3, 2, 1])(15)
    assert piecewise.numpy() == 2 and piecewise.numpy().dtype == np.int32
    reference = keras.optimizers.schedules.PiecewiseConstantDecay([10, 20], [3, 2, 1])(15)
    assert keras.ops.convert_to_numpy(reference).dtype == np.int32
    for schedule in (s.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=10),
                     s.PolynomialDecay(0.1, 100), s.InverseTimeDecay(0.1, 10, 0.5),
                     s.CosineDecayRestarts(0.1, 20)):
        assert float(schedule(30)) == pytest.approx(float(keras.ops.convert_to_numpy(
            getattr(keras.optimizers.schedules, type(schedule).__name__).from_config(
                schedule.get_config())(30))), rel=1e-6)
        assert schedule(30).numpy().dtype == np.float32


def test_a_model_may_start_from_an_intermediate_tensor():
    # Keras: Model(a, b) with `a` a layer's output starts from a new Input standing for `a`;
    # the layers between are shared (same weights), and the model saves and reloads.
    i = fk.Input((4,))
    a = fk.layers.Dense(3, name="A")(i)
    b = fk.layers.Dense(2, name="B")(a)
    c = fk.layers.Dense(2, name="C")(fk.layers.Concatenate()([a, i]))
    full = fk.Model(i, [b, c])
    head = fk.Model(a, b)
    assert [type(layer).__name__ for layer in head.layers] == ["InputLayer", "Dense"]
    assert head.count_params() == 8 and head.input.shape == (None, 3)
    x = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    kernel, bias = full.get_layer("B").get_weights()
    np.testing.assert_allclose(head.predict(x, verbose=0), x @ kernel + bias, rtol=1e-5)
    mixed = fk.Model([a, i], c)
    assert mixed.count_params() == 16
    assert mixed.predict([x, np.ones((2, 4), np.float32)], verbose=0).shape == (2, 2)


def test_a_nested_sequential_input_and_output_are_those_of_its_call():
    # Keras: once a Sequential is called inside another model, its `input`/`output` are that
    # call's tensors (so an extractor can reach it from the outer model), while `inputs`/
    # `outputs` stay its own graph's.
    base = fk.Sequential([fk.Input((4,)), fk.layers.Dense(3, name="x1"),
                          fk.layers.Dense(2, name="x2")], name="base")
    assert base.input is base.inputs[0]  # not yet called elsewhere: its own graph
    outer_in = fk.Input((4,))
    outer = fk.Model(outer_in, fk.layers.Dense(1)(base(outer_in)))
    assert base.input is outer_in and base.inputs[0] is not outer_in
    extractor = fk.Model(outer.input, outer.get_layer("base").output)
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(extractor.predict(x, verbose=0), base.predict(x, verbose=0),
                               rtol=1e-6)
    bare = fk.Sequential([fk.layers.Dense(3)])
    out = bare(outer_in)
    assert bare.input is outer_in and bare.output is out


def test_input_rank_is_adjusted_or_checked_as_keras_does():
    # Keras's functional models add or drop a last axis of size 1 (the "hello world"
    # regression on 1-D data, (N, 28, 28) images for Input((28, 28, 1))) and refuse any other
    # rank mismatch; Dense refuses a 1-D batch.
    xs = np.array([-1.0, 0.0, 1.0, 2.0, 3.0, 4.0])
    ys = 2 * xs - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # input_shape= warns, as in Keras
        model = fk.Sequential([fk.layers.Dense(units=1, input_shape=[1])])
    model.compile(optimizer="sgd", loss="mean_squared_error")
    model.fit(xs, ys, epochs=500, verbose=0)
    prediction = model.predict(np.array([10.0]), verbose=0)
    assert prediction.shape == (1, 1) and abs(prediction[0, 0] - 19.0) < 1.0
    conv = fk.Sequential([fk.Input((8, 8, 1)), fk.layers.Conv2D(2, 3), fk.layers.Flatten(),
                          fk.layers.Dense(3)])
    conv.compile(optimizer="adam", loss="mse")
    conv.fit(np.ones((4, 8, 8)), np.ones((4, 3)), verbose=0)
    assert conv.predict(np.ones((2, 8, 8)), verbose=0).shape == (2, 3)
    i = fk.Input((5,))
    functional = fk.Model(i, fk.layers.Dense(2)(i))
    assert functional.predict(np.ones((2, 5, 1)), verbose=0).shape == (2, 2)
    # as Keras: the model's input spec refuses the wrong size, the rank adjustment the rank
    wrong_size = (r"incompatible with the layer: expected shape=\(None, 5\), found "
                  r"shape=\(2, 3, 5\)")
    for bad, message in ((np.ones((2, 3, 5)), wrong_size),
                         (np.ones(5), "Invalid input shape")):
        with pytest.raises(ValueError, match=message):
            functional.predict(bad, verbose=0)
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        fk.layers.Dense(1)(np.ones(6, np.float32))
    unbuilt = fk.Sequential([fk.layers.Dense(1)])
    unbuilt.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="min_ndim=2"):
        unbuilt.fit(xs, ys, verbose=0)


def test_compile_and_data_mistakes_raise_as_keras():
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(1, activation="sigmoid")])
    x = np.random.default_rng(0).random((8, 3)).astype(np.float32)
    y = (x[:, :1] > 0.5).astype(np.float32)
    with pytest.raises(ValueError, match="compile"):  # Keras raises a ValueError here
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="Expected `metrics` argument to be a list"):
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics="accuracy")
    for metrics in ({"out": ["accuracy"]}, [["accuracy"]]):  # one output: all apply to it
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=metrics)
        assert sorted(model.fit(x, y, verbose=0).history) == ["accuracy", "loss"]
    with pytest.raises(ValueError, match="0 samples"):
        model.fit(np.zeros((0, 3)), np.zeros((0, 1)), verbose=0)
    with pytest.raises(ValueError, match="0 samples"):
        model.evaluate(np.zeros((0, 3)), np.zeros((0, 1)), verbose=0)


def test_building_a_model_draws_nothing_from_its_layers_seed_generators():
    # Keras's symbolic calls (and fit's first look at the data) leave SeedGenerator states
    # alone; fastkeras's shape probes put them back.
    class Noise(fk.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.sg = fk.random.SeedGenerator(1337)

        def call(self, x):
            return x + fk.random.normal(fk.ops.shape(x), seed=self.sg)

    i = fk.Input((3,))
    noise = Noise()
    model = fk.Model(i, fk.layers.Dense(1)(noise(i)))
    assert np.asarray(noise.sg.state).tolist() == [1337, 0]
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((2, 3), np.float32), np.zeros((2, 1), np.float32), verbose=0)
    assert np.asarray(noise.sg.state).tolist() == [1337, 1]  # the one training step


def test_integer_variables_add_float_increments_as_keras():
    # Keras: assign_add(d) is assign(self + d), so the sum is taken before the cast.
    v = fk.Variable(np.array([1, -2], np.int32))
    v.assign_add([0.9, 0.9])
    assert v.numpy().tolist() == [1, -1]
    v.assign_sub([0.5, 0.5])
    assert v.numpy().tolist() == [0, -1] and v.numpy().dtype == np.int32


def test_name_scopes_prefix_variable_and_layer_paths_as_keras():
    with fk.name_scope("outer"):
        assert fk.Variable(1.0, name="w").path == "outer/w"
        with fk.name_scope("inner"):
            assert fk.Variable(1.0, name="w").path == "outer/inner/w"
    dense = fk.layers.Dense(2, name="d")
    with fk.name_scope("blk"):
        dense.build((None, 2))
    assert dense.kernel.path == "blk/d/kernel"

    class Sub(fk.layers.Layer):
        def build(self, shape):
            with fk.name_scope("sub"):  # opened inside a build: not part of the path
                self.v = self.add_weight(shape=(1,), name="v")

        def call(self, x):
            return x * self.v

    layer = Sub(name="s")
    layer(np.ones((1, 1), np.float32))
    assert layer.v.path == "s/v"


def test_clear_errors_for_data_a_model_cannot_take():
    model = fk.Sequential([fk.Input((4,)), fk.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.ones((6, 4), np.float32)
    with pytest.raises(ValueError, match="takes one input tensor; received a dict"):
        model.fit({"a": x}, np.zeros(6), verbose=0)
    with pytest.raises(ValueError, match="use `categorical_crossentropy`") as err:
        model.fit(x, np.eye(3)[np.arange(6) % 3], verbose=0)
    assert "are incompatible" not in str(err.value)  # the shapes are equal: no clash to name
    with pytest.raises(ValueError, match="KerasTensor is symbolic"):
        fk.ops.convert_to_numpy(fk.Input((3,)))


def test_masks_reach_a_time_distributed_layer_and_merge_values_as_keras():
    # TimeDistributed gives a wrapped layer that takes a mask its timestep's part (an LSTM
    # over each sentence's words skips padded words); Multiply/Maximum/Minimum leave masked
    # entries out of their values. Expected values: Keras 3.15.
    x = np.ones((1, 2, 3, 1), np.float32)
    x[0, 0, 2] = 0  # sentence 0: the third word padded; sentence 1: all padded
    x[0, 1, :] = 0
    inputs = fk.Input((2, 3, 1))
    lstm = fk.layers.LSTM(1, kernel_initializer="ones", recurrent_initializer="ones")
    outputs = fk.layers.TimeDistributed(lstm)(fk.layers.Masking()(inputs))
    assert tuple(outputs._keras_mask.shape) == (None, 2, 3)
    model = fk.Model(inputs, outputs)
    np.testing.assert_allclose(model.predict(x, verbose=0).ravel(), [0.66702, 0.0], atol=1e-5)

    a = fk.ops.convert_to_tensor(np.ones((1, 3, 1), np.float32))
    b = fk.ops.convert_to_tensor(np.full((1, 3, 1), -2.0, np.float32))
    a._keras_mask = np.array([[True, False, False]])
    b._keras_mask = np.array([[True, True, False]])
    for layer, want in ((fk.layers.Multiply(), [-2, -2, 0]), (fk.layers.Maximum(), [1, -2, 1]),
                        (fk.layers.Minimum(), [-2, -2, 1])):
        np.testing.assert_array_equal(np.asarray(layer([a, b])).ravel(), want)
