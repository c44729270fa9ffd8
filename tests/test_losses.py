"""fastkeras.losses: values against direct NumPy formulas (and Keras's documented numbers),
gradients against central finite differences of float64 references, reductions and sample
weights, the logits shortcut, label smoothing, ignore_class, clipping, lookup/serialization and
error messages."""

import math
import warnings

import numpy as np
import pytest

from fastkeras import backend, losses
from fastkeras.backend import GradientTape, Tensor, gradients, make_op

EPS = 1e-7


# ----------------------------------------------------------------------------------------------
# float64 references, written directly from the formulas
# ----------------------------------------------------------------------------------------------

def _log_softmax(z, axis=-1):
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def _log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def ref_mse(t, p):
    return np.mean((t - p) ** 2, axis=-1)


def ref_mae(t, p):
    return np.mean(np.abs(t - p), axis=-1)


def ref_mape(t, p):
    return 100.0 * np.mean(np.abs(t - p) / np.maximum(np.abs(t), EPS), axis=-1)


def ref_msle(t, p):
    return np.mean((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2, -1)


def ref_huber(t, p, delta=1.0):
    e = np.abs(p - t)
    return np.mean(np.where(e <= delta, 0.5 * e * e, delta * e - 0.5 * delta * delta), axis=-1)


def ref_log_cosh(t, p):
    return np.mean(np.log(np.cosh(p - t)), axis=-1)


def _pm1(t):
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


def ref_hinge(t, p):
    return np.mean(np.maximum(1 - _pm1(t) * p, 0), axis=-1)


def ref_squared_hinge(t, p):
    return np.mean(np.maximum(1 - _pm1(t) * p, 0) ** 2, axis=-1)


def ref_categorical_hinge(t, p):
    pos = np.sum(t * p, axis=-1)
    neg = np.max((1 - t) * p, axis=-1)
    return np.maximum(neg - pos + 1, 0)


def ref_kld(t, p):
    t = np.clip(t, EPS, 1)
    p = np.clip(p, EPS, 1)
    return np.sum(t * np.log(t / p), axis=-1)


def ref_poisson(t, p):
    return np.mean(p - t * np.log(p + EPS), axis=-1)


def ref_cosine(t, p):
    tn = t / np.maximum(np.linalg.norm(t, axis=-1, keepdims=True), EPS)
    pn = p / np.maximum(np.linalg.norm(p, axis=-1, keepdims=True), EPS)
    return -np.sum(tn * pn, axis=-1)


def ref_cce_probs(t, p, ls=0.0):
    if ls:
        t = t * (1 - ls) + ls / t.shape[-1]
    o = np.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS)
    return -np.sum(t * np.log(o), axis=-1)


def ref_cce_logits(t, z, ls=0.0):
    if ls:
        t = t * (1 - ls) + ls / t.shape[-1]
    return -np.sum(t * _log_softmax(z), axis=-1)


def ref_scce_probs(y, p):
    c = np.clip(p, EPS, 1 - EPS)
    return -np.log(np.take_along_axis(c, y[..., None], -1)[..., 0] / c.sum(axis=-1))


def ref_scce_logits(y, z):
    return -np.take_along_axis(_log_softmax(z), y[..., None], -1)[..., 0]


def ref_bce_probs(t, p, ls=0.0):
    if ls:
        t = t * (1 - ls) + 0.5 * ls
    o = np.clip(p, EPS, 1 - EPS)
    return -np.mean(t * np.log(o) + (1 - t) * np.log(1 - o), axis=-1)


def ref_bce_logits(t, z, ls=0.0):
    if ls:
        t = t * (1 - ls) + 0.5 * ls
    return -np.mean(t * _log_sigmoid(z) + (1 - t) * _log_sigmoid(-z), axis=-1)


def ref_focal_logits(t, z, gamma=2.0, alpha=0.25, balance=False):
    p = 1 / (1 + np.exp(-z))
    bce = -(t * _log_sigmoid(z) + (1 - t) * _log_sigmoid(-z))
    f = (1 - (t * p + (1 - t) * (1 - p))) ** gamma * bce
    if balance:
        f = f * (t * alpha + (1 - t) * (1 - alpha))
    return np.mean(f, axis=-1)


def ref_focal_probs(t, p, gamma=2.0):
    o = np.clip(p, EPS, 1 - EPS)
    bce = -(t * np.log(o) + (1 - t) * np.log(1 - o))
    return np.mean((1 - (t * p + (1 - t) * (1 - p))) ** gamma * bce, axis=-1)


# ----------------------------------------------------------------------------------------------
# data: away from kinks and clipping so finite differences are meaningful
# ----------------------------------------------------------------------------------------------

def _away(rng, shape, base, lo=0.1, hi=0.6):
    return base + rng.choice([-1.0, 1.0], size=shape) * rng.uniform(lo, hi, size=shape)


def data_positive(rng, shape=(4, 5)):
    t = rng.uniform(0.5, 2.0, size=shape)
    return t, _away(rng, shape, t, 0.1, 0.4)


def data_huber(rng, shape=(4, 5)):
    t = rng.normal(size=shape)
    mag = np.where(rng.random(shape) < 0.5, rng.uniform(0.1, 0.9, shape), rng.uniform(1.1, 2.0,
                                                                                       shape))
    return t, t + rng.choice([-1.0, 1.0], size=shape) * mag


def data_huber_half(rng, shape=(4, 5)):
    """Errors on both sides of Huber's delta=0.5."""
    t = rng.normal(size=shape)
    sign = rng.choice([-1.0, 1.0], shape)
    mag = np.where(rng.random(shape) < 0.5, rng.uniform(0.05, 0.4, shape),
                   rng.uniform(0.6, 1.5, shape))
    return t, t + sign * mag


