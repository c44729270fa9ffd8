"""Every convolution and pooling layer, in both data formats: finite-difference gradient checks
of the input and every weight (central differences of the layer's own float32 output; the layers
are linear in each argument separately, so the differences are exact up to rounding), channels_first
against transposed channels_last, Keras's output shapes, weight layouts, get_config round trips,
and bad-argument errors."""

import zlib

import numpy as np
import pytest

import fastkeras as keras
from fastkeras.backend import GradientTape, gradients

L = keras.layers



# (factory taking data_format, input shape in channels_last without the batch, is_max_type)
LAYERS = {
    "conv1d_same_s2": (lambda df: L.Conv1D(3, 3, strides=2, padding="same", data_format=df,
                                           bias_initializer="random_normal"), (9, 2), False),
    "conv1d_causal_d2": (lambda df: L.Conv1D(3, 3, padding="causal", dilation_rate=2,
                                             data_format=df), (9, 2), False),
    "conv2d_same_s2": (lambda df: L.Conv2D(3, 3, strides=2, padding="same", data_format=df,
                                           bias_initializer="random_normal"), (7, 6, 2), False),
    "conv2d_valid_d2": (lambda df: L.Conv2D(3, (3, 2), dilation_rate=2, data_format=df),
                        (8, 7, 2), False),
    "conv2d_groups": (lambda df: L.Conv2D(4, 3, groups=2, padding="same", data_format=df),
                      (5, 6, 4), False),
    "conv2d_transpose_same_s2": (lambda df: L.Conv2DTranspose(3, 3, strides=2, padding="same",
                                                              data_format=df,
                                                              bias_initializer="random_normal"),
                                 (4, 3, 2), False),
    "conv2d_transpose_valid_d2": (lambda df: L.Conv2DTranspose(2, 2, dilation_rate=2,
                                                               data_format=df), (4, 5, 3), False),
    "depthwise_same_s2_m2": (lambda df: L.DepthwiseConv2D(3, strides=2, padding="same",
                                                          depth_multiplier=2, data_format=df,
                                                          bias_initializer="random_normal"),
                             (7, 6, 3), False),
    "separable_valid": (lambda df: L.SeparableConv2D(4, 3, depth_multiplier=2, data_format=df,
                                                     bias_initializer="random_normal"),
                        (6, 5, 3), False),
    "maxpool2d_same": (lambda df: L.MaxPooling2D(2, padding="same", data_format=df), (5, 7, 3),
                       True),
    "maxpool2d_overlap": (lambda df: L.MaxPooling2D(3, strides=1, data_format=df), (5, 6, 2),
                          True),
    "avgpool2d_same_s2": (lambda df: L.AveragePooling2D(3, strides=2, padding="same",
                                                        data_format=df), (5, 6, 2), False),
    "maxpool1d": (lambda df: L.MaxPooling1D(3, strides=2, data_format=df), (9, 3), True),
    "avgpool1d_same": (lambda df: L.AveragePooling1D(2, padding="same", data_format=df),
                       (7, 3), False),
    "global_avg2d": (lambda df: L.GlobalAveragePooling2D(data_format=df), (4, 5, 3), False),
    "global_max2d_keepdims": (lambda df: L.GlobalMaxPooling2D(data_format=df, keepdims=True),
                              (4, 5, 3), True),
    "global_avg1d_keepdims": (lambda df: L.GlobalAveragePooling1D(data_format=df, keepdims=True),
                              (6, 3), False),
    "global_max1d": (lambda df: L.GlobalMaxPooling1D(data_format=df), (6, 3), True),
}


def to_first(a):
    """channels_last -> channels_first for a 3-D or 4-D batch."""
    return np.moveaxis(a, -1, 1)


def make_input(shape, max_type, rng):
    full = (2,) + shape
    if max_type:  # distinct values 0.1 apart: a small step never changes which cell wins
        return (rng.permutation(np.prod(full)).reshape(full) * 0.1).astype(np.float32)
    return rng.standard_normal(full).astype(np.float32)


