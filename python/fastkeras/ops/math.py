"""Elementwise, reduction and shape ops with their gradients."""

from __future__ import annotations

import numpy as np

from fastkeras.backend.config import np_dtype as _np_dtype
from fastkeras.backend.tape import Tensor, make_op
from fastkeras.backend.tape import convert_to_tensor as _convert_to_tensor

__all__ = [
    "abs",
    "absolute",
    "add",
    "argmax",
    "argmin",
    "cast",
    "clip",
    "concatenate",
    "convert_to_numpy",
    "convert_to_tensor",
    "cos",
    "divide",
    "dot",
    "equal",
    "erf",
    "exp",
    "expand_dims",
    "expm1",
    "flatten",
    "getitem",
    "greater",
    "greater_equal",
    "isfinite",
    "isinf",
    "isnan",
    "less",
    "less_equal",
    "log",
    "log1p",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "multiply",
    "negative",
    "not_equal",
    "ones_like",
    "power",
    "reshape",
    "shape",
    "sign",
    "sin",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "subtract",
    "sum",
    "transpose",
    "true_divide",
    "var",
    "where",
    "zeros_like",
]


def _t(x) -> Tensor:
    return _convert_to_tensor(x)


def _float(x: Tensor) -> np.ndarray:
    v = x.value
    return v if v.dtype.kind == "f" else v.astype(np.float32)


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None) -> Tensor:
    """`x` as a Tensor (Tensors pass through), cast to `dtype` when one is given."""
    if sparse or ragged:
        raise ValueError("fastkeras.ops.convert_to_tensor: sparse and ragged tensors are not "
                         f"supported. Received: sparse={sparse!r}, ragged={ragged!r}")
    if dtype is not None and dtype != "string":
        dtype = _np_dtype(dtype)
    t = _convert_to_tensor(x, dtype)
    if dtype is not None and t.value.dtype != np.dtype(dtype):
        return cast(t, dtype)
    return t


def _view(x) -> np.ndarray:
    """x's values as a numpy array, without copying (for reading only)."""
    return np.asarray(x.value if isinstance(x, Tensor) else x)


def convert_to_numpy(x) -> np.ndarray:
    """x's values as a new numpy array: as in Keras, a copy, so later changes to a variable
    (assign, training) do not show through it."""
    from fastkeras.layers.input_layer import KerasTensor
    if isinstance(x, KerasTensor):  # as Keras: a symbolic tensor has no values
        raise ValueError("A KerasTensor is symbolic: it's a placeholder for a shape and a "
                         "dtype. It doesn't have any actual numerical value. You cannot "
                         "convert it to a NumPy array.")
    return np.array(_view(x))


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sums grad over the axes broadcasting added, so it matches an input of `shape`."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _integer_binary(x_arg, y_arg, x, y, fn, narrow):
    """fn on two integer/bool operands in the integer dtype Keras gives: int32 with int32
    stays int32, a Python int takes the tensor's width (int32 with a bool tensor), int32 with
    int64 gives int64 (int32 with `narrow`, Keras's result_type); None when a Python float
    makes the result float."""
    def operand(arg, t):
        return arg if isinstance(arg, (bool, int, float)) else t.value
    a, b = operand(x_arg, x), operand(y_arg, y)
    out_dtype = np.result_type(a, b)
    if out_dtype.kind not in "iub":
        return None
    weak_int = any(isinstance(v, int) and not isinstance(v, bool) for v in (a, b))
    if narrow or (weak_int and out_dtype.kind == "i" and out_dtype.itemsize == 8 and
                  all(np.asarray(v).dtype.kind == "b" for v in (a, b)
                      if isinstance(v, np.ndarray))):
        from fastkeras.backend.config import result_type
        out_dtype = np.dtype(result_type(*(int if isinstance(v, int) and not isinstance(
            v, bool) else str(np.asarray(v).dtype) for v in (a, b))))
    out = np.asarray(fn(x.value.astype(out_dtype, copy=False),
                        y.value.astype(out_dtype, copy=False)))
    return Tensor(out.astype(out_dtype, copy=False))


