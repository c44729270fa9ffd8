"""Gradient checks: every differentiable op, activation and core layer, against central finite
differences, plus the tape's bookkeeping (accumulation, no recording outside a tape, shared
variables)."""

import math

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import activations, ops
from fastkeras.backend import GradientTape, Tensor, Variable, gradients, no_grad
from fastkeras.layers import Activation, Dense, Dropout, Flatten, Lambda, Reshape
from gradcheck import away_from, check_grads, leaf

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


# --------------------------------------------------------------------------------------------
# binary elementwise ops with broadcasting
# --------------------------------------------------------------------------------------------

BROADCAST_CASES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((3, 4), ()),
    ((), (2, 3)),
]


@pytest.mark.parametrize("sx,sy", BROADCAST_CASES)
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum", "minimum"])
def test_binary_op_gradients(op, sx, sy, rng):
    a = rng.uniform(0.5, 2.0, size=sx)
    b = rng.uniform(0.5, 2.0, size=sy)
    if op in ("maximum", "minimum"):
        # keep the two operands apart so the op is differentiable at the sample
        b = b + np.where(rng.random(sy) < 0.5, 3.0, -3.0) if sy else b + 3.0
    x, y = leaf(a), leaf(b)
    check_grads(lambda: getattr(ops, op)(x, y), [x, y], rng)


@pytest.mark.parametrize("sx,sy", BROADCAST_CASES)
def test_power_gradients(sx, sy, rng):
    x = leaf(rng.uniform(0.5, 2.0, size=sx))
    y = leaf(rng.uniform(-1.5, 2.5, size=sy))
    check_grads(lambda: ops.power(x, y), [x, y], rng)


def test_power_integer_exponent_negative_base(rng):
    x = leaf(away_from(rng, (3, 4)))
    check_grads(lambda: ops.power(x, 3.0), [x], rng)
    np.testing.assert_allclose(ops.power(x, 3.0).value, x.value ** 3)


def test_binary_op_values(rng):
    a, b = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (4,))
    x, y = leaf(a), leaf(b)
    np.testing.assert_allclose(ops.add(x, y).value, a + b)
    np.testing.assert_allclose(ops.subtract(x, y).value, a - b)
    np.testing.assert_allclose(ops.multiply(x, y).value, a * b)
    np.testing.assert_allclose(ops.divide(x, y).value, a / b)
    np.testing.assert_allclose(ops.power(x, y).value, a ** b)
    np.testing.assert_allclose(ops.maximum(x, y).value, np.maximum(a, b))
    np.testing.assert_allclose(ops.minimum(x, y).value, np.minimum(a, b))


def test_tensor_operators_record_gradients(rng):
    x = leaf(rng.uniform(0.5, 2, (2, 3)))
    y = leaf(rng.uniform(0.5, 2, (2, 3)))
    check_grads(lambda: (x + y) * x - y / x + 2.0 - (-x) + 1.0 / y + x ** 2.0, [x, y], rng)
    np.testing.assert_allclose((3.0 - x).value, 3.0 - x.value)
    np.testing.assert_allclose((2.0 * x).value, 2.0 * x.value)


def test_tensor_matmul_and_getitem_operators(rng):
    x = leaf(rng.standard_normal((3, 4)))
    y = leaf(rng.standard_normal((4, 2)))
    check_grads(lambda: (x @ y)[1:], [x, y], rng)


def test_maximum_minimum_with_scalar(rng):
    x = leaf(away_from(rng, (3, 4)))
    check_grads(lambda: ops.maximum(x, 0.0), [x], rng)
    check_grads(lambda: ops.minimum(x, 0.0), [x], rng)
    np.testing.assert_allclose(ops.maximum(x, 0.0).value, np.maximum(x.value, 0))


# --------------------------------------------------------------------------------------------
# matmul
# --------------------------------------------------------------------------------------------

MATMUL_CASES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
]


@pytest.mark.parametrize("sx,sy", MATMUL_CASES)
def test_matmul_gradients(sx, sy, rng):
    x, y = leaf(rng.standard_normal(sx)), leaf(rng.standard_normal(sy))
    out = check_grads(lambda: ops.matmul(x, y), [x, y], rng)
    assert out is not None
    np.testing.assert_allclose(ops.matmul(x, y).value, np.matmul(x.value, y.value))


def test_batched_matrix_times_vector_gradient(rng):
    """(batch, m, k) @ (k,) is valid numpy/Keras matmul; its gradient must be too."""
    x, v = leaf(rng.standard_normal((2, 3, 4))), leaf(rng.standard_normal((4,)))
    check_grads(lambda: ops.matmul(x, v), [x, v], rng)


def test_dot_is_matmul_for_matrices(rng):
    x, y = leaf(rng.standard_normal((3, 4))), leaf(rng.standard_normal((4, 2)))
    check_grads(lambda: ops.dot(x, y), [x, y], rng)


# --------------------------------------------------------------------------------------------
# reductions
# --------------------------------------------------------------------------------------------

