"""Training functional models with several inputs and outputs: compile's losses, weights and
metrics as one value, a list or a dict; data as tuples, lists or dicts; Keras 3's log keys."""

import numpy as np
import pytest

import fastkeras as keras

L = keras.layers



def data(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = (x[:, :3].sum(1, keepdims=True) + 0.1).astype(np.float32)
    return x[:, :5], x[:, 2:], y


def wide_deep(lib=keras):
    """The notes' wide & deep model with a main and an auxiliary output."""
    input_a = lib.layers.Input(shape=[5], name="wide_input")
    input_b = lib.layers.Input(shape=[6], name="deep_input")
    hidden1 = lib.layers.Dense(30, activation="relu")(input_b)
    hidden2 = lib.layers.Dense(30, activation="relu")(hidden1)
    concat = lib.layers.concatenate([input_a, hidden2])
    output = lib.layers.Dense(1, name="main_output")(concat)
    aux_output = lib.layers.Dense(1, name="aux_output")(hidden2)
    return lib.Model(inputs=[input_a, input_b], outputs=[output, aux_output])


def test_notes_two_outputs_with_loss_weights():
    xa, xb, y = data()
    model = wide_deep()
    model.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1], optimizer="sgd")
    history = model.fit([xa, xb], [y, y], epochs=3, verbose=0,
                        validation_data=([xa, xb], [y, y]))
    assert sorted(history.history) == ["aux_output_loss", "loss", "main_output_loss",
                                       "val_aux_output_loss", "val_loss",
                                       "val_main_output_loss"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    total, main, aux = model.evaluate((xa, xb), (y, y), verbose=0)
    assert total == pytest.approx(0.9 * main + 0.1 * aux, rel=1e-5)
    y_main, y_aux = model.predict([xa, xb], verbose=0)
    assert main == pytest.approx(float(np.mean((y_main - y) ** 2)), rel=1e-5)
    assert aux == pytest.approx(float(np.mean((y_aux - y) ** 2)), rel=1e-5)
    logs = model.evaluate([xa, xb], [y, y], verbose=0, return_dict=True)
    assert logs == pytest.approx({"loss": total, "main_output_loss": main,
                                  "aux_output_loss": aux})


def test_dicts_for_losses_weights_metrics_and_data():
    xa, xb, y = data()
    model = wide_deep()
    model.compile(loss={"main_output": "mse", "aux_output": "mae"},
                  loss_weights={"main_output": 0.9, "aux_output": 0.1},
                  metrics={"main_output": ["mae", "mse"], "aux_output": "mse"},
                  optimizer="adam")
    x = {"wide_input": xa, "deep_input": xb}
    ys = {"main_output": y, "aux_output": y}
    history = model.fit(x, ys, epochs=2, batch_size=16, verbose=0, validation_data=(x, ys))
    keys = ["aux_output_loss", "aux_output_mse", "loss", "main_output_loss", "main_output_mae",
            "main_output_mse"]
    assert sorted(history.history) == sorted(keys + ["val_" + k for k in keys])
    values = model.evaluate(x, ys, verbose=0)
    logs = model.evaluate(x, ys, verbose=0, return_dict=True)
    # Keras's order: loss, the outputs' losses in output order, then the metrics by name.
    order = ["loss", "main_output_loss", "aux_output_loss", "aux_output_mse",
             "main_output_mae", "main_output_mse"]
    assert values == pytest.approx([logs[k] for k in order])
    assert logs["main_output_loss"] == pytest.approx(logs["main_output_mse"], rel=1e-6)
    p_main, p_aux = model.predict(x, verbose=0)
    assert logs["aux_output_loss"] == pytest.approx(float(np.mean(np.abs(p_aux - y))), rel=1e-5)
    assert logs["main_output_mae"] == pytest.approx(float(np.mean(np.abs(p_main - y))),
                                                    rel=1e-5)


def test_one_loss_for_every_output_and_per_output_metric_lists():
    xa, xb, y = data()
    model = wide_deep()
    model.compile(loss="mse", metrics=[["mae"], ["mae", "mse"]], optimizer="sgd")
    history = model.fit((xa, xb), (y, 2 * y), epochs=1, verbose=0)
    assert sorted(history.history) == ["aux_output_loss", "aux_output_mae", "aux_output_mse",
                                       "loss", "main_output_loss", "main_output_mae"]
    loss, main, aux = model.evaluate((xa, xb), (y, 2 * y), verbose=0)[:3]
    assert loss == pytest.approx(main + aux, rel=1e-5)


def test_outputs_and_inputs_as_dicts():
    xa, xb, y = data()
    a = keras.Input(shape=[5], name="wide_input")
    b = keras.Input(shape=[6], name="deep_input")
    main = L.Dense(1, name="o1")(L.concatenate([a, L.Dense(8, activation="relu")(b)]))
    side = L.Dense(1, name="o2")(a)
    model = keras.Model(inputs={"w": a, "d": b}, outputs={"x": main, "z": side})
    model.compile(loss="mse", metrics={"x": "mae"}, optimizer="sgd")
    history = model.fit({"w": xa, "d": xb}, {"x": y, "z": y}, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss", "x_loss", "x_mae", "z_loss"]
    pred = model.predict({"w": xa, "d": xb}, verbose=0)
    assert isinstance(pred, dict) and list(pred) == ["x", "z"]
    assert pred["x"].shape == (64, 1)
    small = model.predict({"w": xa[:3], "d": xb[:3]}, batch_size=2, verbose=0)
    np.testing.assert_allclose(small["z"], pred["z"][:3], rtol=1e-6)
    with pytest.raises(ValueError, match='Missing data for input "d"'):
        model.predict({"w": xa}, verbose=0)


def test_one_output_without_a_loss_is_not_trained_on():
    xa, xb, y = data()
    model = wide_deep()
    model.compile(loss=["mse", None], optimizer="sgd")
    with pytest.warns(UserWarning, match="aux_output"):
        history = model.fit([xa, xb], [y, y], epochs=1, verbose=0)
    assert sorted(history.history) == ["loss"]


def test_errors_name_the_outputs_and_what_was_received():
    xa, xb, y = data()
    model = wide_deep()
    model.compile(loss=["mse", "mse"], optimizer="sgd")
    with pytest.raises(ValueError, match=r"2 outputs \['main_output', 'aux_output'\].*1 array"):
        model.fit([xa, xb], [y], verbose=0)
    model = wide_deep()
    model.compile(loss=["mse", "mse"], optimizer="sgd")
    with pytest.raises(ValueError, match="single array of shape"):
        model.fit([xa, xb], y, verbose=0)
    model = wide_deep()
    model.compile(loss={"main": "mse"}, optimizer="sgd")
    with pytest.raises(ValueError, match=r"Expected keys \['main_output', 'aux_output'\] in "
                                         r"loss dict, but found loss.keys\(\)=\['main'\]"):
        model.fit([xa, xb], [y, y], verbose=0)
    model = wide_deep()
    model.compile(loss="mse", loss_weights=[1.0, 2.0, 3.0], optimizer="sgd")
    with pytest.raises(ValueError, match="loss_weights.*one entry per model output"):
        model.fit([xa, xb], [y, y], verbose=0)
    model = wide_deep()
    model.compile(loss="mse", metrics=["mae"], optimizer="sgd")
    with pytest.raises(ValueError, match="metrics.*one entry per model output"):
        model.fit([xa, xb], [y, y], verbose=0)


def test_one_output_model_accepts_one_entry_lists_and_dicts():
    xa, _xb, y = data()
    a = keras.Input(shape=[5])
    out = L.Dense(1, name="output")(a)
    model = keras.Model([a], [out])
    model.compile(loss=["mse"], loss_weights=[0.5], metrics=["mae"], optimizer="sgd")
    history = model.fit(xa, y, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss", "mae"]
    model.compile(loss={"output": "mse"}, optimizer="sgd")
    loss, _mae = model.evaluate(xa, y, verbose=0)  # (as Keras: compile kept the metrics)
    assert loss == pytest.approx(float(np.mean((model.predict(xa, verbose=0) - y) ** 2)),
                                 rel=1e-5)


def test_subclassed_model_with_two_outputs():
    xa, _xb, y = data()

    class TwoHeads(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(8, activation="relu")
            self.heads = [L.Dense(1), L.Dense(1)]

        def call(self, inputs):
            h = self.hidden(inputs)
            return [self.heads[0](h), self.heads[1](h)]

    model = TwoHeads()
    model.compile(loss=["mse", "mae"], loss_weights=[1.0, 0.5], optimizer="sgd")
    history = model.fit(xa, [y, y], epochs=1, verbose=0)
    # Keras 3 names a subclassed model's per-output losses after the losses
    assert sorted(history.history) == ["loss", "mae_loss", "mse_loss"]


def test_matches_keras_trajectory_with_two_outputs():
    keras3 = pytest.importorskip("keras")
    xa, xb, y = data(40)
    ours = wide_deep()
    theirs = wide_deep(keras3)
    theirs.set_weights(ours.get_weights())
    kwargs = dict(loss={"main_output": "mse", "aux_output": "mae"}, loss_weights=[0.9, 0.1],
                  metrics={"main_output": "mae"})
    ours.compile(optimizer=keras.optimizers.SGD(0.05), **kwargs)
    theirs.compile(optimizer=keras3.optimizers.SGD(0.05), **kwargs)
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0,
               validation_data=([xa[:16], xb[:16]], [y[:16], y[:16]]))
    h_ours = ours.fit([xa, xb], [y, y], **fit).history
    h_theirs = theirs.fit([xa, xb], [y, y], **fit).history
    assert sorted(h_ours) == sorted(h_theirs)
    for key in h_theirs:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=1e-4, atol=1e-5, err_msg=key)
    for w_ours, w_theirs in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(w_ours, np.asarray(w_theirs), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.evaluate([xa, xb], [y, y], verbose=0),
                               theirs.evaluate([xa, xb], [y, y], verbose=0), rtol=1e-4)