def _binary(x, y, fn, grad_x, grad_y, keep_integers=False, narrow=False):
    x_arg, y_arg = x, y
    x, y = _t(x), _t(y)
    if keep_integers and x.value.dtype.kind != "f" and y.value.dtype.kind != "f":
        out = _integer_binary(x_arg, y_arg, x, y, fn, narrow)
        if out is not None:
            return out
    xv, yv = _float(x), _float(y)
    out = np.asarray(fn(xv, yv), dtype=np.result_type(xv, yv, np.float32))

    def backward(g, needs):
        gx = unbroadcast(grad_x(g, xv, yv, out), xv.shape) if needs[0] else None
        gy = unbroadcast(grad_y(g, xv, yv, out), yv.shape) if needs[1] else None
        return gx, gy

    return make_op(out, (x, y), backward)


def _integer_unary(x: Tensor, fn, bool_dtype=None):
    """fn on an integer or bool tensor in its own dtype, as Keras keeps it (no gradient flows
    through integers); bools become `bool_dtype` first when given (Keras's int32 for square,
    clip and sum). None for floating x."""
    v = x.value
    if v.dtype.kind not in "iub":
        return None
    if v.dtype.kind == "b" and bool_dtype is not None:
        v = v.astype(bool_dtype)
    return Tensor(np.asarray(fn(v)).astype(v.dtype, copy=False))


def _unary(x, fn, grad, keep_integers=False, bool_dtype=None):
    x = _t(x)
    if keep_integers:
        out = _integer_unary(x, fn, bool_dtype)
        if out is not None:
            return out
    xv = _float(x)
    out = np.asarray(fn(xv))

    def backward(g, needs):
        return (grad(g, xv, out),)

    return make_op(out, (x,), backward)


def add(x1, x2):
    return _binary(x1, x2, np.add, lambda g, a, b, o: g, lambda g, a, b, o: g,
                   keep_integers=True)


def subtract(x1, x2):
    return _binary(x1, x2, np.subtract, lambda g, a, b, o: g, lambda g, a, b, o: -g,
                   keep_integers=True)


def multiply(x1, x2):
    return _binary(x1, x2, np.multiply, lambda g, a, b, o: g * b, lambda g, a, b, o: g * a,
                   keep_integers=True)


def _quiet(fn):
    """fn without numpy's warnings for 0/0, x/0 and log(0): as in Keras, the result is simply
    nan or inf."""
    def run(*args):
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(*args)
    return run


_quiet_divide = _quiet(np.divide)
_quiet_log = _quiet(np.log)


def divide(x1, x2):
    return _binary(x1, x2, _quiet_divide, _quiet(lambda g, a, b, o: g / b),
                   _quiet(lambda g, a, b, o: -g * a / (b * b)))


def true_divide(x1, x2):
    return divide(x1, x2)


def _power(a, b):
    """np.power, with Keras's results for integers to negative integer powers (which numpy
    refuses): 1 and -1 keep their powers, every other base gives 0."""
    if a.dtype.kind not in "iu" or b.dtype.kind not in "iu" or not np.any(b < 0):
        return np.power(a, b)
    negative = b < 0
    out = np.power(a, np.where(negative, 0, b).astype(b.dtype))
    inverse = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 != 0, -1, 1), 0))
    return np.where(negative, inverse, out).astype(out.dtype)


def power(x1, x2):
    def gy(g, a, b, o):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * o * np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0)
    return _binary(x1, x2, _power, lambda g, a, b, o: g * b * np.power(a, b - 1), gy,
                   keep_integers=True)


def _select(mask, g):
    """g where mask holds, else 0 (a zero even where g is infinite)."""
    return np.where(mask, g, np.zeros((), np.result_type(g)))


def maximum(x1, x2):
    # gradients selected, not multiplied by a mask: an infinite gradient passes to one side
    # and 0 (not NaN) to the other, as Keras's backends give
    return _binary(x1, x2, np.maximum, lambda g, a, b, o: _select(a >= b, g),
                   lambda g, a, b, o: _select(a < b, g), keep_integers=True, narrow=True)


def minimum(x1, x2):
    return _binary(x1, x2, np.minimum, lambda g, a, b, o: _select(a <= b, g),
                   lambda g, a, b, o: _select(a > b, g), keep_integers=True, narrow=True)


def negative(x):
    return _unary(x, np.negative, lambda g, a, o: -g, keep_integers=True)


def exp(x):
    return _unary(x, np.exp, lambda g, a, o: g * o)


def expm1(x):
    return _unary(x, np.expm1, lambda g, a, o: g * (o + 1))


def log(x):
    return _unary(x, _quiet_log, _quiet(lambda g, a, o: g / a))


