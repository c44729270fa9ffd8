"""Initializers (shapes, dtypes, statistics, seeding, lookup/serialization, errors) and
regularizers (values, gradients, lookup, errors)."""

import math

import numpy as np
import pytest

from fastkeras import initializers, ops, regularizers
from fastkeras.backend import GradientTape, Tensor, Variable, gradients
from fastkeras.backend import random as fk_random
from fastkeras.layers import Dense

ALL_NAMES = ["zeros", "ones", "constant", "random_normal", "random_uniform", "truncated_normal",
             "variance_scaling", "glorot_uniform", "glorot_normal", "he_normal", "he_uniform",
             "lecun_normal", "lecun_uniform", "orthogonal", "identity"]
RANDOM_NAMES = ["random_normal", "random_uniform", "truncated_normal", "variance_scaling",
                "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
                "lecun_uniform", "orthogonal"]


# --------------------------------------------------------------------------------------------
# shapes and dtypes
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("shape", [(6, 4), (4, 6)])
def test_shape_and_default_dtype(name, shape):
    out = initializers.get(name)(shape)
    assert isinstance(out, Tensor)  # a tensor, as Keras's
    out = np.asarray(out)
    assert out.shape == shape
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_float64_dtype(name):
    out = initializers.get(name)((5, 5), dtype="float64")
    assert out.dtype == np.float64 and out.shape == (5, 5)


@pytest.mark.parametrize("name", [n for n in ALL_NAMES if n not in ("orthogonal", "identity")])
@pytest.mark.parametrize("shape", [(7,), (3, 3, 2, 4), ()])
def test_other_ranks(name, shape):
    out = initializers.get(name)(shape)
    assert out.shape == shape and out.dtype == np.float32


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_random_initializers_are_not_constant(name):
    out = initializers.get(name)((20, 30))
    assert np.std(out) > 0
    assert len(np.unique(out)) > 500


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------

FAN_IN, FAN_OUT = 400, 600
SHAPE = (FAN_IN, FAN_OUT)
TRUNC_STD_FACTOR = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def _check_uniform(x, limit):
    assert np.abs(x).max() <= limit + 1e-7
    assert np.abs(x).max() > 0.99 * limit
    # 4 standard errors of the sample mean: a true bias fails, sampling noise does not.
    np.testing.assert_allclose(x.mean(), 0.0, atol=4 * limit / math.sqrt(3 * x.size))
    np.testing.assert_allclose(x.var(), limit ** 2 / 3, rtol=0.02)


def _check_truncated(x, std, mean=0.0):
    """A normal truncated at two of its own (pre-truncation) standard deviations, rescaled so
    the result has standard deviation `std`."""
    sigma = std / TRUNC_STD_FACTOR
    assert np.abs(x - mean).max() <= 2 * sigma + 1e-6
    assert np.abs(x - mean).max() > 1.95 * sigma
    np.testing.assert_allclose(x.mean(), mean, atol=4 * std / math.sqrt(x.size))
    np.testing.assert_allclose(x.std(), std, rtol=0.02)


