"""Keras 3's `keras.ops.linalg` (also at `keras.ops`'s top level), plus `slogdet` and
`logdet`: matrix decompositions, inverses, solves and determinants on numpy's LAPACK, over
the last two axes of batched inputs.

Float inputs keep their precision; integer and boolean inputs are computed in float32.
Gradients are recorded for `det`, `slogdet`, `logdet`, `inv`, `solve`, `solve_triangular`,
`cholesky`, `cholesky_inverse`, `eigh` and the singular values of `svd`.
"""

from __future__ import annotations

import numpy as np

from fastkeras.backend.config import floatx as _floatx
from fastkeras.backend.tape import Tensor, convert_to_tensor, make_op
from fastkeras.ops import math as _m
from fastkeras.ops.math import unbroadcast
from fastkeras.ops.numpy_extra import norm

__all__ = [
    "cholesky",
    "cholesky_inverse",
    "det",
    "eig",
    "eigh",
    "inv",
    "jvp",
    "logdet",
    "lstsq",
    "lu_factor",
    "matrix_rank",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_triangular",
    "svd",
]

# the names `keras.ops.linalg` has (slogdet and logdet are only at `keras.ops`)
LINALG_NAMES = [n for n in __all__ if n not in ("logdet", "slogdet")]

NOT_SYMBOLIC = ("jvp",)

GRAPH_SPECS = {
    "cholesky": ("linalg", "Cholesky", ("upper",)),
    "cholesky_inverse": ("linalg", "CholeskyInverse", ("upper",)),
    "det": ("linalg", "Det", ()),
    "eig": ("linalg", "Eig", ()),
    "eigh": ("linalg", "Eigh", ()),
    "inv": ("linalg", "Inv", ()),
    "lu_factor": ("linalg", "LuFactor", ()),
    "qr": ("linalg", "Qr", ("mode",)),
    "solve": ("linalg", "Solve", ()),
    "solve_triangular": ("linalg", "SolveTriangular", ("lower",)),
    "svd": ("linalg", "SVD", ("full_matrices", "compute_uv")),
    "lstsq": ("linalg", "Lstsq", ("rcond",)),
    "matrix_rank": ("linalg", "MatrixRank", ("tol",)),
    "pinv": ("linalg", "Pinv", ("rcond",)),
    "slogdet": ("numpy", "Slogdet", ()),
    "logdet": ("math", "Logdet", ()),
}


# --------------------------------------------------------------------------------------------
# helpers

def _matrix(x, op, arg="x", square=True):
    """x as a float Tensor of rank >= 2 (square in its last two axes when asked)."""
    x = convert_to_tensor(x)
    if x.value.dtype.kind not in "fc":
        x = _m.cast(x, _floatx())
    if x.ndim < 2:
        raise ValueError(f"{op}: expected `{arg}` to have rank >= 2. Received: "
                         f"{arg}.shape={tuple(x.shape)}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{op}: expected a square matrix in the last two axes of `{arg}`. "
                         f"Received: {arg}.shape={tuple(x.shape)}")
    return x


def _mT(a):
    return np.swapaxes(a, -1, -2)


