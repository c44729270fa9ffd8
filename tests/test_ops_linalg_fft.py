"""`keras.ops.linalg` (fastkeras.ops.linalg, also at fastkeras.ops's top level) and the FFT
ops and windows: Keras 3's signatures, values and dtypes against real Keras on its PyTorch
backend, (real, imag) pairs for complex values, finite-difference gradients, clear errors."""

import inspect

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import Tensor
from fastkeras.ops import linalg as fk_linalg
from fastkeras.ops.fft import __all__ as FFT_ALL
from gradcheck import check_grads, leaf

keras = pytest.importorskip("keras")

R = np.random.default_rng(23)


def f32(*shape):
    return R.standard_normal(shape).astype(np.float32)


def _np(v):
    return v.numpy() if isinstance(v, Tensor) else np.asarray(keras.ops.convert_to_numpy(v))


def _compare(ours, theirs, name, atol=1e-4, check_dtype=True):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), name
        for o, t in zip(ours, theirs):
            _compare(o, t, name, atol, check_dtype)
        return
    o, t = _np(ours), _np(theirs)
    assert o.shape == t.shape, f"{name}: shape {o.shape} != Keras {t.shape}"
    if check_dtype:
        assert o.dtype == t.dtype, f"{name}: dtype {o.dtype} != Keras {t.dtype}"
    np.testing.assert_allclose(o, t, rtol=1e-4, atol=atol, equal_nan=True, err_msg=name)


TOP_LEVEL = [n for n in fk_linalg.__all__ if n != "norm"] + FFT_ALL


def test_surface_and_signatures_match_keras():
    assert sorted(fk_linalg.LINALG_NAMES) == sorted(
        n for n in dir(keras.ops.linalg) if not n.startswith("_"))
    assert ops.linalg is fk_linalg and ops.linalg.norm is ops.norm
    for name in TOP_LEVEL + ["norm"]:
        for ours_fn, theirs_fn in ((getattr(ops, name), getattr(keras.ops, name)),):
            ours = inspect.signature(ours_fn).parameters
            theirs = inspect.signature(theirs_fn).parameters
            assert list(ours) == list(theirs), name
            assert [p.default for p in ours.values()] == \
                [p.default for p in theirs.values()], name
    for name in fk_linalg.LINALG_NAMES:
        assert inspect.signature(getattr(ops.linalg, name)) == \
            inspect.signature(getattr(keras.ops.linalg, name)), name


A = f32(2, 4, 4)
SPD = (A @ A.transpose(0, 2, 1) + 4 * np.eye(4)).astype(np.float32)
B = f32(2, 4, 3)
V = f32(2, 4)
M = f32(5, 3)
LOW = np.linalg.cholesky(SPD).astype(np.float32)

LINALG_CASES = [
    ("det", (A,), {}), ("det", (SPD[0],), {}), ("inv", (A,), {}), ("inv", (SPD[1],), {}),
    ("slogdet", (A,), {}), ("slogdet", (SPD,), {}), ("logdet", (SPD,), {}),
    ("logdet", (A,), {}), ("cholesky", (SPD,), {}), ("cholesky", (SPD[0],), {"upper": True}),
    ("cholesky_inverse", (LOW,), {}),
    ("cholesky_inverse", (np.ascontiguousarray(LOW.transpose(0, 2, 1)),), {"upper": True}),
    ("eigh", (SPD,), {}), ("solve", (A, B), {}), ("solve", (A, V), {}),
    ("solve", (A[0], V[0]), {}), ("solve_triangular", (A, B), {}),
    ("solve_triangular", (A, B), {"lower": True}),
    ("solve_triangular", (A[0], V[0]), {"lower": True}),
    ("qr", (M,), {}), ("qr", (M,), {"mode": "complete"}), ("qr", (A,), {}),
    ("qr", (np.ascontiguousarray(M.T),), {}),
    ("svd", (M,), {"compute_uv": False}), ("svd", (M,), {}),
    ("svd", (M,), {"full_matrices": False}), ("svd", (A,), {}),
    ("lstsq", (M, f32(5)), {}), ("lstsq", (M, f32(5, 2)), {"rcond": 1e-3}),
    ("matrix_rank", (A,), {}), ("matrix_rank", (M @ M.T,), {}),
    ("matrix_rank", (M,), {"tol": 0.5}), ("pinv", (M,), {}), ("pinv", (A,), {"rcond": 0.2}),
    ("lu_factor", (A,), {}), ("lu_factor", (M,), {}),
    ("lu_factor", (np.ascontiguousarray(M.T),), {}),
    ("norm", (A,), {"ord": "fro", "axis": (1, 2)}),
]


