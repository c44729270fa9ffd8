"""The rest of `keras.ops` (fastkeras.ops.numpy_more) and the further activations: Keras 3's
signatures, the values and dtypes real Keras computes, finite-difference-checked gradients,
graph nodes in Functional models and clear errors for bad arguments."""

import inspect

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import GradientTape, Tensor, gradients
from fastkeras.ops.numpy_more import __all__ as MORE
from gradcheck import check_grads, leaf

R = np.random.default_rng(23)


def f32(*shape, low=-2.0, high=2.0):
    return R.uniform(low, high, shape).astype(np.float32)


X3 = f32(2, 3, 5)             # odd sizes, rank 3
X1 = f32(7)
X2 = f32(4, 6)
X4 = f32(2, 4, 6, 3)          # an image batch
XI = R.integers(-9, 10, (3, 4)).astype(np.int32)
XI1 = R.integers(0, 7, (9,)).astype(np.int32)
XB = XI > 0
POS = f32(3, 4, low=0.2, high=3.0)
UNIT = f32(3, 4, low=-0.95, high=0.95)
NANS = np.array([[np.nan, 1.5, -2.0, 0.5], [3.0, np.nan, np.nan, -1.0],
                 [0.25, 2.0, -0.5, 4.0]], np.float32)
V3 = f32(4, 3)
V2 = f32(4, 2)
SORTED = np.sort(f32(8))
IDS = np.array([0, 0, 2, 2, 3, 0], np.int32)
DATA = f32(6, 3)


def test_every_op_has_keras_signature():
    keras3 = pytest.importorskip("keras")
    for name in MORE:
        ours = inspect.signature(getattr(ops, name)).parameters
        theirs = inspect.signature(getattr(keras3.ops, name)).parameters
        assert list(ours) == list(theirs), name
        assert [p.default for p in ours.values()] == [p.default for p in theirs.values()], name
        assert [p.kind for p in ours.values()] == [p.kind for p in theirs.values()], name


def test_module_ops_are_registered():
    for name in MORE:
        assert name in ops.__all__ and callable(getattr(ops, name)), name
    from fastkeras.ops import numpy_more
    from fastkeras.ops.symbolic import _SPECS
    # every op but those taking Python callables or inspecting their argument records a node
    assert set(MORE) - set(numpy_more.NOT_SYMBOLIC) == set(numpy_more.GRAPH_SPECS)
    assert all(_SPECS[name] == spec for name, spec in numpy_more.GRAPH_SPECS.items())