@pytest.mark.parametrize("name,limit", [
    ("glorot_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("he_uniform", math.sqrt(6 / FAN_IN)),
    ("lecun_uniform", math.sqrt(3 / FAN_IN)),
])
def test_uniform_variance_scaling_limits(name, limit):
    _check_uniform(np.asarray(initializers.get(name)(SHAPE)).astype(np.float64), limit)


@pytest.mark.parametrize("name,std", [
    ("glorot_normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("he_normal", math.sqrt(2 / FAN_IN)),
    ("lecun_normal", math.sqrt(1 / FAN_IN)),
])
def test_truncated_variance_scaling_std(name, std):
    _check_truncated(np.asarray(initializers.get(name)(SHAPE)).astype(np.float64), std)


def test_random_normal_statistics():
    x = np.asarray(initializers.RandomNormal(mean=1.5, stddev=0.3)(SHAPE)).astype(np.float64)
    np.testing.assert_allclose(x.mean(), 1.5, atol=0.003)
    np.testing.assert_allclose(x.std(), 0.3, rtol=0.01)
    assert np.abs(x - 1.5).max() > 3 * 0.3  # untruncated


def test_random_normal_defaults():
    x = np.asarray(initializers.RandomNormal()(SHAPE)).astype(np.float64)
    np.testing.assert_allclose(x.std(), 0.05, rtol=0.01)
    np.testing.assert_allclose(x.mean(), 0.0, atol=0.001)


def test_random_uniform_statistics():
    x = np.asarray(initializers.RandomUniform(minval=-1.0, maxval=3.0)(SHAPE)).astype(np.float64)
    assert x.min() >= -1.0 and x.max() <= 3.0
    assert x.min() < -0.99 and x.max() > 2.99
    np.testing.assert_allclose(x.mean(), 1.0, atol=0.01)
    x = np.asarray(initializers.RandomUniform()(SHAPE))
    assert x.min() >= -0.05 and x.max() <= 0.05 and x.max() > 0.049


def test_truncated_normal_within_two_std():
    x = np.asarray(initializers.TruncatedNormal(mean=0.5, stddev=0.2)(SHAPE)).astype(np.float64)
    assert x.min() >= 0.5 - 0.4 - 1e-6 and x.max() <= 0.5 + 0.4 + 1e-6
    assert x.min() < 0.5 - 0.39 and x.max() > 0.5 + 0.39
    # a unit normal truncated at +-2 has std 0.8796
    np.testing.assert_allclose(x.std(), 0.2 * TRUNC_STD_FACTOR, rtol=0.02)
    np.testing.assert_allclose(x.mean(), 0.5, atol=0.002)


@pytest.mark.parametrize("mode,n", [("fan_in", FAN_IN), ("fan_out", FAN_OUT),
                                    ("fan_avg", (FAN_IN + FAN_OUT) / 2)])
@pytest.mark.parametrize("distribution", ["uniform", "truncated_normal", "untruncated_normal",
                                          "normal"])
def test_variance_scaling_modes(mode, n, distribution):
    scale = 3.0
    x = initializers.VarianceScaling(scale=scale, mode=mode, distribution=distribution)(SHAPE)
    x = np.asarray(x, np.float64)
    std = math.sqrt(scale / n)
    if distribution == "uniform":
        _check_uniform(x, math.sqrt(3 * scale / n))
    elif distribution in ("truncated_normal", "normal"):
        _check_truncated(x, std)
    else:
        np.testing.assert_allclose(x.std(), std, rtol=0.02)
        assert np.abs(x).max() > 3 * std


def test_variance_scaling_conv_fans():
    # (kh, kw, in, out): fan_in = kh*kw*in = 3*3*32 = 288
    x = np.asarray(initializers.HeNormal()((3, 3, 32, 64))).astype(np.float64)
    _check_truncated(x, math.sqrt(2 / 288))
    x = np.asarray(initializers.GlorotUniform()((5, 5, 16, 32))).astype(np.float64)
    limit = math.sqrt(6 / (25 * 16 + 25 * 32))
    assert np.abs(x).max() <= limit + 1e-7 and np.abs(x).max() > 0.98 * limit


def test_variance_scaling_1d_shape_fans():
    x = initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform")((10000,))
    limit = math.sqrt(3 / 10000)
    assert np.abs(x).max() <= limit + 1e-7


def test_variance_scaling_config():
    init = initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="uniform", seed=3)
    assert init.get_config() == {"scale": 2.0, "mode": "fan_out", "distribution": "uniform",
                                 "seed": 3, "input_axes": None, "output_axes": None}
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    assert initializers.GlorotUniform(seed=1).get_config() == \
        {"seed": 1, "input_axes": None, "output_axes": None}


def test_variance_scaling_fans_from_named_axes():
    """input_axes/output_axes (Keras 3.15): the fans are those axes' sizes, not the
    convolution-kernel reading of the shape."""
    shape = (3, 400, 5)
    by_axes = initializers.VarianceScaling(1.0, "fan_in", "uniform", seed=0, input_axes=[0],
                                           output_axes=[2])
    values = by_axes(shape)
    assert np.abs(values).max() <= 1.0 and np.abs(values).max() > 0.9  # limit sqrt(3 / 3)
    default = initializers.VarianceScaling(1.0, "fan_in", "uniform", seed=0)(shape)
    assert np.abs(default).max() <= math.sqrt(3.0 / 1200)  # fan_in 400 * 3
    glorot = initializers.GlorotUniform(seed=0, input_axes=[0], output_axes=[2])
    assert np.abs(glorot(shape)).max() <= math.sqrt(6.0 / (3 + 5))
    again = initializers.get(initializers.serialize(glorot))
    assert (again.input_axes, again.output_axes) == ([0], [2])
    with pytest.raises(ValueError, match=r"input_axes=\[0\].*output_axes=\[7\]"):
        initializers.VarianceScaling(input_axes=[0], output_axes=[7])((3, 4))


# --------------------------------------------------------------------------------------------
# orthogonal, constants, identity
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (50, 50)])
def test_orthogonal(shape):
    q = np.asarray(initializers.Orthogonal()(shape)).astype(np.float64)
    rows, cols = shape
    if rows >= cols:
        np.testing.assert_allclose(q.T @ q, np.eye(cols), atol=1e-5)
    if cols >= rows:
        np.testing.assert_allclose(q @ q.T, np.eye(rows), atol=1e-5)


