"""Parity with real Keras 3.15: training trajectories and saved weights made by Keras
(../shared/fixtures/keras, described in MANIFEST.json) must be reproduced.

Trajectories: a Dense(7, tanh) -> Dense(k, softmax/sigmoid/linear) network on 40 samples,
batch 8, 2 epochs, shuffle=False. Every logged per-batch loss (Keras's running mean over the
epoch) and every final weight must match to 1e-4 relative / 1e-5 absolute.
"""

import json
import os

import numpy as np
import pytest

import fastkeras as keras
from keras_fixtures import FIXTURES

# Outside CI a checkout without ../shared skips these; in CI they must run (and fail if the
# fixtures are missing).
pytestmark = pytest.mark.skipif(not FIXTURES.exists() and not os.environ.get("CI"),
                                reason="../shared/fixtures/keras not found")

RTOL, ATOL = 1e-4, 1e-5


def manifest():
    return json.loads((FIXTURES / "MANIFEST.json").read_text())


def trajectory_names():
    if not FIXTURES.exists():
        return ["<fixtures missing>"]
    return sorted(manifest()["trajectories"])


OPTIMIZER_CLASSES = {"sgd": "SGD", "adam": "Adam", "rm_sprop": "RMSprop", "adadelta": "Adadelta",
                     "adagrad": "Adagrad", "nadam": "Nadam", "adamax": "Adamax", "adamw": "AdamW"}


def make_optimizer(config):
    prefix = config["name"].rstrip("0123456789").rstrip("_")
    cls = getattr(keras.optimizers, OPTIMIZER_CLASSES[prefix])
    kwargs = {k: v for k, v in config.items() if k != "name"}
    return cls(**kwargs)


class BatchLosses(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def output_activation(loss, units):
    if "categorical" in loss:
        return "softmax"
    if loss == "binary_crossentropy":
        return "sigmoid"
    return None


@pytest.mark.parametrize("name", trajectory_names())
def test_training_trajectory_matches_keras(name):
    spec = manifest()["trajectories"][name]
    data = np.load(FIXTURES / f"{name}_traj.npz")
    x, y = data["x"], data["y"]
    units = data["w0_2"].shape[1]
    model = keras.Sequential([
        keras.layers.Dense(7, activation="tanh", input_shape=(x.shape[1],)),
        keras.layers.Dense(units, activation=output_activation(spec["loss"], units)),
    ])
    model.set_weights([data[f"w0_{i}"] for i in range(4)])
    model.compile(loss=spec["loss"], optimizer=make_optimizer(spec["optimizer"]))
    fit_kwargs = {}
    if "class_weight" in spec["fit_kwargs"]:
        fit_kwargs["class_weight"] = eval(spec["fit_kwargs"]["class_weight"])  # a dict literal
    recorder = BatchLosses()
    history = model.fit(x, y, batch_size=spec["batch_size"], epochs=spec["epochs"], shuffle=False,
                        verbose=0, callbacks=[recorder], **fit_kwargs)
    np.testing.assert_allclose(recorder.losses, data["batch_losses"], rtol=RTOL, atol=ATOL,
                               err_msg=f"{name}: per-batch logged losses differ from Keras")
    np.testing.assert_allclose(history.history["loss"], spec["epoch_losses"], rtol=RTOL, atol=ATOL)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, data[f"w1_{i}"], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{name}: final weight {i} differs from Keras")


def notes_mlp():
    return keras.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def test_mlp_adam_weights_file_reproduces_keras_predictions():
    io = np.load(FIXTURES / "mlp_adam_io.npz")
    model = notes_mlp()
    model.load_weights(FIXTURES / "mlp_adam.weights.h5")
    np.testing.assert_allclose(model.predict(io["x0"], verbose=0), io["y0"], rtol=1e-5, atol=1e-5)
    assert model.count_params() == manifest()["models"]["mlp_adam"]["summary_params"]


def test_weights_round_trip_and_mismatch_error(tmp_path):
    model = notes_mlp()
    model.load_weights(FIXTURES / "mlp_adam.weights.h5")
    path = tmp_path / "copy.weights.h5"
    model.save_weights(path)
    other = notes_mlp()
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrong = keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]),
                              keras.layers.Dense(200, activation="relu"),
                              keras.layers.Dense(100, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    before = [w.copy() for w in wrong.get_weights()]
    with pytest.raises(ValueError, match=r"shape \(784, 200\).*\(784, 300\)"):
        wrong.load_weights(FIXTURES / "mlp_adam.weights.h5")
    for a, b in zip(before, wrong.get_weights()):  # nothing half-loaded
        np.testing.assert_array_equal(a, b)
