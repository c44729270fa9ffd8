"""GaussianDropout, AlphaDropout, ActivityRegularization, Conv1DTranspose, DepthwiseConv1D,
SeparableConv1D, AdditiveAttention, RMSNormalization and CategoryEncoding against real Keras 3
(outputs with the same weights, weight names and shapes, configs, activity losses, .keras files
both ways), finite-difference gradients, the noise layers' statistics, and argument errors."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.backend import Tensor
from gradcheck import check_grads, leaf
from keras_files import check_keras_file_both_ways

keras3 = pytest.importorskip("keras")


def _numpy(t):
    return t.numpy() if isinstance(t, Tensor) else keras3.ops.convert_to_numpy(t)


def _pair(name, *args, **kwargs):
    """The same layer from fastkeras and from Keras."""
    return getattr(fk.layers, name)(*args, **kwargs), getattr(keras3.layers, name)(*args, **kwargs)


def _config(layer):
    config = layer.get_config()
    config.pop("name")
    return config


def _compare(name, x, args=(), kwargs=None, call=None, rtol=1e-5, atol=1e-5):
    """Builds both layers on x, gives ours Keras's weights, and compares outputs, weight names
    and shapes, and configs. Returns (ours, theirs, our output)."""
    kwargs, call = kwargs or {}, call or {}
    ours, theirs = _pair(name, *args, **kwargs)
    want = _numpy(theirs(x, **call))
    ours(x, **call)
    assert [(w.name, tuple(w.shape)) for w in ours.weights] == \
        [(w.name, tuple(w.shape)) for w in theirs.weights]
    ours.set_weights([_numpy(w) for w in theirs.weights])
    got = _numpy(ours(x, **call))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    assert _config(ours) == _config(theirs)
    return ours, theirs, got


def _random_weights(ours, theirs, rng):
    """Same random (non-default) weights in both layers, so biases and scales count."""
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)


# --- 1-D convolutions ------------------------------------------------------------------------

TRANSPOSE_CASES = [
    dict(filters=4, kernel_size=3),
    dict(filters=4, kernel_size=3, strides=2, padding="same"),
    dict(filters=3, kernel_size=4, strides=2, padding="same", output_padding=1),
    dict(filters=2, kernel_size=4, strides=3, output_padding=2),
    dict(filters=2, kernel_size=5, strides=3, padding="same", output_padding=0),
    dict(filters=2, kernel_size=3, strides=1, padding="valid", output_padding=0),
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
    dict(filters=3, kernel_size=2, dilation_rate=3),
    dict(filters=2, kernel_size=3, strides=2, data_format="channels_first"),
    dict(filters=2, kernel_size=4, strides=3, padding="same", output_padding=2,
         data_format="channels_first", activation="tanh"),
    dict(filters=3, kernel_size=1, strides=2, use_bias=False),
]

DEPTHWISE_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=3, strides=2, padding="same", depth_multiplier=2),
    dict(kernel_size=4, strides=3, padding="same"),
    dict(kernel_size=2, dilation_rate=2, padding="same"),
    dict(kernel_size=3, dilation_rate=2, depth_multiplier=3),
    dict(kernel_size=3, strides=2, dilation_rate=2),
    dict(kernel_size=3, strides=2, data_format="channels_first", depth_multiplier=2),
    dict(kernel_size=5, padding="same", activation="relu", use_bias=False),
]


@pytest.mark.parametrize("kwargs", TRANSPOSE_CASES, ids=str)
@pytest.mark.parametrize("steps", [7, 8])
def test_conv1d_transpose_matches_keras(kwargs, steps, rng):
    shape = (2, 3, steps) if kwargs.get("data_format") == "channels_first" else (2, steps, 3)
    x = rng.standard_normal(shape).astype(np.float32)
    ours, theirs = _pair("Conv1DTranspose", **kwargs)
    theirs(x), ours(x)
    _random_weights(ours, theirs, rng)
    np.testing.assert_allclose(_numpy(ours(x)), _numpy(theirs(x)), rtol=1e-5, atol=1e-5)
    assert tuple(ours.kernel.shape) == (kwargs["kernel_size"], kwargs["filters"], 3)
    assert _config(ours) == _config(theirs)


@pytest.mark.parametrize("name, extra", [("DepthwiseConv1D", {}), ("SeparableConv1D",
                                                                  {"filters": 5})])
@pytest.mark.parametrize("kwargs", DEPTHWISE_CASES, ids=str)
@pytest.mark.parametrize("steps", [9, 10])
def test_depthwise_and_separable_conv1d_match_keras(name, extra, kwargs, steps, rng):
    shape = (2, 3, steps) if kwargs.get("data_format") == "channels_first" else (2, steps, 3)
    x = rng.standard_normal(shape).astype(np.float32)
    ours, theirs = _pair(name, **extra, **kwargs)
    theirs(x), ours(x)
    assert [(w.name, tuple(w.shape)) for w in ours.weights] == \
        [(w.name, tuple(w.shape)) for w in theirs.weights]
    _random_weights(ours, theirs, rng)
    np.testing.assert_allclose(_numpy(ours(x)), _numpy(theirs(x)), rtol=1e-5, atol=1e-5)
    assert _config(ours) == _config(theirs)


def test_conv1d_aliases_and_weight_shapes():
    assert fk.layers.Convolution1DTranspose is fk.layers.Conv1DTranspose
    assert fk.layers.SeparableConvolution1D is fk.layers.SeparableConv1D
    x = np.zeros((1, 6, 3), np.float32)
    sep = fk.layers.SeparableConv1D(4, 2, depth_multiplier=2)
    sep(x)
    assert [(w.path, w.shape) for w in sep.weights] == [
        ("separable_conv1d/depthwise_kernel", (2, 3, 2)),
        ("separable_conv1d/pointwise_kernel", (1, 6, 4)), ("separable_conv1d/bias", (4,))]
    dw = fk.layers.DepthwiseConv1D(2, depth_multiplier=2)
    dw(x)
    assert [w.shape for w in dw.weights] == [(2, 3, 2), (6,)]


@pytest.mark.parametrize("name, kwargs", [
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same",
                             output_padding=1)),
    ("Conv1DTranspose", dict(filters=2, kernel_size=2, dilation_rate=2,
                             data_format="channels_first")),
    ("DepthwiseConv1D", dict(kernel_size=3, strides=2, depth_multiplier=2, padding="same")),
    ("SeparableConv1D", dict(filters=3, kernel_size=3, dilation_rate=2, depth_multiplier=2)),
    ("SeparableConv1D", dict(filters=2, kernel_size=2, strides=2,
                             data_format="channels_first")),
])
def test_conv1d_gradients(name, kwargs, rng):
    """Finite differences for the input and every weight. The C++ kernels run in float32 and
    each output is linear in each of them, so wide steps give exact differences."""
    layer = getattr(fk.layers, name)(**kwargs)
    x = leaf(rng.standard_normal((2, 3, 7) if "data_format" in kwargs else (2, 7, 3)),
             np.float32)
    layer(x)
    names = {"Conv1DTranspose": ["kernel", "bias"], "DepthwiseConv1D": ["kernel", "bias"],
             "SeparableConv1D": ["depthwise_kernel", "pointwise_kernel", "bias"]}[name]
    leaves = [x]
    for attr in names:
        setattr(layer, attr, leaf(rng.standard_normal(getattr(layer, attr).shape), np.float32))
        leaves.append(getattr(layer, attr))
    check_grads(lambda: layer(x), leaves, rng, eps=0.25, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name, args", [("Conv1DTranspose", (3, 3)), ("DepthwiseConv1D", (3,)),
                                        ("SeparableConv1D", (3, 3))])
def test_conv1d_activity_regularizer_matches_keras(name, args, rng):
    x = rng.standard_normal((4, 6, 2)).astype(np.float32)
    ours = getattr(fk.layers, name)(
        *args, activity_regularizer=fk.regularizers.L1L2(l1=0.01, l2=0.02))
    theirs = getattr(keras3.layers, name)(
        *args, activity_regularizer=keras3.regularizers.L1L2(l1=0.01, l2=0.02))
    theirs(x), ours(x)
    _random_weights(ours, theirs, rng)
    theirs(x), ours(x)
    (got,), (want,) = ours.losses, theirs.losses
    np.testing.assert_allclose(float(_numpy(got)), float(_numpy(want)), rtol=1e-5)


def test_conv1d_free_length_in_a_functional_model(rng):
    inp = fk.Input((None, 3))
    out = fk.layers.Conv1DTranspose(2, 3, strides=2, padding="same")(inp)
    out = fk.layers.SeparableConv1D(4, 3, padding="same")(out)
    out = fk.layers.DepthwiseConv1D(3)(out)
    assert out.shape == (None, None, 4)
    model = fk.Model(inp, out)
    assert model.predict(rng.standard_normal((2, 5, 3)).astype(np.float32),
                         verbose=0).shape == (2, 8, 4)


# --- AdditiveAttention -----------------------------------------------------------------------

Q_MASK = np.array([[1, 1, 0], [1, 0, 1]], bool)
V_MASK = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)


@pytest.mark.parametrize("use_scale", [True, False])
@pytest.mark.parametrize("call", [{}, {"mask": [Q_MASK, V_MASK]}, {"use_causal_mask": True},
                                  {"mask": [None, V_MASK], "use_causal_mask": True}],
                         ids=["plain", "masks", "causal", "causal+mask"])
@pytest.mark.parametrize("with_key", [False, True])
def test_additive_attention_matches_keras(use_scale, call, with_key, rng):
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    v = rng.standard_normal((2, 5, 4)).astype(np.float32)
    k = rng.standard_normal((2, 5, 4)).astype(np.float32)
    inputs = [q, v, k] if with_key else [q, v]
    ours, theirs = _pair("AdditiveAttention", use_scale=use_scale)
    theirs(inputs, **call), ours(inputs, **call)
    assert [(w.name, tuple(w.shape)) for w in ours.weights] == \
        [(w.name, tuple(w.shape)) for w in theirs.weights]
    _random_weights(ours, theirs, rng)
    got = ours(inputs, return_attention_scores=True, **call)
    want = theirs(inputs, return_attention_scores=True, **call)
    for g, w in zip(got, want):
        np.testing.assert_allclose(_numpy(g), _numpy(w), rtol=1e-5, atol=1e-6)
    assert _config(ours) == _config(theirs)


def test_additive_attention_gradients(rng):
    layer = fk.layers.AdditiveAttention()
    q, v, k = (leaf(rng.standard_normal(s)) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 4)])
    layer.build([q.shape, v.shape, k.shape])
    layer.scale = leaf(rng.standard_normal(4))
    check_grads(lambda: layer([q, v, k], mask=[Q_MASK, V_MASK]), [q, v, k, layer.scale], rng,
                rtol=1e-5, atol=1e-7)


def test_additive_attention_dropout_and_mask_output(rng):
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    v = rng.standard_normal((2, 5, 4)).astype(np.float32)
    layer = fk.layers.AdditiveAttention(dropout=0.5, seed=1)
    plain = layer([q, v]).numpy()
    np.testing.assert_array_equal(layer([q, v], training=False).numpy(), plain)
    assert not np.allclose(layer([q, v], training=True).numpy(), plain)
    assert np.array_equal(np.asarray(layer.compute_mask([q, v], [Q_MASK, V_MASK])), Q_MASK)


# --- RMSNormalization ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, shape", [
    ({}, (2, 7, 3)), ({"epsilon": 0.1}, (3, 5)), ({"axis": [1, 2]}, (2, 7, 3)),
    ({"axis": [-1, -2], "epsilon": 1e-3}, (2, 3, 5, 4)), ({"axis": 1}, (4, 6)),
])
def test_rms_normalization_matches_keras(kwargs, shape, rng):
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    ours, theirs = _pair("RMSNormalization", **kwargs)
    theirs(x), ours(x)
    _random_weights(ours, theirs, rng)
    np.testing.assert_allclose(_numpy(ours(x)), _numpy(theirs(x)), rtol=1e-5, atol=1e-5)
    assert [w.name for w in ours.weights] == ["scale"]
    assert _config(ours) == _config(theirs)  # axis becomes a list once built, as Keras's


def test_rms_normalization_formula_on_a_middle_axis(rng):
    """x / sqrt(mean(x^2) + eps) * scale with the scale along the normalized axis (Keras's own
    backends cannot normalize a middle axis on its own, so the formula is the reference)."""
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    layer = fk.layers.RMSNormalization(axis=1, epsilon=0.01)
    layer(x)
    scale = rng.standard_normal(5).astype(np.float32)
    layer.set_weights([scale])
    xd = x.astype(np.float64)
    want = xd / np.sqrt((xd ** 2).mean(axis=1, keepdims=True) + 0.01) * scale[None, :, None]
    np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis, shape", [(-1, (3, 4)), ([1, 2], (2, 3, 4)), (1, (2, 3, 4))])
def test_rms_normalization_gradients(axis, shape, rng):
    layer = fk.layers.RMSNormalization(axis=axis, epsilon=1e-3, dtype="float64")
    x = leaf(rng.standard_normal(shape))
    layer.build(x.shape)
    layer.scale = leaf(rng.standard_normal(layer.scale.shape))
    check_grads(lambda: layer(x), [x, layer.scale], rng, rtol=1e-5, atol=1e-7)


# --- CategoryEncoding ------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["multi_hot", "one_hot", "count", "binary"])
@pytest.mark.parametrize("ids", [
    np.array([[0, 3, 3], [5, 1, 0], [2, 2, 2], [4, 5, 1]]), np.array([3, 0, 5, 5]),
    np.array([[3], [0], [5]]), np.array(4), np.array([[1.0, 4.0], [2.0, 2.0]], np.float32),
    np.array([[-1, 2], [0, -3]]),
], ids=["2d", "1d", "column", "scalar", "float", "negative"])
def test_category_encoding_matches_keras(mode, ids):
    ours, theirs = _pair("CategoryEncoding", 6, output_mode=mode)
    want = _numpy(theirs(ids))
    got = ours(ids)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.numpy(), want)
    assert ours.compute_output_shape(ids.shape) == theirs.compute_output_shape(ids.shape)
    assert _config(ours) == _config(theirs)


@pytest.mark.parametrize("ids", [np.array([[0, 3, 3], [5, 1, 0]]), np.array([3, 0, 3])])
def test_category_encoding_count_weights_match_keras(ids, rng):
    weights = rng.random(ids.shape).astype(np.float32)
    ours, theirs = _pair("CategoryEncoding", 6, output_mode="count")
    np.testing.assert_allclose(ours(ids, count_weights=weights).numpy(),
                               _numpy(theirs(ids, count_weights=weights)), rtol=1e-6)


# --- GaussianDropout, AlphaDropout -----------------------------------------------------------

@pytest.mark.parametrize("name, kwargs", [("GaussianDropout", {"rate": 0.3}),
                                          ("AlphaDropout", {"rate": 0.3}),
                                          ("AlphaDropout", {"rate": 0.2, "noise_shape": (None, 1,
                                                                                         3)})])
def test_noise_layers_pass_inputs_through_at_inference(name, kwargs, rng):
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    layer = getattr(fk.layers, name)(**kwargs)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    zero = getattr(fk.layers, name)(rate=0.0)
    np.testing.assert_array_equal(zero(x, training=True).numpy(), x)
    assert _config(layer) == _config(getattr(keras3.layers, name)(**kwargs))


def test_gaussian_dropout_training_statistics(rng):
    rate, n = 0.3, 400_000
    x = np.full((n,), 2.0, np.float32)
    out = fk.layers.GaussianDropout(rate)(x, training=True).numpy().astype(np.float64)
    noise = out / 2.0
    std = np.sqrt(rate / (1 - rate))
    assert abs(noise.mean() - 1.0) < 5 * std / np.sqrt(n)
    assert abs(noise.var() / std ** 2 - 1.0) < 0.01
    # Keras's layer on the same data: the same distribution.
    theirs = _numpy(keras3.layers.GaussianDropout(rate)(x, training=True)) / 2.0
    assert abs(theirs.mean() - noise.mean()) < 10 * std / np.sqrt(n)
    assert abs(theirs.var() / noise.var() - 1.0) < 0.02


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_alpha_dropout_keeps_zero_mean_unit_variance(rate, rng):
    n = 400_000
    x = rng.standard_normal(n).astype(np.float32)
    out = fk.layers.AlphaDropout(rate)(x, training=True).numpy().astype(np.float64)
    assert abs(out.mean()) < 0.01 and abs(out.var() - 1.0) < 0.01
    # Each output is a * x + b (kept) or a * alpha' + b (dropped), Keras's affine correction.
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    dropped = np.isclose(out, a * alpha_p + b, rtol=0, atol=1e-6)
    assert abs(dropped.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(out[~dropped], a * x[~dropped] + b, rtol=1e-5, atol=1e-5)
    theirs = _numpy(keras3.layers.AlphaDropout(rate)(x, training=True))
    assert abs(theirs.mean() - out.mean()) < 0.02 and abs(theirs.var() - out.var()) < 0.02


def test_alpha_dropout_noise_shape_shares_the_mask(rng):
    x = rng.standard_normal((8, 6, 4)).astype(np.float32) + 5.0  # never the dropped value
    out = fk.layers.AlphaDropout(0.5, noise_shape=(None, 1, 4), seed=3)(x, training=True)
    dropped = np.isclose(out.numpy(), out.numpy().min(), atol=1e-6)
    assert dropped.any() and not dropped.all()
    assert (dropped == dropped[:, :1, :]).all()


@pytest.mark.parametrize("name", ["GaussianDropout", "AlphaDropout"])
def test_noise_layers_seeded_reproducibility(name, rng):
    x = rng.standard_normal((3, 7)).astype(np.float32)
    make = getattr(fk.layers, name)
    a = make(0.4, seed=7)(x, training=True).numpy()
    np.testing.assert_array_equal(make(0.4, seed=7)(x, training=True).numpy(), a)
    assert not np.array_equal(make(0.4, seed=8)(x, training=True).numpy(), a)
    layer = make(0.4, seed=7)
    layer(x, training=True)
    assert not np.array_equal(layer(x, training=True).numpy(), a)  # a stream, not one draw
    fk.utils.set_random_seed(5)
    b = make(0.4)(x, training=True).numpy()
    fk.utils.set_random_seed(5)
    np.testing.assert_array_equal(make(0.4)(x, training=True).numpy(), b)


@pytest.mark.parametrize("make", [lambda: fk.layers.GaussianDropout(0.2),
                                  lambda: fk.layers.AlphaDropout(0.2),
                                  lambda: fk.layers.ActivityRegularization(0.1)])
def test_masks_pass_through(make, rng):
    tokens = np.array([[3, 1, 0, 0], [2, 0, 0, 0]])
    emb = fk.layers.Embedding(5, 3, mask_zero=True)(tokens)
    layer = make()
    assert layer.supports_masking
    for training in (False, True):
        out = layer(emb, training=training) if layer._call_has_training else layer(emb)
        np.testing.assert_array_equal(np.asarray(out._keras_mask), tokens != 0)


# --- ActivityRegularization ------------------------------------------------------------------

def test_activity_regularization_layer_loss(rng):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    ours, theirs = _pair("ActivityRegularization", l1=0.01, l2=0.02)
    np.testing.assert_array_equal(ours(x).numpy(), x)
    want = (0.01 * np.abs(x).sum() + 0.02 * np.square(x).sum()) / 5
    theirs(x)
    (got,), (keras_loss,) = ours.losses, theirs.losses
    np.testing.assert_allclose(float(_numpy(got)), want, rtol=1e-5)
    np.testing.assert_allclose(float(_numpy(got)), float(_numpy(keras_loss)), rtol=1e-5)
    ours(x[:2])
    assert len(ours.losses) == 1  # replaced on each call, not accumulated


def _regularized_models():
    def build(lib):
        inp = lib.Input((4,))
        hidden = lib.layers.Dense(6, activation="tanh")(inp)
        hidden = lib.layers.ActivityRegularization(l1=0.01, l2=0.05)(hidden)
        return lib.Model(inp, lib.layers.Dense(1)(hidden))
    return build(fk), build(keras3)


def test_activity_regularization_in_model_losses_and_fit_loss_match_keras(rng):
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    ours, theirs = _regularized_models()
    ours.set_weights([_numpy(w) for w in theirs.weights])
    ours(x), theirs(x)
    (got,), (want,) = ours.losses, theirs.losses
    np.testing.assert_allclose(float(_numpy(got)), float(_numpy(want)), rtol=1e-5)
    ours.compile(optimizer=fk.optimizers.SGD(0.1), loss="mse")
    theirs.compile(optimizer=keras3.optimizers.SGD(0.1), loss="mse")
    h_ours = ours.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    h_theirs = theirs.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, _numpy(b), rtol=1e-4, atol=1e-6)
    # The penalty is part of the loss: without it the first loss is smaller.
    plain = float(np.mean((ours.predict(x, verbose=0) - y) ** 2))
    assert ours.evaluate(x, y, verbose=0) > plain


# --- configs, files, training ----------------------------------------------------------------

# (As dicts, values float32 represents exactly: Keras's regularizer configs hold float32.)
_L1 = {"class_name": "L1", "config": {"l1": 0.5}}
_L2 = {"class_name": "L2", "config": {"l2": 0.25}}
CONFIG_CASES = [
    ("GaussianDropout", (0.25,), {"seed": 3}), ("AlphaDropout", (0.1,), {"noise_shape": (None, 1,
                                                                                         4)}),
    ("ActivityRegularization", (), {"l1": 0.5}),
    ("Conv1DTranspose", (4, 3), {"strides": 2, "output_padding": 1, "activation": "relu",
                                 "kernel_regularizer": _L2, "activity_regularizer": _L1}),
    ("Conv1DTranspose", (4, [3]), {"data_format": "channels_first", "padding": "same",
                                   "use_bias": False, "dilation_rate": 2}),
    ("DepthwiseConv1D", (3,), {"depth_multiplier": 2, "padding": "same", "strides": 2,
                               "depthwise_regularizer": _L1}),
    ("SeparableConv1D", (5, 3), {"depth_multiplier": 2, "dilation_rate": 2,
                                 "pointwise_initializer": "he_normal"}),
    ("AdditiveAttention", (), {"use_scale": False, "dropout": 0.1, "seed": 2}),
    ("RMSNormalization", (), {"axis": [1, 2], "epsilon": 1e-4}),
    ("CategoryEncoding", (7,), {"output_mode": "count"}),
]


@pytest.mark.parametrize("name, args, kwargs", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_get_config_equals_keras_and_round_trips(name, args, kwargs):
    ours, theirs = _pair(name, *args, **kwargs)
    assert _config(ours) == _config(theirs)
    again = type(ours).from_config(theirs.get_config())
    assert _config(again) == _config(ours)
    assert _config(type(theirs).from_config(ours.get_config())) == _config(theirs)


def _fit_and_check_files(model, x, y, tmp_path, **tolerances):
    model.compile(optimizer="adam", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    check_keras_file_both_ways(model, x, tmp_path, **tolerances)


def test_sequence_model_trains_and_round_trips_keras_files(tmp_path, rng):
    x = rng.standard_normal((32, 9, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    model = fk.Sequential([
        fk.Input((9, 3)),
        fk.layers.Conv1DTranspose(4, 3, strides=2, padding="same", output_padding=1,
                                  activation="relu"),
        fk.layers.GaussianDropout(0.2),
        fk.layers.DepthwiseConv1D(3, depth_multiplier=2, activity_regularizer="l2"),
        fk.layers.AlphaDropout(0.1, noise_shape=(None, 1, 8)),
        fk.layers.SeparableConv1D(5, 3, padding="same", dilation_rate=2),
        fk.layers.ActivityRegularization(l1=1e-3, l2=1e-3),
        fk.layers.RMSNormalization(),
        fk.layers.GlobalAveragePooling1D(),
        fk.layers.Dense(1),
    ])
    assert model.output_shape == (None, 1)
    _fit_and_check_files(model, x, y, tmp_path)


def test_channels_first_model_round_trips_keras_files(tmp_path, rng):
    x = rng.standard_normal((16, 3, 8)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    model = fk.Sequential([
        fk.Input((3, 8)),
        fk.layers.Conv1DTranspose(4, 2, strides=2, data_format="channels_first"),
        fk.layers.SeparableConv1D(3, 3, strides=2, data_format="channels_first"),
        fk.layers.DepthwiseConv1D(2, data_format="channels_first", padding="same"),
        fk.layers.RMSNormalization(axis=[1, 2]),
        fk.layers.Flatten(),
        fk.layers.Dense(1),
    ])
    _fit_and_check_files(model, x, y, tmp_path)


def test_attention_model_round_trips_keras_files(tmp_path, rng):
    q = rng.standard_normal((24, 3, 4)).astype(np.float32)
    v = rng.standard_normal((24, 5, 4)).astype(np.float32)
    y = rng.standard_normal((24, 1)).astype(np.float32)
    q_in, v_in = fk.Input((3, 4)), fk.Input((5, 4))
    att = fk.layers.AdditiveAttention(dropout=0.1)([q_in, v_in])
    model = fk.Model([q_in, v_in], fk.layers.Dense(1)(fk.layers.Flatten()(att)))
    model.compile(optimizer="adam", loss="mse")
    model.fit([q, v], y, epochs=2, batch_size=8, verbose=0)
    check_keras_file_both_ways(model, [q, v], tmp_path)


def test_weights_h5_files_move_both_ways(tmp_path, rng):
    """Every weighted layer's .weights.h5 entries (names, shapes, order) read by the other
    library: Keras's weights loaded into ours and ours into Keras's predict the same."""
    x = rng.standard_normal((4, 7, 3)).astype(np.float32)
    inp = fk.Input((7, 3))
    h = fk.layers.Conv1DTranspose(4, 3, strides=2, output_padding=1)(inp)
    h = fk.layers.AdditiveAttention()([h, h])
    h = fk.layers.DepthwiseConv1D(3, depth_multiplier=2)(h)
    h = fk.layers.SeparableConv1D(5, 2, depth_multiplier=2)(h)
    h = fk.layers.RMSNormalization()(h)
    model = fk.Model(inp, fk.layers.Dense(1)(fk.layers.GlobalAveragePooling1D()(h)))
    model.save(tmp_path / "model.keras")
    theirs = keras3.saving.load_model(tmp_path / "model.keras")
    for w in theirs.weights:
        w.assign(rng.standard_normal(tuple(w.shape)).astype(np.float32) * 0.5)
    theirs.save_weights(tmp_path / "keras.weights.h5")
    model.load_weights(tmp_path / "keras.weights.h5")
    np.testing.assert_allclose(model.predict(x, verbose=0), _numpy(theirs.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-5)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5
                       for w in model.get_weights()])
    model.save_weights(tmp_path / "ours.weights.h5")
    theirs.load_weights(tmp_path / "ours.weights.h5")
    np.testing.assert_allclose(_numpy(theirs.predict(x, verbose=0)), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_category_encoding_model_round_trips_keras_files(tmp_path, rng):
    ids = rng.integers(0, 6, (32, 3)).astype(np.int32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    inp = fk.Input((3,), dtype="int32")
    counts = fk.layers.CategoryEncoding(6, output_mode="count")(inp)
    assert counts.shape == (None, 6)
    model = fk.Model(inp, fk.layers.Dense(1)(counts))
    _fit_and_check_files(model, ids, y, tmp_path)


# --- argument errors -------------------------------------------------------------------------

BAD_ARGUMENTS = [
    ("GaussianDropout", (1.5,), {}, r"rate=1\.5", True),
    ("AlphaDropout", (-0.1,), {}, r"rate=-0\.1", True),
    ("ActivityRegularization", (), {"l1": -1}, r"l1.*-1", True),
    ("ActivityRegularization", (), {"l2": "big"}, r"l2.*big", False),
    ("Conv1DTranspose", (0, 3), {}, r"filters.*filters=0", True),
    ("Conv1DTranspose", (2, 0), {}, r"kernel_size.*kernel_size=0", True),
    ("Conv1DTranspose", (2, 3), {"strides": 2, "output_padding": 2},
     r"output_padding.*output_padding=2.*strides=2", True),
    ("Conv1DTranspose", (2, 3), {"output_padding": -1}, r"output_padding.*output_padding=-1",
     True),
    ("Conv1DTranspose", (2, 3), {"strides": 2, "dilation_rate": 2},
     r"strides=2 and dilation_rate=2", True),
    ("Conv1DTranspose", (2, 3), {"padding": "causal"}, r"padding.*causal", True),
    ("DepthwiseConv1D", (3,), {"depth_multiplier": 0}, r"depth_multiplier.*=0", True),
    ("DepthwiseConv1D", (3,), {"data_format": "channels_middle"},
     r"data_format.*channels_middle", True),
    ("SeparableConv1D", (2, (3, 3)), {}, r"kernel_size.*\(3, 3\)", True),
    ("SeparableConv1D", (2, 3), {"strides": 0}, r"strides.*strides=0", True),
    ("RMSNormalization", (), {"epsilon": "tiny"}, r"epsilon.*tiny", False),
    ("CategoryEncoding", (0,), {}, r"num_tokens.*num_tokens=0", True),
    ("CategoryEncoding", (), {}, r"num_tokens.*None", True),
    ("CategoryEncoding", (4,), {"output_mode": "tf_idf"}, r"output_mode.*tf_idf", True),
    ("CategoryEncoding", (4,), {"sparse": True}, r"sparse.*sparse=True", False),
]


@pytest.mark.parametrize("name, args, kwargs, message, keras_raises", BAD_ARGUMENTS,
                         ids=[f"{c[0]}-{c[3]}" for c in BAD_ARGUMENTS])
def test_bad_arguments_name_the_argument_and_value(name, args, kwargs, message, keras_raises):
    with pytest.raises(ValueError, match=message):
        getattr(fk.layers, name)(*args, **kwargs)
    if keras_raises:
        with pytest.raises(ValueError):
            getattr(keras3.layers, name)(*args, **kwargs)


def test_bad_axis_and_bad_inputs_raise():
    with pytest.raises(TypeError, match=r"axis.*'a'"):
        fk.layers.RMSNormalization(axis="a")
    with pytest.raises(ValueError, match=r"Axis 3 is out of bounds for input shape \(2, 3\)"):
        fk.layers.RMSNormalization(axis=3)(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected ndim=3, found ndim=4"):
        fk.layers.Conv1DTranspose(2, 3)(np.ones((1, 2, 5, 3), np.float32))
    conv = fk.layers.DepthwiseConv1D(3)
    conv(np.ones((1, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected 3 input channels"):
        conv(np.ones((1, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"too small for kernel_size=5"):
        fk.layers.SeparableConv1D(2, 5)(np.ones((1, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"must be called on a list of inputs"):
        fk.layers.AdditiveAttention()(np.ones((1, 3, 4), np.float32))
    encode = fk.layers.CategoryEncoding(4)
    with pytest.raises(ValueError, match=r"num_tokens=4.*containing 4"):
        encode(np.array([[1, 4]]))
    with pytest.raises(ValueError, match=r"count_weights.*output_mode='multi_hot'"):
        encode(np.array([[1, 2]]), count_weights=np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match=r"rate=1"):
        fk.layers.AlphaDropout(1.0)(np.ones((2, 2), np.float32), training=True)


def test_exports():
    for name in ["GaussianDropout", "AlphaDropout", "ActivityRegularization", "Conv1DTranspose",
                 "Convolution1DTranspose", "SeparableConv1D", "SeparableConvolution1D",
                 "DepthwiseConv1D", "AdditiveAttention", "RMSNormalization",
                 "CategoryEncoding"]:
        assert name in fk.layers.__all__