# (op, args, kwargs) computed by fastkeras and by Keras: same shape, dtype and values.
VALUE_CASES = [
    ("stop_gradient", (Tensor(X3),), {}),
    ("hstack", ([X3, X3[:, :1]],), {}), ("hstack", ([X1, XI1],), {}),
    ("hstack", ([XI, XB],), {}), ("hstack", ([XB, XB],), {}),
    ("vstack", ([X2, X2[:1]],), {}), ("vstack", ([X1, X1],), {}), ("vstack", ([XI, XI[:2]],), {}),
    ("dstack", ([X2, X2],), {}), ("dstack", ([X1, X1],), {}), ("dstack", ([X3, XI[:2, :3, None]],), {}),
    ("hsplit", (X2, 3), {}), ("hsplit", (X2, [1, 4]), {}), ("hsplit", (np.arange(6), 3), {}),
    ("vsplit", (X2, 2), {}), ("vsplit", (XI, [1]), {}),
    ("dsplit", (X4, 3), {}), ("dsplit", (X4, [2]), {}),
    ("outer", (X1, X2[0]), {}), ("outer", (XI, XI1), {}), ("outer", (XB[0], XB[1]), {}),
    ("inner", (X3, f32(4, 5)), {}), ("inner", (X1, X1), {}), ("inner", (XI, XI), {}),
    ("inner", (X2, 2.0), {}),
    ("vdot", (X1, X1), {}), ("vdot", (XI1, XI1), {}),
    ("tensordot", (X3, f32(3, 5, 4)), {}), ("tensordot", (X2, X2.T, 1), {}),
    ("tensordot", (X3, V2), {"axes": ([0], [1])}), ("tensordot", (X3, f32(5, 3), ([1, 2], [1, 0])),
                                                    {}),
    ("tensordot", (XI, XI.T, 1), {}), ("tensordot", (X1, X1[:3], 0), {}),
    ("diff", (X3,), {}), ("diff", (X3, 2, 1), {}), ("diff", (XI, 1, 0), {}), ("diff", (XB,), {}),
    ("diff", (X1,), {"n": 3}),
    ("diag", (X1,), {}), ("diag", (X1, 2), {}), ("diag", (X2,), {}), ("diag", (X2, -1), {}),
    ("diag", (XI, 1), {}), ("diagflat", (X2[:2],), {}), ("diagflat", (XI1[:3], -1), {}),
    ("cross", (V3, V3[::-1]), {}), ("cross", (V3.T, V3.T[:, ::-1]), {"axis": 0}),
    ("cross", (V3, V3[:1]), {}), ("cross", (XI.T[:, :3], XI.T[::-1, :3]), {}),
    ("kron", (X2[:2, :3], XI[:2]), {}), ("kron", (X1[:3], X2), {}), ("kron", (XI1[:4], XI1[:2]),
                                                                         {}),
    ("fliplr", (X3,), {}), ("flipud", (XI,), {}), ("fliplr", (XB,), {}),
    ("rot90", (X2,), {}), ("rot90", (X3, 2, (1, 2)), {}), ("rot90", (XI, -1), {}),
    ("rot90", (X3,), {"k": 3, "axes": (2, 0)}),
    ("meshgrid", (X1[:3], X1[3:]), {}), ("meshgrid", (X1[:3], X1[3:]), {"indexing": "ij"}),
    ("select", ([X2 > 0.5, X2 < -1], [X2, -X2]), {}), ("select", ([XB], [XI]), {"default": -1}),
    ("select", ([X2 > 0, X2 < 0], [X2, X2 * 2]), {"default": 0.5}),
    ("isin", (XI, XI1), {}), ("isin", (X2, X2[0]), {"invert": True}),
    ("digitize", (X2, np.array([-1.0, 0.0, 1.5])), {}), ("digitize", (XI, np.array([-3, 0, 4])),
                                                        {}),
    ("searchsorted", (SORTED, X2), {}), ("searchsorted", (SORTED, SORTED[2:5]), {"side": "right"}),
    ("searchsorted", (np.array([1, 3, 3, 7], np.int32), XI), {}),
    ("bincount", (XI1,), {}), ("bincount", (XI1,), {"minlength": 12}),
    ("bincount", (XI1, X1.repeat(2)[:9]), {}), ("bincount", (XI1.reshape(3, 3),), {"minlength": 8}),
    ("bincount", (XI1, XI1), {}),
    ("unravel_index", (XI1, (2, 4)), {}), ("unravel_index", (np.array(5), (3, 2)), {}),
    ("signbit", (np.array([-0.0, 0.0, -1.5, 2.0, -np.inf], np.float32),), {}),
    ("signbit", (XI,), {}),
    ("deg2rad", (X3 * 90,), {}), ("deg2rad", (XI,), {}), ("rad2deg", (X3,), {}),
    ("rad2deg", (XB,), {}),
    ("cbrt", (X3 * 5,), {}), ("cbrt", (XI,), {}),
    ("sinc", (np.array([0.0, 0.5, -1.25, 3.0], np.float32),), {}), ("sinc", (X3,), {}),
    ("sinc", (XI,), {}),
    ("heaviside", (np.array([-1.0, 0.0, 2.0], np.float32), np.float32(0.5)), {}),
    ("heaviside", (XI, XI), {}), ("heaviside", (X2, X2[0]), {}),
    ("erfc", (X3,), {}), ("erfc", (np.array([-5.0, 0.0, 3.0, 9.0], np.float32),), {}),
    ("erfc", (XI,), {}),
    ("erfinv", (UNIT,), {}), ("erfinv", (np.array([-0.999, -0.5, 0.0, 0.9999, 1.0, -1.0],
                                                  np.float32),), {}),
    ("fmod", (X3, 0.7), {}), ("fmod", (-X3, X3[0] + 3.0), {}), ("fmod", (XI, 4), {}),
    ("fmod", (XI, -3), {}),
    ("logaddexp2", (X3, X3[0]), {}), ("logaddexp2", (XI, XI), {}),
    ("logaddexp2", (np.float32(-1000.0), np.float32(-1001.0)), {}),
    ("ldexp", (X2, XI1[:6]), {}), ("ldexp", (XI, XI % 4), {}),
    ("gcd", (XI, XI1[:4]), {}), ("gcd", (XI, 6), {}), ("lcm", (XI, XI1[:4] + 1), {}),
    ("fabs", (X3,), {}), ("fabs", (XI,), {}),
    ("divide_no_nan", (XI, XI1[:4]), {}), ("divide_no_nan", (X2, X2 * (X2 > 0)), {}),
    ("trapezoid", (X3,), {}), ("trapezoid", (X3, None, 0.5, 1), {}),
    ("trapezoid", (X2, np.cumsum(np.abs(X2[0])) , 1.0, 1), {}), ("trapezoid", (XI,), {}),
    ("trapezoid", (X2,), {"x": np.cumsum(np.abs(X2), axis=0), "axis": 0}),
    ("ptp", (X3,), {}), ("ptp", (X3, 1), {}), ("ptp", (X3, (0, 2), True), {}),
    ("ptp", (XI, 0), {}),
    ("quantile", (X3, 0.3), {}), ("quantile", (X3, np.array([0.1, 0.5, 1.0]), 1), {}),
    ("quantile", (X3, 0.75, (0, 2), "linear", True), {}), ("quantile", (XI, 0.5, 0), {}),
    ("quantile", (X2, np.array([0.0, 0.3, 0.65]), -1), {"method": "lower"}),
    ("quantile", (X2, np.array([0.0, 0.3, 0.65]), -1), {"method": "higher"}),
    ("quantile", (X2, np.array([0.0, 0.3, 0.65]), -1), {"method": "midpoint"}),
    ("quantile", (X2, np.array([0.1, 0.3, 0.7]), -1), {"method": "nearest"}),
    ("percentile", (X3, 30.0), {}), ("percentile", (X3, np.array([25.0, 50.0]), 2), {}),
    ("percentile", (XI, 90, 1, "linear", True), {}),
    ("nansum", (NANS,), {}), ("nansum", (NANS, 1), {}), ("nansum", (XI, 0), {}),
    ("nansum", (XB,), {}),
    ("nanmean", (NANS,), {}), ("nanmean", (NANS, 0), {}), ("nanmean", (XI, 1, True), {}),
    ("nanmax", (NANS, 1), {}), ("nanmax", (NANS,), {}), ("nanmax", (XI, 0), {}),
    ("nanmin", (NANS, 0, True), {}), ("nanmin", (X3,), {"axis": (0, 2)}),
    ("nanprod", (NANS, 1), {}), ("nanprod", (NANS,), {}), ("nanprod", (XI, 0), {}),
    ("nanstd", (NANS, 1), {}), ("nanstd", (X3,), {}), ("nanvar", (NANS, 0), {}),
    ("nanvar", (XI, 1), {}),
    ("nanargmax", (NANS, 1), {}), ("nanargmax", (NANS,), {}), ("nanargmin", (NANS, 0), {}),
    ("nanargmin", (XI, 1, True), {}),
    ("nancumsum", (NANS, 1), {}), ("nancumsum", (NANS,), {}), ("nancumsum", (XI, 0), {}),
    ("nancumprod", (NANS, 0), {}), ("nancumprod", (XB, 1), {}),
    ("nanmedian", (NANS, 1), {}), ("nanmedian", (NANS,), {}), ("nanmedian", (X3, (0, 2)), {}),
    ("nanmedian", (XI, 0, True), {}),
    ("isneginf", (np.array([-np.inf, np.inf, np.nan, 1.0], np.float32),), {}),
    ("isposinf", (np.array([-np.inf, np.inf, np.nan, 1.0], np.float32),), {}),
    ("isposinf", (XI,), {}), ("isreal", (X2,), {}), ("isreal", (XI,), {}),
    ("real", (X2,), {}), ("real", (XI,), {}), ("conj", (X2,), {}), ("conjugate", (XB,), {}),
    ("logspace", (0, 2, 5), {}), ("logspace", (0.0, 3.0, 4), {"base": 2, "endpoint": False}),
    ("logspace", (0, 2, 5), {"dtype": "int32"}),
    ("geomspace", (1, 100, 5), {}), ("geomspace", (2.0, 64.0, 6), {"endpoint": False}),
    ("vander", (X1[:4],), {}), ("vander", (X1[:4], 3, True), {}), ("vander", (XI1[:5],), {}),
    ("corrcoef", (X2,), {}), ("corrcoef", (XI,), {}), ("corrcoef", (X1,), {}),
    ("correlate", (X1, X1[:3]), {}), ("correlate", (X1, X1[:3]), {"mode": "same"}),
    ("correlate", (X1, X1[:4]), {"mode": "full"}), ("correlate", (X1[:3], X1), {}),
    ("correlate", (X1[:3], X1), {"mode": "full"}), ("correlate", (XI1, XI1[:2]), {}),
    ("histogram", (X1,), {}), ("histogram", (X2.ravel(), 4), {}),
    ("histogram", (X2.ravel(), 5, (-1.0, 1.0)), {}),
    ("bitwise_and", (XI, XI1[:4]), {}), ("bitwise_or", (XI, 5), {}),
    ("bitwise_xor", (XB, XB.T[:3, :4] if XB.shape == (4, 3) else ~XB), {}),
    ("bitwise_and", (XI, XB), {}), ("bitwise_not", (XI,), {}), ("bitwise_invert", (XB,), {}),
    ("bitwise_left_shift", (XI1, 2), {}), ("bitwise_right_shift", (XI1 * 16, XI1 % 3), {}),
    ("left_shift", (XI, np.int32(1)), {}), ("right_shift", (XI1, 1), {}),
    ("array", ([1, 2, 3],), {}), ("array", ([1.5, 2.0],), {}), ("array", (X2,), {}),
    ("array", (X2.astype(np.float64),), {}), ("array", (XI,), {"dtype": "float32"}),
    ("segment_sum", (DATA, IDS), {}), ("segment_sum", (DATA, IDS, 6), {}),
    ("segment_sum", (DATA[:, 0], IDS), {"num_segments": 3}),
    ("segment_sum", (XI1[:6], IDS), {}),
    ("segment_max", (DATA, IDS, 5), {}), ("segment_max", (XI1[:6], IDS), {}),
    ("segment_min", (DATA, IDS, 5), {}), ("segment_min", (DATA[:, 1], IDS), {}),
    ("segment_prod", (DATA, IDS, 5), {}), ("segment_prod", (XI1[:6], IDS), {}),
    ("scatter", (np.array([[0], [2], [0]]), np.array([1.0, 2.0, 3.0], np.float32), (4,)), {}),
    ("scatter", (np.array([[0, 1], [1, 1], [0, 1]]), X1[:3], (2, 3)), {}),
    ("scatter", (np.array([[1], [0]]), XI[:2], (3, 4)), {}),
    ("scatter_update", (X2, np.array([[0], [2]]), f32(2, 6)), {}),
    ("scatter_update", (X2, np.array([[0, 1], [3, 5]]), np.array([9.0, -9.0], np.float32)), {}),
    ("scatter_update", (XI, np.array([[1, 1]]), np.array([100], np.int32)), {}),
    ("scatter_update", (X2, np.array([[0, 1], [0, 1], [2, 2]]),
                        np.array([1.0, 5.0, 2.0], np.float32)), {"reduction": "add"}),
    ("scatter_update", (X2, np.array([[0, 1], [0, 1], [2, 2]]),
                        np.array([1.0, -5.0, -2.0], np.float32)), {"reduction": "max"}),
    ("scatter_update", (X2, np.array([[0, 1], [0, 1], [2, 2]]),
                        np.array([1.0, -5.0, 2.0], np.float32)), {"reduction": "min"}),
    ("scatter_update", (X2, np.array([[0, 1], [0, 1], [2, 2]]),
                        np.array([1.5, -5.0, 2.0], np.float32)), {"reduction": "mul"}),
    ("saturate_cast", (np.array([-300.0, 3.5, 300.0, -1.5], np.float32), "uint8"), {}),
    ("saturate_cast", (np.array([-300, 3, 300], np.int32), "int8"), {}),
    ("saturate_cast", (X2 * 1e5, "int16"), {}),
    ("saturate_cast", (np.array([1e39, -1e39, 2.5]), "float32"), {}),
    ("in_top_k", (np.array([1, 0, 2]), np.array([[0.1, 0.9, 0.5], [0.3, 0.3, 0.2],
                                                  [0.5, 0.4, 0.1]], np.float32), 1), {}),
    ("in_top_k", (np.array([3, 0, 1, 2]), X2[:, :4], 2), {}),
    ("multi_hot", (np.array([[0, 2], [1, 1]]), 4), {}), ("multi_hot", (np.array([0, 3]), 5), {}),
    ("multi_hot", (np.array([[0, 2], [1, 1]]), 4), {"axis": 0}),
    ("multi_hot", (XI1.reshape(3, 3), 7), {"dtype": "int32"}),
    ("space_to_depth", (X4, 2), {}), ("depth_to_space", (f32(2, 2, 3, 8), 2), {}),
    ("space_to_depth", (np.moveaxis(X4, 3, 1).copy(), 2), {"data_format": "channels_first"}),
    ("depth_to_space", (f32(2, 8, 2, 3), 2), {"data_format": "channels_first"}),
    ("celu", (X3,), {}), ("celu", (X3, 0.5), {}), ("glu", (X2,), {}), ("glu", (X2, 0), {}),
    ("hard_shrink", (X3,), {}), ("hard_shrink", (X3, 1.0), {}), ("hard_tanh", (X3,), {}),
    ("hard_tanh", (XI,), {}), ("soft_shrink", (X3,), {}), ("soft_shrink", (X3, 1.2), {}),
    ("tanh_shrink", (X3,), {}), ("tanh_shrink", (XI,), {}), ("sparse_plus", (X3,), {}),
    ("sparse_plus", (XI,), {}), ("sparse_sigmoid", (X3,), {}), ("sparse_sigmoid", (XB,), {}),
    ("squareplus", (X3,), {}), ("squareplus", (X3, 0.5), {}), ("squareplus", (XI,), {}),
    ("threshold", (X3, 0.3, -1.0), {}), ("threshold", (XI, 2, 0), {}),
    ("sparsemax", (X3,), {}), ("sparsemax", (X3 * 3, 1), {}), ("sparsemax", (XI,), {}),
]

