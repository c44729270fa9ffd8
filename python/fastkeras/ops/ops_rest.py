"""The last of Keras 3's `keras.ops`: CTC decoding (greedy and beam search), RMS
normalization, PSNR, complex helpers (`polar`, `angle`, `view_as_complex`, `view_as_real`),
pairwise distances, NaN-aware extrema and quantiles, `nextafter`, `i0`, einops-style
`rearrange`, `fold` / `unfold` (col2im / im2col), bit views, `get_item`, `vectorize` and the
`custom_gradient` decorator.

Each op has Keras's signature and dtype rules (float-valued ops give float32 for integer or
boolean inputs and keep float64 precision; ops on two tensors promote as Keras does). A complex
tensor here is a tensor holding a complex numpy array; gradients flowing to or from one follow
the convention of ops/fft.py: the cotangent of z is dL/dRe(z) + i dL/dIm(z).
"""

from __future__ import annotations

import functools
import inspect
import re

import numpy as np

from fastkeras.backend.config import epsilon as _epsilon
from fastkeras.backend.config import floatx as _floatx
from fastkeras.backend.config import standardize_dtype as _standardize_dtype
from fastkeras.backend.tape import Tensor, make_op, no_grad
from fastkeras.ops import math as _m
from fastkeras.ops import numpy_extra as _x
from fastkeras.ops.math import _t, unbroadcast
from fastkeras.ops.numpy_extra import _np
from fastkeras.ops.numpy_more import (
    _METHODS,
    _as,
    _as_float,
    _const,
    _flat_axes,
    _float_dtype,
    _promote,
    _tuple_or,
)
from fastkeras.ops.numpy_more import array as _array

__all__ = [
    "angle",
    "cdist",
    "ctc_decode",
    "custom_gradient",
    "fmax",
    "fmin",
    "fold",
    "get_item",
    "i0",
    "nanpercentile",
    "nanquantile",
    "nextafter",
    "polar",
    "psnr",
    "rearrange",
    "rms_normalization",
    "unfold",
    "vectorize",
    "view",
    "view_as_complex",
    "view_as_real",
]

# Ops that stay plain functions on symbolic tensors: decorators and function transforms, and
# ops that build their graph nodes from other ops (rearrange: reshape/transpose; get_item:
# the `getitem` node).
NOT_SYMBOLIC = ("custom_gradient", "vectorize", "rearrange", "get_item")

# op name -> (Keras module suffix, Keras class name, config argument names[, keyword call
# arguments]) for the ops recorded as Functional-graph nodes (see ops/symbolic.py).
GRAPH_SPECS = {
    "ctc_decode": ("nn", "CTCDecode", ("strategy", "beam_width", "top_paths",
                                       "merge_repeated", "mask_index")),
    "rms_normalization": ("nn", "RMSNorm", ("axis", "epsilon"), ("scale",)),
    "psnr": ("nn", "PSNR", ("max_val",)),
    "polar": ("nn", "Polar", ()),
    "fold": ("nn", "Fold", ("output_size", "kernel_size", "dilation", "padding", "stride")),
    "unfold": ("nn", "Unfold", ("kernel_size", "dilation", "padding", "stride")),
    "angle": ("numpy", "Angle", ()),
    "fmax": ("numpy", "Fmax", ()),
    "fmin": ("numpy", "Fmin", ()),
    "nextafter": ("numpy", "Nextafter", ()),
    "i0": ("numpy", "I0", ()),
    "nanquantile": ("numpy", "Nanquantile", ("axis", "method", "keepdims")),
    "nanpercentile": ("numpy", "Nanpercentile", ("axis", "method", "keepdims")),
    "view": ("numpy", "View", ("dtype",)),
    "cdist": ("math", "CDist", ()),
    "view_as_complex": ("math", "ViewAsComplex", ()),
    "view_as_real": ("math", "ViewAsReal", ()),
}


# --------------------------------------------------------------------------------------------
# helpers

def _complex_of(dt) -> np.dtype:
    return np.dtype(np.complex128 if np.dtype(dt) == np.float64 else np.complex64)


def _real_of(dt) -> np.dtype:
    dt = np.dtype(dt)
    if dt.kind == "c":
        return np.dtype(np.float64 if dt == np.complex128 else np.float32)
    return dt


def _grad_for(parent: Tensor, g):
    """g shaped and typed for `parent` (None for parents that cannot take a gradient)."""
    v = parent.value
    if v.dtype.kind not in "fc":
        return None
    g = np.asarray(g)
    if v.dtype.kind == "f" and g.dtype.kind == "c":
        g = g.real
    return unbroadcast(g, v.shape).astype(v.dtype, copy=False)