@pytest.mark.parametrize("i", range(len(LINALG_CASES)))
def test_linalg_values_match_keras(i):
    name, args, kwargs = LINALG_CASES[i]
    if name == "svd" and kwargs.get("compute_uv", True):
        # singular vectors are defined up to sign, which LAPACK drivers choose differently
        u, s, vh = ops.svd(*args, **kwargs)
        ku, ks, kvh = (_np(t) for t in keras.ops.svd(*args, **kwargs))
        _compare(s, ks, "svd values")
        assert u.shape == ku.shape and vh.shape == kvh.shape and u.dtype == ku.dtype
        np.testing.assert_allclose(np.abs(u.numpy()), np.abs(ku), atol=1e-4)
        np.testing.assert_allclose(np.abs(vh.numpy()), np.abs(kvh), atol=1e-4)
        k = s.shape[-1]
        np.testing.assert_allclose((u.numpy()[..., :k] * s.numpy()[..., None, :])
                                   @ vh.numpy()[..., :k, :], args[0], atol=1e-4)
        return
    _compare(getattr(ops, name)(*args, **kwargs), getattr(keras.ops, name)(*args, **kwargs),
             f"{name} {kwargs}")
    if name in fk_linalg.LINALG_NAMES:
        _compare(getattr(ops.linalg, name)(*args, **kwargs),
                 getattr(keras.ops.linalg, name)(*args, **kwargs), f"linalg.{name}")


def test_eig_is_complex():
    w, v = ops.eig(A)
    kw, kv = keras.ops.eig(A)
    assert w.dtype == np.complex64 and v.dtype == np.complex64
    np.testing.assert_allclose(w.numpy(), _np(kw), atol=1e-4)
    np.testing.assert_allclose(np.abs(v.numpy()), np.abs(_np(kv)), atol=1e-4)
    np.testing.assert_allclose(A.astype(np.complex64) @ v.numpy(), v.numpy() * w.numpy()[:, None],
                               atol=1e-4)


def test_linalg_dtypes():
    a64 = Tensor(SPD.astype(np.float64))
    for name in ("det", "inv", "cholesky", "logdet", "pinv"):
        assert getattr(ops, name)(a64).dtype == np.float64, name
    assert ops.eig(a64)[0].dtype == np.complex128
    assert ops.matrix_rank(a64).dtype == np.int32
    assert ops.det(np.eye(3, dtype=np.int32)).dtype == np.float32
    assert ops.lu_factor(A)[1].dtype == np.int32


def test_jvp():
    primals, tangents = ops.jvp(ops.sin, (np.float32(0.1),), (np.float32(0.2),))
    np.testing.assert_allclose(primals.numpy(), np.sin(0.1), rtol=1e-6)
    np.testing.assert_allclose(tangents.numpy(), 0.2 * np.cos(0.1), rtol=1e-6)
    x, t = f32(3, 3), f32(3, 3)
    out, tan, aux = ops.linalg.jvp(lambda m: (ops.inv(m), "aux"), (x,), (t,), has_aux=True)
    inv = np.linalg.inv(x)
    np.testing.assert_allclose(out.numpy(), inv, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tan.numpy(), -inv @ t @ inv, rtol=1e-4, atol=1e-5)
    assert aux == "aux"


def _spd_leaf(n=3, batch=()):
    a = R.standard_normal(batch + (n, n))
    return leaf(a @ np.swapaxes(a, -1, -2) + n * np.eye(n))


def _sym(x):
    return ops.multiply(ops.add(x, ops.swapaxes(x, -1, -2)), 0.5)


