"""Keras's "Working with RNNs" guide, section by section, run with `fastkeras as keras`:
built-in layers, outputs and states, an encoder-decoder through `initial_state`, RNN layers
over cells, cross-batch statefulness and state reuse, Bidirectional, and the layer-versus-
cell model trained on real Fashion-MNIST rows (the guide uses MNIST, which is not offline)."""

import numpy as np
import pytest

import fastkeras as keras
from fastkeras import layers


def test_built_in_rnn_layers():
    model = keras.Sequential()
    model.add(layers.Embedding(input_dim=1000, output_dim=64))
    model.add(layers.LSTM(128))
    model.add(layers.Dense(10))
    out = model(np.random.randint(0, 1000, size=(2, 7)))
    assert tuple(out.shape) == (2, 10)

    model = keras.Sequential()
    model.add(layers.Embedding(input_dim=1000, output_dim=64))
    model.add(layers.GRU(256, return_sequences=True))
    model.add(layers.SimpleRNN(128))
    model.add(layers.Dense(10))
    assert tuple(model(np.random.randint(0, 1000, size=(2, 7))).shape) == (2, 10)


def test_encoder_decoder_passes_states_through_initial_state(capsys):
    encoder_vocab, decoder_vocab = 1000, 2000
    encoder_input = layers.Input(shape=(None,))
    encoder_embedded = layers.Embedding(input_dim=encoder_vocab, output_dim=64)(encoder_input)
    output, state_h, state_c = layers.LSTM(64, return_state=True, name="encoder")(
        encoder_embedded)
    encoder_state = [state_h, state_c]
    decoder_input = layers.Input(shape=(None,))
    decoder_embedded = layers.Embedding(input_dim=decoder_vocab, output_dim=64)(decoder_input)
    decoder_output = layers.LSTM(64, name="decoder")(decoder_embedded,
                                                      initial_state=encoder_state)
    output = layers.Dense(10)(decoder_output)
    model = keras.Model([encoder_input, decoder_input], output)
    model.summary()
    assert "encoder" in capsys.readouterr().out
    enc = np.random.randint(0, encoder_vocab, size=(3, 6))
    dec = np.random.randint(0, decoder_vocab, size=(3, 4))
    assert model.predict([enc, dec], verbose=0).shape == (3, 10)
    # The decoder really starts from the encoder's states: other encoder inputs change it.
    other = np.random.randint(0, encoder_vocab, size=(3, 6))
    assert not np.allclose(model.predict([enc, dec], verbose=0),
                           model.predict([other, dec], verbose=0))


def test_rnn_layer_over_a_cell_equals_the_layer():
    x = np.random.random((4, 9, 5)).astype(np.float32)
    fused = layers.LSTM(8)
    stepped = layers.RNN(layers.LSTMCell(8))
    fused(x)
    stepped(x)
    stepped.set_weights(fused.get_weights())
    np.testing.assert_allclose(stepped(x).value, fused(x).value, atol=1e-6)


def test_cross_batch_statefulness_and_state_reuse():
    paragraph1 = np.random.random((20, 10, 50)).astype(np.float32)
    paragraph2 = np.random.random((20, 10, 50)).astype(np.float32)
    paragraph3 = np.random.random((20, 10, 50)).astype(np.float32)
    lstm_layer = layers.LSTM(64, stateful=True)
    lstm_layer(paragraph1)
    lstm_layer(paragraph2)
    carried = lstm_layer(paragraph3).value
    lstm_layer.reset_states()
    fresh = lstm_layer(paragraph3).value
    assert not np.allclose(carried, fresh)

    existing_state = lstm_layer.states
    new_lstm_layer = layers.LSTM(64)
    new_output = new_lstm_layer(paragraph3, initial_state=existing_state)
    assert tuple(new_output.shape) == (20, 64)


def test_bidirectional_with_and_without_a_backward_layer():
    model = keras.Sequential()
    model.add(layers.Bidirectional(layers.LSTM(64, return_sequences=True), input_shape=(5, 10)))
    model.add(layers.Bidirectional(layers.LSTM(32)))
    model.add(layers.Dense(10))
    assert model.output_shape == (None, 10)
    forward = layers.LSTM(10, return_sequences=True)
    backward = layers.LSTM(10, activation="relu", return_sequences=True, go_backwards=True)
    model = keras.Sequential([keras.Input((5, 10)),
                              layers.Bidirectional(forward, backward_layer=backward),
                              layers.Dense(10)])
    assert model.output_shape == (None, 5, 10)


def build_model(allow_cudnn_kernel=True, units=64, input_dim=28, output_size=10):
    if allow_cudnn_kernel:
        lstm_layer = keras.layers.LSTM(units, input_shape=(None, input_dim))
    else:
        lstm_layer = keras.layers.RNN(keras.layers.LSTMCell(units),
                                      input_shape=(None, input_dim))
    return keras.models.Sequential([lstm_layer, keras.layers.BatchNormalization(),
                                    keras.layers.Dense(output_size)])


@pytest.mark.fashion_mnist
def test_layer_and_cell_models_train_alike_on_image_rows():
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train, y_train = x_train[:1024] / 255.0, y_train[:1024]
    x_test, y_test = x_test[:256] / 255.0, y_test[:256]
    results = []
    for fused in (True, False):
        keras.utils.set_random_seed(7)
        model = build_model(allow_cudnn_kernel=fused)
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer="sgd", metrics=["accuracy"])
        history = model.fit(x_train, y_train, validation_data=(x_test, y_test), batch_size=64,
                            epochs=2, shuffle=False, verbose=0)
        results.append(history.history)
    # Same seed, same weights, same maths: the two models train the same way.
    np.testing.assert_allclose(results[0]["loss"], results[1]["loss"], rtol=1e-4)
    assert results[0]["loss"][1] < results[0]["loss"][0]
    assert results[0]["val_accuracy"][-1] > 0.25  # ten classes: it learns (two short epochs)
