"""Conv2D and 2-D pooling: values against a float64 NumPy reference, finite-difference
gradients, Keras's shapes (the notes' CNN shapes), weights saved by real Keras, and a CNN that
learns Fashion-MNIST."""

import os

import numpy as np
import pytest

import fastkeras as keras
from fastkeras.backend import GradientTape, gradients
from fastkeras.ops.conv2d import same_padding
from keras_fixtures import FIXTURES

# --- float64 references ------------------------------------------------------------------------

def ref_conv(x, w, b, strides, padding, dilation):
    n, h, wd, _c = x.shape
    kh, kw, _, f = w.shape
    if padding == "same":
        (pt, pb), (pl, pr) = (same_padding(h, kh, strides[0], dilation[0]),
                              same_padding(wd, kw, strides[1], dilation[1]))
    else:
        pt = pb = pl = pr = 0
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    oh = (xp.shape[1] - span_h) // strides[0] + 1
    ow = (xp.shape[2] - span_w) // strides[1] + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i * dilation[0]: i * dilation[0] + (oh - 1) * strides[0] + 1: strides[0],
                       j * dilation[1]: j * dilation[1] + (ow - 1) * strides[1] + 1: strides[1], :]
            out += patch @ w[i, j].astype(np.float64)
    return out + (0 if b is None else b)


def ref_pool(x, pool, strides, padding, kind):
    n, h, w, c = x.shape
    if padding == "same":
        (pt, pb), (pl, pr) = same_padding(h, pool[0], strides[0], 1), same_padding(w, pool[1], strides[1], 1)
    else:
        pt = pb = pl = pr = 0
    fill = -np.inf if kind == "max" else np.nan
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    oh = (xp.shape[1] - pool[0]) // strides[0] + 1
    ow = (xp.shape[2] - pool[1]) // strides[1] + 1
    out = np.zeros((n, oh, ow, c))
    for oy in range(oh):
        for ox in range(ow):
            win = xp[:, oy * strides[0]: oy * strides[0] + pool[0], ox * strides[1]: ox * strides[1] + pool[1]]
            out[:, oy, ox] = win.max(axis=(1, 2)) if kind == "max" else np.nanmean(win, axis=(1, 2))
    return out