LINALG_GRADS = {
    "det": lambda: ([leaf(R.standard_normal((2, 3, 3)))], ops.det),
    "inv": lambda: ([leaf(R.standard_normal((3, 3)) + 3 * np.eye(3))], ops.inv),
    "slogdet": lambda: ([leaf(R.standard_normal((2, 3, 3)))], lambda x: ops.slogdet(x)[1]),
    "logdet": lambda: ([_spd_leaf(3, (2,))], ops.logdet),
    "solve": lambda: ([leaf(R.standard_normal((2, 3, 3)) + 3 * np.eye(3)),
                       leaf(R.standard_normal((2, 3, 2)))], ops.solve),
    "solve_vector": lambda: ([leaf(R.standard_normal((3, 3)) + 3 * np.eye(3)),
                              leaf(R.standard_normal(3))], ops.solve),
    "solve_triangular": lambda: ([leaf(R.standard_normal((3, 3)) + 3 * np.eye(3)),
                                  leaf(R.standard_normal((3, 2)))],
                                 lambda a, b: ops.solve_triangular(a, b, lower=True)),
    "cholesky": lambda: ([_spd_leaf(3, (2,))], lambda x: ops.cholesky(_sym(x))),
    "cholesky_upper": lambda: ([_spd_leaf(4)], lambda x: ops.cholesky(_sym(x), upper=True)),
    "cholesky_inverse": lambda: ([leaf(np.tril(R.standard_normal((3, 3))) + 3 * np.eye(3))],
                                 ops.cholesky_inverse),
    "eigh_values": lambda: ([_spd_leaf(3)], lambda x: ops.eigh(_sym(x))[0]),
    "eigh_vectors": lambda: ([_spd_leaf(3)], lambda x: ops.square(ops.eigh(_sym(x))[1])),
    "svd_values": lambda: ([leaf(R.standard_normal((4, 3)))],
                           lambda x: ops.svd(x, compute_uv=False)),
}


@pytest.mark.parametrize("name", sorted(LINALG_GRADS))
def test_linalg_gradients_finite_differences(name):
    leaves, fn = LINALG_GRADS[name]()
    check_grads(lambda: fn(*leaves), leaves, R, rtol=1e-4, atol=1e-6)


def test_linalg_errors():
    with pytest.raises(ValueError, match="x.shape=\\(3,\\)"):
        ops.det(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="square"):
        ops.inv(M)
    with pytest.raises(ValueError, match="Cholesky decomposition failed"):
        ops.cholesky(-SPD)
    with pytest.raises(ValueError, match="mode='full'"):
        ops.qr(M, mode="full")
    with pytest.raises(ValueError, match="b.shape=\\(2, 5, 3\\)"):
        ops.solve(A, f32(2, 5, 3))
    with pytest.raises(ValueError, match="a.shape"):
        ops.lstsq(A, B)


def test_singular_matrices_give_nan():
    sing = np.ones((2, 3, 3), np.float32)
    sing[1] = np.eye(3)
    out = ops.inv(sing).numpy()
    assert np.isnan(out[0]).all()
    np.testing.assert_allclose(out[1], np.eye(3))
    assert np.isnan(ops.solve(sing[0], np.ones(3, np.float32)).numpy()).all()


def test_linalg_graph_node():
    inputs = fk.Input((3, 3))
    model = fk.Model(inputs, ops.linalg.inv(inputs))
    np.testing.assert_allclose(model(SPD[:, :3, :3]).numpy(), np.linalg.inv(SPD[:, :3, :3]),
                               rtol=1e-4, atol=1e-5)


# --- FFT -----------------------------------------------------------------------------------------

RE, IM = f32(2, 3, 5), f32(2, 3, 5)
SIG = f32(2, 37)

FFT_CASES = (
    [("fft", ((RE, IM),), {}), ("fft2", ((RE, IM),), {}), ("ifft2", ((RE, IM),), {}),
     ("fft", ((RE[0, 0], IM[0, 0]),), {}), ("extract_sequences", (SIG, 5, 3), {}),
     ("extract_sequences", (SIG[0], 8, 8), {}), ("kaiser", (7, 2.5), {}), ("kaiser", (1, 0.0), {})]
    + [("rfft", (RE,), {"fft_length": n}) for n in (None, 4, 5, 8, 9)]
    + [("irfft", ((RE, IM),), {"fft_length": n}) for n in (None, 4, 5, 8, 9)]
    + [(w, (m,), {}) for w in ("hamming", "hanning", "blackman", "bartlett")
       for m in (0, 1, 2, 5, 8)]
)


@pytest.mark.parametrize("i", range(len(FFT_CASES)))
def test_fft_values_match_keras(i):
    name, args, kwargs = FFT_CASES[i]
    _compare(getattr(ops, name)(*args, **kwargs), getattr(keras.ops, name)(*args, **kwargs),
             f"{name} {kwargs}", atol=1e-5)


STFT_CASES = [(sl, ss, fl, w, c) for sl, ss, fl in ((8, 3, 8), (8, 4, 8), (6, 2, 8), (5, 3, 9),
                                                     (16, 4, 16))
              for w in ("hann", "hamming", None, "array") for c in (True, False)]