def _tensor(x) -> Tensor:
    """x as a tensor, Python numbers and lists taking Keras's int32 / float32."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        return Tensor(np.asarray(x))
    return _array(x)


# --------------------------------------------------------------------------------------------
# CTC decoding

def _ctc_greedy(x, lengths, merge_repeated, blank):
    batch, time, _ = x.shape
    indices = np.argmax(x, axis=-1).astype(np.int32)
    scores = np.max(x, axis=-1)
    beyond = np.arange(time)[None, :] >= lengths[:, None]
    indices = np.where(beyond, blank, indices)
    scores = np.where(beyond, np.zeros((), x.dtype), scores)
    if merge_repeated and time:
        repeat = np.concatenate([np.zeros((batch, 1), bool),
                                 indices[:, 1:] == indices[:, :-1]], axis=1)
        indices = np.where(repeat, blank, indices)
    invalid = indices == blank
    indices = np.where(invalid, -1, indices).astype(np.int32)
    # the kept labels first, in order; the blanks (-1) after them
    order = np.argsort(np.where(invalid, time, np.arange(time)[None, :]), axis=-1, kind="stable")
    indices = np.take_along_axis(indices, order, axis=-1)
    scores = -np.sum(scores, axis=1, dtype=x.dtype)[:, None]
    return indices[None], scores.astype(x.dtype)


def _log_softmax(x):
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _unique_rows(paths, size, pad):
    """The distinct rows of paths (sorted), padded with `pad` rows to `size`, and each row's
    index among them."""
    unique, inverse = np.unique(paths, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    if unique.shape[0] < size:
        fill = np.full((size - unique.shape[0], paths.shape[1]), pad, paths.dtype)
        unique = np.concatenate([unique, fill], axis=0)
    return unique, inverse


def _merge_scores(inverse, scores, n):
    """log(sum(exp(scores))) within each group of `inverse`."""
    top = np.max(scores)
    top = top if np.isfinite(top) else np.zeros((), scores.dtype)
    out = np.zeros(n, scores.dtype)
    np.add.at(out, inverse, np.exp(scores - top))
    with np.errstate(divide="ignore"):
        return (np.log(out) + top).astype(scores.dtype)


def _beam_extend(paths, scores, masked, x, classes, blank, pad):
    paths = np.repeat(paths, classes, axis=0)
    scores = np.repeat(scores, classes)
    masked = np.repeat(masked, classes)
    rows = np.arange(paths.shape[0])
    tail_index = np.argmax(paths == pad, axis=1)
    tails = np.where(tail_index == 0, pad, paths[rows, tail_index - 1])
    labels = np.arange(classes, dtype=paths.dtype)
    labels[blank] = pad
    labels = np.tile(labels, paths.shape[0] // classes)
    new_masked = labels == pad
    repeated = ~masked & (tails == labels)
    paths[rows, tail_index] = np.where(repeated, pad, labels)
    scores = scores + np.tile(x, paths.shape[0] // classes)
    return paths, scores, new_masked


def _beam_prune(paths, scores, masked, classes, beam_width, pad):
    unique, inverse = _unique_rows(paths, 2 * classes * beam_width, pad)
    n = unique.shape[0]
    neg = np.array(-np.inf, scores.dtype)
    emit = _merge_scores(inverse, np.where(masked, neg, scores), n)
    blank = _merge_scores(inverse, np.where(masked, scores, neg), n)
    total = np.logaddexp(emit, blank)
    top = np.argsort(total, kind="stable")[-beam_width:]
    paths = np.concatenate([unique[top], unique[top]], axis=0)
    scores = np.concatenate([emit[top], blank[top]])
    masked = np.concatenate([np.zeros(len(top), bool), np.ones(len(top), bool)])
    return paths, scores, masked


def _ctc_beam_search(x, lengths, beam_width, top_paths, blank):
    batch, time, classes = x.shape
    pad = -1
    logp = _log_softmax(x)[:, :, ::-1]  # classes reversed: ties break as Keras's do
    blank = classes - blank - 1
    n_init = min(classes, beam_width)
    all_paths, all_scores = [], []
    with np.errstate(invalid="ignore", over="ignore"):
        for b in range(batch):
            xb = logp[b]
            paths = np.full((2 * beam_width, time), pad, np.int32)
            scores = np.full(2 * beam_width, -np.inf, x.dtype)
            if time:
                best = np.argsort(xb[0], kind="stable")[-n_init:]
                paths[:n_init, 0] = np.where(best == blank, pad, best)
                scores[:n_init] = xb[0, best]
            masked = paths[:, 0] == pad if time else np.ones(2 * beam_width, bool)
            for t in range(1, int(lengths[b])):
                paths, scores, masked = _beam_extend(paths, scores, masked, xb[t], classes,
                                                     blank, pad)
                paths, scores, masked = _beam_prune(paths, scores, masked, classes,
                                                    beam_width, pad)
            unique, inverse = _unique_rows(paths, 2 * classes * beam_width, pad)
            merged = _merge_scores(inverse, scores, unique.shape[0])
            top = np.argsort(merged, kind="stable")[-top_paths:][::-1]
            all_paths.append(unique[top])
            all_scores.append(merged[top])
    paths = np.stack(all_paths)
    paths = np.where(paths == pad, pad, classes - paths - 1).astype(np.int32)
    return np.transpose(paths, (1, 0, 2)), np.stack(all_scores).astype(x.dtype)


def _positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"Argument `{name}` must be an integer >= {minimum}. "
                         f"Received: {name}={value!r}")
    return int(value)


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """Decodes the per-frame class scores of a CTC model into label sequences.

    Args:
        inputs: (batch_size, max_length, num_classes) unnormalised scores (logits).
        sequence_lengths: (batch_size,) number of valid frames of each sample.
        strategy: "greedy" (best class per frame) or "beam_search".
        beam_width: number of prefixes kept per step of the beam search.
        top_paths: number of decoded sequences returned per sample (beam search).
        merge_repeated: whether greedy decoding merges repeated labels.
        mask_index: the blank class (None: the last class).

    Returns:
        (decoded, scores): decoded int32 labels of shape (1, batch_size, max_length) for
        greedy decoding or (top_paths, batch_size, max_length) for beam search, each sequence
        left-aligned and padded with -1; scores of shape (batch_size, 1) (minus the sum of
        the best score per frame) or (batch_size, top_paths) (log-probabilities).
    """
    x = _np(inputs)
    if x.ndim != 3:
        raise ValueError("ctc_decode: `inputs` must have shape (batch_size, max_length, "
                         f"num_classes). Received: inputs.shape={x.shape}")
    batch, time, classes = x.shape
    if x.dtype.kind not in "fiub":
        raise TypeError(f"ctc_decode: `inputs` must be numeric. Received: inputs.dtype="
                        f"{x.dtype}")
    x = x.astype(_float_dtype(x))
    lengths = _np(sequence_lengths)
    if lengths.shape != (batch,) or lengths.dtype.kind not in "iuf":
        raise ValueError(f"ctc_decode: `sequence_lengths` must be a ({batch},) integer tensor "
                         f"(one length per sample). Received: sequence_lengths={lengths!r}")
    if np.any(lengths < 0):
        raise ValueError("ctc_decode: `sequence_lengths` must not be negative. Received: "
                         f"sequence_lengths={lengths!r}")
    lengths = np.minimum(lengths.astype(np.int64), time)
    if mask_index is None:
        mask_index = classes - 1
    if isinstance(mask_index, bool) or not isinstance(mask_index, (int, np.integer)) \
            or not 0 <= mask_index < classes:
        raise ValueError(f"ctc_decode: `mask_index` must be an integer in [0, {classes}) "
                         f"(num_classes = {classes}). Received: mask_index={mask_index!r}")
    if strategy == "greedy":
        paths, scores = _ctc_greedy(x, lengths, bool(merge_repeated), int(mask_index))
    elif strategy == "beam_search":
        beam_width = _positive_int("beam_width", beam_width)
        top_paths = _positive_int("top_paths", top_paths)
        if top_paths > 2 * classes * beam_width:
            raise ValueError(f"ctc_decode: `top_paths` must be at most 2 * num_classes * "
                             f"beam_width = {2 * classes * beam_width}. Received: "
                             f"top_paths={top_paths}")
        paths, scores = _ctc_beam_search(x, lengths, beam_width, top_paths, int(mask_index))
    else:
        raise ValueError("ctc_decode: `strategy` must be 'greedy' or 'beam_search'. "
                         f"Received: strategy={strategy!r}")
    return Tensor(paths), Tensor(scores)


# --------------------------------------------------------------------------------------------
# normalization and image quality

def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """x * rsqrt(mean(square(x), axis) + epsilon) * scale, computed in at least float32 and
    returned in x's dtype. `epsilon` defaults to the backend epsilon."""
    x = _t(x)
    original = x.value.dtype
    eps = _epsilon() if epsilon is None else epsilon
    dt = _float_dtype(x) if original.kind == "f" and original.itemsize >= 4 \
        else np.dtype("float32")
    xf = _as(x, dt)
    if xf.value.ndim == 0:
        xf = _m.reshape(xf, (1,))
    axes = _x._axes_tuple(_tuple_or(axis), xf.value.ndim)
    ms = _m.mean(_m.square(xf), axis=axes, keepdims=True)
    out = _m.multiply(xf, _x.rsqrt(_m.add(ms, _const(eps, dt))))
    if scale is not None:
        out = _m.multiply(out, _as(scale, dt))
    return out if out.value.dtype == original else _m.cast(out, original)