def log1p(x):
    return _unary(x, np.log1p, lambda g, a, o: g / (1 + a))


def sqrt(x):
    return _unary(x, np.sqrt, lambda g, a, o: g * 0.5 / o)


def square(x):
    return _unary(x, np.square, lambda g, a, o: g * 2 * a, keep_integers=True,
                  bool_dtype=np.int32)


def abs(x):
    return _unary(x, np.abs, lambda g, a, o: g * np.sign(a), keep_integers=True)


def absolute(x):
    return abs(x)


def sign(x):
    return _unary(x, lambda a: a if a.dtype == bool else np.sign(a),
                  lambda g, a, o: np.zeros_like(g), keep_integers=True)


def cos(x):
    return _unary(x, np.cos, lambda g, a, o: -g * np.sin(a))


def sin(x):
    return _unary(x, np.sin, lambda g, a, o: g * np.cos(a))


def erf(x):
    from math import erf as _erf
    verf = np.vectorize(_erf, otypes=[np.float64])
    return _unary(x, lambda a: verf(a).astype(a.dtype),
                  lambda g, a, o: g * (2 / np.sqrt(np.pi)) * np.exp(-a * a))


# Comparisons and logic give boolean tensors, which carry no gradient (as in Keras).
def _boolean(fn, *xs) -> Tensor:
    return Tensor(np.asarray(fn(*(_view(x) for x in xs)), dtype=bool))


def equal(x1, x2):
    return _boolean(np.equal, x1, x2)


def not_equal(x1, x2):
    return _boolean(np.not_equal, x1, x2)


def greater(x1, x2):
    return _boolean(np.greater, x1, x2)


def greater_equal(x1, x2):
    return _boolean(np.greater_equal, x1, x2)


def less(x1, x2):
    return _boolean(np.less, x1, x2)


def less_equal(x1, x2):
    return _boolean(np.less_equal, x1, x2)


def logical_and(x1, x2):
    return _boolean(np.logical_and, x1, x2)


def logical_or(x1, x2):
    return _boolean(np.logical_or, x1, x2)


def logical_xor(x1, x2):
    return _boolean(np.logical_xor, x1, x2)


def logical_not(x):
    return _boolean(np.logical_not, x)


def isnan(x):
    return _boolean(np.isnan, x)


def isinf(x):
    return _boolean(np.isinf, x)


def isfinite(x):
    return _boolean(np.isfinite, x)


def clip(x, x_min, x_max):
    return _unary(x, lambda a: np.clip(a, x_min, x_max),
                  lambda g, a, o: _select((a >= x_min) & (a <= x_max), g), keep_integers=True,
                  bool_dtype=np.int32)


def cast(x, dtype):
    x = _t(x)
    dtype = _np_dtype(dtype)
    out = x.value.astype(dtype)
    if np.dtype(dtype).kind != "f":
        return Tensor(out)
    return make_op(out, (x,), lambda g, needs: (g.astype(x.value.dtype),))


def integer_product_dtype(*values, int8_widens=True):
    """The dtype Keras gives a product (matmul, dot, einsum, conv) of integer or bool arrays:
    int32 for int8 operands alone (with `int8_widens`), else their promoted dtype (Keras's
    result_type: 64-bit integers narrow to 32). None when any operand is not an integer or
    bool."""
    if any(v.dtype.kind not in "iub" for v in values):
        return None
    names = {v.dtype.name for v in values}
    if int8_widens and names == {"int8"}:
        return np.dtype(np.int32)
    from fastkeras.backend.config import result_type
    return np.dtype(result_type(*names))


def integer_product(fn, values, dtype):
    """fn (a product) on integer/bool arrays, exact in int64 and then cast to `dtype` (wrapping
    as a `dtype` accumulator would; nonzero for bool)."""
    out = np.asarray(fn(*(v.astype(np.int64) for v in values)))
    return Tensor(out != 0 if dtype.kind == "b" else out.astype(dtype))


def matmul(x1, x2):
    x, y = _t(x1), _t(x2)
    return _matmul(x, y, int8_widens=True)


def dot(x1, x2):
    """A matrix product as `matmul`; with a scalar operand, the elementwise product (Keras's
    `dot`). Integer operands keep their promoted dtype (int8 stays int8)."""
    x, y = _t(x1), _t(x2)
    if x.value.ndim == 0 or y.value.ndim == 0:
        return multiply(x, y)
    return _matmul(x, y, int8_widens=False)


