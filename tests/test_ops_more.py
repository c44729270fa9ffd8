"""The further `keras.ops` (fastkeras.ops.numpy_extra): Keras 3's signatures, the values and
dtypes Keras computes (and numpy, where Keras's PyTorch backend departs from numpy), finite-
difference-checked gradients, and graph nodes that save and load with real Keras."""

import inspect

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import GradientTape, Tensor, gradients
from fastkeras.ops.numpy_extra import __all__ as EXTRA
from gradcheck import check_grads, leaf

R = np.random.default_rng(11)


def f32(*shape, low=-2.0, high=2.0):
    return R.uniform(low, high, shape).astype(np.float32)


X3 = f32(2, 3, 5)            # odd sizes, rank 3
X1 = f32(7)
X4 = f32(2, 5, 1, 3)         # a size-1 axis
XI = R.integers(-9, 10, (3, 4)).astype(np.int32)
XB = XI > 0
POS = f32(3, 4, low=0.2, high=3.0)
UNIT = f32(3, 4, low=-0.9, high=0.9)
TIES = np.array([[1.0, 3.0, 3.0, 0.0, 3.0], [2.0, 2.0, -1.0, 2.0, 5.0]], np.float32)


def test_every_op_has_keras_signature():
    keras3 = pytest.importorskip("keras")
    for name in EXTRA:
        ours = inspect.signature(getattr(ops, name)).parameters
        theirs = inspect.signature(getattr(keras3.ops, name)).parameters
        assert list(ours) == list(theirs), name
        assert [p.default for p in ours.values()] == [p.default for p in theirs.values()], name