def test_orthogonal_gain_and_3d():
    q = np.asarray(initializers.Orthogonal(gain=2.5)((30, 10))).astype(np.float64)
    np.testing.assert_allclose(q.T @ q, 6.25 * np.eye(10), atol=1e-4)
    q3 = np.asarray(initializers.Orthogonal()((4, 5, 8))).astype(np.float64)
    assert q3.shape == (4, 5, 8)
    flat = q3.reshape(20, 8)
    np.testing.assert_allclose(flat.T @ flat, np.eye(8), atol=1e-5)


def test_orthogonal_needs_2d():
    with pytest.raises(ValueError, match="shape"):
        initializers.Orthogonal()((5,))


def test_orthogonal_not_always_same_sign_pattern():
    q1 = initializers.Orthogonal(seed=1)((8, 8))
    q2 = initializers.Orthogonal(seed=2)((8, 8))
    assert not np.allclose(q1, q2)


def test_constant_zeros_ones():
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()((2, 3)), np.ones((2, 3)))
    np.testing.assert_array_equal(initializers.Constant(2.5)((4,)), np.full(4, 2.5))
    np.testing.assert_array_equal(initializers.Constant()((2,)), np.zeros(2))
    assert initializers.Constant(7.0).get_config() == {"value": 7.0}


def test_identity():
    np.testing.assert_array_equal(initializers.Identity()((3, 3)), np.eye(3))
    np.testing.assert_array_equal(initializers.Identity(gain=2.0)((2, 4)), 2 * np.eye(2, 4))
    out = initializers.get("identity")((4, 2))
    np.testing.assert_array_equal(out, np.eye(4, 2))
    assert out.dtype == np.float32
    assert initializers.Identity(gain=3.0).get_config() == {"gain": 3.0}


def test_identity_needs_2d():
    with pytest.raises(ValueError, match="2D"):
        initializers.Identity()((2, 2, 2))


# --------------------------------------------------------------------------------------------
# seeding
# --------------------------------------------------------------------------------------------

SEEDED_CLASSES = [initializers.RandomNormal, initializers.RandomUniform,
                  initializers.TruncatedNormal, initializers.VarianceScaling,
                  initializers.GlorotUniform, initializers.GlorotNormal, initializers.HeNormal,
                  initializers.HeUniform, initializers.LecunNormal, initializers.LecunUniform,
                  initializers.Orthogonal]