def psnr(x1, x2, max_val):
    """The peak signal-to-noise ratio 20 log10(max_val) - 10 log10(mean((x1 - x2)^2)) over all
    elements, as a scalar."""
    a, b = _t(x1), _t(x2)
    if a.value.shape != b.value.shape:
        raise ValueError("psnr: `x1` and `x2` must have the same shape. Received: "
                         f"x1.shape={a.value.shape}, x2.shape={b.value.shape}")
    dt = _float_dtype(a, b)
    mse = _m.mean(_m.square(_m.subtract(_as(a, dt), _as(b, dt))))
    peak = _x.log10(_as(max_val, dt))
    return _m.subtract(_m.multiply(peak, _const(20.0, dt)),
                       _m.multiply(_x.log10(mse), _const(10.0, dt)))


# --------------------------------------------------------------------------------------------
# complex helpers

def polar(abs_, angle):
    """The complex tensor abs_ * (cos(angle) + i sin(angle)) (complex64, or complex128 for
    float64 inputs)."""
    r, th = _t(abs_), _t(angle)
    dt = _float_dtype(r, th)
    rv, tv = r.value.astype(dt), th.value.astype(dt)
    cos, sin = np.cos(tv), np.sin(tv)
    out = (rv * cos).astype(_complex_of(dt)) + 1j * (rv * sin)

    def backward(g, needs):
        g = np.asarray(g)
        gre, gim = np.real(g), np.imag(g)
        gr = _grad_for(r, gre * cos + gim * sin) if needs[0] else None
        gt = _grad_for(th, rv * (gim * cos - gre * sin)) if needs[1] else None
        return gr, gt

    return make_op(out.astype(_complex_of(dt)), (r, th), backward)


def angle(x):
    """The element-wise complex argument of x (0 or pi for real inputs), as a float tensor."""
    x = _t(x)
    v = x.value
    if v.dtype.kind == "c":
        dt = _real_of(v.dtype)
    elif v.dtype == np.int64:
        dt = np.dtype(_floatx())
    else:
        dt = _float_dtype(x)
    out = np.angle(v if v.dtype.kind == "c" else v.astype(dt)).astype(dt)

    def backward(g, needs):
        g = np.asarray(g)
        if v.dtype.kind != "c":
            return (np.zeros(v.shape, v.dtype) if v.dtype.kind == "f" else None,)
        with np.errstate(divide="ignore", invalid="ignore"):
            return ((g * 1j / np.conj(v)).astype(v.dtype),)

    return make_op(out, (x,), backward)