REDUCE_AXES = [None, 0, 1, -1, (0, 2), (-1, -2)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", REDUCE_AXES)
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_mean_gradients(name, axis, keepdims, rng):
    x = leaf(rng.standard_normal((2, 3, 4)))
    fn = getattr(ops, name)
    check_grads(lambda: fn(x, axis=axis, keepdims=keepdims), [x], rng)
    ref = getattr(np, name)(x.value, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(fn(x, axis=axis, keepdims=keepdims).value, ref, rtol=1e-12)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", REDUCE_AXES)
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_gradients(name, axis, keepdims, rng):
    # distinct values: the extreme is unique, so the op is differentiable there
    vals = rng.permutation(24).reshape(2, 3, 4) * 0.37 + rng.uniform(0, 0.01, (2, 3, 4))
    x = leaf(vals)
    fn = getattr(ops, name)
    check_grads(lambda: fn(x, axis=axis, keepdims=keepdims), [x], rng, eps=1e-4)
    ref = getattr(np, name)(vals, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(fn(x, axis=axis, keepdims=keepdims).value, ref)


def test_max_gradient_goes_only_to_argmax(rng):
    x = leaf([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    with GradientTape():
        loss = ops.sum(ops.max(x, axis=1))
    (g,) = gradients(loss, [x])
    np.testing.assert_array_equal(g, [[0, 1, 0], [1, 0, 0]])


def test_max_ties_share_gradient():
    x = leaf([[2.0, 2.0, 1.0]])
    with GradientTape():
        loss = ops.sum(ops.max(x, axis=-1))
    (g,) = gradients(loss, [x])
    np.testing.assert_allclose(g, [[0.5, 0.5, 0.0]])
    assert g.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_gradients(name, rng):
    x = leaf(rng.standard_normal((3, 5)))
    fn = getattr(ops, name)
    check_grads(lambda: fn(x, axis=1), [x], rng)
    np.testing.assert_allclose(fn(x, axis=1).value, getattr(np, name)(x.value, axis=1))


# --------------------------------------------------------------------------------------------
# unary math
# --------------------------------------------------------------------------------------------

UNARY = {
    "exp": (np.exp, dict(low=-2, high=2)),
    "log": (np.log, dict(low=0.2, high=3)),
    "sqrt": (np.sqrt, dict(low=0.2, high=3)),
    "square": (np.square, dict(low=-2, high=2)),
    "abs": (np.abs, dict(low=-2, high=2)),
    "negative": (np.negative, dict(low=-2, high=2)),
    "log1p": (np.log1p, dict(low=-0.5, high=3)),
    "expm1": (np.expm1, dict(low=-2, high=2)),
    "sin": (np.sin, dict(low=-3, high=3)),
    "cos": (np.cos, dict(low=-3, high=3)),
    "erf": (np.vectorize(math.erf), dict(low=-2, high=2)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradients_and_values(name, rng):
    ref, rng_kw = UNARY[name]
    x = leaf(away_from(rng, (3, 4), kinks=(0.0,), **rng_kw))
    fn = getattr(ops, name)
    check_grads(lambda: fn(x), [x], rng)
    np.testing.assert_allclose(fn(x).value, ref(x.value), rtol=1e-12)


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (0.0, 1.0), (-1.0, 10.0)])
def test_clip_gradient(lo, hi, rng):
    x = leaf(away_from(rng, (4, 5), kinks=(lo, hi)))
    check_grads(lambda: ops.clip(x, lo, hi), [x], rng)
    np.testing.assert_allclose(ops.clip(x, lo, hi).value, np.clip(x.value, lo, hi))
    with GradientTape():
        loss = ops.sum(ops.clip(x, lo, hi))
    (g,) = gradients(loss, [x])
    np.testing.assert_array_equal(g, ((x.value > lo) & (x.value < hi)).astype(float))


def test_cast_to_float_keeps_gradient(rng):
    x = leaf(rng.standard_normal((2, 3)))
    check_grads(lambda: ops.cast(x, "float64") * 3.0, [x], rng)


def test_sign_gradient_is_zero(rng):
    x = leaf(away_from(rng, (2, 3)))
    with GradientTape():
        loss = ops.sum(ops.sign(x) * x)
    (g,) = gradients(loss, [x])
    # d/dx [sign(x) * x] = sign(x) (the sign itself contributes nothing)
    np.testing.assert_allclose(g, np.sign(x.value))


# --------------------------------------------------------------------------------------------
# where / shape ops / indexing
# --------------------------------------------------------------------------------------------

def test_where_gradients(rng):
    cond = rng.random((3, 4)) < 0.5
    x, y = leaf(rng.standard_normal((3, 4))), leaf(rng.standard_normal((3, 4)))
    check_grads(lambda: ops.where(cond, x, y), [x, y], rng)
    np.testing.assert_allclose(ops.where(cond, x, y).value, np.where(cond, x.value, y.value))


def test_where_broadcasting_gradients(rng):
    cond = rng.random((3, 4)) < 0.5
    x, y = leaf(rng.standard_normal((4,))), leaf(rng.standard_normal((3, 1)))
    check_grads(lambda: ops.where(cond, x, y), [x, y], rng)


def test_where_with_tensor_condition(rng):
    x = leaf(rng.standard_normal((3, 4)))
    cond = Tensor(x.value > 0)
    check_grads(lambda: ops.where(cond, x * 2.0, x * -1.0), [x], rng)


@pytest.mark.parametrize("new_shape", [(12,), (4, 3), (-1, 2), (2, 2, 3)])
def test_reshape_gradient(new_shape, rng):
    x = leaf(rng.standard_normal((3, 4)))
    check_grads(lambda: ops.reshape(x, new_shape), [x], rng)
    np.testing.assert_array_equal(ops.reshape(x, new_shape).value, x.value.reshape(new_shape))


@pytest.mark.parametrize("axes", [None, (0, 1, 2), (2, 0, 1), (1, 2, 0), (0, 2, 1)])
def test_transpose_gradient(axes, rng):
    x = leaf(rng.standard_normal((2, 3, 4)))
    check_grads(lambda: ops.transpose(x, axes), [x], rng)
    np.testing.assert_array_equal(ops.transpose(x, axes).value, np.transpose(x.value, axes))


@pytest.mark.parametrize("axes", [(-1, 0, 1), (0, -1, -2)])
def test_transpose_negative_axes_gradient(axes, rng):
    """numpy/Keras accept negative axes in transpose; the gradient must undo the permutation."""
    x = leaf(rng.standard_normal((2, 3, 4)))
    np.testing.assert_array_equal(ops.transpose(x, axes).value, np.transpose(x.value, axes))
    check_grads(lambda: ops.transpose(x, axes), [x], rng)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_gradient(axis, rng):
    shapes = {0: [(1, 3), (2, 3), (3, 3)], 1: [(2, 1), (2, 4), (2, 2)],
              -1: [(2, 1), (2, 4), (2, 2)]}[axis]
    xs = [leaf(rng.standard_normal(s)) for s in shapes]
    check_grads(lambda: ops.concatenate(xs, axis=axis), xs, rng)
    np.testing.assert_array_equal(ops.concatenate(xs, axis=axis).value,
                                  np.concatenate([t.value for t in xs], axis=axis))


def test_concatenate_with_constant(rng):
    x = leaf(rng.standard_normal((2, 3)))
    c = np.ones((2, 2))
    check_grads(lambda: ops.concatenate([c, x, c], axis=1), [x], rng)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack_gradient(axis, rng):
    xs = [leaf(rng.standard_normal((2, 3))) for _ in range(3)]
    check_grads(lambda: ops.stack(xs, axis=axis), xs, rng)
    np.testing.assert_array_equal(ops.stack(xs, axis=axis).value,
                                  np.stack([t.value for t in xs], axis=axis))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_expand_dims_gradient(axis, rng):
    x = leaf(rng.standard_normal((2, 3)))
    check_grads(lambda: ops.expand_dims(x, axis), [x], rng)
    assert ops.expand_dims(x, axis).shape == np.expand_dims(x.value, axis).shape


@pytest.mark.parametrize("axis", [None, 1, -1, (1, 3)])
def test_squeeze_gradient(axis, rng):
    x = leaf(rng.standard_normal((2, 1, 3, 1)))
    check_grads(lambda: ops.squeeze(x, axis), [x], rng)
    assert ops.squeeze(x, axis).shape == np.squeeze(x.value, axis).shape


INDICES = [
    1,
    -1,
    slice(1, 3),
    (slice(None), 2),
    (Ellipsis, 0),
    (slice(None, None, -1), slice(0, 4, 2)),
    np.array([0, 2, 2]),      # repeated fancy index: gradients must accumulate
    (np.array([0, 1]), np.array([3, 3])),
]


@pytest.mark.parametrize("index", INDICES, ids=[repr(i) for i in range(len(INDICES))])
def test_getitem_gradient(index, rng):
    x = leaf(rng.standard_normal((3, 4)))
    check_grads(lambda: ops.getitem(x, index), [x], rng)
    np.testing.assert_array_equal(ops.getitem(x, index).value, x.value[index])


def test_getitem_scalar_and_boolean_mask(rng):
    x = leaf(rng.standard_normal((3, 4)))
    check_grads(lambda: ops.getitem(x, (1, 2)) * 1.0, [x], rng)
    mask = x.value > 0
    check_grads(lambda: ops.getitem(x, mask), [x], rng)


def test_repeated_fancy_index_accumulates():
    x = leaf([1.0, 2.0, 3.0])
    with GradientTape():
        loss = ops.sum(ops.getitem(x, np.array([0, 0, 2, 0])))
    (g,) = gradients(loss, [x])
    np.testing.assert_array_equal(g, [3.0, 0.0, 1.0])


# --------------------------------------------------------------------------------------------
# activations: reference definitions (Keras 3)
# --------------------------------------------------------------------------------------------

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf)


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


REF_ACT = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.minimum(np.maximum(x, 0.0), 6.0),
    "sigmoid": _np_sigmoid,
    "tanh": np.tanh,
    "softmax": _np_softmax,
    "log_softmax": lambda x: np.log(_np_softmax(x)),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1.0),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1.0)),
    "softplus": lambda x: np.log(1.0 + np.exp(x)),
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "silu": lambda x: x * _np_sigmoid(x),
    "swish": lambda x: x * _np_sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0))),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "exponential": np.exp,
    "hard_sigmoid": lambda x: np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0,
    "hard_silu": lambda x: x * np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0,
    "hard_swish": lambda x: x * np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0,
}
KINKS = {"relu": (0.0,), "relu6": (0.0, 6.0), "leaky_relu": (0.0,), "elu": (0.0,),
         "selu": (0.0,), "hard_sigmoid": (-3.0, 3.0), "hard_silu": (-3.0, 3.0),
         "hard_swish": (-3.0, 3.0)}