@pytest.mark.parametrize("cls", SEEDED_CLASSES, ids=lambda c: c.__name__)
def test_explicit_seed_reproducible_across_instances(cls):
    a = cls(seed=123)((10, 8))
    b = cls(seed=123)((10, 8))
    c = cls(seed=124)((10, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("cls", SEEDED_CLASSES, ids=lambda c: c.__name__)
def test_int_seeded_initializer_same_values_each_call(cls):
    """Keras 3: an initializer seeded with an integer returns the same values on every call."""
    init = cls(seed=5)
    np.testing.assert_array_equal(init((6, 4)), init((6, 4)))


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_global_seed_reproducible(name):
    fk_random.set_seed(2024)
    a = initializers.get(name)((10, 8))
    fk_random.set_seed(2024)
    b = initializers.get(name)((10, 8))
    fk_random.set_seed(2025)
    c = initializers.get(name)((10, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert fk_random.get_seed() == 2025


def test_unseeded_instances_repeat_their_values_and_differ_from_each_other():
    # Keras 3: an unseeded initializer draws its seed once, so one instance gives the same
    # values on every call (two layers sharing it get equal kernels); separate instances
    # differ, and the config still holds no seed.
    init = initializers.GlorotUniform()
    np.testing.assert_array_equal(init((5, 5)), init((5, 5)))
    assert not np.array_equal(init((5, 5)), initializers.GlorotUniform()((5, 5)))
    assert init.get_config()["seed"] is None
    a, b = Dense(3, kernel_initializer=init), Dense(3, kernel_initializer=init)
    a.build((None, 3))
    b.build((None, 3))
    np.testing.assert_array_equal(np.asarray(a.kernel), np.asarray(b.kernel))


def test_global_seed_makes_dense_reproducible():
    x = np.ones((2, 4), np.float32)
    fk_random.set_seed(9)
    a = Dense(3)
    a(x)
    fk_random.set_seed(9)
    b = Dense(3)
    b(x)
    np.testing.assert_array_equal(a.kernel.numpy(), b.kernel.numpy())


def test_explicit_seed_independent_of_global_state():
    fk_random.set_seed(1)
    a = initializers.HeNormal(seed=7)((4, 4))
    fk_random.set_seed(2)
    initializers.HeNormal()((10, 10))
    b = initializers.HeNormal(seed=7)((4, 4))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", ["1", 1.5, [1]])
def test_invalid_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        initializers.RandomNormal(seed=seed)


def test_numpy_integer_seed_accepted():
    a = initializers.RandomNormal(seed=np.int64(3))((3,))
    b = initializers.RandomNormal(seed=3)((3,))
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------
# get / serialize / errors
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,cls", [
    ("zeros", initializers.Zeros), ("ones", initializers.Ones),
    ("constant", initializers.Constant), ("random_normal", initializers.RandomNormal),
    ("random_uniform", initializers.RandomUniform),
    ("truncated_normal", initializers.TruncatedNormal),
    ("variance_scaling", initializers.VarianceScaling),
    ("glorot_uniform", initializers.GlorotUniform), ("glorot_normal", initializers.GlorotNormal),
    ("he_normal", initializers.HeNormal), ("he_uniform", initializers.HeUniform),
    ("lecun_normal", initializers.LecunNormal), ("lecun_uniform", initializers.LecunUniform),
    ("orthogonal", initializers.Orthogonal), ("identity", initializers.Identity),
])
def test_get_by_name_and_class_name(name, cls):
    assert type(initializers.get(name)) is cls
    assert type(initializers.get(cls.__name__)) is cls
    assert type(initializers.get(cls)) is cls


def test_get_passthrough_and_none():
    init = initializers.HeUniform(seed=1)
    assert initializers.get(init) is init
    fn = lambda shape, dtype=None: np.zeros(shape)
    assert initializers.get(fn) is fn
    assert initializers.get(None) is None


def test_get_from_config_dict():
    init = initializers.get({"class_name": "RandomNormal",
                             "config": {"mean": 1.0, "stddev": 2.0, "seed": 3}})
    assert isinstance(init, initializers.RandomNormal)
    assert (init.mean, init.stddev, init.seed) == (1.0, 2.0, 3)


@pytest.mark.parametrize("init", [
    initializers.RandomNormal(mean=0.5, stddev=0.1, seed=4),
    initializers.RandomUniform(minval=-2, maxval=2, seed=1),
    initializers.TruncatedNormal(stddev=0.3),
    initializers.VarianceScaling(scale=0.5, mode="fan_avg", distribution="uniform", seed=2),
    initializers.GlorotUniform(seed=8), initializers.HeNormal(), initializers.Orthogonal(gain=2.0),
    initializers.Constant(3.0), initializers.Zeros(), initializers.Ones(),
    initializers.Identity(gain=0.5),
], ids=lambda i: type(i).__name__)
def test_serialize_roundtrip(init):
    data = initializers.serialize(init)
    assert data["module"] == "keras.initializers"
    assert data["class_name"] == type(init).__name__
    assert data["config"] == init.get_config()
    clone = initializers.get(data)
    assert type(clone) is type(init)
    assert clone.get_config() == init.get_config()
    if init.get_config().get("seed") is not None:
        np.testing.assert_array_equal(clone((4, 3)), type(init).from_config(init.get_config())(
            (4, 3)))


def test_preset_configs_are_keras_3_15s():
    assert initializers.GlorotUniform(seed=3).get_config() == \
        {"seed": 3, "input_axes": None, "output_axes": None}
    assert initializers.HeNormal().get_config() == \
        {"seed": None, "input_axes": None, "output_axes": None}


@pytest.mark.parametrize("bad", ["not_an_initializer", 3, {"class_name": "Nope", "config": {}}])
def test_get_unknown(bad):
    with pytest.raises(ValueError):
        initializers.get(bad)


def test_variance_scaling_errors():
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=-1.0)
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sideways")
    with pytest.raises(ValueError, match="distribution"):
        initializers.VarianceScaling(distribution="cauchy")


# --------------------------------------------------------------------------------------------
# regularizers
# --------------------------------------------------------------------------------------------

@pytest.fixture
def weights():
    return np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)


