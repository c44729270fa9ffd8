"""The convolution and pooling bindings (_core) against float64 NumPy references: the direct
depthwise kernel, the dense conv2d forward/backward with explicit asymmetric padding, im2col and
its adjoint col2im, max/average pooling (including the max tie rule), and argument checks."""

import numpy as np
import pytest

import fastkeras as keras
from fastkeras import _core
from fastkeras.backend import GradientTape, gradients
from fastkeras.backend.tape import convert_to_tensor, make_op
from fastkeras.ops.conv2d import _f32, conv_output_length, same_padding
from fastkeras.ops.depthwise import depthwise_conv2d as direct_depthwise


def im2col_depthwise(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """A second, independent depthwise op to check the direct kernel against: patches from the
    C++ im2col (input gradient through col2im), per-channel products as numpy contractions."""
    x = convert_to_tensor(x)
    kernel = convert_to_tensor(kernel)
    xv, wv = _f32(x), _f32(kernel)
    n, h, w, c = xv.shape
    kh, kw, _, m = wv.shape
    if padding == "same":
        pads = (same_padding(h, kh, strides[0], dilation[0])[0],
                same_padding(w, kw, strides[1], dilation[1])[0])
    else:
        pads = (0, 0)
    oh = conv_output_length(h, kh, strides[0], dilation[0], padding)
    ow = conv_output_length(w, kw, strides[1], dilation[1], padding)
    col = np.empty((n, oh, ow, kh * kw * c), np.float32)
    _core.im2col(xv, col, (kh, kw), strides, pads, dilation)
    patches = col.reshape(n * oh * ow, kh * kw, c)
    wk = wv.reshape(kh * kw, c, m)
    y = np.einsum("rkc,kcm->rcm", patches, wk, optimize=True).reshape(n, oh, ow, c * m)
    if bias is not None:
        y += _f32(bias)

    def backward(g, needs):
        gr = np.ascontiguousarray(g, dtype=np.float32).reshape(n * oh * ow, c, m)
        dx = dw = db = None
        if needs[0]:
            dcol = np.einsum("rcm,kcm->rkc", gr, wk, optimize=True).astype(np.float32)
            dx = np.empty_like(xv)
            _core.col2im(np.ascontiguousarray(dcol.reshape(n, oh, ow, kh * kw * c)), dx,
                         (kh, kw), strides, pads, dilation)
        if needs[1]:
            dw = np.einsum("rkc,rcm->kcm", patches, gr, optimize=True).astype(np.float32)
            dw = dw.reshape(wv.shape)
        if bias is not None and needs[2]:
            db = gr.reshape(-1, c * m).sum(axis=0)
        return dx, dw, db

    parents = (x, kernel) if bias is None else (x, kernel, bias)
    return make_op(y.astype(np.float32, copy=False), parents, backward)


def out_size(size, k, stride, dil, pad_total):
    return (size + pad_total - dil * (k - 1) - 1) // stride + 1


def padded(x, pads, fill=0.0):
    (pt, pb), (pl, pr) = pads
    return np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)),
                  constant_values=fill)


def windows(xp, kh, kw, oh, ow, strides, dil):
    """(i, j, view) for every kernel tap: view[n, oy, ox, c] = the padded input under it."""
    for i in range(kh):
        for j in range(kw):
            yield i, j, xp[:, i * dil[0]: i * dil[0] + (oh - 1) * strides[0] + 1: strides[0],
                           j * dil[1]: j * dil[1] + (ow - 1) * strides[1] + 1: strides[1], :]


def ref_conv(x, w, b, strides, pads, dil):
    """Dense convolution in float64 with explicit ((top, bottom), (left, right)) padding."""
    kh, kw, _, f = w.shape
    xp = padded(x, pads)
    oh = out_size(xp.shape[1], kh, strides[0], dil[0], 0)
    ow = out_size(xp.shape[2], kw, strides[1], dil[1], 0)
    out = np.zeros((x.shape[0], oh, ow, f))
    for i, j, v in windows(xp, kh, kw, oh, ow, strides, dil):
        out += v @ w[i, j].astype(np.float64)
    return out + (0.0 if b is None else b)