def view_as_complex(x):
    """The complex tensor x[..., 0] + i x[..., 1] of a real tensor whose last axis has size 2
    (complex64; complex128 for float64 inputs)."""
    x = _t(x)
    v = x.value
    if v.ndim < 1 or v.shape[-1] != 2:
        raise ValueError("view_as_complex: the last axis of `x` must have size 2 (real and "
                         f"imaginary parts). Received: x.shape={v.shape}")
    if v.dtype.kind == "c":
        raise TypeError(f"view_as_complex: `x` must be real. Received: x.dtype={v.dtype}")
    ct = _complex_of(v.dtype)
    out = v[..., 0].astype(ct) + 1j * v[..., 1].astype(_real_of(ct))

    def backward(g, needs):
        g = np.asarray(g)
        return (np.stack([np.real(g), np.imag(g)], axis=-1).astype(v.dtype),)

    return make_op(out.astype(ct), (x,), backward)


def view_as_real(x):
    """The real tensor of shape x.shape + (2,) holding x's real and imaginary parts (zeros for
    the imaginary part of real inputs)."""
    x = _t(x)
    v = x.value
    if v.dtype.kind == "c":
        out = np.stack([np.real(v), np.imag(v)], axis=-1).astype(_real_of(v.dtype))
    else:
        out = np.stack([v, np.zeros_like(v)], axis=-1)

    def backward(g, needs):
        g = np.asarray(g)
        if v.dtype.kind == "c":
            return ((g[..., 0] + 1j * g[..., 1]).astype(v.dtype),)
        return (g[..., 0].astype(v.dtype) if v.dtype.kind == "f" else None,)

    return make_op(out, (x,), backward)


# --------------------------------------------------------------------------------------------
# distances and elementwise math

def cdist(x, y):
    """Euclidean distances between the rows of x (..., m, d) and y (..., n, d): a
    (..., m, n) tensor (batch axes broadcast)."""
    a, b = _t(x), _t(y)
    if a.value.ndim < 2 or b.value.ndim < 2:
        raise ValueError("cdist: `x` and `y` must have rank >= 2. Received: "
                         f"x.shape={a.value.shape}, y.shape={b.value.shape}")
    if a.value.shape[-1] != b.value.shape[-1]:
        raise ValueError("cdist: the last axes of `x` and `y` must match. Received: "
                         f"x.shape={a.value.shape}, y.shape={b.value.shape}")
    dt = _float_dtype(a, b)
    diff = _m.subtract(_m.expand_dims(_as(a, dt), -2), _m.expand_dims(_as(b, dt), -3))
    return _m.sqrt(_m.sum(_m.square(diff), axis=-1))


def _nan_ignoring(x1, x2, ufunc, first_wins):
    dt = _promote(x1, x2)
    a, b = _tensor(x1), _tensor(x2)
    av, bv = a.value.astype(dt), b.value.astype(dt)
    out = ufunc(av, bv)
    if dt.kind != "f":
        return Tensor(np.asarray(out))
    pick_a = first_wins(av, bv) | np.isnan(bv)

    def backward(g, needs):
        g = np.asarray(g)
        ga = _grad_for(a, np.where(pick_a, g, 0)) if needs[0] else None
        gb = _grad_for(b, np.where(pick_a, 0, g)) if needs[1] else None
        return ga, gb

    return make_op(np.asarray(out), (a, b), backward)


def fmax(x1, x2):
    """The element-wise maximum, ignoring NaNs (NaN only where both are NaN)."""
    return _nan_ignoring(x1, x2, np.fmax, np.greater_equal)


def fmin(x1, x2):
    """The element-wise minimum, ignoring NaNs (NaN only where both are NaN)."""
    return _nan_ignoring(x1, x2, np.fmin, np.less_equal)


def nextafter(x1, x2):
    """The next representable float after x1 towards x2, in the promoted float dtype (no
    gradient)."""
    dt = _float_dtype(x1, x2)
    a, b = _np(_tensor(x1)).astype(dt), _np(_tensor(x2)).astype(dt)
    return Tensor(np.asarray(np.nextafter(a, b)))


def _i1(v):
    """The modified Bessel function of the first kind of order one (power series, summed until
    the terms no longer matter)."""
    v = np.asarray(v, np.float64)
    half = v / 2.0
    sq = half * half
    term = half.copy()
    total = term.copy()
    k = 0
    with np.errstate(over="ignore", invalid="ignore"):
        while True:
            term = term * sq / ((k + 1) * (k + 2))
            total = total + term
            k += 1
            small = np.abs(term) <= 1e-17 * np.abs(total)
            if np.all(small | ~np.isfinite(total)) or k > 2000:
                return total


def i0(x):
    """The modified Bessel function of the first kind of order zero, element-wise (float64 for
    float64 and int64 inputs, float32 otherwise)."""
    x = _t(x)
    v = x.value
    name = _standardize_dtype(v.dtype)
    if name in ("int64", "float64"):
        dt = np.dtype("float64")
    elif name == "float16":
        dt = np.dtype("float16")
    else:
        dt = np.dtype(_floatx())
    xv = v.astype(dt)
    out = np.asarray(np.i0(xv.astype(np.float64))).astype(dt)
    if v.dtype.kind != "f":
        return Tensor(out)
    return make_op(out, (x,), lambda g, needs: ((np.asarray(g) * _i1(xv)).astype(v.dtype),))


# --------------------------------------------------------------------------------------------
# NaN-aware quantiles