def test_l1_value(weights):
    out = regularizers.L1(0.3)(Tensor(weights))
    np.testing.assert_allclose(float(out), 0.3 * np.abs(weights).sum(), rtol=1e-5)


def test_l2_value(weights):
    out = regularizers.L2(0.2)(Tensor(weights))
    np.testing.assert_allclose(float(out), 0.2 * np.square(weights).sum(), rtol=1e-5)


def test_l1_l2_value(weights):
    out = regularizers.L1L2(l1=0.1, l2=0.4)(Tensor(weights))
    expected = 0.1 * np.abs(weights).sum() + 0.4 * np.square(weights).sum()
    np.testing.assert_allclose(float(out), expected, rtol=1e-5)
    out = regularizers.l1_l2(l1=0.01, l2=0.01)(Tensor(weights))
    expected = 0.01 * np.abs(weights).sum() + 0.01 * np.square(weights).sum()
    np.testing.assert_allclose(float(out), expected, rtol=1e-5)


def test_l1l2_single_terms(weights):
    np.testing.assert_allclose(float(regularizers.L1L2(l2=0.5)(Tensor(weights))),
                               0.5 * np.square(weights).sum(), rtol=1e-5)
    np.testing.assert_allclose(float(regularizers.L1L2(l1=0.5)(Tensor(weights))),
                               0.5 * np.abs(weights).sum(), rtol=1e-5)


def test_default_factors():
    assert regularizers.L1().l1 == 0.01
    assert regularizers.L2().l2 == 0.01
    assert (regularizers.L1L2().l1, regularizers.L1L2().l2) == (0.0, 0.0)
    r = regularizers.l1_l2()  # Keras 3's l1_l2 is L1L2 itself
    assert (r.l1, r.l2) == (0.0, 0.0) and regularizers.l1_l2 is regularizers.L1L2
    assert regularizers.l1 is regularizers.L1 and regularizers.l2 is regularizers.L2


def test_regularizer_gradients(weights):
    v = Variable(weights)
    with GradientTape():
        loss = regularizers.L1L2(l1=0.1, l2=0.4)(v)
    (g,) = gradients(loss, [v])
    np.testing.assert_allclose(g, 0.1 * np.sign(weights) + 0.8 * weights, rtol=1e-5)
    with GradientTape():
        loss = regularizers.L1(0.3)(v)
    (g,) = gradients(loss, [v])
    np.testing.assert_allclose(g, 0.3 * np.sign(weights), rtol=1e-6)
    with GradientTape():
        loss = regularizers.L2(0.2)(v)
    (g,) = gradients(loss, [v])
    np.testing.assert_allclose(g, 0.4 * weights, rtol=1e-6)


def test_regularizer_gradient_finite_differences():
    rng = np.random.default_rng(3)
    x = Tensor(rng.uniform(0.2, 1.0, (3, 3)) * np.sign(rng.standard_normal((3, 3))),
               requires_grad=True)
    reg = regularizers.L1L2(l1=0.2, l2=0.7)
    with GradientTape():
        loss = reg(x)
    (g,) = gradients(loss, [x])
    eps = 1e-6
    num = np.zeros((3, 3))
    for idx in np.ndindex(3, 3):
        orig = x.value[idx]
        x.value[idx] = orig + eps
        fp = float(reg(x))
        x.value[idx] = orig - eps
        fm = float(reg(x))
        x.value[idx] = orig
        num[idx] = (fp - fm) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-6)