OPS_ACT = [n for n in REF_ACT if n != "linear"]


def _sample_for(name, rng, shape=(4, 5)):
    return away_from(rng, shape, kinks=KINKS.get(name, ()), margin=0.05, low=-7.0, high=7.0)


@pytest.mark.parametrize("name", OPS_ACT)
def test_activation_op_gradient(name, rng):
    x = leaf(_sample_for(name, rng))
    fn = getattr(ops, name)
    check_grads(lambda: fn(x), [x], rng)


@pytest.mark.parametrize("name", OPS_ACT)
def test_activation_op_values(name, rng):
    x = _sample_for(name, rng)
    fn = getattr(ops, name)
    if name == "gelu":  # the reference is the exact form; ops.gelu approximates by default
        fn = lambda t: ops.gelu(t, approximate=False)
    out = fn(leaf(x)).value
    np.testing.assert_allclose(out, REF_ACT[name](x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(REF_ACT))
def test_activations_get_by_name_values_and_gradient(name, rng):
    fn = activations.get(name)
    x = leaf(_sample_for(name, rng))
    np.testing.assert_allclose(fn(x).value, REF_ACT[name](x.value), rtol=1e-10, atol=1e-12)
    if name != "linear":
        check_grads(lambda: fn(x), [x], rng)


@pytest.mark.parametrize("name", sorted(REF_ACT))
def test_activation_float32_values(name, rng):
    x = _sample_for(name, rng).astype(np.float32)
    out = activations.get(name)(Tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.value, REF_ACT[name](x.astype(np.float64)), rtol=2e-5,
                               atol=2e-6)


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_softmax_axis_gradient_and_values(axis, rng):
    x = leaf(rng.standard_normal((3, 4)))
    check_grads(lambda: ops.softmax(x, axis=axis), [x], rng)
    out = ops.softmax(x, axis=axis).value
    np.testing.assert_allclose(out, _np_softmax(x.value, axis=axis), rtol=1e-12)
    np.testing.assert_allclose(out.sum(axis=axis), 1.0)


@pytest.mark.parametrize("axis", [0, -1])
def test_log_softmax_axis_gradient_and_values(axis, rng):
    x = leaf(rng.standard_normal((3, 4)))
    check_grads(lambda: ops.log_softmax(x, axis=axis), [x], rng)
    np.testing.assert_allclose(ops.log_softmax(x, axis=axis).value,
                               np.log(_np_softmax(x.value, axis=axis)), rtol=1e-10)


def test_softmax_3d_last_axis_gradient(rng):
    x = leaf(rng.standard_normal((2, 3, 4)))
    check_grads(lambda: activations.softmax(x), [x], rng)


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_modes(approximate, rng):
    x = leaf(rng.uniform(-4, 4, (4, 5)))
    check_grads(lambda: ops.gelu(x, approximate=approximate), [x], rng)
    v = x.value
    if approximate:
        ref = 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3)))
    else:
        ref = 0.5 * v * (1 + _erf(v / np.sqrt(2)))
    np.testing.assert_allclose(ops.gelu(x, approximate=approximate).value, ref, rtol=1e-10)