# (op, args, kwargs) computed by fastkeras and by Keras: same shape, dtype and values.
VALUE_CASES = [
    ("arange", (5,), {}), ("arange", (2, 11, 3), {}), ("arange", (0.0, 1.0, 0.25), {}),
    ("arange", (3.0,), {}), ("arange", (1, 6), {"dtype": "float32"}), ("arange", (6, 0, -2), {}),
    ("zeros", ((2, 3),), {}), ("zeros", (4,), {"dtype": "int32"}), ("ones", ((0, 3),), {}),
    ("ones", ((2,),), {"dtype": "bool"}), ("full", ((2, 3), 7), {}),
    ("full", ((2, 3), 7), {"dtype": "int32"}), ("full", ((2, 3), [1.0, 2.0, 3.0]), {}),
    ("full_like", (X3, 2.5), {}), ("full_like", (XI, 2), {}),
    ("full_like", (XI, 2), {"dtype": "float32"}),
    ("eye", (3,), {}), ("eye", (3, 5, 1), {}), ("eye", (4, 2, -1), {"dtype": "int32"}),
    ("identity", (3,), {}), ("tri", (3,), {}), ("tri", (3, 5, 1), {}), ("tri", (4, 2, -1), {}),
    ("linspace", (0, 1, 7), {}), ("linspace", (0.0, 2.0, 4), {"endpoint": False}),
    ("linspace", (-1.0, 1.0, 5), {"retstep": True}),
    ("tril", (X3,), {}), ("tril", (X3, -1), {}), ("triu", (X3, 2), {}), ("triu", (XI,), {}),
    ("floor", (X3,), {}), ("floor", (XI,), {}), ("ceil", (X3,), {}), ("trunc", (X3,), {}),
    ("round", (X3 * 10,), {}), ("round", (X3 * 10, 1), {}), ("round", (XI,), {}),
    ("round", (np.array([0.5, 1.5, 2.5, -0.5], np.float32),), {}),
    ("reciprocal", (POS,), {}), ("reciprocal", (XI + 20,), {}), ("rsqrt", (POS,), {}),
    ("log2", (POS,), {}), ("log10", (POS,), {}), ("exp2", (X3,), {}), ("exp2", (XI,), {}),
    ("cosh", (X3,), {}), ("sinh", (X3,), {}), ("tan", (UNIT,), {}), ("arctan", (X3,), {}),
    ("arcsin", (UNIT,), {}), ("arccos", (UNIT,), {}), ("arcsinh", (X3,), {}),
    ("arccosh", (POS + 1,), {}), ("arctanh", (UNIT,), {}),
    ("log_sigmoid", (np.array([-100.0, -3.0, 0.0, 2.0, 80.0], np.float32),), {}),
    ("arctan2", (X3, X3[:1] + 0.1), {}), ("arctan2", (XI, 3), {}),
    ("hypot", (X3, X1[:5]), {}), ("logaddexp", (X3, X3[0]), {}),
    ("logaddexp", (np.float32(-1000.0), np.float32(-1001.0)), {}),
    ("mod", (X3, 0.7), {}), ("mod", (X3, -X3[:, :, :1] - 0.5), {}), ("mod", (XI, 4), {}),
    ("mod", (XI, -3), {}), ("mod", (XI, XI.T[:1, :3].T + 20), {}),
    ("floor_divide", (X3, 0.7), {}), ("floor_divide", (XI, 4), {}),
    ("floor_divide", (XI, -3), {}),
    ("nan_to_num", (np.array([np.nan, np.inf, -np.inf, 1.5], np.float32),), {}),
    ("nan_to_num", (np.array([np.nan, np.inf, -np.inf, 1.5], np.float32),),
     {"nan": 9.0, "posinf": 5.0, "neginf": -5.0}),
    ("nan_to_num", (XI,), {}),
    ("isclose", (X3, X3 + 1e-6), {}), ("isclose", (X3, X3 + 1e-3), {"atol": 1e-2}),
    ("isclose", (np.array([np.nan, 1.0]), np.array([np.nan, 1.0])), {"equal_nan": True}),
    ("allclose", (X3, X3 + 1e-6), {}), ("allclose", (X3, X3 + 1e-2), {}),
    ("all", (XB,), {}), ("all", (XB, 0), {}), ("any", (XB, 1, True), {}),
    ("all", (X3 > -1.9,), {"axis": (0, 2)}), ("any", (XI,), {"axis": -1}),
    ("prod", (X3,), {"axis": 1}), ("prod", (X3, (0, 2), True), {}), ("prod", (XI, 0), {}),
    ("prod", (XB,), {"axis": 1}), ("prod", (XI,), {"axis": 0, "dtype": "float32"}),
    ("cumsum", (X3,), {}), ("cumsum", (X3, 1), {}), ("cumsum", (X3, -1), {}),
    ("cumsum", (XI, 0), {}), ("cumsum", (XB, 1), {}), ("cumsum", (XI, 1, "float32"), {}),
    ("cumprod", (X3, 2), {}), ("cumprod", (X1,), {}), ("cumprod", (XI, 1), {}),
    ("logsumexp", (X3,), {}), ("logsumexp", (X3, 1), {}), ("logsumexp", (X3, (0, 2), True), {}),
    ("logsumexp", (np.array([[1000.0, 1000.0], [-np.inf, 0.0]], np.float32), -1), {}),
    ("count_nonzero", (XI,), {}), ("count_nonzero", (XI, 0), {}),
    ("amax", (X3,), {}), ("amax", (X3, 1), {}), ("amax", (X3, (0, 1), True), {}),
    ("amax", (XI, 0), {}), ("amin", (XI,), {"axis": 1, "keepdims": True}), ("amin", (X3, 2), {}),
    ("average", (X3,), {}), ("average", (X3, 1), {}), ("average", (XI, 0), {}),
    ("median", (X3,), {}), ("median", (X3, 1), {}), ("median", (X3, 2, True), {}),
    ("median", (X4, -1), {}), ("median", (XI, 0), {}), ("median", (X3,), {"axis": (0, 2)}),
    ("tile", (X3, 2), {}), ("tile", (X3, (2, 1, 3)), {}), ("tile", (X1, (2, 1, 2)), {}),
    ("tile", (XI, (1, 2)), {}),
    ("split", (X3, 3), {"axis": 1}), ("split", (X3, [1, 4]), {"axis": -1}),
    ("split", (XI, 2), {"axis": 1}), ("split", (X1, [2, 2, 5]), {}),
    ("array_split", (X3, 3), {"axis": 2}), ("array_split", (X1, 4), {}),
    ("broadcast_to", (X4, (3, 2, 5, 4, 3)), {}), ("broadcast_to", (XI[0], (2, 4)), {}),
    ("flip", (X3,), {}), ("flip", (X3, 1), {}), ("flip", (X3, (0, 2)), {}), ("flip", (XB, 0), {}),
    ("roll", (X3, 2), {}), ("roll", (X3, -1, 2), {}), ("roll", (X3, (1, 2), (0, 2)), {}),
    ("roll", (XI, 7, 1), {}),
    ("swapaxes", (X3, 0, 2), {}), ("swapaxes", (XI, -1, 0), {}),
    ("moveaxis", (X3, 0, -1), {}), ("moveaxis", (X4, (0, 1), (3, 2)), {}),
    ("take", (X3, np.array([[0, 2], [1, 1]]), 1), {}), ("take", (X3, np.array([7, 3, 0])), {}),
    ("take", (X3, np.array([-1, 0]), 2), {}), ("take", (XI, np.array(2), 0), {}),
    ("take_along_axis", (X3, np.argsort(X3, axis=1)[:, :2], 1), {}),
    ("take_along_axis", (X3, np.array([3, 5, 0])), {}),
    ("take_along_axis", (X3, np.zeros((1, 3, 2), np.int64), 2), {}),
    ("take_along_axis", (XI, np.argsort(XI, 0), 0), {}),
    ("slice", (X3, (1, 0, 1), (1, 2, 3)), {}), ("slice", (XI, (0, 1), (3, 2)), {}),
    ("slice_update", (X3, (0, 1, 1), np.ones((2, 2, 3), np.float32)), {}),
    ("slice_update", (XI, (1, 0), np.full((2, 2), 7, np.int32)), {}),
    ("append", (X3, X3), {"axis": 0}), ("append", (X3, X1), {}), ("append", (XI, XI, 1), {}),
    ("diagonal", (X3,), {}), ("diagonal", (X3, 1, 1, 2), {}), ("diagonal", (X3, -1, 2, 0), {}),
    ("diagonal", (XI, 1), {}),
    ("trace", (X3,), {}), ("trace", (X3, 1, 1, 2), {}), ("trace", (X3, -1, 0, 2), {}),
    ("ravel", (X3,), {}), ("ravel", (XB,), {}), ("copy", (XI,), {}),
    ("sort", (X3,), {}), ("sort", (X3, 0), {}), ("sort", (XI, 1), {}), ("sort", (TIES,), {}),
    ("argsort", (X3,), {}), ("argsort", (X3, 1), {}), ("argsort", (XI, 0), {}),
    ("top_k", (X3, 2), {}), ("top_k", (X1, 7), {}), ("top_k", (XI, 3), {}),
    ("size", (X3,), {}), ("ndim", (X4,), {}),
    ("binary_crossentropy", (XB.astype(np.float32), (POS / 3.2)), {}),
    ("binary_crossentropy", (np.array([0.0, 1.0, 1.0], np.float32),
                             np.array([0.0, 1.0, 0.3], np.float32)), {}),
    ("binary_crossentropy", (XB.astype(np.float32), X3[0, :3, :4] * 20), {"from_logits": True}),
    ("categorical_crossentropy", (np.eye(4, dtype=np.float32)[[0, 3, 1]], POS), {}),
    ("categorical_crossentropy", (np.eye(4, dtype=np.float32)[[0, 3, 1]], UNIT * 30),
     {"from_logits": True}),
    ("categorical_crossentropy", (np.eye(3, dtype=np.float32)[[0, 2, 1, 1]].T, POS),
     {"axis": 0}),
    ("sparse_categorical_crossentropy", (np.array([0, 3, 1]), POS), {}),
    ("sparse_categorical_crossentropy", (np.array([[0], [3], [1]]), UNIT * 30),
     {"from_logits": True}),
    ("sparse_categorical_crossentropy", (np.array([[1, 0, 4], [4, 2, 3]]), X3),
     {"from_logits": True}),
    ("normalize", (X3,), {}), ("normalize", (X3, 0), {}), ("normalize", (X3, 1, 1), {}),
    ("normalize", (X3, -1, 3), {}), ("normalize", (np.zeros((2, 3), np.float32),), {}),
]