def _solve_values(a, b):
    """np.linalg.solve with b a matrix (..., n, k); singular matrices give nan (as Keras's JAX
    backend), the others their solution."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a2 = np.broadcast_to(a, shape + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
        b2 = np.broadcast_to(b, shape + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
        out = np.full(b2.shape, np.nan, np.result_type(a, b))
        for i in range(a2.shape[0]):
            try:
                out[i] = np.linalg.solve(a2[i], b2[i])
            except np.linalg.LinAlgError:
                pass
        return out.reshape(shape + b.shape[-2:])


def _inv_values(a):
    return _solve_values(a, np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape))


def _lapack(op, fn, *args):
    try:
        return fn(*args)
    except np.linalg.LinAlgError as err:
        raise ValueError(f"{op} failed: {err}") from None


def _common(a, b):
    dtype = np.result_type(a.value.dtype, b.value.dtype)
    if a.value.dtype != dtype:
        a = _m.cast(a, dtype)
    if b.value.dtype != dtype:
        b = _m.cast(b, dtype)
    return a, b


# --------------------------------------------------------------------------------------------
# determinants and inverses

def det(x):
    """The determinant of each square matrix in the last two axes of `x`."""
    x = _matrix(x, "det")
    xv = x.value
    out = np.asarray(np.linalg.det(xv), dtype=xv.dtype)

    def backward(g, needs):
        g = np.asarray(g)
        # d det / dA = det(A) * inv(A)^T; adjugate-free, so singular matrices give no gradient
        with np.errstate(all="ignore"):
            inv_t = _mT(np.linalg.pinv(xv)) if np.any(out == 0) else _mT(np.linalg.inv(xv))
        return ((g * out)[..., None, None] * inv_t,)

    return make_op(out, (x,), backward)


def _logdet_backward(xv):
    def backward(g, needs):
        g = np.asarray(g)
        return (g[..., None, None] * _mT(np.linalg.inv(xv)),)
    return backward


def slogdet(x):
    """(sign, log|det|) of each square matrix of `x`; a singular matrix gives (0, -inf)."""
    x = _matrix(x, "slogdet")
    xv = x.value
    sign, logabs = np.linalg.slogdet(xv)
    sign = Tensor(np.asarray(sign, dtype=xv.dtype))
    logabs = make_op(np.asarray(logabs, dtype=xv.dtype), (x,), _logdet_backward(xv))
    return sign, logabs


def logdet(x):
    """log(det(x)) of each square matrix of `x` (nan where the determinant is negative)."""
    x = _matrix(x, "logdet")
    xv = x.value
    sign, logabs = np.linalg.slogdet(xv)
    out = np.where(sign > 0, logabs, np.where(sign == 0, -np.inf, np.nan))
    return make_op(np.asarray(out, dtype=xv.dtype), (x,), _logdet_backward(xv))


def inv(x):
    """The inverse of each square matrix of `x` (nan for a singular matrix)."""
    x = _matrix(x, "inv")
    out = _inv_values(x.value).astype(x.value.dtype, copy=False)

    def backward(g, needs):
        return (-(_mT(out) @ np.asarray(g) @ _mT(out)),)

    return make_op(out, (x,), backward)


def _rhs(a, b, op):
    """b as a matrix (..., n, k); vector=True when b holds vectors (b.ndim == a.ndim - 1)."""
    if b.ndim < 1:
        raise ValueError(f"{op}: expected `b` to have rank >= 1. Received scalar input {b}.")
    vector = b.ndim == a.ndim - 1
    if vector:
        if a.shape[-1] != b.shape[-1]:
            raise ValueError(f"{op}: incompatible shapes between `a` and `b`; expected "
                             f"a.shape[-1] == b.shape[-1]. Received: a.shape={tuple(a.shape)}, "
                             f"b.shape={tuple(b.shape)}")
    elif b.ndim < 2 or a.shape[-2] != b.shape[-2]:
        raise ValueError(f"{op}: incompatible shapes between `a` and `b`; expected "
                         f"a.shape[-2] == b.shape[-2]. Received: a.shape={tuple(a.shape)}, "
                         f"b.shape={tuple(b.shape)}")
    return vector


def solve(a, b):
    """x with a @ x = b for square `a` (batched); `b` of rank a.ndim - 1 holds vectors. A
    singular `a` gives nan."""
    a = _matrix(a, "solve", "a")
    b = convert_to_tensor(b)
    if b.value.dtype.kind not in "fc":
        b = _m.cast(b, _floatx())
    a, b = _common(a, b)
    vector = _rhs(a, b, "solve")
    av, bv = a.value, b.value
    bm = bv[..., None] if vector else bv
    xm = _solve_values(av, bm).astype(av.dtype, copy=False)
    out = xm[..., 0] if vector else xm

    def backward(g, needs):
        g = np.asarray(g)
        gm = g[..., None] if vector else g
        gb = np.linalg.solve(_mT(av), np.broadcast_to(gm, np.broadcast_shapes(
            av.shape[:-2], gm.shape[:-2]) + gm.shape[-2:]))
        ga = -gb @ _mT(xm)
        gbv = gb[..., 0] if vector else gb
        return unbroadcast(ga, av.shape), unbroadcast(gbv, bv.shape)

    return make_op(np.ascontiguousarray(out), (a, b), backward)


def _triangle(v, lower):
    return np.tril(v) if lower else np.triu(v)


def solve_triangular(a, b, lower=False):
    """x with a @ x = b, reading only the lower (`lower=True`) or upper triangle of `a`."""
    a = _matrix(a, "solve_triangular", "a")
    b = convert_to_tensor(b)
    if b.value.dtype.kind not in "fc":
        b = _m.cast(b, _floatx())
    a, b = _common(a, b)
    vector = _rhs(a, b, "solve_triangular")
    av = _triangle(a.value, lower)
    bv = b.value
    bm = bv[..., None] if vector else bv
    xm = _solve_values(av, bm).astype(av.dtype, copy=False)
    out = xm[..., 0] if vector else xm

    def backward(g, needs):
        g = np.asarray(g)
        gm = g[..., None] if vector else g
        gb = np.linalg.solve(_mT(av), np.broadcast_to(gm, np.broadcast_shapes(
            av.shape[:-2], gm.shape[:-2]) + gm.shape[-2:]))
        ga = _triangle(-gb @ _mT(xm), lower)
        gbv = gb[..., 0] if vector else gb
        return unbroadcast(ga, av.shape), unbroadcast(gbv, bv.shape)

    return make_op(np.ascontiguousarray(out), (a, b), backward)


# --------------------------------------------------------------------------------------------
# decompositions

def cholesky(x, upper=False):
    """The Cholesky factor of each symmetric positive-definite matrix of `x`: lower
    triangular L with x = L @ L^T, or (`upper=True`) U = L^T with x = U^T @ U. Only the
    lower triangle of `x` is read."""
    x = _matrix(x, "cholesky")
    xv = x.value
    low = _lapack("Cholesky decomposition", np.linalg.cholesky, xv).astype(xv.dtype,
                                                                          copy=False)
    if np.any(~np.isfinite(low)):
        raise ValueError("Cholesky decomposition failed: the input is not positive-definite")
    out = np.ascontiguousarray(_mT(low)) if upper else low

    def backward(g, needs):
        g = np.asarray(g)
        gl = _mT(g) if upper else g
        # A's gradient through its lower triangle: Phi(L^T gL) conjugated by L^-1, where Phi
        # keeps the lower triangle and halves the diagonal
        p = _mT(low) @ gl
        p = np.tril(p) - 0.5 * np.eye(p.shape[-1]) * p
        linv = np.linalg.inv(low)
        s = _mT(linv) @ p @ linv
        sym = 0.5 * (s + _mT(s))
        return (np.tril(2 * sym) - np.eye(s.shape[-1]) * sym,)

    return make_op(out, (x,), backward)


def cholesky_inverse(x, upper=False):
    """The inverse of the matrix whose Cholesky factor is `x`: inv(x @ x^T) for a lower
    factor, inv(x^T @ x) for an upper one (`upper=True`)."""
    x = _matrix(x, "cholesky_inverse")
    t = _m.transpose(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))
    return inv(_m.matmul(t, x) if upper else _m.matmul(x, t))


def eig(x):
    """(eigenvalues, eigenvectors) of each square matrix of `x`, complex (complex64 for
    float32 inputs): x @ v[:, i] = w[i] * v[:, i], eigenvectors of unit norm."""
    x = _matrix(x, "eig")
    ctype = np.complex128 if x.value.dtype == np.float64 else np.complex64
    w, v = _lapack("eig", np.linalg.eig, x.value)
    return Tensor(w.astype(ctype)), Tensor(v.astype(ctype))


def eigh(x):
    """(eigenvalues ascending, eigenvectors) of each symmetric matrix of `x` (its lower
    triangle is read). Differentiable (for distinct eigenvalues)."""
    x = _matrix(x, "eigh")
    xv = x.value
    w, v = _lapack("eigh", np.linalg.eigh, xv)
    w, v = w.astype(xv.dtype, copy=False), v.astype(xv.dtype, copy=False)

    def sym_grad(inner):
        g = v @ inner @ _mT(v)
        # only the lower triangle is read: fold the symmetric gradient onto it
        sym = 0.5 * (g + _mT(g))
        return np.tril(2 * sym) - np.eye(g.shape[-1]) * sym

    def backward_w(g, needs):
        return (sym_grad(np.asarray(g)[..., :, None] * np.eye(w.shape[-1])),)

    def backward_v(g, needs):
        with np.errstate(divide="ignore"):
            diff = w[..., None, :] - w[..., :, None]
            f = np.where(np.eye(w.shape[-1], dtype=bool), 0.0, 1.0 / diff)
        return (sym_grad(f * (_mT(v) @ np.asarray(g))),)

    return make_op(w, (x,), backward_w), make_op(v, (x,), backward_v)


def lu_factor(x):
    """The LU factorization with partial pivoting of each matrix of `x`, as LAPACK's getrf:
    (lu, pivots), with L's unit diagonal implied below U in `lu` and `pivots` (int32,
    0-based) the row each step swapped with."""
    x = _matrix(x, "lu_factor", square=False)
    lu = np.array(x.value, copy=True)
    m, n = lu.shape[-2:]
    k = min(m, n)
    flat = lu.reshape(-1, m, n)
    pivots = np.zeros((flat.shape[0], k), np.int32)
    for b in range(flat.shape[0]):
        a = flat[b]
        for j in range(k):
            p = j + int(np.argmax(np.abs(a[j:, j])))
            pivots[b, j] = p
            if p != j:
                a[[j, p]] = a[[p, j]]
            if a[j, j] != 0:
                a[j + 1:, j] /= a[j, j]
            a[j + 1:, j + 1:] -= np.outer(a[j + 1:, j], a[j, j + 1:])
    return Tensor(flat.reshape(lu.shape)), Tensor(pivots.reshape(lu.shape[:-2] + (k,)))


def qr(x, mode="reduced"):
    """(q, r) with x = q @ r, q orthonormal and r upper triangular; `mode` 'reduced' (q of
    shape (..., m, min(m, n))) or 'complete' (q square)."""
    if mode not in ("reduced", "complete"):
        raise ValueError("qr: `mode` must be one of {'reduced', 'complete'}. Received: "
                         f"mode={mode!r}")
    x = _matrix(x, "qr", square=False)
    q, r = np.linalg.qr(x.value, mode=mode)
    return Tensor(q.astype(x.value.dtype)), Tensor(r.astype(x.value.dtype))


def svd(x, full_matrices=True, compute_uv=True):
    """The singular value decomposition x = u @ diag(s) @ vh: (u, s, vh), or only s (in
    descending order) when `compute_uv` is False. Gradients flow through s."""
    x = _matrix(x, "svd", square=False)
    xv = x.value
    u, s, vh = _lapack("svd", np.linalg.svd, xv, False)
    s = s.astype(xv.dtype, copy=False)

    def backward(g, needs):
        return ((u * np.asarray(g)[..., None, :]) @ vh,)

    s_t = make_op(s, (x,), backward)
    if not compute_uv:
        return s_t
    if full_matrices:
        u, _, vh = np.linalg.svd(xv, full_matrices=True)
    return Tensor(u.astype(xv.dtype)), s_t, Tensor(vh.astype(xv.dtype))


def lstsq(a, b, rcond=None):
    """The least-squares solution x minimising ||a @ x - b|| for a matrix `a` (m, n) and `b`
    (m,) or (m, k); singular values below rcond * the largest are treated as zero."""
    a = convert_to_tensor(a)
    b = convert_to_tensor(b)
    if a.ndim != 2:
        raise ValueError(f"lstsq: expected `a` to have rank 2. Received: a.shape="
                         f"{tuple(a.shape)}")
    if b.ndim not in (1, 2):
        raise ValueError(f"lstsq: expected `b` to have rank 1 or 2. Received: b.shape="
                         f"{tuple(b.shape)}")
    if b.shape[0] != a.shape[0]:
        raise ValueError(f"lstsq: expected b.shape[0] == a.shape[0]. Received: a.shape="
                         f"{tuple(a.shape)}, b.shape={tuple(b.shape)}")
    av, bv = a.value, b.value
    dtype = np.result_type(av.dtype, bv.dtype, np.float32)
    if av.dtype.kind not in "fc" and bv.dtype.kind not in "fc":
        dtype = np.dtype(_floatx())
    out = np.linalg.lstsq(av.astype(np.float64), bv.astype(np.float64), rcond=rcond)[0]
    return Tensor(out.astype(dtype))


def matrix_rank(x, tol=None):
    """The number of singular values of each matrix of `x` above `tol` (default: the largest
    singular value * max(m, n) * the dtype's epsilon), as int32."""
    x = _matrix(x, "matrix_rank", square=False)
    return Tensor(np.asarray(np.linalg.matrix_rank(x.value, tol=tol), dtype=np.int32))


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse of each matrix of `x`, ignoring singular values below
    rcond * the largest (default rcond: max(m, n) * the dtype's epsilon)."""
    x = _matrix(x, "pinv", square=False)
    xv = x.value
    if rcond is None:
        rcond = max(xv.shape[-2:]) * np.finfo(xv.dtype).eps
    return Tensor(np.linalg.pinv(xv, rcond=rcond).astype(xv.dtype))


def jvp(fun, primals, tangents, has_aux=False):
    """The Jacobian-vector product of `fun` at `primals` along `tangents`:
    (fun(*primals), J @ tangents) (with fun's auxiliary output last when `has_aux`).

    Computed exactly by reverse mode: one backward pass per output element, so meant for
    small outputs."""
    from fastkeras.backend.tape import GradientTape, gradients

    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)) or \
            len(primals) != len(tangents):
        raise ValueError("jvp: `primals` and `tangents` must be tuples (or lists) of the same "
                         f"length. Received: primals={primals!r}, tangents={tangents!r}")
    leaves = []
    for p in primals:
        t = convert_to_tensor(p)
        leaves.append(Tensor(np.array(t.value, copy=True), requires_grad=True))
    tangent_values = [np.asarray(convert_to_tensor(t).value) for t in tangents]
    with GradientTape():
        result = fun(*leaves)
    aux = None
    if has_aux:
        result, aux = result
    outs = list(result) if isinstance(result, (tuple, list)) else [result]
    tangent_outs = []
    for out in outs:
        out = convert_to_tensor(out)
        flat = np.zeros(out.value.size, np.float64)
        for i in range(out.value.size):
            seed = np.zeros(out.value.size, np.float32)
            seed[i] = 1.0
            grads = gradients(out, leaves, output_gradient=seed.reshape(out.shape))
            flat[i] = sum(float(np.sum(np.asarray(g, np.float64) * t))
                          for g, t in zip(grads, tangent_values) if g is not None)
        tangent_outs.append(Tensor(flat.reshape(out.shape).astype(out.value.dtype)))
    primal_out = tuple(convert_to_tensor(o) for o in outs) if isinstance(
        result, (tuple, list)) else convert_to_tensor(result)
    tangent_out = tuple(tangent_outs) if isinstance(result, (tuple, list)) else tangent_outs[0]
    if has_aux:
        return primal_out, tangent_out, aux
    return primal_out, tangent_out
