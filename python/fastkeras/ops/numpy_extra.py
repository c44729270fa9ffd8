"""More of Keras 3's `keras.ops`: array creation, elementwise math, reductions, shape and
indexing ops, attention and the cross-entropies, each with Keras's signature and, where the
op is differentiable, its gradient.

Dtypes follow Keras: ops that keep their input's values (shape ops, sort, amax...) keep its
dtype; float-valued ops give float32 for integer or boolean inputs and keep float inputs'
precision; integer reductions (prod, cumsum...) give int32; indices are int32.
"""

from __future__ import annotations

import builtins as _builtins
import math as _pymath

import numpy as np

from fastkeras.backend.config import epsilon as _epsilon
from fastkeras.backend.config import floatx as _floatx
from fastkeras.backend.config import np_dtype as _np_dtype
from fastkeras.backend.tape import Tensor, make_op
from fastkeras.ops import math as _m
from fastkeras.ops import nn as _nn
from fastkeras.ops.einsum import einsum as _einsum
from fastkeras.ops.math import _binary, _float, _t, _unary, unbroadcast

__all__ = [
    "all",
    "allclose",
    "amax",
    "amin",
    "any",
    "append",
    "arange",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "argsort",
    "array_split",
    "average",
    "binary_crossentropy",
    "broadcast_to",
    "categorical_crossentropy",
    "ceil",
    "copy",
    "cosh",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "diagonal",
    "dot_product_attention",
    "empty",
    "exp2",
    "eye",
    "flip",
    "floor",
    "floor_divide",
    "full",
    "full_like",
    "hypot",
    "identity",
    "isclose",
    "linspace",
    "log2",
    "log10",
    "log_sigmoid",
    "logaddexp",
    "logsumexp",
    "median",
    "mod",
    "moveaxis",
    "nan_to_num",
    "ndim",
    "norm",
    "normalize",
    "ones",
    "prod",
    "ravel",
    "reciprocal",
    "roll",
    "round",
    "rsqrt",
    "sinh",
    "size",
    "slice",
    "slice_update",
    "sort",
    "sparse_categorical_crossentropy",
    "split",
    "swapaxes",
    "take",
    "take_along_axis",
    "tan",
    "tile",
    "top_k",
    "trace",
    "tri",
    "tril",
    "triu",
    "trunc",
    "unique",
    "zeros",
]


# --------------------------------------------------------------------------------------------
# helpers

def _np(x) -> np.ndarray:
    return np.asarray(x.value if isinstance(x, Tensor) else x)


def _is_float(v: np.ndarray) -> bool:
    return v.dtype.kind in "fc"


def _keep(x: Tensor, out, backward):
    """An op whose output keeps x's dtype: recorded with `backward(g) -> grad` for floats."""
    out = np.asarray(out)
    if not _is_float(x.value):
        return Tensor(out)
    return make_op(out, (x,), lambda g, needs: (backward(np.asarray(g)),))


def _axis(axis: int, ndim: int, name="axis") -> int:
    if not -ndim <= axis < _builtins.max(ndim, 1):
        raise ValueError(f"Argument `{name}` is out of bounds for a tensor of rank {ndim}. "
                         f"Received: {name}={axis}")
    return axis % _builtins.max(ndim, 1)