CONV_CASES = [
    dict(kernel_size=3, strides=1, padding="valid", dilation_rate=1),
    dict(kernel_size=3, strides=1, padding="same", dilation_rate=1),
    dict(kernel_size=(2, 3), strides=(2, 1), padding="same", dilation_rate=1),
    dict(kernel_size=3, strides=2, padding="valid", dilation_rate=1),
    dict(kernel_size=3, strides=1, padding="same", dilation_rate=2),
    dict(kernel_size=1, strides=1, padding="valid", dilation_rate=1),
    dict(kernel_size=(7, 6), strides=1, padding="valid", dilation_rate=1),  # as large as input
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv2d_values_and_gradients(case, data_format):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    layer = keras.layers.Conv2D(4, data_format=data_format, **case)
    xin = x.transpose(0, 3, 1, 2) if data_format == "channels_first" else x
    with GradientTape():
        xt = keras.ops.convert_to_tensor(xin)
        xt.requires_grad = True
        y = layer(xt)
        r = rng.standard_normal(y.shape).astype(np.float32)
        loss = keras.ops.sum(y * r)
    gx, gw, gb = gradients(loss, [xt, layer.kernel, layer.bias])
    yv = y.numpy().transpose(0, 2, 3, 1) if data_format == "channels_first" else y.numpy()
    k = layer.kernel.numpy().astype(np.float64)
    b = layer.bias.numpy().astype(np.float64) + 0.1
    layer.bias.assign(b)
    strides = layer.strides
    want = ref_conv(x, k, None, strides, layer.padding, layer.dilation_rate)
    np.testing.assert_allclose(yv, want, rtol=1e-5, atol=1e-5)

    # Finite differences of the float64 reference, against the C++ gradients.
    rr = r.transpose(0, 2, 3, 1) if data_format == "channels_first" else r

    def f(xx, kk, bb):
        return float(np.sum(ref_conv(xx, kk, bb, strides, layer.padding, layer.dilation_rate) * rr))

    eps = 1e-4
    bb = np.zeros(4)
    for (arr, grad, idx) in [(x.astype(np.float64), gx, (1, 3, 2, 1)), (k, gw, (0, 0, 2, 3)),
                             (bb, gb, (2,))]:
        plus, minus = arr.copy(), arr.copy()
        plus[idx] += eps
        minus[idx] -= eps
        args_p = [x.astype(np.float64), k, bb]
        args_m = [x.astype(np.float64), k, bb]
        pos = 0 if arr.shape == x.shape else 1 if arr.shape == k.shape else 2
        args_p[pos], args_m[pos] = plus, minus
        numeric = (f(*args_p) - f(*args_m)) / (2 * eps)
        g = grad.transpose(0, 2, 3, 1) if (pos == 0 and data_format == "channels_first") else grad
        assert g[idx] == pytest.approx(numeric, rel=1e-3, abs=1e-3)


def test_conv2d_relu_fused_gradient_is_masked():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    layer = keras.layers.Conv2D(5, 3, activation="relu", bias_initializer="ones")
    with GradientTape():
        xt = keras.ops.convert_to_tensor(x)
        xt.requires_grad = True
        y = layer(xt)
        loss = keras.ops.sum(y)
    _gx, gw = gradients(loss, [xt, layer.kernel])
    pre = ref_conv(x, layer.kernel.numpy(), layer.bias.numpy(), (1, 1), "valid", (1, 1))
    np.testing.assert_allclose(y.numpy(), np.maximum(pre, 0), rtol=1e-5, atol=1e-5)
    mask = (pre > 0).astype(np.float64)
    # dW[i, j, c, f] = sum over outputs of mask * x patch
    want = np.zeros_like(layer.kernel.numpy(), dtype=np.float64)
    for i in range(3):
        for j in range(3):
            want[i, j] = np.einsum("nhwc,nhwf->cf", x[:, i:i + 4, j:j + 4, :], mask)
    np.testing.assert_allclose(gw, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_relu_maxpool_gradients_sparse_output_gradient(padding):
    """Conv2D(relu) -> MaxPooling2D over 32 channels: the convolution's output gradient is
    mostly zeros (one cell per pooling window, and only where the relu passed), the case the
    backward pass handles by visiting the nonzeros only. Every gradient against float64."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 9, 9, 32)).astype(np.float32)
    conv = keras.layers.Conv2D(24, 3, padding=padding, activation="relu")
    pool = keras.layers.MaxPooling2D(2)
    with GradientTape():
        xt = keras.ops.convert_to_tensor(x)
        xt.requires_grad = True
        y = pool(conv(xt))
        r = rng.standard_normal(y.shape).astype(np.float32)
        loss = keras.ops.sum(y * r)
    gx, gw, gb = gradients(loss, [xt, conv.kernel, conv.bias])

    k, b = conv.kernel.numpy().astype(np.float64), conv.bias.numpy().astype(np.float64)
    pre = ref_conv(x, k, b, (1, 1), padding, (1, 1))
    act = np.maximum(pre, 0)
    np.testing.assert_allclose(y.numpy(), ref_pool(act, (2, 2), (2, 2), "valid", "max"),
                               rtol=1e-5, atol=1e-5)
    # The output gradient: r at each window's maximum, where the relu was open.
    dz = np.zeros_like(act)
    n, oh, ow, f = y.shape
    for oy in range(oh):
        for ox in range(ow):
            win = act[:, 2 * oy:2 * oy + 2, 2 * ox:2 * ox + 2].reshape(n, 4, f)
            at = win.argmax(axis=1)
            for i in range(n):
                for c in range(f):
                    dy_, dx_ = divmod(at[i, c], 2)
                    if win[i, at[i, c], c] > 0:
                        dz[i, 2 * oy + dy_, 2 * ox + dx_, c] = r[i, oy, ox, c]
    assert np.mean(dz != 0) <= 0.25
    pt = 1 if padding == "same" else 0
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pt), (pt, pt), (0, 0)))
    want_dxp = np.zeros_like(xp)
    want_dw = np.zeros_like(k)
    h, w = act.shape[1:3]
    for i in range(3):
        for j in range(3):
            want_dw[i, j] = np.einsum("nhwc,nhwf->cf", xp[:, i:i + h, j:j + w], dz)
            want_dxp[:, i:i + h, j:j + w] += dz @ k[i, j].T
    want_dx = want_dxp[:, pt:pt + 9, pt:pt + 9]
    np.testing.assert_allclose(gx, want_dx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gw, want_dw, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gb, dz.sum(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pool,strides,padding", [((2, 2), None, "valid"), ((3, 3), None, "valid"),
                                                   ((2, 2), None, "same"), ((3, 2), (1, 2), "same"),
                                                   ((2, 2), (1, 1), "valid")])
def test_pooling_values_and_gradients(kind, pool, strides, padding):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 7, 5, 3)).astype(np.float32)
    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    layer = cls(pool, strides=strides, padding=padding)
    s = layer.strides
    with GradientTape():
        xt = keras.ops.convert_to_tensor(x)
        xt.requires_grad = True
        y = layer(xt)
        r = rng.standard_normal(y.shape).astype(np.float32)
        loss = keras.ops.sum(y * r)
    (gx,) = gradients(loss, [xt])
    np.testing.assert_allclose(y.numpy(), ref_pool(x, pool, s, padding, kind), rtol=1e-6, atol=1e-6)
    eps = 1e-4
    for idx in [(0, 0, 0, 0), (1, 3, 2, 1), (0, 6, 4, 2)]:
        plus, minus = x.astype(np.float64), x.astype(np.float64)
        plus[idx] += eps
        minus[idx] -= eps
        numeric = (np.sum(ref_pool(plus, pool, s, padding, kind) * r)
                   - np.sum(ref_pool(minus, pool, s, padding, kind) * r)) / (2 * eps)
        assert gx[idx] == pytest.approx(numeric, rel=1e-3, abs=1e-3)


def test_global_pooling():
    x = np.random.default_rng(3).standard_normal((2, 4, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(keras.layers.GlobalAveragePooling2D()(x).numpy(), x.mean((1, 2)), rtol=1e-6)
    np.testing.assert_allclose(keras.layers.GlobalMaxPooling2D()(x).numpy(), x.max((1, 2)))
    assert keras.layers.GlobalAveragePooling2D(keepdims=True)(x).shape == (2, 1, 1, 3)
    xf = x.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(
        keras.layers.GlobalAveragePooling2D(data_format="channels_first")(xf).numpy(),
        x.mean((1, 2)), rtol=1e-6)


def test_notes_cnn_shapes():
    model = keras.models.Sequential([
        keras.layers.Conv2D(16, (3, 3), activation="relu", input_shape=(32, 32, 3)),
        keras.layers.MaxPooling2D((3, 3)),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    assert [l.output_shape for l in model.layers] == [(None, 30, 30, 16), (None, 10, 10, 16),
                                                      (None, 1600), (None, 10)]
    assert [l.name for l in model.layers][:2] == ["conv2d", "max_pooling2d"]
    assert model.layers[0].kernel.shape == (3, 3, 3, 16)
    same = keras.Sequential([keras.layers.Conv2D(16, (3, 3), padding="SAME", input_shape=(32, 32, 3))])
    assert same.output_shape == (None, 32, 32, 16)
    strided = keras.Sequential([keras.layers.Conv2D(8, 3, strides=2, input_shape=(32, 32, 3))])
    assert strided.output_shape == (None, 15, 15, 8)
    first = keras.Sequential([keras.layers.Conv2D(8, 3, data_format="channels_first",
                                                  input_shape=(3, 32, 32))])
    assert first.output_shape == (None, 8, 30, 30)
    assert first.layers[0].kernel.shape == (3, 3, 3, 8)


def test_conv_config_and_errors():
    layer = keras.layers.Conv2D(8, 3, strides=(2, 2), padding="Same", activation="relu")
    cfg = layer.get_config()
    assert cfg["filters"] == 8 and cfg["kernel_size"] == (3, 3) and cfg["padding"] == "same"
    assert cfg["activation"] == "relu" and cfg["strides"] == (2, 2)
    with pytest.raises(ValueError, match="filters=0"):
        keras.layers.Conv2D(0, 3)
    with pytest.raises(ValueError, match="padding='full'"):
        keras.layers.Conv2D(8, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size=-1"):
        keras.layers.Conv2D(8, -1)
    with pytest.raises(ValueError, match="too small"):
        keras.layers.Conv2D(8, 5)(np.zeros((1, 3, 3, 1), np.float32))
    with pytest.raises(ValueError, match="expected ndim=4"):
        keras.layers.Conv2D(8, 3)(np.zeros((1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="pool_size"):
        keras.layers.MaxPooling2D(0)


def test_kernel_argument_checks():
    from fastkeras import _core
    x = np.zeros((1, 5, 5, 2), np.float32)
    w = np.zeros((3, 3, 3, 4), np.float32)
    y = np.zeros((1, 3, 3, 4), np.float32)
    with pytest.raises(ValueError, match="input channels"):
        _core.conv2d_forward(x, w, None, y, (1, 1), (0, 0), (1, 1), False)
    with pytest.raises(TypeError, match="float32"):
        _core.conv2d_forward(x.astype(np.float64), w, None, y, (1, 1), (0, 0), (1, 1), False)
    with pytest.raises(ValueError, match="argmax"):
        _core.maxpool2d_forward(x, np.zeros((1, 2, 2, 2), np.float32),
                                np.zeros((1, 2, 2, 2), np.int64), (2, 2), (2, 2), (0, 0))


@pytest.mark.skipif(not FIXTURES.exists() and not os.environ.get("CI"),
                    reason="../shared/fixtures/keras not found")
def test_keras_cnn_weights_reproduce_predictions():
    io = np.load(FIXTURES / "cnn_sgd_io.npz")
    model = keras.Sequential([
        keras.Input(shape=(12, 12, 3)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(6, 3, strides=2, activation="elu"),
        keras.layers.Flatten(),
        keras.layers.Dense(5, activation="softmax"),
    ])
    model.load_weights(FIXTURES / "cnn_sgd.weights.h5")
    assert model.count_params() == 787
    np.testing.assert_allclose(model.predict(io["x0"], verbose=0), io["y0"], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.fashion_mnist
def test_cnn_learns_a_slice_of_fashion_mnist():
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x = (x[:, :, :, None] / 255.0).astype(np.float32)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:4000], y[:4000], epochs=2, batch_size=32, verbose=0)
    _, acc = model.evaluate(x[50000:51000], y[50000:51000], verbose=0)
    assert acc > 0.7  # chance is 0.1


def ref_conv_transpose(x, w, b, strides, padding, out_size):
    """Scatter each input cell through the kernel, then crop to the output window."""
    n, h, wd, _c = x.shape
    kh, kw, f, _ = w.shape
    oh, ow = out_size
    pt = same_padding(oh, kh, strides[0], 1)[0] if padding == "same" else 0
    pl = same_padding(ow, kw, strides[1], 1)[0] if padding == "same" else 0
    full = np.zeros((n, max((h - 1) * strides[0] + kh, pt + oh), max((wd - 1) * strides[1] + kw, pl + ow), f))
    for i in range(h):
        for j in range(wd):
            for a in range(kh):
                for bb in range(kw):
                    full[:, i * strides[0] + a, j * strides[1] + bb] += x[:, i, j] @ w[a, bb].T
    return full[:, pt:pt + oh, pl:pl + ow] + b


@pytest.mark.parametrize("kernel_size,strides,padding", [
    (3, 1, "valid"), (3, 2, "valid"), (3, 2, "same"), (4, 2, "same"), (1, 2, "same"), (2, 3, "valid")])
def test_conv2d_transpose_values_and_gradients(kernel_size, strides, padding):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(5, kernel_size, strides=strides, padding=padding,
                                         bias_initializer="random_normal")
    with GradientTape():
        xt = keras.ops.convert_to_tensor(x)
        xt.requires_grad = True
        y = layer(xt)
        r = rng.standard_normal(y.shape).astype(np.float32)
        loss = keras.ops.sum(y * r)
    gx, gw, gb = gradients(loss, [xt, layer.kernel, layer.bias])
    k = layer.kernel_size
    assert layer.kernel.shape == k + (5, 3)
    s = layer.strides
    want_size = ((4 * s[0], 3 * s[1]) if padding == "same" else  # Keras's rule
                 (4 * s[0] + max(k[0] - s[0], 0), 3 * s[1] + max(k[1] - s[1], 0)))
    assert y.shape == (2,) + want_size + (5,)
    w64, b64 = layer.kernel.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
    np.testing.assert_allclose(y.numpy(), ref_conv_transpose(x, w64, b64, s, padding, want_size),
                               rtol=1e-5, atol=1e-5)

    def f(xx, ww, bb):
        return float(np.sum(ref_conv_transpose(xx, ww, bb, s, padding, want_size) * r))

    eps = 1e-4
    x64 = x.astype(np.float64)
    for pos, grad, idx in [(0, gx, (1, 2, 1, 2)), (1, gw, (0, k[1] - 1, 4, 1)), (2, gb, (3,))]:
        args_p, args_m = [x64.copy(), w64.copy(), b64.copy()], [x64.copy(), w64.copy(), b64.copy()]
        args_p[pos][idx] += eps
        args_m[pos][idx] -= eps
        numeric = (f(*args_p) - f(*args_m)) / (2 * eps)
        assert grad[idx] == pytest.approx(numeric, rel=1e-3, abs=1e-3)


def test_conv2d_transpose_undoes_strided_shapes():
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid"),
    ])
    assert model.output_shape == (None, 28, 28, 1)
    with pytest.raises(ValueError, match="Strides must be greater than output padding"):
        keras.layers.Conv2DTranspose(4, 3, output_padding=1)
    with pytest.raises(ValueError, match="output_padding=-1"):
        keras.layers.Conv2DTranspose(4, 3, strides=2, output_padding=-1)
    with pytest.raises(ValueError, match="output_padding='a'"):
        keras.layers.Conv2DTranspose(4, 3, strides=2, output_padding="a")


@pytest.mark.parametrize("kernel_size,strides,padding,output_padding,dilation", [
    (3, 2, "same", 1, 1), (3, 2, "valid", 1, 1), (2, 3, "valid", None, 1),
    (2, 3, "same", 2, 1), (4, 2, "same", 0, 1), ((3, 2), (2, 3), "valid", (1, 2), 1),
    (3, 1, "same", None, 2), (3, 1, "valid", 0, 2), (1, 2, "valid", None, 1)])
def test_conv2d_transpose_matches_keras(kernel_size, strides, padding, output_padding,
                                        dilation):
    """Shapes and values of Keras 3's Conv2DTranspose, output_padding included."""
    k3 = pytest.importorskip("keras")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 5, 4, 3)).astype(np.float32)
    ours = keras.layers.Conv2DTranspose(4, kernel_size, strides=strides, padding=padding,
                                        output_padding=output_padding, dilation_rate=dilation,
                                        bias_initializer="random_normal")
    theirs = k3.layers.Conv2DTranspose(4, kernel_size, strides=strides, padding=padding,
                                       output_padding=output_padding, dilation_rate=dilation)
    y = np.asarray(ours(x).value)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    want = np.asarray(k3.ops.convert_to_numpy(theirs(x)))
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    config = ours.get_config()
    assert config["output_padding"] == (None if output_padding is None
                                        else list(ours.output_padding))
    again = keras.layers.Conv2DTranspose.from_config(config)
    assert again.output_padding == ours.output_padding


