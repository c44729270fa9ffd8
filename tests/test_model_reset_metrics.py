"""Keras 3's metric structure on a model: `model.metrics` is the "loss" tracker, the
"compile_metrics" container and the model's own metric attributes; `metrics_names`,
`get_metrics_result`, `evaluate`'s list order, `reset_metrics` and the custom-`train_step`
pattern of Keras's guide that updates `self.metrics` by name, compared with real Keras."""

import numpy as np
import pytest

import fastkeras as fk


def data(rng, n=16):
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)


def classifier(lib, **compile_args):
    model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", **compile_args)
    return model


def names(metrics):
    return [m.name for m in metrics]


@pytest.mark.parametrize("compile_args", [dict(), dict(metrics=[]),
                                          dict(metrics=["accuracy", "auc"]),
                                          dict(metrics=["mae"], weighted_metrics=["mse"])])
def test_metrics_structure_matches_keras(compile_args, rng):
    keras = pytest.importorskip("keras")
    x, y = data(rng)
    km, fm = classifier(keras, **compile_args), classifier(fk, **compile_args)
    assert fm.metrics_names == km.metrics_names
    km.fit(x, y, verbose=0)
    fm.fit(x, y, verbose=0)
    assert fm.metrics_names == km.metrics_names
    assert names(fm.metrics) == names(km.metrics)
    if len(km.metrics) > 1:
        assert names(fm.metrics[1].metrics) == names(km.metrics[1].metrics)
    fm.set_weights(km.get_weights())
    k_list = km.evaluate(x, y, verbose=0)
    f_list = fm.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(f_list, k_list, rtol=1e-5)
    assert set(fm.get_metrics_result()) == set(km.get_metrics_result())
    np.testing.assert_allclose(float(fm.metrics[0].result()), k_list[0] if
                               isinstance(k_list, list) else k_list, rtol=1e-5)


def test_reset_metrics_clears_every_metric(rng):
    x, y = data(rng)
    model = classifier(fk, metrics=["accuracy", fk.metrics.AUC()])
    model.evaluate(x, y, verbose=0)
    results = model.get_metrics_result()
    assert results["loss"] > 0 and results["accuracy"] > 0
    model.reset_metrics()
    assert all(float(v) == 0 for v in model.get_metrics_result().values())


def test_the_loops_call_an_overridden_reset_metrics(rng):
    calls = []

    class Counting(fk.Sequential):
        def reset_metrics(self):
            calls.append(1)
            super().reset_metrics()

    model = Counting([fk.Input((2,)), fk.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    model.fit(rng.normal(size=(8, 2)), rng.normal(size=(8, 1)), epochs=3, verbose=0)
    assert len(calls) >= 3


def test_guide_train_step_updating_self_metrics_by_name(rng):
    """Keras 3's "customizing fit" guide: the step updates every entry of `self.metrics`,
    the loss tracker by its name, and returns their results; fit logs loss and mae."""

    class CustomModel(fk.Model):
        def __init__(self):
            super().__init__()
            self.dense = fk.layers.Dense(1, kernel_initializer="ones")

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, y = data
            with fk.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    class Plain(fk.Model):
        def __init__(self):
            super().__init__()
            self.dense = fk.layers.Dense(1, kernel_initializer="ones")

        def call(self, x):
            return self.dense(x)

    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    custom, plain = CustomModel(), Plain()
    for m in (custom, plain):
        m.compile(optimizer=fk.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    h_custom = custom.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    h_plain = plain.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert set(h_custom.history) == {"loss", "mae"}
    # The tracker's mean weighs each batch once; with equal batches that is fit's mean.
    np.testing.assert_allclose(h_custom.history["loss"], h_plain.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(h_custom.history["mae"], h_plain.history["mae"], rtol=1e-5)


def test_metric_attributes_are_tracked_and_logged(rng):
    class WithTracker(fk.Sequential):
        def __init__(self, layers):
            super().__init__(layers)
            self.extra = fk.metrics.Mean(name="extra")

    model = WithTracker([fk.Input((4,)), fk.layers.Dense(1)])
    assert model.metrics_names == ["extra"]
    model.compile("sgd", "mse", metrics=["mae"])
    assert model.metrics_names == ["loss", "compile_metrics", "extra"]
    x, y = data(rng)
    history = model.fit(x, y, verbose=0)
    assert set(history.history) == {"loss", "mae", "extra"}
    assert len(model.evaluate(x, y, verbose=0)) == 3