def _axes_tuple(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    return tuple(sorted(_axis(int(a), ndim) for a in axis))


def _int_dtype(v: np.ndarray):
    """Keras's integer accumulation dtype: int32 for bool and narrower ints, else v's own."""
    if v.dtype.kind == "b" or (v.dtype.kind in "iu" and v.dtype.itemsize <= 4):
        return np.int32
    return v.dtype


def _cum_int_dtype(v: np.ndarray):
    """Keras's dtype for cumsum/cumprod of integers: their own (uint8 stays uint8, wrapping),
    int32 for bools."""
    return np.dtype(np.int32) if v.dtype.kind == "b" else v.dtype


# --------------------------------------------------------------------------------------------
# creation

def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in [start, stop) (from 0 to `start` when stop is None); int32 for
    integer arguments and float32 when any is a float, unless `dtype` is given."""
    given = [v for v in (start, stop, step) if v is not None]
    values = [_np(v) for v in given]
    if dtype is None:
        dtype = _floatx() if _builtins.any(v.dtype.kind == "f" for v in values) else "int32"
    args = [v.item() for v in values]
    if stop is None:
        out = np.arange(0, args[0], args[1] if step is not None else 1)
    else:
        out = np.arange(args[0], args[1], args[2] if step is not None else 1)
    return Tensor(out.astype(_np_dtype(dtype)))


def zeros(shape, dtype=None):
    return Tensor(np.zeros(shape, dtype=_np_dtype(dtype)))


def ones(shape, dtype=None):
    return Tensor(np.ones(shape, dtype=_np_dtype(dtype)))


def empty(shape, dtype=None):
    """A tensor of `shape` (filled with zeros here)."""
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None):
    return Tensor(np.array(np.broadcast_to(_np(fill_value), shape), dtype=_np_dtype(dtype)))


def full_like(x, fill_value, dtype=None):
    xv = _np(x)
    dt = xv.dtype if dtype is None else _np_dtype(dtype)
    if dt == np.float64 and not isinstance(x, Tensor):
        dt = np.dtype(np.float32)
    return Tensor(np.array(np.broadcast_to(_np(fill_value), xv.shape), dtype=dt))


def eye(N, M=None, k=0, dtype=None):
    return Tensor(np.eye(N, M, k=k, dtype=_np_dtype(dtype)))


def identity(n, dtype=None):
    return Tensor(np.eye(n, dtype=_np_dtype(dtype)))


def tri(N, M=None, k=0, dtype=None):
    return Tensor(np.tri(N, M, k=k, dtype=_np_dtype(dtype)))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """`num` evenly spaced values from start to stop (arrays of starts/stops give one sequence
    per element, laid out along `axis`)."""
    dt = _np_dtype(dtype)
    out, step = np.linspace(_np(start), _np(stop), num=num, endpoint=endpoint, retstep=True,
                            axis=axis)
    out = Tensor(out.astype(dt))
    if retstep:
        return out, Tensor(np.asarray(step).astype(dt))
    return out


def tril(x, k=0):
    """x with the elements above the k-th diagonal of its last two axes set to zero."""
    x = _t(x)
    return _keep(x, np.tril(x.value, k), lambda g: np.tril(g, k))


def triu(x, k=0):
    """x with the elements below the k-th diagonal of its last two axes set to zero."""
    x = _t(x)
    return _keep(x, np.triu(x.value, k), lambda g: np.triu(g, k))


# --------------------------------------------------------------------------------------------
# elementwise

def _zero_grad(g, a, o):
    return np.zeros_like(a)


def floor(x):
    return _unary(x, np.floor, _zero_grad)


def ceil(x):
    return _unary(x, np.ceil, _zero_grad)


def trunc(x):
    x = _t(x)
    if not _is_float(x.value):
        return Tensor(x.value.copy())
    return _unary(x, np.trunc, _zero_grad)


def round(x, decimals=0):
    """Rounds half to even, to `decimals` places (negative: to tens, hundreds...). Integer
    inputs stay integers."""
    x = _t(x)
    if not _is_float(x.value):
        return Tensor(np.round(x.value, decimals) if decimals < 0 else x.value.copy())
    return _unary(x, lambda a: np.round(a, decimals), _zero_grad)


def reciprocal(x):
    return _unary(x, np.reciprocal, lambda g, a, o: -g * o * o)


def _rsqrt(a):
    with np.errstate(divide="ignore"):
        return 1 / np.sqrt(a)


def rsqrt(x):
    return _unary(x, _rsqrt, lambda g, a, o: -0.5 * g * o / a)


def log2(x):
    return _unary(x, np.log2, lambda g, a, o: g / (a * np.log(2.0)))


def log10(x):
    return _unary(x, np.log10, lambda g, a, o: g / (a * np.log(10.0)))


def exp2(x):
    return _unary(x, np.exp2, lambda g, a, o: g * o * np.log(2.0))


def cosh(x):
    return _unary(x, np.cosh, lambda g, a, o: g * np.sinh(a))


def sinh(x):
    return _unary(x, np.sinh, lambda g, a, o: g * np.cosh(a))


def tan(x):
    return _unary(x, np.tan, lambda g, a, o: g * (1 + o * o))


def arctan(x):
    return _unary(x, np.arctan, lambda g, a, o: g / (1 + a * a))


def arcsin(x):
    return _unary(x, np.arcsin, lambda g, a, o: g / np.sqrt(1 - a * a))


def arccos(x):
    return _unary(x, np.arccos, lambda g, a, o: -g / np.sqrt(1 - a * a))


def arcsinh(x):
    return _unary(x, np.arcsinh, lambda g, a, o: g / np.sqrt(a * a + 1))


def arccosh(x):
    return _unary(x, np.arccosh, lambda g, a, o: g / np.sqrt(a * a - 1))


def arctanh(x):
    return _unary(x, np.arctanh, lambda g, a, o: g / (1 - a * a))


def log_sigmoid(x):
    """log(sigmoid(x)), computed without overflow for large |x|."""
    def fwd(a):
        return np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))

    def grad(g, a, o):
        return g * np.exp(-np.logaddexp(0, a))  # sigmoid(-x)

    return _unary(x, fwd, grad)


def arctan2(x1, x2):
    def gx(g, a, b, o):
        return g * b / (a * a + b * b)

    def gy(g, a, b, o):
        return -g * a / (a * a + b * b)

    return _binary(x1, x2, np.arctan2, gx, gy)


def hypot(x1, x2):
    return _binary(x1, x2, np.hypot, lambda g, a, b, o: g * a / o, lambda g, a, b, o: g * b / o)


def logaddexp(x1, x2):
    return _binary(x1, x2, np.logaddexp, lambda g, a, b, o: g * np.exp(a - o),
                   lambda g, a, b, o: g * np.exp(b - o))


def _integer_pair(x1, x2, bools=False):
    """The integer result dtype of x1 and x2 when both are integers (a Python int takes the
    other's dtype, as Keras's weak scalar typing does), else None. With `bools`, bools count
    as integers too, becoming int32 unless the other operand is an integer tensor."""
    a, b = _np(x1), _np(x2)
    kinds = "iub" if bools else "iu"
    if a.dtype.kind not in kinds or b.dtype.kind not in kinds:
        return None
    weak1, weak2 = type(x1) is int, type(x2) is int
    if weak1 and weak2:
        out = np.dtype(np.int32)
    elif weak1:
        out = b.dtype
    elif weak2:
        out = a.dtype
    else:
        out = np.result_type(a, b)
    return np.dtype(np.int32) if out.kind == "b" else out


def _integer_op(fn, x1, x2, dt):
    """fn on integer (or bool) x1 and x2, bools taken as the result dtype `dt`."""
    a, b = (v.astype(dt) if v.dtype.kind == "b" else v for v in (_np(x1), _np(x2)))
    return Tensor(np.asarray(fn(a, b)).astype(dt))


def mod(x1, x2):
    """The remainder of x1 / x2 with the divisor's sign (Python's `%`)."""
    dt = _integer_pair(x1, x2, bools=True)
    if dt is not None:
        return _integer_op(np.mod, x1, x2, dt)
    return _binary(x1, x2, np.mod, lambda g, a, b, o: g,
                   lambda g, a, b, o: -g * np.floor(a / b))


def floor_divide(x1, x2):
    dt = _integer_pair(x1, x2, bools=True)
    if dt is not None:
        return _integer_op(np.floor_divide, x1, x2, dt)
    return _binary(x1, x2, np.floor_divide, lambda g, a, b, o: np.zeros_like(g),
                   lambda g, a, b, o: np.zeros_like(g))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """x with NaN replaced by `nan` and infinities by `posinf`/`neginf` (the dtype's largest and
    smallest finite values by default)."""
    x = _t(x)
    v = x.value
    if not _is_float(v):
        return Tensor(v.copy())
    out = np.nan_to_num(v, nan=nan, posinf=posinf, neginf=neginf)
    finite = np.isfinite(v)
    return _keep(x, out, lambda g: np.where(finite, g, 0).astype(g.dtype))


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return Tensor(np.isclose(_np(x1), _np(x2), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return Tensor(np.asarray(np.allclose(_np(x1), _np(x2), rtol=rtol, atol=atol,
                                         equal_nan=equal_nan)))


# --------------------------------------------------------------------------------------------
# reductions

def all(x, axis=None, keepdims=False):
    return Tensor(np.asarray(np.all(_np(x), axis=_tuple_or(axis), keepdims=keepdims)))


def any(x, axis=None, keepdims=False):
    return Tensor(np.asarray(np.any(_np(x), axis=_tuple_or(axis), keepdims=keepdims)))


def _tuple_or(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def count_nonzero(x, axis=None):
    return Tensor(np.asarray(np.count_nonzero(_np(x), axis=_tuple_or(axis)), dtype=np.int32))


def _extreme_keep(x, axis, keepdims, fn):
    x = _t(x)
    if _is_float(x.value):
        return _m._extreme(x, _tuple_or(axis), keepdims, fn)
    return Tensor(np.asarray(fn(x.value, axis=_tuple_or(axis), keepdims=keepdims)))


def amax(x, axis=None, keepdims=False):
    return _extreme_keep(x, axis, keepdims, np.max)


def amin(x, axis=None, keepdims=False):
    return _extreme_keep(x, axis, keepdims, np.min)


def _to_last(v: np.ndarray, axes: tuple) -> np.ndarray:
    """v with `axes` moved to the end and merged into one."""
    rest = [i for i in range(v.ndim) if i not in axes]
    moved = np.transpose(v, rest + list(axes))
    return moved.reshape(moved.shape[:len(rest)] + (-1,))


def _from_last(flat: np.ndarray, shape: tuple, axes: tuple) -> np.ndarray:
    rest = [i for i in range(len(shape)) if i not in axes]
    moved = flat.reshape(tuple(shape[i] for i in rest) + tuple(shape[i] for i in axes))
    return np.transpose(moved, np.argsort(rest + list(axes)))


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def prod(x, axis=None, keepdims=False, dtype=None):
    """The product of x's elements over `axis` (all of them when None)."""
    x = _t(x)
    if dtype is not None:
        x = _m.cast(x, dtype)
    v = x.value
    axes = _axes_tuple(_tuple_or(axis), v.ndim)
    if not _is_float(v):
        return Tensor(np.asarray(np.prod(v, axis=axes, keepdims=keepdims), dtype=_int_dtype(v)))
    out = np.asarray(np.prod(v, axis=axes, keepdims=keepdims))

    def backward(g):
        # The product of all the other elements, exact when some are zero.
        flat = _to_last(v, axes)
        ones = np.ones(flat.shape[:-1] + (1,), v.dtype)
        before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        gk = np.reshape(g, _reduced_shape(v.shape, axes, False))[..., None]
        return _from_last(before * after * gk, v.shape, axes)

    return _keep(x, out, backward)


