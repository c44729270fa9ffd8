"""fastkeras._core.gemm and column_sums against numpy, and their argument checks."""

import threading
import time

import numpy as np
import pytest

from fastkeras import _core, config

F32 = np.float32


def reference(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c=None, bias=None,
              activation=None):
    a64 = a.astype(np.float64).T if trans_a else a.astype(np.float64)
    b64 = b.astype(np.float64).T if trans_b else b.astype(np.float64)
    out = alpha * (a64 @ b64)
    if beta:
        out += beta * c.astype(np.float64)
    if bias is not None:
        out += bias
    if activation == "relu":
        out = np.maximum(out, 0)
    return out


def assert_close(got, want, k):
    assert got.dtype == F32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(k, 1) ** 0.5)


@pytest.fixture(params=config.supported_isas())
def isa(request):
    config.set_isa(request.param)
    yield request.param
    config.set_isa("auto")


SHAPES = [(1, 1, 1), (1, 5, 3), (7, 1, 2), (13, 33, 17), (32, 300, 784), (100, 10, 32),
          (65, 129, 257), (3, 700, 5)]


@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matches_numpy(isa, rng, m, n, k, trans_a, trans_b):
    a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=F32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=F32)
    got = _core.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert got.shape == (m, n)
    assert_close(got, reference(a, b, trans_a, trans_b), k)


def test_fused_epilogue_alpha_beta(isa, rng):
    a = rng.standard_normal((37, 50), dtype=F32)
    b = rng.standard_normal((50, 45), dtype=F32)
    c = rng.standard_normal((37, 45), dtype=F32)
    bias = rng.standard_normal(45, dtype=F32)
    want = reference(a, b, alpha=-0.5, beta=1.5, c=c, bias=bias, activation="relu")
    out = c.copy()
    got = _core.gemm(a, b, out, alpha=-0.5, beta=1.5, bias=bias, activation="relu")
    assert got is out or np.shares_memory(got, out)
    assert_close(out, want, 50)
    assert (out >= 0).all()


def test_positional_call_matches_keywords(rng):
    a = rng.standard_normal((20, 30), dtype=F32)
    b = rng.standard_normal((40, 30), dtype=F32)
    bias = rng.standard_normal(40, dtype=F32)
    kw = _core.gemm(a, b, trans_b=True, bias=bias, activation="relu")
    out = np.empty((20, 40), F32)
    _core.gemm(a, b, out, False, True, 1.0, 0.0, bias, "relu")
    np.testing.assert_array_equal(kw, out)


def test_views_are_read_in_place(rng):
    # Row slices with a wider leading dimension, .T views and Fortran-ordered arrays.
    big = rng.standard_normal((50, 60), dtype=F32)
    a = big[5:25, 3:40]          # (20, 37), ld 60
    b = big[10:47, 7:20]         # (37, 13), ld 60
    assert_close(_core.gemm(a, b), reference(a, b), 37)
    bt = np.ascontiguousarray(b.T).T   # a transposed view of a C array
    assert_close(_core.gemm(a, bt), reference(a, b), 37)
    af = np.asfortranarray(a)
    assert_close(_core.gemm(af, b), reference(a, b), 37)
    # trans flag composes with a transposed layout
    assert_close(_core.gemm(af.T, b, trans_a=True), reference(a, b), 37)


def test_out_row_slice(rng):
    a = rng.standard_normal((6, 4), dtype=F32)
    b = rng.standard_normal((4, 5), dtype=F32)
    buf = np.full((6, 9), 7.0, F32)
    _core.gemm(a, b, buf[:, 2:7])
    assert_close(buf[:, 2:7], reference(a, b), 4)
    assert (buf[:, :2] == 7).all() and (buf[:, 7:] == 7).all()


def test_beta_zero_never_reads_out(rng):
    a = rng.standard_normal((9, 8), dtype=F32)
    b = rng.standard_normal((8, 11), dtype=F32)
    out = np.full((9, 11), np.nan, F32)
    _core.gemm(a, b, out)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("m,n,k", [(0, 5, 3), (4, 0, 3), (4, 5, 0), (0, 0, 0), (1, 1, 0)])
def test_empty_dimensions(rng, m, n, k):
    a = rng.standard_normal((m, k), dtype=F32)
    b = rng.standard_normal((k, n), dtype=F32)
    got = _core.gemm(a, b)
    assert got.shape == (m, n)
    np.testing.assert_array_equal(got, np.zeros((m, n), F32))
    # K == 0 with an epilogue: out = relu(beta * out + bias)
    if m and n and not k:
        out = np.full((m, n), -2.0, F32)
        bias = np.arange(n, dtype=F32)
        _core.gemm(a, b, out, beta=0.5, bias=bias, activation="relu")
        np.testing.assert_array_equal(out, np.maximum(-1.0 + bias, 0)[None, :].repeat(m, 0))


def test_column_sums(rng):
    x = rng.standard_normal((33, 301), dtype=F32)
    np.testing.assert_allclose(_core.column_sums(x), x.sum(0), rtol=1e-5, atol=1e-5)
    out = np.ones(301, F32)
    _core.column_sums(x, out, beta=2.0)
    np.testing.assert_allclose(out, 2.0 + x.sum(0), rtol=1e-5, atol=1e-5)
    view = rng.standard_normal((10, 40), dtype=F32)[:, 5:25]
    np.testing.assert_allclose(_core.column_sums(view), view.sum(0), rtol=1e-5, atol=1e-5)