# Keras's PyTorch backend departs from numpy here (keepdims ignored with axis=None, a
# transposed count_nonzero, unbroadcast 1-D weights, int64 indices): numpy is the reference.
NUMPY_CASES = [
    ("prod", (X3,), {"keepdims": True}, np.prod(X3, keepdims=True)),
    ("amax", (X3,), {"keepdims": True}, np.max(X3, keepdims=True)),
    ("amin", (XI,), {"keepdims": True}, np.min(XI, keepdims=True)),
    ("count_nonzero", (X3 > 0,), {"axis": (0, 2)}, np.count_nonzero(X3 > 0, axis=(0, 2))),
    ("count_nonzero", (XI,), {"axis": 1}, np.count_nonzero(XI, axis=1)),
    ("average", (X3,), {"axis": 1, "weights": np.array([1.0, 2.0, 3.0], np.float32)},
     np.average(X3, axis=1, weights=[1.0, 2.0, 3.0])),
    ("average", (X3,), {"weights": np.abs(X3) + 0.1}, np.average(X3, weights=np.abs(X3) + 0.1)),
    ("average", (X3, 1), {"weights": np.abs(X3) + 0.1},
     np.average(X3, axis=1, weights=np.abs(X3) + 0.1)),
    ("median", (X3,), {"keepdims": True}, np.median(X3, keepdims=True)),
    ("norm", (X3,), {"keepdims": True}, np.linalg.norm(X3, keepdims=True)),
]

NORM_CASES = (
    [((X3,), {"ord": o, "axis": -1}) for o in (None, 1, 2, 3, 0.5, np.inf, -np.inf, 0)]
    + [((X3,), {"ord": o, "axis": (1, 2)})
       for o in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)]
    + [((X3,), {"ord": o, "axis": (2, 0), "keepdims": True}) for o in ("fro", 1, np.inf, 2)]
    + [((X3,), {}), ((X1,), {"ord": 3}), ((X3[0],), {"ord": "nuc"}), ((XI,), {"axis": 0})]
)


def _as_np(v, keras3):
    if isinstance(v, Tensor):
        return v.numpy()
    if isinstance(v, (int, float, bool)):
        return np.asarray(v)
    return np.asarray(keras3.ops.convert_to_numpy(v))


def _compare(ours, theirs, keras3, name, rtol=2e-5, atol=2e-6, check_dtype=True):
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


@pytest.mark.parametrize("i", range(len(VALUE_CASES)))
def test_values_and_dtypes_match_keras(i):
    keras3 = pytest.importorskip("keras")
    name, args, kwargs = VALUE_CASES[i]
    ours = getattr(ops, name)(*args, **kwargs)
    theirs = getattr(keras3.ops, name)(*args, **kwargs)
    # Keras's torch backend gives int64 indices for top_k and size; Keras's own spec is int32.
    check_dtype = name not in ("top_k", "size", "linspace")
    _compare(ours, theirs, keras3, f"{name}{args if len(str(args)) < 80 else ''} {kwargs}",
             check_dtype=check_dtype)
    if name == "top_k":
        assert ours[1].dtype == np.int32
    if name == "size":
        assert ours.dtype == np.int32