def loss_and_grads(layer, x, r):
    with GradientTape():
        xt = keras.ops.convert_to_tensor(x)
        xt.requires_grad = True
        y = layer(xt)
        loss = keras.ops.sum(y * r)
    return y.numpy(), gradients(loss, [xt] + list(layer.weights))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_finite_difference_gradients(name, data_format):
    factory, shape, max_type = LAYERS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = make_input(shape, max_type, rng)
    if data_format == "channels_first":
        x = np.ascontiguousarray(to_first(x))
    layer = factory(data_format)
    y = layer(x)
    r = rng.standard_normal(y.shape).astype(np.float32)
    _, grads = loss_and_grads(layer, x, r)
    assert grads[0].shape == x.shape
    eps = 0.02 if max_type else 0.05

    def f(xx):
        return float(np.sum(layer(xx).numpy().astype(np.float64) * r))

    # The input.
    for k in rng.choice(x.size, min(10, x.size), replace=False):
        idx = np.unravel_index(k, x.shape)
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        numeric = (f(xp) - f(xm)) / (2 * eps)
        assert grads[0][idx] == pytest.approx(numeric, rel=2e-3, abs=2e-3), ("input", idx)
    # Every weight.
    for var, g in zip(layer.weights, grads[1:]):
        assert g.shape == tuple(var.shape)
        value = var.numpy().copy()
        # Every entry of small weights (at most 64 checked per weight).
        for k in rng.choice(value.size, min(64, value.size), replace=False):
            idx = np.unravel_index(k, value.shape)
            vp, vm = value.copy(), value.copy()
            vp[idx] += eps
            vm[idx] -= eps
            var.assign(vp)
            fp = f(x)
            var.assign(vm)
            fm = f(x)
            var.assign(value)
            assert g[idx] == pytest.approx((fp - fm) / (2 * eps), rel=2e-3, abs=2e-3), \
                (var.name, idx)


@pytest.mark.parametrize("name", list(LAYERS))
def test_channels_first_is_channels_last_transposed(name):
    factory, shape, max_type = LAYERS[name]
    rng = np.random.default_rng(7)
    x = make_input(shape, max_type, rng)
    last, first = factory("channels_last"), factory("channels_first")
    y_last = last(x).numpy()
    first(np.ascontiguousarray(to_first(x)))
    first.set_weights(last.get_weights())  # the same weight layouts in both formats
    keep = getattr(last, "keepdims", True)
    r = rng.standard_normal(y_last.shape).astype(np.float32)
    r_first = np.ascontiguousarray(to_first(r)) if keep or y_last.ndim > 2 else r
    y1, g_last = loss_and_grads(last, x, r)
    y2, g_first = loss_and_grads(first, np.ascontiguousarray(to_first(x)), r_first)
    y2_last = np.moveaxis(y2, 1, -1) if y2.ndim > 2 else y2
    np.testing.assert_allclose(y2_last, y1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.moveaxis(g_first[0], 1, -1), g_last[0], rtol=1e-5, atol=1e-5)
    for a, b in zip(g_first[1:], g_last[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


SHAPES = [
    (lambda: L.Conv2D(16, (3, 3)), (32, 32, 3), (None, 30, 30, 16)),
    (lambda: L.Conv2D(16, (3, 3), padding="SAME"), (32, 32, 3), (None, 32, 32, 16)),
    (lambda: L.MaxPooling2D((3, 3)), (30, 30, 16), (None, 10, 10, 16)),
    (lambda: L.Conv2D(4, 3, strides=3, padding="same"), (10, 7, 1), (None, 4, 3, 4)),
    (lambda: L.Conv2D(4, 3, dilation_rate=2), (10, 10, 1), (None, 6, 6, 4)),
    (lambda: L.Conv2D(8, 3, data_format="channels_first"), (3, 32, 32), (None, 8, 30, 30)),
    (lambda: L.MaxPooling2D(2, strides=1, padding="same"), (5, 5, 3), (None, 5, 5, 3)),
    (lambda: L.AveragePooling2D(3, strides=2), (7, 7, 1), (None, 3, 3, 1)),
    (lambda: L.MaxPooling2D(2, data_format="channels_first"), (3, 7, 6), (None, 3, 3, 3)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2), (5, 5, 2), (None, 11, 11, 4)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same"), (5, 5, 2), (None, 10, 10, 4)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same", data_format="channels_first"),
     (2, 5, 5), (None, 4, 10, 10)),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=2), (8, 8, 3), (None, 6, 6, 6)),
    (lambda: L.SeparableConv2D(5, 3, strides=2, padding="same"), (9, 9, 3), (None, 5, 5, 5)),
    (lambda: L.Conv1D(4, 3, padding="causal", dilation_rate=2), (10, 2), (None, 10, 4)),
    (lambda: L.Conv1D(4, 3, strides=2), (10, 2), (None, 4, 4)),
    (lambda: L.MaxPooling1D(2), (9, 3), (None, 4, 3)),
    (lambda: L.AveragePooling1D(3, strides=2, padding="same"), (8, 2), (None, 4, 2)),
    (lambda: L.GlobalAveragePooling1D(keepdims=True), (9, 3), (None, 1, 3)),
    (lambda: L.GlobalMaxPooling2D(), (4, 4, 6), (None, 6)),
    (lambda: L.GlobalAveragePooling2D(data_format="channels_first", keepdims=True), (6, 4, 4),
     (None, 6, 1, 1)),
]