# Keras's PyTorch backend departs from its own spec or from numpy here: numpy is the
# reference (float64 results for float64 inputs, imag of real inputs, 2-vectors and separate
# vector axes in cross, vdot of 2-D inputs, meshgrid of mixed dtypes or three 'xy' inputs,
# correlate "same" with a longer x2, saturate_cast of int32 to float32, bincount of rows
# without a common length).
X64 = X2.astype(np.float64)
T64 = Tensor(X64)
NUMPY_CASES = [
    ("inner", (T64, T64), {}, np.inner(X64, X64)),
    ("nanmean", (T64,), {}, np.nanmean(X64)),
    ("correlate", (T64[0], T64[1, :3]), {}, np.correlate(X64[0], X64[1, :3])),
    ("logspace", (np.array([0.0, 1.0]), np.array([2.0, 3.0]), 3), {"axis": 1},
     np.logspace([0.0, 1.0], [2.0, 3.0], 3, axis=1).astype(np.float32)),
    ("geomspace", (np.array([1.0, 2.0]), np.array([8.0, 32.0]), 4), {"axis": 1},
     np.geomspace([1.0, 2.0], [8.0, 32.0], 4, axis=1).astype(np.float32)),
    ("meshgrid", (X1[:2], X1[2:5], X1[5:]), {"indexing": "ij"},
     np.meshgrid(X1[:2], X1[2:5], X1[5:], indexing="ij")),
    ("vdot", (X2, X2), {}, np.vdot(X2, X2)),
    ("imag", (X2,), {}, np.zeros_like(X2)),
    ("cross", (V2, V2[::-1]), {}, V2[:, 0] * V2[::-1, 1] - V2[:, 1] * V2[::-1, 0]),
    ("cross", (V2, V3), {}, np.cross(np.pad(V2, ((0, 0), (0, 1))), V3)),
    ("cross", (V3, V3.T[:, ::-1]), {"axisb": 0, "axisc": 0},
     np.cross(V3, V3.T[:, ::-1], axisb=0, axisc=0)),
    ("meshgrid", (X1[:3], XI1[:2]), {}, np.meshgrid(X1[:3], XI1[:2])),
    ("meshgrid", (XI1[:2], XI1[2:5], XI1[5:]), {}, np.meshgrid(XI1[:2], XI1[2:5], XI1[5:])),
    ("correlate", (X1[:3], X1[:6]), {"mode": "same"}, np.correlate(X1[:3], X1[:6], "same")),
    ("correlate", (X1[:2], X1[:6]), {"mode": "same"}, np.correlate(X1[:2], X1[:6], "same")),
    ("correlate", (X1[:4], X1[:7]), {"mode": "valid"}, np.correlate(X1[:4], X1[:7])),
    ("saturate_cast", (XI, "float32"), {}, XI.astype(np.float32)),
    ("bincount", (XI1.reshape(3, 3),), {},
     np.stack([np.bincount(r, minlength=XI1.max() + 1) for r in XI1.reshape(3, 3)])
     .astype(np.int32)),
    ("histogram", (XI1,), {"bins": 3}, tuple(a.astype(np.float32)
                                             for a in np.histogram(XI1, bins=3))),
]


def _as_np(v, keras3):
    if isinstance(v, Tensor):
        return v.numpy()
    if isinstance(v, (int, float, bool, np.ndarray, np.generic)):
        return np.asarray(v)
    return np.asarray(keras3.ops.convert_to_numpy(v))


def _compare(ours, theirs, keras3, name, rtol=1e-5, atol=1e-6, check_dtype=True):
    if isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(theirs), name
        for o, t in zip(ours, theirs):
            _compare(o, t, keras3, name, rtol, atol, check_dtype)
        return
    o, t = _as_np(ours, keras3), _as_np(theirs, keras3)
    assert o.shape == t.shape, f"{name}: shape {o.shape} != Keras {t.shape}"
    if check_dtype:
        assert o.dtype == t.dtype, f"{name}: dtype {o.dtype} != Keras {t.dtype}"
    np.testing.assert_allclose(o.astype(np.float64), t.astype(np.float64), rtol=rtol, atol=atol,
                               equal_nan=True, err_msg=name)