@pytest.mark.parametrize("i", range(len(NORM_CASES)))
def test_norm_matches_keras_and_numpy(i):
    keras3 = pytest.importorskip("keras")
    args, kwargs = NORM_CASES[i]
    ours = ops.norm(*args, **kwargs)
    _compare(ours, keras3.ops.norm(*args, **kwargs), keras3, f"norm {kwargs}", rtol=1e-5,
             atol=1e-5)
    np.testing.assert_allclose(ours.numpy(), np.linalg.norm(*args, **kwargs), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("i", range(len(NUMPY_CASES)))
def test_values_where_keras_torch_departs_from_numpy(i):
    name, args, kwargs, want = NUMPY_CASES[i]
    out = getattr(ops, name)(*args, **kwargs).numpy()
    assert out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


def test_dtypes_follow_keras_rules():
    assert ops.arange(5).dtype == np.int32 and ops.arange(0, 1, 0.5).dtype == np.float32
    assert ops.zeros((2,)).dtype == np.float32 and ops.eye(2).dtype == np.float32
    assert ops.floor(XI).dtype == np.float32 and ops.round(XI).dtype == np.int32
    assert ops.cumsum(XB).dtype == np.int32 and ops.prod(XI).dtype == np.int32
    assert ops.amax(XI).dtype == np.int32 and ops.sort(XB).dtype == bool
    assert ops.argsort(X3).dtype == np.int32 and ops.count_nonzero(X3).dtype == np.int32
    assert ops.all(X3).dtype == bool and ops.isclose(X3, X3).dtype == bool
    assert ops.mod(XI, 3).dtype == np.int32 and ops.mod(XI, 2.5).dtype == np.float32
    assert ops.median(XI).dtype == np.float32 and ops.average(XI).dtype == np.float32
    # float64 tensors keep their precision
    x64 = Tensor(X3.astype(np.float64))
    for name in ("floor", "exp2", "cumsum", "logsumexp", "sort", "tile", "norm", "rsqrt"):
        args = (x64, 2) if name == "tile" else (ops.abs(x64),)
        assert getattr(ops, name)(*args).dtype == np.float64, name


def test_split_and_top_k_details():
    parts = ops.split(X3, 5, axis=2)
    assert isinstance(parts, list) and len(parts) == 5 and parts[0].shape == (2, 3, 1)
    with pytest.raises(ValueError):
        ops.split(X3, 2, axis=2)
    sizes = [p.shape[0] for p in ops.array_split(np.arange(10), 4)]
    assert sizes == [3, 3, 2, 2]
    values, indices = ops.top_k(TIES, 3)
    np.testing.assert_array_equal(values.numpy(), [[3, 3, 3], [5, 2, 2]])
    np.testing.assert_array_equal(indices.numpy(), [[1, 2, 4], [4, 0, 1]])  # ties: lower first
    with pytest.raises(ValueError):
        ops.top_k(TIES, 6)


def test_unique_matches_numpy():
    x = np.array([3, 1, 2, 3, 1, 7], np.int32)
    np.testing.assert_array_equal(ops.unique(x).numpy(), [1, 2, 3, 7])
    values, index, inverse, counts = ops.unique(x, return_index=True, return_inverse=True,
                                                return_counts=True)
    want = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for a, b in zip((values, index, inverse, counts), want):
        np.testing.assert_array_equal(a.numpy(), b)
    np.testing.assert_array_equal(ops.unique(x, size=6, fill_value=-1).numpy(),
                                  [1, 2, 3, 7, -1, -1])
    keras3 = pytest.importorskip("keras")
    _compare(ops.unique(x, return_counts=True), keras3.ops.unique(x, return_counts=True),
             keras3, "unique", check_dtype=False)


# ---------------------------------------------------------------------------------------------
# attention

def _attention_reference(q, k, v, bias=None, mask=None, scale=None, is_causal=False):
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    g = q.shape[2] // k.shape[2]
    k, v = np.repeat(k, g, axis=2), np.repeat(v, g, axis=2)
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = np.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + bias
    keep = np.ones(logits.shape, bool)
    if mask is not None:
        keep &= np.asarray(mask, bool)
    if is_causal:
        keep &= np.tril(np.ones(logits.shape[2:], bool))
    logits = np.where(keep, logits, -1e30)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", p, v)


Q = f32(2, 5, 4, 3)
KV = f32(2, 6, 4, 3), f32(2, 6, 4, 3)
KV_GROUPED = f32(2, 6, 2, 3), f32(2, 6, 2, 3)
MASK = R.random((2, 1, 5, 6)) > 0.3
BIAS = f32(4, 5, 6)

ATTENTION_CASES = [
    ((Q, *KV), {}),
    ((Q, *KV_GROUPED), {}),
    ((Q, *KV), {"bias": BIAS}),
    ((Q, *KV), {"mask": MASK}),
    ((Q, Q, Q), {"is_causal": True}),
    ((Q, *KV_GROUPED), {"mask": MASK, "is_causal": True, "scale": 0.7}),
    ((Q[:, :1], *KV), {"scale": 2.0}),
]


@pytest.mark.parametrize("i", range(len(ATTENTION_CASES)))
def test_dot_product_attention_matches_keras(i):
    keras3 = pytest.importorskip("keras")
    args, kwargs = ATTENTION_CASES[i]
    ours = ops.dot_product_attention(*args, **kwargs)
    assert ours.shape == args[0].shape and ours.dtype == np.float32
    _compare(ours, keras3.ops.dot_product_attention(*args, **kwargs), keras3, f"attn {kwargs}")
    np.testing.assert_allclose(ours.numpy(), _attention_reference(*args, **kwargs), rtol=1e-5,
                               atol=1e-5)


def test_dot_product_attention_bias_with_mask_and_errors():
    # Keras's torch backend refuses bias and mask together; JAX's and numpy's take both.
    out = ops.dot_product_attention(Q, *KV, bias=BIAS, mask=MASK)
    np.testing.assert_allclose(out.numpy(), _attention_reference(Q, *KV, bias=BIAS, mask=MASK),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="4D"):
        ops.dot_product_attention(Q[0], KV[0][0], KV[1][0])
    with pytest.raises(ValueError, match="multiple"):
        ops.dot_product_attention(Q, f32(2, 6, 3, 3), f32(2, 6, 3, 3))
    with pytest.raises(ValueError):
        ops.dot_product_attention(Q, *KV, attn_logits_soft_cap=5.0)


def test_crossentropy_shape_errors():
    with pytest.raises(ValueError):
        ops.binary_crossentropy(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError):
        ops.sparse_categorical_crossentropy(np.zeros((3,)), np.zeros((2, 4)))
    with pytest.raises(ValueError):
        ops.normalize(X3, order=0)


# ---------------------------------------------------------------------------------------------
# gradients: tape gradients of sum(op * w) against central differences, float64 leaves

def _pos(shape, low=0.3, high=2.5):
    return leaf(R.uniform(low, high, shape))


def _any(shape, low=-2.0, high=2.0):
    return leaf(R.uniform(low, high, shape))


def _distinct(shape):
    """Values with gaps between them (no ties for sort/max/median)."""
    n = int(np.prod(shape))
    return leaf((R.permutation(n) * 0.37 - n * 0.15).reshape(shape))


GRAD_CASES = {
    "tril": lambda: ([_any((2, 3, 4))], lambda x: ops.tril(x, -1)),
    "triu": lambda: ([_any((3, 4))], lambda x: ops.triu(x, 1)),
    "reciprocal": lambda: ([_pos((3, 4))], ops.reciprocal),
    "rsqrt": lambda: ([_pos((3, 4))], ops.rsqrt),
    "log2": lambda: ([_pos((3, 4))], ops.log2),
    "log10": lambda: ([_pos((3, 4))], ops.log10),
    "exp2": lambda: ([_any((3, 4))], ops.exp2),
    "cosh": lambda: ([_any((3, 4))], ops.cosh),
    "sinh": lambda: ([_any((3, 4))], ops.sinh),
    "tan": lambda: ([_any((3, 4), -1.2, 1.2)], ops.tan),
    "arctan": lambda: ([_any((3, 4))], ops.arctan),
    "arcsin": lambda: ([_any((3, 4), -0.9, 0.9)], ops.arcsin),
    "arccos": lambda: ([_any((3, 4), -0.9, 0.9)], ops.arccos),
    "arcsinh": lambda: ([_any((3, 4))], ops.arcsinh),
    "arccosh": lambda: ([_pos((3, 4), 1.2, 3.0)], ops.arccosh),
    "arctanh": lambda: ([_any((3, 4), -0.9, 0.9)], ops.arctanh),
    "log_sigmoid": lambda: ([_any((3, 4), -30, 30)], ops.log_sigmoid),
    "arctan2": lambda: ([_any((3, 4)), _pos((4,))], ops.arctan2),
    "hypot": lambda: ([_any((3, 1)), _pos((3, 4))], ops.hypot),
    "logaddexp": lambda: ([_any((3, 4)), _any((4,))], ops.logaddexp),
    "mod": lambda: ([leaf(np.array([[0.3, 1.9, -2.2], [2.7, -0.6, 1.1]])),
                     leaf(np.array([0.7, -0.8, 1.3]))], ops.mod),
    "nan_to_num": lambda: ([_any((3, 4))], lambda x: ops.nan_to_num(x, posinf=3.0)),
    "prod": lambda: ([_any((2, 3, 4))], lambda x: ops.prod(x, axis=(0, 2), keepdims=True)),
    "prod_with_zero": lambda: ([leaf(np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5]]))],
                               lambda x: ops.prod(x, axis=1)),
    "cumsum": lambda: ([_any((2, 3, 4))], lambda x: ops.cumsum(x, axis=1)),
    "cumsum_flat": lambda: ([_any((2, 3))], ops.cumsum),
    "cumprod": lambda: ([_any((2, 5))], lambda x: ops.cumprod(x, axis=-1)),
    "cumprod_with_zero": lambda: ([leaf(np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 1.0, 0.0, 2.0]]))],
                                  lambda x: ops.cumprod(x, axis=1)),
    "logsumexp": lambda: ([_any((2, 3, 4))], lambda x: ops.logsumexp(x, axis=(0, 2))),
    "logsumexp_all": lambda: ([_any((3, 4))], lambda x: ops.logsumexp(x, keepdims=True)),
    "norm_vector": lambda: ([_any((3, 4))], lambda x: ops.norm(x, axis=-1)),
    "norm_l1": lambda: ([_any((3, 4))], lambda x: ops.norm(x, ord=1, axis=0, keepdims=True)),
    "norm_p3": lambda: ([_any((3, 4))], lambda x: ops.norm(x, ord=3, axis=1)),
    "norm_inf": lambda: ([_distinct((3, 4))], lambda x: ops.norm(x, ord=np.inf, axis=1)),
    "norm_fro": lambda: ([_any((2, 3, 4))], lambda x: ops.norm(x, axis=(1, 2))),
    "norm_nuc": lambda: ([_any((2, 3, 4))], lambda x: ops.norm(x, ord="nuc", axis=(2, 1))),
    "norm_2": lambda: ([_any((3, 4))], lambda x: ops.norm(x, ord=2)),
    "norm_minus2": lambda: ([_any((3, 4))], lambda x: ops.norm(x, ord=-2)),
    "norm_matrix_1": lambda: ([_distinct((3, 4))], lambda x: ops.norm(x, ord=1, axis=(0, 1))),
    "norm_all": lambda: ([_any((2, 3))], ops.norm),
    "amax": lambda: ([_distinct((2, 3, 4))], lambda x: ops.amax(x, axis=(0, 2))),
    "amin": lambda: ([_distinct((3, 4))], lambda x: ops.amin(x, axis=1, keepdims=True)),
    "average": lambda: ([_any((3, 4)), _pos((3, 4))],
                        lambda x, w: ops.average(x, axis=1, weights=w)),
    "average_1d_weights": lambda: ([_any((3, 4)), _pos((4,))],
                                   lambda x, w: ops.average(x, axis=1, weights=w)),
    "median_odd": lambda: ([_distinct((3, 5))], lambda x: ops.median(x, axis=1)),
    "median_even": lambda: ([_distinct((2, 4, 3))], lambda x: ops.median(x, axis=(0, 1))),
    "tile": lambda: ([_any((2, 3))], lambda x: ops.tile(x, (2, 1, 3))),
    "split": lambda: ([_any((2, 6))], lambda x: ops.concatenate(
        [p * (i + 1.0) for i, p in enumerate(ops.split(x, [1, 4], axis=1))], axis=1)),
    "array_split": lambda: ([_any((7, 2))], lambda x: ops.array_split(x, 3)[0]),
    "broadcast_to": lambda: ([_any((3, 1))], lambda x: ops.broadcast_to(x, (2, 3, 4))),
    "flip": lambda: ([_any((2, 3, 4))], lambda x: ops.flip(x, (0, 2))),
    "roll": lambda: ([_any((3, 4))], lambda x: ops.roll(x, (1, -3), (0, 1))),
    "swapaxes": lambda: ([_any((2, 3, 4))], lambda x: ops.swapaxes(x, 0, 2)),
    "moveaxis": lambda: ([_any((2, 3, 4))], lambda x: ops.moveaxis(x, (0, 1), (2, 0))),
    "take": lambda: ([_any((3, 4))],
                     lambda x: ops.take(x, np.array([[0, 3], [3, -1]]), axis=1)),
    "take_flat": lambda: ([_any((3, 4))], lambda x: ops.take(x, np.array([5, 5, 0]))),
    "take_along_axis": lambda: ([_any((3, 4))], lambda x: ops.take_along_axis(
        x, np.array([[0, 0, 3], [1, 2, 2], [3, 1, 0]]), axis=1)),
    "take_along_axis_broadcast": lambda: ([_any((1, 4))], lambda x: ops.take_along_axis(
        x, np.array([[0, 0], [1, 3], [2, 2]]), axis=1)),
    "slice": lambda: ([_any((3, 4, 2))], lambda x: ops.slice(x, (1, 1, 0), (2, 2, 2))),
    "slice_update": lambda: ([_any((3, 4)), _any((2, 2))],
                             lambda x, u: ops.slice_update(x, (1, 1), u)),
    "append": lambda: ([_any((2, 3)), _any((1, 3))], lambda a, b: ops.append(a, b, axis=0)),
    "append_flat": lambda: ([_any((2, 3)), _any((4,))], ops.append),
    "diagonal": lambda: ([_any((3, 4, 2))], lambda x: ops.diagonal(x, 1, 0, 1)),
    "trace": lambda: ([_any((2, 3, 4))], lambda x: ops.trace(x, -1, 1, 2)),
    "ravel": lambda: ([_any((2, 3))], ops.ravel),
    "copy": lambda: ([_any((2, 3))], ops.copy),
    "sort": lambda: ([_distinct((3, 5))], lambda x: ops.sort(x, axis=0)),
    "top_k": lambda: ([_distinct((3, 5))], lambda x: ops.top_k(x, 2)[0]),
    "dot_product_attention": lambda: (
        [_any((2, 3, 2, 4)), _any((2, 5, 2, 4)), _any((2, 5, 2, 4)), _any((2, 3, 5))],
        lambda q, k, v, b: ops.dot_product_attention(q, k, v, bias=b, mask=MASK[:, :, :3, :5],
                                                     is_causal=True)),
    "dot_product_attention_grouped": lambda: (
        [_any((1, 3, 4, 2)), _any((1, 4, 2, 2)), _any((1, 4, 2, 2))],
        lambda q, k, v: ops.dot_product_attention(q, k, v, scale=0.8)),
    "binary_crossentropy": lambda: ([_pos((3, 4), 0.05, 0.95)], lambda p: ops.binary_crossentropy(
        np.array([[0.0, 1.0, 0.3, 1.0]] * 3), p)),
    "binary_crossentropy_logits": lambda: (
        [_any((3, 4), -5, 5), _pos((3, 4), 0.0, 1.0)],
        lambda z, t: ops.binary_crossentropy(t, z, from_logits=True)),
    "categorical_crossentropy": lambda: (
        [_pos((3, 4), 0.1, 1.0), _pos((3, 4), 0.0, 1.0)],
        lambda p, t: ops.categorical_crossentropy(t, p)),
    "categorical_crossentropy_logits": lambda: (
        [_any((3, 4))], lambda z: ops.categorical_crossentropy(
            np.eye(3)[[0, 2, 1, 1]].T, z, from_logits=True, axis=0)),
    "sparse_categorical_crossentropy": lambda: (
        [_pos((3, 4), 0.1, 1.0)], lambda p: ops.sparse_categorical_crossentropy(
            np.array([0, 3, 3]), p)),
    "sparse_categorical_crossentropy_logits": lambda: (
        [_any((2, 3, 4))], lambda z: ops.sparse_categorical_crossentropy(
            np.array([[0, 3, 1], [2, 2, 0]]), z, from_logits=True)),
    "normalize": lambda: ([_any((3, 4))], lambda x: ops.normalize(x, axis=0)),
    "normalize_order1": lambda: ([_any((3, 4))], lambda x: ops.normalize(x, order=1)),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_finite_difference_gradients(name):
    leaves, fn = GRAD_CASES[name]()
    check_grads(lambda: fn(*leaves), leaves, np.random.default_rng(5), eps=1e-6, rtol=1e-5,
                atol=1e-7)