def ref_depthwise(x, w, b, strides, padding, dilation):
    c, m = w.shape[2], w.shape[3]
    outs = [ref_conv(x[..., ch:ch + 1], w[:, :, ch:ch + 1, j:j + 1], None, strides, padding,
                     dilation) for ch in range(c) for j in range(m)]
    return np.concatenate(outs, axis=-1) + (0 if b is None else b)


@pytest.mark.parametrize("kernel_size,strides,padding,dilation,multiplier", [
    (3, 1, "valid", 1, 1), (3, 2, "same", 1, 2), ((2, 3), 1, "same", 2, 3), (1, 1, "valid", 1, 2)])
def test_depthwise_and_separable_values_and_gradients(kernel_size, strides, padding, dilation,
                                                      multiplier):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    s = (strides, strides) if isinstance(strides, int) else strides
    d = (dilation, dilation)
    dw_layer = keras.layers.DepthwiseConv2D(kernel_size, strides=strides, padding=padding,
                                            dilation_rate=dilation, depth_multiplier=multiplier,
                                            bias_initializer="random_normal")
    sep = keras.layers.SeparableConv2D(4, kernel_size, strides=strides, padding=padding,
                                       dilation_rate=dilation, depth_multiplier=multiplier,
                                       bias_initializer="random_normal")
    for layer in (dw_layer, sep):
        with GradientTape():
            xt = keras.ops.convert_to_tensor(x)
            xt.requires_grad = True
            y = layer(xt)
            r = rng.standard_normal(y.shape).astype(np.float32)
            loss = keras.ops.sum(y * r)
        weights = layer.weights
        grads = gradients(loss, [xt] + weights)
        vals = [w.numpy().astype(np.float64) for w in weights]

        def f(xx, *ws):
            if layer is dw_layer:
                out = ref_depthwise(xx, ws[0], ws[1], s, padding, d)
            else:
                mid = ref_depthwise(xx, ws[0], None, s, padding, d)
                out = ref_conv(mid, ws[1], ws[2], (1, 1), "valid", (1, 1))
            return out

        np.testing.assert_allclose(y.numpy(), f(x.astype(np.float64), *vals), rtol=1e-5, atol=1e-5)
        eps = 1e-4
        args = [x.astype(np.float64)] + vals
        for pos, g in enumerate(grads):
            idx = tuple(min(1, n - 1) for n in args[pos].shape)
            ap = [a.copy() for a in args]
            am = [a.copy() for a in args]
            ap[pos][idx] += eps
            am[pos][idx] -= eps
            numeric = (np.sum(f(*ap) * r) - np.sum(f(*am) * r)) / (2 * eps)
            assert g[idx] == pytest.approx(numeric, rel=1e-3, abs=1e-3), (layer.name, pos)