def data_hinge(rng, shape=(4, 5), binary01=False):
    s = rng.choice([-1.0, 1.0], size=shape)
    mag = np.where(rng.random(shape) < 0.5, rng.uniform(0.1, 0.8, shape), rng.uniform(1.2, 2.0,
                                                                                      shape))
    p = s * mag * rng.choice([-1.0, 1.0], size=shape)
    t = (s + 1) / 2 if binary01 else s
    return t, p


def data_one_hot(rng, shape=(4, 5)):
    t = np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]
    return t, rng.uniform(0.05, 1.0, size=shape)


def data_dirichlet(rng, shape=(4, 5)):
    t = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    p = rng.dirichlet(np.ones(shape[-1]) * 2, size=shape[:-1])
    return t, p


def data_normal(rng, shape=(4, 5)):
    return rng.normal(size=shape), rng.normal(size=shape)


def data_soft_probs(rng, shape=(4, 5)):
    t = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    p = rng.dirichlet(np.ones(shape[-1]) * 3, size=shape[:-1])
    return t, p * rng.uniform(0.5, 2.0, size=shape[:-1] + (1,))  # unnormalized on purpose


def data_binary_probs(rng, shape=(4, 5)):
    t = rng.integers(0, 2, size=shape).astype(float)
    return t, rng.uniform(0.05, 0.95, size=shape)


# (id, class factory, function, function kwargs, reference, data)
CASES = [
    ("mse", losses.MeanSquaredError, losses.mean_squared_error, {}, ref_mse, data_normal),
    ("mae", losses.MeanAbsoluteError, losses.mean_absolute_error, {}, ref_mae, data_positive),
    ("mape", losses.MeanAbsolutePercentageError, losses.mean_absolute_percentage_error, {},
     ref_mape, data_positive),
    ("msle", losses.MeanSquaredLogarithmicError, losses.mean_squared_logarithmic_error, {},
     ref_msle, data_positive),
    ("huber", losses.Huber, losses.huber, {}, ref_huber, data_huber),
    ("huber_delta", lambda **kw: losses.Huber(delta=0.5, **kw),
     lambda t, p: losses.huber(t, p, delta=0.5), {}, lambda t, p: ref_huber(t, p, 0.5),
     data_huber_half),
    ("log_cosh", losses.LogCosh, losses.log_cosh, {}, ref_log_cosh, data_normal),
    ("hinge", losses.Hinge, losses.hinge, {}, ref_hinge, data_hinge),
    ("hinge01", losses.Hinge, losses.hinge, {}, ref_hinge,
     lambda rng: data_hinge(rng, binary01=True)),
    ("squared_hinge", losses.SquaredHinge, losses.squared_hinge, {}, ref_squared_hinge,
     data_hinge),
    ("categorical_hinge", losses.CategoricalHinge, losses.categorical_hinge, {},
     ref_categorical_hinge, data_one_hot),
    ("kld", losses.KLDivergence, losses.kl_divergence, {}, ref_kld, data_dirichlet),
    ("poisson", losses.Poisson, losses.poisson, {}, ref_poisson, data_positive),
    ("cosine", losses.CosineSimilarity, losses.cosine_similarity, {}, ref_cosine, data_normal),
    ("cce", losses.CategoricalCrossentropy, losses.categorical_crossentropy, {}, ref_cce_probs,
     data_soft_probs),
    ("cce_ls", lambda **kw: losses.CategoricalCrossentropy(label_smoothing=0.2, **kw),
     lambda t, p: losses.categorical_crossentropy(t, p, label_smoothing=0.2), {},
     lambda t, p: ref_cce_probs(t, p, 0.2), data_soft_probs),
    ("cce_logits", lambda **kw: losses.CategoricalCrossentropy(from_logits=True, **kw),
     lambda t, p: losses.categorical_crossentropy(t, p, from_logits=True), {}, ref_cce_logits,
     lambda rng: (data_soft_probs(rng)[0], 3 * rng.normal(size=(4, 5)))),
    ("cce_logits_ls",
     lambda **kw: losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, **kw),
     lambda t, p: losses.categorical_crossentropy(t, p, from_logits=True, label_smoothing=0.1),
     {}, lambda t, z: ref_cce_logits(t, z, 0.1),
     lambda rng: (data_one_hot(rng)[0], 3 * rng.normal(size=(4, 5)))),
    ("bce", losses.BinaryCrossentropy, losses.binary_crossentropy, {}, ref_bce_probs,
     data_binary_probs),
    ("bce_ls", lambda **kw: losses.BinaryCrossentropy(label_smoothing=0.3, **kw),
     lambda t, p: losses.binary_crossentropy(t, p, label_smoothing=0.3), {},
     lambda t, p: ref_bce_probs(t, p, 0.3), data_binary_probs),
    ("bce_logits", lambda **kw: losses.BinaryCrossentropy(from_logits=True, **kw),
     lambda t, p: losses.binary_crossentropy(t, p, from_logits=True), {}, ref_bce_logits,
     lambda rng: (rng.uniform(0, 1, (4, 5)), 4 * rng.normal(size=(4, 5)))),
    ("bce_logits_ls",
     lambda **kw: losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2, **kw),
     lambda t, p: losses.binary_crossentropy(t, p, from_logits=True, label_smoothing=0.2), {},
     lambda t, z: ref_bce_logits(t, z, 0.2),
     lambda rng: (rng.integers(0, 2, (4, 5)).astype(float), 4 * rng.normal(size=(4, 5)))),
    ("focal_logits", lambda **kw: losses.BinaryFocalCrossentropy(from_logits=True, **kw),
     lambda t, p: losses.binary_focal_crossentropy(t, p, from_logits=True), {},
     ref_focal_logits,
     lambda rng: (rng.integers(0, 2, (4, 5)).astype(float), 3 * rng.normal(size=(4, 5)))),
    ("focal_balanced",
     lambda **kw: losses.BinaryFocalCrossentropy(from_logits=True, gamma=3.0,
                                                 apply_class_balancing=True, **kw),
     lambda t, p: losses.binary_focal_crossentropy(t, p, from_logits=True, gamma=3.0,
                                                   apply_class_balancing=True), {},
     lambda t, z: ref_focal_logits(t, z, gamma=3.0, balance=True),
     lambda rng: (rng.integers(0, 2, (4, 5)).astype(float), 3 * rng.normal(size=(4, 5)))),
    ("focal_probs", losses.BinaryFocalCrossentropy, losses.binary_focal_crossentropy, {},
     ref_focal_probs, data_binary_probs),
]
CASE_IDS = [c[0] for c in CASES]