@pytest.mark.parametrize("factory,in_shape,out_shape", SHAPES)
def test_keras_output_shapes(factory, in_shape, out_shape):
    model = keras.Sequential([keras.Input(shape=in_shape), factory()])
    assert model.output_shape == out_shape
    y = model.predict(np.zeros((2,) + in_shape, np.float32), verbose=0)
    assert y.shape == (2,) + out_shape[1:]


def test_notes_cnn_flattens_to_1600():
    model = keras.Sequential([L.Conv2D(16, (3, 3), activation="relu", input_shape=(32, 32, 3)),
                              L.MaxPooling2D((3, 3)), L.Flatten()])
    assert model.output_shape == (None, 1600)
    assert model.layers[0].kernel.shape == (3, 3, 3, 16)
    assert model.layers[0].bias.shape == (16,)


def test_keras_weight_layouts():
    def built(layer, shape):
        layer(np.zeros((1,) + shape, np.float32))
        return [(w.name, tuple(w.shape)) for w in layer.weights]

    assert built(L.Conv1D(5, 3), (8, 2)) == [("kernel", (3, 2, 5)), ("bias", (5,))]
    assert built(L.Conv2D(6, (3, 2), groups=3), (5, 5, 9)) == [("kernel", (3, 2, 3, 6)),
                                                               ("bias", (6,))]
    assert built(L.Conv2D(6, 3, data_format="channels_first", use_bias=False), (4, 5, 5)) == [
        ("kernel", (3, 3, 4, 6))]
    assert built(L.Conv2DTranspose(6, 3), (5, 5, 4)) == [("kernel", (3, 3, 6, 4)),
                                                         ("bias", (6,))]
    assert built(L.DepthwiseConv2D(3, depth_multiplier=3), (5, 5, 4)) == [
        ("kernel", (3, 3, 4, 3)), ("bias", (12,))]
    assert built(L.SeparableConv2D(7, 3), (5, 5, 4)) == [
        ("depthwise_kernel", (3, 3, 4, 1)), ("pointwise_kernel", (1, 1, 4, 7)), ("bias", (7,))]
    for pool in (L.MaxPooling2D(), L.AveragePooling1D(), L.GlobalMaxPooling2D()):
        assert pool.weights == []


CONFIG_LAYERS = [
    (lambda: L.Conv1D(4, 3, strides=2, padding="causal", activation="relu"), (9, 2)),
    (lambda: L.Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="tanh",
                      use_bias=False, kernel_regularizer="l2"), (7, 6, 2)),
    (lambda: L.Conv2D(4, 3, dilation_rate=2, data_format="channels_first", groups=2),
     (2, 8, 8)),
    (lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same"), (4, 4, 2)),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu"), (6, 6, 3)),
    (lambda: L.SeparableConv2D(4, 3, padding="same"), (6, 6, 3)),
    (lambda: L.MaxPooling2D((3, 2), strides=(1, 2), padding="same"), (6, 6, 3)),
    (lambda: L.AveragePooling2D(2, data_format="channels_first"), (3, 6, 6)),
    (lambda: L.MaxPooling1D(3, strides=1), (8, 2)),
    (lambda: L.AveragePooling1D(2, padding="same"), (7, 2)),
    (lambda: L.GlobalAveragePooling2D(keepdims=True), (4, 4, 2)),
    (lambda: L.GlobalMaxPooling1D(data_format="channels_first"), (2, 5)),
]


