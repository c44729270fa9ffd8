"""The last of `keras.ops` (fastkeras.ops.ops_rest): Keras 3's signatures, the values and dtypes
real Keras computes, finite-difference-checked gradients, CTC decoding against Keras, the
`custom_gradient` decorator on the tape and in training, graph nodes and clear errors."""

import inspect

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import GradientTape, Tensor, gradients
from fastkeras.ops.ops_rest import __all__ as REST
from gradcheck import check_grads, leaf

R = np.random.default_rng(31)


def f32(*shape, low=-2.0, high=2.0):
    return R.uniform(low, high, shape).astype(np.float32)


X3 = f32(3, 4, 5)
X2 = f32(4, 6)
XI = R.integers(-5, 6, (3, 4)).astype(np.int32)
XB = XI > 0
NANS = X3.copy()
NANS[0, 0, :2] = np.nan
NANS[1, 2, 1:4] = np.nan
NANS2 = X3[::-1].copy()
NANS2[0, 0, 1:3] = np.nan
IMG = f32(2, 3, 7, 6)
IMAGES = f32(2, 6, 4, 3, low=0.0, high=1.0)
Z = (X2 + 1j * X2[::-1]).astype(np.complex64)


def test_every_op_has_keras_signature():
    keras3 = pytest.importorskip("keras")
    for name in REST:
        ours = inspect.signature(getattr(ops, name)).parameters
        theirs = inspect.signature(getattr(keras3.ops, name)).parameters
        assert list(ours) == list(theirs), name
        assert [p.default for p in ours.values()] == [p.default for p in theirs.values()], name
        assert [p.kind for p in ours.values()] == [p.kind for p in theirs.values()], name


def test_module_ops_are_registered():
    from fastkeras.ops import ops_rest
    from fastkeras.ops.symbolic import _SPECS
    for name in REST:
        assert name in ops.__all__ and callable(getattr(ops, name)), name
    assert set(REST) - set(ops_rest.NOT_SYMBOLIC) == set(ops_rest.GRAPH_SPECS)
    assert all(_SPECS[name] == spec for name, spec in ops_rest.GRAPH_SPECS.items())


def test_nothing_of_keras_ops_is_missing():
    keras3 = pytest.importorskip("keras")
    assert sorted(set(dir(keras3.ops)) - set(dir(ops))) == []