def ref_conv_grads(x, w, dy, strides, pads, dil):
    """(dx, dw, db) of the dense convolution, accumulated tap by tap in float64."""
    kh, kw, _, _ = w.shape
    (pt, _pb), (pl, _pr) = pads
    xp = padded(x, pads)
    oh, ow = dy.shape[1:3]
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    dy = dy.astype(np.float64)
    for i, j, v in windows(xp, kh, kw, oh, ow, strides, dil):
        dw[i, j] = np.einsum("nhwc,nhwf->cf", v, dy)
        dxp[:, i * dil[0]: i * dil[0] + (oh - 1) * strides[0] + 1: strides[0],
            j * dil[1]: j * dil[1] + (ow - 1) * strides[1] + 1: strides[1], :] += dy @ w[i, j].T
    dx = dxp[:, pt: pt + x.shape[1], pl: pl + x.shape[2]]
    return dx, dw, dy.sum(axis=(0, 1, 2))


def ref_depthwise(x, w, b, strides, pads, dil):
    kh, kw, c, m = w.shape
    xp = padded(x, pads)
    oh = out_size(xp.shape[1], kh, strides[0], dil[0], 0)
    ow = out_size(xp.shape[2], kw, strides[1], dil[1], 0)
    out = np.zeros((x.shape[0], oh, ow, c, m))
    for i, j, v in windows(xp, kh, kw, oh, ow, strides, dil):
        out += v[..., None] * w[i, j]
    out = out.reshape(x.shape[0], oh, ow, c * m)
    return out + (0.0 if b is None else b)


def ref_depthwise_grads(x, w, dy, strides, pads, dil):
    kh, kw, c, m = w.shape
    (pt, _), (pl, _) = pads
    xp = padded(x, pads)
    n, oh, ow, _ = dy.shape
    g = dy.astype(np.float64).reshape(n, oh, ow, c, m)
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    for i, j, v in windows(xp, kh, kw, oh, ow, strides, dil):
        dw[i, j] = np.einsum("nhwc,nhwcm->cm", v, g)
        dxp[:, i * dil[0]: i * dil[0] + (oh - 1) * strides[0] + 1: strides[0],
            j * dil[1]: j * dil[1] + (ow - 1) * strides[1] + 1: strides[1], :] += \
            np.einsum("nhwcm,cm->nhwc", g, w[i, j])
    return dx_crop(dxp, pt, pl, x.shape), dw, dy.astype(np.float64).sum(axis=(0, 1, 2))


def dx_crop(dxp, pt, pl, shape):
    return dxp[:, pt: pt + shape[1], pl: pl + shape[2]]


# shape (n, h, w, c), kernel (kh, kw), strides, dilation, ((top, bottom), (left, right))
GEOMETRIES = [
    ((2, 7, 9, 3), (3, 3), (1, 1), (1, 1), ((0, 0), (0, 0))),
    ((2, 7, 9, 3), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),
    ((1, 8, 8, 2), (3, 3), (2, 2), (1, 1), ((0, 1), (0, 1))),   # TF 'same', stride 2
    ((3, 11, 7, 2), (2, 5), (3, 2), (1, 1), ((0, 1), (2, 2))),
    ((2, 9, 10, 4), (3, 2), (1, 1), (2, 3), ((2, 2), (1, 2))),  # dilation, asymmetric pads
    ((2, 5, 4, 5), (1, 1), (1, 1), (1, 1), ((0, 0), (0, 0))),   # pointwise
    ((2, 5, 4, 5), (1, 1), (2, 3), (1, 1), ((0, 0), (0, 0))),
    ((2, 5, 6, 3), (5, 6), (1, 1), (1, 1), ((0, 0), (0, 0))),   # kernel as large as the input
    ((1, 1, 1, 1), (1, 1), (1, 1), (1, 1), ((0, 0), (0, 0))),
]


def geometry_id(g):
    return "x{}-k{}-s{}-d{}-p{}".format(*[ "x".join(map(str, np.ravel(v))) for v in g])