def _cum_setup(x, axis, dtype):
    x = _t(x)
    if dtype is not None:
        x = _m.cast(x, dtype)
    v = x.value
    if axis is None:
        return x, v.reshape(-1), 0
    return x, v, _axis(axis, v.ndim)


def cumsum(x, axis=None, dtype=None):
    """Running sums along `axis` (over the flattened x when None)."""
    x, v, ax = _cum_setup(x, axis, dtype)
    if not _is_float(v):
        return Tensor(np.cumsum(v, axis=ax, dtype=_cum_int_dtype(v)))
    out = np.cumsum(v, axis=ax)

    def backward(g):
        g = np.flip(np.cumsum(np.flip(g, ax), axis=ax), ax)
        return np.ascontiguousarray(g).reshape(x.value.shape)

    return _keep(x, out, backward)


def cumprod(x, axis=None, dtype=None):
    """Running products along `axis` (over the flattened x when None)."""
    x, v, ax = _cum_setup(x, axis, dtype)
    if not _is_float(v):
        return Tensor(np.cumprod(v, axis=ax, dtype=_cum_int_dtype(v)))
    out = np.cumprod(v, axis=ax)

    def backward(g):
        if np.all(v != 0):
            grad = np.flip(np.cumsum(np.flip(g * out, ax), axis=ax), ax) / v
        else:
            # d out_j / d v_i = prod_{k <= j, k != i} v_k: exact with zeros, O(n^2) per row.
            vm, gm = np.moveaxis(v, ax, -1), np.moveaxis(g, ax, -1)
            n = vm.shape[-1]
            grad_m = np.zeros_like(vm)
            for i in range(n):
                others = vm.copy()
                others[..., i] = 1
                partial = np.cumprod(others, axis=-1)
                grad_m[..., i] = np.sum(gm[..., i:] * partial[..., i:], axis=-1)
            grad = np.moveaxis(grad_m, -1, ax)
        return np.ascontiguousarray(grad).reshape(x.value.shape)

    return _keep(x, out, backward)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over `axis`, computed without overflow."""
    x = _t(x)
    v = _float(x)
    axes = _axes_tuple(_tuple_or(axis), v.ndim)
    m = np.max(v, axis=axes, keepdims=True) if v.size else np.zeros((1,) * v.ndim, v.dtype)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        full = np.log(np.sum(np.exp(v - m), axis=axes, keepdims=True)) + m
    out = full if keepdims else full.reshape(_reduced_shape(v.shape, axes, False))

    def backward(g, needs):
        gk = np.reshape(g, full.shape)
        return (gk * np.exp(v - full),)

    return make_op(np.asarray(out, dtype=v.dtype), (x,), backward)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norms as numpy's `linalg.norm`: `axis` an int (or a rank-1 x) gives
    vector norms, a pair of axes (or a rank-2 x with `ord` given) matrix norms."""
    x = _t(x)
    v = _float(x)
    if not isinstance(x, Tensor) or x.value.dtype != v.dtype:
        x = _m.cast(x, v.dtype)
    if axis is None:
        if ord is None:
            flat = _m.reshape(x, (-1,))
            out = _m.sqrt(_m.sum(_m.square(flat)))
            return _m.reshape(out, (1,) * v.ndim) if keepdims else out
        if v.ndim == 1:
            axes = (0,)
        elif v.ndim == 2:
            axes = (0, 1)
        else:
            raise ValueError("Improper number of dimensions to norm: give `axis` for a "
                             f"rank-{v.ndim} tensor with ord={ord!r}.")
    elif isinstance(axis, (int, np.integer)):
        axes = (_axis(int(axis), v.ndim),)
    else:
        axes = tuple(_axis(int(a), v.ndim) for a in axis)
    if len(axes) == 1:
        out = _vector_norm(x, ord, axes[0])
        return _m.expand_dims(out, axes[0]) if keepdims else out
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError(f"Improper `axis` for norm: give one axis or two different ones. "
                         f"Received: axis={axis!r}")
    out = _matrix_norm(x, ord, axes)
    if keepdims:
        for a in sorted(axes):
            out = _m.expand_dims(out, a)
    return out