# (op, args, kwargs) computed by fastkeras and by Keras: same shape, dtype and values.
VALUE_CASES = [
    ("rms_normalization", (X3,), {}),
    ("rms_normalization", (X3,), {"scale": X3[0, 0], "epsilon": 1e-3}),
    ("rms_normalization", (X3,), {"axis": (1, 2)}),
    ("rms_normalization", (X3.astype(np.float64),), {"axis": [-1]}),
    ("rms_normalization", (XI,), {}),
    ("psnr", (X3, X3 * 0.9, 2.0), {}), ("psnr", (X2, X2[::-1], 1.0), {}),
    ("psnr", (X2.astype(np.float64), X2[::-1].astype(np.float64), 3.0), {}),
    ("polar", (X2, X2[::-1]), {}), ("polar", (X2.astype(np.float64), X2[::-1]), {}),
    ("angle", (X3,), {}), ("angle", (XI,), {}), ("angle", (Z,), {}),
    ("angle", (X2.astype(np.float64),), {}), ("angle", (XB,), {}),
    ("cdist", (X3, X3[:, :2]), {}), ("cdist", (XI, XI[:2]), {}),
    ("cdist", (X2[None], X2[:3]), {}), ("cdist", (X2.astype(np.float64), X2[1:3]), {}),
    ("fmax", (NANS, NANS2), {}), ("fmin", (NANS, NANS2), {}), ("fmax", (NANS, 0.5), {}),
    ("fmax", (XI, 1.5), {}), ("fmin", (XI, XI[::-1]), {}), ("fmax", (XB, XB[::-1]), {}),
    ("fmin", (X2, X2[0]), {}),
    ("i0", (X3,), {}), ("i0", (XI,), {}), ("i0", (X2.astype(np.float64) * 5,), {}),
    ("i0", (XB,), {}),
    ("nanquantile", (NANS, 0.3), {}),
    ("nanquantile", (NANS, np.array([0.2, 0.7])), {"axis": 2}),
    ("nanquantile", (NANS, np.array([0.25, 0.6])), {"axis": 1, "method": "lower"}),
    ("nanquantile", (NANS, np.array([0.25, 0.6])), {"axis": 1, "method": "higher"}),
    ("nanquantile", (NANS, np.array([0.25, 0.6])), {"axis": 1, "method": "midpoint"}),
    ("nanquantile", (NANS, np.array([0.25, 0.6])), {"axis": 1, "method": "nearest"}),
    ("nanquantile", (NANS, 0.5), {"axis": (0, 2), "keepdims": True}),
    ("nanquantile", (X3, 1.0), {"axis": 0}),
    ("nanpercentile", (NANS, 40.0), {"axis": 1}), ("nanpercentile", (XI, 40.0), {"axis": 1}),
    ("nanpercentile", (NANS, np.array([10.0, 90.0])), {}),
    ("unfold", (IMG,), {"kernel_size": 2}),
    ("unfold", (IMG,), {"kernel_size": (3, 2), "stride": 2, "padding": 1}),
    ("unfold", (IMG,), {"kernel_size": 2, "dilation": (2, 1), "stride": (1, 2),
                        "padding": (0, 1)}),
    ("fold", (f32(2, 12, 30), (7, 6)), {"kernel_size": 2}),
    ("fold", (f32(2, 18, 16), (7, 6)), {"kernel_size": (3, 2), "stride": 2, "padding": 1}),
    ("fold", (f32(1, 8, 18), (6, 5)), {"kernel_size": 2, "dilation": 2, "stride": 1,
                                       "padding": (1, 0)}),
    ("view", (X3, "int32"), {}), ("view", (X3, "int16"), {}), ("view", (XI, "float32"), {}),
    ("view", (X2.astype(np.float64), "int32"), {}),
    ("view_as_complex", (X3[..., :2],), {}), ("view_as_complex", (XI[:, :2],), {}),
    ("view_as_real", (Z,), {}), ("view_as_real", (Z.astype(np.complex128),), {}),
    ("get_item", (X3, (1, slice(None, 3), None, -1)), {}), ("get_item", (XI, 2), {}),
    ("get_item", (X3, (Ellipsis, 1)), {}), ("get_item", (X2, np.array([3, 0, 3])), {}),
    ("rearrange", (IMAGES, "b h w c -> b c h w"), {}),
    ("rearrange", (IMAGES, "b h w c -> (b h) w c"), {}),
    ("rearrange", (IMAGES, "b h w c -> h (b w) c"), {}),
    ("rearrange", (IMAGES, "b h w c -> b (c h w)"), {}),
    ("rearrange", (IMAGES, "b (h1 h) (w1 w) c -> (b h1 w1) h w c"), {"h1": 2, "w1": 2}),
    ("rearrange", (IMAGES, "b (h h1) (w w1) c -> b h w (c h1 w1)"), {"h1": 3, "w1": 2}),
    ("rearrange", (XI, "a b -> b a"), {}),
]