def _f32(x):
    return np.asarray(x, dtype=np.float32)


def _leaf(x):
    return Tensor(_f32(x), requires_grad=True)


def _grad_of(loss_fn, x_value, *, wrap=None):
    """(loss value, d loss / d x) through the tape; `wrap` maps the leaf to y_pred."""
    x = _leaf(x_value)
    with GradientTape():
        y_pred = wrap(x) if wrap is not None else x
        out = loss_fn(y_pred)
    (g,) = gradients(out, [x])
    return out, g


def _fd(f, x, h=1e-6):
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * h)
    return g


# ----------------------------------------------------------------------------------------------
# values and gradients of every loss
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_function_values_match_numpy(case, rng):
    _, _, fn, _, ref, data = case
    t, p = data(rng)
    out = fn(_f32(t), _f32(p))
    assert isinstance(out, Tensor)
    assert out.value.dtype == np.float32
    np.testing.assert_allclose(out.value, ref(_f32(t).astype(np.float64),
                                              _f32(p).astype(np.float64)), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_class_call_and_reduction_match_numpy(case, rng):
    _, cls, _, _, ref, data = case
    t, p = data(rng)
    t64, p64 = _f32(t).astype(np.float64), _f32(p).astype(np.float64)
    per_sample = ref(t64, p64)
    loss = cls()
    np.testing.assert_allclose(loss.call(_f32(t), _f32(p)), per_sample, rtol=2e-5, atol=2e-6)
    out = loss(t, p)
    assert out.value.shape == () and out.value.dtype == np.float32
    np.testing.assert_allclose(float(out.value), per_sample.mean(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradient_matches_finite_differences(case, rng):
    _, cls, _, _, ref, data = case
    t, p = data(rng)
    p = _f32(p).astype(np.float64)
    t64 = _f32(t).astype(np.float64)
    sw = rng.uniform(0.2, 2.0, size=p.shape[0])
    loss = cls()
    out, g = _grad_of(lambda y: loss(t, y, sample_weight=sw), p)
    assert g is not None and g.dtype == np.float32 and g.shape == p.shape

    def f(x):
        return np.sum(ref(t64, x) * sw) / p.shape[0]

    np.testing.assert_allclose(float(out.value), f(p), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, _fd(f, p), rtol=2e-3, atol=2e-5)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_function_form_gradient(case, rng):
    _, _, fn, _, ref, data = case
    t, p = data(rng)
    p = _f32(p).astype(np.float64)
    t64 = _f32(t).astype(np.float64)
    w = rng.normal(size=p.shape[0])
    x = _leaf(p)
    with GradientTape():
        per_sample = fn(t, x)
    (g,) = gradients(per_sample, [x], output_gradient=_f32(w))
    np.testing.assert_allclose(g, _fd(lambda v: np.sum(ref(t64, v) * w), p), rtol=2e-3,
                               atol=2e-5)


def test_gradient_can_fail():
    # The finite-difference harness notices a wrong formula.
    t, p = np.ones((2, 3)), np.zeros((2, 3))
    _, g = _grad_of(lambda y: losses.MeanSquaredError()(t, y), p)
    wrong = _fd(lambda v: np.mean(np.abs(t - v)), p)
    assert not np.allclose(g, wrong, rtol=1e-3)


# ----------------------------------------------------------------------------------------------
# Keras's documented numbers
# ----------------------------------------------------------------------------------------------

def test_keras_docstring_categorical_and_sparse():
    y_true = np.array([[0, 1, 0], [0, 0, 1]])
    y_pred = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    assert float(losses.CategoricalCrossentropy()(y_true, y_pred)) == pytest.approx(1.177, abs=1e-3)
    assert float(losses.CategoricalCrossentropy()(
        y_true, y_pred, sample_weight=np.array([0.3, 0.7]))) == pytest.approx(0.814, abs=1e-3)
    assert float(losses.CategoricalCrossentropy(reduction="sum")(y_true, y_pred)) == \
        pytest.approx(2.354, abs=1e-3)
    np.testing.assert_allclose(losses.CategoricalCrossentropy(reduction=None)(y_true, y_pred).value,
                               [0.0513, 2.303], atol=1e-3)
    scce = losses.SparseCategoricalCrossentropy()
    assert float(scce([1, 2], y_pred)) == pytest.approx(1.177, abs=1e-3)
    assert float(scce([1, 2], y_pred, sample_weight=np.array([0.3, 0.7]))) == \
        pytest.approx(0.814, abs=1e-3)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(np.array([1, 2]),
                                                                      y_pred).value,
                               [0.0513, 2.303], atol=1e-3)


def test_keras_docstring_binary():
    bce = losses.BinaryCrossentropy(from_logits=True)
    assert float(bce([0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8])) == pytest.approx(0.8654, abs=1e-4)
    y_true = np.array([[0, 1], [0, 0]])
    y_pred = np.array([[-18.6, 0.51], [2.94, -12.8]])
    assert float(bce(y_true, y_pred)) == pytest.approx(0.8654, abs=1e-4)
    assert float(bce(y_true, y_pred, sample_weight=[0.8, 0.2])) == pytest.approx(0.243, abs=1e-3)
    assert float(losses.BinaryCrossentropy(from_logits=True, reduction="sum")(y_true, y_pred)) \
        == pytest.approx(1.730, abs=1e-3)
    np.testing.assert_allclose(
        losses.BinaryCrossentropy(from_logits=True, reduction=None)(y_true, y_pred).value,
        [0.235, 1.496], atol=1e-3)
    np.testing.assert_allclose(
        losses.binary_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).value,
        [0.916, 0.714], atol=1e-3)


def test_keras_docstring_focal():
    yt, yp = [0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8]
    assert float(losses.BinaryFocalCrossentropy(gamma=2, from_logits=True)(yt, yp)) == \
        pytest.approx(0.691, abs=1e-3)
    assert float(losses.BinaryFocalCrossentropy(apply_class_balancing=True, gamma=2,
                                                from_logits=True)(yt, yp)) == \
        pytest.approx(0.51, abs=1e-3)
    yt, yp = np.array([[0, 1], [0, 0]]), np.array([[-18.6, 0.51], [2.94, -12.8]])
    loss = losses.BinaryFocalCrossentropy(gamma=3, from_logits=True)
    assert float(loss(yt, yp)) == pytest.approx(0.647, abs=1e-3)
    assert float(loss(yt, yp, sample_weight=[0.8, 0.2])) == pytest.approx(0.133, abs=1e-3)
    np.testing.assert_allclose(
        losses.BinaryFocalCrossentropy(gamma=5, from_logits=True, reduction=None)(yt, yp).value,
        [0.0017, 1.1561], atol=1e-4)
    np.testing.assert_allclose(
        losses.binary_focal_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]],
                                         gamma=2).value, [0.330, 0.206], atol=1e-3)