def _matmul(x, y, int8_widens):
    dt = integer_product_dtype(x.value, y.value, int8_widens=int8_widens)
    if dt is not None:
        return integer_product(np.matmul, (x.value, y.value), dt)
    xv, yv = _float(x), _float(y)
    out = np.matmul(xv, yv)

    def backward(g, needs):
        gx = gy = None
        if needs[0]:
            gx = np.matmul(g, np.swapaxes(yv, -1, -2)) if yv.ndim > 1 else np.multiply.outer(g, yv)
            gx = unbroadcast(gx, xv.shape)
        if needs[1]:
            if yv.ndim == 1 and xv.ndim > 1:
                gy = xv.reshape(-1, xv.shape[-1]).T @ np.asarray(g).reshape(-1)
            elif xv.ndim > 1:
                gy = unbroadcast(np.matmul(np.swapaxes(xv, -1, -2), g), yv.shape)
            else:
                gy = np.multiply.outer(xv, g)
        return gx, gy

    return make_op(out, (x, y), backward)


def _axis_arg(axis):
    """A reduction's axis as numpy takes it: a list of axes (`axis=[1, 2, 3]`) as a tuple."""
    return tuple(axis) if isinstance(axis, list) else axis


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim for a in axis)


def _expand_back(g, shape, axis, keepdims):
    if keepdims or axis is None and np.ndim(g) == 0:
        return np.broadcast_to(g, shape) if keepdims or np.ndim(g) == 0 else g
    axes = _axes(axis, len(shape))
    return np.broadcast_to(np.expand_dims(g, axes), shape)


def sum(x, axis=None, keepdims=False):
    x, axis = _t(x), _axis_arg(axis)
    if x.value.dtype.kind in "iub":  # Keras: int32 for narrower ints and bools
        v = x.value
        dt = v.dtype if v.dtype.kind != "b" and v.dtype.itemsize >= 4 else np.dtype(np.int32)
        return Tensor(np.asarray(np.sum(v, axis=axis, keepdims=keepdims, dtype=dt)))
    xv = _float(x)
    out = np.asarray(np.sum(xv, axis=axis, keepdims=keepdims), dtype=xv.dtype)
    return make_op(out, (x,), lambda g, needs: (
        np.array(_expand_back(g, xv.shape, axis, keepdims), dtype=xv.dtype),))


def mean(x, axis=None, keepdims=False):
    x, axis = _t(x), _axis_arg(axis)
    xv = _float(x)
    out = np.asarray(np.mean(xv, axis=axis, keepdims=keepdims), dtype=xv.dtype)
    count = xv.size // (out.size or 1) if xv.size else 1  # `max` here is this module's op
    return make_op(out, (x,), lambda g, needs: (
        np.array(_expand_back(g, xv.shape, axis, keepdims), dtype=xv.dtype) / count,))


def var(x, axis=None, keepdims=False):
    m = mean(x, axis=axis, keepdims=True)
    return mean(square(subtract(x, m)), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def _extreme(x, axis, keepdims, fn):
    x, axis = _t(x), _axis_arg(axis)
    if x.value.dtype.kind in "iub":
        return Tensor(np.asarray(fn(x.value, axis=axis, keepdims=keepdims)))
    xv = _float(x)
    out = np.asarray(fn(xv, axis=axis, keepdims=keepdims))

    def backward(g, needs):
        full = fn(xv, axis=axis, keepdims=True)
        mask = (xv == full).astype(xv.dtype)
        mask /= mask.sum(axis=axis, keepdims=True)  # ties share the gradient
        gk = g if keepdims else (np.expand_dims(g, _axes(axis, xv.ndim)) if axis is not None else g)
        return (mask * gk,)

    return make_op(out, (x,), backward)


def _empty_extreme(x, axis, keepdims, initial, fn):
    """fn of an empty x: `initial` over the reduced shape, in x's dtype (None when x is not
    empty or there is no initial)."""
    v = _view(x)
    if initial is None or v.size:
        return None
    return Tensor(np.asarray(fn(v, axis=_axis_arg(axis), keepdims=keepdims, initial=initial)))


def max(x, axis=None, keepdims=False, initial=None):
    empty = _empty_extreme(x, axis, keepdims, initial, np.max)
    if empty is not None:
        return empty
    out = _extreme(x, axis, keepdims, np.max)
    return out if initial is None else maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):
    empty = _empty_extreme(x, axis, keepdims, initial, np.min)
    if empty is not None:
        return empty
    out = _extreme(x, axis, keepdims, np.min)
    return out if initial is None else minimum(out, initial)