@pytest.mark.parametrize("geom", GEOMETRIES, ids=geometry_id)
@pytest.mark.parametrize("multiplier", [1, 3])
def test_depthwise_bindings_match_numpy(geom, multiplier):
    xs, (kh, kw), strides, dil, pads = geom
    rng = np.random.default_rng(sum(xs) + multiplier)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((kh, kw, xs[3], multiplier)).astype(np.float32)
    b = rng.standard_normal(xs[3] * multiplier).astype(np.float32)
    want = ref_depthwise(x, w, b, strides, pads, dil)
    y = np.full(want.shape, np.nan, np.float32)
    _core.depthwise_conv2d_forward(x, w, b, y, strides, (pads[0][0], pads[1][0]), dil)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)

    dy = rng.standard_normal(want.shape).astype(np.float32)
    dx = np.full_like(x, np.nan)
    dw = np.full_like(w, np.nan)
    db = np.full_like(b, np.nan)
    _core.depthwise_conv2d_backward(x, w, dy, dx, dw, db, strides, (pads[0][0], pads[1][0]), dil)
    rdx, rdw, rdb = ref_depthwise_grads(x, w, dy, strides, pads, dil)
    np.testing.assert_allclose(dx, rdx, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dw, rdw, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(db, rdb, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("geom", GEOMETRIES, ids=geometry_id)
def test_conv2d_bindings_match_numpy(geom):
    xs, (kh, kw), strides, dil, pads = geom
    rng = np.random.default_rng(sum(xs))
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((kh, kw, xs[3], 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    want = ref_conv(x, w, b, strides, pads, dil)
    top_left = (pads[0][0], pads[1][0])
    for relu in (False, True):
        y = np.full(want.shape, np.nan, np.float32)
        _core.conv2d_forward(x, w, b, y, strides, top_left, dil, relu)
        np.testing.assert_allclose(y, np.maximum(want, 0) if relu else want, rtol=1e-5, atol=1e-5)
        dy = rng.standard_normal(want.shape).astype(np.float32)
        dx, dw, db = np.full_like(x, np.nan), np.full_like(w, np.nan), np.full_like(b, np.nan)
        _core.conv2d_backward(x, w, y, dy, relu, dx, dw, db, strides, top_left, dil)
        masked = dy * (want > 0) if relu else dy
        rdx, rdw, rdb = ref_conv_grads(x, w, masked, strides, pads, dil)
        np.testing.assert_allclose(dx, rdx, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(dw, rdw, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(db, rdb, rtol=1e-5, atol=1e-4)


def test_conv2d_batch_spanning_several_column_tiles():
    # 40x40x16 with a 3x3 kernel: ~208k column floats per image, so the 4M-float column buffer
    # holds 20 images and a batch of 45 runs in three tiles.
    rng = np.random.default_rng(9)
    x = rng.standard_normal((45, 40, 40, 16)).astype(np.float32)
    w = (rng.standard_normal((3, 3, 16, 8)) * 0.1).astype(np.float32)
    y = np.empty((45, 40, 40, 8), np.float32)
    _core.conv2d_forward(x, w, None, y, (1, 1), (1, 1), (1, 1), False)
    for n in (0, 19, 20, 44):
        np.testing.assert_allclose(y[n:n + 1], ref_conv(x[n:n + 1], w, None, (1, 1),
                                                        ((1, 1), (1, 1)), (1, 1)),
                                   rtol=1e-4, atol=1e-4)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dw = np.empty_like(w)
    _core.conv2d_backward(x, w, None, dy, False, None, dw, None, (1, 1), (1, 1), (1, 1))
    _, rdw, _ = ref_conv_grads(x, w, dy, (1, 1), ((1, 1), (1, 1)), (1, 1))
    np.testing.assert_allclose(dw, rdw, rtol=1e-4, atol=1e-2)


@pytest.mark.parametrize("geom", GEOMETRIES[:5], ids=geometry_id)
def test_im2col_and_its_adjoint(geom):
    xs, (kh, kw), strides, dil, pads = geom
    rng = np.random.default_rng(3)
    x = rng.standard_normal(xs).astype(np.float32)
    xp = padded(x, pads)
    oh = out_size(xp.shape[1], kh, strides[0], dil[0], 0)
    ow = out_size(xp.shape[2], kw, strides[1], dil[1], 0)
    col = np.empty((xs[0], oh, ow, kh * kw * xs[3]), np.float32)
    _core.im2col(x, col, (kh, kw), strides, (pads[0][0], pads[1][0]), dil)
    want = np.stack([v for _, _, v in windows(xp, kh, kw, oh, ow, strides, dil)], axis=3)
    np.testing.assert_array_equal(col, want.reshape(col.shape).astype(np.float32))
    # col2im is im2col's adjoint: <im2col(x), c> == <x, col2im(c)>.
    c = rng.standard_normal(col.shape).astype(np.float32)
    back = np.empty_like(x)
    _core.col2im(c, back, (kh, kw), strides, (pads[0][0], pads[1][0]), dil)
    assert np.sum(col.astype(np.float64) * c) == pytest.approx(
        np.sum(x.astype(np.float64) * back), rel=1e-5)


def ref_pool(x, pool, strides, pads, kind):
    xp = padded(x, pads, fill=-np.inf if kind == "max" else np.nan)
    oh = out_size(xp.shape[1], pool[0], strides[0], 1, 0)
    ow = out_size(xp.shape[2], pool[1], strides[1], 1, 0)
    stack = np.stack([v for _, _, v in windows(xp, pool[0], pool[1], oh, ow, strides, (1, 1))])
    return stack.max(axis=0) if kind == "max" else np.nanmean(stack, axis=0)


POOLS = [((2, 2), (2, 2), ((0, 0), (0, 0)), (2, 6, 6, 3)),
         ((2, 2), (2, 2), ((0, 1), (0, 1)), (2, 7, 5, 4)),    # TF 'same' with odd sizes
         ((3, 3), (3, 3), ((0, 0), (0, 0)), (1, 10, 10, 5)),
         ((3, 2), (1, 2), ((1, 1), (0, 1)), (3, 9, 8, 2)),    # overlapping windows
         ((3, 3), (2, 2), ((1, 1), (1, 1)), (2, 5, 5, 3)),    # padding on every side
         ((4, 4), (1, 1), ((0, 0), (0, 0)), (1, 4, 4, 1))]


@pytest.mark.parametrize("pool,strides,pads,shape", POOLS)
def test_pool_bindings_match_numpy(pool, strides, pads, shape):
    rng = np.random.default_rng(5)
    # Distinct values: the max's gradient then has one clear target per window.
    x = (rng.permutation(np.prod(shape)).reshape(shape) * 0.01).astype(np.float32)
    top_left = (pads[0][0], pads[1][0])
    for kind in ("max", "avg"):
        want = ref_pool(x, pool, strides, pads, kind)
        y = np.full(want.shape, np.nan, np.float32)
        dy = rng.standard_normal(want.shape).astype(np.float32)
        dx = np.full_like(x, np.nan)
        if kind == "max":
            argmax = np.empty(want.shape, np.int32)
            _core.maxpool2d_forward(x, y, argmax, pool, strides, top_left)
            _core.maxpool2d_backward(dy, argmax, dx, pool, strides, top_left)
        else:
            _core.avgpool2d_forward(x, y, pool, strides, top_left)
            _core.avgpool2d_backward(dy, dx, pool, strides, top_left)
        np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
        # The backward is the adjoint of the (locally linear) forward: <dy, J e_k> per cell.
        eps = 1e-3
        for k in rng.choice(x.size, 6, replace=False):
            idx = np.unravel_index(k, x.shape)
            plus, minus = x.astype(np.float64), x.astype(np.float64)
            plus[idx] += eps
            minus[idx] -= eps
            numeric = np.sum((ref_pool(plus, pool, strides, pads, kind)
                              - ref_pool(minus, pool, strides, pads, kind)) * dy) / (2 * eps)
            assert dx[idx] == pytest.approx(numeric, rel=1e-4, abs=1e-5), (kind, idx)


def test_maxpool_ties_go_to_the_first_cell_in_row_major_window_order():
    # Window [[1, 3], [3, 0]]: both 3s tie; the earlier one (row 0, column 1) takes the gradient.
    x = np.array([1, 3, 3, 0], np.float32).reshape(1, 2, 2, 1)
    y = np.empty((1, 1, 1, 1), np.float32)
    argmax = np.empty((1, 1, 1, 1), np.int32)
    _core.maxpool2d_forward(x, y, argmax, (2, 2), (2, 2), (0, 0))
    dx = np.empty_like(x)
    _core.maxpool2d_backward(np.full((1, 1, 1, 1), 2.0, np.float32), argmax, dx, (2, 2), (2, 2),
                             (0, 0))
    assert y.item() == 3.0 and argmax.item() == 1
    np.testing.assert_array_equal(dx.ravel(), [0, 2, 0, 0])


def test_depthwise_binding_argument_checks():
    x = np.zeros((1, 5, 5, 2), np.float32)
    w = np.zeros((3, 3, 2, 2), np.float32)
    y = np.zeros((1, 3, 3, 4), np.float32)
    _core.depthwise_conv2d_forward(x, w, None, y, (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="input channels"):
        _core.depthwise_conv2d_forward(x, np.zeros((3, 3, 3, 2), np.float32), None, y, (1, 1),
                                       (0, 0), (1, 1))
    with pytest.raises(TypeError, match="float32"):
        _core.depthwise_conv2d_forward(x.astype(np.float64), w, None, y, (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="strides"):
        _core.depthwise_conv2d_forward(x, w, None, y, (0, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="y"):  # 4 channels expected (c * m), not 3
        _core.depthwise_conv2d_forward(x, w, None, np.zeros((1, 3, 3, 3), np.float32), (1, 1),
                                       (0, 0), (1, 1))
    with pytest.raises(ValueError, match="impossible"):
        _core.depthwise_conv2d_forward(x, w, None, np.zeros((1, 9, 3, 4), np.float32), (1, 1),
                                       (0, 0), (1, 1))
    with pytest.raises(ValueError, match="bias"):
        _core.depthwise_conv2d_forward(x, w, np.zeros(3, np.float32), y, (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="dw"):
        _core.depthwise_conv2d_backward(x, w, y, None, np.zeros((3, 3, 2, 1), np.float32), None,
                                        (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="read-only"):
        ro = np.zeros_like(y)
        ro.flags.writeable = False
        _core.depthwise_conv2d_forward(x, w, None, ro, (1, 1), (0, 0), (1, 1))


@pytest.mark.parametrize("strides,padding,dilation,multiplier", [
    ((1, 1), "valid", (1, 1), 1), ((2, 2), "same", (1, 1), 2), ((1, 2), "same", (2, 1), 3),
    ((3, 3), "valid", (1, 1), 1)])
def test_direct_depthwise_op_matches_the_im2col_op(strides, padding, dilation, multiplier):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 8, 7, 4)).astype(np.float32)
    w = rng.standard_normal((3, 2, 4, multiplier)).astype(np.float32)
    b = rng.standard_normal(4 * multiplier).astype(np.float32)
    results = []
    for op in (direct_depthwise, im2col_depthwise):
        with GradientTape():
            ts = [keras.ops.convert_to_tensor(a) for a in (x, w, b)]
            for t in ts:
                t.requires_grad = True
            y = op(ts[0], ts[1], ts[2], strides, padding, dilation)
            loss = keras.ops.sum(y * y)
        results.append([y.numpy()] + gradients(loss, ts))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_direct_depthwise_op_finite_differences():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 6, 5, 3))
    w = rng.standard_normal((3, 3, 3, 2))
    b = rng.standard_normal(6)
    r = rng.standard_normal((2, 3, 3, 6))
    with GradientTape():
        ts = [keras.ops.convert_to_tensor(a.astype(np.float32)) for a in (x, w, b)]
        for t in ts:
            t.requires_grad = True
        loss = keras.ops.sum(direct_depthwise(ts[0], ts[1], ts[2], 2, "same", 1) * r)
    grads = gradients(loss, ts)

    def f(xx, ww, bb):
        pads = ((0, 1), (1, 1))  # TF 'same' for 6 and 5 with a 3-kernel at stride 2
        return np.sum(ref_depthwise(xx, ww, bb, (2, 2), pads, (1, 1)) * r)

    eps = 1e-5
    args = [x, w, b]
    for pos, g in enumerate(grads):
        for k in rng.choice(args[pos].size, 5, replace=False):
            idx = np.unravel_index(k, args[pos].shape)
            ap = [a.copy() for a in args]
            am = [a.copy() for a in args]
            ap[pos][idx] += eps
            am[pos][idx] -= eps
            numeric = (f(*ap) - f(*am)) / (2 * eps)
            assert g[idx] == pytest.approx(numeric, rel=1e-3, abs=1e-3), (pos, idx)


def test_direct_depthwise_op_rejects_bad_arguments():
    x = np.zeros((1, 3, 3, 2), np.float32)
    with pytest.raises(ValueError, match="padding='full'"):
        direct_depthwise(x, np.zeros((3, 3, 2, 1), np.float32), padding="full")
    with pytest.raises(ValueError, match="too small"):
        direct_depthwise(x, np.zeros((5, 5, 2, 1), np.float32))