def test_gelu_defaults_as_keras(rng):
    # keras.activations.gelu is exact by default, keras.ops.gelu the tanh approximation
    x = leaf(rng.uniform(-3, 3, (50,)))
    exact = 0.5 * x.value * (1 + _erf(x.value / np.sqrt(2)))
    np.testing.assert_allclose(ops.gelu(x).value, ops.gelu(x, approximate=True).value)
    np.testing.assert_allclose(activations.gelu(x).value, exact, rtol=1e-12)
    np.testing.assert_allclose(activations.get("gelu")(x).value, exact, rtol=1e-12)
    # the two modes genuinely differ, so the default is not the tanh approximation
    assert np.max(np.abs(ops.gelu(x, approximate=True).value - exact)) > 1e-5


@pytest.mark.parametrize("slope", [0.01, 0.3])
def test_leaky_relu_slope(slope, rng):
    x = leaf(away_from(rng, (3, 4)))
    check_grads(lambda: ops.leaky_relu(x, negative_slope=slope), [x], rng)
    np.testing.assert_allclose(ops.leaky_relu(x, negative_slope=slope).value,
                               np.where(x.value >= 0, x.value, slope * x.value))


def test_leaky_relu_default_slope_is_0_2():
    np.testing.assert_allclose(ops.leaky_relu(leaf([-1.0, -10.0, 2.0])).value, [-0.2, -2.0, 2.0])
    np.testing.assert_allclose(activations.leaky_relu(leaf([-5.0])).value, [-1.0])


def test_elu_alpha(rng):
    x = leaf(away_from(rng, (3, 4)))
    check_grads(lambda: ops.elu(x, alpha=0.5), [x], rng)
    np.testing.assert_allclose(ops.elu(x, alpha=0.5).value,
                               np.where(x.value > 0, x.value, 0.5 * np.expm1(x.value)))


def test_selu_constants():
    out = ops.selu(leaf([1.0, -1.0, -50.0])).value
    np.testing.assert_allclose(out[0], 1.0507009873554805, rtol=1e-12)
    np.testing.assert_allclose(out[1], 1.0507009873554805 * 1.6732632423543772 * (np.exp(-1) - 1),
                               rtol=1e-12)
    # saturates at -scale * alpha
    np.testing.assert_allclose(out[2], -1.0507009873554805 * 1.6732632423543772, rtol=1e-12)


def test_hard_sigmoid_is_relu6_shifted():
    x = np.array([-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 4.0])
    np.testing.assert_allclose(ops.hard_sigmoid(leaf(x)).value,
                               [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0])
    np.testing.assert_allclose(ops.hard_silu(leaf(x)).value, x * np.array(
        [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]))