def _keras_args(keras3, name, args):
    # Keras's torch backend needs tensors (not numpy arrays) for these two.
    if name in ("stop_gradient",):
        return tuple(keras3.ops.convert_to_tensor(np.asarray(a)) for a in args)
    return args


@pytest.mark.parametrize("i", range(len(VALUE_CASES)))
def test_values_and_dtypes_match_keras(i):
    keras3 = pytest.importorskip("keras")
    name, args, kwargs = VALUE_CASES[i]
    ours = getattr(ops, name)(*args, **kwargs)
    theirs = getattr(keras3.ops, name)(*_keras_args(keras3, name, args), **kwargs)
    label = f"{name}{args if len(str(args)) < 80 else ''} {kwargs}"
    rtol, atol = (1e-4, 1e-5) if name in ("erfinv", "corrcoef", "logspace") else (1e-5, 1e-6)
    _compare(ours, theirs, keras3, label, rtol=rtol, atol=atol)


@pytest.mark.parametrize("i", range(len(NUMPY_CASES)))
def test_values_where_keras_torch_departs_from_numpy(i):
    name, args, kwargs, want = NUMPY_CASES[i]
    out = getattr(ops, name)(*args, **kwargs)
    outs, wants = (out, want) if isinstance(want, (list, tuple)) else ((out,), (want,))
    for o, w in zip(outs, wants):
        o = o.numpy()
        assert o.shape == np.shape(w) and o.dtype == np.asarray(w).dtype, name
        np.testing.assert_allclose(o, w, rtol=1e-6, atol=1e-6, err_msg=name)


def test_unstack_and_nonzero_match_keras():
    keras3 = pytest.importorskip("keras")
    for args, kwargs in (((X3,), {}), ((X3,), {"axis": 2}), ((XI,), {"num": 4, "axis": -1})):
        ours = ops.unstack(*args, **kwargs)
        theirs = keras3.ops.unstack(keras3.ops.convert_to_tensor(args[0]), **kwargs)
        _compare(list(ours), list(theirs), keras3, f"unstack {kwargs}")
    for x in (XI, XB, X3 > 0.5, X1):
        ours = ops.nonzero(x)
        theirs = keras3.ops.convert_to_numpy(keras3.ops.nonzero(x))  # torch: stacked rows
        assert isinstance(ours, tuple) and len(ours) == x.ndim
        for o, t, n in zip(ours, theirs, np.nonzero(x)):
            assert o.dtype == np.int32
            np.testing.assert_array_equal(o.numpy(), t)
            np.testing.assert_array_equal(o.numpy(), n)


def test_argpartition_partitions_like_keras():
    keras3 = pytest.importorskip("keras")
    for x, kth, axis in ((X1, 3, -1), (X3, 2, 1), (XI, 0, 0), (X2, -2, -1)):
        idx = ops.argpartition(x, kth, axis=axis)
        assert idx.dtype == np.int32 and idx.shape == x.shape
        results = [idx.numpy()]
        # (Keras's torch backend partitions other axes than the last one wrongly and takes
        # no negative kth.)
        if axis == -1 and kth >= 0:
            results.append(keras3.ops.convert_to_numpy(keras3.ops.argpartition(x, kth)))
        # The arrangement within each side is unspecified: compare the partition property.
        for ix in results:
            part = np.take_along_axis(x, ix.astype(np.int64), axis=axis)
            ref = np.sort(x, axis=axis)
            k = kth % x.shape[axis]
            np.testing.assert_array_equal(np.take(part, k, axis), np.take(ref, k, axis))
            kept = np.take(part, [k], axis)
            assert np.all(np.take(part, range(k), axis) <= kept)
            assert np.all(np.take(part, range(k + 1, x.shape[axis]), axis) >= kept)


def test_empty_like_shape_and_dtype():
    for x in (XI, X3, XB):
        out = ops.empty_like(x)
        assert out.shape == x.shape and out.dtype == x.dtype
    assert ops.empty_like(XI, dtype="float64").dtype == np.float64


def test_dtype_is_tensor_and_array():
    keras3 = pytest.importorskip("keras")
    for x in (X2, XI, XB, X2.astype(np.float64), XI.astype(np.uint8)):
        assert ops.dtype(x) == keras3.ops.dtype(x)
        assert ops.dtype(ops.array(x)) == keras3.ops.dtype(keras3.ops.array(x))
    assert ops.dtype(fk.Input((3,))) == "float32"
    assert ops.is_tensor(ops.array(X2)) and not ops.is_tensor(X2)
    assert not ops.is_tensor(fk.Variable(X2)) and not ops.is_tensor(fk.Input((3,)))
    assert keras3.ops.is_tensor(keras3.ops.array(X2)) and not keras3.ops.is_tensor(X2)
    a = np.ones(3, np.float32)
    arr = ops.array(a)
    a[0] = 5.0
    assert arr.numpy()[0] == 1.0  # a copy


def test_dtypes_follow_keras_rules():
    assert ops.deg2rad(XI).dtype == np.float32 and ops.cbrt(T64).dtype == np.float64
    assert ops.hstack([XI, X2[:3, :2]]).dtype == np.float32
    assert ops.hstack([XI, XI.astype(np.int8)]).dtype == np.int32
    assert ops.outer(XB, XB).dtype == bool and ops.diff(XI).dtype == np.int32
    assert ops.gcd(XI, 4).dtype == np.int32 and ops.gcd(XI.astype(np.int8), 4).dtype == np.int8
    assert ops.fmod(XI, 2.5).dtype == np.float32 and ops.divide_no_nan(XI, XI).dtype == np.float32
    assert ops.nansum(XB).dtype == np.int32 and ops.nanmean(XI).dtype == np.float32
    assert ops.nanargmax(X2).dtype == np.int32 and ops.digitize(X2, [0.0]).dtype == np.int32
    # float64 tensors keep their precision
    x64 = Tensor(X64)
    for name in ("sinc", "erfc", "erfinv", "cbrt", "nanmean", "nanstd", "ptp", "trapezoid",
                 "nanmedian", "celu", "sparsemax", "squareplus", "corrcoef", "fabs"):
        arg = ops.multiply(x64, 0.3) if name == "erfinv" else x64
        assert getattr(ops, name)(arg).dtype == np.float64, name
    for name in ("outer", "kron", "inner", "fmod", "logaddexp2", "heaviside", "divide_no_nan"):
        assert getattr(ops, name)(x64, x64).dtype == np.float64, name
    assert ops.quantile(x64, 0.5).dtype == np.float64
    assert ops.tensordot(x64, x64.value.T, 1).dtype == np.float64


