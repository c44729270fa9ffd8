"""The tape-free step for Flatten/Dense chains (trainers/dense_chain.py) must give exactly what
the general step gives: every logged number and every weight, bit for bit; models it does not
cover must go through the general step."""

import numpy as np
import pytest

import fastkeras as keras
from fastkeras.trainers import dense_chain


@pytest.fixture
def used(monkeypatch):
    """Counts the steps the chain took (returned a result) rather than handed back."""
    counts = {"train": 0, "test": 0, "predict": 0}
    train, test = dense_chain.DenseChain.train_step, dense_chain.DenseChain.test_step
    predict = dense_chain.DenseChain.predict_step

    def counted_train(self, *a):
        out = train(self, *a)
        counts["train"] += out is not None
        return out

    def counted_test(self, *a):
        out = test(self, *a)
        counts["test"] += out is not None
        return out

    def counted_predict(self, *a):
        out = predict(self, *a)
        counts["predict"] += out is not None
        return out

    monkeypatch.setattr(dense_chain.DenseChain, "predict_step", counted_predict)
    monkeypatch.setattr(dense_chain.DenseChain, "train_step", counted_train)
    monkeypatch.setattr(dense_chain.DenseChain, "test_step", counted_test)
    return counts


def _data(n=150, shape=(6, 5), classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    y = rng.integers(0, classes, size=n)
    return x, y


def _run(build, compile_kwargs, x, y, fast, fit_kwargs=None):
    dense_chain.enabled = fast
    try:
        keras.utils.set_random_seed(3)
        model = build()
        model.compile(**(compile_kwargs() if callable(compile_kwargs) else compile_kwargs))
        h = model.fit(x, y, batch_size=16, epochs=2, verbose=0, **(fit_kwargs or {}))
        ev = model.evaluate(x[:40], y[:40], verbose=0)
        predictions = (model.predict(x[:7], verbose=0),
                       model.predict(x[:40], batch_size=16, verbose=0))
        return h.history, model.get_weights(), ev, predictions
    finally:
        dense_chain.enabled = True


def _assert_same(a, b):
    hist_a, w_a, ev_a, p_a = a
    hist_b, w_b, ev_b, p_b = b
    assert hist_a == hist_b
    assert ev_a == ev_b
    assert len(w_a) == len(w_b)
    for u, v in zip(w_a, w_b):
        np.testing.assert_array_equal(u, v)
    for u, v in zip(p_a, p_b):
        np.testing.assert_array_equal(u, v)


def _mlp(last_units=4, last_activation="softmax", middle="relu", use_bias=True,
         input_shape=(6, 5)):
    def build():
        return keras.Sequential([
            keras.layers.Flatten(input_shape=input_shape),
            keras.layers.Dense(13, activation=middle),
            keras.layers.Dense(7, activation="relu", use_bias=use_bias),
            keras.layers.Dense(last_units, activation=last_activation),
        ])
    return build


CASES = {
    "sgd-sparse-ce": (_mlp(), lambda: dict(optimizer=keras.optimizers.SGD(0.05),
                                   loss="sparse_categorical_crossentropy",
                                   metrics=["accuracy"]), "sparse"),
    "nesterov-ce": (_mlp(use_bias=False),
                    lambda: dict(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                         loss="categorical_crossentropy", metrics=["accuracy"]), "onehot"),
    "adam-bce": (_mlp(1, "sigmoid"), dict(optimizer="adam", loss="binary_crossentropy",
                                          metrics=["accuracy"]), "binary"),
    "rmsprop-mse": (_mlp(1, None, middle=None), dict(optimizer="rmsprop", loss="mse",
                                                     metrics=["mae"]), "regression"),
    "logits": (_mlp(4, None), lambda: dict(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"]), "sparse"),
    "tanh-middle-adam": (_mlp(middle="tanh"), dict(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
        "sparse"),
    "mse-on-softmax": (_mlp(), dict(optimizer="adam", loss="mse", metrics=["accuracy"]),
                       "onehot"),
    "sigmoid-middle-tanh-output-sgd": (_mlp(1, "tanh", middle="sigmoid"), lambda: dict(
        optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"]), "regression"),
    "elu-gelu": (_mlp(1, "gelu", middle="elu"), dict(optimizer="nadam", loss="huber"),
                 "regression"),
    "schedule": (_mlp(), lambda: dict(
        optimizer=keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(
            0.1, decay_steps=3, decay_rate=0.5)),
        loss="sparse_categorical_crossentropy", metrics=["accuracy"]), "sparse"),
}


def _labels(kind, y, x):
    if kind == "onehot":
        return keras.utils.to_categorical(y, 4)
    if kind == "binary":
        return (y % 2).astype(np.float32)
    if kind == "regression":
        return x.reshape(len(x), -1)[:, :3].sum(axis=1, keepdims=True)
    return y


@pytest.mark.parametrize("case", sorted(CASES))
def test_chain_gives_the_general_steps_numbers(case, used):
    build, compile_kwargs, kind = CASES[case]
    x, y = _data()
    y = _labels(kind, y, x)
    general = _run(build, compile_kwargs, x, y, fast=False)
    assert used["train"] == 0
    fast = _run(build, compile_kwargs, x, y, fast=True,
                fit_kwargs={"validation_data": (x[:30], y[:30])})
    assert used["train"] == 2 * 10  # 150 samples in batches of 16, two epochs
    assert used["test"] > 0
    assert used["predict"] == 1 + 3  # one batch of 7, then 40 in batches of 16
    general_val = _run(build, compile_kwargs, x, y, fast=False,
                       fit_kwargs={"validation_data": (x[:30], y[:30])})
    _assert_same(general_val, fast)
    assert general[0]["loss"] == fast[0]["loss"]


def test_two_dimensional_input_without_flatten_and_integer_pixels(used):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, size=(100, 12)).astype(np.uint8)
    y = rng.integers(0, 3, size=100)

    def build():
        return keras.Sequential([keras.Input((12,)), keras.layers.Dense(8, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])
    def kwargs():
        return dict(optimizer=keras.optimizers.SGD(1e-4),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    general = _run(build, kwargs, x, y, fast=False)
    fast = _run(build, kwargs, x, y, fast=True)
    assert used["train"] == 2 * 7
    _assert_same(general, fast)


@pytest.mark.parametrize("variant", ["dropout", "regularizer", "frozen", "class-weight",
                                     "composed-activation"])
def test_what_the_chain_does_not_cover_goes_through_the_general_step(variant, used):
    x, y = _data()
    layers = [keras.layers.Flatten(input_shape=(6, 5)), keras.layers.Dense(9, activation="relu"),
              keras.layers.Dense(4, activation="softmax")]
    loss, fit_kwargs, labels = "sparse_categorical_crossentropy", {}, y
    if variant == "dropout":
        layers.insert(2, keras.layers.Dropout(0.3))
    elif variant == "regularizer":
        layers[1] = keras.layers.Dense(9, activation="relu", kernel_regularizer="l2")
    elif variant == "frozen":
        layers[1].trainable = False
    elif variant == "class-weight":
        fit_kwargs = {"class_weight": {0: 1.0, 1: 2.0, 2: 0.5, 3: 1.0}}

    def build():
        if variant == "composed-activation":  # two ops: the chain takes one op's backward
            return keras.Sequential([
                keras.layers.Flatten(input_shape=(6, 5)),
                keras.layers.Dense(9, activation=lambda t: keras.ops.tanh(t) * 2.0),
                keras.layers.Dense(4, activation="softmax")])
        return keras.Sequential([type(layer).from_config(layer.get_config()) for layer in layers])

    kwargs = dict(optimizer="adam", loss=loss, metrics=["accuracy"])
    general = _run(build, kwargs, x, labels, fast=False, fit_kwargs=fit_kwargs)
    fast = _run(build, kwargs, x, labels, fast=True, fit_kwargs=fit_kwargs)
    assert used["train"] == 0
    _assert_same(general, fast)


def test_a_wrong_label_shape_still_gets_the_models_error():
    x, y = _data()
    model = _mlp()()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"Shapes \(None, 1\) and \(None, 4\) are incompatible"):
        model.fit(x, y.reshape(-1, 1), verbose=0)


def test_fashion_mlp_shape_trains_on_the_chain(used):
    """The notes' 784-300-100-10 model takes the chain from the first step."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, size=64)
    model = keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]),
                              keras.layers.Dense(300, activation="relu"),
                              keras.layers.Dense(100, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert used["train"] == 2