@pytest.mark.parametrize("kwargs", [
    dict(negative_slope=0.1),
    dict(max_value=2.5),
    dict(threshold=0.5),
    dict(negative_slope=0.1, max_value=3.0, threshold=0.5),
])
def test_activations_relu_options(kwargs, rng):
    slope = kwargs.get("negative_slope", 0.0)
    cap = kwargs.get("max_value")
    thr = kwargs.get("threshold", 0.0)
    kinks = tuple(k for k in (thr, cap) if k is not None)
    x = leaf(away_from(rng, (4, 5), kinks=kinks, low=-4, high=4))
    v = x.value
    ref = np.where(v > thr, v, slope * (v - thr))
    if cap is not None:
        ref = np.minimum(ref, cap)
    np.testing.assert_allclose(activations.relu(x, **kwargs).value, ref)
    check_grads(lambda: activations.relu(x, **kwargs), [x], rng)


# --- numerical stability ----------------------------------------------------------------------

def test_softmax_large_logits_stay_finite():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = ops.softmax(Tensor(x)).value
        logp = ops.log_softmax(Tensor(x)).value
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(logp))
    np.testing.assert_allclose(out[0], _np_softmax(np.array([0.0, 1.0, 2.0])), rtol=1e-6)
    np.testing.assert_allclose(out[1], [0.0, 0.0, 1.0], atol=1e-30)
    np.testing.assert_allclose(logp[0], np.log(_np_softmax(np.array([0.0, 1.0, 2.0]))), rtol=1e-5)
    np.testing.assert_allclose(logp[1], [-2000.0, -1000.0, 0.0], rtol=1e-6)


def test_softmax_large_logits_gradient_finite():
    x = leaf(np.array([[1000.0, 1001.0, 1002.0]], np.float32), dtype=np.float32)
    with GradientTape():
        loss = ops.sum(ops.multiply(ops.softmax(x), np.array([[1.0, 2.0, 3.0]], np.float32)))
    (g,) = gradients(loss, [x])
    assert np.all(np.isfinite(g))
    s = _np_softmax(np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(g[0], s * (np.array([1, 2, 3]) - (s * [1, 2, 3]).sum()), rtol=1e-4)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "silu", "elu", "selu", "tanh", "softsign",
                                  "gelu", "hard_sigmoid", "log_softmax"])
def test_activations_extreme_inputs_finite(name):
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], np.float32)
    with np.errstate(over="raise", invalid="raise"):
        out = getattr(ops, name)(Tensor(x)).value
    assert np.all(np.isfinite(out)), out
    t = leaf(x, dtype=np.float32)
    with GradientTape():
        loss = ops.sum(getattr(ops, name)(t))
    (g,) = gradients(loss, [t])
    assert np.all(np.isfinite(g)), g