# Keras's PyTorch backend departs from its own documentation here: numpy is the reference
# (nextafter of float32 inputs, which torch rounds through float64; float64 tensors keep their
# precision in nextafter and fmin, which Keras's torch backend narrows to float32).
NUMPY_CASES = [
    ("nextafter", (np.array([1.0, 1.0], np.float32), np.array([2.0, 0.0], np.float32)), {},
     np.nextafter(np.float32([1.0, 1.0]), np.float32([2.0, 0.0]))),
    ("nextafter", (XI, 0), {}, np.nextafter(XI.astype(np.float32), np.float32(0))),
    ("nextafter", (X2.astype(np.float64), np.float64(0.0)), {},
     np.nextafter(X2.astype(np.float64), 0.0)),
    ("fmin", (X2, X2[0].astype(np.float64)), {}, np.fmin(X2, X2[0].astype(np.float64))),
    ("rms_normalization", (X2,), {"axis": 0},
     X2 / np.sqrt(np.mean(X2 ** 2, axis=0, keepdims=True) + 1e-7)),
    ("view_as_real", (X2,), {}, np.stack([X2, np.zeros_like(X2)], axis=-1)),
    ("view", (XI,), {}, XI),  # torch reads dtype=None as float32
    ("view_as_complex", (X2[:, :2].astype(np.float64),), {},
     X2[:, 0].astype(np.float64) + 1j * X2[:, 1]),
    ("nanquantile", (NANS, np.array([0.1, 0.5, 0.9])), {"axis": (0, 2)},
     np.nanquantile(NANS, [0.1, 0.5, 0.9], axis=(0, 2)).astype(np.float32)),
    ("nanpercentile", (NANS.astype(np.float64), 35.0), {"axis": -1, "keepdims": True},
     np.nanpercentile(NANS.astype(np.float64), 35.0, axis=-1, keepdims=True)),
    ("rearrange", (IMAGES, "b ... c -> b c ..."), {}, np.moveaxis(IMAGES, -1, 1)),
    ("rearrange", (IMAGES, "b h w c -> b (h w) c"), {}, IMAGES.reshape(2, 24, 3)),
]


def _as_np(v, keras3):
    if isinstance(v, Tensor):
        return v.numpy()
    if isinstance(v, (int, float, bool, np.ndarray, np.generic)):
        return np.asarray(v)
    return np.asarray(keras3.ops.convert_to_numpy(v))


def _compare(ours, theirs, keras3, name, rtol=1e-5, atol=1e-6):
    if isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(theirs), name
        for o, t in zip(ours, theirs):
            _compare(o, t, keras3, name, rtol, atol)
        return
    o, t = _as_np(ours, keras3), _as_np(theirs, keras3)
    assert o.shape == t.shape, f"{name}: shape {o.shape} != Keras {t.shape}"
    assert o.dtype == t.dtype, f"{name}: dtype {o.dtype} != Keras {t.dtype}"
    np.testing.assert_allclose(o, t, rtol=rtol, atol=atol, equal_nan=True, err_msg=name)


def _keras_args(keras3, name, args):
    # Keras's torch backend needs torch tensors for these.
    if name in ("unfold", "fold", "view_as_real"):
        args = (keras3.ops.convert_to_tensor(args[0]),) + tuple(args[1:])
    # float64 numpy data stays float64 as a tensor on both sides
    return tuple(keras3.ops.convert_to_tensor(a) if isinstance(a, np.ndarray)
                 and a.dtype == np.float64 else a for a in args)


def _ours(args):
    # float64 numpy data becomes float32 in fastkeras unless it is a Tensor already
    return tuple(Tensor(a) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a
                 for a in args)


@pytest.mark.parametrize("i", range(len(VALUE_CASES)))
def test_values_and_dtypes_match_keras(i):
    keras3 = pytest.importorskip("keras")
    name, args, kwargs = VALUE_CASES[i]
    ours = getattr(ops, name)(*_ours(args), **kwargs)
    theirs = getattr(keras3.ops, name)(*_keras_args(keras3, name, args), **kwargs)
    rtol = 1e-4 if name in ("psnr", "i0") else 1e-5
    _compare(ours, theirs, keras3, f"{name} {kwargs}", rtol=rtol)


@pytest.mark.parametrize("i", range(len(NUMPY_CASES)))
def test_values_where_keras_torch_departs_from_numpy(i):
    name, args, kwargs, want = NUMPY_CASES[i]
    out = getattr(ops, name)(*_ours(args), **kwargs).numpy()
    assert out.shape == np.shape(want) and out.dtype == np.asarray(want).dtype, name
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6, err_msg=name)