def test_every_differentiable_op_has_a_gradient_check():
    differentiable = set(EXTRA) - {
        # integer, boolean or constant results: no gradient in Keras either
        "arange", "empty", "eye", "full", "full_like", "identity", "linspace", "ones", "tri",
        "zeros", "allclose", "isclose", "all", "any", "count_nonzero", "argsort", "size",
        "ndim", "unique",
        # piecewise constant: zero gradient, checked below
        "floor", "ceil", "trunc", "round", "floor_divide",
    }
    checked = {n if n in EXTRA else n.rsplit("_", 1)[0] for n in GRAD_CASES}
    checked |= {n for n in EXTRA for c in GRAD_CASES if c.startswith(n + "_")}
    assert differentiable <= checked, sorted(differentiable - checked)


def test_piecewise_constant_ops_have_zero_gradients():
    x = _any((3, 4))
    for fn in (ops.floor, ops.ceil, ops.trunc, ops.round, lambda v: ops.floor_divide(v, 0.7)):
        with GradientTape():
            loss = ops.sum(fn(x))
        (g,) = gradients(loss, [x])
        np.testing.assert_array_equal(g, np.zeros((3, 4)))


def test_nan_to_num_gradient_is_zero_where_replaced():
    x = leaf(np.array([1.0, np.inf, -np.inf, np.nan, -2.0]))
    with GradientTape(), np.errstate(all="ignore"):
        loss = ops.sum(ops.nan_to_num(x) * np.arange(1.0, 6.0))
    (g,) = gradients(loss, [x])
    np.testing.assert_array_equal(g, [1.0, 0.0, 0.0, 0.0, 5.0])


