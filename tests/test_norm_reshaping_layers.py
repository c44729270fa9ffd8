"""Normalization, reshaping and spatial-dropout layers and their ops.

BatchNormalization (fused C++ kernel for float32, numpy for float64), LayerNormalization, the
padding/cropping/upsampling/RepeatVector/Permute layers and SpatialDropout1D/2D: values against
numpy formulas, gradients against central finite differences (float64 end to end, and the
float32 kernel path against the float64 gradients), BN's moving statistics and modes, weights,
shapes, configs and argument errors."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import GradientTape, Tensor, gradients, no_grad
from fastkeras.layers import (
    BatchNormalization,
    Cropping1D,
    Cropping2D,
    Dense,
    Flatten,
    LayerNormalization,
    Permute,
    RepeatVector,
    SpatialDropout1D,
    SpatialDropout2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from fastkeras.ops import normalization as norm_ops
from gradcheck import check_grads, leaf


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def tape_grads(fn, leaves, w):
    with GradientTape():
        loss = ops.sum(ops.multiply(fn(), w))
    return [np.asarray(g, np.float64) for g in gradients(loss, leaves)]


def to_float64(layer):
    """Swaps a built layer's weights to float64 storage so it can be checked by finite
    differences end to end (the op then takes its numpy path)."""
    for v in layer.weights:
        v.value = v.value.astype(np.float64)


def bn_reference(x, axis, gamma=None, beta=None, eps=1e-3, mean=None, var=None):
    """Batch norm in float64: batch statistics unless mean/var are given."""
    x = np.asarray(x, np.float64)
    ax = axis % x.ndim
    red = tuple(d for d in range(x.ndim) if d != ax)
    shape = [1] * x.ndim
    shape[ax] = x.shape[ax]
    m = x.mean(axis=red) if mean is None else np.asarray(mean, np.float64)
    v = x.var(axis=red) if var is None else np.asarray(var, np.float64)
    y = (x - m.reshape(shape)) / np.sqrt(v.reshape(shape) + eps)
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64).reshape(shape)
    if beta is not None:
        y = y + np.asarray(beta, np.float64).reshape(shape)
    return y, m, v


def ln_reference(x, axes, gamma=None, beta=None, eps=1e-3, rms=False):
    x = np.asarray(x, np.float64)
    axes = tuple(a % x.ndim for a in axes)
    pshape = [x.shape[d] if d in axes else 1 for d in range(x.ndim)]
    m = x.mean(axis=axes, keepdims=True)
    v = x.var(axis=axes, keepdims=True)
    y = (x if rms else x - m) / np.sqrt(v + eps)
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64).reshape(pshape)
    if beta is not None and not rms:
        y = y + np.asarray(beta, np.float64).reshape(pshape)
    return y


# (shape, axis): dense features, channels-last images, channels-first images, a 3-D middle axis
BN_LAYOUTS = [((6, 4), -1), ((3, 4, 5, 3), -1), ((3, 2, 4, 5), 1), ((4, 3, 5), 1),
              ((5, 1), -1), ((2, 3, 3, 257), 3)]


# --------------------------------------------------------------------------------------------
# batch-norm ops
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", BN_LAYOUTS)
def test_fused_batch_norm_values_match_numpy(shape, axis, rng):
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    c = shape[axis]
    gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
    beta = rng.standard_normal(c).astype(np.float32)
    y, mean, var = norm_ops.fused_batch_normalization(x, gamma, beta, axis=axis, epsilon=1e-3)
    ref, rm, rv = bn_reference(x, axis, gamma, beta)
    assert y.dtype == np.float32 and y.shape == shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mean.numpy(), rm, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(var.numpy(), rv, rtol=1e-4, atol=1e-5)  # biased variance


@pytest.mark.parametrize("shape,axis", [((6, 3), -1), ((2, 3, 2, 3), -1), ((2, 3, 2, 2), 1),
                                        ((3, 2, 4), 1), ((2, 1), 0)])
def test_fused_batch_norm_gradients_through_batch_stats(shape, axis, rng):
    x = leaf(rng.standard_normal(shape))
    c = shape[axis]
    gamma = leaf(rng.uniform(0.5, 1.5, c))
    beta = leaf(rng.standard_normal(c))
    fn = lambda: norm_ops.fused_batch_normalization(x, gamma, beta, axis=axis)[0]
    analytic = check_grads(fn, [x, gamma, beta], rng, rtol=1e-5, atol=1e-6)
    # The float32 kernel path gives the same gradients.
    x32 = leaf(x.value, np.float32)
    g32, b32 = leaf(gamma.value, np.float32), leaf(beta.value, np.float32)
    w = rng.standard_normal(shape)
    ref = tape_grads(fn, [x, gamma, beta], Tensor(w))
    got = tape_grads(lambda: norm_ops.fused_batch_normalization(x32, g32, b32, axis=axis)[0],
                     [x32, g32, b32], Tensor(w.astype(np.float32)))
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=2e-4, atol=2e-4)
    assert analytic is not None


def test_fused_batch_norm_without_scale_or_offset(rng):
    x = leaf(rng.standard_normal((5, 3)))
    check_grads(lambda: norm_ops.fused_batch_normalization(x, axis=-1)[0], [x], rng)
    y, _, _ = norm_ops.fused_batch_normalization(x.value.astype(np.float32))
    np.testing.assert_allclose(y.numpy(), bn_reference(x.value, -1)[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape,axis", [((6, 3), -1), ((2, 3, 2, 2), 1), ((2, 2, 2, 3), 3)])
def test_batch_normalization_op_gradients(shape, axis, rng):
    c = shape[axis]
    x = leaf(rng.standard_normal(shape))
    mean = leaf(rng.standard_normal(c))
    var = leaf(rng.uniform(0.5, 2.0, c))
    scale = leaf(rng.uniform(0.5, 1.5, c))
    offset = leaf(rng.standard_normal(c))

    def fn():
        return ops.batch_normalization(x, mean, var, axis, offset=offset, scale=scale,
                                       epsilon=1e-3)
    with no_grad():
        np.testing.assert_allclose(fn().numpy(), bn_reference(
            x.value, axis, scale.value, offset.value, mean=mean.value, var=var.value)[0],
            rtol=1e-12)
    check_grads(fn, [x, mean, var, scale, offset], rng)
    # float32 (kernel) path: same values and gradients.
    leaves32 = [leaf(t.value, np.float32) for t in (x, mean, var, scale, offset)]
    x32, m32, v32, s32, o32 = leaves32

    def fn32():
        return ops.batch_normalization(x32, m32, v32, axis, offset=o32, scale=s32, epsilon=1e-3)
    w = rng.standard_normal(shape)
    with no_grad():
        np.testing.assert_allclose(fn32().numpy(), fn().numpy(), rtol=1e-5, atol=1e-5)
    ref = tape_grads(fn, [x, mean, var, scale, offset], Tensor(w))
    got = tape_grads(fn32, leaves32, Tensor(w.astype(np.float32)))
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


def test_batch_norm_ops_reject_bad_axis(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="axis"):
        norm_ops.fused_batch_normalization(x, axis=2)
    with pytest.raises(ValueError, match="mean"):
        ops.batch_normalization(x, np.zeros(2), np.ones(3), axis=-1)


def test_moments(rng):
    x = leaf(rng.standard_normal((4, 3, 2)))
    m, v = ops.moments(x, axes=[0, 2])
    np.testing.assert_allclose(m.numpy(), x.value.mean((0, 2)))
    np.testing.assert_allclose(v.numpy(), x.value.var((0, 2)))
    m, v = ops.moments(x, axes=(0, 2), keepdims=True)
    assert m.shape == (1, 3, 1) and v.shape == (1, 3, 1)
    check_grads(lambda: ops.moments(x, axes=[0, 2])[1], [x], rng)
    check_grads(lambda: ops.moments(x, axes=1)[0], [x], rng)


# --------------------------------------------------------------------------------------------
# BatchNormalization layer
# --------------------------------------------------------------------------------------------

def test_bn_weights_names_order_and_trainable_split():
    bn = BatchNormalization()
    bn.build((None, 5))
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in bn.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    assert all(w.shape == (5,) for w in bn.weights)
    np.testing.assert_array_equal(bn.gamma.numpy(), np.ones(5))
    np.testing.assert_array_equal(bn.beta.numpy(), np.zeros(5))
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(5))
    np.testing.assert_array_equal(bn.moving_variance.numpy(), np.ones(5))
    assert bn.count_params() == 20
    bn2 = BatchNormalization(scale=False)
    bn2.build((None, 3))
    assert [w.name for w in bn2.weights] == ["beta", "moving_mean", "moving_variance"]
    bn3 = BatchNormalization(center=False, axis=1)
    bn3.build((None, 4, 7, 7))
    assert [w.name for w in bn3.weights] == ["gamma", "moving_mean", "moving_variance"]
    assert bn3.gamma.shape == (4,)


@pytest.mark.parametrize("shape,axis", BN_LAYOUTS)
def test_bn_training_uses_batch_stats_and_updates_moving(shape, axis, rng):
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    bn = BatchNormalization(axis=axis, momentum=0.9, gamma_initializer="random_normal",
                            beta_initializer="random_normal")
    bn.build(shape)
    gamma, beta = bn.gamma.numpy(), bn.beta.numpy()
    y = bn(x, training=True)
    ref, m, v = bn_reference(x, axis, gamma, beta)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-4)
    # Keras 3: moving = moving * momentum + batch * (1 - momentum), biased batch variance.
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.0 * 0.9 + m * 0.1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 1.0 * 0.9 + v * 0.1, rtol=1e-5,
                               atol=1e-6)
    # A second step compounds.
    x2 = (rng.standard_normal(shape) - 1).astype(np.float32)
    mm, mv = bn.moving_mean.numpy().astype(np.float64), bn.moving_variance.numpy()
    bn(x2, training=True)
    _, m2, v2 = bn_reference(x2, axis)
    np.testing.assert_allclose(bn.moving_mean.numpy(), mm * 0.9 + m2 * 0.1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), mv * 0.9 + v2 * 0.1, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("training", [False, None])
@pytest.mark.parametrize("shape,axis", BN_LAYOUTS[:4])
def test_bn_inference_uses_moving_stats(shape, axis, training, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    c = shape[axis]
    bn = BatchNormalization(axis=axis, epsilon=1e-2)
    bn.build(shape)
    weights = [rng.uniform(0.5, 1.5, c), rng.standard_normal(c), rng.standard_normal(c),
               rng.uniform(0.2, 2.0, c)]
    bn.set_weights(weights)
    y = bn(x, training=training)
    ref, _, _ = bn_reference(x, axis, weights[0], weights[1], eps=1e-2, mean=weights[2],
                             var=weights[3])
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    for w, v in zip(bn.get_weights(), weights):  # nothing updated
        np.testing.assert_allclose(w, v.astype(np.float32))


def test_bn_default_call_is_inference(rng):
    bn = BatchNormalization()
    x = rng.standard_normal((4, 3)).astype(np.float32) + 5
    y = bn(x)
    np.testing.assert_allclose(y.numpy(), x / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(3))


def test_frozen_bn_runs_in_inference_mode(rng):
    x = (rng.standard_normal((8, 3)) * 3 + 2).astype(np.float32)
    bn = BatchNormalization()
    bn.build((None, 3))
    bn.set_weights([np.full(3, 2.0), np.full(3, 0.5), np.full(3, 1.0), np.full(3, 4.0)])
    bn.trainable = False
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4
    y = bn(x, training=True)
    ref, _, _ = bn_reference(x, -1, np.full(3, 2.0), np.full(3, 0.5), mean=np.ones(3),
                             var=np.full(3, 4.0))
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.ones(3))
    np.testing.assert_array_equal(bn.moving_variance.numpy(), np.full(3, 4.0))
    # Unfreezing brings training mode back.
    bn.trainable = True
    y = bn(x, training=True)
    np.testing.assert_allclose(y.numpy(), bn_reference(x, -1, np.full(3, 2.0),
                                                       np.full(3, 0.5))[0], rtol=1e-4, atol=1e-4)
    assert not np.allclose(bn.moving_mean.numpy(), np.ones(3))


@pytest.mark.parametrize("shape,axis", [((5, 3), -1), ((2, 3, 2, 2), -1), ((2, 2, 3, 2), 1)])
@pytest.mark.parametrize("training", [True, False])
def test_bn_layer_gradients(shape, axis, training, rng):
    """Finite differences through the whole layer (float64), gradient flowing through the batch
    statistics in training mode; then the float32 kernel path against those gradients."""
    bn = BatchNormalization(axis=axis, gamma_initializer="random_uniform",
                            beta_initializer="random_normal",
                            moving_variance_initializer="random_uniform")
    bn.build(shape)
    bn.moving_variance.assign(np.abs(bn.moving_variance.numpy()) + 0.5)
    w32 = [v.numpy() for v in bn.weights]
    x = leaf(rng.standard_normal(shape))
    to_float64(bn)
    check_grads(lambda: bn(x, training=training), [x, bn.gamma, bn.beta], rng)
    w = rng.standard_normal(shape)
    ref = tape_grads(lambda: bn(x, training=training), [x, bn.gamma, bn.beta], Tensor(w))

    bn32 = BatchNormalization(axis=axis)
    bn32.build(shape)
    bn32.set_weights(w32)
    x32 = leaf(x.value, np.float32)
    got = tape_grads(lambda: bn32(x32, training=training), [x32, bn32.gamma, bn32.beta],
                     Tensor(w.astype(np.float32)))
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=2e-4, atol=2e-4)
    if training:
        # Through the batch statistics the input gradient sums to zero per channel.
        red = tuple(d for d in range(len(shape)) if d != axis % len(shape))
        np.testing.assert_allclose(ref[0].sum(axis=red), 0, atol=1e-9)


def test_bn_batch_of_one_in_training(rng):
    # One sample: zero batch variance, so the output is beta and no gradient reaches x.
    bn = BatchNormalization(beta_initializer="random_normal")
    x = leaf(rng.standard_normal((1, 4)), np.float32)
    with GradientTape():
        y = bn(x, training=True)
        loss = ops.sum(ops.multiply(y, Tensor(rng.standard_normal((1, 4)).astype(np.float32))))
    np.testing.assert_allclose(y.numpy()[0], bn.beta.numpy(), atol=1e-6)
    (dx,) = gradients(loss, [x])
    np.testing.assert_allclose(dx, 0, atol=1e-6)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * x.value[0], rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.99, rtol=1e-6)


def test_bn_masked_training_statistics(rng):
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 0]], bool)
    bn = BatchNormalization(momentum=0.0)
    y = bn(x, training=True, mask=mask)
    sel = x[mask]  # (n_unmasked, 3)
    m, v = sel.mean(0), sel.var(0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), m, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), v, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y.numpy(), (x - m) / np.sqrt(v + 1e-3), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="one dimension less"):
        bn(x, training=True, mask=np.ones((2, 5, 3), bool))


def test_bn_in_sequential_fit_and_predict(rng):
    x = (rng.standard_normal((64, 4)) * 3 + 5).astype(np.float32)
    y = (x @ rng.standard_normal((4, 1))).astype(np.float32)
    model = fk.Sequential([fk.Input((4,)), BatchNormalization(), Dense(1)])
    bn = model.layers[0]
    assert model.output_shape == (None, 1)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(4))  # dry run: no update
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2
    model.compile(optimizer="sgd", loss="mse")
    gamma0 = bn.gamma.numpy()
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert not np.allclose(bn.gamma.numpy(), gamma0)  # gamma trained
    # Moving mean moves towards the data mean (12 steps at momentum 0.99).
    expected = x.mean(0) * (1 - 0.99 ** 12)
    np.testing.assert_allclose(bn.moving_mean.numpy(), expected, rtol=0.1)
    pred = model.predict(x[:5], verbose=0)
    k, b = model.layers[1].kernel.numpy(), model.layers[1].bias.numpy()
    mm, mv, g, be = (bn.moving_mean.numpy(), bn.moving_variance.numpy(), bn.gamma.numpy(),
                     bn.beta.numpy())
    ref = ((x[:5] - mm) / np.sqrt(mv + 1e-3) * g + be) @ k + b
    np.testing.assert_allclose(pred, ref, rtol=1e-4, atol=1e-4)


def test_bn_conv_style_model_builds(rng):
    model = fk.Sequential([fk.Input((6, 6, 3)), BatchNormalization(), ZeroPadding2D(1),
                           UpSampling2D(), Cropping2D(((1, 1), (2, 2))), Flatten(), Dense(2)])
    assert [layer.output_shape for layer in model.layers] == [
        (None, 6, 6, 3), (None, 8, 8, 3), (None, 16, 16, 3), (None, 14, 12, 3), (None, 504),
        (None, 2)]
    out = model(rng.standard_normal((2, 6, 6, 3)).astype(np.float32), training=True)
    assert out.shape == (2, 2)


def test_bn_gamma_regularizer_adds_loss():
    bn = BatchNormalization(gamma_regularizer="l2")
    bn.build((None, 3))
    assert len(bn.losses) == 1
    np.testing.assert_allclose(float(bn.losses[0].value), 0.01 * 3, rtol=1e-6)


def test_bn_config_round_trip():
    bn = BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False,
                            gamma_initializer="random_normal", gamma_regularizer="l2",
                            name="bn_cf")
    cfg = bn.get_config()
    keras_keys = {"name", "trainable", "dtype", "axis", "momentum", "epsilon", "center", "scale",
                  "beta_initializer", "gamma_initializer", "moving_mean_initializer",
                  "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
                  "beta_constraint", "gamma_constraint", "synchronized"}
    assert keras_keys <= set(cfg)
    assert cfg["axis"] == 1 and cfg["momentum"] == 0.9 and cfg["epsilon"] == 1e-5
    assert cfg["center"] is False and cfg["scale"] is True and cfg["synchronized"] is False
    assert cfg["gamma_initializer"]["class_name"] == "RandomNormal"
    assert cfg["moving_variance_initializer"]["class_name"] == "Ones"
    assert cfg["gamma_regularizer"]["class_name"] == "L2"
    assert cfg["beta_regularizer"] is None
    clone = BatchNormalization.from_config(cfg)
    assert clone.get_config() == cfg


def test_bn_bad_arguments():
    with pytest.raises(ValueError, match="axis"):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(ValueError, match="synchronized"):
        BatchNormalization(synchronized=True)
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum="fast")
    with pytest.raises(ValueError, match="center"):
        BatchNormalization(center="yes")
    with pytest.raises(ValueError, match="axis=3"):
        BatchNormalization(axis=3)(np.zeros((2, 3), np.float32))
    bn = BatchNormalization()
    bn(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        bn(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="ndim"):
        bn(np.zeros((2, 2, 3), np.float32))


# --------------------------------------------------------------------------------------------
# LayerNormalization
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((4, 6), -1), ((2, 3, 4), -1), ((2, 3, 4), [1, 2]),
                                        ((2, 3, 4, 2), [1, 3]), ((3, 5, 2), 1)])
@pytest.mark.parametrize("rms", [False, True])
def test_layer_norm_values(shape, axis, rms, rng):
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    ln = LayerNormalization(axis=axis, rms_scaling=rms, gamma_initializer="random_normal",
                            beta_initializer="random_normal")
    y = ln(x)
    axes = [axis] if isinstance(axis, int) else axis
    beta = None if ln.beta is None else ln.beta.numpy()
    ref = ln_reference(x, axes, ln.gamma.numpy(), beta, rms=rms)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-4)
    assert y.dtype == np.float32
    assert ln.gamma.shape == tuple(shape[a] for a in axes)
    names = [w.name for w in ln.weights]
    assert names == (["gamma"] if rms else ["gamma", "beta"])


@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((2, 3, 2), [1, 2]), ((2, 3, 2), 1)])
@pytest.mark.parametrize("rms", [False, True])
def test_layer_norm_gradients(shape, axis, rms, rng):
    ln = LayerNormalization(axis=axis, rms_scaling=rms, gamma_initializer="random_normal",
                            beta_initializer="random_normal")
    ln.build(shape)
    to_float64(ln)
    x = leaf(rng.standard_normal(shape))
    params = [w for w in (ln.gamma, ln.beta) if w is not None]
    check_grads(lambda: ln(x), [x] + params, rng)
    # without scale/center
    ln2 = LayerNormalization(axis=axis, center=False, scale=False)
    check_grads(lambda: ln2(x), [x], rng)
    assert ln2.weights == []


def test_layer_norm_op_default_epsilon(rng):
    x = rng.standard_normal((3, 4))
    y = ops.layer_normalization(Tensor(x))
    np.testing.assert_allclose(y.numpy(), ln_reference(x, [-1], eps=1e-7), rtol=1e-10)
    y = ops.layer_normalization(x.astype(np.float32), epsilon=0.5)
    np.testing.assert_allclose(y.numpy(), ln_reference(x, [-1], eps=0.5), rtol=1e-5)


def test_layer_norm_config_and_errors():
    ln = LayerNormalization(axis=[1, 2], epsilon=1e-5, rms_scaling=True, name="ln")
    cfg = ln.get_config()
    for key in ("axis", "epsilon", "center", "scale", "rms_scaling", "beta_initializer",
                "gamma_initializer", "beta_regularizer", "gamma_regularizer", "beta_constraint",
                "gamma_constraint"):
        assert key in cfg
    assert cfg["axis"] == [1, 2] and cfg["rms_scaling"] is True
    assert LayerNormalization.from_config(cfg).get_config() == cfg
    with pytest.raises(TypeError, match="axis"):
        LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="out of bounds"):
        LayerNormalization(axis=3)(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="epsilon"):
        LayerNormalization(epsilon="small")
    ln = LayerNormalization()
    ln(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="incompatible"):
        ln(np.zeros((2, 4), np.float32))


# --------------------------------------------------------------------------------------------
# padding / cropping / upsampling / RepeatVector / Permute
# --------------------------------------------------------------------------------------------

def _channels_first(fn, x):
    """Applies a channels-last numpy reference to channels-first data."""
    return np.transpose(fn(np.transpose(x, (0, 2, 3, 1))), (0, 3, 1, 2))


def _np_pad2d(x, p):
    return np.pad(x, ((0, 0), p[0], p[1], (0, 0)))


def _np_crop2d(x, c):
    h, w = x.shape[1], x.shape[2]
    return x[:, c[0][0]:h - c[0][1], c[1][0]:w - c[1][1], :]


def _np_bilinear_1d(n_in, f):
    # Half-pixel centres, clamped at the borders (an image resize's bilinear sampling).
    out = np.zeros((n_in * f, n_in))
    for o in range(n_in * f):
        s = min(max((o + 0.5) / f - 0.5, 0), n_in - 1)
        i0 = int(np.floor(s))
        i1 = min(i0 + 1, n_in - 1)
        out[o, i0] += 1 - (s - i0)
        out[o, i1] += s - i0
    return out


def _np_upsample2d(x, size, interpolation):
    if interpolation == "nearest":
        return np.repeat(np.repeat(x, size[0], axis=1), size[1], axis=2)
    mh = _np_bilinear_1d(x.shape[1], size[0])
    mw = _np_bilinear_1d(x.shape[2], size[1])
    return np.einsum("ph,nhwc,qw->npqc", mh, x, mw)


RESHAPE_CASES = [
    # (layer factory, input shape, numpy reference on channels-last data, expected out shape)
    (lambda df: ZeroPadding2D(1, data_format=df), (2, 3, 4, 2),
     lambda x: _np_pad2d(x, ((1, 1), (1, 1))), (2, 5, 6, 2)),
    (lambda df: ZeroPadding2D((2, 0), data_format=df), (1, 2, 3, 3),
     lambda x: _np_pad2d(x, ((2, 2), (0, 0))), (1, 6, 3, 3)),
    (lambda df: ZeroPadding2D(((0, 1), (2, 3)), data_format=df), (2, 3, 2, 1),
     lambda x: _np_pad2d(x, ((0, 1), (2, 3))), (2, 4, 7, 1)),
    (lambda df: Cropping2D(1, data_format=df), (2, 4, 5, 2),
     lambda x: _np_crop2d(x, ((1, 1), (1, 1))), (2, 2, 3, 2)),
    (lambda df: Cropping2D((1, 0), data_format=df), (1, 4, 3, 2),
     lambda x: _np_crop2d(x, ((1, 1), (0, 0))), (1, 2, 3, 2)),
    (lambda df: Cropping2D(((0, 2), (1, 0)), data_format=df), (2, 5, 4, 3),
     lambda x: _np_crop2d(x, ((0, 2), (1, 0))), (2, 3, 3, 3)),
    (lambda df: UpSampling2D(data_format=df), (2, 2, 3, 2),
     lambda x: _np_upsample2d(x, (2, 2), "nearest"), (2, 4, 6, 2)),
    (lambda df: UpSampling2D((3, 1), data_format=df), (1, 2, 2, 3),
     lambda x: _np_upsample2d(x, (3, 1), "nearest"), (1, 6, 2, 3)),
    (lambda df: UpSampling2D((2, 3), data_format=df, interpolation="bilinear"), (2, 3, 2, 2),
     lambda x: _np_upsample2d(x, (2, 3), "bilinear"), (2, 6, 6, 2)),
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", range(len(RESHAPE_CASES)))
def test_2d_reshaping_values_shapes_and_gradients(case, data_format, rng):
    make, shape_cl, ref_fn, out_cl = RESHAPE_CASES[case]
    layer = make(data_format)
    if data_format == "channels_first":
        shape = (shape_cl[0], shape_cl[3], shape_cl[1], shape_cl[2])
        out_shape = (out_cl[0], out_cl[3], out_cl[1], out_cl[2])
        ref_of = lambda x: _channels_first(ref_fn, x)
    else:
        shape, out_shape, ref_of = shape_cl, out_cl, ref_fn
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer(x)
    assert y.shape == out_shape and y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), ref_of(x.astype(np.float64)), rtol=1e-6, atol=1e-6)
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + out_shape[1:]
    xl = leaf(rng.standard_normal(shape))
    check_grads(lambda: layer(xl), [xl], rng)


@pytest.mark.parametrize("layer,shape,ref,out_shape", [
    (ZeroPadding1D(2), (2, 3, 4), lambda x: np.pad(x, ((0, 0), (2, 2), (0, 0))), (2, 7, 4)),
    (ZeroPadding1D((0, 3)), (1, 2, 2), lambda x: np.pad(x, ((0, 0), (0, 3), (0, 0))), (1, 5, 2)),
    (Cropping1D(), (2, 5, 3), lambda x: x[:, 1:4], (2, 3, 3)),
    (Cropping1D((2, 0)), (2, 5, 3), lambda x: x[:, 2:], (2, 3, 3)),
    (UpSampling1D(3), (2, 2, 3), lambda x: np.repeat(x, 3, axis=1), (2, 6, 3)),
    (RepeatVector(3), (2, 4), lambda x: np.repeat(x[:, None, :], 3, axis=1), (2, 3, 4)),
    (Permute((2, 1)), (2, 3, 4), lambda x: np.transpose(x, (0, 2, 1)), (2, 4, 3)),
    (Permute((3, 1, 2)), (2, 3, 4, 5), lambda x: np.transpose(x, (0, 3, 1, 2)), (2, 5, 3, 4)),
])
def test_1d_and_other_reshaping_layers(layer, shape, ref, out_shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer(x)
    assert y.shape == out_shape
    np.testing.assert_allclose(y.numpy(), ref(x), rtol=1e-7)
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + out_shape[1:]
    xl = leaf(rng.standard_normal(shape))
    check_grads(lambda: layer(xl), [xl], rng)


def test_keras_docstring_examples():
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    y = ZeroPadding2D(padding=1)(x).numpy()
    assert y.shape == (1, 3, 4, 2)
    np.testing.assert_array_equal(y[0, 1, 1:3], [[0, 1], [2, 3]])
    assert y.sum() == 6 and np.count_nonzero(y[0, 0]) == 0
    x = np.arange(12, dtype=np.float32).reshape(2, 2, 1, 3)
    y = UpSampling2D(size=(1, 2))(x).numpy()
    np.testing.assert_array_equal(y[0, :, :, 0], [[0, 0], [3, 3]])
    assert Cropping2D(cropping=((2, 2), (4, 4)))(np.zeros((2, 28, 28, 3))).shape == (2, 24, 20, 3)


def test_reshaping_in_sequential_output_shapes():
    model = fk.Sequential([fk.Input((10, 4)), ZeroPadding1D(1), Cropping1D((0, 2)),
                           UpSampling1D(2), Permute((2, 1)), Flatten(), RepeatVector(2)])
    assert [layer.output_shape for layer in model.layers] == [
        (None, 12, 4), (None, 10, 4), (None, 20, 4), (None, 4, 20), (None, 80), (None, 2, 80)]


def test_reshaping_configs_round_trip():
    layers = [ZeroPadding2D(((1, 2), (3, 4)), data_format="channels_first"), ZeroPadding1D(3),
              Cropping2D((1, 2)), Cropping1D((0, 1)),
              UpSampling2D((2, 3), interpolation="bilinear"), UpSampling1D(4), RepeatVector(5),
              Permute((2, 3, 1))]
    expected = [{"padding": ((1, 2), (3, 4)), "data_format": "channels_first"},
                {"padding": (3, 3)}, {"cropping": ((1, 1), (2, 2)),
                                      "data_format": "channels_last"},
                {"cropping": (0, 1)},
                {"size": (2, 3), "data_format": "channels_last", "interpolation": "bilinear"},
                {"size": 4}, {"n": 5}, {"dims": (2, 3, 1)}]
    for layer, exp in zip(layers, expected):
        cfg = layer.get_config()
        for k, v in exp.items():
            assert cfg[k] == v, (type(layer).__name__, k, cfg[k])
        clone = type(layer).from_config(cfg)
        assert clone.get_config() == cfg
        # configs survive a JSON-style trip (tuples become lists)
        listy = {k: ([list(e) if isinstance(e, tuple) else e for e in v]
                     if isinstance(v, tuple) else v) for k, v in cfg.items()}
        assert type(layer).from_config(listy).get_config() == cfg


def test_reshaping_bad_arguments():
    with pytest.raises(ValueError, match="padding"):
        ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="padding"):
        ZeroPadding2D(((1, -1), (0, 0)))
    with pytest.raises(ValueError, match="padding"):
        ZeroPadding2D("same")
    with pytest.raises(ValueError, match="padding"):
        ZeroPadding1D((1, 2, 3))
    with pytest.raises(ValueError, match="padding"):
        ZeroPadding1D(-2)
    with pytest.raises(ValueError, match="data_format"):
        ZeroPadding2D(data_format="NHWC")
    with pytest.raises(ValueError, match="cropping"):
        Cropping2D(-1)
    with pytest.raises(ValueError, match="cropping"):
        Cropping1D((1, 1.5))
    with pytest.raises(ValueError, match="smaller than the corresponding spatial dimension"):
        Cropping2D(((2, 2), (0, 0)))(np.zeros((1, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="smaller than the input length"):
        Cropping1D((2, 1))(np.zeros((1, 3, 1), np.float32))
    with pytest.raises(ValueError, match="size"):
        UpSampling1D(0)
    with pytest.raises(ValueError, match="size"):
        UpSampling2D((2, 0))
    with pytest.raises(ValueError, match="interpolation"):
        UpSampling2D(interpolation="cubic")
    with pytest.raises(ValueError, match="dims"):
        Permute((1, 1))
    with pytest.raises(ValueError, match="dims"):
        Permute((0, 1))
    with pytest.raises(TypeError, match="n"):
        RepeatVector(2.5)
    with pytest.raises(ValueError, match="ndim=4"):
        ZeroPadding2D()(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="ndim=2"):
        RepeatVector(2)(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="ndim=4"):
        Permute((2, 1, 3))(np.zeros((2, 3, 4), np.float32))


@pytest.mark.parametrize("mode", ["constant", "reflect", "symmetric", "edge", "wrap"])
def test_pad_op(mode, rng):
    x = leaf(rng.standard_normal((3, 4)))
    pw = ((1, 2), (2, 1))
    y = ops.pad(x, pw, mode=mode)
    np.testing.assert_array_equal(y.numpy(), np.pad(x.value, pw, mode=mode))
    check_grads(lambda: ops.pad(x, pw, mode=mode), [x], rng)
    with pytest.raises(ValueError, match="mode"):
        ops.pad(x, pw, mode="nope")


def test_repeat_op(rng):
    x = leaf(rng.standard_normal((2, 3)))
    np.testing.assert_array_equal(ops.repeat(x, 2, axis=1).numpy(), np.repeat(x.value, 2, axis=1))
    np.testing.assert_array_equal(ops.repeat(x, [1, 0, 3], axis=1).numpy(),
                                  np.repeat(x.value, [1, 0, 3], axis=1))
    np.testing.assert_array_equal(ops.repeat(x, 2).numpy(), np.repeat(x.value, 2))
    check_grads(lambda: ops.repeat(x, 3, axis=0), [x], rng)
    check_grads(lambda: ops.repeat(x, [2, 1, 3], axis=1), [x], rng)
    check_grads(lambda: ops.repeat(x, 2), [x], rng)


# --------------------------------------------------------------------------------------------
# SpatialDropout
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer_cls,shape,data_format,channel_axis", [
    (SpatialDropout1D, (16, 7, 32), None, 2),
    (SpatialDropout2D, (16, 5, 6, 32), "channels_last", 3),
    (SpatialDropout2D, (16, 32, 5, 6), "channels_first", 1),
])
def test_spatial_dropout_drops_whole_channels(layer_cls, shape, data_format, channel_axis, rng):
    kwargs = {} if data_format is None else {"data_format": data_format}
    layer = layer_cls(0.4, seed=3, **kwargs)
    x = rng.uniform(1, 2, shape).astype(np.float32)  # no zeros of its own
    for training in (False, None):
        np.testing.assert_array_equal(layer(x, training=training).numpy(), x)
    y = layer(x, training=True).numpy()
    ratio = y / x
    # Each (sample, channel) map is entirely dropped or entirely kept (scaled by 1/(1-rate)).
    spatial = tuple(d for d in range(1, len(shape)) if d != channel_axis)
    per_map_max = ratio.max(axis=spatial)
    per_map_min = ratio.min(axis=spatial)
    np.testing.assert_allclose(per_map_max, per_map_min, atol=1e-6)
    kept = per_map_max > 0
    np.testing.assert_allclose(per_map_max[kept], 1 / 0.6, rtol=1e-6)
    assert per_map_max.shape == (shape[0], shape[channel_axis])
    assert 0.25 < 1 - kept.mean() < 0.55  # about `rate` of the maps dropped
    # The gradient is the same mask.
    xl = leaf(x, np.float32)
    with GradientTape():
        out = layer(xl, training=True)
        loss = ops.sum(out)
    (g,) = gradients(loss, [xl])
    np.testing.assert_allclose(g, out.numpy() / x, rtol=1e-6)


def test_spatial_dropout_edge_rates_config_and_errors(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(SpatialDropout1D(0.0)(x, training=True).numpy(), x)
    np.testing.assert_array_equal(SpatialDropout1D(1.0)(x, training=True).numpy(), 0 * x)
    a = SpatialDropout1D(0.5, seed=7)(x, training=True).numpy()
    b = SpatialDropout1D(0.5, seed=7)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    cfg = SpatialDropout2D(0.3, data_format="channels_first", seed=1, name="sd").get_config()
    assert cfg == {"rate": 0.3, "seed": 1, "name": "sd", "dtype": "float32",
                   "data_format": "channels_first"}
    assert SpatialDropout2D.from_config(cfg).get_config() == cfg
    assert set(SpatialDropout1D(0.2).get_config()) == {"rate", "seed", "name", "dtype"}
    with pytest.raises(ValueError, match="rate"):
        SpatialDropout1D(1.5)
    with pytest.raises(ValueError, match="data_format"):
        SpatialDropout2D(0.1, data_format="NCHW")
    with pytest.raises(ValueError, match="ndim=3"):
        SpatialDropout1D(0.1)(np.zeros((2, 3), np.float32), training=True)
    with pytest.raises(ValueError, match="ndim=4"):
        SpatialDropout2D(0.1)(np.zeros((2, 3, 4), np.float32))


def test_spatial_dropout_in_sequential_fit(rng):
    model = fk.Sequential([fk.Input((5, 4)), SpatialDropout1D(0.5), Flatten(), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.standard_normal((32, 5, 4)).astype(np.float32)
    model.fit(x, x[:, 0, :1], epochs=1, verbose=0)
    p1 = model.predict(x, verbose=0)
    np.testing.assert_array_equal(p1, model.predict(x, verbose=0))  # inference: no dropout