def test_nan_only_slices_and_fold_inverts_unfold():
    x = np.array([[np.nan, np.nan, np.nan], [1.0, np.nan, 3.0]], np.float32)
    out = ops.nanquantile(x, 0.5, axis=1).numpy()
    assert np.isnan(out[0]) and out[1] == 2.0
    # fold(unfold(x)) multiplies each pixel by the number of blocks covering it
    cols = ops.unfold(IMG, 3, padding=1)
    counts = ops.fold(ops.unfold(np.ones_like(IMG), 3, padding=1), (7, 6), 3, padding=1)
    np.testing.assert_allclose(ops.fold(cols, (7, 6), 3, padding=1).numpy(),
                               IMG * counts.numpy(), rtol=1e-6)
    assert ops.unfold(XI.reshape(1, 1, 3, 4), 2).dtype == np.int32


def test_complex_round_trips_and_polar_angle():
    z = ops.polar(np.float32([1.0, 2.0]), np.float32([0.5, -2.0]))
    assert z.dtype == np.complex64
    np.testing.assert_allclose(ops.angle(z).numpy(), [0.5, -2.0], rtol=1e-6)
    np.testing.assert_allclose(ops.view_as_real(z).numpy(),
                               [[np.cos(0.5), np.sin(0.5)], [2 * np.cos(-2.0), 2 * np.sin(-2.0)]],
                               rtol=1e-6)
    back = ops.view_as_complex(ops.view_as_real(z))
    np.testing.assert_allclose(back.numpy(), z.numpy())


# ---------------------------------------------------------------------------------------------
# CTC decoding against Keras on random logits

@pytest.mark.parametrize("seed", range(4))
def test_ctc_decode_matches_keras(seed):
    keras3 = pytest.importorskip("keras")
    rng = np.random.default_rng(seed)
    batch, time, classes = 4, int(rng.integers(3, 10)), int(rng.integers(3, 7))
    logits = (rng.standard_normal((batch, time, classes)) * 2).astype(np.float32)
    lengths = np.array([time, max(time - 2, 0), 1, int(rng.integers(0, time + 1))], np.int32)
    cases = [{}, {"merge_repeated": False}, {"mask_index": classes - 1},
             {"mask_index": None, "merge_repeated": False},
             {"strategy": "beam_search", "beam_width": 3},
             {"strategy": "beam_search", "beam_width": 5, "top_paths": 3},
             {"strategy": "beam_search", "beam_width": 4, "top_paths": 2, "mask_index": 1},
             {"strategy": "beam_search", "beam_width": 8, "top_paths": 4}]
    for kwargs in cases:
        ours = ops.ctc_decode(logits, lengths, **kwargs)
        theirs = keras3.ops.ctc_decode(logits, lengths, **kwargs)
        _compare(list(ours), list(theirs), keras3, f"ctc_decode {kwargs}", rtol=1e-4,
                 atol=1e-4)
        assert ours[0].dtype == np.int32


def test_ctc_decode_greedy_by_hand():
    # frames argmax: 1 1 0 2 2 2 (blank 0) -> "1 2"; without merging: "1 1 2 2 2"
    probs = np.full((1, 6, 3), -5.0, np.float32)
    for t, c in enumerate([1, 1, 0, 2, 2, 2]):
        probs[0, t, c] = 1.0
    paths, scores = ops.ctc_decode(probs, np.array([6]))
    np.testing.assert_array_equal(paths.numpy(), [[[1, 2, -1, -1, -1, -1]]])
    np.testing.assert_allclose(scores.numpy(), [[-6.0]])
    paths, _ = ops.ctc_decode(probs, np.array([6]), merge_repeated=False)
    np.testing.assert_array_equal(paths.numpy(), [[[1, 1, 2, 2, 2, -1]]])
    paths, _ = ops.ctc_decode(probs, np.array([4]))
    np.testing.assert_array_equal(paths.numpy(), [[[1, 2, -1, -1, -1, -1]]])
    paths, scores = ops.ctc_decode(probs, np.array([6]), strategy="beam_search", beam_width=4,
                                   top_paths=2)
    assert paths.shape == (2, 1, 6) and scores.shape == (1, 2)
    np.testing.assert_array_equal(paths.numpy()[0, 0, :2], [1, 2])
    assert scores.numpy()[0, 0] >= scores.numpy()[0, 1]