def test_gradients_flow_through_int_indices_not_values():
    x = _any((4,))
    with GradientTape():
        values, indices = ops.top_k(x, 2)
        loss = ops.sum(values)
    (g,) = gradients(loss, [x])
    want = np.zeros(4)
    want[np.argsort(-x.value)[:2]] = 1
    np.testing.assert_array_equal(g, want)
    assert indices.requires_grad is False


# ---------------------------------------------------------------------------------------------
# graph nodes in Functional models

def test_ops_as_graph_nodes_save_and_load_with_keras(tmp_path):
    pytest.importorskip("keras")
    from keras_files import check_keras_file_both_ways
    fk.utils.clear_session()
    inp = fk.Input((4, 6), name="x")
    a = ops.cumsum(inp, axis=1)
    b = ops.flip(ops.tile(a, (1, 1, 2)), axis=2)
    c1, c2 = ops.split(b, 2, axis=2)
    d = ops.logaddexp(c1, ops.swapaxes(ops.swapaxes(c2, 1, 2), 1, 2))
    e = ops.take(d, [0, 2, 5], axis=2)
    f = ops.logsumexp(e, axis=-1, keepdims=True)
    g = ops.norm(d, axis=-1, keepdims=True)
    s = ops.sort(d, axis=-1)
    t = ops.top_k(d, 2)[0]
    m = ops.moveaxis(ops.roll(d, 1, axis=1), 1, 2)
    h = ops.concatenate([d, f, g, s, t, ops.swapaxes(m, 1, 2), ops.cumprod(ops.tanh(d), axis=2),
                         ops.log_sigmoid(d), ops.arctan(d), ops.normalize(d),
                         ops.take_along_axis(d, ops.argsort(d, axis=-1), axis=-1),
                         ops.tril(ops.triu(ops.copy(d), -1)),
                         ops.nan_to_num(ops.rsqrt(ops.exp2(d)))], axis=-1)
    q = ops.reshape(h, (-1, 4, 2, h.shape[-1] // 2))
    att = ops.dot_product_attention(q, q, q, is_causal=True)
    out = ops.median(ops.reshape(att, (-1, 4, h.shape[-1])), axis=1)
    out = fk.layers.Dense(3, name="head")(ops.concatenate(
        [out, ops.prod(ops.diagonal(d, 0, 1, 2), axis=-1, keepdims=True),
         ops.trace(d, 0, 1, 2)[:, None]], axis=-1))
    model = fk.Model(inp, out)
    x = np.random.default_rng(0).uniform(-1, 1, (5, 4, 6)).astype("float32")
    check_keras_file_both_ways(model, x, tmp_path, keras_rtol=1e-4, keras_atol=1e-4)


def test_multi_output_and_keyword_call_ops_in_functional_models(tmp_path):
    pytest.importorskip("keras")
    from keras_files import check_keras_file_both_ways
    fk.utils.clear_session()
    inp = fk.Input((6,), name="x")
    parts = ops.array_split(inp, 4, axis=1)
    w = ops.average(inp, axis=1, weights=inp * 0 + 2.0)
    close = ops.cast(ops.isclose(inp, parts[0][:, :1], atol=0.5), "float32")
    y = ops.concatenate(parts[::-1] + [ops.full_like(inp, 3.0)[:, :2], w[:, None], close,
                                       ops.floor(inp * 3), ops.round(inp * 5, 1),
                                       ops.mod(inp, 0.3), ops.floor_divide(inp, 0.3),
                                       ops.amin(inp, axis=1, keepdims=True),
                                       ops.hypot(inp, ops.flip(inp, 1)),
                                       ops.arctan2(inp, ops.flip(inp, 1) + 2),
                                       ops.cosh(inp), ops.sinh(inp), ops.tan(inp * 0.5),
                                       ops.log2(ops.abs(inp) + 1), ops.log10(ops.abs(inp) + 1),
                                       ops.reciprocal(inp + 3), ops.arcsin(inp * 0.5),
                                       ops.arccos(inp * 0.5),
                                       ops.append(inp, inp, axis=1),
                                       ops.cast(ops.any(ops.greater(inp, 0.5), axis=1,
                                                        keepdims=True), "float32"),
                                       ops.cast(ops.all(ops.greater(inp, -0.9), axis=1,
                                                        keepdims=True), "float32")], axis=1)
    z = ops.sparse_categorical_crossentropy(ops.argmax(inp, axis=1), ops.softmax(inp))
    zz = ops.binary_crossentropy(ops.sigmoid(inp), ops.sigmoid(inp * 2))
    zc = ops.categorical_crossentropy(ops.softmax(inp), inp, from_logits=True)
    out = fk.layers.Dense(2, name="head")(ops.concatenate([y, z[:, None], zz, zc[:, None]],
                                                          axis=1))
    model = fk.Model(inp, out)
    x = np.random.default_rng(1).uniform(-1, 1, (4, 6)).astype("float32")
    check_keras_file_both_ways(model, x, tmp_path, keras_rtol=1e-4, keras_atol=1e-4)


def test_attention_with_tensor_mask_and_more_elementwise_nodes(tmp_path):
    pytest.importorskip("keras")
    from keras_files import check_keras_file_both_ways
    fk.utils.clear_session()
    inp = fk.Input((3, 4), name="x")
    t = ops.tanh(inp)
    q = ops.reshape(t, (-1, 3, 2, 2))
    mask = ops.greater(ops.matmul(t, ops.transpose(t, (0, 2, 1))), -0.2)[:, None]
    bias = ops.matmul(inp, ops.transpose(inp, (0, 2, 1)))[:, None] * 0.1
    att = ops.dot_product_attention(q, q, q, mask=mask, scale=0.5)
    att_b = ops.dot_product_attention(q, q, q, bias=bias)
    parts = [ops.reshape(att, (-1, 3, 4)), ops.reshape(att_b, (-1, 3, 4)), ops.ceil(inp * 2),
             ops.trunc(inp * 3), ops.arcsinh(inp), ops.arctanh(t * 0.9),
             ops.arccosh(ops.abs(inp) + 1.5),
             ops.amax(inp, axis=-1, keepdims=True)]
    out = fk.layers.Dense(2, name="head")(ops.concatenate(parts, axis=-1))
    model = fk.Model(inp, out)
    x = np.random.default_rng(2).uniform(-1, 1, (4, 3, 4)).astype("float32")
    # (count_nonzero is left out: Keras's torch backend transposes its result)
    check_keras_file_both_ways(model, x, tmp_path, keras_rtol=1e-4, keras_atol=1e-4)