def _nanquantile(x, q, axis, method, keepdims, scale, name):
    if method not in _METHODS:
        raise ValueError(f"Argument `method` must be one of {_METHODS}. "
                         f"Received: method={method!r}")
    x = _as_float(x)
    dt = x.value.dtype
    qv = _np(q).astype(np.float64) / scale
    if np.any(qv < 0) or np.any(qv > 1) or np.any(np.isnan(qv)):
        bound = "[0, 100]" if scale == 100 else "[0, 1]"
        raise ValueError(f"Argument `q` of `{name}` must be in {bound}. Received: q={q!r}")
    v = x.value
    flat, axes = _flat_axes(x, axis)
    fv = flat.value
    if fv.shape[-1] == 0:
        raise ValueError(f"Cannot take the {name} of an empty tensor. "
                         f"Received: x.shape={v.shape}")
    srt = _x.take_along_axis(flat, np.argsort(fv, axis=-1, kind="stable"), axis=-1)  # NaNs last
    count = np.sum(~np.isnan(fv), axis=-1)[..., None]
    last = np.maximum(count - 1, 0)
    pos = last * qv.reshape((1,) * (fv.ndim - 1) + (-1,))
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, last)
    up = np.ceil(pos).astype(np.int64)

    def at(idx):
        return _x.take_along_axis(srt, idx, axis=-1)

    if method == "lower":
        out = at(lo)
    elif method == "higher":
        out = at(up)
    elif method == "midpoint":
        out = _m.multiply(_m.add(at(lo), at(up)), _const(0.5, dt))
    elif method == "nearest":
        out = at(np.round(pos).astype(np.int64))
    else:
        a, b = at(lo), at(hi)
        out = _m.add(a, _m.multiply(_m.subtract(b, a), _const(pos - lo, dt)))
    if np.any(count == 0):
        out = _m.where(np.broadcast_to(count == 0, out.value.shape), _const(np.nan, dt), out)
    kept = [n for i, n in enumerate(v.shape) if i not in axes]
    if keepdims:
        kept = [1 if i in axes else n for i, n in enumerate(v.shape)]
    out = _m.reshape(out, tuple(kept) + qv.shape)
    k = len(kept)
    return _m.transpose(out, tuple(range(k, k + qv.ndim)) + tuple(range(k)))


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """The q-th quantiles (q in [0, 1]) over `axis` of the non-NaN elements (NaN where there
    are none), interpolated by `method`; the axes of q come first in the result."""
    return _nanquantile(x, q, axis, method, keepdims, 1.0, "nanquantile")


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    """The q-th percentiles (q in [0, 100]) over `axis` of the non-NaN elements."""
    return _nanquantile(x, q, axis, method, keepdims, 100.0, "nanpercentile")


# --------------------------------------------------------------------------------------------
# rearrange (einops notation)

_TOKEN = re.compile(r"\.\.\.|\(|\)|[A-Za-z_]\w*|\S")


def _parse_side(side, pattern):
    groups, group = [], None
    for tok in _TOKEN.findall(side):
        if tok == "(":
            if group is not None:
                raise ValueError(f"rearrange: nested parentheses are not supported. Received: "
                                 f"pattern={pattern!r}")
            group = []
        elif tok == ")":
            if group is None:
                raise ValueError(f"rearrange: unbalanced parentheses. Received: "
                                 f"pattern={pattern!r}")
            groups.append(group)
            group = None
        elif tok == "..." or re.fullmatch(r"[A-Za-z_]\w*", tok):
            (groups if group is None else group).append(tok if group is not None else [tok])
        else:
            raise ValueError(f"rearrange: unsupported token {tok!r} (axis names, '(...)' "
                             f"groups and one '...' are supported). Received: "
                             f"pattern={pattern!r}")
    if group is not None:
        raise ValueError(f"rearrange: unbalanced parentheses. Received: pattern={pattern!r}")
    names = [n for g in groups for n in g]
    if len(set(names)) != len(names):
        raise ValueError(f"rearrange: an axis name is repeated on one side. Received: "
                         f"pattern={pattern!r}")
    return groups


def _expand_ellipsis(groups, n_ellipsis):
    dots = [f"...{i}" for i in range(n_ellipsis)]
    out = []
    for g in groups:
        if g == ["..."]:
            out.extend([[d] for d in dots])
        else:
            out.append([n for name in g for n in (dots if name == "..." else [name])])
    return out