# ---------------------------------------------------------------------------------------------
# gradients: tape gradients of sum(op * w) against central differences, float64 leaves

def _any(shape, low=-2.0, high=2.0):
    return leaf(R.uniform(low, high, shape))


def _distinct(shape):
    n = int(np.prod(shape))
    return leaf((R.permutation(n) * 0.37 - n * 0.15).reshape(shape))


def _with_nans(shape):
    v = (R.permutation(int(np.prod(shape))) * 0.31 - 1.0).reshape(shape)
    v[R.random(shape) < 0.25] = np.nan
    v[..., 0] = R.uniform(5.0, 6.0, v.shape[:-1])
    return leaf(v)


GRAD_CASES = {
    "rms_normalization": lambda: ([_any((3, 4)), _any((4,))],
                                 lambda x, s: ops.rms_normalization(x, s)),
    "rms_normalization_axes": lambda: ([_any((2, 3, 4))],
                                       lambda x: ops.rms_normalization(x, axis=(0, 2))),
    "psnr": lambda: ([_any((3, 4)), _any((3, 4)), leaf(np.array(1.5))],
                     lambda a, b, m: ops.psnr(a, b, m)),
    "polar": lambda: ([_any((3, 4), 0.2, 2.0), _any((4,))],
                      lambda r, t: ops.view_as_real(ops.polar(r, t))),
    "angle": lambda: ([_any((3, 4), 0.2, 2.0), _any((3, 4))],
                      lambda r, t: ops.angle(ops.polar(r, t))),
    "cdist": lambda: ([_any((2, 3, 4)), _any((5, 4))], ops.cdist),
    "fmax": lambda: ([_distinct((3, 4)), _distinct((4,))], ops.fmax),
    "fmax_nan": lambda: ([_with_nans((3, 4)), _distinct((3, 4))],
                         lambda a, b: ops.nan_to_num(ops.fmax(a, b))),
    "fmin": lambda: ([_distinct((3, 4)), _distinct((3, 1))], ops.fmin),
    "i0": lambda: ([_any((3, 4), -4.0, 4.0)], ops.i0),
    "nanquantile": lambda: ([_with_nans((3, 6))],
                            lambda x: ops.nanquantile(x, [0.3, 0.8], axis=1)),
    "nanquantile_methods": lambda: ([_with_nans((2, 7))], lambda x: ops.concatenate(
        [ops.nanquantile(x, 0.45, axis=1, method=m) for m in
         ("lower", "higher", "midpoint", "nearest")], axis=0)),
    "nanpercentile": lambda: ([_with_nans((2, 3, 4))],
                              lambda x: ops.nanpercentile(x, 35.0, axis=(0, 2), keepdims=True)),
    "unfold": lambda: ([_any((1, 2, 5, 4))],
                       lambda x: ops.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=2)),
    "fold": lambda: ([_any((2, 12, 12))], lambda x: ops.fold(x, (4, 5), 2, stride=(2, 1),
                                                            padding=(1, 0))),
    "view": lambda: ([_any((3, 4))], lambda x: ops.view(x, "float64")),
    "view_as_complex": lambda: ([_any((3, 2))],
                                lambda x: ops.view_as_real(ops.view_as_complex(x))),
    "view_as_real": lambda: ([_any((3, 4))], ops.view_as_real),
    "get_item": lambda: ([_any((3, 4, 2))], lambda x: ops.get_item(x, (slice(1, None), -1))),
    "rearrange": lambda: ([_any((2, 4, 3))],
                          lambda x: ops.rearrange(x, "b (h h1) c -> h (b c h1)", h1=2)),
    "vectorize": lambda: ([_any((3, 4)), _any((4,))], lambda a, b: ops.vectorize(
        lambda u, v: ops.sum(ops.multiply(u, ops.sin(v))), signature="(n),(n)->()")(a, b)),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_finite_difference_gradients(name):
    leaves, fn = GRAD_CASES[name]()
    with np.errstate(invalid="ignore"):
        check_grads(lambda: fn(*leaves), leaves, np.random.default_rng(5), eps=1e-6, rtol=1e-5,
                    atol=1e-7)