def test_keras_docstring_regression():
    assert float(np.mean(losses.huber([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).value)) == \
        pytest.approx(0.155, abs=1e-3)
    assert float(np.mean(losses.log_cosh([[0., 1.], [0., 0.]], [[1., 1.], [0., 0.]]).value)) == \
        pytest.approx(0.108, abs=1e-3)
    np.testing.assert_allclose(
        losses.cosine_similarity([[0., 1.], [1., 1.], [1., 1.]],
                                 [[1., 0.], [1., 1.], [-1., -1.]]).value,
        [0.0, -1.0, 1.0], atol=1e-6)


# ----------------------------------------------------------------------------------------------
# reductions and sample weights
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean", "sum",
                                       "mean_with_sample_weight", None, "none"])
@pytest.mark.parametrize("sw_kind", ["none", "vector", "column", "scalar"])
def test_reductions_and_sample_weights(reduction, sw_kind, rng):
    t, p = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    values = ref_mse(_f32(t).astype(np.float64), _f32(p).astype(np.float64))
    w = rng.uniform(0.1, 2.0, size=6)
    sw = {"none": None, "vector": w, "column": w[:, None], "scalar": 0.7}[sw_kind]
    weights = {"none": np.ones(6), "vector": w, "column": w, "scalar": np.full(6, 0.7)}[sw_kind]
    loss = losses.MeanSquaredError(reduction=reduction)
    out, g = _grad_of(lambda y: loss(t, y, sample_weight=sw), p)
    weighted = values * weights
    if reduction in (None, "none"):
        # Keras reconciles ranks first: a (N, 1) weight turns the (N,) values into (N, 1).
        assert out.value.shape == ((6, 1) if sw_kind == "column" else (6,))
        np.testing.assert_allclose(out.value.reshape(-1), weighted, rtol=1e-5)
        return
    if reduction == "sum":
        expected, divisor = weighted.sum(), 1.0
    elif reduction == "mean_with_sample_weight" and sw is not None:
        divisor = np.sum(np.broadcast_to(sw, ()) if np.ndim(sw) == 0 else sw)
        expected = weighted.sum() / divisor
    else:
        divisor = 6.0
        expected = weighted.sum() / 6.0
    assert out.value.shape == ()
    np.testing.assert_allclose(float(out.value), expected, rtol=1e-5)
    grad_ref = 2 * (_f32(p) - _f32(t)) / 4 * (weights / divisor)[:, None]
    np.testing.assert_allclose(g, grad_ref, rtol=1e-4, atol=1e-6)


def test_reduction_none_gradient_uses_upstream(rng):
    t, p = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    w = np.array([1.0, 0.0, 2.0])
    up = np.array([0.5, 3.0, -1.0], dtype=np.float32)
    x = _leaf(p)
    with GradientTape():
        out = losses.MeanSquaredError(reduction="none")(t, x, sample_weight=w)
    (g,) = gradients(out, [x], output_gradient=up)
    np.testing.assert_allclose(g, 2 * (_f32(p) - _f32(t)) / 2 * (w * up)[:, None], rtol=1e-5)


def test_per_timestep_values_and_weights(rng):
    # (N, T, C) predictions give (N, T) values; weights may be per sample or per step.
    t, p = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    v = ref_mse(_f32(t).astype(np.float64), _f32(p).astype(np.float64))
    loss = losses.MeanSquaredError()
    w_step = rng.uniform(size=(3, 4))
    np.testing.assert_allclose(float(loss(t, p, sample_weight=w_step)), (v * w_step).sum() / 12,
                               rtol=1e-5)
    w_sample = rng.uniform(size=(3,))
    # Keras broadcasts a (N,) weight against (N, T) values from the right, so it needs N == T;
    # a (N, 1) weight is the per-sample form.
    np.testing.assert_allclose(float(loss(t, p, sample_weight=w_sample[:, None])),
                               (v * w_sample[:, None]).sum() / 12, rtol=1e-5)


def test_keras_mask_on_y_pred_excludes_steps(rng):
    t, p = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 3, 2))
    mask = np.array([[True, True, False], [True, False, False]])
    v = ref_mse(_f32(t).astype(np.float64), _f32(p).astype(np.float64))
    y = Tensor(_f32(p))
    y._keras_mask = mask
    out = losses.MeanSquaredError()(t, y)
    np.testing.assert_allclose(float(out), (v * mask).sum() / mask.sum(), rtol=1e-5)
    out_sum = losses.MeanSquaredError(reduction="sum")(t, y)
    np.testing.assert_allclose(float(out_sum), (v * mask).sum(), rtol=1e-5)