def test_sigmoid_extremes_exact():
    out = ops.sigmoid(Tensor(np.array([-1e4, 0.0, 1e4], np.float32))).value
    np.testing.assert_array_equal(out, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(ops.softplus(Tensor(np.array([1e4], np.float32))).value, [1e4])


# --- logits bookkeeping -----------------------------------------------------------------------

def test_keras_logits_on_softmax_and_sigmoid(rng):
    x = Tensor(rng.standard_normal((2, 3)).astype(np.float32))
    s = ops.softmax(x)
    assert s._keras_logits is x and s._keras_logits_from == "softmax"
    g = ops.sigmoid(x)
    assert g._keras_logits is x and g._keras_logits_from == "sigmoid"
    a = activations.get("softmax")(x)
    assert a._keras_logits is x
    assert activations.get("sigmoid")(x)._keras_logits is x
    # other activations leave it unset
    assert ops.tanh(x)._keras_logits is None
    assert ops.relu(x)._keras_logits is None


def test_keras_logits_not_set_for_softmax_over_other_axis(rng):
    x = Tensor(rng.standard_normal((2, 3)).astype(np.float32))
    assert ops.softmax(x, axis=0)._keras_logits is None
    assert ops.softmax(x, axis=1)._keras_logits is x


def test_dense_softmax_output_remembers_logits(rng):
    d = Dense(4, activation="softmax")
    x = rng.standard_normal((3, 5)).astype(np.float32)
    y = d(x)
    assert y._keras_logits is not None
    np.testing.assert_allclose(y._keras_logits.value, x @ d.kernel.value + d.bias.value,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.value, _np_softmax(y._keras_logits.value.astype(np.float64)),
                               rtol=1e-5)


# --------------------------------------------------------------------------------------------
# tape mechanics
# --------------------------------------------------------------------------------------------

def test_no_graph_recorded_outside_tape():
    x = leaf([1.0, 2.0])
    y = ops.multiply(x, x)
    assert y._parents == () and y._backward is None
    assert not y.requires_grad
    assert gradients(ops.sum(y), [x]) == [None]


def test_no_grad_inside_tape_stops_recording():
    x = leaf([1.0, 2.0])
    with GradientTape():
        with no_grad():
            y = ops.square(x)
        z = ops.sum(ops.multiply(y, x))
    (g,) = gradients(z, [x])
    # y is treated as a constant: d/dx sum(y * x) = y
    np.testing.assert_allclose(g, [1.0, 4.0])


def test_grad_enabled_flag():
    from fastkeras.backend import grad_enabled
    assert not grad_enabled()
    with GradientTape():
        assert grad_enabled()
        with no_grad():
            assert not grad_enabled()
        assert grad_enabled()
        with GradientTape():
            assert grad_enabled()
        assert grad_enabled()
    assert not grad_enabled()


def test_gradient_tape_gradient_method():
    x = leaf([1.0, 2.0, 3.0])
    with GradientTape() as tape:
        y = ops.sum(ops.square(x))
    (g,) = tape.gradient(y, [x])
    np.testing.assert_allclose(g, [2.0, 4.0, 6.0])


def test_constants_get_no_gradient_and_unrelated_sources_get_none():
    x = leaf([1.0, 2.0])
    unrelated = leaf([5.0])
    c = Tensor(np.array([3.0, 4.0]))
    with GradientTape():
        y = ops.sum(ops.multiply(x, c))
    gx, gu, gc = gradients(y, [x, unrelated, c])
    np.testing.assert_allclose(gx, [3.0, 4.0])
    assert gu is None
    assert gc is None


def test_tensor_used_twice_accumulates():
    x = leaf([1.0, -2.0, 3.0])
    with GradientTape():
        y = ops.sum(ops.add(ops.multiply(x, x), x))
    (g,) = gradients(y, [x])
    np.testing.assert_allclose(g, 2 * x.value + 1)


def test_diamond_graph_accumulates(rng):
    x = leaf(rng.standard_normal((3,)))
    check_grads(lambda: ops.exp(x) * ops.sin(x) + ops.square(ops.exp(x)), [x], rng)


def test_gradient_wrt_intermediate(rng):
    x = leaf([1.0, 2.0])
    with GradientTape():
        h = ops.multiply(x, 3.0)
        y = ops.sum(ops.square(h))
    gh, gx = gradients(y, [h, x])
    np.testing.assert_allclose(gh, 2 * h.value)
    np.testing.assert_allclose(gx, 6 * h.value)


def test_output_gradient_argument():
    x = leaf([1.0, 2.0])
    with GradientTape():
        y = ops.square(x)
    (g,) = gradients(y, [x], output_gradient=np.array([10.0, 0.5]))
    np.testing.assert_allclose(g, [20.0, 2.0])


def test_non_scalar_target_uses_ones():
    x = leaf([1.0, 2.0])
    with GradientTape():
        y = ops.square(x)
    (g,) = gradients(y, [x])
    np.testing.assert_allclose(g, [2.0, 4.0])


def test_deep_chain_does_not_recurse(rng):
    x = leaf([0.5])
    with GradientTape():
        y = x
        for _ in range(3000):
            y = ops.add(y, 0.001)
        loss = ops.sum(y)
    (g,) = gradients(loss, [x])
    np.testing.assert_allclose(g, [1.0])


def test_gradients_are_independent_arrays_across_calls(rng):
    """Each gradient call returns its own result: computing a second gradient must not change
    an array returned by an earlier call (users keep and accumulate gradients)."""
    d = Dense(3)
    a = rng.standard_normal((4, 5)).astype(np.float32)
    with GradientTape():
        loss = ops.sum(d(a))
    g1 = gradients(loss, [d.kernel])[0]
    saved = np.array(g1, copy=True)
    with GradientTape():
        loss = ops.sum(ops.multiply(d(a), 7.0))
    g2 = gradients(loss, [d.kernel])[0]
    np.testing.assert_allclose(g2, 7.0 * saved, rtol=1e-5)
    np.testing.assert_array_equal(g1, saved)


def test_variable_gradients(rng):
    v = Variable(rng.standard_normal((3, 2)).astype(np.float32))
    assert v.dtype == np.float32 and v.trainable and v.requires_grad
    # as Keras: an array keeps its dtype, Python numbers become float32 / int32
    assert Variable(rng.standard_normal(2)).dtype == np.float64
    assert Variable(1.0).dtype == np.float32 and Variable(3, trainable=False).dtype == np.int32
    x = Tensor(rng.standard_normal((4, 3)).astype(np.float32))
    with GradientTape():
        loss = ops.sum(ops.matmul(x, v))
    (g,) = gradients(loss, [v])
    np.testing.assert_allclose(g, x.value.T @ np.ones((4, 2)), rtol=1e-5)


def test_non_trainable_variable_gets_no_gradient(rng):
    v = Variable(rng.standard_normal((3,)), trainable=False)
    w = Variable(rng.standard_normal((3,)))
    with GradientTape():
        loss = ops.sum(ops.multiply(v, w))
    gv, gw = gradients(loss, [v, w])
    assert gv is None
    np.testing.assert_allclose(gw, v.value)


def test_variable_used_twice_sums_gradient(rng):
    v = Variable(rng.standard_normal((3,)))
    with GradientTape():
        loss = ops.sum(ops.multiply(v, v)) + ops.sum(ops.multiply(v, 2.0))
    (g,) = gradients(loss, [v])
    np.testing.assert_allclose(g, 2 * v.value + 2.0, rtol=1e-6)


# --------------------------------------------------------------------------------------------
# layers: Dense (C++ GEMM forward, dense_backward)
# --------------------------------------------------------------------------------------------

def dense_reference(x, kernel, bias, act):
    y = x @ kernel
    if bias is not None:
        y = y + bias
    return REF_ACT[act](y)


def check_dense_grads(layer, x, act, rng, rtol=2e-3, atol=2e-4):
    """Tape gradients of the float32 layer vs float64 finite differences of the reference
    forward, w.r.t. the input, kernel and bias."""
    xt = Tensor(x.astype(np.float32), requires_grad=True)
    out0 = layer(xt)
    w = rng.standard_normal(out0.shape)
    params = [layer.kernel] + ([layer.bias] if layer.use_bias else [])
    with GradientTape():
        loss = ops.sum(ops.multiply(layer(xt), w.astype(np.float32)))
    analytic = [np.array(g, np.float64) for g in gradients(loss, [xt] + params)]

    base = [xt.value.astype(np.float64)] + [p.value.astype(np.float64) for p in params]

    def ref_loss(vals):
        xv, k = vals[0], vals[1]
        b = vals[2] if layer.use_bias else None
        y = dense_reference(xv.reshape(-1, xv.shape[-1]), k, b, act)
        return float(np.sum(y.reshape(out0.shape) * w))

    eps = 1e-6
    for i, a in enumerate(analytic):
        num = np.zeros_like(base[i])
        for idx in np.ndindex(*base[i].shape):
            vals = [b.copy() for b in base]
            vals[i][idx] += eps
            fp = ref_loss(vals)
            vals[i][idx] -= 2 * eps
            fm = ref_loss(vals)
            num[idx] = (fp - fm) / (2 * eps)
        scale = max(1.0, np.max(np.abs(num)))
        np.testing.assert_allclose(a, num, rtol=rtol, atol=atol * scale,
                                   err_msg=f"{act}: gradient {i} (0=input, 1=kernel, 2=bias)")
    # and the forward value agrees with the reference
    np.testing.assert_allclose(out0.value, ref_loss_forward(layer, x, act), rtol=1e-4, atol=1e-5)


def ref_loss_forward(layer, x, act):
    k = layer.kernel.value.astype(np.float64)
    b = layer.bias.value.astype(np.float64) if layer.use_bias else None
    x64 = x.astype(np.float64)
    return dense_reference(x64.reshape(-1, x64.shape[-1]), k, b, act).reshape(
        x.shape[:-1] + (layer.units,))


DENSE_ACTS = ["linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "elu",
              "selu", "softplus", "softsign", "silu", "swish", "gelu", "leaky_relu", "exponential",
              "hard_sigmoid", "hard_silu", "hard_swish"]


@pytest.mark.parametrize("act", DENSE_ACTS)
def test_dense_gradients_each_activation(act, rng):
    layer = Dense(4, activation=act, bias_initializer="random_normal")
    x = rng.standard_normal((5, 3)).astype(np.float32)
    layer(x)  # build
    check_dense_grads(layer, x, act, rng)


@pytest.mark.parametrize("act", ["linear", "relu", "tanh"])
def test_dense_without_bias_gradients(act, rng):
    layer = Dense(3, activation=act, use_bias=False)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    layer(x)
    assert layer.bias is None and len(layer.weights) == 1
    check_dense_grads(layer, x, act, rng)


@pytest.mark.parametrize("act", ["linear", "relu", "sigmoid"])
def test_dense_3d_input_gradients(act, rng):
    layer = Dense(3, activation=act, bias_initializer="random_normal")
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    out = layer(x)
    assert out.shape == (2, 4, 3)
    check_dense_grads(layer, x, act, rng)


def test_dense_fused_relu_matches_unfused(rng):
    fused = Dense(6, activation="relu", bias_initializer="random_normal")
    plain = Dense(6, activation=ops.relu)  # a different function object: not fused
    x = rng.standard_normal((8, 5)).astype(np.float32)
    fused(x)
    plain(x)
    plain.set_weights(fused.get_weights())
    xt1 = Tensor(x, requires_grad=True)
    xt2 = Tensor(x.copy(), requires_grad=True)
    w = rng.standard_normal((8, 6)).astype(np.float32)
    with GradientTape():
        l1 = ops.sum(fused(xt1) * w)
    g1 = [np.array(g) for g in gradients(l1, [xt1, fused.kernel, fused.bias])]
    with GradientTape():
        l2 = ops.sum(plain(xt2) * w)
    g2 = [np.array(g) for g in gradients(l2, [xt2, plain.kernel, plain.bias])]
    np.testing.assert_allclose(fused(x).value, plain(x).value, rtol=1e-6, atol=1e-6)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_dense_float32_finite_differences_of_own_forward(rng):
    """Finite differences through the C++ forward itself (linear, so exact up to rounding)."""
    layer = Dense(3, bias_initializer="random_normal")
    x = Tensor(rng.standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    layer(x)
    check_grads(lambda: layer(x), [x, layer.kernel, layer.bias], rng, eps=1e-2, rtol=1e-2,
                atol=1e-3)


def test_dense_shared_layer_called_twice_sums_kernel_gradient(rng):
    layer = Dense(3, bias_initializer="random_normal")
    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((2, 5)).astype(np.float32)
    layer(a)
    wa = rng.standard_normal((4, 3)).astype(np.float32)
    wb = rng.standard_normal((2, 3)).astype(np.float32)
    expected_dw = a.T @ wa + b.T @ wb
    expected_db = wa.sum(0) + wb.sum(0)
    # several passes: the first allocates the variable's buffer, later ones reuse it
    for _ in range(3):
        with GradientTape():
            loss = ops.sum(layer(a) * wa) + ops.sum(layer(b) * wb)
        dw, db = gradients(loss, [layer.kernel, layer.bias])
        np.testing.assert_allclose(dw, expected_dw, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(db, expected_db, rtol=1e-5, atol=1e-5)


def test_dense_shared_three_times_and_with_regularizer_term(rng):
    layer = Dense(2)
    xs = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(3)]
    layer(xs[0])
    k = layer.kernel.value.astype(np.float64)
    for _ in range(2):
        with GradientTape():
            loss = ops.sum(layer(xs[0])) + ops.sum(layer(xs[1]) * 2.0) + ops.sum(layer(xs[2]))
            loss = loss + ops.sum(ops.square(layer.kernel))
        (dw,) = gradients(loss, [layer.kernel])
        ones = np.ones((3, 2))
        expected = xs[0].T @ ones + 2 * xs[1].T @ ones + xs[2].T @ ones + 2 * k
        np.testing.assert_allclose(dw, expected, rtol=1e-5, atol=1e-5)


def test_dense_gradient_buffers_not_shared_between_layers(rng):
    l1, l2 = Dense(3), Dense(3)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    l1(x)
    l2(x)
    with GradientTape():
        loss = ops.sum(l2(l1(x)))
    g1, g2 = gradients(loss, [l1.kernel, l2.kernel])
    h = x @ l1.kernel.value + l1.bias.value
    np.testing.assert_allclose(g2, h.T @ np.ones((4, 3)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g1, x.T @ (np.ones((4, 3)) @ l2.kernel.value.T), rtol=1e-5,
                               atol=1e-5)


def test_dense_frozen_kernel_gets_no_gradient(rng):
    layer = Dense(3)
    x = Tensor(rng.standard_normal((2, 4)).astype(np.float32), requires_grad=True)
    layer(x)
    layer.trainable = False
    with GradientTape():
        loss = ops.sum(layer(x))
    gx, gk, gb = gradients(loss, [x, layer.kernel, layer.bias])
    assert gk is None and gb is None
    np.testing.assert_allclose(gx, np.ones((2, 3)) @ layer.kernel.value.T, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# other layers
# --------------------------------------------------------------------------------------------

def test_flatten_gradient(rng):
    x = leaf(rng.standard_normal((2, 3, 4)))
    layer = Flatten()
    check_grads(lambda: layer(x), [x], rng)


def test_flatten_channels_first_gradient(rng):
    x = leaf(rng.standard_normal((2, 3, 2, 2)))
    layer = Flatten(data_format="channels_first")
    check_grads(lambda: layer(x), [x], rng)


def test_reshape_layer_gradient(rng):
    x = leaf(rng.standard_normal((2, 12)))
    layer = Reshape((3, -1))
    check_grads(lambda: layer(x), [x], rng)


@pytest.mark.parametrize("act", ["relu", "tanh", "softmax", "gelu", "hard_silu"])
def test_activation_layer_gradient(act, rng):
    x = leaf(_sample_for(act, rng, (3, 4)))
    layer = Activation(act)
    check_grads(lambda: layer(x), [x], rng)


def test_dropout_training_gradient_is_mask_scale(rng):
    rate = 0.4
    layer = Dropout(rate, seed=11)
    x = leaf(rng.uniform(0.5, 1.5, (6, 7)))
    w = rng.standard_normal((6, 7))
    with GradientTape():
        y = layer(x, training=True)
        loss = ops.sum(ops.multiply(y, w))
    (g,) = gradients(loss, [x])
    mask = y.value != 0
    assert 0 < mask.sum() < mask.size
    scale = mask / (1 - rate)
    np.testing.assert_allclose(y.value, x.value * scale, rtol=1e-6)
    np.testing.assert_allclose(g, w * scale, rtol=1e-6)


def test_dropout_inference_gradient_is_identity(rng):
    layer = Dropout(0.5, seed=1)
    x = leaf(rng.standard_normal((3, 4)))
    check_grads(lambda: layer(x, training=False), [x], rng)


def test_dropout_noise_shape_gradient(rng):
    layer = Dropout(0.5, noise_shape=(None, 1), seed=3)
    x = leaf(rng.uniform(0.5, 1.5, (8, 5)))
    with GradientTape():
        y = layer(x, training=True)
        loss = ops.sum(y)
    (g,) = gradients(loss, [x])
    assert g.shape == x.shape
    np.testing.assert_allclose(g, (y.value != 0) * 2.0)


def test_lambda_layer_gradient(rng):
    layer = Lambda(lambda t: ops.square(t) * 2.0 + ops.sin(t))
    x = leaf(rng.standard_normal((3, 4)))
    check_grads(lambda: layer(x), [x], rng)
    np.testing.assert_allclose(layer(x).value, 2 * x.value ** 2 + np.sin(x.value))


def test_stack_of_layers_gradients_wrt_everything(rng):
    d1 = Dense(5, activation="tanh", bias_initializer="random_normal")
    d2 = Dense(2, activation="softmax")
    flat = Flatten()
    x = Tensor(rng.standard_normal((3, 2, 3)).astype(np.float32), requires_grad=True)
    d2(d1(flat(x)))
    params = [x, d1.kernel, d1.bias, d2.kernel, d2.bias]
    check_grads(lambda: d2(d1(flat(x))), params, rng, eps=1e-2, rtol=2e-2, atol=2e-3)


def test_sequential_model_gradients(rng):
    model = fk.Sequential([Flatten(input_shape=(2, 3)), Dense(4, activation="relu"),
                           Dense(3, activation="softmax")])
    x = Tensor(rng.standard_normal((5, 2, 3)).astype(np.float32))
    with GradientTape():
        loss = ops.sum(ops.multiply(model(x, training=True), rng.standard_normal((5, 3))))
    grads = gradients(loss, model.trainable_weights)
    assert len(grads) == 4
    for g, v in zip(grads, model.trainable_weights):
        assert g is not None and g.shape == v.shape and np.all(np.isfinite(g))
