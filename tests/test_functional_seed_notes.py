"""The Functional-API snippets of the notes in ../shared/seeds, run with
`import fastkeras as keras`. Snippets are extracted from the note files when present (numbered
lines are un-numbered) and restated here otherwise; the data is small and synthetic. Snippets
that are wrong in Keras itself (a typo'd name, `Concatenate([a, b])` used as a tensor) must fail
with a clear error, as they do in Keras."""

import re
from pathlib import Path

import numpy as np
import pytest

import fastkeras as keras

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

WIDE_AND_DEEP = """\
input_A = keras.layers.Input(shape=[5], name="wide_input")
input_B = keras.layers.Input(shape=[6], name="deep_input")
hidden1 = keras.layers.Dense(30, activation="relu")(input_B)
hidden2 = keras.layers.Dense(30, activation="relu")(hidden1)
concat = keras.layers.concatenate([input_A, hidden2])
output = keras.layers.Dense(1, name="output")(concat)
model = keras.Model(inputs=[input_A, input_B], outputs=[output])
"""

MULTI_OUTPUT = """\
output = keras.layers.Dense(1, name="main_output")(concat)
aux_output = keras.layers.Dense(1, name="aux_output")(hidden2)
model = keras.Model(inputs=[input_A, input_B], outputs=[output, aux_output])
"""


def from_seed(pattern, fallback):
    """The numbered snippet in a seed note matching `pattern`, without its line numbers."""
    for path in sorted(SEEDS.glob("*.txt")) if SEEDS.exists() else []:
        text = path.read_text(errors="replace")
        lines = [re.sub(r"^\d+\.\s", "", line) for line in text.splitlines()
                 if re.match(r"^\d+\.\s+\w+ = keras", line)]
        snippet = "\n".join(lines) + "\n"
        if re.search(pattern, snippet):
            return snippet
    return fallback


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(64, 5)), rng.normal(size=(64, 6))
    y = (xa[:, :1] + xb[:, :1] ** 2).astype("float32")
    return xa[:48], xb[:48], y[:48], xa[48:], xb[48:], y[48:]


def run(code, ns=None):
    ns = {"keras": keras} if ns is None else ns
    exec(compile(code, "<seed snippet>", "exec"), ns)  # noqa: S102  (the notes' own code)
    return ns


def test_wide_and_deep_snippet_trains_with_a_pair_of_inputs(data):
    X_train_A, X_train_B, y_train, X_valid_A, X_valid_B, y_valid = data
    ns = run(from_seed(r"wide_input.*\n.*deep_input", WIDE_AND_DEEP))
    model = ns["model"]
    lines = []
    model.summary(print_fn=lines.append)
    assert "concatenate" in "\n".join(lines)
    model.compile(loss="mse", optimizer="sgd")
    ns.update(X_train_A=X_train_A, X_train_B=X_train_B, y_train=y_train,
              X_valid_A=X_valid_A, X_valid_B=X_valid_B, y_valid=y_valid)
    run("history = model.fit((X_train_A, X_train_B), y_train, epochs=2, verbose=0,\n"
        "                    validation_data=((X_valid_A, X_valid_B), y_valid))\n", ns)
    assert set(ns["history"].history) == {"loss", "val_loss"}
    assert model.predict((X_valid_A, X_valid_B), verbose=0).shape == (16, 1)


def test_multi_output_snippet_with_weighted_losses(data, tmp_path, monkeypatch):
    X_train_A, X_train_B, y_train, X_valid_A, X_valid_B, y_valid = data
    ns = run(from_seed(r"wide_input.*\n.*deep_input", WIDE_AND_DEEP))
    run(MULTI_OUTPUT, ns)
    ns.update(X_train_A=X_train_A, X_train_B=X_train_B, y_train=y_train,
              X_valid_A=X_valid_A, X_valid_B=X_valid_B, y_valid=y_valid)
    run('model.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1], optimizer="sgd")\n'
        "history = model.fit([X_train_A, X_train_B], [y_train, y_train], epochs=2, verbose=0,\n"
        "                    validation_data=([X_valid_A, X_valid_B], [y_valid, y_valid]))\n"
        "total_loss, main_loss, aux_loss = model.evaluate(\n"
        "    [X_valid_A, X_valid_B], [y_valid, y_valid], verbose=0)\n"
        "y_pred_main, y_pred_aux = model.predict([X_valid_A[:3], X_valid_B[:3]], verbose=0)\n",
        ns)
    assert "val_main_output_loss" in ns["history"].history
    np.testing.assert_allclose(ns["total_loss"], 0.9 * ns["main_loss"] + 0.1 * ns["aux_loss"],
                               rtol=1e-5)
    assert ns["y_pred_main"].shape == ns["y_pred_aux"].shape == (3, 1)
    monkeypatch.chdir(tmp_path)
    run('model.save("my_keras_model.h5")\n'
        'model = keras.models.load_model("my_keras_model.h5")\n', ns)
    np.testing.assert_allclose(ns["model"].predict([X_valid_A[:3], X_valid_B[:3]],
                                                   verbose=0)[0], ns["y_pred_main"], rtol=1e-6)


def test_input_plugged_twice_snippet(data):
    X_train = np.concatenate(data[:2], axis=1)[:, :8]
    code = ("input_ = keras.layers.Input(shape=X_train.shape[1:])\n"
            "hidden1 = keras.layers.Dense(30, activation='relu')(input_)\n"
            "hidden2 = keras.layers.Dense(30, activation='relu')(hidden1)\n"
            "concat = keras.layers.Concatenate()([input_, hidden2])\n"
            "output = keras.layers.Dense(1)(concat)\n")
    ns = run(code, {"keras": keras, "X_train": X_train})
    # the note writes `inputs=[intput_]`, a NameError in any Keras; with the name fixed:
    with pytest.raises(NameError, match="intput_"):
        run("model = keras.Model(inputs=[intput_], outputs=[output])\n", ns)
    run("model = keras.Model(inputs=[input_], outputs=[output])\n", ns)
    assert ns["model"].predict(X_train[:2], verbose=0).shape == (2, 1)


def test_concatenate_used_as_a_tensor_fails_clearly_as_in_keras():
    code = ('input_A = keras.layers.Input(shape=[5], name="wide_input")\n'
            'hidden1 = keras.layers.Dense(30, activation="relu")(input_A)\n'
            "hidden2 = keras.layers.Dense(30, activation='relu')(hidden1)\n"
            "concat = keras.layers.Concatenate([input_A, hidden2])\n"
            'output = keras.layers.Dense(1, name="output")(concat)\n')
    with pytest.raises(ValueError, match=r"Layer 'output' \(Dense\) was called on a layer "
                                         r"object.*Concatenate\(\)\(\[a, b\]\)"):
        run(code)