def test_invalid_reduction():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="auto")


def test_loss_output_is_not_recorded_without_tape(rng):
    p = _leaf(rng.normal(size=(2, 3)))
    out = losses.MeanSquaredError()(np.zeros((2, 3)), p)
    assert not out.requires_grad


# ----------------------------------------------------------------------------------------------
# the logits shortcut (`_keras_logits`)
# ----------------------------------------------------------------------------------------------

def _tagged(z: Tensor, kind: str) -> Tensor:
    """An activation output tagged with its logits; its own backward must never run."""
    zv = z.value.astype(np.float64)
    if kind == "softmax":
        e = np.exp(zv - zv.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
    else:
        y = 1 / (1 + np.exp(-zv))

    def backward(g, needs):
        raise AssertionError(f"the {kind} backward should be skipped by the loss")

    out = make_op(_f32(y), (z,), backward)
    out._keras_logits = z
    out._keras_logits_from = kind
    return out


@pytest.mark.parametrize("kind", ["cce", "scce", "bce"])
def test_logits_shortcut_matches_probability_path_and_flows_to_logits(kind, rng):
    z = 2 * rng.normal(size=(5, 4))
    if kind == "cce":
        t = np.eye(4)[rng.integers(0, 4, 5)]
        loss, act, ref = losses.CategoricalCrossentropy(), "softmax", ref_cce_logits
    elif kind == "scce":
        t = rng.integers(0, 4, 5)
        loss, act, ref = losses.SparseCategoricalCrossentropy(), "softmax", ref_scce_logits
    else:
        t = rng.integers(0, 2, (5, 4)).astype(float)
        loss, act, ref = losses.BinaryCrossentropy(), "sigmoid", ref_bce_logits
    z32 = _f32(z).astype(np.float64)
    out, g = _grad_of(lambda y: loss(t, y), z, wrap=lambda x: _tagged(x, act))
    # same value as feeding the probabilities (moderate logits: no clipping involved)
    probs = _tagged(Tensor(_f32(z)), act).value
    np.testing.assert_allclose(float(out), float(loss(t, probs)), rtol=1e-5)
    np.testing.assert_allclose(float(out), ref(t, z32).mean(), rtol=1e-5)
    np.testing.assert_allclose(g, _fd(lambda v: ref(t, v).mean(), z32), rtol=2e-3, atol=1e-5)


def test_logits_shortcut_parent_is_the_logits_tensor(rng):
    z = _leaf(rng.normal(size=(3, 5)))
    with GradientTape():
        y = _tagged(z, "softmax")
        out = losses.SparseCategoricalCrossentropy()([0, 1, 4], y)
    assert out._parents == (z,)


def test_logits_shortcut_is_exact_where_probabilities_saturate():
    # softmax(z) rounds to exactly 0 / 1 in float32; the logits path keeps the true loss.
    z = np.array([[0.0, 200.0, -200.0]])
    y = _tagged(Tensor(_f32(z)), "softmax")
    out = losses.CategoricalCrossentropy()(np.array([[1.0, 0.0, 0.0]]), y)
    assert float(out) == pytest.approx(200.0, rel=1e-6)
    probs_only = losses.CategoricalCrossentropy()(np.array([[1.0, 0.0, 0.0]]), y.value)
    assert float(probs_only) == pytest.approx(-math.log(EPS), rel=1e-3)  # clipped


def test_mismatched_activation_uses_probabilities(rng):
    # A sigmoid output fed to categorical_crossentropy is not treated as softmax logits.
    z = rng.normal(size=(2, 3))
    y = _tagged(Tensor(_f32(z)), "sigmoid")
    t = np.eye(3)[[0, 2]]
    np.testing.assert_allclose(float(losses.CategoricalCrossentropy()(t, y)),
                               ref_cce_probs(t, y.value.astype(np.float64)).mean(), rtol=1e-5)


def test_from_logits_on_activation_output_warns_and_uses_logits(rng):
    z = rng.normal(size=(2, 3))
    y = _tagged(Tensor(_f32(z)), "softmax")
    t = np.eye(3)[[0, 2]]
    with pytest.warns(UserWarning, match="from_logits=True"):
        out = losses.CategoricalCrossentropy(from_logits=True)(t, y)
    np.testing.assert_allclose(float(out), ref_cce_logits(t, _f32(z).astype(np.float64)).mean(),
                               rtol=1e-5)


def test_logits_path_with_real_softmax_and_sigmoid_ops(rng):
    ops = pytest.importorskip("fastkeras.ops")
    z = _leaf(rng.normal(size=(4, 3)))
    with GradientTape():
        out = losses.SparseCategoricalCrossentropy()([0, 1, 2, 1], ops.softmax(z))
    (g,) = gradients(out, [z])
    y = np.array([0, 1, 2, 1])
    np.testing.assert_allclose(
        g, _fd(lambda v: ref_scce_logits(y, v).mean(), z.value.astype(np.float64)),
        rtol=2e-3, atol=1e-5)
    with GradientTape():
        out = losses.BinaryCrossentropy()(np.ones((4, 3)), ops.sigmoid(z))
    (g,) = gradients(out, [z])
    np.testing.assert_allclose(
        g, _fd(lambda v: ref_bce_logits(np.ones((4, 3)), v).mean(), z.value.astype(np.float64)),
        rtol=2e-3, atol=1e-5)


@pytest.mark.parametrize("scale", [1e2, 1e4])
def test_extreme_logits_stay_finite(scale, rng):
    z = scale * rng.choice([-1.0, 1.0], size=(3, 10))
    for loss, t in [
        (losses.CategoricalCrossentropy(from_logits=True), np.eye(10)[[0, 3, 9]]),
        (losses.SparseCategoricalCrossentropy(from_logits=True), np.array([0, 3, 9])),
        (losses.BinaryCrossentropy(from_logits=True), rng.integers(0, 2, (3, 10))),
        (losses.BinaryFocalCrossentropy(from_logits=True), rng.integers(0, 2, (3, 10))),
    ]:
        out, g = _grad_of(lambda y: loss(t, y), z)
        assert np.isfinite(float(out)) and np.all(np.isfinite(g)), loss.name


def test_large_batch_goes_through_threaded_kernel(rng):
    z = 3 * rng.normal(size=(1500, 301)).astype(np.float32)
    y = rng.integers(0, 301, 1500)
    out, g = _grad_of(lambda v: losses.SparseCategoricalCrossentropy(from_logits=True)(y, v), z)
    z64 = z.astype(np.float64)
    np.testing.assert_allclose(float(out), ref_scce_logits(y, z64).mean(), rtol=1e-5)
    p = np.exp(_log_softmax(z64))
    p[np.arange(1500), y] -= 1
    np.testing.assert_allclose(g, p / 1500, atol=1e-7)


# ----------------------------------------------------------------------------------------------
# label smoothing, ignore_class, from_logits, clipping
# ----------------------------------------------------------------------------------------------

def test_label_smoothing_targets(rng):
    z = rng.normal(size=(3, 4))
    t = np.eye(4)[[0, 1, 3]]
    smoothed = t * 0.8 + 0.2 / 4
    got = losses.categorical_crossentropy(t, z, from_logits=True, label_smoothing=0.2).value
    np.testing.assert_allclose(got, ref_cce_logits(smoothed, _f32(z).astype(np.float64)),
                               rtol=1e-5)
    tb = rng.integers(0, 2, (3, 4)).astype(float)
    got = losses.binary_crossentropy(tb, z, from_logits=True, label_smoothing=0.2).value
    np.testing.assert_allclose(got, ref_bce_logits(tb * 0.8 + 0.1, _f32(z).astype(np.float64)),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.categorical_crossentropy(t, z, label_smoothing=1.5)


def test_ignore_class(rng):
    z = rng.normal(size=(5, 4))
    y = np.array([1, 255, 3, 255, 0])
    valid = y != 255
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    out, g = _grad_of(lambda v: loss(y, v), z)
    per = ref_scce_logits(np.where(valid, y, 0), _f32(z).astype(np.float64)) * valid
    np.testing.assert_allclose(float(out), per.sum() / valid.sum(), rtol=1e-5)  # valid count
    assert np.all(g[~valid] == 0)
    np.testing.assert_allclose(
        g, _fd(lambda v: (ref_scce_logits(np.where(valid, y, 0), v) * valid).sum() / 3,
               _f32(z).astype(np.float64)), rtol=2e-3, atol=1e-6)
    values = losses.sparse_categorical_crossentropy(y, z, from_logits=True, ignore_class=255)
    np.testing.assert_allclose(values.value, per, rtol=1e-5)
    np.testing.assert_array_equal(values._keras_mask, valid)
    summed = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255,
                                                  reduction="sum")(y, z)
    np.testing.assert_allclose(float(summed), per.sum(), rtol=1e-5)
    by_weight = losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=255, reduction="mean_with_sample_weight")
    np.testing.assert_allclose(float(by_weight(y, z)), per.sum() / 3, rtol=1e-5)
    w = np.array([1.0, 5.0, 2.0, 5.0, 0.5])
    np.testing.assert_allclose(float(by_weight(y, z, sample_weight=w)),
                               (per * w).sum() / (w * valid).sum(), rtol=1e-5)
    np.testing.assert_allclose(float(loss(y, z, sample_weight=w)), (per * w).sum() / 3,
                               rtol=1e-5)
    # the probability path too
    probs = np.exp(_log_softmax(_f32(z).astype(np.float64)))
    out = losses.SparseCategoricalCrossentropy(ignore_class=255)(y, probs)
    np.testing.assert_allclose(float(out), per.sum() / 3, rtol=1e-4)