@pytest.mark.parametrize("name,cls,attrs", [
    ("l1", regularizers.L1, {"l1": 0.01}),
    ("l2", regularizers.L2, {"l2": 0.01}),
    ("L1", regularizers.L1, {"l1": 0.01}),
    ("l1_l2", regularizers.L1L2, {}),
    ("L1L2", regularizers.L1L2, {"l1": 0.0, "l2": 0.0}),  # Keras 3's class defaults
    ("l1l2", regularizers.L1L2, {"l1": 0.0, "l2": 0.0}),
    ("OrthogonalRegularizer", regularizers.OrthogonalRegularizer, {"factor": 0.01}),
])
def test_get_by_name(name, cls, attrs):
    reg = regularizers.get(name)
    assert type(reg) is cls
    for k, v in attrs.items():
        assert getattr(reg, k) == pytest.approx(v)


def test_get_passthrough_none_dict_and_serialize():
    r = regularizers.L2(0.3)
    assert regularizers.get(r) is r
    assert regularizers.get(None) is None
    fn = lambda x: ops.sum(x)
    assert regularizers.get(fn) is fn
    data = regularizers.serialize(regularizers.L1L2(l1=0.1, l2=0.2))
    assert data["class_name"] == "L1L2" and data["module"] == "keras.regularizers"
    clone = regularizers.get(data)
    assert isinstance(clone, regularizers.L1L2)
    assert (clone.l1, clone.l2) == pytest.approx((0.1, 0.2))
    assert regularizers.get({"class_name": "L2", "config": {"l2": 0.5}}).l2 == 0.5


@pytest.mark.parametrize("bad", ["l3", {"class_name": "L7", "config": {}}, 4])
def test_get_unknown_regularizer(bad):
    with pytest.raises(ValueError):
        regularizers.get(bad)


@pytest.mark.parametrize("make,arg", [
    (lambda: regularizers.L1(-0.1), "l1"),
    (lambda: regularizers.L2(-1), "l2"),
    (lambda: regularizers.L1L2(l1=-0.5), "l1"),
    (lambda: regularizers.L1L2(l2=-0.5), "l2"),
    (lambda: regularizers.l1_l2(l1=0.1, l2=-2.0), "l2"),
])
def test_negative_factor_raises(make, arg):
    with pytest.raises(ValueError) as e:
        make()
    assert arg in str(e.value) and "-" in str(e.value)


def test_non_numeric_factor_raises():
    with pytest.raises(ValueError, match="l2"):
        regularizers.L2("big")


def test_regularizer_config_roundtrip():
    r = regularizers.L1L2(l1=0.25, l2=0.5)
    clone = regularizers.L1L2.from_config(r.get_config())
    assert clone.get_config() == {"l1": 0.25, "l2": 0.5}


def test_regularizer_configs_match_keras():
    keras = pytest.importorskip("keras")
    for make in (lambda m: m.L1(0.01), lambda m: m.L2(0.003), lambda m: m.L1L2(0.01, 0.02),
                 lambda m: m.l1(0.3), lambda m: m.OrthogonalRegularizer(0.02, "columns")):
        ours, theirs = make(regularizers).get_config(), make(keras.regularizers).get_config()
        assert ours == theirs
    import fastkeras
    assert fastkeras.callbacks.Callback().params is None
    assert keras.callbacks.Callback().params is None


def test_initializers_take_a_seed_generator_and_keep_it_in_their_config():
    # Keras 3: a SeedGenerator seed gives new values on every call, and the config holds the
    # generator as Keras writes it (the same dict real Keras 3.15 writes).
    import json

    from fastkeras.random import SeedGenerator
    for cls in (initializers.GlorotUniform, initializers.RandomNormal, initializers.Orthogonal,
                initializers.TruncatedNormal, initializers.HeNormal):
        init = cls(seed=SeedGenerator(5))
        first, second = np.asarray(init((3, 3))), np.asarray(init((3, 3)))
        assert not np.array_equal(first, second)
        config = json.loads(json.dumps(init.get_config()))
        assert config["seed"]["module"] == "keras.random"
        assert config["seed"]["class_name"] == "SeedGenerator"
        assert config["seed"]["config"]["seed"] == 5
        again = cls.from_config(config)
        assert isinstance(again.seed, SeedGenerator)
        np.testing.assert_array_equal(np.asarray(again((3, 3))), first)
    with pytest.raises(ValueError, match="SeedGenerator"):
        initializers.GlorotUniform(seed="five")
