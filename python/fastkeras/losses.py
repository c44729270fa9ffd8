"""Losses: Keras 3's `keras.losses`, forward and gradient.

Every built-in loss exists as a class (`CategoricalCrossentropy(...)`) and as a function
(`categorical_crossentropy(y_true, y_pred, ...)`).

* A loss *instance* called as `loss(y_true, y_pred, sample_weight=None)` returns a float32
  Tensor: a scalar for the reducing reductions, the weighted per-sample values for
  `reduction=None`/`"none"`. When gradients are being recorded the result is an op of the tape
  whose single parent is `y_pred`, or the logits `y_pred` came from (see below), so
  `backend.gradients(loss, [...])` reaches the model through it.
* A loss *function* returns the per-sample values as a Tensor (also differentiable).
* `Loss.call(y_true, y_pred)` returns the per-sample values as a numpy array.

Cross-entropies run in fused C++ kernels (`fastkeras._core`): one call computes the per-sample
losses and, when a gradient is needed, the gradient with respect to the logits with the sample
weights and the reduction's divisor already folded in. When `y_pred` is the output of a
softmax (categorical losses) or sigmoid (binary cross-entropy), it carries the logits it came
from in `_keras_logits`; the loss is then computed from those logits, exactly and without
clipping, and the gradient goes straight to them, skipping the activation's backward.
Otherwise probabilities are clipped to [epsilon, 1 - epsilon] like Keras does, with a zero
gradient where clipping is active.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import warnings

import numpy as np

from fastkeras import _core
from fastkeras.backend import epsilon as _epsilon
from fastkeras.backend.tape import Tensor, convert_to_tensor, grad_enabled, make_op
from fastkeras.utils.signatures import positional_as_keras

__all__ = [
    "BCE",
    "CTC",
    "KLD",
    "MAE",
    "MAPE",
    "MSE",
    "MSLE",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "CategoricalHinge",
    "Circle",
    "CosineSimilarity",
    "Dice",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
    "bce",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "categorical_hinge",
    "circle",
    "cosine_similarity",
    "ctc",
    "deserialize",
    "dice",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "kld",
    "kullback_leibler_divergence",
    "log_cosh",
    "logcosh",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "poisson",
    "serialize",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "tversky",
]

_F32 = np.float32


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------

def _pred_tensor(y_pred) -> Tensor:
    """y_pred as a Tensor (kept as is when it already is one, so gradients reach it)."""
    if isinstance(y_pred, Tensor):
        return y_pred
    return convert_to_tensor(np.asarray(y_pred, dtype=_F32))


def _float32(x) -> np.ndarray:
    arr = np.asarray(x.value if isinstance(x, Tensor) else x)
    return arr if arr.dtype == _F32 else arr.astype(_F32)


def _raw(x) -> np.ndarray:
    return np.asarray(x.value if isinstance(x, Tensor) else x)


def _unbroadcast(grad: np.ndarray, shape) -> np.ndarray:
    """Sums `grad` over the axes broadcasting added, so it has `shape`."""
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _squeeze_or_expand(x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True):
    """Keras's rank reconciliation: when the ranks differ by one and the longer one ends in a
    length-1 axis, that axis is dropped (or, for a rank-1 partner, the partner gains one)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.reshape(x2.shape + (1,))
        else:
            x1 = x1.reshape(x1.shape[:-1])
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.reshape(x1.shape + (1,))
        else:
            x2 = x2.reshape(x2.shape[:-1])
    return x1, x2


def _batch_shape_str(shape) -> str:
    """A shape with the batch dimension shown as None, like a symbolic Keras shape."""
    shape = tuple(int(d) for d in shape)
    if not shape:
        return "()"
    return str((None,) + shape[1:])


def _incompatible(name, t_shape, p_shape, hint="") -> ValueError:
    return ValueError(
        f"{name}: Shapes {_batch_shape_str(t_shape)} and {_batch_shape_str(p_shape)} are "
        f"incompatible (received y_true.shape={tuple(t_shape)}, "
        f"y_pred.shape={tuple(p_shape)}).{hint}")


def _looks_like_class_indices(t: np.ndarray) -> bool:
    if t.dtype.kind in "iub":
        return True
    if t.dtype.kind != "f" or t.size == 0:
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.isfinite(t)) and np.all(t == np.round(t)))


def _broadcast_shape(name, t: np.ndarray, p: np.ndarray):
    try:
        return np.broadcast_shapes(t.shape, p.shape)
    except ValueError:
        raise _incompatible(name, t.shape, p.shape) from None