def test_from_logits_equals_probabilities_of_softmax(rng):
    z = rng.normal(size=(4, 6))
    z64 = _f32(z).astype(np.float64)
    probs = np.exp(_log_softmax(z64))
    t = np.eye(6)[[0, 5, 2, 2]]
    a = losses.CategoricalCrossentropy(from_logits=True)(t, z)
    b = losses.CategoricalCrossentropy()(t, probs)
    np.testing.assert_allclose(float(a), float(b), rtol=1e-5)
    a = losses.SparseCategoricalCrossentropy(from_logits=True)([0, 5, 2, 2], z)
    b = losses.SparseCategoricalCrossentropy()([0, 5, 2, 2], probs)
    np.testing.assert_allclose(float(a), float(b), rtol=1e-5)
    tb = rng.integers(0, 2, (4, 6))
    a = losses.BinaryCrossentropy(from_logits=True)(tb, z)
    b = losses.BinaryCrossentropy()(tb, 1 / (1 + np.exp(-z64)))
    np.testing.assert_allclose(float(a), float(b), rtol=1e-5)


def test_probability_clipping_values_and_zero_gradient():
    # BCE: p = 0 and 1 are clipped to [eps, 1 - eps]; no gradient flows through the clip.
    t = np.array([[1.0, 0.0, 1.0, 0.0]])
    p = np.array([[0.0, 1.0, 1.0, 0.5]])
    out, g = _grad_of(lambda y: losses.BinaryCrossentropy(reduction="sum")(t, y), p)
    eps32 = np.float32(EPS)
    one_minus = np.float32(1) - eps32
    expected = -(np.log(eps32) + np.log(1 - one_minus) + np.log(one_minus) + np.log(0.5)) / 4
    assert float(out) == pytest.approx(float(expected), rel=1e-4)
    assert g[0, 0] == 0 and g[0, 1] == 0 and g[0, 2] == 0
    assert g[0, 3] == pytest.approx((0.5 - 0) / (0.5 * 0.5) / 4, rel=1e-5)
    # CCE: probabilities are normalized by their sum, then clipped
    t = np.array([[0.0, 1.0, 0.0]])
    p = np.array([[0.0, 2.0, 2.0]])  # normalizes to (0, .5, .5)
    out, g = _grad_of(lambda y: losses.CategoricalCrossentropy(reduction="sum")(t, y), p)
    assert float(out) == pytest.approx(math.log(2), rel=1e-6)
    np.testing.assert_allclose(g, _fd(lambda v: ref_cce_probs(t, v).sum(), p), atol=1e-5)
    t = np.array([[1.0, 0.0, 0.0]])
    out, g = _grad_of(lambda y: losses.CategoricalCrossentropy(reduction="sum")(t, y), p)
    assert float(out) == pytest.approx(-math.log(EPS), rel=1e-4)
    assert np.all(g == 0)  # the only target entry is clipped
    # sparse: clipped probabilities
    out = losses.SparseCategoricalCrossentropy()([0], np.array([[0.0, 1.0]]))
    assert np.isfinite(float(out)) and float(out) == pytest.approx(-math.log(EPS), rel=1e-3)