def rearrange(tensor, pattern, **axes_lengths):
    """Reorders, merges and splits the axes of `tensor` as an einops pattern says, e.g.
    "b h w c -> b c h w", "b (h h1) w c -> b h w (c h1)" (with h1=2). Axis lengths of split
    groups come from `axes_lengths` (one per group may be inferred)."""
    from fastkeras import ops as _ops

    if not isinstance(pattern, str) or pattern.count("->") != 1:
        raise ValueError("rearrange: `pattern` must be a string 'input axes -> output axes'. "
                         f"Received: pattern={pattern!r}")
    left, right = pattern.split("->")
    inp, outp = _parse_side(left, pattern), _parse_side(right, pattern)
    t = tensor if hasattr(tensor, "shape") and not isinstance(tensor, np.ndarray) \
        else _tensor(tensor)
    shape = tuple(t.shape)
    has_dots = [any("..." in g for g in side) for side in (inp, outp)]
    if has_dots[0] != has_dots[1]:
        raise ValueError("rearrange: '...' must appear on both sides or on neither. Received: "
                         f"pattern={pattern!r}")
    n_dots = len(shape) - (len(inp) - 1) if has_dots[0] else 0
    if any(g != ["..."] and "..." in g for g in inp):
        raise ValueError("rearrange: '...' cannot be inside a group on the input side. "
                         f"Received: pattern={pattern!r}")
    if n_dots < 0 or (not has_dots[0] and len(inp) != len(shape)):
        raise ValueError(f"rearrange: the input side of the pattern has {len(inp)} axes but the "
                         f"tensor has rank {len(shape)}. Received: pattern={pattern!r}, "
                         f"tensor.shape={shape}")
    inp, outp = _expand_ellipsis(inp, n_dots), _expand_ellipsis(outp, n_dots)
    in_names = [n for g in inp for n in g]
    out_names = [n for g in outp for n in g]
    if set(in_names) != set(out_names):
        raise ValueError("rearrange: both sides of the pattern must name the same axes. "
                         f"Only on the input side: {sorted(set(in_names) - set(out_names))}; "
                         f"only on the output side: {sorted(set(out_names) - set(in_names))}. "
                         f"Received: pattern={pattern!r}")
    unknown = sorted(set(axes_lengths) - set(in_names))
    if unknown:
        raise ValueError(f"rearrange: `axes_lengths` names axes not in the pattern: {unknown}. "
                         f"Received: pattern={pattern!r}, axes_lengths={axes_lengths}")
    sizes = {}
    for g, dim in zip(inp, shape):
        known = [n for n in g if n in axes_lengths]
        missing = [n for n in g if n not in axes_lengths]
        prod = int(np.prod([axes_lengths[n] for n in known])) if known else 1
        if len(missing) > 1:
            raise ValueError(f"rearrange: cannot infer the lengths of {missing} in group "
                             f"({' '.join(g)}): give all but one in `axes_lengths`. Received: "
                             f"pattern={pattern!r}, axes_lengths={axes_lengths}")
        if dim is not None and (dim % prod if missing else dim != prod):
            raise ValueError(f"rearrange: axis of length {dim} cannot be split as "
                             f"({' '.join(g)}). Received: pattern={pattern!r}, "
                             f"tensor.shape={shape}, axes_lengths={axes_lengths}")
        for n in known:
            sizes[n] = int(axes_lengths[n])
        if missing:
            sizes[missing[0]] = None if dim is None else dim // prod

    def target(groups):
        dims = []
        for g in groups:
            vals = [sizes[n] for n in g]
            dims.append(None if None in vals else int(np.prod(vals)) if vals else 1)
        if dims.count(None) > 1:
            raise ValueError(f"rearrange: more than one axis of unknown length. Received: "
                             f"pattern={pattern!r}, tensor.shape={shape}")
        return tuple(-1 if d is None else d for d in dims)

    if any(len(g) != 1 for g in inp):
        t = _ops.reshape(t, target([[n] for n in in_names]))
    perm = tuple(in_names.index(n) for n in out_names)
    if perm != tuple(range(len(perm))):
        t = _ops.transpose(t, perm)
    if any(len(g) != 1 for g in outp):
        t = _ops.reshape(t, target(outp))
    return t


# --------------------------------------------------------------------------------------------
# fold / unfold

def _pair(name, value, minimum):
    vals = (value, value) if isinstance(value, (int, np.integer)) else tuple(value) \
        if isinstance(value, (tuple, list)) else None
    if vals is None or len(vals) != 2 or any(
            isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum
            for v in vals):
        raise ValueError(f"Argument `{name}` must be an integer >= {minimum} or a pair of "
                         f"them. Received: {name}={value!r}")
    return int(vals[0]), int(vals[1])