# Integer or index results, bit views and decoders (no gradient in Keras either), and
# function transforms (checked through the user's functions).
NOT_DIFFERENTIABLE = {"ctc_decode", "nextafter", "custom_gradient"}


def test_every_differentiable_op_has_a_gradient_check():
    differentiable = set(REST) - NOT_DIFFERENTIABLE
    checked = {n for n in REST for c in GRAD_CASES if c == n or c.startswith(n + "_")}
    assert differentiable <= checked, sorted(differentiable - checked)


def test_gradients_of_real_angle_and_bit_views_are_zero_or_absent():
    x = _any((3,))
    with GradientTape():
        loss = ops.sum(ops.angle(x))
    np.testing.assert_array_equal(gradients(loss, [x])[0], np.zeros(3))
    with GradientTape():
        loss = ops.sum(ops.view(ops.view(x, "int64"), "float64"))
    assert gradients(loss, [x]) == [None]


# ---------------------------------------------------------------------------------------------
# custom_gradient

@ops.custom_gradient
def _log1pexp(x):
    e = ops.exp(x)

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1.0, e))

    return ops.log(1.0 + e), grad


@ops.custom_gradient
def _clip_gradient(x, limit):
    def grad(upstream):
        return ops.clip(upstream, -limit, limit), None

    return ops.multiply(x, 1.0), grad


@ops.custom_gradient
def _two_outputs(a, b):
    def grad(ga, gb):
        return ops.add(ops.multiply(ga, 2.0), gb), ops.multiply(gb, 3.0)

    return (ops.multiply(a, 2.0), ops.add(a, ops.multiply(b, 3.0))), grad


def test_custom_gradient_inside_a_gradient_tape():
    x = leaf(np.array([-1.0, 0.0, 2.0, 100.0]))
    with GradientTape() as tape:
        y = _log1pexp(x)
        loss = ops.sum(y)
    np.testing.assert_allclose(y.numpy()[:3], np.log1p(np.exp(x.value[:3])))
    g = tape.gradient(loss, x)
    np.testing.assert_allclose(g, 1.0 / (1.0 + np.exp(-x.value)))  # finite at 100
    # the tape uses grad_fn, not the forward ops: a clipped gradient
    w = leaf(np.array([1.0, -2.0]))
    with GradientTape():
        loss = ops.sum(ops.multiply(_clip_gradient(w, 0.5), 10.0))
    np.testing.assert_allclose(gradients(loss, [w])[0], [0.5, 0.5])
    a, b = leaf(np.array([1.0, 2.0])), leaf(np.array([3.0]))
    with GradientTape():
        p, q = _two_outputs(a, b)
        loss = ops.add(ops.sum(p), ops.multiply(ops.sum(q), 2.0))
    ga, gb = gradients(loss, [a, b])
    np.testing.assert_allclose(ga, [4.0, 4.0])
    np.testing.assert_allclose(gb, [12.0])  # summed over the broadcast
    # values agree with Keras's decorator
    keras3 = pytest.importorskip("keras")
    kf = keras3.ops.custom_gradient(_log1pexp.__wrapped__)
    np.testing.assert_allclose(_log1pexp(np.float32([0.5, 1.5])).numpy(),
                               keras3.ops.convert_to_numpy(kf(keras3.ops.convert_to_tensor(
                                   np.float32([0.5, 1.5])))), rtol=1e-6)