def _check_axis(axis, ndim, name):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{name}: `axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: `axis`={axis} is out of range for y_pred of rank {ndim}")
    return int(axis) % ndim


def _check_label_smoothing(label_smoothing, name):
    ls = float(label_smoothing)
    if not 0.0 <= ls <= 1.0:
        raise ValueError(f"{name}: `label_smoothing` must be a float in [0, 1]. "
                         f"Received: label_smoothing={label_smoothing}")
    return ls


def _logits_of(y_pred: Tensor, activation: str, from_logits: bool, name: str):
    """The tensor to treat as logits, or None for the probability path.

    A softmax/sigmoid output carries the logits it came from; Keras's TensorFlow backend
    computes the loss from those (even when from_logits=True was passed by mistake)."""
    carried = getattr(y_pred, "_keras_logits", None)
    if carried is not None and getattr(y_pred, "_keras_logits_from", None) == activation:
        if from_logits:
            warnings.warn(
                f"`{name}` received `from_logits=True`, but `y_pred` is the output of a "
                f"{activation} activation, so it holds probabilities rather than logits; the "
                f"loss is computed from the logits that {activation} was applied to. Was this "
                "intended?", stacklevel=4)
        return carried
    if from_logits:
        return y_pred
    return None


def _rows(x: np.ndarray, axis: int) -> np.ndarray:
    """x with `axis` moved last and flattened to a C-contiguous float32 (M, C) matrix."""
    if axis != x.ndim - 1:
        x = np.moveaxis(x, axis, -1)
    c = x.shape[-1] if x.ndim else 1
    return np.ascontiguousarray(x.reshape(-1, c), dtype=_F32)


def _unrows(g: np.ndarray, shape, axis: int) -> np.ndarray:
    """Inverse of _rows for an array of the original `shape`."""
    shape = tuple(shape)
    if axis == len(shape) - 1:
        return g.reshape(shape)
    moved = shape[:axis] + shape[axis + 1:] + (shape[axis],)
    return np.moveaxis(g.reshape(moved), -1, axis)


def _core_call(fn, name, *args, **kwargs):
    """Calls a kernel, re-raising its ValueError (e.g. a bad label) under the loss's name."""
    try:
        return fn(*args, **kwargs)
    except ValueError as e:
        msg = str(e)
        prefix = fn.__name__ + ": "
        msg = msg.removeprefix(prefix)
        raise ValueError(f"{name}: {msg}") from None


# ----------------------------------------------------------------------------------------------
# A prepared loss evaluation
# ----------------------------------------------------------------------------------------------

class _Prepared:
    """One loss evaluation, split so the reduction can be planned before the kernel runs.

    shape: shape of the per-sample values.
    source: the Tensor the gradient goes to (y_pred, or the logits behind it), or None.
    run(scale): returns (values, grad). values is a float32 array of `shape`; grad is None when
        scale is None, else the gradient of sum(scale * values) with respect to source.value.
    mask: optional boolean array of `shape` marking the valid values (ignore_class).
    """

    __slots__ = ("_run", "mask", "shape", "source")

    def __init__(self, shape, source, run, mask=None):
        self.shape = tuple(shape)
        self.source = source
        self._run = run
        self.mask = mask

    def run(self, scale=None):
        if scale is not None and not (type(scale) is np.ndarray and scale.shape == self.shape
                                      and scale.dtype == _F32 and scale.flags.c_contiguous):
            scale = np.ascontiguousarray(np.broadcast_to(scale, self.shape), dtype=_F32)
        values, grad = self._run(scale)
        values = np.asarray(values, dtype=_F32).reshape(self.shape)
        if grad is not None:
            grad = np.asarray(grad, dtype=_F32).reshape(self.source.value.shape)
        return values, grad

    def values(self) -> np.ndarray:
        return self.run(None)[0]


def _from_values(values) -> _Prepared:
    """Per-sample values computed elsewhere (a custom loss): a Tensor keeps its gradient path."""
    if isinstance(values, Tensor):
        src = values
        v = _float32(values)

        def run(scale):
            return v, (None if scale is None else scale)
        return _Prepared(v.shape, src, run, getattr(values, "_keras_mask", None))
    v = _float32(values)
    return _Prepared(v.shape, None, lambda scale: (v, None))


def _as_function_output(prep: _Prepared) -> Tensor:
    """A loss function's result: the per-sample values as a differentiable Tensor."""
    values, _ = prep.run(None)
    src = prep.source

    def backward(g, needs):
        return (prep.run(np.asarray(g, dtype=_F32))[1],)

    out = make_op(values, (src,) if src is not None else (), backward)
    if prep.mask is not None:
        out._keras_mask = prep.mask
    return out


# ----------------------------------------------------------------------------------------------
# Reductions and sample weights (Keras 3's reduce_weighted_values)
# ----------------------------------------------------------------------------------------------

_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


def standardize_reduction(reduction):
    if reduction not in _REDUCTIONS:
        allowed = "{" + ", ".join(repr(r) for r in _REDUCTIONS) + "}"
        raise ValueError("Invalid value for argument `reduction`. "
                         f"Expected one of {allowed}. Received: reduction={reduction!r}")
    return reduction


def _per_sample_to_mask_rank(sw, m):
    """Per-sample weights (batch,) against a per-timestep mask (batch, steps, ...): each
    sample's weight applies to all of its entries (Keras 3 fails to broadcast these)."""
    if sw.ndim < m.ndim and sw.shape == m.shape[:sw.ndim]:
        return sw.reshape(sw.shape + (1,) * (m.ndim - sw.ndim))
    return sw


class _Reduction:
    """How per-sample values of a given shape become the loss: the weights to multiply by, the
    output shape, and (for reducing reductions) the coefficient of each value in the result."""

    def __init__(self, values_shape, sample_weight, mask, reduction):
        values_shape = tuple(values_shape)
        self.values_shape = values_shape
        sw = None if sample_weight is None else _float32(sample_weight)
        if mask is not None:
            m = _raw(mask).astype(_F32)
            if reduction in ("mean", "sum_over_batch_size"):
                # Valid entries get weight total/valid, so dividing by the total divides the
                # sum by the number of valid entries.
                valid = float(m.sum())
                m = m * _F32(m.size / valid if valid else 0.0)
            if sw is not None:
                m, sw = _squeeze_or_expand(m, sw)
                sw = (_per_sample_to_mask_rank(sw, m) * m).astype(_F32)
            else:
                sw = m
        dummy = np.empty(values_shape, dtype=np.bool_)
        if sw is not None:
            dummy, sw = _squeeze_or_expand(dummy, sw)
            try:
                out_shape = np.broadcast_shapes(dummy.shape, sw.shape)
            except ValueError:
                raise ValueError(
                    f"`sample_weight` of shape {sw.shape} cannot be broadcast to the per-sample "
                    f"loss values of shape {values_shape}") from None
        else:
            out_shape = values_shape
        self.shape2 = dummy.shape  # the values' shape after rank reconciliation
        self.sw = sw
        self.out_shape = tuple(out_shape)
        self.reduces = not (reduction is None or reduction == "none" or self.out_shape == ()
                            or self.out_shape == (0,))
        self.coef = None
        if self.reduces:
            if reduction == "sum":
                divisor = 1.0
            elif reduction == "mean_with_sample_weight" and sw is not None:
                # divides by the weights after any mask was merged in (Keras does the same)
                divisor = float(np.sum(sw, dtype=np.float64))
            else:
                divisor = float(math.prod(self.out_shape))
            self.inv_divisor = 1.0 / divisor if divisor != 0.0 else 0.0  # divide_no_nan
            if sw is None:
                coef = np.full(values_shape, self.inv_divisor, dtype=_F32)
            else:
                full = np.broadcast_to(sw, self.out_shape).astype(_F32)
                coef = _unbroadcast(full, self.shape2) * _F32(self.inv_divisor)
            self.coef = np.asarray(coef, dtype=_F32).reshape(values_shape)
            self.coef.flags.writeable = False  # plans are shared (see _plan)

    def apply(self, values: np.ndarray) -> np.ndarray:
        v = values.reshape(self.shape2)
        w = v if self.sw is None else v * self.sw
        if not self.reduces:
            return np.asarray(w, dtype=_F32)
        total = np.sum(w, dtype=np.float64)
        return np.asarray(total * self.inv_divisor, dtype=_F32)

    def values_grad(self, g: np.ndarray) -> np.ndarray:
        """d(loss)/d(values) for an unreduced output, given the upstream gradient g."""
        g = np.asarray(g, dtype=_F32)
        if self.sw is not None:
            g = g * self.sw
        return _unbroadcast(np.broadcast_to(g, self.out_shape), self.shape2).reshape(
            self.values_shape)


def _combine_masks(a, b):
    if a is None:
        return b
    if b is None:
        return a
    a, b = _raw(a).astype(bool), _raw(b).astype(bool)
    a, b = _squeeze_or_expand(a, b)
    return a & b


# Plans without sample weights or masks depend only on the values' shape and the reduction:
# a training loop sees the same few every step, so they are kept (their arrays are never
# written after construction).
_PLAN_CACHE: dict = {}


def _plan(shape, sample_weight, mask, reduction) -> _Reduction:
    if sample_weight is not None or mask is not None:
        return _Reduction(shape, sample_weight, mask, reduction)
    key = (shape, reduction)
    plan = _PLAN_CACHE.get(key)
    if plan is None:
        if len(_PLAN_CACHE) >= 64:
            _PLAN_CACHE.clear()
        plan = _PLAN_CACHE[key] = _Reduction(shape, None, None, reduction)
    return plan


def _reduce(prep: _Prepared, sample_weight, reduction, in_mask=None) -> Tensor:
    mask = _combine_masks(in_mask, prep.mask)
    plan = _plan(prep.shape, sample_weight, mask, reduction)
    src = prep.source
    need_grad = grad_enabled() and src is not None and src.requires_grad
    parents = (src,) if src is not None else ()
    if plan.reduces:
        # The coefficients are known before the kernel runs, so the gradient comes out of the
        # same call as the values.
        values, grad = prep.run(plan.coef if need_grad else None)
        out = plan.apply(values)

        def backward(g, needs):
            if grad is None:  # recorded without a precomputed gradient (should not happen)
                return (prep.run(plan.coef * _F32(g))[1],)
            g = float(g)
            return (grad if g == 1.0 else grad * _F32(g),)

        return make_op(out, parents, backward)
    values, _ = prep.run(None)
    out = plan.apply(values)

    def backward_none(g, needs):
        return (prep.run(plan.values_grad(g))[1],)

    return make_op(out, parents, backward_none)


# ----------------------------------------------------------------------------------------------
# Elementwise losses (regression, hinge, probabilistic), averaged or summed over the last axis
# ----------------------------------------------------------------------------------------------

def _elementwise(name, y_true, y_pred, elem, reduce="mean", true_transform=None):
    """elem(t, p, want_grad) -> (values, d values / d p) elementwise on broadcast t and p."""
    src = _pred_tensor(y_pred)
    p0 = _float32(src)
    t = _float32(y_true)
    t, p = _squeeze_or_expand(t, p0)
    if true_transform is not None:
        t = true_transform(t)
    full = _broadcast_shape(name, t, p)
    if len(full) == 0:
        raise ValueError(f"{name}: expected inputs of rank >= 1, received y_true.shape="
                         f"{t.shape}, y_pred.shape={p.shape}")
    n = full[-1]
    out_shape = full[:-1]

    def run(scale):
        v, g = elem(t, p, scale is not None)
        if v.shape != full:
            v = np.broadcast_to(v, full)
        values = v.mean(axis=-1) if reduce == "mean" else v.sum(axis=-1)
        if scale is None:
            return values, None
        k = scale[..., None]
        if reduce == "mean":
            k = k * _F32(1.0 / n) if n else k * _F32(0.0)
        kg = k * g
        if kg.shape != full:
            kg = np.broadcast_to(kg, full)
        return values, _unbroadcast(kg, p.shape).reshape(p0.shape)

    return _Prepared(out_shape, src, run)


def _sign(x):
    return np.sign(x).astype(_F32)


def _mse_elem(t, p, want_grad):
    d = p - t
    return d * d, (2 * d if want_grad else None)


def _mae_elem(t, p, want_grad):
    d = p - t
    return np.abs(d), (_sign(d) if want_grad else None)


def _mape_elem(t, p, want_grad):
    den = np.maximum(np.abs(t), _F32(_epsilon()))
    d = p - t
    v = _F32(100.0) * np.abs(d / den)
    return v, (_F32(100.0) * _sign(d) / den if want_grad else None)


def _msle_elem(t, p, want_grad):
    eps = _F32(_epsilon())
    pc = np.maximum(p, eps)
    a = np.log(pc + _F32(1.0))
    b = np.log(np.maximum(t, eps) + _F32(1.0))
    d = a - b
    g = None
    if want_grad:
        g = np.where(p >= eps, 2 * d / (pc + _F32(1.0)), _F32(0.0)).astype(_F32)
    return d * d, g


def _huber_elem(delta):
    delta = _F32(delta)

    def elem(t, p, want_grad):
        e = p - t
        a = np.abs(e)
        small = a <= delta
        v = np.where(small, _F32(0.5) * e * e, delta * a - _F32(0.5) * delta * delta)
        g = np.where(small, e, delta * _sign(e)).astype(_F32) if want_grad else None
        return v.astype(_F32), g
    return elem


_LOG2 = _F32(math.log(2.0))


def _softplus(x):
    return np.maximum(x, _F32(0.0)) + np.log1p(np.exp(-np.abs(x)))


def _log_cosh_elem(t, p, want_grad):
    x = p - t
    v = x + _softplus(_F32(-2.0) * x) - _LOG2
    return v.astype(_F32), (np.tanh(x) if want_grad else None)


def _poisson_elem(t, p, want_grad):
    q = p + _F32(_epsilon())
    v = p - t * np.log(q)
    return v, (_F32(1.0) - t / q if want_grad else None)


def _kld_elem(t, p, want_grad):
    eps = _F32(_epsilon())
    tc = np.clip(t, eps, _F32(1.0))
    pc = np.clip(p, eps, _F32(1.0))
    v = tc * np.log(tc / pc)
    g = None
    if want_grad:
        inside = (p >= eps) & (p <= _F32(1.0))
        g = np.where(inside, -tc / pc, _F32(0.0)).astype(_F32)
    return v, g


def _hinge_labels(t):
    """Keras converts {0, 1} labels to {-1, 1} for the hinge losses."""
    if t.size and np.all((t == 0) | (t == 1)):
        return _F32(2.0) * t - _F32(1.0)
    return t


def _hinge_elem(t, p, want_grad):
    m = _F32(1.0) - t * p
    v = np.maximum(m, _F32(0.0))
    return v, (np.where(m >= 0, -t, _F32(0.0)).astype(_F32) if want_grad else None)


def _squared_hinge_elem(t, p, want_grad):
    h = np.maximum(_F32(1.0) - t * p, _F32(0.0))
    return h * h, (_F32(-2.0) * t * h if want_grad else None)


def _prep_mean_squared_error(y_true, y_pred):
    return _elementwise("mean_squared_error", y_true, y_pred, _mse_elem)


def _prep_mean_absolute_error(y_true, y_pred):
    return _elementwise("mean_absolute_error", y_true, y_pred, _mae_elem)


def _prep_mean_absolute_percentage_error(y_true, y_pred):
    return _elementwise("mean_absolute_percentage_error", y_true, y_pred, _mape_elem)


def _prep_mean_squared_logarithmic_error(y_true, y_pred):
    return _elementwise("mean_squared_logarithmic_error", y_true, y_pred, _msle_elem)


def _prep_huber(y_true, y_pred, delta=1.0):
    return _elementwise("huber", y_true, y_pred, _huber_elem(delta))


def _prep_log_cosh(y_true, y_pred):
    return _elementwise("log_cosh", y_true, y_pred, _log_cosh_elem)


def _prep_poisson(y_true, y_pred):
    return _elementwise("poisson", y_true, y_pred, _poisson_elem)


def _prep_kl_divergence(y_true, y_pred):
    return _elementwise("kl_divergence", y_true, y_pred, _kld_elem, reduce="sum")


def _prep_hinge(y_true, y_pred):
    return _elementwise("hinge", y_true, y_pred, _hinge_elem, true_transform=_hinge_labels)


def _prep_squared_hinge(y_true, y_pred):
    return _elementwise("squared_hinge", y_true, y_pred, _squared_hinge_elem,
                        true_transform=_hinge_labels)


def _prep_categorical_hinge(y_true, y_pred):
    name = "categorical_hinge"
    src = _pred_tensor(y_pred)
    p0 = _float32(src)
    t, p = _squeeze_or_expand(_float32(y_true), p0)
    full = _broadcast_shape(name, t, p)
    if len(full) == 0:
        raise ValueError(f"{name}: expected inputs of rank >= 1")

    def run(scale):
        tb = np.broadcast_to(t, full)
        pb = np.broadcast_to(p, full)
        pos = np.sum(tb * pb, axis=-1)
        q = (_F32(1.0) - tb) * pb
        neg = np.max(q, axis=-1)
        m = neg - pos + _F32(1.0)
        values = np.maximum(m, _F32(0.0))
        if scale is None:
            return values, None
        ties = (q == neg[..., None]).astype(_F32)
        dneg = ties / ties.sum(axis=-1, keepdims=True) * (_F32(1.0) - tb)
        active = (m >= 0).astype(_F32) * scale
        g = active[..., None] * (dneg - tb)
        return values, _unbroadcast(g, p.shape).reshape(p0.shape)

    return _Prepared(full[:-1], src, run)


def _prep_cosine_similarity(y_true, y_pred, axis=-1):
    name = "cosine_similarity"
    src = _pred_tensor(y_pred)
    p0 = _float32(src)
    t, p = _squeeze_or_expand(_float32(y_true), p0)
    full = _broadcast_shape(name, t, p)
    ax = _check_axis(axis, len(full), name)
    eps = _F32(_epsilon())
    out_shape = full[:ax] + full[ax + 1:]

    def run(scale):
        tb = np.broadcast_to(t, full)
        pb = np.broadcast_to(p, full)
        tn = np.maximum(np.sqrt(np.sum(tb * tb, axis=ax, keepdims=True)), eps)
        pn_raw = np.sqrt(np.sum(pb * pb, axis=ax, keepdims=True))
        pn = np.maximum(pn_raw, eps)
        u = tb / tn
        pu = pb / pn
        dot = np.sum(u * pu, axis=ax, keepdims=True)
        values = -np.squeeze(dot, axis=ax)
        if scale is None:
            return values, None
        # d/dp of p.u / max(|p|, eps): (u - (p.u/|p|^2) p) / |p| while |p| > eps, else u / eps.
        radial = np.where(pn_raw > eps, dot / pn, _F32(0.0))
        g = -(u - radial * pb) / pn * np.expand_dims(scale, ax)
        return values, _unbroadcast(g.astype(_F32), p.shape).reshape(p0.shape)

    return _Prepared(out_shape, src, run)


# ----------------------------------------------------------------------------------------------
# Cross-entropies
# ----------------------------------------------------------------------------------------------

def _prep_categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    name = "categorical_crossentropy"
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")
    src = _pred_tensor(y_pred)
    p0 = _float32(src)
    t_raw = _raw(y_true)
    t_in, p = _squeeze_or_expand(t_raw, p0)
    if t_in.shape != p.shape:
        hint = ""
        label_like = ((t_in.ndim == p.ndim and t_in.shape[-1:] == (1,))
                      or t_in.ndim == p.ndim - 1)
        if label_like and p.ndim >= 1 and p.shape[-1] != 1 and _looks_like_class_indices(t_in):
            hint = (f" categorical_crossentropy expects one-hot targets with one column per "
                    f"class ({p.shape[-1]} here), but `y_true` looks like integer class "
                    f"indices: use `sparse_categorical_crossentropy` "
                    f"(keras.losses.SparseCategoricalCrossentropy) for integer labels, or "
                    f"one-hot encode them.")
        raise _incompatible(name, t_in.shape, p.shape, hint)
    if p.ndim == 0:
        raise ValueError(f"{name}: expected inputs of rank >= 1, received scalars")
    ax = _check_axis(axis, p.ndim, name)
    ls = _check_label_smoothing(label_smoothing, name)
    if p.shape[ax] == 1:
        warnings.warn(
            f"In loss {name}, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1. Received: y_pred.shape={p.shape}. Consider using "
            "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning, stacklevel=4)
    t = t_in.astype(_F32, copy=False)
    out_shape = p.shape[:ax] + p.shape[ax + 1:]
    if ax == p.ndim - 1:
        logits = _logits_of(src, "softmax", from_logits, name)
    else:  # a softmax output is tagged only for its last axis
        logits = src if from_logits else None
        if ls:
            # As Keras: labels are smoothed over shape[-1] classes, whatever the axis.
            t = t * _F32(1.0 - ls) + _F32(ls / p.shape[-1])
            ls = 0.0
    if logits is not None:
        z = _float32(logits)
        if z.shape != p.shape:
            z = z.reshape(p.shape)
        z_rows = _rows(z, ax)
        t_rows = _rows(t, ax)

        def run(scale):
            s = None if scale is None else scale.reshape(-1)
            loss, grad = _core.softmax_cross_entropy(z_rows, t_rows, s, ls, scale is not None)
            if grad is not None:
                grad = _unrows(grad, p.shape, ax)
            return loss, grad

        return _Prepared(out_shape, logits, run)

    # Probabilities: normalise over the class axis, clip to [eps, 1 - eps], -sum(t log p).
    if ls:
        t = t * _F32(1.0 - ls) + _F32(ls / p.shape[-1])
    eps = _F32(_epsilon())
    hi = _F32(1.0) - eps

    def run(scale):
        s = np.sum(p, axis=ax, keepdims=True)
        o = p / s
        c = np.clip(o, eps, hi)
        values = -np.sum(t * np.log(c), axis=ax)
        if scale is None:
            return values, None
        inside = (o >= eps) & (o <= hi)
        g_o = np.where(inside, -t / c, _F32(0.0)).astype(_F32)
        g_p = (g_o - np.sum(g_o * o, axis=ax, keepdims=True)) / s
        return values, g_p * np.expand_dims(scale, ax)

    return _Prepared(out_shape, src, run)


def _prep_sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                          axis=-1):
    name = "sparse_categorical_crossentropy"
    src = _pred_tensor(y_pred)
    p = _float32(src)
    if p.ndim < 1:
        raise ValueError(f"{name}: `y_pred` must be at least rank 1, received shape {p.shape}")
    if isinstance(axis, bool) or axis not in (-1, p.ndim - 1):
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    t = _raw(y_true)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t.reshape(t.shape[:-1])
    if t.shape != p.shape[:-1]:
        hint = ""
        if t.shape == p.shape:
            hint = (" `y_true` has the shape of `y_pred`, as one-hot targets do: use "
                    "`categorical_crossentropy` (keras.losses.CategoricalCrossentropy) for "
                    "one-hot labels, or pass integer class indices.")
        clash = "" if t.shape == p.shape else (
            f", but Shapes {_batch_shape_str(t.shape)} and {_batch_shape_str(p.shape)} are "
            "incompatible")
        raise ValueError(
            f"{name}: `y_true` must hold one integer class index per sample, with the shape "
            f"of `y_pred` minus its last (class) axis: expected y_true.shape="
            f"{p.shape[:-1]} (or with a trailing 1){clash} (received y_true.shape={t.shape}, "
            f"y_pred.shape={p.shape}).{hint}")
    if t.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            labels = t.astype(np.int64)
    elif t.dtype.kind in "iub":
        labels = t.astype(np.int64, copy=False)
    else:
        raise TypeError(f"{name}: `y_true` must hold integer class indices, received dtype "
                        f"{t.dtype}")
    labels = np.ascontiguousarray(labels.reshape(-1))
    out_shape = p.shape[:-1]
    mask = None
    if ignore_class is not None:
        ignore_class = int(ignore_class)
        mask = (labels != ignore_class).reshape(out_shape)

    logits = _logits_of(src, "softmax", from_logits, name)
    if logits is not None:
        z_rows = _rows(_float32(logits).reshape(p.shape), p.ndim - 1)

        def run(scale):
            s = None if scale is None else scale.reshape(-1)
            return _core_call(_core.sparse_softmax_cross_entropy, name, z_rows, labels, s,
                              ignore_class, scale is not None)

        return _Prepared(out_shape, logits, run, mask)

    # Probabilities, as Keras's TensorFlow backend: the clipped log-probabilities are fed to a
    # softmax cross-entropy, i.e. loss = -log(c_y / sum(c)) with c = clip(p, eps, 1 - eps).
    eps = _F32(_epsilon())
    hi = _F32(1.0) - eps
    p_rows = _rows(p, p.ndim - 1)
    c_rows = np.clip(p_rows, eps, hi)
    log_c = np.log(c_rows)

    def run(scale):
        s = None if scale is None else scale.reshape(-1)
        values, g_log = _core_call(_core.sparse_softmax_cross_entropy, name, log_c, labels, s,
                                   ignore_class, scale is not None)
        if g_log is None:
            return values, None
        inside = (p_rows >= eps) & (p_rows <= hi)
        return values, np.where(inside, g_log / c_rows, _F32(0.0))

    return _Prepared(out_shape, src, run, mask)


def _check_binary_shapes(name, t, p):
    if t.shape != p.shape:
        raise _incompatible(name, t.shape, p.shape,
                            " Binary cross-entropies need `y_true` and `y_pred` of the same shape "
                            "(one probability or logit per target).")


def _prep_binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    name = "binary_crossentropy"
    src = _pred_tensor(y_pred)
    p0 = _float32(src)
    t, p = _squeeze_or_expand(_float32(y_true), p0)
    _check_binary_shapes(name, t, p)
    if p.ndim == 0:
        t, p = t.reshape(1), p.reshape(1)
    ax = _check_axis(axis, p.ndim, name)
    ls = _check_label_smoothing(label_smoothing, name)
    out_shape = p.shape[:ax] + p.shape[ax + 1:]
    logits = _logits_of(src, "sigmoid", from_logits, name)
    if logits is not None:
        z_rows = _rows(_float32(logits).reshape(p.shape), ax)
        t_rows = _rows(t, ax)

        def run(scale):
            s = None if scale is None else scale.reshape(-1)
            loss, grad = _core.sigmoid_binary_cross_entropy(z_rows, t_rows, s, ls,
                                                            scale is not None)
            if grad is not None:
                grad = _unrows(grad, p.shape, ax)
            return loss, grad

        return _Prepared(out_shape, logits, run)

    if ls:
        t = t * _F32(1.0 - ls) + _F32(0.5 * ls)
    eps = _F32(_epsilon())
    hi = _F32(1.0) - eps
    n = p.shape[ax]

    def run(scale):
        o = np.clip(p, eps, hi)
        elem = -(t * np.log(o) + (_F32(1.0) - t) * np.log(_F32(1.0) - o))
        values = elem.mean(axis=ax)
        if scale is None:
            return values, None
        inside = (p >= eps) & (p <= hi)
        g = np.where(inside, (o - t) / (o * (_F32(1.0) - o)), _F32(0.0)).astype(_F32)
        k = np.expand_dims(scale, ax) * _F32(1.0 / n)
        return values, g * k

    return _Prepared(out_shape, src, run)


def _prep_binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                                    gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    name = "binary_focal_crossentropy"
    src = _pred_tensor(y_pred)
    p0 = _float32(src)
    t, p = _squeeze_or_expand(_float32(y_true), p0)
    _check_binary_shapes(name, t, p)
    if p.ndim == 0:
        t, p = t.reshape(1), p.reshape(1)
    ax = _check_axis(axis, p.ndim, name)
    ls = _check_label_smoothing(label_smoothing, name)
    if ls:
        t = t * _F32(1.0 - ls) + _F32(0.5 * ls)
    out_shape = p.shape[:ax] + p.shape[ax + 1:]
    n = p.shape[ax]
    gamma = float(gamma)
    one = _F32(1.0)
    weight = (t * _F32(alpha) + (one - t) * _F32(1.0 - alpha)) if apply_class_balancing else None
    logits = _logits_of(src, "sigmoid", from_logits, name)
    eps = _F32(_epsilon())
    hi = one - eps

    def focal_terms(prob):
        base = t + prob - _F32(2.0) * t * prob  # 1 - p_t
        base = np.maximum(base, _F32(0.0))
        factor = np.power(base, _F32(gamma)).astype(_F32)
        if gamma == 0.0:
            dfactor = np.zeros_like(base)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                dfactor = np.where(base > 0, _F32(gamma) * np.power(base, _F32(gamma - 1.0)),
                                   _F32(1.0) if gamma == 1.0 else _F32(0.0))
            dfactor = (dfactor * (one - _F32(2.0) * t)).astype(_F32)  # d factor / d prob
        return factor, dfactor

    if logits is not None:
        z = _float32(logits).reshape(p.shape)
        e = np.exp(-np.abs(z))
        prob = np.where(z >= 0, one / (one + e), e / (one + e)).astype(_F32)
        bce = (np.maximum(z, _F32(0.0)) - z * t + np.log1p(e)).astype(_F32)

        def run(scale):
            factor, dfactor = focal_terms(prob)
            elem = factor * bce if weight is None else weight * factor * bce
            values = elem.mean(axis=ax)
            if scale is None:
                return values, None
            g = dfactor * prob * (one - prob) * bce + factor * (prob - t)
            if weight is not None:
                g = g * weight
            return values, g * (np.expand_dims(scale, ax) * _F32(1.0 / n))

        return _Prepared(out_shape, logits, run)

    def run(scale):
        o = np.clip(p, eps, hi)
        bce = -(t * np.log(o) + (one - t) * np.log(one - o))
        factor, dfactor = focal_terms(p)
        elem = factor * bce if weight is None else weight * factor * bce
        values = elem.mean(axis=ax)
        if scale is None:
            return values, None
        inside = (p >= eps) & (p <= hi)
        dbce = np.where(inside, (o - t) / (o * (one - o)), _F32(0.0))
        g = dfactor * bce + factor * dbce
        if weight is not None:
            g = g * weight
        return values, g * (np.expand_dims(scale, ax) * _F32(1.0 / n))

    return _Prepared(out_shape, src, run)


# ----------------------------------------------------------------------------------------------
# Targets that carry a gradient
# ----------------------------------------------------------------------------------------------
# The kernels above differentiate with respect to y_pred only, which is all a training loop
# needs. When y_true is itself a tensor on the tape (a network's output: the teacher of a
# distillation, the target branch of a self-supervised pair), the loss is composed of ops
# instead, so the gradient reaches both sides, as in Keras.

def _tracks_gradient(y_true) -> bool:
    return isinstance(y_true, Tensor) and y_true.requires_grad and grad_enabled()


def _same_rank(y_true, y_pred):
    """y_true and y_pred (tensors) reshaped by Keras's rank reconciliation
    (`_squeeze_or_expand`), keeping their gradient paths."""
    y_true = y_true if isinstance(y_true, Tensor) else convert_to_tensor(y_true)
    t, p = _squeeze_or_expand(np.empty(y_true.shape, np.bool_), np.empty(y_pred.shape,
                                                                           np.bool_))
    return _reshape_tensor(y_true, t.shape), _reshape_tensor(y_pred, p.shape)


def _hinge_targets(t):
    binary = bool(np.all((t.value == 0) | (t.value == 1)))
    return 2.0 * t - 1.0 if binary else t


@functools.cache
def _target_forms():
    from fastkeras import ops
    eps = _epsilon()

    def mean_last(fn):
        return lambda t, p: ops.mean(fn(t, p), axis=-1)

    def huber_form(t, p, delta=1.0):
        e = p - t
        a = ops.abs(e)
        return ops.mean(ops.where(a <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta),
                        axis=-1)

    def cosine_form(t, p, axis=-1):
        return -ops.sum(ops.normalize(t, axis=axis) * ops.normalize(p, axis=axis), axis=axis)

    def categorical_hinge_form(t, p):
        positive = ops.sum(t * p, axis=-1)
        negative = ops.max((1.0 - t) * p, axis=-1)
        return ops.maximum(negative - positive + 1.0, 0.0)

    def kld_form(t, p):
        t, p = ops.clip(t, eps, 1.0), ops.clip(p, eps, 1.0)
        return ops.sum(t * ops.log(t / p), axis=-1)

    def cce_form(t, p, from_logits=False, label_smoothing=0.0, axis=-1):
        if label_smoothing:
            t = t * (1.0 - label_smoothing) + label_smoothing / p.shape[axis]
        if from_logits:
            return -ops.sum(t * ops.log_softmax(p, axis=axis), axis=axis)
        p = ops.clip(p / ops.sum(p, axis=axis, keepdims=True), eps, 1.0 - eps)
        return -ops.sum(t * ops.log(p), axis=axis)

    def bce_form(t, p, from_logits=False, label_smoothing=0.0, axis=-1):
        if label_smoothing:
            t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
        if from_logits:
            values = ops.relu(p) - p * t + ops.log1p(ops.exp(-ops.abs(p)))
        else:
            p = ops.clip(p, eps, 1.0 - eps)
            values = -(t * ops.log(p) + (1.0 - t) * ops.log(1.0 - p))
        return ops.mean(values, axis=axis)

    return {
        "mse": mean_last(lambda t, p: ops.square(t - p)),
        "mae": mean_last(lambda t, p: ops.abs(t - p)),
        "mape": lambda t, p: 100.0 * ops.mean(
            ops.abs((t - p) / ops.maximum(ops.abs(t), eps)), axis=-1),
        "msle": mean_last(lambda t, p: ops.square(
            ops.log(ops.maximum(p, eps) + 1.0) - ops.log(ops.maximum(t, eps) + 1.0))),
        "huber": huber_form,
        "log_cosh": mean_last(lambda t, p: (p - t) + ops.softplus(-2.0 * (p - t))
                              - float(_LOG2)),
        "poisson": mean_last(lambda t, p: p - t * ops.log(p + eps)),
        "kld": kld_form,
        "cosine": cosine_form,
        "hinge": lambda t, p: ops.mean(ops.maximum(1.0 - _hinge_targets(t) * p, 0.0), axis=-1),
        "squared_hinge": lambda t, p: ops.mean(
            ops.square(ops.maximum(1.0 - _hinge_targets(t) * p, 0.0)), axis=-1),
        "categorical_hinge": categorical_hinge_form,
        "cce": cce_form,
        "bce": bce_form,
    }


def _with_target_gradient(prepare, form_name):
    """prepare, except for a target on the tape: then the op-composed form of the loss."""
    def prepare_any(y_true, y_pred, **kwargs):
        if not _tracks_gradient(y_true):
            return prepare(y_true, y_pred, **kwargs)
        t, p = _same_rank(y_true, _pred_tensor(y_pred))
        return _from_values(_target_forms()[form_name](t, p, **kwargs))
    prepare_any.__name__ = prepare.__name__
    prepare_any.__doc__ = prepare.__doc__
    return prepare_any


_prep_mean_squared_error = _with_target_gradient(_prep_mean_squared_error, "mse")
_prep_mean_absolute_error = _with_target_gradient(_prep_mean_absolute_error, "mae")
_prep_mean_absolute_percentage_error = _with_target_gradient(
    _prep_mean_absolute_percentage_error, "mape")
_prep_mean_squared_logarithmic_error = _with_target_gradient(
    _prep_mean_squared_logarithmic_error, "msle")
_prep_huber = _with_target_gradient(_prep_huber, "huber")
_prep_log_cosh = _with_target_gradient(_prep_log_cosh, "log_cosh")
_prep_poisson = _with_target_gradient(_prep_poisson, "poisson")
_prep_kl_divergence = _with_target_gradient(_prep_kl_divergence, "kld")
_prep_cosine_similarity = _with_target_gradient(_prep_cosine_similarity, "cosine")
_prep_hinge = _with_target_gradient(_prep_hinge, "hinge")
_prep_squared_hinge = _with_target_gradient(_prep_squared_hinge, "squared_hinge")
_prep_categorical_hinge = _with_target_gradient(_prep_categorical_hinge, "categorical_hinge")
_prep_categorical_crossentropy = _with_target_gradient(_prep_categorical_crossentropy, "cce")
_prep_binary_crossentropy = _with_target_gradient(_prep_binary_crossentropy, "bce")


# ----------------------------------------------------------------------------------------------
# Function forms: per-sample values as a differentiable Tensor
# ----------------------------------------------------------------------------------------------

def mean_squared_error(y_true, y_pred):
    """mean(square(y_true - y_pred), axis=-1)."""
    return _as_function_output(_prep_mean_squared_error(y_true, y_pred))


def mean_absolute_error(y_true, y_pred):
    """mean(abs(y_true - y_pred), axis=-1)."""
    return _as_function_output(_prep_mean_absolute_error(y_true, y_pred))


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), epsilon)), axis=-1)."""
    return _as_function_output(_prep_mean_absolute_percentage_error(y_true, y_pred))


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)."""
    return _as_function_output(_prep_mean_squared_logarithmic_error(y_true, y_pred))


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)."""
    return _as_function_output(_prep_cosine_similarity(y_true, y_pred, axis=axis))


def huber(y_true, y_pred, delta=1.0):
    """mean of 0.5 * e^2 where |e| <= delta, else delta * |e| - 0.5 * delta^2 (e = y_pred -
    y_true), over the last axis."""
    return _as_function_output(_prep_huber(y_true, y_pred, delta=delta))


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true)), axis=-1), computed without overflow."""
    return _as_function_output(_prep_log_cosh(y_true, y_pred))


def hinge(y_true, y_pred):
    """mean(maximum(1 - y_true * y_pred, 0), axis=-1); {0, 1} labels become {-1, 1}."""
    return _as_function_output(_prep_hinge(y_true, y_pred))


def squared_hinge(y_true, y_pred):
    """mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1); {0, 1} labels become {-1, 1}."""
    return _as_function_output(_prep_squared_hinge(y_true, y_pred))


def categorical_hinge(y_true, y_pred):
    """maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0) over the last axis."""
    return _as_function_output(_prep_categorical_hinge(y_true, y_pred))


def kl_divergence(y_true, y_pred):
    """sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [epsilon, 1]."""
    return _as_function_output(_prep_kl_divergence(y_true, y_pred))


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)."""
    return _as_function_output(_prep_poisson(y_true, y_pred))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy of one-hot (or soft) targets against class probabilities or logits."""
    return _as_function_output(_prep_categorical_crossentropy(
        y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Cross-entropy of integer class indices against class probabilities or logits. Samples
    labelled `ignore_class` get 0 and are masked out of the reduction (`_keras_mask`)."""
    return _as_function_output(_prep_sparse_categorical_crossentropy(
        y_true, y_pred, from_logits=from_logits, ignore_class=ignore_class, axis=axis))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy averaged over `axis`; labels are smoothed towards 0.5."""
    return _as_function_output(_prep_binary_crossentropy(
        y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis))


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy scaled by the focal factor (1 - p_t) ** gamma (and by alpha /
    1 - alpha with class balancing), averaged over `axis`."""
    return _as_function_output(_prep_binary_focal_crossentropy(
        y_true, y_pred, apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
        from_logits=from_logits, label_smoothing=label_smoothing, axis=axis))


# Each built-in function's preparer, so the classes (and LossFunctionWrapper) skip the
# function's Tensor wrapping and plan the gradient with the reduction.
_PREPARERS = {
    mean_squared_error: _prep_mean_squared_error,
    mean_absolute_error: _prep_mean_absolute_error,
    mean_absolute_percentage_error: _prep_mean_absolute_percentage_error,
    mean_squared_logarithmic_error: _prep_mean_squared_logarithmic_error,
    cosine_similarity: _prep_cosine_similarity,
    huber: _prep_huber,
    log_cosh: _prep_log_cosh,
    hinge: _prep_hinge,
    squared_hinge: _prep_squared_hinge,
    categorical_hinge: _prep_categorical_hinge,
    kl_divergence: _prep_kl_divergence,
    poisson: _prep_poisson,
    categorical_crossentropy: _prep_categorical_crossentropy,
    sparse_categorical_crossentropy: _prep_sparse_categorical_crossentropy,
    binary_crossentropy: _prep_binary_crossentropy,
    binary_focal_crossentropy: _prep_binary_focal_crossentropy,
}


# ----------------------------------------------------------------------------------------------
# Classes
# ----------------------------------------------------------------------------------------------

def _snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


class Loss:
    """Base class of all losses.

    Subclasses implement `call(y_true, y_pred)` returning per-sample values; to keep
    gradients, build them with `fastkeras.ops` on the Tensors received.

    Args:
        name: the loss's name (defaults to the snake-cased class name).
        reduction: "sum_over_batch_size" (default), "sum", "mean", "mean_with_sample_weight",
            or "none"/None for the weighted per-sample values.
        dtype: the computation dtype; only float32 is supported.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        if dtype is not None and str(getattr(dtype, "name", dtype)) != "float32":
            raise ValueError(f"Loss `dtype` must be None or 'float32' (the only float type "
                             f"fastkeras computes in). Received: dtype={dtype!r}")
        self._dtype = "float32"

    @property
    def dtype(self):
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        in_mask = getattr(y_pred, "_keras_mask", None) if isinstance(y_pred, Tensor) else None
        prep = self._prepare(y_true, y_pred)
        return _reduce(prep, sample_weight, self.reduction, in_mask)

    def _prepare(self, y_true, y_pred) -> _Prepared:
        # Generic path for subclasses that only implement call().
        y_pred = _pred_tensor(y_pred)
        if not isinstance(y_true, Tensor):
            y_true = convert_to_tensor(y_true)
        return _from_values(self.call(y_true, y_pred))

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


def _reshape_tensor(x: Tensor, shape) -> Tensor:
    if x.value.shape == tuple(shape):
        return x
    old = x.value.shape
    return make_op(x.value.reshape(shape), (x,), lambda g, needs: (np.reshape(g, old),))


class LossFunctionWrapper(Loss):
    """Wraps a function `fn(y_true, y_pred, **kwargs)` returning per-sample values as a Loss."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def _prepare(self, y_true, y_pred):
        prepare = _PREPARERS.get(self.fn)
        if prepare is not None:
            return prepare(y_true, y_pred, **self._fn_kwargs)
        return _from_values(self.call(y_true, y_pred))

    def call(self, y_true, y_pred):
        prepare = _PREPARERS.get(self.fn)
        if prepare is not None:
            return prepare(y_true, y_pred, **self._fn_kwargs).values()
        y_true, y_pred = _same_rank(y_true, _pred_tensor(y_pred))
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config["fn"] = serialize(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


class _BuiltinLoss(LossFunctionWrapper):
    """A built-in loss class: its config is the base config plus its own arguments."""

    _params: tuple = ()

    def get_config(self):
        config = Loss.get_config(self)
        config.update({k: getattr(self, k) for k in self._params})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return Loss.__repr__(self)


class MeanSquaredError(_BuiltinLoss):
    """mean(square(y_true - y_pred)) per sample."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    """mean(abs(y_true - y_pred)) per sample."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(_BuiltinLoss):
    """100 * mean(abs((y_true - y_pred) / y_true)) per sample."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error",
                 dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, reduction=reduction,
                         dtype=dtype)


class MeanSquaredLogarithmicError(_BuiltinLoss):
    """mean(square(log(y_true + 1) - log(y_pred + 1))) per sample."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error",
                 dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, reduction=reduction,
                         dtype=dtype)


class CosineSimilarity(_BuiltinLoss):
    """-sum(l2_norm(y_true) * l2_norm(y_pred)) along `axis`."""

    _params = ("axis",)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype,
                         axis=axis)
        self.axis = axis



class Huber(_BuiltinLoss):
    """Quadratic for |error| <= delta, linear beyond; averaged per sample."""

    _params = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)
        self.delta = delta



class LogCosh(_BuiltinLoss):
    """mean(log(cosh(y_pred - y_true))) per sample."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, name=name, reduction=reduction, dtype=dtype)


class Hinge(_BuiltinLoss):
    """mean(maximum(1 - y_true * y_pred, 0)) per sample ({0, 1} labels become {-1, 1})."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(_BuiltinLoss):
    """mean(square(maximum(1 - y_true * y_pred, 0))) per sample."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(_BuiltinLoss):
    """maximum(neg - pos + 1, 0) with neg = max((1 - y_true) * y_pred), pos = sum(y_true *
    y_pred)."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, reduction=reduction, dtype=dtype)


class KLDivergence(_BuiltinLoss):
    """sum(y_true * log(y_true / y_pred)) per sample, both clipped to [epsilon, 1]."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)


class Poisson(_BuiltinLoss):
    """mean(y_pred - y_true * log(y_pred)) per sample."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(_BuiltinLoss):
    """Binary cross-entropy for 0/1 targets, from probabilities or (from_logits=True) logits."""

    _params = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class BinaryFocalCrossentropy(_BuiltinLoss):
    """Binary cross-entropy down-weighting easy examples by (1 - p_t) ** gamma."""

    _params = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha",
               "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):
        super().__init__(binary_focal_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma


class CategoricalCrossentropy(_BuiltinLoss):
    """Cross-entropy for one-hot (or soft) targets over `axis`."""

    _params = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(_BuiltinLoss):
    """Cross-entropy for integer class indices; `ignore_class` masks a label out."""

    _params = ("from_logits", "ignore_class")

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None, axis=-1):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def get_config(self):
        config = super().get_config()
        if self.axis != -1:
            config["axis"] = self.axis
        return config


# ----------------------------------------------------------------------------------------------
# Losses built from fastkeras.ops (their gradients come from the ops' tape records)
# ----------------------------------------------------------------------------------------------

def _ops():
    from fastkeras import ops  # late import: fastkeras.ops is heavier than this module
    return ops


def _float_pair(y_true, y_pred):
    """y_pred as a Tensor (gradients reach it) and y_true as a constant of its dtype."""
    p = _pred_tensor(y_pred)
    t = convert_to_tensor(np.asarray(_raw(y_true), dtype=p.value.dtype))
    return t, p


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """Categorical cross-entropy with each class term scaled by alpha * (1 - p) ** gamma.

    Probabilities are renormalised over `axis` and clipped to [epsilon, 1 - epsilon];
    `from_logits` applies a softmax over `axis` first; `label_smoothing` mixes the targets
    with a uniform distribution over the last axis."""
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")
    ops = _ops()
    t, p = _float_pair(y_true, y_pred)
    if tuple(t.shape) != tuple(p.shape):
        raise _incompatible("categorical_focal_crossentropy", t.shape, p.shape,
                            " categorical_focal_crossentropy expects one-hot targets of "
                            "y_pred's shape.")
    if p.ndim == 0:
        raise ValueError("categorical_focal_crossentropy: expected inputs of rank >= 1, "
                         "received scalars")
    _check_axis(axis, p.ndim, "categorical_focal_crossentropy")
    if p.shape[-1] == 1:
        warnings.warn(
            "In loss categorical_focal_crossentropy, expected y_pred.shape to be "
            f"(batch_size, num_classes) with num_classes > 1. Received: y_pred.shape="
            f"{tuple(p.shape)}. Consider using 'binary_crossentropy' if you only have 2 "
            "classes.", SyntaxWarning, stacklevel=2)
    ls = _check_label_smoothing(label_smoothing, "categorical_focal_crossentropy")
    if ls:
        t = t * (1.0 - ls) + ls / t.shape[-1]
    if from_logits:
        p = ops.softmax(p, axis=axis)
    eps = _epsilon()
    out = ops.clip(p / ops.sum(p, axis=axis, keepdims=True), eps, 1.0 - eps)
    ce = -t * ops.log(out)
    focal = ops.power(1.0 - out, gamma) * alpha * ce
    return ops.sum(focal, axis=axis)


def dice(y_true, y_pred, axis=None):
    """1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + epsilon), the sums over
    `axis` (everything when None, giving one value for the whole batch)."""
    ops = _ops()
    t, p = _float_pair(y_true, y_pred)
    inter = ops.sum(t * p, axis=axis)
    den = ops.sum(t, axis=axis) + ops.sum(p, axis=axis) + _epsilon()
    return 1.0 - 2.0 * inter / den


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - tp / (tp + alpha * fp + beta * fn + epsilon) with tp = sum(y_true * y_pred),
    fp = sum(y_true * (1 - y_pred)), fn = sum((1 - y_true) * y_pred) over `axis` (as Keras
    3 names them)."""
    ops = _ops()
    t, p = _float_pair(y_true, y_pred)
    tp = ops.sum(t * p, axis=axis)
    fp = ops.sum((1.0 - p) * t, axis=axis)
    fn = ops.sum(p * (1.0 - t), axis=axis)
    return 1.0 - tp / (tp + fp * alpha + fn * beta + _epsilon())


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True,
           gamma=80, margin=0.4):
    """Circle loss (Sun et al., 2020) of L2-normalised embeddings `y_pred` (batch, dim) with
    integer labels `y_true` (batch,), against `ref_embeddings` / `ref_labels` (default: the
    batch itself). Samples with a zero loss are masked out of the reduction."""
    ops = _ops()
    p = _pred_tensor(y_pred)
    labels = np.asarray(_raw(y_true)).astype(np.int32).reshape(-1)
    if p.ndim != 2:
        raise ValueError("circle: `y_pred` must be a 2-D batch of embeddings (batch, dim); "
                         f"received y_pred.shape={tuple(p.shape)}")
    if labels.shape[0] != p.shape[0]:
        raise ValueError(f"circle: `y_true` must hold one label per embedding; received "
                         f"{labels.shape[0]} labels for y_pred.shape={tuple(p.shape)}")
    ref = p if ref_embeddings is None else _pred_tensor(ref_embeddings)
    ref_lab = labels if ref_labels is None else np.asarray(_raw(ref_labels)).astype(
        np.int32).reshape(-1)
    pos = labels[:, None] == ref_lab[None, :]
    neg = ~pos
    if remove_diagonal:
        pos = pos & ~np.eye(labels.shape[0], ref_lab.shape[0], dtype=bool)
    dtype = p.value.dtype
    pos_f = convert_to_tensor(pos.astype(dtype))
    neg_f = convert_to_tensor(neg.astype(dtype))
    dist = ops.maximum(1.0 - ops.matmul(p, ops.transpose(ref)), 0.0)
    pos_w = ops.maximum((margin + dist) * pos_f, 0.0)
    neg_w = ops.maximum((1.0 + margin - dist) * neg_f, 0.0)
    pos_term = -1.0 * gamma * pos_w * (margin - dist)
    neg_term = gamma * neg_w * ((1.0 - margin) - dist)
    ninf = convert_to_tensor(np.full(pos.shape, -np.inf, dtype=dtype))
    p_loss = ops.logsumexp(ops.where(pos, pos_term, ninf), axis=1)
    n_loss = ops.logsumexp(ops.where(neg, neg_term, ninf), axis=1)
    out = ops.softplus(p_loss + n_loss)
    out._keras_mask = np.asarray(out.value > 0)
    return out


def ctc(y_true, y_pred):
    """CTC loss of integer labels `y_true` (batch_size, max_label_length), padded with the
    blank class 0 (each sample's label length is its number of non-zero entries), against
    unnormalised scores `y_pred` (batch_size, time, num_classes), every frame used."""
    t_shape = tuple(np.shape(_raw(y_true)))
    p_shape = tuple(np.shape(_raw(y_pred)))
    if len(t_shape) != 2:
        raise ValueError("ctc: `y_true` must be integer labels of shape (batch_size, "
                         f"max_length). Received: y_true.shape={t_shape}")
    if len(p_shape) != 3:
        raise ValueError("ctc: `y_pred` must be logits of shape (batch_size, max_length, "
                         f"num_classes). Received: y_pred.shape={p_shape}")
    labels = _raw(y_true)
    label_length = np.sum(labels != 0, axis=-1).astype(np.int32)
    frames = np.full((p_shape[0],), p_shape[1], dtype=np.int32)
    return _ops().ctc_loss(labels, _pred_tensor(y_pred), label_length, frames, mask_index=0)


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """Generalized cross-entropy (Zhang & Sabuncu, 2018) for integer labels:
    (1 - p_y ** q) / q, with p_y the predicted probability of the label."""
    ops = _ops()
    p = _pred_tensor(y_pred)
    labels = np.asarray(_raw(y_true)).astype(np.int64)
    n = p.shape[-1]
    if labels.shape != tuple(p.shape[:-1]):
        raise ValueError("categorical_generalized_cross_entropy: `y_true` must hold integer "
                         "class indices with the shape of `y_pred` minus its last axis; "
                         f"received y_true.shape={labels.shape}, y_pred.shape="
                         f"{tuple(p.shape)}")
    one_hot = np.zeros(tuple(p.shape), dtype=p.value.dtype)
    valid = (labels >= 0) & (labels < n)
    np.put_along_axis(one_hot, np.where(valid, labels, 0)[..., None],
                      valid[..., None].astype(one_hot.dtype), axis=-1)
    py = ops.sum(p * convert_to_tensor(one_hot), axis=-1)
    return (1.0 - ops.power(py, q)) / q


class CategoricalFocalCrossentropy(_BuiltinLoss):
    """Categorical cross-entropy down-weighting well-classified examples by
    alpha * (1 - p) ** gamma (see `categorical_focal_crossentropy`)."""

    _params = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy",
                 dtype=None):
        super().__init__(categorical_focal_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self.alpha = alpha
        self.gamma = gamma


class Dice(_BuiltinLoss):
    """Dice loss, 1 - 2 |y_true . y_pred| / (|y_true| + |y_pred|) (see `dice`)."""

    _params = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=axis)
        self.axis = axis


class Tversky(_BuiltinLoss):
    """Tversky loss, a Dice loss weighting the two kinds of error by `alpha` and `beta`
    (see `tversky`)."""

    _params = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky",
                 axis=None, dtype=None):
        super().__init__(tversky, name=name, reduction=reduction, dtype=dtype, alpha=alpha,
                         beta=beta, axis=axis)
        self.alpha = alpha
        self.beta = beta
        self.axis = axis


class Circle(_BuiltinLoss):
    """Circle loss of embeddings against their integer labels (see `circle`)."""

    _params = ("gamma", "margin", "remove_diagonal")

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True,
                 reduction="sum_over_batch_size", name="circle", dtype=None):
        super().__init__(circle, name=name, reduction=reduction, dtype=dtype, gamma=gamma,
                         margin=margin, remove_diagonal=remove_diagonal)
        self.gamma = gamma
        self.margin = margin
        self.remove_diagonal = remove_diagonal


class CTC(_BuiltinLoss):
    """CTC loss of blank-padded integer labels against per-frame logits (see `ctc`)."""

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, name=name, reduction=reduction, dtype=dtype)


class CategoricalGeneralizedCrossEntropy(_BuiltinLoss):
    """Generalized cross-entropy for integer labels, robust to label noise (see
    `categorical_generalized_cross_entropy`). `q` must be in (0, 1)."""

    _params = ("q",)

    def __init__(self, q=0.5, reduction="sum_over_batch_size",
                 name="categorical_generalized_cross_entropy", dtype=None):
        if not 0 < q < 1:
            raise ValueError(f"q must be in the interval (0, 1). Received: q={q}")
        super().__init__(categorical_generalized_cross_entropy, name=name,
                         reduction=reduction, dtype=dtype, q=q)
        self.q = q


# ----------------------------------------------------------------------------------------------
# Lookup and (de)serialization
# ----------------------------------------------------------------------------------------------

# Legacy / short aliases (Keras 3 keeps the upper-case and short names).
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
bce = BCE = binary_crossentropy
logcosh = log_cosh

_CLASSES = (
    Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge,
    CategoricalHinge, KLDivergence, Poisson, BinaryCrossentropy, BinaryFocalCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, CategoricalFocalCrossentropy, Dice,
    Tversky, Circle, CategoricalGeneralizedCrossEntropy, CTC,
)

ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({fn.__name__: fn for fn in _PREPARERS})
ALL_OBJECTS_DICT.update({fn.__name__: fn for fn in (
    categorical_focal_crossentropy, dice, tversky, circle, categorical_generalized_cross_entropy,
    ctc)})
ALL_OBJECTS_DICT.update({
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "kld": kl_divergence, "KLD": kl_divergence,
    "kullback_leibler_divergence": kl_divergence,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mse": mean_squared_error, "MSE": mean_squared_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "logcosh": log_cosh,
})


def serialize(loss):
    """A loss instance or function as a Keras-style config dict."""
    if loss is None:
        return None
    if isinstance(loss, Loss):
        return {"module": "keras.losses", "class_name": type(loss).__name__,
                "config": loss.get_config(), "registered_name": None}
    if inspect.isfunction(loss) or callable(loss):
        fn_name = getattr(loss, "__name__", None)
        if fn_name is None:
            raise ValueError(f"Cannot serialize loss {loss!r}: it has no __name__")
        return {"module": "keras.losses", "class_name": "function", "config": fn_name,
                "registered_name": "function"}
    raise ValueError(f"Cannot serialize {loss!r}: expected a Loss instance or a loss function")


def deserialize(name, custom_objects=None):
    """A loss instance or function from a name or a config dict made by `serialize`."""
    objects = dict(ALL_OBJECTS_DICT)
    if custom_objects:
        objects.update(custom_objects)
    if isinstance(name, str):
        obj = objects.get(name)
        if obj is None:
            raise ValueError(f"Could not interpret loss identifier: {name}")
        return obj
    if isinstance(name, dict):
        if "class_name" not in name:
            raise ValueError(f"Could not interpret loss identifier: {name} (a loss config "
                             "needs 'class_name' and 'config')")
        class_name = name["class_name"]
        config = name.get("config", {})
        if class_name == "function":
            fn_name = config if isinstance(config, str) else name.get("registered_name")
            obj = objects.get(fn_name)
            if obj is None:
                raise ValueError(f"Could not interpret loss identifier: {name} (unknown loss "
                                 f"function {fn_name!r})")
            return obj
        key = name.get("registered_name") or class_name
        cls = objects.get(key) or objects.get(class_name)
        if cls is None:
            raise ValueError(f"Could not interpret loss identifier: {name} (unknown loss class "
                             f"{class_name!r})")
        if not inspect.isclass(cls):
            return cls
        return cls.from_config(config or {})
    raise ValueError(f"Could not interpret loss identifier: {name}")


def get(identifier):
    """A loss from an identifier: None, a name (function or class), a config dict, a Loss
    class (instantiated with defaults), a Loss instance or any callable."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier, None)
    else:
        obj = identifier
    if callable(obj):
        if inspect.isclass(obj):
            obj = obj()
        return obj
    raise ValueError(f"Could not interpret loss identifier: {identifier}")


# Keras's positional order of the arguments.
positional_as_keras(SparseCategoricalCrossentropy, (
    "from_logits", "ignore_class", "reduction", "axis", "name", "dtype"))
