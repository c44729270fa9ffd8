"""`keras.ops` convolutions and poolings (fastkeras.ops.nn_more) and the adaptive pooling
layers: Keras 3's signatures, values and dtypes against real Keras (both data formats, odd
sizes, strides that do not divide, 'valid'/'same'), finite-difference gradients on float64
inputs and PyTorch's gradients through real Keras on float32 ones, `.keras` files, errors."""

import inspect

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import GradientTape, Tensor, gradients
from fastkeras.ops.nn_more import __all__ as NN_MORE
from gradcheck import check_grads, leaf

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

R = np.random.default_rng(5)


def f32(*shape):
    return R.standard_normal(shape).astype(np.float32)


def _np(v):
    return v.numpy() if isinstance(v, Tensor) else np.asarray(keras.ops.convert_to_numpy(v))


def _compare(ours, theirs, name, atol=1e-4):
    o, t = _np(ours), _np(theirs)
    assert o.shape == t.shape, f"{name}: shape {o.shape} != Keras {t.shape}"
    assert o.dtype == t.dtype, f"{name}: dtype {o.dtype} != Keras {t.dtype}"
    np.testing.assert_allclose(o, t, rtol=1e-4, atol=atol, err_msg=name)


def test_signatures_match_keras():
    for name in NN_MORE:
        ours = inspect.signature(getattr(ops, name)).parameters
        theirs = inspect.signature(getattr(keras.ops, name)).parameters
        assert list(ours) == list(theirs), name
        assert [p.default for p in ours.values()] == [p.default for p in theirs.values()], name


def _inputs(rank, data_format, channels=3):
    spatial = (7, 6, 5)[:rank]
    shape = (2,) + spatial + (channels,) if data_format == "channels_last" else \
        (2, channels) + spatial
    return f32(*shape)


def _cases():
    cases = []
    for df in ("channels_last", "channels_first"):
        for rank in (1, 2, 3):
            for pad in ("valid", "same"):
                for k, st, dil in ((3, 1, 1), (2, 3, 1), (3, 2, 1), (2, 1, 2)):
                    cases.append((rank, df, pad, k, st, dil))
    return cases


CASES = _cases()


def _case_id(c):
    return "r{}-{}-{}-k{}s{}d{}".format(c[0], c[1][9:], *c[2:])


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_convolutions_match_keras(case):
    rank, df, pad, k, st, dil = case
    x = _inputs(rank, df)
    kw = dict(strides=st, padding=pad, data_format=df, dilation_rate=dil)
    w = f32(*(k,) * rank, 4, 3)
    _compare(ops.conv_transpose(x, w, **kw), keras.ops.conv_transpose(x, w, **kw),
             f"conv_transpose {case}")
    if dil == 1:
        for op_ in range(st):
            _compare(ops.conv_transpose(x, w, output_padding=op_, **kw),
                     keras.ops.conv_transpose(x, w, output_padding=op_, **kw),
                     f"conv_transpose output_padding={op_} {case}")
    dw, pw = f32(*(k,) * rank, 3, 2), f32(*(1,) * rank, 6, 4)
    _compare(ops.depthwise_conv(x, dw, **kw), keras.ops.depthwise_conv(x, dw, **kw),
             f"depthwise_conv {case}")
    _compare(ops.separable_conv(x, dw, pw, **kw), keras.ops.separable_conv(x, dw, pw, **kw),
             f"separable_conv {case}")


