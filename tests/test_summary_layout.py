"""`model.summary()` prints the same text as real Keras 3: column widths from the terminal
width, `line_length` and `positions`, wrapped and cut cells, `show_trainable`,
`expand_nested`, `layer_range`, the "Connected to" column only for graph models that are not
a plain chain."""

import numpy as np
import pytest

import fastkeras as fk

keras = pytest.importorskip("keras")


def mlp(lib):
    L = lib.layers
    return lib.Sequential([lib.Input((28, 28)), L.Flatten(name="flatten"),
                           L.Dense(300, activation="relu", name="dense"),
                           L.Dropout(0.2, name="dropout"),
                           L.Dense(10, activation="softmax", name="dense_1")], name="mlp")


def frozen_nested(lib):
    L = lib.layers
    inner = lib.Sequential([lib.Input((4,)), L.Dense(3, name="d1"), L.Dense(2, name="d2")],
                           name="inner")
    inner.layers[0].trainable = False
    return lib.Sequential([lib.Input((4,)), inner, L.Dense(1, name="out")], name="outer")


def wide_deep(lib):
    L = lib.layers
    input_a = lib.Input(shape=[5], name="wide_input")
    input_b = lib.Input(shape=[6], name="deep_input")
    hidden1 = L.Dense(30, activation="relu", name="hidden1")(input_b)
    hidden2 = L.Dense(30, activation="relu", name="hidden2")(hidden1)
    concat = L.Concatenate(name="concat")([input_a, hidden2])
    output = L.Dense(1, name="main_output")(concat)
    aux_output = L.Dense(1, name="aux_output")(hidden2)
    return lib.Model(inputs=[input_a, input_b], outputs=[output, aux_output], name="wide_deep")


def chain(lib):
    L = lib.layers
    inp = lib.Input((8,), name="features")
    x = L.Dense(16, activation="relu", name="hidden")(inp)
    return lib.Model(inp, L.Dense(1, name="score")(x), name="chain")


def long_names(lib):
    L = lib.layers
    i = lib.Input((4,), name="input_with_a_rather_long_name")
    a = L.Dense(3, name="a_very_long_layer_name_that_exceeds_everything")(i)
    b = L.Dense(3, name="second_dense_layer_long")(i)
    c = L.Concatenate(name="concat")([a, b, a, b, a])
    return lib.Model(i, c, name="functional_model_name")


def conv(lib):
    L = lib.layers
    return lib.Sequential([lib.Input((28, 28, 1)), L.Conv2D(8, 3, name="conv"),
                           L.MaxPooling2D(name="pool"), L.BatchNormalization(name="bn"),
                           L.GlobalAveragePooling2D(name="gap"), L.Dense(3, name="head")],
                          name="small_cnn")


def text(model, **kwargs):
    parts = []
    model.summary(print_fn=parts.append, **kwargs)
    assert len(parts) == 1
    return parts[0]


CASES = [
    (mlp, {}), (mlp, dict(show_trainable=True)), (mlp, dict(line_length=60)),
    (mlp, dict(positions=[0.5, 0.7, 1.0])), (mlp, dict(layer_range=["dense", "dropout"])),
    (frozen_nested, dict(show_trainable=True)), (frozen_nested, dict(expand_nested=True)),
    (frozen_nested, dict(expand_nested=True, show_trainable=True)),
    (wide_deep, {}), (wide_deep, dict(show_trainable=True)),
    (wide_deep, dict(line_length=130)), (chain, {}), (long_names, {}),
    (long_names, dict(show_trainable=True)), (conv, dict(show_trainable=True)),
]


@pytest.mark.parametrize("columns", ["80", "200"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_summary_text_equals_keras(case, columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", columns)
    build, kwargs = CASES[case]
    theirs = text(build(keras), **kwargs)
    ours = text(build(fk), **kwargs)
    assert ours == theirs, "\n" + ours + "\n---- Keras:\n" + theirs


def test_compiled_model_lists_optimizer_params(monkeypatch, rng):
    monkeypatch.setenv("COLUMNS", "80")
    texts = []
    for lib in (keras, fk):
        model = chain(lib)
        model.compile("adam", "mse")
        model.fit(rng.normal(size=(4, 8)), rng.normal(size=(4, 1)), verbose=0)
        texts.append(text(model))
    assert texts[1] == texts[0]
    assert "Optimizer params" in texts[1]


def test_summary_errors_name_the_argument(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    model = mlp(fk)
    with pytest.raises(ValueError, match="layer_range must be a list or tuple of length 2"):
        model.summary(layer_range=["dense"])
    with pytest.raises(ValueError, match="do not match the layer names"):
        model.summary(layer_range=["nope", "dense"])
    with pytest.raises(ValueError, match="Insufficient console width"):
        model.summary(line_length=8)


def test_default_summary_goes_to_stdout(capsys):
    mlp(fk).summary()
    out = capsys.readouterr().out
    assert out.startswith('Model: "mlp"') and out.endswith("\n")
    assert np.char.count(out, "\n") > 10
