"""plot_model / model_to_dot through pydot and Graphviz, and the errors when either is missing;
the functional summary's "Connected to" column."""

import sys

import numpy as np
import pytest

import fastkeras as keras
from fastkeras.utils import model_visualization

L = keras.layers



def wide_deep():
    input_a = keras.Input(shape=[5], name="wide_input")
    input_b = keras.Input(shape=[6], name="deep_input")
    hidden1 = L.Dense(30, activation="relu")(input_b)
    hidden2 = L.Dense(30, activation="relu")(hidden1)
    concat = L.concatenate([input_a, hidden2])
    output = L.Dense(1, name="main_output")(concat)
    aux_output = L.Dense(1, name="aux_output")(hidden2)
    return keras.Model(inputs=[input_a, input_b], outputs=[output, aux_output])


def test_summary_has_keras_connected_to_column():
    lines = []
    wide_deep().summary(print_fn=lines.append)
    text = "\n".join(lines)
    header = text.splitlines()[2]
    assert [h.strip() for h in header.strip("┃").split("┃")] == [
        "Layer (type)", "Output Shape", "Param #", "Connected to"]
    rows, cells = {}, None
    for line in text.splitlines():  # a row's cells wrap onto lines until the next rule
        if line.startswith("│"):
            parts = [c.strip() for c in line.strip("│").split("│")]
            cells = parts if cells is None else [f"{a} {b}".strip()
                                                 for a, b in zip(cells, parts)]
        elif cells is not None:
            rows[cells[0]] = cells
            cells = None
    assert rows["deep_input (InputLayer)"][3] == "-"
    assert rows["dense (Dense)"][1:] == ["(None, 30)", "210", "deep_input[0][0]"]
    assert rows["concatenate (Concatenate)"][3] == "wide_input[0][0], dense_1[0][0]"
    assert rows["aux_output (Dense)"][3] == "dense_1[0][0]"
    assert " Total params: 1,207 (4.71 KB)" in lines[0].splitlines()


def test_summary_counts_calls_of_shared_layers():
    x = keras.Input(shape=(4,), name="x")
    shared = L.Dense(4, name="shared")
    model = keras.Model(x, L.add([shared(x), shared(shared(x))]))
    lines = []
    model.summary(print_fn=lines.append)
    cells = " ".join(line.strip("│").split("│")[3].strip()
                     for line in lines[0].splitlines() if line.startswith("│"))
    assert "x[0][0], x[0][0], shared[1][0]" in cells  # Keras numbers calls in call order
    assert "shared[0][0], shared[2][0]" in cells


def test_plot_model_writes_png_and_dot(tmp_path):
    pytest.importorskip("pydot")
    if not model_visualization.check_graphviz():
        pytest.skip("Graphviz `dot` not installed")
    model = wide_deep()
    out = tmp_path / "model.png"
    keras.utils.plot_model(model, to_file=out, show_shapes=True, show_layer_names=True,
                           show_dtype=True, show_layer_activations=True, show_trainable=True)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dot = keras.utils.model_to_dot(model, show_shapes=True, show_layer_names=True)
    text = dot.to_string()
    assert "<b>concatenate</b> (Concatenate)" in text
    assert "Input shape: <b>[(None, 5), (None, 30)]</b>" in text
    assert len(dot.get_edges()) == 6  # deep->dense->dense_1->{concat, aux}, wide->concat, ->main
    keras.utils.plot_model(model, to_file=tmp_path / "model.dot", rankdir="LR")
    assert "rankdir=LR" in (tmp_path / "model.dot").read_text()
    seq = keras.Sequential([L.Dense(3, input_shape=(4,)), L.Dense(1)])
    keras.utils.plot_model(seq, to_file=tmp_path / "seq.svg", show_shapes=True)
    assert b"<svg" in (tmp_path / "seq.svg").read_bytes()


def test_missing_pydot_is_a_clear_import_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pydot", None)  # `import pydot` now raises ImportError
    with pytest.raises(ImportError, match=r"install pydot"):
        keras.utils.plot_model(wide_deep(), to_file=tmp_path / "m.png")
    with pytest.raises(ImportError, match=r"install pydot"):
        keras.utils.model_to_dot(wide_deep())


def test_missing_graphviz_is_a_clear_import_error(monkeypatch, tmp_path):
    pydot = pytest.importorskip("pydot")

    def no_dot(*args, **kwargs):
        raise FileNotFoundError('"dot" not found in path.')

    monkeypatch.setattr(pydot.Dot, "create", no_dot)
    with pytest.raises(ImportError, match=r"install Graphviz"):
        keras.utils.plot_model(wide_deep(), to_file=tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()


def test_bad_arguments_and_subclassed_models():
    pytest.importorskip("pydot")
    with pytest.raises(ValueError, match="rankdir"):
        keras.utils.model_to_dot(wide_deep(), rankdir="XY")

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(1)

        def call(self, x):
            return self.d(x)

    model = Sub()
    model(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="subclassed"):
        keras.utils.model_to_dot(model)