def test_depthwise_and_separable_weights_and_config():
    d = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)
    d(np.zeros((1, 5, 5, 4), np.float32))
    assert [(w.name, w.shape) for w in d.weights] == [("kernel", (3, 3, 4, 2)), ("bias", (8,))]
    s = keras.layers.SeparableConv2D(6, 3, depth_multiplier=2)
    s(np.zeros((1, 5, 5, 4), np.float32))
    assert [(w.name, w.shape) for w in s.weights] == [
        ("depthwise_kernel", (3, 3, 4, 2)), ("pointwise_kernel", (1, 1, 8, 6)), ("bias", (6,))]
    assert s.get_config()["filters"] == 6 and s.get_config()["depth_multiplier"] == 2
    with pytest.raises(ValueError, match="depth_multiplier=0"):
        keras.layers.DepthwiseConv2D(3, depth_multiplier=0)


def test_grouped_conv2d_matches_per_group_convolutions():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
    layer = keras.layers.Conv2D(6, 3, groups=2, padding="same", bias_initializer="random_normal")
    with GradientTape():
        xt = keras.ops.convert_to_tensor(x)
        xt.requires_grad = True
        y = layer(xt)
        loss = keras.ops.sum(y * y)
    gx, _gw = gradients(loss, [xt, layer.kernel])
    assert layer.kernel.shape == (3, 3, 2, 6)
    w, b = layer.kernel.numpy(), layer.bias.numpy()
    want = np.concatenate([ref_conv(x[..., :2], w[..., :3], b[:3], (1, 1), "same", (1, 1)),
                           ref_conv(x[..., 2:], w[..., 3:], b[3:], (1, 1), "same", (1, 1))], -1)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-5)
    eps, idx = 1e-3, (1, 2, 3, 3)
    xp, xm = x.astype(np.float64), x.astype(np.float64)
    xp[idx] += eps
    xm[idx] -= eps

    def f(xx):
        out = np.concatenate([ref_conv(xx[..., :2], w[..., :3], b[:3], (1, 1), "same", (1, 1)),
                              ref_conv(xx[..., 2:], w[..., 3:], b[3:], (1, 1), "same", (1, 1))], -1)
        return np.sum(out * out)
    assert gx[idx] == pytest.approx((f(xp) - f(xm)) / (2 * eps), rel=1e-3)
    with pytest.raises(ValueError, match="divisible"):
        keras.layers.Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match="divisible"):
        keras.layers.Conv2D(6, 3, groups=4)(np.zeros((1, 5, 5, 6), np.float32))