# --- bad input: a clear exception naming the argument, never a crash -------------------------

def test_wrong_dtype_is_type_error():
    a = np.ones((3, 4), np.float64)
    b = np.ones((4, 2), F32)
    with pytest.raises(TypeError, match=r"`a` must be a float32 array, received dtype float64"):
        _core.gemm(a, b)
    with pytest.raises(TypeError, match="`b`"):
        _core.gemm(b.T.copy(), np.ones((4, 2), np.int32))


def test_wrong_rank_and_shape_are_value_errors():
    with pytest.raises(ValueError, match=r"`a` must be 2-D, received an array of shape \(3,\)"):
        _core.gemm(np.ones(3, F32), np.ones((3, 2), F32))
    with pytest.raises(ValueError, match=r"inner dimensions differ: op\(a\) is \(3, 4\) and op\(b\) is \(5, 2\)"):
        _core.gemm(np.ones((3, 4), F32), np.ones((5, 2), F32))
    with pytest.raises(ValueError, match=r"`out` must have shape \(3, 2\), received \(2, 3\)"):
        _core.gemm(np.ones((3, 4), F32), np.ones((4, 2), F32), np.ones((2, 3), F32))
    with pytest.raises(ValueError, match=r"`bias` must have length N=2, received shape \(3,\)"):
        _core.gemm(np.ones((3, 4), F32), np.ones((4, 2), F32), bias=np.ones(3, F32))


def test_bad_strides_are_value_errors():
    x = np.ones((8, 8), F32)[::2, ::2]  # no unit-stride axis
    with pytest.raises(ValueError, match="needs one unit-stride axis"):
        _core.gemm(x, np.ones((4, 4), F32))
    out_t = np.ones((2, 3), F32).T  # column-major out
    with pytest.raises(ValueError, match="`out` must be row-major"):
        _core.gemm(np.ones((3, 4), F32), np.ones((4, 2), F32), out_t)
    bcast = np.broadcast_to(np.ones((1, 4), F32), (3, 4))
    with pytest.raises(ValueError, match="unit-stride"):
        _core.gemm(bcast, np.ones((4, 4), F32))


def test_out_misuse_is_rejected():
    a = np.ones((4, 4), F32)
    with pytest.raises(ValueError, match="shares memory"):
        _core.gemm(a, np.ones((4, 4), F32), a)
    ro = np.ones((4, 4), F32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _core.gemm(a, a, ro)
    with pytest.raises(ValueError, match="`out` must be given"):
        _core.gemm(a, a, beta=1.0)
    with pytest.raises(TypeError, match="`out` must be a float32 numpy array"):
        _core.gemm(a, a, [[0.0] * 4] * 4)


def test_unknown_activation():
    a = np.ones((2, 2), F32)
    with pytest.raises(ValueError, match="`activation` must be 'linear' or 'relu', received 'gelu'"):
        _core.gemm(a, a, activation="gelu")


# --- threads, ISA selection, GIL ----------------------------------------------------------------

def test_thread_count_setting(rng):
    default = config.get_num_threads()
    assert default >= 1
    try:
        config.set_num_threads(1)
        assert config.get_num_threads() == 1
        a = rng.standard_normal((300, 200), dtype=F32)
        b = rng.standard_normal((200, 100), dtype=F32)
        one = _core.gemm(a, b)
        config.set_num_threads(2)
        np.testing.assert_allclose(_core.gemm(a, b), one, rtol=1e-6, atol=1e-6)
    finally:
        config.reset_num_threads()
    assert config.get_num_threads() == default
    with pytest.raises(ValueError, match="received n=0"):
        config.set_num_threads(0)
    with pytest.raises(TypeError, match="received n=2.5"):
        config.set_num_threads(2.5)


def test_thread_count_from_environment():
    import subprocess
    import sys
    code = "import fastkeras; print(fastkeras.config.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "FASTKERAS_NUM_THREADS": "3"})
    assert out.stdout.strip() == "3"


def test_isa_selection():
    isas = config.supported_isas()
    assert isas[0] == "generic"
    assert config.get_isa() == isas[-1]
    with pytest.raises(ValueError, match="received 'sse9'"):
        config.set_isa("sse9")
    for name in ("avx2", "avx512"):
        if name not in isas:
            with pytest.raises(ValueError, match="does not support"):
                config.set_isa(name)


def test_gil_is_released_while_computing(rng):
    a = rng.standard_normal((1024, 1024), dtype=F32)
    b = rng.standard_normal((1024, 1024), dtype=F32)
    ticks = 0
    done = threading.Event()

    def work():
        for _ in range(5):
            _core.gemm(a, b)
        done.set()

    config.set_num_threads(1)
    try:
        t = threading.Thread(target=work)
        t.start()
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)
        t.join()
    finally:
        config.reset_num_threads()
    # 5 products of ~2 GFLOP take tens of milliseconds; with the GIL held the loop would stall.
    assert ticks > 5