def _vector_norm(x, ord, ax):
    if ord is None or ord == 2:
        return _m.sqrt(_m.sum(_m.square(x), axis=ax))
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order {ord!r} for vectors.")
    if ord == np.inf:
        return _m.max(_m.abs(x), axis=ax)
    if ord == -np.inf:
        return _m.min(_m.abs(x), axis=ax)
    if ord == 0:
        v = x.value
        return Tensor(np.sum(v != 0, axis=ax).astype(v.dtype))
    if ord == 1:
        return _m.sum(_m.abs(x), axis=ax)
    p = float(ord)
    return _m.power(_m.sum(_m.power(_m.abs(x), p), axis=ax), 1.0 / p)


def _matrix_norm(x, ord, axes):
    a0, a1 = axes
    if ord is None or ord == "fro":
        return _m.sqrt(_m.sum(_m.square(x), axis=axes))
    if ord in (1, -1, np.inf, -np.inf):
        # max/min over one axis of the abs-sums over the other
        summed_axis = a0 if ord in (1, -1) else a1
        other = a1 if ord in (1, -1) else a0
        sums = _m.sum(_m.abs(x), axis=summed_axis)
        other_after = other - (1 if other > summed_axis else 0)
        return (_m.max if ord > 0 else _m.min)(sums, axis=other_after)
    if ord in (2, -2, "nuc"):
        return _singular_norm(x, ord, axes)
    raise ValueError(f"Invalid norm order {ord!r} for matrices.")


def _singular_norm(x, ord, axes):
    v = x.value
    rest = [i for i in range(v.ndim) if i not in axes]
    perm = rest + list(axes)
    mats = np.transpose(v, perm)
    u, s, vh = np.linalg.svd(mats, full_matrices=False)
    if ord == "nuc":
        out = s.sum(axis=-1)
        dmat = u @ vh
    else:
        pick = 0 if ord == 2 else -1
        out = s[..., pick]
        dmat = u[..., :, pick:pick + 1 or None] @ vh[..., pick:pick + 1 or None, :]

    def backward(g, needs):
        grad = np.asarray(g)[..., None, None] * dmat
        return (np.transpose(grad, np.argsort(perm)).astype(v.dtype),)

    return make_op(np.asarray(out, dtype=v.dtype), (x,), backward)