def test_control_flow_matches_keras():
    keras3 = pytest.importorskip("keras")
    K = keras3.ops
    x = np.float32(2.0)
    for pred in (True, False):
        _compare(ops.cond(pred, lambda: ops.multiply(x, 3.0), lambda: ops.add(x, 1.0)),
                 K.cond(pred, lambda: K.multiply(x, 3.0), lambda: K.add(x, 1.0)), keras3, "cond")
    branches = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b]
    bk = [lambda a, b: K.add(a, b), lambda a, b: K.subtract(a, b), lambda a, b: K.multiply(a, b)]
    for i in (-1, 0, 1, 2, 7):
        _compare(ops.switch(i, branches, Tensor(X1), Tensor(X1 * 2)),
                 K.switch(i, bk, K.convert_to_tensor(X1), K.convert_to_tensor(X1 * 2)), keras3,
                 f"switch {i}")
    _compare(ops.fori_loop(0, 5, lambda i, v: ops.add(v, i), Tensor(X1)),
             K.fori_loop(0, 5, lambda i, v: K.add(v, i), K.convert_to_tensor(X1)), keras3,
             "fori_loop")
    ours = ops.while_loop(lambda a, b: ops.less(ops.sum(a), 40.0),
                          lambda a, b: (ops.multiply(a, 2.0), ops.add(b, 1)),
                          (Tensor(np.abs(X1)), 0.0))
    theirs = K.while_loop(lambda a, b: K.less(K.sum(a), 40.0),
                          lambda a, b: (K.multiply(a, 2.0), K.add(b, 1)), (np.abs(X1), 0.0))
    _compare(list(ours), list(theirs), keras3, "while_loop")
    assert float(ops.while_loop(lambda i: i < 10, lambda i: i + 1, 0)) == 10
    assert int(_as_np(ops.while_loop(lambda i: ops.less(i, 100), lambda i: ops.add(i, 1), 0,
                                     maximum_iterations=7), keras3)) == 7

    def step(c, v):
        c = c + v
        return c, c * 2.0

    for kwargs in ({}, {"reverse": True}):
        _compare(list(ops.scan(step, Tensor(np.zeros(3, np.float32)), Tensor(X2[:, :3]),
                               **kwargs)),
                 list(K.scan(step, K.zeros(3), K.convert_to_tensor(X2[:, :3]), **kwargs)),
                 keras3, f"scan {kwargs}")
    _compare(ops.scan(lambda c, _: (ops.add(c, 1.0), None), Tensor(np.float32(0.0)),
                      length=4)[0],
             K.scan(lambda c, _: (K.add(c, 1.0), None), K.convert_to_tensor(0.0), length=4)[0],
             keras3, "scan length")
    _compare(ops.map(lambda r: ops.sum(ops.square(r)), Tensor(X2)),
             K.map(lambda r: K.sum(K.square(r)), K.convert_to_tensor(X2)), keras3, "map")
    _compare(ops.map(lambda d: ops.add(d["a"], d["b"]), {"a": X2, "b": X2 * 2}),
             K.map(lambda d: K.add(d["a"], d["b"]),
                   {"a": K.convert_to_tensor(X2), "b": K.convert_to_tensor(X2 * 2)}),
             keras3, "map dict")
    _compare(ops.vectorized_map(lambda r: ops.max(r), Tensor(X3)),
             K.vectorized_map(lambda r: K.max(r), K.convert_to_tensor(X3)), keras3,
             "vectorized_map")
    for kwargs in ({}, {"reverse": True}, {"axis": 1}):
        _compare(ops.associative_scan(lambda a, b: ops.add(a, b), Tensor(X3), **kwargs),
                 K.associative_scan(lambda a, b: K.add(a, b), K.convert_to_tensor(X3),
                                    **kwargs), keras3, f"associative_scan {kwargs}")
    _compare(ops.associative_scan(lambda a, b: ops.maximum(a, b), Tensor(X2), axis=1),
             K.associative_scan(lambda a, b: K.maximum(a, b), K.convert_to_tensor(X2), axis=1),
             keras3, "associative_scan max")


def test_control_flow_gradients_flow_through_user_functions():
    x = leaf(R.uniform(0.5, 1.5, (3,)))
    rng = np.random.default_rng(3)
    check_grads(lambda: ops.cond(True, lambda: ops.multiply(x, x), lambda: x), [x], rng)
    check_grads(lambda: ops.switch(1, [ops.exp, ops.sin], x), [x], rng)
    check_grads(lambda: ops.fori_loop(0, 3, lambda i, v: ops.multiply(v, x), x), [x], rng)
    check_grads(lambda: ops.while_loop(lambda v, i: i < 3,
                                       lambda v, i: (ops.multiply(v, x), i + 1), (x, 0))[0],
                [x], rng)
    xs = leaf(R.uniform(-1, 1, (4, 3)))
    check_grads(lambda: ops.scan(lambda c, v: (ops.add(ops.multiply(c, 0.5), v), ops.sin(c)),
                                 x, xs)[1], [x, xs], rng)
    check_grads(lambda: ops.map(lambda r: ops.multiply(r, r), xs), [xs], rng)
    check_grads(lambda: ops.vectorized_map(ops.sin, xs), [xs], rng)
    check_grads(lambda: ops.associative_scan(ops.multiply, xs, axis=1), [xs], rng)
    check_grads(lambda: ops.associative_scan(ops.add, xs, reverse=True), [xs], rng)


# ---------------------------------------------------------------------------------------------
# gradients: tape gradients of sum(op * w) against central differences, float64 leaves

def _any(shape, low=-2.0, high=2.0):
    return leaf(R.uniform(low, high, shape))


def _pos(shape, low=0.3, high=2.5):
    return leaf(R.uniform(low, high, shape))


def _distinct(shape):
    n = int(np.prod(shape))
    return leaf((R.permutation(n) * 0.37 - n * 0.15).reshape(shape))


def _kinked(shape, kinks, low=-2.0, high=2.0):
    from gradcheck import away_from
    return leaf(away_from(R, shape, kinks, 0.05, low, high))


def _with_nans(shape):
    v = R.uniform(-2, 2, shape)
    v[R.random(shape) < 0.25] = np.nan
    v.reshape(-1)[0] = 0.7  # no all-NaN slices
    v[..., 0] = R.uniform(0.5, 1.5, v.shape[:-1])
    return leaf(v)