def argmax(x, axis=None, keepdims=False):  # int32 indices, as Keras gives
    return Tensor(np.argmax(_view(x), axis=axis, keepdims=keepdims).astype(np.int32))


def argmin(x, axis=None, keepdims=False):
    return Tensor(np.argmin(_view(x), axis=axis, keepdims=keepdims).astype(np.int32))


def where(condition, x1=None, x2=None):
    """x1 where condition holds, else x2; with neither, the indices where it holds (a tuple of
    integer tensors, one per axis), as Keras."""
    cond = np.asarray(_view(condition), dtype=bool)
    if x1 is None and x2 is None:
        return tuple(Tensor(i) for i in np.nonzero(cond))
    if x1 is None or x2 is None:
        raise ValueError("`x1` and `x2` either both should be `None` or both should have non-None "
                         f"value. Received: x1={x1!r}, x2={x2!r}")
    return _binary(x1, x2, lambda a, b: np.where(cond, a, b),
                   lambda g, a, b, o: np.where(cond, g, 0), lambda g, a, b, o: np.where(cond, 0, g),
                   keep_integers=True)


def reshape(x, newshape):
    x = _t(x)
    out = x.value.reshape(newshape)
    return make_op(out, (x,), lambda g, needs: (g.reshape(x.value.shape),))


def flatten(x):
    return reshape(x, (-1,))


def transpose(x, axes=None):
    x = _t(x)
    if axes is not None:
        axes = tuple(a % x.value.ndim for a in axes)
    out = np.transpose(x.value, axes)
    inverse = None if axes is None else np.argsort(axes)
    return make_op(out, (x,), lambda g, needs: (np.transpose(g, inverse),))


def expand_dims(x, axis):
    x = _t(x)
    return make_op(np.expand_dims(x.value, axis), (x,), lambda g, needs: (g.reshape(x.value.shape),))


def squeeze(x, axis=None):
    x = _t(x)
    return make_op(np.squeeze(x.value, axis), (x,), lambda g, needs: (g.reshape(x.value.shape),))


def _integer_values(ts):
    """The values of integer/bool tensors in their common dtype (None if any is floating):
    joining them keeps an integer dtype, as in Keras."""
    if not ts or any(t.value.dtype.kind not in "iub" for t in ts):
        return None
    dt = np.result_type(*(t.value.dtype for t in ts))
    return [t.value.astype(dt, copy=False) for t in ts]


def concatenate(xs, axis=0):
    ts = [_t(x) for x in xs]
    ints = _integer_values(ts)
    if ints is not None:
        return Tensor(np.concatenate(ints, axis=axis))
    vals = [_float(t) for t in ts]
    out = np.concatenate(vals, axis=axis)
    bounds = np.cumsum([v.shape[axis] for v in vals])[:-1]

    def backward(g, needs):
        return tuple(np.split(g, bounds, axis=axis))

    return make_op(out, ts, backward)


def stack(x, axis=0):
    ts = [_t(v) for v in x]
    ints = _integer_values(ts)
    if ints is not None:
        return Tensor(np.stack(ints, axis=axis))
    out = np.stack([_float(t) for t in ts], axis=axis)

    def backward(g, needs):
        return tuple(np.take(g, i, axis=axis) for i in range(len(ts)))

    return make_op(out, ts, backward)


def getitem(x, index):
    x = _t(x)
    if isinstance(index, Tensor):
        index = index.value
    out = x.value[index]

    def backward(g, needs):
        full = np.zeros_like(x.value, dtype=x.value.dtype if x.value.dtype.kind == "f"
                             else np.float32)
        np.add.at(full, index, g)
        return (full,)

    return make_op(np.array(out) if np.ndim(out) == 0 else out, (x,), backward)


def shape(x):
    return tuple(_view(x).shape)


def zeros_like(x, dtype=None):
    return Tensor(np.zeros_like(_view(x), dtype=None if dtype is None else _np_dtype(dtype)))


def ones_like(x, dtype=None):
    return Tensor(np.ones_like(_view(x), dtype=None if dtype is None else _np_dtype(dtype)))
