"""3-D layers (Conv3D, Conv3DTranspose, 3-D pooling, UpSampling3D, ZeroPadding3D, Cropping3D,
SpatialDropout3D): outputs against real Keras with the same weights, finite-difference
gradients, configs, training and .keras files both ways, argument errors."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.backend import GradientTape, Tensor, gradients
from gradcheck import check_grads, leaf
from keras_files import check_keras_file_both_ways


def _keras():
    return pytest.importorskip("keras")


def _to_np(y):
    keras = _keras()
    return keras.ops.convert_to_numpy(y)


def _both(name, kwargs, x, weights_from_ours=True):
    """(ours, Keras's) outputs of layer `name` on x, Keras's weights copied from ours."""
    keras = _keras()
    ours = getattr(fk.layers, name)(**kwargs)
    y = np.asarray(ours(x))
    theirs = getattr(keras.layers, name)(**kwargs)
    theirs.build(x.shape)
    if ours.weights:
        theirs.set_weights([np.asarray(w.value) for w in ours.weights])
        assert [tuple(w.shape) for w in theirs.weights] == \
            [tuple(w.value.shape) for w in ours.weights]
    return y, _to_np(theirs(x))


CONV_CASES = [
    dict(filters=4, kernel_size=3),
    dict(filters=3, kernel_size=(2, 3, 1), strides=(2, 1, 3), padding="same"),
    dict(filters=2, kernel_size=(3, 2, 2), padding="same", dilation_rate=(2, 1, 2)),
    dict(filters=4, kernel_size=2, strides=2, groups=2, activation="relu"),
    dict(filters=6, kernel_size=(1, 3, 3), groups=2, padding="same", use_bias=False),
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv3d_matches_keras(case, data_format):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 7, 6, 4)).astype(np.float32)
    if data_format == "channels_first":
        x = x.transpose(0, 4, 1, 2, 3).copy()
    kwargs = dict(case, data_format=data_format, bias_initializer="random_normal")
    if case.get("use_bias") is False:
        kwargs.pop("bias_initializer")
    ours, theirs = _both("Conv3D", kwargs, x)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


TRANSPOSE_CASES = [
    dict(filters=3, kernel_size=3),
    dict(filters=2, kernel_size=(3, 2, 3), strides=(2, 1, 3), padding="same"),
    dict(filters=2, kernel_size=3, strides=2, output_padding=1),
    dict(filters=3, kernel_size=(2, 3, 4), strides=(3, 2, 2), padding="same",
         output_padding=(2, 0, 1)),
    dict(filters=2, kernel_size=(2, 2, 3), dilation_rate=(2, 1, 2), padding="same"),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv3d_transpose_matches_keras(case, data_format):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4, 5, 3)).astype(np.float32)
    if data_format == "channels_first":
        x = x.transpose(0, 4, 1, 2, 3).copy()
    kwargs = dict(case, data_format=data_format, bias_initializer="random_normal")
    ours, theirs = _both("Conv3DTranspose", kwargs, x)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


POOL_CASES = [
    dict(pool_size=2),
    dict(pool_size=3, strides=2),
    dict(pool_size=(2, 3, 2), strides=(1, 2, 3), padding="same"),
    dict(pool_size=(3, 1, 2), strides=1),
    dict(pool_size=3, strides=1, padding="same"),  # symmetric 'same' padding
]


@pytest.mark.parametrize("name", ["MaxPooling3D", "AveragePooling3D"])
@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_pooling3d_matches_keras(name, case, data_format):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 7, 6, 3)).astype(np.float32)
    if data_format == "channels_first":
        x = x.transpose(0, 4, 1, 2, 3).copy()
    ours, theirs = _both(name, dict(case, data_format=data_format), x)
    assert ours.shape == theirs.shape
    # Keras's torch backend replicates edge cells for an uneven 'same' average pool where
    # TensorFlow (and fastkeras) leave padded cells out; only compare where both agree.
    uneven = name == "AveragePooling3D" and case.get("padding") == "same" and \
        case.get("pool_size") != 3
    if not uneven:
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["GlobalMaxPooling3D", "GlobalAveragePooling3D"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_pooling3d_matches_keras(name, keepdims, data_format):
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5, 3)).astype(np.float32)
    ours, theirs = _both(name, dict(keepdims=keepdims, data_format=data_format), x)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kwargs", [
    ("UpSampling3D", dict(size=(2, 1, 3))),
    ("UpSampling3D", dict(size=2, data_format="channels_first")),
    ("ZeroPadding3D", dict(padding=((1, 2), (0, 1), (3, 0)))),
    ("ZeroPadding3D", dict(padding=(1, 0, 2), data_format="channels_first")),
    ("ZeroPadding3D", dict(padding=2)),
    ("Cropping3D", dict(cropping=((1, 0), (0, 2), (1, 1)))),
    ("Cropping3D", dict(cropping=1, data_format="channels_first")),
])
def test_reshaping3d_matches_keras(name, kwargs):
    x = np.random.default_rng(5).standard_normal((2, 3, 4, 5, 3)).astype(np.float32)
    ours, theirs = _both(name, kwargs, x)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_spatial_dropout3d_drops_whole_channels(data_format):
    layer = fk.layers.SpatialDropout3D(0.5, data_format=data_format, seed=1)
    assert isinstance(layer, fk.layers.SpatialDropout2D)
    x = np.ones((4, 3, 4, 2, 6), np.float32)
    if data_format == "channels_first":
        x = x.transpose(0, 4, 1, 2, 3).copy()
    y = np.asarray(layer(x, training=True))
    axes = (2, 3, 4) if data_format == "channels_first" else (1, 2, 3)
    lo, hi = y.min(axis=axes), y.max(axis=axes)
    np.testing.assert_array_equal(lo, hi)  # each (sample, channel) map all kept or all dropped
    assert set(np.unique(lo)) <= {0.0, 2.0} and 0 < (lo == 0).sum() < lo.size
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    with pytest.raises(ValueError, match="expected ndim=5"):
        layer(np.ones((2, 3, 4, 5), np.float32), training=True)


# --- gradients ---------------------------------------------------------------------------------

def _grad_check_layer(layer, x, rng, data_in=True):
    """Finite differences for the input and every weight of `layer` (float64 storage)."""
    layer(x)  # build
    for w in layer.weights:
        w.value = np.asarray(w.value, np.float64) + 0.1 * rng.standard_normal(w.value.shape)
    xt = leaf(x)
    check_grads(lambda: layer(xt), [xt] + list(layer.weights), rng, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kwargs", [
    dict(filters=2, kernel_size=(2, 3, 2), strides=(2, 1, 1), padding="same"),
    dict(filters=4, kernel_size=2, groups=2, dilation_rate=(1, 2, 1),
         data_format="channels_first"),
])
def test_conv3d_gradients(kwargs):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 5, 3, 2))
    if kwargs.get("data_format") == "channels_first":
        x = x.transpose(0, 4, 1, 2, 3).copy()
    _grad_check_layer(fk.layers.Conv3D(**kwargs), x, rng)


@pytest.mark.parametrize("kwargs", [
    dict(filters=2, kernel_size=(2, 3, 2), strides=(2, 1, 2), padding="same"),
    dict(filters=3, kernel_size=3, strides=2, output_padding=(1, 0, 1)),
    dict(filters=2, kernel_size=2, dilation_rate=2, data_format="channels_first"),
])
def test_conv3d_transpose_gradients(kwargs):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 2, 3, 2))
    _grad_check_layer(fk.layers.Conv3DTranspose(**kwargs), x, rng)


@pytest.mark.parametrize("layer", [
    lambda: fk.layers.MaxPooling3D((2, 3, 2), strides=(1, 2, 1), padding="same"),
    lambda: fk.layers.AveragePooling3D((2, 3, 2), strides=(1, 2, 1), padding="same"),
    lambda: fk.layers.AveragePooling3D(2, data_format="channels_first"),
    lambda: fk.layers.GlobalAveragePooling3D(),
    lambda: fk.layers.GlobalMaxPooling3D(keepdims=True),
    lambda: fk.layers.UpSampling3D((1, 2, 3)),
    lambda: fk.layers.ZeroPadding3D(((1, 0), (0, 2), (1, 1))),
    lambda: fk.layers.Cropping3D(((1, 0), (0, 2), (1, 1))),
])
def test_parameter_free_gradients(layer):
    rng = np.random.default_rng(8)
    x = rng.permutation(2 * 4 * 5 * 4 * 2).reshape(2, 4, 5, 4, 2) * 0.1  # no ties
    xt = leaf(x)
    lay = layer()
    check_grads(lambda: lay(xt), [xt], rng, rtol=1e-5, atol=1e-7)


def test_max_pool3d_gradient_goes_to_first_maximum_like_keras():
    keras = _keras()
    import torch
    x = np.zeros((1, 2, 2, 2, 1), np.float32)
    x[0, 1, 0, 1, 0] = x[0, 1, 1, 0, 0] = 1.0  # two tied maxima
    with GradientTape():
        xt = Tensor(x.copy(), requires_grad=True)
        y = fk.layers.MaxPooling3D(2)(xt)
        (g,) = gradients(fk.ops.sum(y), [xt])
    xk = torch.tensor(x, requires_grad=True)
    keras.layers.MaxPooling3D(2)(xk).sum().backward()
    np.testing.assert_array_equal(g, xk.grad.numpy())
    assert g[0, 1, 0, 1, 0] == 1.0 and g.sum() == 1.0


# --- shapes, configs, training and files -------------------------------------------------------

def test_weight_shapes_and_output_shapes():
    conv = fk.layers.Conv3D(6, (3, 2, 1), groups=3)
    conv.build((None, 5, 5, 5, 9))
    assert conv.kernel.shape == (3, 2, 1, 3, 6) and conv.bias.shape == (6,)
    tr = fk.layers.Conv3DTranspose(4, (3, 2, 1), strides=2, output_padding=1)
    tr.build((None, 5, 5, 5, 9))
    assert tr.kernel.shape == (3, 2, 1, 4, 9)
    assert tr.compute_output_shape((None, 5, 5, 5, 9)) == (None, 12, 11, 10, 4)
    assert fk.layers.Convolution3D is fk.layers.Conv3D
    assert fk.layers.Convolution3DTranspose is fk.layers.Conv3DTranspose
    assert fk.layers.MaxPool3D is fk.layers.MaxPooling3D
    assert fk.layers.AvgPool3D is fk.layers.AveragePooling3D
    assert fk.layers.GlobalMaxPool3D is fk.layers.GlobalMaxPooling3D
    assert fk.layers.GlobalAvgPool3D is fk.layers.GlobalAveragePooling3D


def test_global_data_format_default():
    saved = fk.config.image_data_format()
    try:
        fk.config.set_image_data_format("channels_first")
        assert fk.layers.Conv3D(2, 3).data_format == "channels_first"
        assert fk.layers.MaxPooling3D().data_format == "channels_first"
        assert fk.layers.UpSampling3D().data_format == "channels_first"
        assert fk.layers.SpatialDropout3D(0.1).data_format == "channels_first"
    finally:
        fk.config.set_image_data_format(saved)


@pytest.mark.parametrize("name, kwargs", [
    ("Conv3D", dict(filters=4, kernel_size=(1, 2, 3), strides=2, padding="same", groups=2,
                    activation="relu", kernel_regularizer="l2", bias_constraint="non_neg")),
    ("Conv3DTranspose", dict(filters=3, kernel_size=3, strides=2, output_padding=1,
                             use_bias=False)),
    ("Conv3DTranspose", dict(filters=3, kernel_size=3)),
    ("MaxPooling3D", dict(pool_size=(1, 2, 3), padding="same")),
    ("AveragePooling3D", dict(pool_size=2, strides=1)),
    ("GlobalAveragePooling3D", dict(keepdims=True)),
    ("GlobalMaxPooling3D", dict()),
    ("UpSampling3D", dict(size=(1, 2, 3))),
    ("ZeroPadding3D", dict(padding=(1, 2, 3))),
    ("Cropping3D", dict(cropping=((1, 0), (2, 3), (0, 0)))),
    ("SpatialDropout3D", dict(rate=0.3, seed=2)),
])
def test_configs_equal_keras(name, kwargs):
    keras = _keras()
    ours = getattr(fk.layers, name)(name="l", **kwargs).get_config()
    theirs = getattr(keras.layers, name)(name="l", **kwargs).get_config()
    import json

    def norm(c):
        c = json.loads(json.dumps(c, default=list))
        c.pop("dtype", None)
        return c
    assert norm(ours) == norm(theirs)


def test_model_trains_and_moves_through_keras_files(tmp_path):
    _keras()
    rng = np.random.default_rng(9)
    x = rng.standard_normal((16, 6, 6, 6, 2)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3, 4)) > 0).astype(np.float32)
    model = fk.Sequential([
        fk.Input(shape=(6, 6, 6, 2)),
        fk.layers.ZeroPadding3D(1),
        fk.layers.Conv3D(4, 3, activation="relu"),
        fk.layers.SpatialDropout3D(0.1),
        fk.layers.MaxPooling3D(2),
        fk.layers.Conv3DTranspose(4, 2, strides=2, padding="same"),
        fk.layers.Cropping3D(1),
        fk.layers.UpSampling3D((1, 2, 1)),
        fk.layers.AveragePooling3D(2),
        fk.layers.Conv3D(4, 1, groups=2, padding="same"),
        fk.layers.GlobalAveragePooling3D(),
        fk.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(x, y, verbose=0) < before
    check_keras_file_both_ways(model, x, tmp_path, keras_rtol=1e-4, keras_atol=1e-5)


# --- argument errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("make, match", [
    (lambda: fk.layers.Conv3D(0, 3), "filters=0"),
    (lambda: fk.layers.Conv3D(2, (3, 3)), r"kernel_size=\(3, 3\)"),
    (lambda: fk.layers.Conv3D(2, 3, strides=0), "strides=0"),
    (lambda: fk.layers.Conv3D(2, 3, padding="full"), "padding='full'"),
    (lambda: fk.layers.Conv3D(2, 3, data_format="nchw"), "data_format='nchw'"),
    (lambda: fk.layers.Conv3D(3, 3, groups=2), "groups=2"),
    (lambda: fk.layers.Conv3D(2, 3, strides=2, dilation_rate=2), "dilation_rate"),
    (lambda: fk.layers.Conv3DTranspose(2, 3, strides=2, output_padding=2), "output_padding"),
    (lambda: fk.layers.Conv3DTranspose(2, 3, output_padding=-1), "output_padding=-1"),
    (lambda: fk.layers.MaxPooling3D(pool_size=(2, 2)), r"pool_size=\(2, 2\)"),
    (lambda: fk.layers.AveragePooling3D(2, padding="causal"), "padding='causal'"),
    (lambda: fk.layers.UpSampling3D(size=0), "size=0"),
    (lambda: fk.layers.ZeroPadding3D(padding=(1, 2)), r"padding=\(1, 2\)"),
    (lambda: fk.layers.ZeroPadding3D(padding=-1), "padding=-1"),
    (lambda: fk.layers.Cropping3D(cropping="x"), "cropping='x'"),
])
def test_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_input_errors():
    x4 = np.ones((2, 4, 4, 3), np.float32)
    for layer in (fk.layers.Conv3D(2, 2), fk.layers.MaxPooling3D(), fk.layers.AvgPool3D(2), fk.layers.UpSampling3D(),
                  fk.layers.GlobalMaxPooling3D(), fk.layers.Cropping3D(1)):
        with pytest.raises(ValueError, match="ndim=5"):
            layer(x4)
    conv = fk.layers.Conv3D(2, 2, groups=2)
    with pytest.raises(ValueError, match="groups=2"):
        conv(np.ones((1, 3, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="too small"):
        fk.layers.Conv3D(2, 4)(np.ones((1, 3, 5, 5, 1), np.float32))
    with pytest.raises(ValueError, match="cropping"):
        fk.layers.Cropping3D(2)(np.ones((1, 3, 5, 5, 1), np.float32))
