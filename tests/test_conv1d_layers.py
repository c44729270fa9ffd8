"""Conv1D and 1-D pooling against a float64 NumPy reference, with gradients."""

import numpy as np
import pytest

import fastkeras as keras
from fastkeras.backend import GradientTape, gradients
from fastkeras.ops.conv2d import same_padding


def ref_conv1d(x, w, b, stride, padding, dilation):
    n, steps, _c = x.shape
    k, _, f = w.shape
    if padding == "causal":
        left, right = dilation * (k - 1), 0
    elif padding == "same":
        left, right = same_padding(steps, k, stride, dilation)
    else:
        left = right = 0
    xp = np.pad(x.astype(np.float64), ((0, 0), (left, right), (0, 0)))
    out_len = (xp.shape[1] - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((n, out_len, f))
    for t in range(out_len):
        for j in range(k):
            out[:, t] += xp[:, t * stride + j * dilation] @ w[j].astype(np.float64)
    return out + b


@pytest.mark.parametrize("kernel_size,strides,padding,dilation", [
    (3, 1, "valid", 1), (3, 1, "same", 1), (3, 1, "causal", 1), (4, 2, "same", 1),
    (3, 1, "causal", 2), (1, 1, "valid", 1), (9, 1, "valid", 1)])
def test_conv1d_values_and_gradients(kernel_size, strides, padding, dilation):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 3)).astype(np.float32)
    layer = keras.layers.Conv1D(4, kernel_size, strides=strides, padding=padding,
                                dilation_rate=dilation, bias_initializer="random_normal")
    with GradientTape():
        xt = keras.ops.convert_to_tensor(x)
        xt.requires_grad = True
        y = layer(xt)
        r = rng.standard_normal(y.shape).astype(np.float32)
        loss = keras.ops.sum(y * r)
    gx, gw, gb = gradients(loss, [xt, layer.kernel, layer.bias])
    assert layer.kernel.shape == (kernel_size, 3, 4)
    w, b = layer.kernel.numpy(), layer.bias.numpy()
    np.testing.assert_allclose(y.numpy(), ref_conv1d(x, w, b, strides, padding, dilation),
                               rtol=1e-5, atol=1e-5)

    def f(xx, ww, bb):
        return float(np.sum(ref_conv1d(xx, ww, bb, strides, padding, dilation) * r))

    eps = 1e-4
    x64, w64, b64 = x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)
    for pos, grad, idx in [(0, gx, (1, 4, 2)), (1, gw, (kernel_size - 1, 1, 3)), (2, gb, (2,))]:
        args_p, args_m = [x64.copy(), w64.copy(), b64.copy()], [x64.copy(), w64.copy(), b64.copy()]
        args_p[pos][idx] += eps
        args_m[pos][idx] -= eps
        numeric = (f(*args_p) - f(*args_m)) / (2 * eps)
        assert grad[idx] == pytest.approx(numeric, rel=1e-3, abs=1e-3)


def test_causal_output_never_sees_the_future():
    x = np.zeros((1, 8, 1), np.float32)
    layer = keras.layers.Conv1D(1, 3, padding="causal", kernel_initializer="ones",
                                use_bias=False)
    x[0, 5, 0] = 1.0
    y = layer(x).numpy()[0, :, 0]
    assert y.shape == (8,) and (y[:5] == 0).all() and (y[5:] == 1).all()


@pytest.mark.parametrize("cls,fn", [(keras.layers.MaxPooling1D, np.max),
                                    (keras.layers.AveragePooling1D, np.mean)])
def test_pooling1d(cls, fn):
    x = np.random.default_rng(1).standard_normal((2, 7, 3)).astype(np.float32)
    y = cls(2)(x).numpy()
    want = np.stack([fn(x[:, 2 * t:2 * t + 2], axis=1) for t in range(3)], axis=1)
    np.testing.assert_allclose(y, want, rtol=1e-6)
    assert cls(2, padding="same")(x).shape == (2, 4, 3)
    assert cls(3, strides=1)(x).shape == (2, 5, 3)
    xf = x.transpose(0, 2, 1)
    np.testing.assert_allclose(cls(2, data_format="channels_first")(xf).numpy(),
                               want.transpose(0, 2, 1), rtol=1e-6)


def test_global_pooling1d_and_shapes():
    x = np.random.default_rng(2).standard_normal((2, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(keras.layers.GlobalAveragePooling1D()(x).numpy(), x.mean(1), rtol=1e-6)
    np.testing.assert_allclose(keras.layers.GlobalMaxPooling1D()(x).numpy(), x.max(1))
    model = keras.Sequential([
        keras.Input(shape=(20, 8)),
        keras.layers.Conv1D(16, 3, activation="relu"),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(8, 3, padding="same"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(1),
    ])
    assert [l.output_shape for l in model.layers] == [(None, 18, 16), (None, 9, 16),
                                                      (None, 9, 8), (None, 8), (None, 1)]
    assert [l.name for l in model.layers][:2] == ["conv1d", "max_pooling1d"]


def test_conv1d_errors_and_config():
    with pytest.raises(ValueError, match="kernel_size=0"):
        keras.layers.Conv1D(4, 0)
    with pytest.raises(ValueError, match="expected ndim=3"):
        keras.layers.Conv1D(4, 3)(np.zeros((1, 5, 5, 1), np.float32))
    cfg = keras.layers.Conv1D(4, 3, padding="causal").get_config()
    assert cfg["kernel_size"] == (3,) and cfg["padding"] == "causal" and cfg["strides"] == (1,)


def test_global_average_pooling_1d_averages_unmasked_steps_as_keras():
    """Embedding(mask_zero=True) -> GlobalAveragePooling1D: the mean over the real tokens only,
    as Keras's (the text-classification pattern of the Keras guides)."""
    keras3 = pytest.importorskip("keras")
    tokens = np.array([[3, 4, 5, 0, 0], [6, 0, 0, 0, 0], [1, 2, 3, 4, 5]])
    table = np.arange(40, dtype=np.float32).reshape(20, 2)
    outs = []
    for lib in (keras, keras3):
        inp = lib.Input((None,), dtype="int32")
        emb = lib.layers.Embedding(20, 2, mask_zero=True)
        model = lib.Model(inp, lib.layers.GlobalAveragePooling1D()(emb(inp)))
        emb.set_weights([table])
        outs.append(np.asarray(model.predict(tokens, verbose=0)))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    np.testing.assert_allclose(outs[0][1], table[6])  # one real token: its own vector
