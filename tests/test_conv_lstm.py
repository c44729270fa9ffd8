"""ConvLSTM1D/2D/3D and `ops.conv`: outputs, gradients (finite differences on a float64
NumPy reference, and PyTorch's autograd through real Keras 3), a training step and `.keras`
files compared with real Keras."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.backend import GradientTape, Tensor, gradients
from fastkeras.ops.convolution import conv
from test_rnn_generic import check_layer_pair, torch_value

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

ATOL = 1e-5


# --- ops.conv -------------------------------------------------------------------------------

CONV_CASES = [
    # (input shape, kernel shape, kwargs)
    ((2, 9, 3), (3, 3, 4), dict()),
    ((2, 10, 3), (4, 3, 2), dict(strides=3, padding="same")),
    ((1, 11, 2), (3, 2, 2), dict(dilation_rate=2, padding="same")),
    ((2, 7, 6, 3), (3, 2, 3, 5), dict()),
    ((2, 8, 7, 3), (3, 3, 3, 4), dict(strides=(2, 3), padding="same")),
    ((1, 9, 9, 2), (3, 3, 2, 3), dict(dilation_rate=(2, 1))),
    ((2, 3, 7, 6), (3, 3, 3, 4), dict(data_format="channels_first", padding="same")),
    ((2, 5, 4, 6, 2), (2, 3, 2, 2, 3), dict()),
    ((1, 5, 6, 4, 3), (3, 3, 2, 3, 2), dict(strides=2, padding="same")),
    ((2, 7, 6, 4), (3, 3, 2, 6), dict()),  # grouped: 4 channels, kernel for 2
    ((2, 9, 6), (3, 3, 4), dict(padding="same")),  # grouped 1-D
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv_matches_keras(case, rng):
    x_shape, k_shape, kwargs = CONV_CASES[case]
    x = rng.normal(size=x_shape).astype(np.float32)
    w = rng.normal(size=k_shape).astype(np.float32)
    want = torch_value(keras.ops.conv(x, w, **kwargs))
    got = conv(x, w, **kwargs)
    assert tuple(got.shape) == want.shape
    np.testing.assert_allclose(got.value, want, atol=1e-4, rtol=1e-5)
    assert fk.ops.conv(x, w, **kwargs).shape == want.shape


@pytest.mark.parametrize("case", [0, 1, 4, 6, 8, 9])
def test_conv_gradients_match_keras(case, rng):
    x_shape, k_shape, kwargs = CONV_CASES[case]
    x = rng.normal(size=x_shape).astype(np.float32)
    w = rng.normal(size=k_shape).astype(np.float32)
    g = rng.normal(size=tuple(conv(x, w, **kwargs).shape)).astype(np.float32)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    loss = (keras.ops.conv(xt, wt, **kwargs) * torch.tensor(g)).sum()
    theirs = torch.autograd.grad(loss, [xt, wt])
    xf, wf = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    with GradientTape():
        total = fk.ops.sum(conv(xf, wf, **kwargs) * g)
    for a, b in zip(theirs, gradients(total, [xf, wf])):
        np.testing.assert_allclose(b, a.numpy(), atol=1e-3, rtol=1e-4)


def test_conv_errors_name_the_argument():
    x = np.zeros((1, 5, 5, 2), np.float32)
    with pytest.raises(ValueError, match="padding='full'"):
        conv(x, np.zeros((3, 3, 2, 1), np.float32), padding="full")
    with pytest.raises(ValueError, match="kernel.shape=\\(3, 2, 1\\)"):
        conv(x, np.zeros((3, 2, 1), np.float32))
    with pytest.raises(ValueError, match="inputs.shape=\\(1, 5\\)"):
        conv(np.zeros((1, 5), np.float32), np.zeros((3, 2, 1), np.float32))
    with pytest.raises(ValueError, match="multiple of the kernel's 3 input channels"):
        conv(x, np.zeros((3, 3, 3, 1), np.float32))
    with pytest.raises(ValueError, match="data_format='nhwc'"):
        conv(x, np.zeros((3, 3, 2, 1), np.float32), data_format="nhwc")


# --- ConvLSTM against real Keras ------------------------------------------------------------

LAYER_CASES = [
    (1, dict(filters=3, kernel_size=3), (3, 5, 9, 2)),
    (1, dict(filters=2, kernel_size=2, strides=2, padding="same", return_sequences=True),
     (2, 4, 7, 3)),
    (2, dict(filters=3, kernel_size=3, padding="same", return_sequences=True), (2, 4, 6, 5, 2)),
    (2, dict(filters=2, kernel_size=(2, 3), strides=2, return_state=True), (3, 3, 7, 8, 2)),
    (2, dict(filters=2, kernel_size=3, dilation_rate=2, go_backwards=True), (2, 4, 7, 7, 1)),
    (2, dict(filters=3, kernel_size=3, data_format="channels_first", return_sequences=True,
             activation="relu", recurrent_activation="hard_sigmoid"), (2, 3, 2, 6, 5)),
    (2, dict(filters=2, kernel_size=1, use_bias=False, unit_forget_bias=False), (2, 3, 4, 4, 3)),
    (3, dict(filters=2, kernel_size=2, padding="same", return_sequences=True),
     (2, 3, 4, 3, 4, 2)),
    (3, dict(filters=2, kernel_size=(2, 1, 2), return_state=True), (1, 3, 3, 4, 3, 1)),
]


def make_layer(lib, rank, kwargs):
    return getattr(lib.layers, f"ConvLSTM{rank}D")(**kwargs)


@pytest.mark.parametrize("case", range(len(LAYER_CASES)))
def test_outputs_and_gradients_match_keras(case, rng):
    rank, kwargs, shape = LAYER_CASES[case]
    x = rng.normal(size=shape).astype(np.float32)
    k, f = make_layer(keras, rank, kwargs), make_layer(fk, rank, kwargs)
    mask = np.ones(shape[:2], bool)
    mask[0, -1] = False
    check_layer_pair(k, f, x, rng, atol=1e-5)
    check_layer_pair(k, f, x, rng, mask=mask, atol=1e-5)
    ours, theirs = f.get_config(), k.get_config()
    assert ours.pop("name") == f.name and theirs.pop("name") == k.name
    assert ours == theirs
    assert [v.path.split("/", 1)[1] for v in f.weights] == \
        [v.path.split("/", 1)[1] for v in k.weights]


def test_recurrent_dropout_trains_and_masks_last_a_sequence(rng):
    layer = fk.layers.ConvLSTM2D(2, 3, padding="same", dropout=0.4, recurrent_dropout=0.3,
                                 return_sequences=True, seed=3)
    x = rng.normal(size=(2, 3, 5, 5, 1)).astype(np.float32)
    a, b = layer(x, training=True).value, layer(x, training=True).value
    assert not np.allclose(a, b)  # fresh masks for every sequence
    np.testing.assert_array_equal(layer(x).value, layer(x).value)  # none at inference
    assert layer.cell._dropout_masks is None  # reset after the sequence
    with GradientTape():
        out = fk.ops.sum(layer(Tensor(x), training=True))
    grads = gradients(out, layer.trainable_weights)
    assert all(g is not None and np.isfinite(g).all() for g in grads)


def test_one_training_step_matches_keras(rng):
    x = rng.normal(size=(4, 3, 6, 6, 1)).astype(np.float32)
    y = rng.normal(size=(4, 1)).astype(np.float32)

    def build(lib):
        L = lib.layers
        return lib.Sequential([lib.Input((3, 6, 6, 1)),
                               L.ConvLSTM2D(4, 3, padding="same", return_sequences=True),
                               L.ConvLSTM2D(2, 3),
                               L.GlobalAveragePooling2D(), L.Dense(1)])

    km, fm = build(keras), build(fk)
    fm.set_weights(km.get_weights())
    np.testing.assert_allclose(fm.predict(x, verbose=0), np.asarray(km.predict(x, verbose=0)),
                               atol=ATOL)
    for lib, m in ((keras, km), (fk, fm)):
        m.compile(lib.optimizers.Adam(0.01), "mse")
    k_loss, f_loss = float(km.train_on_batch(x, y)), float(fm.train_on_batch(x, y))
    assert abs(k_loss - f_loss) <= ATOL * max(1.0, k_loss)
    for a, b in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(b, a, atol=ATOL, rtol=ATOL)
    assert fm.output_shape == (None, 1)
    assert fm.layers[0].output_shape == (None, 3, 6, 6, 4)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_model_files_both_ways(rank, tmp_path, rng):
    from keras_files import check_keras_file_both_ways
    spatial = {1: (7,), 2: (5, 6), 3: (3, 4, 3)}[rank]
    layer = getattr(fk.layers, f"ConvLSTM{rank}D")
    model = fk.Sequential([fk.Input((3,) + spatial + (2,)),
                           layer(3, 2, padding="same", recurrent_dropout=0.1),
                           fk.layers.Flatten(), fk.layers.Dense(2)])
    x = rng.normal(size=(2, 3) + spatial + (2,)).astype(np.float32)
    check_keras_file_both_ways(model, x, tmp_path)


def test_next_frame_model_learns(rng):
    """A small next-frame predictor (Keras's ConvLSTM example in miniature): a moving dot."""
    frames = np.zeros((24, 5, 8, 8, 1), np.float32)
    for i in range(24):
        r, c = rng.integers(0, 8, size=2)
        for t in range(5):  # one step down and right per frame, wrapping around
            frames[i, t, (r + t) % 8, (c + t) % 8, 0] = 1.0
    x, y = frames[:, :4], frames[:, 1:]
    model = fk.Sequential([fk.Input((4, 8, 8, 1)),
                           fk.layers.ConvLSTM2D(6, 3, padding="same", return_sequences=True),
                           fk.layers.Conv3D(1, 3, padding="same", activation="sigmoid")])
    model.compile(fk.optimizers.Adam(0.01), "binary_crossentropy")
    hist = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


def test_layer_errors_name_the_argument():
    with pytest.raises(ValueError, match="strides > 1.*dilation_rate > 1"):
        fk.layers.ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding='full'"):
        fk.layers.ConvLSTM2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="filters"):
        fk.layers.ConvLSTM1D(0, 3)
    with pytest.raises(ValueError, match="expected ndim=5, found ndim=4"):
        fk.layers.ConvLSTM2D(2, 3)(np.zeros((1, 3, 4, 1), np.float32))
    with pytest.raises(ValueError, match="static input shapes"):
        fk.layers.ConvLSTM2D(2, 3)(fk.Input((3, None, 5, 1)))
    with pytest.raises(ValueError, match="dropout=1.5"):
        fk.layers.ConvLSTM3D(2, 3, dropout=1.5)