def _asymmetric_same(size, k, st):
    """Whether 'same' pads this axis unevenly (where Keras's PyTorch backend averages
    replicated edge cells instead of leaving the padding out)."""
    out = -(-size // st)
    total = max((out - 1) * st + k - size, 0)
    return total % 2 == 1


def _avg_pool_reference(x, k, st, pad, data_format):
    """Average pooling in float64 with TensorFlow's 'same' rule (padding not counted)."""
    rank = x.ndim - 2
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    spatial = x.shape[1:-1]
    outs, befores = [], []
    for size in spatial:
        if pad == "same":
            out = -(-size // st)
            total = max((out - 1) * st + k - size, 0)
            befores.append(total // 2)
        else:
            out = (size - k) // st + 1
            befores.append(0)
        outs.append(out)
    y = np.zeros((x.shape[0],) + tuple(outs) + (x.shape[-1],))
    for idx in np.ndindex(*outs):
        window = tuple(slice(max(i * st - b, 0), min(i * st - b + k, s))
                       for i, b, s in zip(idx, befores, spatial))
        y[(slice(None),) + idx] = x[(slice(None),) + window].mean(axis=tuple(range(1, rank + 1)))
    return np.moveaxis(y, -1, 1) if data_format == "channels_first" else y


POOL_CASES = [(rank, df, pad, k, st) for rank in (1, 2, 3)
              for df in ("channels_last", "channels_first") for pad in ("valid", "same")
              for k, st in ((2, None), (3, 1), (3, 2), (2, 3), (1, 2))]


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: "r{}-{}-{}-k{}s{}".format(
    c[0], c[1][9:], *c[2:]))
def test_poolings_match_keras(case):
    rank, df, pad, k, st = case
    x = _inputs(rank, df)
    kw = dict(strides=st, padding=pad, data_format=df)
    _compare(ops.max_pool(x, k, **kw), keras.ops.max_pool(x, k, **kw), f"max_pool {case}")
    ours = ops.average_pool(x, k, **kw)
    spatial = x.shape[1:-1] if df == "channels_last" else x.shape[2:]
    if pad == "same" and any(_asymmetric_same(s, k, st or k) for s in spatial):
        # Keras's PyTorch backend pads such axes by replicating the edge and counts the copies;
        # Keras's rule (TensorFlow, JAX, Keras's own layers) leaves padding out of the mean.
        np.testing.assert_allclose(ours.numpy(), _avg_pool_reference(x, k, st or k, pad, df),
                                   rtol=1e-5, atol=1e-6)
    else:
        _compare(ours, keras.ops.average_pool(x, k, **kw), f"average_pool {case}")
        np.testing.assert_allclose(ours.numpy(), _avg_pool_reference(x, k, st or k, pad, df),
                                   rtol=1e-5, atol=1e-6)


ADAPTIVE_CASES = [(rank, df, size) for rank in (1, 2, 3)
                  for df in ("channels_last", "channels_first")
                  for size in (1, 2, 3, 4, (5, 2, 7))]


@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=str)
def test_adaptive_pools_match_keras(case):
    rank, df, size = case
    x = _inputs(rank, df)
    if isinstance(size, tuple):
        size = size[:rank]
    for name in ("adaptive_average_pool", "adaptive_max_pool"):
        _compare(getattr(ops, name)(x, size, data_format=df),
                 getattr(keras.ops, name)(x, size, data_format=df), f"{name} {case}")


def test_dtypes():
    x = _inputs(2, "channels_last")
    x64 = Tensor(x.astype(np.float64))
    w64 = Tensor(f32(3, 3, 4, 3).astype(np.float64))
    assert ops.conv_transpose(x64, w64, 2, "same").dtype == np.float64
    assert ops.depthwise_conv(x64, Tensor(f32(2, 2, 3, 2).astype(np.float64))).dtype == \
        np.float64
    for name in ("max_pool", "average_pool"):
        assert getattr(ops, name)(x64, 2).dtype == np.float64
        assert getattr(ops, name)(Tensor(x64.value[:, 0]), 3, 2, "same").dtype == np.float64
    for name in ("adaptive_average_pool", "adaptive_max_pool"):
        assert getattr(ops, name)(x64, 3).dtype == np.float64
    # float64 and float32 paths agree
    np.testing.assert_allclose(ops.conv_transpose(x64, w64, 2, "same").numpy(),
                               ops.conv_transpose(x, w64.value.astype(np.float32), 2,
                                                  "same").numpy(), rtol=1e-4, atol=1e-4)


# --- gradients --------------------------------------------------------------------------------

def _distinct(shape):
    n = int(np.prod(shape))
    return leaf((R.permutation(n) * 0.37 - n * 0.15).reshape(shape))


GRAD_CASES = {
    "conv_transpose_1d": lambda: ([leaf(f32(2, 5, 3)), leaf(f32(3, 2, 3))],
                                  lambda x, w: ops.conv_transpose(x, w, 2, "same")),
    "conv_transpose_2d_cf": lambda: ([leaf(f32(1, 3, 4, 3)), leaf(f32(2, 3, 2, 3))],
                                     lambda x, w: ops.conv_transpose(
                                         x, w, (2, 1), "valid", output_padding=(1, 0),
                                         data_format="channels_first")),
    "conv_transpose_3d": lambda: ([leaf(f32(1, 3, 2, 3, 2)), leaf(f32(2, 2, 2, 2, 2))],
                                  lambda x, w: ops.conv_transpose(x, w, 2, "same")),
    "depthwise_conv_2d": lambda: ([leaf(f32(2, 5, 4, 2)), leaf(f32(3, 2, 2, 2))],
                                  lambda x, w: ops.depthwise_conv(x, w, (2, 1), "same")),
    "depthwise_conv_1d_dilated": lambda: ([leaf(f32(1, 2, 9)), leaf(f32(3, 2, 1))],
                                          lambda x, w: ops.depthwise_conv(
                                              x, w, 1, "valid", "channels_first", 2)),
    "separable_conv_2d": lambda: ([leaf(f32(1, 5, 5, 2)), leaf(f32(2, 2, 2, 2)),
                                   leaf(f32(1, 1, 4, 3))],
                                  lambda x, d, p: ops.separable_conv(x, d, p, 2, "same")),
    "max_pool_2d": lambda: ([_distinct((2, 5, 7, 2))],
                            lambda x: ops.max_pool(x, 3, 2, "same")),
    "max_pool_1d": lambda: ([_distinct((2, 3, 8))],
                            lambda x: ops.max_pool(x, 2, 3, data_format="channels_first")),
    "average_pool_2d": lambda: ([leaf(f32(2, 5, 7, 2))],
                                lambda x: ops.average_pool(x, (3, 2), 2, "same")),
    "average_pool_3d": lambda: ([leaf(f32(1, 4, 3, 5, 2))],
                                lambda x: ops.average_pool(x, 2, 1, "same")),
    "adaptive_average_pool": lambda: ([leaf(f32(2, 7, 5, 2))],
                                      lambda x: ops.adaptive_average_pool(x, (3, 4))),
    "adaptive_max_pool": lambda: ([_distinct((2, 2, 7, 5))],
                                  lambda x: ops.adaptive_max_pool(
                                      x, (3, 2), data_format="channels_first")),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_finite_differences(name):
    leaves, fn = GRAD_CASES[name]()
    check_grads(lambda: fn(*leaves), leaves, R)


TORCH_GRAD_CASES = [
    ("conv_transpose", (2, 6, 5, 3), (3, 3, 4, 3), dict(strides=2, padding="same")),
    ("conv_transpose", (2, 3, 7), (3, 4, 3), dict(strides=3, output_padding=1,
                                                  data_format="channels_first")),
    ("depthwise_conv", (2, 7, 6, 3), (3, 3, 3, 2), dict(strides=(2, 1), padding="same")),
    ("depthwise_conv", (2, 9, 3), (3, 3, 2), dict(dilation_rate=2)),
    ("max_pool", (2, 7, 6, 3), None, dict(pool_size=3, strides=2, padding="same")),
    ("average_pool", (2, 8, 6, 3), None, dict(pool_size=2, padding="same")),
]


@pytest.mark.parametrize("case", range(len(TORCH_GRAD_CASES)))
def test_float32_gradients_match_keras(case):
    name, x_shape, k_shape, kwargs = TORCH_GRAD_CASES[case]
    x = f32(*x_shape)
    args = [x] if k_shape is None else [x, f32(*k_shape)]
    out = getattr(ops, name)(*args, **kwargs)
    g = f32(*out.shape)
    tensors = [torch.tensor(a, requires_grad=True) for a in args]
    loss = (getattr(keras.ops, name)(*tensors, **kwargs) * torch.tensor(g)).sum()
    theirs = torch.autograd.grad(loss, tensors)
    leaves = [Tensor(a, requires_grad=True) for a in args]
    with GradientTape():
        total = ops.sum(ops.multiply(getattr(ops, name)(*leaves, **kwargs), g))
    for ours, want in zip(gradients(total, leaves), theirs):
        np.testing.assert_allclose(ours, want.numpy(), rtol=1e-4, atol=1e-3)


# --- errors and graphs --------------------------------------------------------------------------

def test_errors_name_the_argument():
    x = f32(1, 6, 6, 2)
    with pytest.raises(ValueError, match="padding='full'"):
        ops.max_pool(x, 2, padding="full")
    with pytest.raises(ValueError, match="pool_size"):
        ops.average_pool(x, (2, 2, 2))
    with pytest.raises(ValueError, match="inputs.shape=\\(6, 6\\)"):
        ops.max_pool(f32(6, 6), 2)
    with pytest.raises(ValueError, match="data_format='nhwc'"):
        ops.depthwise_conv(x, f32(2, 2, 2, 1), data_format="nhwc")
    with pytest.raises(ValueError, match="kernel.shape=\\(3, 2, 1\\)"):
        ops.conv_transpose(x, f32(3, 2, 1))
    with pytest.raises(ValueError, match="output_padding"):
        ops.conv_transpose(x, f32(3, 3, 1, 2), 2, output_padding=(1, 1, 1))
    with pytest.raises(ValueError, match="output_size"):
        ops.adaptive_max_pool(x, (2, 0))
    with pytest.raises(ValueError, match="too small"):
        ops.max_pool(x, 7)
    with pytest.raises(ValueError, match="pointwise_kernel"):
        ops.separable_conv(x, f32(2, 2, 2, 1), f32(1, 1, 3, 4))


def test_ops_record_graph_nodes():
    inputs = fk.Input((8, 6, 3))
    y = ops.max_pool(inputs, 2)
    y = ops.adaptive_average_pool(y, (3, 2))
    y = ops.conv_transpose(y, np.ones((2, 2, 4, 3), np.float32), 2, "same")
    model = fk.Model(inputs, y)
    x = f32(2, 8, 6, 3)
    want = ops.conv_transpose(ops.adaptive_average_pool(ops.max_pool(x, 2), (3, 2)),
                              np.ones((2, 2, 4, 3), np.float32), 2, "same")
    assert model.output_shape == (None, 6, 4, 4)
    np.testing.assert_allclose(model(x).numpy(), want.numpy(), rtol=1e-6)


# --- adaptive pooling layers ----------------------------------------------------------------------

LAYERS = [("AdaptiveAveragePooling1D", (9, 3), 4), ("AdaptiveMaxPooling1D", (9, 3), (2,)),
          ("AdaptiveAveragePooling2D", (7, 5, 2), (3, 2)), ("AdaptiveMaxPooling2D", (7, 5, 2), 3),
          ("AdaptiveAveragePooling3D", (5, 4, 7, 2), (2, 3, 4)),
          ("AdaptiveMaxPooling3D", (5, 4, 7, 2), 2)]


@pytest.mark.parametrize("case", LAYERS, ids=lambda c: c[0])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_adaptive_layers_match_keras(case, data_format, tmp_path):
    name, shape, size = case
    ours = getattr(fk.layers, name)(size, data_format=data_format, name="pool")
    theirs = getattr(keras.layers, name)(size, data_format=data_format, name="pool")
    x = f32(2, *shape)
    _compare(ours(x), theirs(x), name)
    assert ours.get_config() == theirs.get_config()
    assert ours.compute_output_shape((None,) + shape) == theirs.compute_output_shape(
        (None,) + shape)
    clone = getattr(fk.layers, name).from_config(ours.get_config())
    np.testing.assert_array_equal(clone(x).numpy(), ours(x).numpy())
    model = fk.Sequential([fk.Input(shape), getattr(fk.layers, name)(size,
                                                                      data_format=data_format)])
    path = str(tmp_path / "adaptive.keras")
    model.save(path)
    reloaded = fk.saving.load_model(path)
    np.testing.assert_array_equal(reloaded(x).numpy(), model(x).numpy())
    k_model = keras.saving.load_model(path)
    _compare(model(x), k_model(x), f"{name} loaded by Keras")
    k_path = str(tmp_path / "from_keras.keras")
    k_model.save(k_path)
    np.testing.assert_allclose(fk.saving.load_model(k_path)(x).numpy(), model(x).numpy())


def test_adaptive_layer_errors():
    with pytest.raises(TypeError, match="output_size"):
        fk.layers.AdaptiveAveragePooling2D((2, 3, 4))
    with pytest.raises(TypeError, match="output_size"):
        fk.layers.AdaptiveMaxPooling1D("3")
    with pytest.raises(ValueError, match="data_format"):
        fk.layers.AdaptiveMaxPooling3D(2, data_format="NDHWC")
    with pytest.raises(ValueError, match="rank 4"):
        fk.layers.AdaptiveMaxPooling2D(2)(f32(2, 5, 3))