GRAD_CASES = {
    "stop_gradient": None,  # no gradient, checked below
    "hstack": lambda: ([_any((2, 3)), _any((2, 1))], lambda a, b: ops.hstack([a, b])),
    "vstack": lambda: ([_any((3,)), _any((2, 3))], lambda a, b: ops.vstack([a, b])),
    "dstack": lambda: ([_any((2, 3)), _any((2, 3, 2))], lambda a, b: ops.dstack([a, b])),
    "hsplit": lambda: ([_any((2, 6))], lambda x: ops.hsplit(x, [1, 4])[1]),
    "vsplit": lambda: ([_any((4, 3))], lambda x: ops.vsplit(x, 2)[1]),
    "dsplit": lambda: ([_any((2, 2, 4))], lambda x: ops.dsplit(x, 2)[0]),
    "outer": lambda: ([_any((3,)), _any((2, 2))], ops.outer),
    "inner": lambda: ([_any((2, 3)), _any((4, 3))], ops.inner),
    "vdot": lambda: ([_any((2, 3)), _any((6,))], ops.vdot),
    "tensordot": lambda: ([_any((2, 3, 4)), _any((4, 3, 2))],
                          lambda a, b: ops.tensordot(a, b, ([1, 2], [1, 0]))),
    "tensordot_int_axes": lambda: ([_any((2, 3)), _any((3, 4))], lambda a, b: ops.tensordot(
        a, b, 1)),
    "diff": lambda: ([_any((3, 5))], lambda x: ops.diff(x, 2, axis=1)),
    "diag": lambda: ([_any((4,))], lambda x: ops.diag(x, 1)),
    "diag_2d": lambda: ([_any((3, 4))], lambda x: ops.diag(x, -1)),
    "diagflat": lambda: ([_any((2, 2))], ops.diagflat),
    "cross": lambda: ([_any((4, 3)), _any((3,))], ops.cross),
    "cross_axes": lambda: ([_any((3, 2)), _any((2, 3))],
                           lambda a, b: ops.cross(a, b, axisa=0, axisc=0)),
    "cross_2d": lambda: ([_any((4, 2)), _any((4, 3))], ops.cross),
    "kron": lambda: ([_any((2, 3)), _any((2, 2))], ops.kron),
    "fliplr": lambda: ([_any((2, 3, 2))], ops.fliplr),
    "flipud": lambda: ([_any((3, 2))], ops.flipud),
    "rot90": lambda: ([_any((2, 3, 4))], lambda x: ops.rot90(x, 3, (2, 0))),
    "meshgrid": lambda: ([_any((3,)), _any((2,)), _any((4,))],
                         lambda a, b, c: ops.stack(ops.meshgrid(a, b, c), axis=0)),
    "unstack": lambda: ([_any((3, 4))], lambda x: ops.unstack(x, axis=1)[2]),
    "select": lambda: ([_any((3, 4)), _any((3, 4)), _any((4,))], lambda a, b, d: ops.select(
        [X2[:3, :4] > 0.5, X2[:3, :4] < -0.5], [a, b], d)),
    "deg2rad": lambda: ([_any((3, 4))], ops.deg2rad),
    "rad2deg": lambda: ([_any((3, 4))], ops.rad2deg),
    "cbrt": lambda: ([_kinked((3, 4), (0.0,), -3, 3)], ops.cbrt),
    "sinc": lambda: ([_any((3, 4))], ops.sinc),
    "heaviside": lambda: ([_kinked((3, 4), (0.0,)), _any((3, 4))],
                          lambda a, b: ops.heaviside(a, b)),
    "erfc": lambda: ([_any((3, 4))], ops.erfc),
    "erfinv": lambda: ([_any((3, 4), -0.9, 0.9)], ops.erfinv),
    "fmod": lambda: ([leaf(np.array([[0.3, 1.9, -2.2], [2.7, -0.6, 1.1]])),
                      leaf(np.array([0.7, -0.8, 1.3]))], ops.fmod),
    "logaddexp2": lambda: ([_any((3, 4)), _any((4,))], ops.logaddexp2),
    "ldexp": lambda: ([_any((3, 4))], lambda x: ops.ldexp(x, XI[:, :4] % 5 - 2)),
    "fabs": lambda: ([_kinked((3, 4), (0.0,))], ops.fabs),
    "divide_no_nan": lambda: ([_any((3, 4)), leaf(np.array([0.5, 0.7, -1.3, 2.0]))],
                              ops.divide_no_nan),
    "trapezoid": lambda: ([_any((3, 5))], lambda y: ops.trapezoid(y, dx=0.3)),
    "trapezoid_x": lambda: ([_any((3, 5)), _any((5,))], lambda y, x: ops.trapezoid(y, x)),
    "ptp": lambda: ([_distinct((3, 4))], lambda x: ops.ptp(x, axis=1)),
    "quantile": lambda: ([_distinct((3, 5))], lambda x: ops.quantile(x, [0.3, 0.8], axis=1)),
    "quantile_methods": lambda: ([_distinct((2, 6))], lambda x: ops.concatenate(
        [ops.quantile(x, 0.45, axis=1, method=m) for m in
         ("lower", "higher", "midpoint", "nearest")], axis=0)),
    "percentile": lambda: ([_distinct((2, 3, 4))],
                           lambda x: ops.percentile(x, 35.0, axis=(0, 2), keepdims=True)),
    "nansum": lambda: ([_with_nans((3, 4))], lambda x: ops.nansum(x, axis=1)),
    "nanmean": lambda: ([_with_nans((3, 4))], lambda x: ops.nanmean(x, axis=1)),
    "nanmax": lambda: ([_with_nans((3, 4))], lambda x: ops.nanmax(x, axis=1)),
    "nanmin": lambda: ([_with_nans((3, 4))], lambda x: ops.nanmin(x, axis=1)),
    "nanprod": lambda: ([_with_nans((3, 4))], lambda x: ops.nanprod(x, axis=1)),
    "nanstd": lambda: ([_with_nans((3, 4))], lambda x: ops.nanstd(x, axis=1)),
    "nanvar": lambda: ([_with_nans((3, 4))], lambda x: ops.nanvar(x, axis=1)),
    "nancumsum": lambda: ([_with_nans((3, 4))], lambda x: ops.nancumsum(x, axis=1)),
    "nancumprod": lambda: ([_with_nans((3, 4))], lambda x: ops.nancumprod(x, axis=1)),
    "nanmedian": lambda: ([_with_nans((3, 5))], lambda x: ops.nanmedian(x, axis=1)),
    "real": lambda: ([_any((3, 4))], ops.real),
    "conj": lambda: ([_any((3, 4))], ops.conj),
    "conjugate": lambda: ([_any((3, 4))], ops.conjugate),
    "vander": lambda: ([_any((4,))], lambda x: ops.vander(x, 4)),
    "corrcoef": lambda: ([_any((3, 5))], ops.corrcoef),
    "correlate": lambda: ([_any((6,)), _any((3,))], lambda a, b: ops.correlate(a, b, "full")),
    "correlate_same": lambda: ([_any((3,)), _any((5,))],
                               lambda a, b: ops.correlate(a, b, "same")),
    "segment_sum": lambda: ([_any((6, 3))], lambda d: ops.segment_sum(d, IDS, 5)),
    "segment_max": lambda: ([_distinct((6, 3))], lambda d: ops.segment_max(d, [0, 1, 2, 2, 1, 0])),
    "segment_min": lambda: ([_distinct((6, 3))], lambda d: ops.segment_min(d, [0, 1, 2, 2, 1, 0])),
    "segment_prod": lambda: ([_any((6, 3))], lambda d: ops.segment_prod(d, IDS)),
    "segment_prod_with_zero": lambda: ([leaf(np.array([0.0, 2.0, 0.0, 3.0, 1.5, -1.0]))],
                                       lambda d: ops.segment_prod(d, IDS)),
    "scatter": lambda: ([_any((3, 2))], lambda v: ops.scatter([[0], [2], [0]], v, (4, 2))),
    "scatter_update": lambda: ([_any((4, 3)), _any((3, 3))], lambda x, u: ops.scatter_update(
        x, [[0], [2], [0]], u)),
    "scatter_update_add": lambda: ([_any((4, 3)), _any((3,))], lambda x, u: ops.scatter_update(
        x, [[0, 1], [2, 2], [0, 1]], u, reduction="add")),
    "scatter_update_max": lambda: ([_distinct((4, 3)), leaf(np.array([9.0, -9.0, 5.0]))],
                                   lambda x, u: ops.scatter_update(
                                       x, [[0, 1], [2, 2], [3, 0]], u, reduction="max")),
    "scatter_update_mul": lambda: ([_any((4, 3)), _any((3,))], lambda x, u: ops.scatter_update(
        x, [[0, 1], [2, 2], [0, 1]], u, reduction="mul")),
    "saturate_cast": lambda: ([_any((3, 4))], lambda x: ops.saturate_cast(x, "float64")),
    "space_to_depth": lambda: ([_any((1, 4, 2, 3))], lambda x: ops.space_to_depth(x, 2)),
    "depth_to_space": lambda: ([_any((1, 8, 2, 1))], lambda x: ops.depth_to_space(
        x, 2, "channels_first")),
    "celu": lambda: ([_kinked((3, 4), (0.0,))], lambda x: ops.celu(x, 0.7)),
    "glu": lambda: ([_any((3, 4))], lambda x: ops.glu(x, axis=1)),
    "hard_shrink": lambda: ([_kinked((3, 4), (-0.5, 0.5))], ops.hard_shrink),
    "hard_tanh": lambda: ([_kinked((3, 4), (-1.0, 1.0))], ops.hard_tanh),
    "soft_shrink": lambda: ([_kinked((3, 4), (-0.5, 0.5))], ops.soft_shrink),
    "tanh_shrink": lambda: ([_any((3, 4))], ops.tanh_shrink),
    "sparse_plus": lambda: ([_kinked((3, 4), (-1.0, 1.0))], ops.sparse_plus),
    "sparse_sigmoid": lambda: ([_kinked((3, 4), (-1.0, 1.0))], ops.sparse_sigmoid),
    "squareplus": lambda: ([_any((3, 4))], lambda x: ops.squareplus(x, 2.0)),
    "threshold": lambda: ([_kinked((3, 4), (0.2,))], lambda x: ops.threshold(x, 0.2, -3.0)),
    "sparsemax": lambda: ([_distinct((3, 5))], lambda x: ops.sparsemax(x * 0.3, axis=1)),
}
GRAD_CASES = {k: v for k, v in GRAD_CASES.items() if v is not None}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_finite_difference_gradients(name):
    leaves, fn = GRAD_CASES[name]()
    with np.errstate(invalid="ignore"):
        check_grads(lambda: fn(*leaves), leaves, np.random.default_rng(5), eps=1e-6, rtol=1e-5,
                    atol=1e-7)