def test_kld_and_msle_clip():
    out, g = _grad_of(lambda y: losses.KLDivergence(reduction="sum")([[0.5, 0.5]], y),
                      np.array([[0.0, 0.5]]))
    assert np.isfinite(float(out)) and g[0, 0] == 0
    out, g = _grad_of(lambda y: losses.MeanSquaredLogarithmicError()([[1.0]], y),
                      np.array([[-3.0]]))
    assert g[0, 0] == 0


# ----------------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------------

def test_integer_labels_to_categorical_crossentropy_message():
    y = np.random.default_rng(0).integers(0, 10, (32, 1))
    with pytest.raises(ValueError) as err:
        losses.CategoricalCrossentropy()(y, np.full((32, 10), 0.1))
    msg = str(err.value)
    assert "Shapes (None, 1) and (None, 10) are incompatible" in msg
    assert "categorical_crossentropy" in msg
    assert "sparse_categorical_crossentropy" in msg
    with pytest.raises(ValueError, match=r"Shapes \(None,\) and \(None, 10\) are incompatible"):
        losses.categorical_crossentropy(np.arange(4), np.full((4, 10), 0.1))


def test_other_shape_mismatches_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(None, 3\) and \(None, 2\).*binary_crossentropy|"
                                         r"binary_crossentropy.*\(None, 3\) and \(None, 2\)"):
        losses.BinaryCrossentropy()(np.zeros((4, 3)), np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match=r"mean_squared_error.*\(None, 3\) and \(None, 4\)"):
        losses.MeanSquaredError()(np.zeros((4, 3)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(5, 3\).*categorical_crossentropy"):
        losses.SparseCategoricalCrossentropy()(np.eye(3)[[0, 1, 2, 0, 1]], np.full((5, 3), 0.3))
    with pytest.raises(ValueError, match=r"y_true.shape=\(4,\), y_pred.shape=\(5, 3\)"):
        losses.SparseCategoricalCrossentropy()(np.zeros(4, int), np.full((5, 3), 0.3))


@pytest.mark.parametrize("from_logits", [False, True])
def test_bad_labels(from_logits):
    p = np.full((3, 10), 0.1)
    for bad in (10, 12, -1):
        with pytest.raises(ValueError, match=rf"sparse_categorical_crossentropy.*label value of "
                                             rf"{bad}\b.*\[0, 10\)"):
            losses.SparseCategoricalCrossentropy(from_logits=from_logits)(np.array([1, bad, 2]), p)


def test_labels_accept_float_and_trailing_one(rng):
    z = rng.normal(size=(3, 4))
    ref = ref_scce_logits(np.array([0, 3, 1]), _f32(z).astype(np.float64))
    for y in (np.array([0, 3, 1]), np.array([[0.0], [3.0], [1.0]]), np.array([0, 3, 1], np.int32)):
        np.testing.assert_allclose(
            losses.sparse_categorical_crossentropy(y, z, from_logits=True).value, ref, rtol=1e-5)


def test_sparse_axis_other_than_last_is_rejected():
    with pytest.raises(ValueError, match="axis=-1"):
        losses.sparse_categorical_crossentropy([0], np.ones((1, 2)), axis=0)


def test_categorical_axis_argument(rng):
    z = rng.normal(size=(2, 5, 3))  # classes on axis 1
    t = np.moveaxis(np.eye(5)[rng.integers(0, 5, (2, 3))], -1, 1)
    got = losses.categorical_crossentropy(t, z, from_logits=True, axis=1).value
    ref = ref_cce_logits(np.moveaxis(t, 1, -1), np.moveaxis(_f32(z).astype(np.float64), 1, -1))
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    _, g = _grad_of(lambda v: losses.CategoricalCrossentropy(from_logits=True, axis=1)(t, v), z)
    np.testing.assert_allclose(
        g, _fd(lambda v: ref_cce_logits(np.moveaxis(t, 1, -1), np.moveaxis(v, 1, -1)).mean(),
               _f32(z).astype(np.float64)), rtol=2e-3, atol=1e-6)
    with pytest.raises(ValueError, match="axis"):
        losses.categorical_crossentropy(t, z, axis=True)


# ----------------------------------------------------------------------------------------------
# names, lookup, serialization
# ----------------------------------------------------------------------------------------------

DEFAULT_NAMES = {
    losses.MeanSquaredError: "mean_squared_error",
    losses.MeanAbsoluteError: "mean_absolute_error",
    losses.MeanAbsolutePercentageError: "mean_absolute_percentage_error",
    losses.MeanSquaredLogarithmicError: "mean_squared_logarithmic_error",
    losses.CosineSimilarity: "cosine_similarity",
    losses.Huber: "huber_loss",
    losses.LogCosh: "log_cosh",
    losses.Hinge: "hinge",
    losses.SquaredHinge: "squared_hinge",
    losses.CategoricalHinge: "categorical_hinge",
    losses.KLDivergence: "kl_divergence",
    losses.Poisson: "poisson",
    losses.BinaryCrossentropy: "binary_crossentropy",
    losses.BinaryFocalCrossentropy: "binary_focal_crossentropy",
    losses.CategoricalCrossentropy: "categorical_crossentropy",
    losses.SparseCategoricalCrossentropy: "sparse_categorical_crossentropy",
}


@pytest.mark.parametrize("cls", list(DEFAULT_NAMES), ids=lambda c: c.__name__)
def test_default_names_and_config_round_trip(cls):
    obj = cls()
    assert obj.name == DEFAULT_NAMES[cls]
    assert obj.reduction == "sum_over_batch_size"
    config = obj.get_config()
    assert config["name"] == obj.name and config["reduction"] == obj.reduction
    clone = cls.from_config(config)
    assert clone.get_config() == config
    again = losses.deserialize(losses.serialize(obj))
    assert type(again) is cls and again.get_config() == config
    assert type(losses.get(cls.__name__)) is cls
    assert type(losses.get(cls)) is cls


def test_non_default_configs_round_trip(rng):
    objs = [
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, axis=1,
                                       reduction="sum", name="cce"),
        losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction=None),
        losses.BinaryCrossentropy(label_smoothing=0.2, reduction="mean_with_sample_weight"),
        losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=3.0),
        losses.Huber(delta=2.5),
    ]
    for obj in objs:
        config = obj.get_config()
        clone = losses.get(losses.serialize(obj))
        assert type(clone) is type(obj) and clone.get_config() == config
    assert losses.get(losses.serialize(objs[-1])).delta == 2.5
    assert objs[1].get_config() == {"name": "sparse_categorical_crossentropy",
                                    "reduction": None, "from_logits": True, "ignore_class": -1}
    # the rebuilt loss computes the same thing
    t, z = np.eye(3)[[0, 2]], rng.normal(size=(2, 3))
    a = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    b = losses.get({"class_name": "CategoricalCrossentropy",
                    "config": {"from_logits": True, "label_smoothing": 0.1}})
    assert float(a(t, z)) == float(b(t, z))