@pytest.mark.parametrize("factory,shape", CONFIG_LAYERS)
def test_get_config_round_trip(factory, shape):
    layer = factory()
    x = np.random.default_rng(1).standard_normal((2,) + shape).astype(np.float32)
    y = layer(x).numpy()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), y, rtol=1e-6, atol=1e-6)


def test_keras_config_keys():
    conv = L.Conv2D(8, 3).get_config()
    for key in ("name", "trainable", "dtype", "filters", "kernel_size", "strides", "padding",
                "data_format", "dilation_rate", "groups", "activation", "use_bias",
                "kernel_initializer", "bias_initializer", "kernel_regularizer",
                "bias_regularizer", "activity_regularizer", "kernel_constraint",
                "bias_constraint"):
        assert key in conv, key
    assert conv["strides"] == (1, 1) and conv["dilation_rate"] == (1, 1)
    assert conv["padding"] == "valid" and conv["data_format"] == "channels_last"
    pool = L.MaxPooling2D().get_config()
    assert {k: pool[k] for k in ("pool_size", "strides", "padding", "data_format")} == {
        "pool_size": (2, 2), "strides": (2, 2), "padding": "valid",
        "data_format": "channels_last"}
    assert L.GlobalAveragePooling2D().get_config()["keepdims"] is False


def test_aliases():
    assert L.Convolution2D is L.Conv2D and L.Convolution1D is L.Conv1D
    assert L.Convolution2DTranspose is L.Conv2DTranspose
    assert L.SeparableConvolution2D is L.SeparableConv2D
    assert L.MaxPool2D is L.MaxPooling2D and L.AvgPool2D is L.AveragePooling2D
    assert L.MaxPool1D is L.MaxPooling1D and L.AvgPool1D is L.AveragePooling1D
    assert L.GlobalAvgPool2D is L.GlobalAveragePooling2D
    assert L.GlobalMaxPool2D is L.GlobalMaxPooling2D
    assert L.GlobalAvgPool1D is L.GlobalAveragePooling1D
    assert L.GlobalMaxPool1D is L.GlobalMaxPooling1D


@pytest.mark.parametrize("make,match", [
    (lambda: L.Conv2D(8, 3, strides=0), "strides=0"),
    (lambda: L.Conv2D(8, 3, dilation_rate=(1, 0)), r"dilation_rate=\(1, 0\)"),
    (lambda: L.Conv2D(8, 3, data_format="NHWC"), "data_format='NHWC'"),
    (lambda: L.Conv2D(8, (3, 3, 3)), r"kernel_size=\(3, 3, 3\)"),
    (lambda: L.Conv2D(-2, 3), "filters=-2"),
    (lambda: L.Conv2D(8, 3, padding="full"), "padding='full'"),
    (lambda: L.Conv1D(4, 0), "kernel_size=0"),
    (lambda: L.Conv1D(4, 3, strides=-1), "strides=-1"),
    (lambda: L.MaxPooling2D(2, padding="full"), "padding='full'"),
    (lambda: L.AveragePooling2D(2, strides=-1), "strides=-1"),
    (lambda: L.MaxPooling1D(0), "pool_size=0"),
    (lambda: L.AveragePooling1D(2, data_format="NWC"), "data_format='NWC'"),
    (lambda: L.GlobalMaxPooling2D(data_format="NHWC"), "data_format='NHWC'"),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier=0"),
    (lambda: L.SeparableConv2D(0, 3), "filters=0"),
    (lambda: L.Conv2DTranspose(4, 3, strides=(2, 0)), r"strides=\(2, 0\)"),
])
def test_bad_arguments_name_the_argument_and_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("layer,shape", [
    (lambda: L.Conv2D(8, 5), (3, 3, 1)),
    (lambda: L.Conv2D(8, 3, dilation_rate=3), (6, 6, 1)),
    (lambda: L.MaxPooling2D(3), (2, 2, 1)),
    (lambda: L.DepthwiseConv2D(4), (3, 5, 2)),
    (lambda: L.Conv1D(2, 6), (4, 1)),
    (lambda: L.MaxPooling1D(5), (4, 1)),
])
def test_too_small_input_names_the_layer_and_shape(layer, shape):
    lay = layer()
    with pytest.raises(ValueError) as info:
        lay(np.zeros((1,) + shape, np.float32))
    message = str(info.value)
    assert lay.name in message and str(shape[0]) in message, message
