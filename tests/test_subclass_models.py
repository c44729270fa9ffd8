"""Subclassed models and custom layers: tracking, building on first call, fit/evaluate/predict/
summary, save_weights/load_weights; the same model written functionally gives the same losses
and updates; finite-difference gradients through merges, shared layers and nested models."""

import numpy as np
import pytest

import fastkeras as keras
from fastkeras.backend import GradientTape, gradients

L = keras.layers



def data(n=48):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = (x[:, :3].sum(1, keepdims=True) + 0.1).astype(np.float32)
    return x[:, :5], x[:, 2:], y


class WideAndDeepModel(keras.Model):
    """The notes' subclassed wide & deep model."""

    def __init__(self, units=30, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.hidden1 = keras.layers.Dense(units, activation=activation)
        self.hidden2 = keras.layers.Dense(units, activation=activation)
        self.main_output = keras.layers.Dense(1)
        self.aux_output = keras.layers.Dense(1)

    def call(self, inputs, training=None):
        input_A, input_B = inputs
        hidden1 = self.hidden1(input_B)
        hidden2 = self.hidden2(hidden1)
        concat = keras.layers.concatenate([input_A, hidden2])
        main_output = self.main_output(concat)
        aux_output = self.aux_output(hidden2)
        return main_output, aux_output


class ScaledResidual(keras.layers.Layer):
    """A custom layer computing with fastkeras.ops: x + alpha * tanh(x @ W + b) / (1 + |x|)."""

    def __init__(self, alpha=0.5, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def build(self, input_shape):
        d = input_shape[-1]
        self.w = self.add_weight(name="w", shape=(d, d), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(d,), initializer="zeros")

    def call(self, inputs):
        ops = keras.ops
        z = ops.tanh(ops.add(ops.matmul(inputs, self.w), self.b))
        scale = ops.divide(1.0, ops.add(1.0, ops.abs(inputs)))
        return ops.add(inputs, ops.multiply(self.alpha, ops.multiply(z, scale)))

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


def test_subclassed_wide_and_deep_trains_evaluates_predicts_and_summarizes():
    xa, xb, y = data()
    model = WideAndDeepModel(30, activation="relu", name="my_cool_model")
    assert not model.built
    model.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer="sgd")
    history = model.fit((xa, xb), (y, y), epochs=3, verbose=0,
                        validation_data=((xa, xb), (y, y)))
    assert model.built and len(model.layers) == 4 and len(model.weights) == 8
    assert history.history["loss"][-1] < history.history["loss"][0]
    # one "mse" for both outputs: Keras logs a single colliding mse_loss, we suffix the second
    assert "val_mse_loss" in history.history and "val_mse_loss_1" in history.history
    total, main, aux = model.evaluate((xa, xb), (y, y), verbose=0)
    assert total == pytest.approx(0.9 * main + 0.1 * aux, rel=1e-5)
    y_main, y_aux = model.predict((xa, xb), verbose=0)
    assert y_main.shape == y_aux.shape == (48, 1)
    lines = []
    model.summary(print_fn=lines.append)
    assert 'Model: "my_cool_model"' in lines[0] and "Trainable params: 1,207" in lines[0]


def test_layers_in_attributes_lists_and_dicts_are_tracked(tmp_path):
    class Tracked(keras.Model):
        def __init__(self):
            super().__init__()
            self.blocks = [L.Dense(4, activation="relu"), L.Dense(4, activation="relu")]
            self.heads = {"out": L.Dense(1)}
            self.residual = ScaledResidual(0.3)

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return self.heads["out"](self.residual(x))

    xa, _, y = data()
    model = Tracked()
    model(xa[:1])
    assert len(model.layers) == 4 and len(model.trainable_weights) == 8
    model.compile(loss="mse", optimizer="adam")
    model.fit(xa, y, epochs=2, verbose=0)
    before = model.predict(xa, verbose=0)
    model.save_weights(tmp_path / "t.weights.h5")
    other = Tracked()
    other(xa[:1])
    assert not np.allclose(other.predict(xa, verbose=0), before)
    other.load_weights(tmp_path / "t.weights.h5")
    np.testing.assert_allclose(other.predict(xa, verbose=0), before, rtol=1e-6)


def test_custom_layer_in_a_functional_model_round_trips_its_config():
    inp = keras.Input(shape=(5,))
    out = L.Dense(1)(ScaledResidual(0.25, name="res")(inp))
    model = keras.Model(inp, out)
    config = model.get_config()
    assert config["layers"][1]["config"]["alpha"] == 0.25
    from fastkeras.models.functional import Functional
    rebuilt = Functional.from_config(config, custom_objects={"ScaledResidual": ScaledResidual})
    rebuilt.set_weights(model.get_weights())
    xa, _, _ = data()
    np.testing.assert_allclose(rebuilt.predict(xa, verbose=0), model.predict(xa, verbose=0),
                               rtol=1e-6)


def functional_wide_and_deep():
    input_A = keras.Input(shape=[5], name="wide_input")
    input_B = keras.Input(shape=[6], name="deep_input")
    hidden1 = L.Dense(30, activation="relu")(input_B)
    hidden2 = L.Dense(30, activation="relu")(hidden1)
    concat = L.concatenate([input_A, hidden2])
    output = L.Dense(1, name="main_output")(concat)
    aux_output = L.Dense(1, name="aux_output")(hidden2)
    return keras.Model(inputs=[input_A, input_B], outputs=[output, aux_output])


def test_subclassed_and_functional_models_give_the_same_losses_and_updates():
    xa, xb, y = data()
    functional = functional_wide_and_deep()
    subclassed = WideAndDeepModel()
    subclassed((xa[:1], xb[:1]))
    subclassed.set_weights(functional.get_weights())
    for model in (functional, subclassed):
        model.compile(loss=["mse", "mae"], loss_weights=[0.9, 0.1],
                      optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    h_f = functional.fit((xa, xb), (y, y), epochs=2, batch_size=8, shuffle=False, verbose=0)
    h_s = subclassed.fit((xa, xb), (y, y), epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_f.history["loss"], h_s.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(h_f.history["main_output_loss"], h_s.history["mse_loss"],
                               rtol=1e-6)
    for a, b in zip(functional.get_weights(), subclassed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# --- finite-difference gradients of whole models -----------------------------------------

def check_model_gradients(model, x, y, eps=1e-3):
    """d loss / d every weight by the tape vs. central differences (float32 weights)."""
    def loss_value():
        out = model(x)
        outs = out if isinstance(out, (list, tuple)) else [out]
        return sum(float(np.mean((o.numpy().astype(np.float64) - y) ** 2)) for o in outs)

    with GradientTape():
        out = model(x, training=True)
        outs = out if isinstance(out, (list, tuple)) else [out]
        loss = None
        for o in outs:
            term = keras.ops.mean(keras.ops.square(keras.ops.subtract(o, y)))
            loss = term if loss is None else keras.ops.add(loss, term)
    grads = gradients(loss, model.trainable_weights)
    rng = np.random.default_rng(0)
    for v, g in zip(model.trainable_weights, grads):
        base = v.numpy().copy()
        for _ in range(3):
            idx = tuple(rng.integers(0, d) for d in base.shape)
            shifted = base.copy()
            shifted[idx] += eps
            v.assign(shifted)
            up = loss_value()
            shifted[idx] -= 2 * eps
            v.assign(shifted)
            down = loss_value()
            v.assign(base)
            assert g[idx] == pytest.approx((up - down) / (2 * eps), rel=2e-2, abs=2e-3), v.path


def test_gradients_through_merges_shared_layers_nested_models_and_custom_ops():
    xa, xb, y = data(6)
    a = keras.Input(shape=(5,))
    b = keras.Input(shape=(6,))
    inner_in = keras.Input(shape=(4,))
    inner = keras.Model(inner_in, ScaledResidual(0.7)(L.Dense(4, activation="tanh")(inner_in)))
    shared = L.Dense(4, activation="tanh")
    left = inner(shared(L.Dense(5)(b)))
    right = inner(shared(a))
    merged = L.concatenate([L.add([left, right]), L.multiply([left, right]),
                            L.subtract([left, right]), L.average([left, right]),
                            L.maximum([left, right]), L.minimum([left, right])])
    model = keras.Model([a, b], [L.Dense(1)(merged), L.Dense(1)(L.Dot(axes=1)([left, right]))])
    check_model_gradients(model, [xa, xb], y)


def test_gradients_through_a_subclassed_model():
    xa, xb, y = data(6)
    model = WideAndDeepModel(units=7, activation="tanh")
    model((xa[:1], xb[:1]))
    check_model_gradients(model, (xa, xb), y)