@pytest.mark.parametrize("padding,output_padding", [("same", 1), ("valid", 1), ("same", (0, 1))])
def test_conv2d_transpose_output_padding_gradients(padding, output_padding):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 3, 2)).astype(np.float64)
    layer = keras.layers.Conv2DTranspose(3, 3, strides=2, padding=padding,
                                         output_padding=output_padding,
                                         bias_initializer="random_normal")
    y0 = layer(x.astype(np.float32))
    r = rng.standard_normal(y0.shape)

    def f(xx):
        return float(np.sum(np.asarray(layer(xx.astype(np.float32)).value, np.float64) * r))
    with GradientTape():
        xt = keras.ops.convert_to_tensor(x.astype(np.float32))
        xt.requires_grad = True
        loss = keras.ops.sum(layer(xt) * r.astype(np.float32))
    gx, gw = gradients(loss, [xt, layer.kernel])
    for idx in [(0, 0, 0, 0), (1, 3, 2, 1), (0, 2, 1, 0)]:
        xp, xm = x.copy(), x.copy()
        xp[idx] += 1e-2
        xm[idx] -= 1e-2
        assert gx[idx] == pytest.approx((f(xp) - f(xm)) / 2e-2, rel=1e-2, abs=1e-3)
    w0 = layer.kernel.numpy().copy()
    for idx in [(0, 0, 0, 0), (2, 1, 2, 1)]:
        vals = []
        for d in (1e-2, -1e-2):
            w = w0.copy()
            w[idx] += d
            layer.kernel.assign(w)
            vals.append(f(x))
        layer.kernel.assign(w0)
        assert gw[idx] == pytest.approx((vals[0] - vals[1]) / 2e-2, rel=1e-2, abs=1e-3)