# Integer, boolean, index or constant results (no gradient in Keras either), control flow
# (checked through the user's functions above) and stop_gradient (checked below).
NOT_DIFFERENTIABLE = {
    "argpartition", "array", "bincount", "bitwise_and", "bitwise_invert", "bitwise_left_shift",
    "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "digitize", "dtype",
    "empty_like", "gcd", "geomspace", "histogram", "imag", "in_top_k", "is_tensor", "isin",
    "isneginf", "isposinf", "isreal", "lcm", "left_shift", "logspace", "multi_hot",
    "nanargmax", "nanargmin", "nonzero", "right_shift", "searchsorted", "signbit",
    "unravel_index", "cond", "switch", "fori_loop", "while_loop", "scan", "map",
    "vectorized_map", "associative_scan", "stop_gradient",
}


def test_every_differentiable_op_has_a_gradient_check():
    differentiable = set(MORE) - NOT_DIFFERENTIABLE
    checked = {n for n in MORE for c in GRAD_CASES if c == n or c.startswith(n + "_")}
    assert differentiable <= checked, sorted(differentiable - checked)


def test_divide_no_nan_gradient_is_zero_where_the_divisor_is():
    x, y = _any((4,)), leaf(np.array([0.5, 0.0, -1.3, 0.0]))
    with GradientTape():
        loss = ops.sum(ops.divide_no_nan(x, y))
    gx, gy = gradients(loss, [x, y])
    np.testing.assert_allclose(gx, [2.0, 0.0, -1 / 1.3, 0.0])
    assert gy[1] == 0.0 and gy[3] == 0.0


def test_stop_gradient_blocks_gradients():
    x = _any((3,))
    with GradientTape():
        loss = ops.sum(ops.add(ops.multiply(x, 2.0), ops.stop_gradient(ops.square(x))))
    (g,) = gradients(loss, [x])
    np.testing.assert_allclose(g, np.full(3, 2.0))
    with GradientTape():
        loss = ops.sum(ops.stop_gradient(x))
    assert gradients(loss, [x]) == [None]


# ---------------------------------------------------------------------------------------------
# bad input: a clear exception naming the argument and the value received

ERROR_CASES = [
    (ValueError, "indexing", lambda: ops.meshgrid(X1, X1, indexing="yx")),
    (ValueError, "side", lambda: ops.searchsorted(SORTED, X1, side="middle")),
    (ValueError, "sorted_sequence", lambda: ops.searchsorted(X2, X1)),
    (ValueError, "mode", lambda: ops.correlate(X1, X1, mode="wide")),
    (ValueError, "method", lambda: ops.quantile(X1, 0.5, method="cubic")),
    (ValueError, "q", lambda: ops.quantile(X1, 1.5)),
    (ValueError, "q", lambda: ops.percentile(X1, -5.0)),
    (ValueError, "reduction", lambda: ops.scatter_update(X2, [[0]], X2[:1], reduction="sum")),
    (ValueError, "updates", lambda: ops.scatter_update(X2, [[0]], X2[:2])),
    (ValueError, "num_classes", lambda: ops.multi_hot(XI1)),
    (ValueError, "block_size", lambda: ops.space_to_depth(X4, 0)),
    (ValueError, "data_format", lambda: ops.depth_to_space(X4, 2, data_format="nhwc")),
    (ValueError, "x.shape", lambda: ops.vander(X2)),
    (ValueError, "x.shape", lambda: ops.diag(X3)),
    (ValueError, "axes", lambda: ops.rot90(X2, axes=(0, 0))),
    (ValueError, "num", lambda: ops.unstack(X2, num=3)),
    (ValueError, "condlist", lambda: ops.select([X2 > 0], [X2, X2])),
    (ValueError, "x", lambda: ops.bincount(np.array([1, -2, 3]))),
    (ValueError, "sparse", lambda: ops.bincount(XI1, sparse=True)),
    (ValueError, "bins", lambda: ops.histogram(X1, bins=0)),
    (ValueError, "kth", lambda: ops.argpartition(X1, 9)),
    (ValueError, "axes", lambda: ops.tensordot(X2, X2, axes=([0], [0, 1]))),
    (ValueError, "num_segments", lambda: ops.segment_sum(DATA, IDS, -1)),
    (ValueError, "segment_ids", lambda: ops.segment_max(DATA, IDS[:3])),
    (ValueError, "axis", lambda: ops.glu(f32(2, 3))),
    (TypeError, "x2", lambda: ops.ldexp(X2, X2)),
    (TypeError, "x1.dtype", lambda: ops.gcd(X2, 3)),
    (TypeError, "x.dtype", lambda: ops.bitwise_and(X2, XI)),
    (TypeError, "x.dtype", lambda: ops.ptp(XB)),
    (TypeError, "f", lambda: ops.scan(3, 0.0, X1)),
    (ValueError, "indices", lambda: ops.unravel_index(np.array([7]), (2, 3))),
    (ValueError, "x1", lambda: ops.cross(f32(4), f32(3))),
    (ValueError, "pred", lambda: ops.cond(np.array([True, False]), lambda: 1, lambda: 2)),
]


@pytest.mark.parametrize("i", range(len(ERROR_CASES)))
def test_bad_arguments_raise_clear_errors(i):
    kind, word, fn = ERROR_CASES[i]
    with pytest.raises(kind, match=word.replace(".", r"\.")) as info:
        fn()
    assert "Received" in str(info.value) or "must be" in str(info.value)


# ---------------------------------------------------------------------------------------------
# graph nodes in Functional models: the model predicts what the ops compute eagerly

def _graph_case(build, shape, x):
    fk.utils.clear_session()
    inp = fk.Input(shape, name="x")
    model = fk.Model(inp, build(inp))
    got = model.predict(x, verbose=0)
    want = build(Tensor(x))
    if isinstance(want, (list, tuple)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w.numpy(), rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-6, atol=1e-6)
    return model


def test_elementwise_and_reduction_ops_as_graph_nodes():
    def build(t):
        parts = [ops.cbrt(t), ops.sinc(t), ops.erfc(t), ops.erfinv(ops.multiply(ops.tanh(t), 0.9)),
                 ops.deg2rad(t), ops.rad2deg(t), ops.fabs(t), ops.heaviside(t, 0.5),
                 ops.fmod(t, 0.3), ops.logaddexp2(t, ops.flip(t, 1)),
                 ops.divide_no_nan(t, ops.subtract(t, t)), ops.ldexp(t, 2),
                 ops.celu(t), ops.hard_shrink(t), ops.soft_shrink(t), ops.hard_tanh(t),
                 ops.tanh_shrink(t), ops.sparse_plus(t), ops.sparse_sigmoid(t),
                 ops.squareplus(t), ops.threshold(t, 0.1, -1.0), ops.sparsemax(t),
                 ops.nancumsum(t, axis=1), ops.ptp(t, axis=1, keepdims=True),
                 ops.nanmean(t, axis=1, keepdims=True), ops.nanstd(t, axis=1, keepdims=True),
                 ops.quantile(t, 0.3, axis=1, keepdims=True),
                 ops.nanmedian(t, axis=1, keepdims=True), ops.diff(t, axis=1),
                 ops.cast(ops.signbit(t), "float32"), ops.cast(ops.isposinf(t), "float32"),
                 ops.glu(ops.hstack([t, t]))]
        return ops.concatenate(parts, axis=1)

    _graph_case(build, (6,), R.uniform(-1, 1, (5, 6)).astype("float32"))