@pytest.mark.parametrize("case", STFT_CASES, ids=str)
def test_stft_and_istft_match_keras(case):
    sl, ss, fl, window, center = case
    if window == "array":
        window = R.uniform(0.5, 1.0, sl).astype(np.float32)
    kw = dict(window=window, center=center)
    ours = ops.stft(SIG, sl, ss, fl, **kw)
    theirs = keras.ops.stft(SIG, sl, ss, fl, **kw)
    _compare(ours, theirs, f"stft {case}")
    spec = tuple(_np(t) for t in theirs)
    for length in (None, 30, 37, 45):
        _compare(ops.istft(spec, sl, ss, fl, length=length, **kw),
                 keras.ops.istft(spec, sl, ss, fl, length=length, **kw),
                 f"istft {case} length={length}")


def test_fft_dtypes():
    re64, im64 = Tensor(RE.astype(np.float64)), Tensor(IM.astype(np.float64))
    assert all(t.dtype == np.float64 for t in ops.fft((re64, im64)))
    assert ops.irfft((re64, im64)).dtype == np.float64
    assert all(t.dtype == np.float64 for t in ops.stft(Tensor(SIG.astype(np.float64)), 8, 4, 8))
    assert ops.hamming(4).dtype == np.float32


FFT_GRADS = {
    "fft": lambda: ([leaf(RE), leaf(IM)], lambda r, i: ops.concatenate(ops.fft((r, i)))),
    "fft2": lambda: ([leaf(RE), leaf(IM)], lambda r, i: ops.concatenate(ops.fft2((r, i)))),
    "ifft2": lambda: ([leaf(RE), leaf(IM)], lambda r, i: ops.concatenate(ops.ifft2((r, i)))),
    "rfft": lambda: ([leaf(RE)], lambda r: ops.concatenate(ops.rfft(r))),
    "rfft_padded": lambda: ([leaf(RE)], lambda r: ops.concatenate(ops.rfft(r, 8))),
    "rfft_cut": lambda: ([leaf(RE)], lambda r: ops.concatenate(ops.rfft(r, 3))),
    "irfft_even": lambda: ([leaf(RE), leaf(IM)], lambda r, i: ops.irfft((r, i))),
    "irfft_odd": lambda: ([leaf(RE), leaf(IM)], lambda r, i: ops.irfft((r, i), 7)),
    "irfft_short": lambda: ([leaf(RE), leaf(IM)], lambda r, i: ops.irfft((r, i), 4)),
    "stft": lambda: ([leaf(SIG[:, :20])],
                     lambda x: ops.concatenate(ops.stft(x, 6, 3, 8))),
    "istft": lambda: ([leaf(RE[:, :, :5]), leaf(IM[:, :, :5])],
                      lambda r, i: ops.istft((r, i), 8, 2, 8)),
    "istft_custom": lambda: ([leaf(RE[:, :, :5]), leaf(IM[:, :, :5])],
                             lambda r, i: ops.istft((r, i), 6, 2, 8, window="hamming")),
    "extract_sequences": lambda: ([leaf(SIG)], lambda x: ops.extract_sequences(x, 7, 4)),
}


@pytest.mark.parametrize("name", sorted(FFT_GRADS))
def test_fft_gradients_finite_differences(name):
    leaves, fn = FFT_GRADS[name]()
    check_grads(lambda: fn(*leaves), leaves, R)


def test_fft_errors():
    with pytest.raises(ValueError, match="tuple of two tensors"):
        ops.fft(RE)
    with pytest.raises(ValueError, match="same shape"):
        ops.fft((RE, IM[:, :2]))
    with pytest.raises(ValueError, match="float"):
        ops.fft((RE.astype(np.int32), IM.astype(np.int32)))
    with pytest.raises(ValueError, match="fft_length=0"):
        ops.rfft(RE, 0)
    with pytest.raises(TypeError, match="x.dtype=int32"):
        ops.stft(SIG.astype(np.int32), 8, 4, 8)
    with pytest.raises(ValueError, match="sequence_length=8, fft_length=4"):
        ops.stft(SIG, 8, 4, 4)
    with pytest.raises(ValueError, match="window='blackman'"):
        ops.stft(SIG, 8, 4, 8, window="blackman")
    with pytest.raises(ValueError, match="window"):
        ops.istft(ops.stft(SIG, 8, 8, 8), 8, 8, 8)  # not invertible, as in PyTorch
    with pytest.raises(ValueError, match="x=2.5"):
        ops.hamming(2.5)


def test_fft_graph_node():
    inputs = fk.Input((16,))
    model = fk.Model(inputs, ops.rfft(inputs))
    out = model(SIG[:, :16])
    want = np.fft.rfft(SIG[:, :16])
    np.testing.assert_allclose(out[0].numpy(), want.real, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[1].numpy(), want.imag, rtol=1e-4, atol=1e-5)