def test_training_step_skips_unneeded_input_gradient_and_reuses_im2col(monkeypatch):
    """In a fit step the first Conv2D (its input is the data) is asked for no input gradient,
    and a Conv2D with enough channels for im2col hands its forward columns to the backward."""
    import fastkeras.ops.conv2d as conv_ops

    real = conv_ops._core
    calls = []

    class Recorder:
        def __getattr__(self, name):
            return getattr(real, name)

        def conv2d_backward(self, x, w, y, dy, relu, dx, dw, db, strides, pads, dilation,
                            col=None):
            calls.append((x.shape[-1], dx is None, col is None))
            return real.conv2d_backward(x, w, y, dy, relu, dx, dw, db, strides, pads,
                                        dilation, col)

    monkeypatch.setattr(conv_ops, "_core", Recorder())
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input(shape=(10, 10, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),  # 8 channels on: im2col + GEMM
        keras.layers.Conv2D(6, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((8, 10, 10, 1)).astype(np.float32)
    y = np.arange(8) % 3
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    by_channels = {c: (no_dx, no_col) for c, no_dx, no_col in calls}
    assert by_channels[1][0], "the first layer computed an input gradient nobody needs"
    assert not by_channels[8][0], "the second layer must pass a gradient to the first"
    assert not by_channels[8][1], "the second layer rebuilt its im2col in the backward pass"


def test_sequential_fuses_first_conv_relu_maxpool_with_the_same_training(monkeypatch):
    """A Sequential model starting Conv2D(relu) -> MaxPooling2D(2) on the data runs the pair as
    one op (no convolution output in memory); the same network as a functional model runs the
    two layers. Both must train alike: same predictions, losses and weights."""
    from fastkeras.layers.conv2d import fused_conv_pool

    rng = np.random.default_rng(4)
    x = rng.random((64, 12, 12, 2)).astype(np.float32)
    y = rng.integers(0, 3, 64)

    def layers():
        return [keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]

    keras.utils.set_random_seed(1)
    seq = keras.Sequential([keras.Input((12, 12, 2))] + layers())
    inp = keras.Input((12, 12, 2))
    out = inp
    for layer in layers():
        out = layer(out)
    fun = keras.Model(inp, out)
    fun.set_weights(seq.get_weights())
    xt = keras.ops.convert_to_tensor(x)
    fused = fused_conv_pool(seq.layers[0], seq.layers[1], xt)
    if fused is None:
        pytest.skip("the fused kernel needs AVX-512")
    np.testing.assert_array_equal(fused.numpy(), seq.layers[1](seq.layers[0](xt)).numpy())
    import fastkeras.layers.conv2d as conv_layers
    calls = []
    real = conv_layers.conv2d_relu_max_pool2d
    monkeypatch.setattr(conv_layers, "conv2d_relu_max_pool2d",
                        lambda *a: calls.append(1) or real(*a))
    for m in (seq, fun):
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    hs = seq.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    seq_calls = len(calls)
    assert seq_calls >= 12  # every training step of the Sequential model took the fused op
    hf = fun.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    assert len(calls) == seq_calls  # the functional model ran the layers
    np.testing.assert_allclose(hs, hf, rtol=1e-5)
    for a, b in zip(seq.get_weights(), fun.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(seq.predict(x, verbose=0), fun.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    # Input that needs a gradient, 'same' padding or a pool of 3: the layers run one by one.
    conv, pool = seq.layers[0], seq.layers[1]
    xg = keras.ops.convert_to_tensor(x)
    xg.requires_grad = True
    assert fused_conv_pool(conv, pool, xg) is None
    assert fused_conv_pool(conv, keras.layers.MaxPooling2D(3), xt) is None
    same = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
    same(xt)
    assert same.built and fused_conv_pool(same, pool, xt) is None


@pytest.mark.parametrize("xs, ws, strides, pads", [
    ((2, 9, 9, 32), (3, 3, 32, 24), (1, 1), (0, 0)),   # Winograd on AVX-512
    ((2, 9, 9, 32), (3, 3, 32, 24), (2, 2), (1, 1)),   # strided: im2col
    ((2, 9, 9, 1), (3, 3, 1, 24), (1, 1), (0, 0)),     # direct on AVX-512
    ((2, 9, 9, 8), (1, 1, 8, 24), (1, 1), (0, 0)),     # 1x1: no im2col
    ((2, 9, 9, 8), (3, 3, 8, 24), (1, 1), (1, 1)),     # 8 channels: im2col
])
def test_conv2d_uses_im2col_says_when_keep_col_is_filled(xs, ws, strides, pads):
    """ops.conv2d allocates the kept im2col only for shapes that build one."""
    from fastkeras import _core
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    oh = (xs[1] + 2 * pads[0] - ws[0]) // strides[0] + 1
    ow = (xs[2] + 2 * pads[1] - ws[1]) // strides[1] + 1
    y = np.empty((xs[0], oh, ow, ws[3]), np.float32)
    col = np.empty((xs[0] * oh * ow, ws[0] * ws[1] * xs[3]), np.float32)
    filled = _core.conv2d_forward(x, w, None, y, strides, pads, (1, 1), False, col)
    assert _core.conv2d_uses_im2col(xs, ws, strides, pads, (1, 1)) == filled