@pytest.mark.parametrize("alias,fn", [
    ("mse", losses.mean_squared_error), ("MSE", losses.mean_squared_error),
    ("mae", losses.mean_absolute_error), ("mape", losses.mean_absolute_percentage_error),
    ("msle", losses.mean_squared_logarithmic_error), ("kld", losses.kl_divergence),
    ("kl_divergence", losses.kl_divergence), ("huber", losses.huber),
    ("log_cosh", losses.log_cosh), ("logcosh", losses.log_cosh),
    ("bce", losses.binary_crossentropy), ("binary_crossentropy", losses.binary_crossentropy),
    ("categorical_crossentropy", losses.categorical_crossentropy),
    ("sparse_categorical_crossentropy", losses.sparse_categorical_crossentropy),
    ("poisson", losses.poisson), ("hinge", losses.hinge),
])
def test_string_aliases(alias, fn):
    assert losses.get(alias) is fn
    assert losses.deserialize(losses.serialize(fn)) is fn


def test_get_passthrough_and_unknown():
    inst = losses.Poisson()
    assert losses.get(inst) is inst
    assert losses.get(None) is None

    def my_loss(y_true, y_pred):
        return np.zeros(len(y_true))

    assert losses.get(my_loss) is my_loss
    for bad in ("not_a_loss", 42, {"class_name": "NoSuchLoss", "config": {}}):
        with pytest.raises(ValueError, match="not_a_loss|42|NoSuchLoss"):
            losses.get(bad)
    assert losses.deserialize({"class_name": "MyLoss", "config": {}},
                              custom_objects={"MyLoss": losses.Poisson}).name == "poisson"


def test_loss_function_wrapper_with_builtin_and_custom_fn(rng):
    t, p = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    w = losses.LossFunctionWrapper(losses.huber, delta=0.5, name="h")
    np.testing.assert_allclose(float(w(t, p)), ref_huber(_f32(t).astype(np.float64),
                                                         _f32(p).astype(np.float64), 0.5).mean(),
                               rtol=1e-5)
    clone = losses.LossFunctionWrapper.from_config(w.get_config())
    assert clone.fn is losses.huber and float(clone(t, p)) == float(w(t, p))

    def cubic(y_true, y_pred):  # returns numpy: value only
        return np.mean(np.abs(np.asarray(y_pred) - np.asarray(y_true)) ** 3, axis=-1)

    w = losses.LossFunctionWrapper(cubic, reduction="sum")
    np.testing.assert_allclose(float(w(t, p)), cubic(_f32(t), _f32(p)).sum(), rtol=1e-5)


def test_custom_subclass_with_differentiable_call(rng):
    class Scaled(losses.Loss):
        def call(self, y_true, y_pred):
            v = np.mean(y_pred.value - np.asarray(y_true), axis=-1)
            return make_op(v, (y_pred,), lambda g, needs: (
                np.repeat(g[:, None] / y_pred.shape[-1], y_pred.shape[-1], axis=1),))

    loss = Scaled()
    assert loss.name == "scaled"
    t, p = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    out, g = _grad_of(lambda y: loss(t, y, sample_weight=[1.0, 2.0, 3.0]), p)
    v = np.mean(_f32(p) - _f32(t), axis=-1)
    np.testing.assert_allclose(float(out), (v * [1, 2, 3]).sum() / 3, rtol=1e-5)
    np.testing.assert_allclose(g, np.repeat(np.array([[1.0], [2.0], [3.0]]) / 3 / 2, 2, axis=1),
                               rtol=1e-6)


def test_categorical_single_class_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        losses.categorical_crossentropy(np.ones((2, 1)), np.ones((2, 1)))
    assert any("binary_crossentropy" in str(w.message) for w in caught)


def test_epsilon_is_keras_default():
    assert backend.epsilon() == 1e-7