def average(x, axis=None, weights=None):
    """The (weighted) mean over `axis`; 1-D weights with an axis weight that axis."""
    x = _t(x)
    if not _is_float(x.value):
        x = _m.cast(x, _floatx())
    if weights is None:
        return _m.mean(x, axis=axis)
    w = _t(weights)
    if not _is_float(w.value):
        w = _m.cast(w, _floatx())
    if axis is not None and w.value.ndim == 1 and x.value.ndim > 1:
        ax = _axis(axis, x.value.ndim)
        if w.value.shape[0] != x.value.shape[ax]:
            raise ValueError("Length of `weights` must match the size of x along `axis`. "
                             f"Received: weights.shape={w.value.shape}, x.shape={x.value.shape}")
        shape = [1] * x.value.ndim
        shape[ax] = -1
        w = _m.reshape(w, shape)
        return _m.divide(_m.sum(_m.multiply(x, w), axis=axis), _m.sum(w))
    total = _m.sum(_m.multiply(w, _m.ones_like(x)), axis=axis)
    return _m.divide(_m.sum(_m.multiply(x, w), axis=axis), total)


def median(x, axis=None, keepdims=False):
    """The median over `axis` (all axes when None): the mean of the two middle values for an
    even count."""
    x = _t(x)
    if not _is_float(x.value):
        x = _m.cast(x, _floatx())
    v = x.value
    axes = _axes_tuple(_tuple_or(axis), v.ndim)
    rest = [i for i in range(v.ndim) if i not in axes]
    flat = _m.reshape(_m.transpose(x, rest + list(axes)),
                      tuple(v.shape[i] for i in rest) + (-1,))
    n = flat.value.shape[-1]
    order = np.argsort(flat.value, axis=-1, kind="stable")
    mid = order[..., [(n - 1) // 2, n // 2]]
    out = _m.mean(take_along_axis(flat, mid, axis=-1), axis=-1)
    if keepdims:
        out = _m.reshape(out, _reduced_shape(v.shape, axes, True))
    return out


# --------------------------------------------------------------------------------------------
# shape and indexing

def tile(x, repeats):
    """x repeated `repeats` times along each axis (numpy's `tile`)."""
    x = _t(x)
    v = x.value
    reps = tuple(int(r) for r in np.atleast_1d(_np(repeats)))
    out = np.tile(v, reps)
    d = _builtins.max(v.ndim, len(reps))
    shape = (1,) * (d - v.ndim) + v.shape
    reps_full = (1,) * (d - len(reps)) + reps

    def backward(g):
        inter = []
        for r, n in zip(reps_full, shape):
            inter += [r, n]
        summed = np.reshape(g, inter).sum(axis=tuple(range(0, 2 * d, 2)))
        return summed.reshape(v.shape)

    return _keep(x, out, backward)


def _piece(x: Tensor, index) -> Tensor:
    """x[index] for a basic (slice) index, as a copy, with its gradient."""
    v = x.value
    out = np.array(v[index], copy=True)

    def backward(g):
        full = np.zeros(v.shape, g.dtype)
        full[index] = g
        return full

    return _keep(x, out, backward)


def _split(x, indices_or_sections, axis, equal):
    x = _t(x)
    v = x.value
    ax = _axis(axis, v.ndim)
    n = v.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"Number of sections must be larger than 0. "
                             f"Received: indices_or_sections={indices_or_sections}")
        if equal and n % k:
            raise ValueError(f"array split does not result in an equal division: {n} elements "
                             f"along axis {axis} into {k} sections")
        base, extra = divmod(n, k)
        sizes = [base + 1] * extra + [base] * (k - extra)
        bounds = np.cumsum([0] + sizes)
    else:
        bounds = [0] + [int(i) for i in _np(indices_or_sections).reshape(-1)] + [n]
    pieces = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        lo = _builtins.min(_builtins.max(int(lo), 0), n)
        hi = _builtins.min(_builtins.max(int(hi), lo), n)
        index = (np.s_[:],) * ax + (np.s_[lo:hi],)
        pieces.append(_piece(x, index))
    return pieces


def split(x, indices_or_sections, axis=0):
    """x cut along `axis` into equal sections (an int) or at the given indices (a list)."""
    return _split(x, indices_or_sections, axis, equal=True)


def array_split(x, indices_or_sections, axis=0):
    """Like `split`, but an int number of sections need not divide the axis evenly: the first
    sections are one longer."""
    return _split(x, indices_or_sections, axis, equal=False)


def broadcast_to(x, shape):
    x = _t(x)
    shape = tuple(int(s) for s in shape)
    out = np.array(np.broadcast_to(x.value, shape))
    return _keep(x, out, lambda g: unbroadcast(g, x.value.shape))


def flip(x, axis=None):
    x = _t(x)
    ax = _tuple_or(axis)
    return _keep(x, np.flip(x.value, ax).copy(), lambda g: np.flip(g, ax).copy())


def roll(x, shift, axis=None):
    x = _t(x)
    ax = _tuple_or(axis)
    sh = tuple(shift) if isinstance(shift, list) else shift
    neg = tuple(-s for s in sh) if isinstance(sh, tuple) else -sh
    return _keep(x, np.roll(x.value, sh, ax), lambda g: np.roll(g, neg, ax))


def swapaxes(x, axis1, axis2):
    x = _t(x)
    return _keep(x, np.swapaxes(x.value, axis1, axis2).copy(),
                 lambda g: np.swapaxes(g, axis1, axis2))


def moveaxis(x, source, destination):
    x = _t(x)
    src, dst = _tuple_or(source), _tuple_or(destination)
    return _keep(x, np.moveaxis(x.value, src, dst).copy(), lambda g: np.moveaxis(g, dst, src))


def _indices(indices) -> np.ndarray:
    idx = _np(indices)
    if idx.dtype.kind not in "iu":
        idx = idx.astype(np.int64)
    return idx


def take(x, indices, axis=None):
    """Elements of x at `indices` along `axis` (of the flattened x when None); negative
    indices count from the end."""
    x = _t(x)
    v = x.value
    idx = _indices(indices)
    src = v.reshape(-1) if axis is None else v
    ax = 0 if axis is None else _axis(axis, v.ndim)
    out = np.take(src, idx, axis=ax)

    def backward(g):
        acc = np.zeros(src.shape, g.dtype)
        moved = np.moveaxis(acc, ax, 0)  # a view: adding into it fills acc
        gm = np.moveaxis(g, tuple(range(ax, ax + idx.ndim)), tuple(range(idx.ndim)))
        np.add.at(moved, idx, gm)
        return acc.reshape(v.shape)

    return _keep(x, out, backward)


def take_along_axis(x, indices, axis=None):
    """x's elements picked by `indices` along `axis` (over the flattened x when None); the
    other axes of x and indices broadcast."""
    x = _t(x)
    v = x.value
    idx = _indices(indices)
    if axis is None:
        src, idx = v.reshape(-1), idx.reshape(-1)
        ax = 0
    else:
        src = v
        ax = _axis(axis, v.ndim)
        if idx.ndim != v.ndim:
            raise ValueError(f"`indices` must have the same rank as x ({v.ndim}). "
                             f"Received: indices.shape={idx.shape}")
    xs, js = list(src.shape), list(idx.shape)
    xs[ax] = js[ax] = 1
    common = np.broadcast_shapes(tuple(xs), tuple(js))
    src_shape = common[:ax] + (src.shape[ax],) + common[ax + 1:]
    idx = np.broadcast_to(idx, common[:ax] + (idx.shape[ax],) + common[ax + 1:])
    grid = list(np.ogrid[tuple(np.s_[:n] for n in idx.shape)])
    grid[ax] = idx
    grid = tuple(grid)
    out = np.broadcast_to(src, src_shape)[grid]

    def backward(g):
        acc = np.zeros(src_shape, g.dtype)
        np.add.at(acc, grid, g)
        return unbroadcast(acc, src.shape).reshape(v.shape)

    return _keep(x, out, backward)


def _starts(start_indices, shape, limits):
    starts = [int(s) for s in _np(start_indices).reshape(-1)]
    if len(starts) != len(limits):
        raise ValueError(f"`start_indices` must give one start per axis ({len(limits)}). "
                         f"Received: start_indices={start_indices!r}")
    # Clamped so the block fits, as XLA's dynamic slices are.
    return [_builtins.min(_builtins.max(s, 0), n - k) for s, n, k in zip(starts, limits, shape)]


def slice(inputs, start_indices, shape):
    """The block of `inputs` of size `shape` starting at `start_indices`."""
    x = _t(inputs)
    v = x.value
    shape = tuple(int(s) for s in _np(shape).reshape(-1))
    starts = _starts(start_indices, shape, v.shape)
    index = tuple(np.s_[s:s + k] for s, k in zip(starts, shape))
    return _piece(x, index)


def slice_update(inputs, start_indices, updates):
    """`inputs` with the block at `start_indices` replaced by `updates`."""
    x, u = _t(inputs), _t(updates)
    v = x.value
    uv = u.value.astype(v.dtype, copy=False)
    starts = _starts(start_indices, uv.shape, v.shape)
    index = tuple(np.s_[s:s + k] for s, k in zip(starts, uv.shape))
    out = v.copy()
    out[index] = uv
    if not _is_float(v):
        return Tensor(out)

    def backward(g, needs):
        gx = gu = None
        if needs[0]:
            gx = np.array(g, copy=True)
            gx[index] = 0
        if needs[1]:
            gu = np.array(g[index], dtype=u.value.dtype if _is_float(u.value) else g.dtype)
        return gx, gu

    return make_op(out, (x, u), backward)


def append(x1, x2, axis=None):
    """x2 appended to x1 along `axis` (both flattened when None)."""
    a, b = _t(x1), _t(x2)
    av, bv = a.value, b.value
    dt = np.result_type(av, bv)
    if axis is None:
        parts = [av.reshape(-1), bv.reshape(-1)]
        ax = 0
    else:
        parts = [av, bv]
        ax = _axis(axis, av.ndim)
    out = np.concatenate(parts, axis=ax).astype(dt)
    if not _is_float(out):
        return Tensor(out)
    n = parts[0].shape[ax]

    def backward(g, needs):
        ga, gb = np.split(g, [n], axis=ax)
        return ga.reshape(av.shape), gb.reshape(bv.shape)

    return make_op(out, (a, b), backward)


def _diag_index(shape, offset, axis1, axis2):
    n1, n2 = shape[axis1], shape[axis2]
    r0, c0 = _builtins.max(-offset, 0), _builtins.max(offset, 0)
    length = _builtins.max(0, _builtins.min(n1 - r0, n2 - c0))
    return np.arange(length) + r0, np.arange(length) + c0


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The `offset` diagonal of the matrices spanned by axis1 and axis2, as x's last axis."""
    x = _t(x)
    v = x.value
    a1, a2 = _axis(axis1, v.ndim, "axis1"), _axis(axis2, v.ndim, "axis2")
    out = np.diagonal(v, offset, a1, a2).copy()
    rows, cols = _diag_index(v.shape, offset, a1, a2)

    def backward(g):
        acc = np.zeros(v.shape, g.dtype)
        np.moveaxis(acc, (a1, a2), (-2, -1))[..., rows, cols] = g
        return acc

    return _keep(x, out, backward)


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the `offset` diagonal of the matrices spanned by axis1 and axis2."""
    x = _t(x)
    if not _is_float(x.value):
        v = x.value
        return Tensor(np.asarray(np.trace(v, offset, axis1, axis2), dtype=_int_dtype(v)))
    return _m.sum(diagonal(x, offset, axis1, axis2), axis=-1)


def ravel(x):
    x = _t(x)
    return _keep(x, x.value.reshape(-1).copy(), lambda g: np.reshape(g, x.value.shape))


def copy(x):
    x = _t(x)
    return _keep(x, x.value.copy(), lambda g: g)


def size(x):
    """The number of elements of x (an int32 scalar tensor)."""
    return Tensor(np.asarray(_np(x).size, dtype=np.int32))


def ndim(x):
    """The rank of x (a Python int)."""
    return _np(x).ndim


def argsort(x, axis=-1):
    """The indices that sort x along `axis` (flattened when None), ties in index order."""
    v = _np(x)
    if axis is None:
        v, axis = v.reshape(-1), -1
    return Tensor(np.argsort(v, axis=axis, kind="stable").astype(np.int32))


def sort(x, axis=-1):
    """x sorted along `axis` (flattened when None)."""
    x = _t(x)
    if axis is None:
        x, axis = ravel(x), -1
    order = np.argsort(x.value, axis=axis, kind="stable")
    return take_along_axis(x, order, axis=axis)


def top_k(x, k, sorted=True):
    """The k largest values along the last axis and their int32 indices, largest first (ties:
    the lower index first)."""
    x = _t(x)
    v = x.value
    n = v.shape[-1]
    if not 0 <= int(k) <= n:
        raise ValueError(f"`k` must be between 0 and the size of the last axis ({n}). "
                         f"Received: k={k}")
    key = -v.astype(np.float64) if v.dtype.kind != "b" else ~v
    order = np.argsort(key, axis=-1, kind="stable")[..., :int(k)]
    return take_along_axis(x, order, axis=-1), Tensor(order.astype(np.int32))


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False,
           axis=None, size=None, fill_value=None):
    """The distinct values of x (sorted), optionally with the first index of each, the inverse
    mapping and the counts. `size` pads or truncates the results to that length (`fill_value`,
    else the smallest value, pads the values; 0 pads the index and counts)."""
    v = _np(x)
    res = np.unique(v, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    values, index, inverse, counts = res
    if axis is None:
        inverse = inverse.reshape(v.shape)
    if size is not None:
        length = values.shape[0 if axis is None else axis]
        if length >= size:
            values = np.take(values, np.arange(size), axis=0 if axis is None else axis)
            index, counts = index[:size], counts[:size]
        else:
            fill = values.min() if fill_value is None and values.size else (fill_value or 0)
            pad = [(0, 0)] * values.ndim
            pad[0 if axis is None else axis] = (0, size - length)
            values = np.pad(values, pad, constant_values=fill)
            index = np.pad(index, (0, size - length))
            counts = np.pad(counts, (0, size - length))
    out = [Tensor(values)]
    if return_index:
        out.append(Tensor(index.astype(np.int32)))
    if return_inverse:
        out.append(Tensor(inverse.astype(np.int32)))
    if return_counts:
        out.append(Tensor(counts.astype(np.int32)))
    return out[0] if len(out) == 1 else tuple(out)


# --------------------------------------------------------------------------------------------
# nn

def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """softmax(query . key * scale + bias, masked) . value for (batch, seq, heads, head_dim)
    inputs. key/value may have fewer heads than query, a divisor of its number (grouped-query
    attention). mask (boolean, True = attend) and bias broadcast to (batch, heads, query seq,
    key seq); is_causal lets query position t attend to key positions <= t."""
    if flash_attention:
        raise ValueError("Flash attention is not supported by fastkeras (CPU only). "
                         f"Received: flash_attention={flash_attention!r}")
    if attn_logits_soft_cap is not None:
        raise ValueError("attn_logits_soft_cap is only supported for JAX on TPU. "
                         "Set attn_logits_soft_cap=None.")
    q, k, v = _t(query), _t(key), _t(value)
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.value.ndim != 4:
            raise ValueError(f"`dot_product_attention` only supports 4D inputs (batch, seq, "
                             f"heads, head_dim). Received: {name}.shape={t.value.shape}")
    dt = np.result_type(_float(q), _float(k), _float(v))
    q, k, v = (t if t.value.dtype == dt else _m.cast(t, dt) for t in (q, k, v))
    n_heads, kv_heads = q.value.shape[2], k.value.shape[2]
    if kv_heads != n_heads:
        if kv_heads == 0 or n_heads % kv_heads:
            raise ValueError(f"The number of query heads ({n_heads}) must be a multiple of the "
                             f"number of key/value heads ({kv_heads}).")
        from fastkeras.ops.normalization import repeat as _repeat
        k = _repeat(k, n_heads // kv_heads, axis=2)
        v = _repeat(v, n_heads // kv_heads, axis=2)
    head_dim = k.value.shape[-1]
    if scale is None:
        scale = 1.0 / _pymath.sqrt(head_dim)
    logits = _m.multiply(_einsum("btnh,bsnh->bnts", q, k), Tensor(np.asarray(scale, dt)))
    if bias is not None:
        b = _t(bias)
        logits = _m.add(logits, b if b.value.dtype == dt else _m.cast(b, dt))
    keep = None
    if mask is not None:
        keep = np.broadcast_to(_np(mask).astype(bool), logits.value.shape)
    if is_causal:
        t_len, s_len = logits.value.shape[2:]
        causal = np.tril(np.ones((t_len, s_len), bool))
        keep = causal if keep is None else keep & causal
    if keep is not None:
        large_negative = Tensor(np.asarray(-0.7 * np.finfo(dt).max, dt))
        logits = _m.where(keep, logits, large_negative)
    probs = _nn.softmax(logits, axis=-1)
    return _einsum("bnts,bsnh->btnh", probs, v)


def _same_shape(target, output):
    if target.value.shape != output.value.shape:
        raise ValueError("Arguments `target` and `output` must have the same shape. "
                         f"Received: target.shape={target.value.shape}, "
                         f"output.shape={output.value.shape}")


def _as_float(x, like=None):
    t = _t(x)
    if _is_float(t.value):
        return t
    return _m.cast(t, like.value.dtype if like is not None else _floatx())


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy of probabilities (or logits) `output` against
    `target`."""
    output = _as_float(output)
    target = _as_float(target, output)
    _same_shape(target, output)
    if from_logits:
        # max(z, 0) - z * t + log(1 + exp(-|z|))
        return _m.add(_m.subtract(_nn.relu(output), _m.multiply(output, target)),
                      _m.negative(log_sigmoid(_m.abs(output))))
    eps = _epsilon()
    out = _m.clip(output, eps, 1.0 - eps)
    return _m.negative(_m.add(_m.multiply(target, _m.log(out)),
                              _m.multiply(_m.subtract(1.0, target),
                                          _m.log(_m.subtract(1.0, out)))))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy between one-hot (or soft) `target` and the probabilities (or logits)
    `output`, summed over the class `axis`."""
    output = _as_float(output)
    target = _as_float(target, output)
    _same_shape(target, output)
    if output.value.ndim < 1:
        raise ValueError(f"Argument `output` must be at least rank 1. "
                         f"Received: output.shape={output.value.shape}")
    if from_logits:
        log_prob = _nn.log_softmax(output, axis=axis)
    else:
        eps = _epsilon()
        probs = _m.divide(output, _m.sum(output, axis=axis, keepdims=True))
        log_prob = _m.log(_m.clip(probs, eps, 1.0 - eps))
    return _m.negative(_m.sum(_m.multiply(target, log_prob), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy between integer class `target` and the probabilities (or logits)
    `output`, whose class axis is `axis`."""
    output = _as_float(output)
    idx = _np(target).astype(np.int64)
    nd = output.value.ndim
    if nd < 1:
        raise ValueError(f"Argument `output` must be at least rank 1. "
                         f"Received: output.shape={output.value.shape}")
    ax = _axis(axis, nd)
    if idx.ndim == nd and idx.shape[ax] == 1:
        idx = np.squeeze(idx, axis=ax)
    expected = output.value.shape[:ax] + output.value.shape[ax + 1:]
    if idx.shape != expected:
        raise ValueError("Arguments `target` and `output` must have the same shape up until "
                         f"the class dimension: target.shape={idx.shape}, "
                         f"output.shape={output.value.shape}")
    if from_logits:
        log_prob = _nn.log_softmax(output, axis=ax)
    else:
        eps = _epsilon()
        probs = _m.divide(output, _m.sum(output, axis=ax, keepdims=True))
        log_prob = _m.log(_m.clip(probs, eps, 1.0 - eps))
    picked = take_along_axis(log_prob, np.expand_dims(idx, ax), axis=ax)
    return _m.negative(_m.squeeze(picked, axis=ax))


def normalize(x, axis=-1, order=2, epsilon=None):
    """x divided by its `order`-norm along `axis` (at least `epsilon`)."""
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"Argument `order` must be an int >= 1. Received: order={order}")
    x = _as_float(x)
    if x.value.ndim == 0:
        x = _m.expand_dims(x, 0)
    eps = _epsilon() if epsilon is None else epsilon
    if order == 2:
        inv = rsqrt(_m.sum(_m.square(x), axis=axis, keepdims=True))
        return _m.multiply(x, _m.minimum(inv, 1.0 / eps))
    return _m.divide(x, _m.maximum(norm(x, ord=order, axis=axis, keepdims=True), eps))