@ops.custom_gradient
def _scaled_grad(x):
    def grad(upstream):
        return ops.multiply(upstream, 0.0)

    return ops.multiply(x, 1.0), grad


class _Frozen(fk.layers.Layer):
    """A Dense layer behind a custom gradient that stops every update."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = fk.layers.Dense(2, kernel_initializer="ones")

    def call(self, x):
        return _scaled_grad(self.dense(x))


def test_custom_gradient_in_a_training_step():
    fk.utils.clear_session()
    x = R.uniform(-1, 1, (16, 3)).astype(np.float32)
    y = R.uniform(-1, 1, (16, 2)).astype(np.float32)
    model = fk.Sequential([fk.Input((3,)), _Frozen()])
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # without the decorator the same model trains
    fk.utils.clear_session()
    plain = fk.Sequential([fk.Input((3,)), fk.layers.Dense(2, kernel_initializer="ones")])
    plain.compile(optimizer="sgd", loss="mse")
    plain.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert not np.array_equal(plain.get_weights()[0], before[0])


# ---------------------------------------------------------------------------------------------
# vectorize and graph nodes

def test_vectorize_matches_keras():
    keras3 = pytest.importorskip("keras")
    x = np.float32([1.0, 2.0, 3.0, 4.0])
    _compare(ops.vectorize(lambda a, b: ops.add(a, b))(x, 2.0),
             keras3.ops.vectorize(lambda a, b: keras3.ops.add(a, b))(x, 2.0), keras3,
             "vectorize")
    sig = "(m,n),(n)->(m)"
    _compare(ops.vectorize(ops.matmul, signature=sig)(X3[:, :, :3], X3[0, 0, :3]),
             keras3.ops.vectorize(keras3.ops.matmul, signature=sig)(X3[:, :, :3],
                                                                    X3[0, 0, :3]),
             keras3, "vectorize signature")
    # excluded arguments are passed through unchanged
    f = ops.vectorize(lambda a, power: ops.power(a, power), excluded={1})
    np.testing.assert_allclose(f(x, 2.0).numpy(), x ** 2)


def test_ops_as_graph_nodes():
    fk.utils.clear_session()
    inp = fk.Input((4, 6), name="x")
    parts = [ops.rms_normalization(inp), ops.fmax(inp, 0.1), ops.fmin(inp, -0.1),
             ops.i0(inp), ops.nanquantile(inp, 0.5, axis=-1, keepdims=True),
             ops.rearrange(ops.rearrange(inp, "b h (w w1) -> b (h w1) w", w1=2),
                           "b (h w1) w -> b h (w w1)", w1=2),
             ops.get_item(inp, (slice(None), slice(None), slice(0, 2))),
             ops.view_as_real(ops.polar(inp, inp))[..., 0],
             ops.angle(inp), ops.cdist(inp, inp)[..., :3]]
    cols = ops.unfold(ops.expand_dims(inp, 1), 2)
    parts.append(ops.reshape(ops.fold(cols, (4, 6), 2), (-1, 4, 6)))
    out = ops.concatenate(parts, axis=-1)
    model = fk.Model(inp, out)
    x = R.uniform(-1, 1, (3, 4, 6)).astype(np.float32)
    got = model.predict(x, verbose=0)
    t = Tensor(x)
    want = ops.concatenate([
        ops.rms_normalization(t), ops.fmax(t, 0.1), ops.fmin(t, -0.1), ops.i0(t),
        ops.nanquantile(t, 0.5, axis=-1, keepdims=True), t, t[:, :, :2],
        ops.view_as_real(ops.polar(t, t))[..., 0], ops.angle(t), ops.cdist(t, t)[..., :3],
        ops.reshape(ops.fold(ops.unfold(ops.expand_dims(t, 1), 2), (4, 6), 2), (-1, 4, 6))],
        axis=-1)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-6, atol=1e-6)
    inp2, lengths = fk.Input((7, 5)), fk.Input((), dtype="int32")
    decoded, scores = ops.ctc_decode(inp2, lengths)
    assert decoded.shape == (1, None, 7) and scores.shape == (None, 1)
    assert ops.psnr(inp, inp * 0.5, 1.0).shape == ()


def test_callables_stay_out_of_graphs():
    inp = fk.Input((3,))
    with pytest.raises(TypeError, match="symbolic"):
        _log1pexp(inp)


# ---------------------------------------------------------------------------------------------
# bad input: a clear exception naming the argument and the value received

LOGITS = f32(2, 5, 4)
ERROR_CASES = [
    (ValueError, "strategy", lambda: ops.ctc_decode(LOGITS, [5, 5], strategy="best")),
    (ValueError, "inputs.shape", lambda: ops.ctc_decode(LOGITS[0], [5])),
    (ValueError, "sequence_lengths", lambda: ops.ctc_decode(LOGITS, [5])),
    (ValueError, "sequence_lengths", lambda: ops.ctc_decode(LOGITS, [5, -1])),
    (ValueError, "mask_index", lambda: ops.ctc_decode(LOGITS, [5, 5], mask_index=4)),
    (ValueError, "beam_width", lambda: ops.ctc_decode(LOGITS, [5, 5], "beam_search", 0)),
    (ValueError, "top_paths", lambda: ops.ctc_decode(LOGITS, [5, 5], "beam_search", 3, 0)),
    (ValueError, "x1.shape", lambda: ops.psnr(X2, X2[:2], 1.0)),
    (ValueError, "x.shape", lambda: ops.cdist(X2[0], X2)),
    (ValueError, "y.shape", lambda: ops.cdist(X2, X3[0])),
    (ValueError, "x.shape", lambda: ops.unfold(X3, 2)),
    (ValueError, "kernel_size", lambda: ops.unfold(IMG, 0)),
    (ValueError, "padding", lambda: ops.unfold(IMG, 2, padding=-1)),
    (ValueError, "kernel_size", lambda: ops.unfold(IMG, 9)),
    (ValueError, "x.shape", lambda: ops.fold(IMG, (7, 6), 2)),
    (ValueError, "x.shape", lambda: ops.fold(f32(2, 12, 29), (7, 6), 2)),
    (ValueError, "kernel_size", lambda: ops.fold(f32(2, 10, 30), (7, 6), 2)),
    (ValueError, "x.shape", lambda: ops.view_as_complex(X3)),
    (ValueError, "dtype", lambda: ops.view(np.float32(1.0), "int16")),
    (ValueError, "x.shape", lambda: ops.view(f32(3, 3), "float64")),
    (ValueError, "method", lambda: ops.nanquantile(X2, 0.5, method="cubic")),
    (ValueError, "q", lambda: ops.nanpercentile(X2, 120.0)),
    (ValueError, "axis", lambda: ops.rms_normalization(X2, axis=3)),
    (ValueError, "pattern", lambda: ops.rearrange(X2, "a b c -> c b a")),
    (ValueError, "pattern", lambda: ops.rearrange(X2, "a b -> a")),
    (ValueError, "pattern", lambda: ops.rearrange(X2, "a b")),
    (ValueError, "axes_lengths", lambda: ops.rearrange(X2, "(a a1) b -> a a1 b", a1=3)),
    (ValueError, "axes_lengths", lambda: ops.rearrange(X2, "a b -> b a", c=2)),
    (ValueError, "pyfunc", lambda: ops.vectorize(3)),
    (ValueError, "signature", lambda: ops.vectorize(ops.sum, signature="n->()")),
    (TypeError, "f", lambda: ops.custom_gradient(3)),
    (TypeError, "grad_fn", lambda: ops.custom_gradient(lambda x: x)(X2)),
]


@pytest.mark.parametrize("i", range(len(ERROR_CASES)))
def test_bad_arguments_raise_clear_errors(i):
    kind, word, fn = ERROR_CASES[i]
    with pytest.raises(kind, match=word.replace(".", r"\.")) as info:
        fn()
    assert "Received" in str(info.value) or "must be" in str(info.value)