def test_shape_ops_as_graph_nodes():
    def build(t):
        a, b = ops.hsplit(t, 2)
        c = ops.vstack([ops.transpose(a, (1, 0, 2)), ops.transpose(b, (1, 0, 2))])
        d = ops.transpose(c, (1, 0, 2))
        e = ops.rot90(ops.fliplr(d), 2, (1, 2))
        f = ops.dstack([e, d])
        g = ops.kron(ops.unstack(f, axis=2)[0], np.ones((1, 2), np.float32))
        s = ops.depth_to_space(ops.space_to_depth(ops.reshape(t, (-1, 4, 2, 1)), 2), 2)
        u = ops.tensordot(t, np.ones((2, 3), np.float32), 1)
        return [ops.reshape(f, (-1, 16)), g, ops.reshape(s, (-1, 8)), u,
                ops.segment_sum(ops.transpose(t), [0, 1], 2)]

    _graph_case(build, (4, 2), R.uniform(-1, 1, (3, 4, 2)).astype("float32"))


def test_index_ops_as_graph_nodes():
    def build(t):
        idx = ops.digitize(t, [-0.5, 0.0, 0.5])
        hot = ops.multi_hot(idx, 4)
        top = ops.cast(ops.in_top_k(ops.argmax(t, axis=1), t, 2), "float32")
        sel = ops.select([ops.greater(t, 0.3), ops.less(t, -0.3)], [t, ops.negative(t)], 0.0)
        upd = ops.scatter_update(t, [[0]], ops.ones((1, 5)))
        return ops.concatenate([hot, top[:, None], sel, upd, ops.cast(ops.isin(idx, [1, 3]),
                                                                     "float32")], axis=1)

    x = R.uniform(-1, 1, (4, 5)).astype("float32")
    _graph_case(build, (5,), x)


def test_graph_node_saves_and_loads_with_keras(tmp_path):
    pytest.importorskip("keras")
    from keras_files import check_keras_file_both_ways
    fk.utils.clear_session()
    inp = fk.Input((6,), name="x")
    parts = [ops.cbrt(inp), ops.erfc(inp), ops.deg2rad(inp), ops.celu(inp, 0.5),
             ops.squareplus(inp, 2.0), ops.hard_tanh(inp), ops.glu(inp), ops.sparsemax(inp),
             ops.soft_shrink(inp, 0.2), ops.sparse_plus(inp), ops.tanh_shrink(inp),
             ops.diff(inp, 2), ops.fmod(inp, 0.4), ops.logaddexp2(inp, inp),
             ops.hstack([inp, inp]), ops.fliplr(inp), ops.ptp(inp, axis=1, keepdims=True),
             ops.quantile(inp, 0.25, axis=1, keepdims=True),
             ops.nanmean(inp, axis=1, keepdims=True), ops.divide_no_nan(inp, inp)]
    out = fk.layers.Dense(2, name="head")(ops.concatenate(parts, axis=1))
    model = fk.Model(inp, out)
    x = R.uniform(-1, 1, (4, 6)).astype("float32")
    check_keras_file_both_ways(model, x, tmp_path, keras_rtol=1e-4, keras_atol=1e-4)


def test_callables_stay_out_of_graphs():
    inp = fk.Input((3,))
    assert ops.dtype(inp) == "float32" and ops.is_tensor(inp) is False
    with pytest.raises(TypeError, match="symbolic"):
        ops.cond(ops.greater(ops.sum(inp), 0.0), lambda: ops.add(inp, 1.0), lambda: inp)
    with pytest.raises(TypeError, match="symbolic"):
        ops.switch(ops.argmax(inp), [ops.exp, ops.sin], inp)
    # a Python predicate picks a branch while the model is defined
    assert ops.cond(True, lambda: ops.add(inp, 1.0), lambda: inp).shape == (None, 3)


# ---------------------------------------------------------------------------------------------
# activations

ACTIVATIONS = ("celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "mish", "soft_shrink",
               "sparse_plus", "sparse_sigmoid", "squareplus", "tanh_shrink", "sparsemax")


def test_activations_have_keras_signatures_and_names():
    keras3 = pytest.importorskip("keras")
    for name in ACTIVATIONS + ("threshold",):
        ours, theirs = getattr(fk.activations, name), getattr(keras3.activations, name)
        assert list(inspect.signature(ours).parameters) == list(
            inspect.signature(theirs).parameters), name
        assert [p.default for p in inspect.signature(ours).parameters.values()] == [
            p.default for p in inspect.signature(theirs).parameters.values()], name
        assert fk.activations.serialize(ours) == keras3.activations.serialize(theirs), name
        assert fk.activations.get(name) is ours
        assert fk.activations.deserialize(name) is ours


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_by_name_in_dense_matches_keras(name):
    keras3 = pytest.importorskip("keras")
    x = R.uniform(-2, 2, (5, 3)).astype("float32")
    kernel = R.uniform(-1, 1, (3, 4)).astype("float32")
    bias = R.uniform(-0.5, 0.5, (4,)).astype("float32")
    fk.utils.clear_session()
    ours = fk.layers.Dense(4, activation=name)
    ours.build((None, 3))
    ours.set_weights([kernel, bias])
    theirs = keras3.layers.Dense(4, activation=name)
    theirs.build((None, 3))
    theirs.set_weights([kernel, bias])
    want = keras3.ops.convert_to_numpy(theirs(x))
    got = ours(x).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert ours.get_config()["activation"] == theirs.get_config()["activation"] == name


def test_activation_values_and_gradients():
    keras3 = pytest.importorskip("keras")
    x = R.uniform(-3, 3, (4, 6)).astype("float32")
    for name in ACTIVATIONS:
        _compare(getattr(fk.activations, name)(x), getattr(keras3.activations, name)(x), keras3,
                 name)
    _compare(fk.activations.threshold(x, 0.5, -2.0), keras3.activations.threshold(x, 0.5, -2.0),
             keras3, "threshold")
    _compare(fk.activations.celu(x, alpha=0.4), keras3.activations.celu(x, alpha=0.4), keras3,
             "celu alpha")
    rng = np.random.default_rng(9)
    for name in ("mish", "celu", "glu", "squareplus", "log_sigmoid", "tanh_shrink"):
        v = _kinked((3, 4), (0.0,))
        check_grads(lambda v=v, name=name: getattr(fk.activations, name)(v), [v], rng)


def test_model_with_new_activations_saves_and_loads_with_keras(tmp_path):
    pytest.importorskip("keras")
    from keras_files import check_keras_file_both_ways
    fk.utils.clear_session()
    inp = fk.Input((4,), name="x")
    h = inp
    for name in ("mish", "celu", "squareplus", "hard_tanh", "sparse_plus", "soft_shrink"):
        h = fk.layers.Dense(4, activation=name, name=f"d_{name}")(h)
    out = fk.layers.Dense(3, activation="sparsemax", name="out")(h)
    model = fk.Model(inp, out)
    x = R.uniform(-1, 1, (5, 4)).astype("float32")
    check_keras_file_both_ways(model, x, tmp_path, keras_rtol=1e-4, keras_atol=1e-5)