def _blocks(size, k, d, p, s):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _unfold_np(v, k, d, p, s):
    n, c, h, w = v.shape
    oh, ow = _blocks(h, k[0], d[0], p[0], s[0]), _blocks(w, k[1], d[1], p[1], s[1])
    vp = np.pad(v, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    out = np.empty((n, c, k[0], k[1], oh, ow), v.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            out[:, :, i, j] = vp[:, :, i * d[0]: i * d[0] + s[0] * (oh - 1) + 1: s[0],
                                 j * d[1]: j * d[1] + s[1] * (ow - 1) + 1: s[1]]
    return out.reshape(n, c * k[0] * k[1], oh * ow)


def _fold_np(v, size, k, d, p, s):
    n, ckk, _ = v.shape
    c = ckk // (k[0] * k[1])
    oh, ow = _blocks(size[0], k[0], d[0], p[0], s[0]), _blocks(size[1], k[1], d[1], p[1], s[1])
    cols = v.reshape(n, c, k[0], k[1], oh, ow)
    out = np.zeros((n, c, size[0] + 2 * p[0], size[1] + 2 * p[1]), v.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            out[:, :, i * d[0]: i * d[0] + s[0] * (oh - 1) + 1: s[0],
                j * d[1]: j * d[1] + s[1] * (ow - 1) + 1: s[1]] += cols[:, :, i, j]
    return out[:, :, p[0]: p[0] + size[0], p[1]: p[1] + size[1]]


def _window_args(kernel_size, dilation, padding, stride):
    return (_pair("kernel_size", kernel_size, 1), _pair("dilation", dilation, 1),
            _pair("padding", padding, 0), _pair("stride", stride, 1))


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of a channels-first image batch (N, C, H, W) as columns (im2col): an
    (N, C * kH * kW, L) tensor, L the number of block positions."""
    x = _t(x)
    v = x.value
    if v.ndim != 4:
        raise ValueError(f"unfold: `x` must be a 4-D tensor (N, C, H, W). Received: "
                         f"x.shape={v.shape}")
    k, d, p, s = _window_args(kernel_size, dilation, padding, stride)
    if min(_blocks(v.shape[2], k[0], d[0], p[0], s[0]),
           _blocks(v.shape[3], k[1], d[1], p[1], s[1])) < 1:
        raise ValueError(f"unfold: the (dilated) kernel {k} does not fit in the padded input. "
                         f"Received: x.shape={v.shape}, kernel_size={kernel_size!r}, "
                         f"dilation={dilation!r}, padding={padding!r}")
    out = _unfold_np(v, k, d, p, s)
    if v.dtype.kind != "f":
        return Tensor(out)
    size = v.shape[2:]
    return make_op(out, (x,), lambda g, needs: (_fold_np(np.asarray(g, v.dtype), size, k, d, p,
                                                         s),))


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sums columns of blocks (N, C * kH * kW, L) back into an (N, C, oH, oW) image (col2im),
    the adjoint of `unfold`."""
    x = _t(x)
    v = x.value
    if v.ndim != 3:
        raise ValueError(f"fold: `x` must be a 3-D tensor (N, C * kH * kW, L). Received: "
                         f"x.shape={v.shape}")
    size = _pair("output_size", output_size, 1)
    k, d, p, s = _window_args(kernel_size, dilation, padding, stride)
    if v.shape[1] % (k[0] * k[1]):
        raise ValueError(f"fold: the second axis of `x` ({v.shape[1]}) must be divisible by "
                         f"kH * kW = {k[0] * k[1]}. Received: x.shape={v.shape}, "
                         f"kernel_size={kernel_size!r}")
    blocks = (_blocks(size[0], k[0], d[0], p[0], s[0]), _blocks(size[1], k[1], d[1], p[1], s[1]))
    if min(blocks) < 1 or blocks[0] * blocks[1] != v.shape[2]:
        raise ValueError(f"fold: `x` must hold {max(blocks[0], 0) * max(blocks[1], 0)} blocks "
                         f"for output_size={output_size!r}, kernel_size={kernel_size!r}, "
                         f"dilation={dilation!r}, padding={padding!r}, stride={stride!r}. "
                         f"Received: x.shape={v.shape}")
    out = _fold_np(v, size, k, d, p, s)
    if v.dtype.kind != "f":
        return Tensor(out)
    return make_op(out, (x,), lambda g, needs: (_unfold_np(np.asarray(g, v.dtype), k, d, p, s),))


# --------------------------------------------------------------------------------------------
# views and indexing

def view(x, dtype=None):
    """The same bytes read as `dtype` (the last axis scales by the ratio of item sizes); x
    itself, with its gradient, when dtype is None or x's dtype."""
    x = _tensor(x)
    v = x.value
    if dtype is None:
        return _x.copy(x)
    dt = np.dtype(_standardize_dtype(dtype))
    if dt == v.dtype:
        return _x.copy(x)
    if dt.itemsize != v.dtype.itemsize:
        if v.ndim == 0:
            raise ValueError(f"view: a scalar cannot be viewed as a dtype of another item "
                             f"size. Received: x.dtype={v.dtype}, dtype={dtype!r}")
        if (v.shape[-1] * v.dtype.itemsize) % dt.itemsize:
            raise ValueError(f"view: the last axis of `x` ({v.shape[-1]} x {v.dtype.itemsize} "
                             f"bytes) cannot be split into items of {dt.itemsize} bytes. "
                             f"Received: x.shape={v.shape}, x.dtype={v.dtype}, "
                             f"dtype={dtype!r}")
    return Tensor(np.ascontiguousarray(v).view(dt).copy())


def get_item(x, key):
    """x[key] (basic and advanced indexing), differentiable with respect to x."""
    from fastkeras import ops as _ops
    return _ops.getitem(x, key)


# --------------------------------------------------------------------------------------------
# function transforms

def _parse_signature(signature):
    m = re.fullmatch(r"\s*((?:\([\w\s,]*\)\s*,?\s*)*)->\s*((?:\([\w\s,]*\)\s*,?\s*)*)",
                     signature or "")
    if not m:
        raise ValueError("vectorize: `signature` must look like '(m,n),(n)->(m)'. "
                         f"Received: signature={signature!r}")

    def dims(part):
        return [tuple(d.strip() for d in g.split(",") if d.strip())
                for g in re.findall(r"\(([\w\s,]*)\)", part)]

    return dims(m.group(1)), dims(m.group(2))


def vectorize(pyfunc, *, excluded=None, signature=None):
    """`pyfunc` applied to every element (or, with a gufunc `signature` such as
    '(n),(n)->()', every core sub-array) of its broadcast arguments, the results stacked.

    Positional arguments whose index is in `excluded`, None arguments and keyword arguments
    are passed to `pyfunc` unchanged. Gradients flow through `pyfunc`'s ops.
    """
    if not callable(pyfunc):
        raise ValueError("vectorize: `pyfunc` must be callable. Received: "
                         f"pyfunc={pyfunc!r}")
    excluded = set(excluded or ())
    core_in, core_out = _parse_signature(signature) if signature is not None else (None, None)

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        static = {i: a for i, a in enumerate(args) if i in excluded or a is None}
        dynamic = [_tensor(a) for i, a in enumerate(args) if i not in static]
        cores = core_in if core_in is not None else [()] * len(dynamic)
        if len(cores) != len(dynamic):
            raise TypeError(f"vectorize: the signature {signature!r} takes {len(cores)} "
                            f"array arguments; {len(dynamic)} were given")
        dim_sizes, batch_shapes = {}, []
        for a, core in zip(dynamic, cores):
            shape = tuple(a.shape)
            if len(shape) < len(core):
                raise ValueError(f"vectorize: an argument of shape {shape} has fewer axes than "
                                 f"its core dimensions {core}")
            for name, n in zip(core, shape[len(shape) - len(core):]):
                if dim_sizes.setdefault(name, n) != n:
                    raise ValueError(f"vectorize: inconsistent size for core dimension "
                                     f"{name!r}: {n} vs {dim_sizes[name]}")
            batch_shapes.append(shape[:len(shape) - len(core)])
        batch = np.broadcast_shapes(*batch_shapes) if batch_shapes else ()

        def call(items):
            it = iter(items)
            full = [static[i] if i in static else next(it) for i in range(len(args))]
            return pyfunc(*full, **kwargs)

        if batch == ():
            return call(dynamic)
        n = int(np.prod(batch))
        flat = [_m.reshape(_x.broadcast_to(a, batch + tuple(a.shape[len(b):])),
                           (n,) + tuple(a.shape[len(b):]))
                for a, b in zip(dynamic, batch_shapes)]
        if n == 0:
            raise ValueError("vectorize: cannot infer the output of `pyfunc` on empty inputs. "
                             f"Received argument shapes {[tuple(a.shape) for a in dynamic]}")
        results = [call([_m.getitem(f, i) for f in flat]) for i in range(n)]
        multi = isinstance(results[0], tuple)
        columns = list(zip(*results)) if multi else [results]
        outs = []
        for j, col in enumerate(columns):
            stacked = _m.stack([_t(r) for r in col], axis=0)
            core_shape = tuple(stacked.value.shape[1:])
            if core_out is not None and (j >= len(core_out)
                                         or len(core_out[j]) != len(core_shape)):
                    raise ValueError(f"vectorize: output {j} of shape {core_shape} does not "
                                     f"match the signature {signature!r}")
            outs.append(_m.reshape(stacked, batch + core_shape))
        return tuple(outs) if multi else outs[0]

    return wrapped


def _flatten(tree):
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _flatten(item)]
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _flatten(tree[key])]
    return [tree]


def _pack(tree, leaves):
    if isinstance(tree, (list, tuple)):
        items = [_pack(item, leaves) for item in tree]
        return type(tree)(items) if not hasattr(tree, "_fields") else type(tree)(*items)
    if isinstance(tree, dict):
        return {key: _pack(tree[key], leaves) for key in sorted(tree)}
    return next(leaves)


def _call_grad_fn(grad_fn, args, upstream):
    try:
        params = inspect.signature(grad_fn).parameters.values()
    except (TypeError, ValueError):
        params = ()
    # PyTorch-style grad_fn(*args, upstream) takes the arguments too; TensorFlow / JAX-style
    # grad_fn(upstream) only the upstream gradient(s).
    by_keyword = any(p.kind is p.VAR_POSITIONAL or (p.name == "upstream"
                                                    and p.kind is p.KEYWORD_ONLY)
                     for p in params)
    with no_grad():
        if by_keyword:
            return grad_fn(*args, upstream=upstream)
        return grad_fn(*upstream) if isinstance(upstream, tuple) else grad_fn(upstream)


def custom_gradient(f):
    """Decorates `f(*args)`, which returns `(output, grad_fn)`, so that the tape uses
    `grad_fn` for the gradient of `output` with respect to the tensor arguments.

    `grad_fn(upstream)` or `grad_fn(*args, upstream=upstream)` gets the gradient of the loss
    with respect to the output (a tuple of them for several outputs) and returns one gradient
    per (flattened) argument, None where there is none.
    """
    if not callable(f):
        raise TypeError(f"custom_gradient: `f` must be callable. Received: f={f!r}")

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        from fastkeras.ops.symbolic import is_symbolic
        if any(is_symbolic(a) for a in args) or any(is_symbolic(v) for v in kwargs.values()):
            raise TypeError(f"custom_gradient: `{getattr(f, '__name__', f)}` cannot be applied "
                            "to a symbolic KerasTensor in a Functional model; call it inside a "
                            "Layer's `call` instead.")
        with no_grad():
            result = f(*args, **kwargs)
        if not (isinstance(result, (tuple, list)) and len(result) == 2 and callable(result[1])):
            raise TypeError(f"custom_gradient: `{getattr(f, '__name__', f)}` must return "
                            f"(output, grad_fn). Received: {type(result).__name__} "
                            f"{result!r:.200}")
        output, grad_fn = result
        flat_args = _flatten(list(args))
        leaf_args = [(i, a) for i, a in enumerate(flat_args) if isinstance(a, Tensor)]
        parents = tuple(a for _, a in leaf_args)
        out_leaves = [_t(o) for o in _flatten(output)]
        multi = len(out_leaves) > 1 or isinstance(output, (list, tuple, dict))

        def node(k, value):
            def backward(g, needs):
                g = Tensor(np.asarray(g))
                if multi:
                    ups = tuple(g if j == k else Tensor(np.zeros_like(o.value))
                                for j, o in enumerate(out_leaves))
                else:
                    ups = g
                grads = _call_grad_fn(grad_fn, args, ups)
                if not isinstance(grads, (tuple, list)):
                    grads = (grads,)
                grads = list(grads)
                if len(grads) == len(flat_args):
                    grads = [grads[i] for i, _ in leaf_args]
                elif len(grads) != len(parents):
                    raise ValueError(f"custom_gradient: grad_fn of "
                                     f"`{getattr(f, '__name__', f)}` returned {len(grads)} "
                                     f"gradients for {len(flat_args)} arguments")
                out = []
                for p, gp, need in zip(parents, grads, needs):
                    if not need or gp is None:
                        out.append(None)
                        continue
                    gv = np.asarray(gp.value if isinstance(gp, Tensor) else gp)
                    if gv.shape != p.value.shape:
                        gv = np.broadcast_to(gv, np.broadcast_shapes(gv.shape, p.value.shape))
                    out.append(_grad_for(p, gv))
                return tuple(out)

            return make_op(value, parents, backward)

        new = [node(k, o.value) for k, o in enumerate(out_leaves)]
        if not isinstance(output, (list, tuple, dict)):
            return new[0]
        return _pack(output, iter(new))

    return wrapper

