"""Functional models: Model(inputs=..., outputs=...) from Input and layer calls."""

import numpy as np
import pytest

import fastkeras as keras

L = keras.layers



def regression(n=200, d=8):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x, (x[:, :3].sum(1, keepdims=True) + 0.1).astype(np.float32)


def test_notes_wide_and_deep_trains_and_predicts():
    x, y = regression()
    input_ = keras.Input(shape=x.shape[1:])
    hidden1 = L.Dense(30, activation="relu")(input_)
    hidden2 = L.Dense(30, activation="relu")(hidden1)
    concat = L.concatenate([input_, hidden2])
    output = L.Dense(1)(concat)
    model = keras.Model(inputs=[input_], outputs=[output])
    assert [l.name for l in model.layers] == ["input_layer", "dense", "dense_1", "concatenate",
                                              "dense_2"]
    assert model.count_params() == 8 * 30 + 30 + 30 * 30 + 30 + 38 + 1
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(0.01))
    h = model.fit(x, y, epochs=5, validation_split=0.1, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    pred = model.predict(x[:3], verbose=0)
    assert isinstance(pred, np.ndarray) and pred.shape == (3, 1)


def test_two_inputs_from_a_tuple():
    x, y = regression()
    input_a = keras.Input(shape=[5], name="wide_input")
    input_b = keras.Input(shape=[6], name="deep_input")
    hidden = L.Dense(30, activation="relu")(input_b)
    concat = L.concatenate([input_a, hidden])
    output = L.Dense(1, name="output")(concat)
    model = keras.Model(inputs=[input_a, input_b], outputs=[output])
    assert model.input_names == ["wide_input", "deep_input"]
    model.compile(loss="mse", optimizer="adam")
    xa, xb = x[:, :5], x[:, 2:]
    h = model.fit((xa, xb), y, epochs=3, validation_data=((xa, xb), y), verbose=0)
    assert set(h.history) == {"loss", "val_loss"}
    assert model.predict((xa[:4], xb[:4]), verbose=0).shape == (4, 1)
    with pytest.raises(ValueError, match="expects 2 input"):
        model.predict(xa, verbose=0)


def test_matches_the_sequential_model_with_the_same_weights():
    x, _ = regression()
    inp = keras.Input(shape=(8,))
    out = L.Dense(3, activation="softmax")(L.Dense(16, activation="relu")(inp))
    functional = keras.Model(inputs=inp, outputs=out)
    seq = keras.Sequential([L.Dense(16, activation="relu", input_shape=(8,)),
                            L.Dense(3, activation="softmax")])
    seq.set_weights(functional.get_weights())
    np.testing.assert_allclose(functional.predict(x, verbose=0), seq.predict(x, verbose=0),
                               rtol=1e-6)


def test_shared_layer_uses_one_set_of_weights():
    x, y = regression()
    a = keras.Input(shape=(8,))
    b = keras.Input(shape=(8,))
    shared = L.Dense(4)
    out = L.Dense(1)(L.add([shared(a), shared(b)]))
    model = keras.Model([a, b], out)
    assert len(model.weights) == 4  # shared kernel/bias once, then the head's
    model.compile(loss="mse", optimizer="sgd")
    before = shared.kernel.numpy()
    model.fit((x, x[::-1].copy()), y, epochs=1, verbose=0)
    assert not np.allclose(before, shared.kernel.numpy())
    # With identical inputs the shared branch contributes twice the single branch.
    out_same = model.predict((x[:2], x[:2]), verbose=0)
    head_k, head_b = model.layers[-1].kernel.numpy(), model.layers[-1].bias.numpy()
    branch = x[:2] @ shared.kernel.numpy() + shared.bias.numpy()
    np.testing.assert_allclose(out_same, 2 * branch @ head_k + head_b, rtol=1e-5, atol=1e-6)


def test_model_as_a_layer_and_several_outputs():
    x, y = regression()
    inner_in = keras.Input(shape=(8,))
    inner = keras.Model(inner_in, L.Dense(5, activation="relu")(inner_in), name="inner")
    outer_in = keras.Input(shape=(8,))
    main = L.Dense(1, name="main_output")(inner(outer_in))
    aux = L.Dense(1, name="aux_output")(outer_in)
    model = keras.Model(inputs=outer_in, outputs=[main, aux])
    assert model.output_names == ["main_output", "aux_output"]
    preds = model.predict(x[:3], verbose=0)
    assert isinstance(preds, list) and [p.shape for p in preds] == [(3, 1), (3, 1)]
    single = keras.Model(outer_in, main)
    single.compile(loss="mse", optimizer="adam")
    single.fit(x, y, epochs=1, verbose=0)  # trains the nested model's weights too
    model.compile(loss="mse", optimizer="sgd")
    h = model.fit(x, [y, y], verbose=0)
    assert sorted(h.history) == ["aux_output_loss", "loss", "main_output_loss"]


def test_graph_errors():
    a = keras.Input(shape=(3,))
    b = keras.Input(shape=(3,))
    out = L.Dense(1)(L.add([a, b]))
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(inputs=a, outputs=out)
    with pytest.raises(ValueError, match="cannot be called on input shape"):
        L.Dense(2)(L.concatenate([keras.Input(shape=(3,)), keras.Input(shape=(4, 2))]))