# --- finite differences on a float64 reference -----------------------------------------------

def reference_conv_lstm1d(x, kernel, recurrent, bias, padding, strides):
    """ConvLSTM1D (channels_last, return_sequences) in float64 loops."""
    k = kernel.shape[0]
    filters = recurrent.shape[1]

    def conv1d(v, w, pad, stride):
        length = v.shape[1]
        if pad == "same":
            out_len = -(-length // stride)
            total = max((out_len - 1) * stride + k - length, 0)
            v = np.pad(v, ((0, 0), (total // 2, total - total // 2), (0, 0)))
        else:
            out_len = (length - k) // stride + 1
        cols = np.stack([v[:, i * stride:i * stride + k] for i in range(out_len)], axis=1)
        return np.einsum("nlkc,kcf->nlf", cols, w)

    def sig(z):
        return 1 / (1 + np.exp(-z))

    n, steps = x.shape[:2]
    out_len = conv1d(x[:, 0], kernel, padding, strides).shape[1]
    h = np.zeros((n, out_len, filters))
    c = np.zeros_like(h)
    outs = []
    for t in range(steps):
        z = conv1d(x[:, t], kernel, padding, strides) + conv1d(h, recurrent, "same", 1) + bias
        zi, zf, zc, zo = np.split(z, 4, axis=-1)
        c = sig(zf) * c + sig(zi) * np.tanh(zc)
        h = sig(zo) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, axis=1)


@pytest.mark.parametrize("padding,strides", [("valid", 1), ("same", 2)])
def test_gradients_match_finite_differences(padding, strides, rng):
    layer = fk.layers.ConvLSTM1D(2, 3, padding=padding, strides=strides, return_sequences=True)
    x = rng.normal(size=(2, 3, 6, 2)).astype(np.float32)
    layer(x)
    weights = [w * 1.5 for w in layer.get_weights()]
    layer.set_weights(weights)
    gy = rng.normal(size=tuple(layer(x).shape))
    np.testing.assert_allclose(layer(x).value, reference_conv_lstm1d(
        x.astype(np.float64), *[w.astype(np.float64) for w in weights], padding, strides),
        atol=1e-5)

    def loss(x_, ws):
        return float((reference_conv_lstm1d(x_, *ws, padding, strides) * gy).sum())

    xt = Tensor(x, requires_grad=True)
    with GradientTape():
        total = fk.ops.sum(layer(xt) * gy.astype(np.float32))
    ours = gradients(total, [xt] + layer.trainable_weights)
    leaves = [x.astype(np.float64)] + [w.astype(np.float64) for w in weights]
    eps = 1e-6
    for i, leaf in enumerate(leaves):
        numeric = np.zeros_like(leaf)
        for idx in np.ndindex(leaf.shape):
            orig = leaf[idx]
            leaf[idx] = orig + eps
            up = loss(leaves[0], leaves[1:])
            leaf[idx] = orig - eps
            down = loss(leaves[0], leaves[1:])
            leaf[idx] = orig
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(ours[i], numeric, atol=1e-4, rtol=1e-3, err_msg=f"leaf {i}")


def test_bidirectional_conv_lstm_matches_keras(rng):
    x = rng.normal(size=(2, 4, 6, 6, 1)).astype(np.float32)
    k = keras.layers.Bidirectional(keras.layers.ConvLSTM2D(2, 3, return_sequences=True))
    f = fk.layers.Bidirectional(fk.layers.ConvLSTM2D(2, 3, return_sequences=True))
    want = torch_value(k(x))
    f(x)
    f.set_weights(k.get_weights())
    np.testing.assert_allclose(f(x).value, want, atol=ATOL)
