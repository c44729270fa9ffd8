"""`keras.ops.image` (fastkeras.ops.image): Keras 3's signatures, values and dtypes against
real Keras on its PyTorch backend (both data formats, odd sizes, every interpolation and fill
mode), finite-difference gradients on float64 images, graph nodes and clear errors."""

import inspect

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import Tensor
from fastkeras.ops import image as fk_image
from gradcheck import check_grads, leaf

keras = pytest.importorskip("keras")

R = np.random.default_rng(17)

IMG = R.random((2, 7, 9, 3)).astype(np.float32)
IMG_CF = np.ascontiguousarray(IMG.transpose(0, 3, 1, 2))
U8 = (IMG * 255).astype(np.uint8)
T = np.array([[1.1, 0.2, -1.5, -0.3, 0.9, 2.0, 0, 0], [0.7, -0.4, 3.0, 0.5, 1.2, -1.0, 0, 0]],
             np.float32)
START = np.array([[0, 0], [0, 6], [8, 0], [8, 6]], np.float32)
END = np.array([[1, 1], [0, 7], [7, -1], [9, 5]], np.float32)


def _np(v):
    return v.numpy() if isinstance(v, Tensor) else np.asarray(keras.ops.convert_to_numpy(v))


def _compare(ours, theirs, name, atol=2e-5):
    if isinstance(theirs, (tuple, list)):
        for o, t in zip(ours, theirs):
            _compare(o, t, name, atol)
        return
    o, t = _np(ours), _np(theirs)
    assert o.shape == t.shape, f"{name}: shape {o.shape} != Keras {t.shape}"
    assert o.dtype == t.dtype, f"{name}: dtype {o.dtype} != Keras {t.dtype}"
    np.testing.assert_allclose(o.astype(np.float64), t.astype(np.float64), rtol=1e-4, atol=atol,
                               err_msg=name)


def test_surface_and_signatures_match_keras():
    theirs_names = sorted(n for n in dir(keras.ops.image) if not n.startswith("_"))
    assert sorted(fk_image.__all__) == theirs_names
    assert ops.image is fk_image
    for name in fk_image.__all__:
        ours = inspect.signature(getattr(fk_image, name)).parameters
        theirs = inspect.signature(getattr(keras.ops.image, name)).parameters
        assert list(ours) == list(theirs), name
        assert [p.default for p in ours.values()] == [p.default for p in theirs.values()], name


def _cases():
    cases = []
    for df, im in (("channels_last", IMG), ("channels_first", IMG_CF)):
        kw = {"data_format": df}
        for itp in ("bilinear", "nearest", "bicubic"):
            for size in ((4, 5), (11, 6), (3, 13)):
                cases.append(("resize", (im, size), dict(interpolation=itp, **kw)))
                cases.append(("resize", (im, size), dict(interpolation=itp, antialias=True,
                                                         **kw)))
                cases.append(("resize", (im, size), dict(interpolation=itp,
                                                         crop_to_aspect_ratio=True, **kw)))
                cases.append(("resize", (im, size), dict(interpolation=itp, fill_value=0.5,
                                                         pad_to_aspect_ratio=True, **kw)))
            cases.append(("resize", (im[0], (5, 12)), dict(interpolation=itp, **kw)))
        for name in ("rgb_to_grayscale", "rgb_to_hsv", "hsv_to_rgb"):
            cases += [(name, (im,), kw), (name, (im[0],), kw)]
        cases.append(("rgb_to_grayscale", ((im * 255).astype(np.int32),), kw))
        cases.append(("rgb_to_grayscale", (im[..., :1, :, :] if df == "channels_first"
                                           else im[..., :1],), kw))
        for itp in ("nearest", "bilinear"):
            for fm in ("constant", "nearest", "wrap", "mirror", "reflect"):
                cases.append(("affine_transform", (im, T), dict(interpolation=itp, fill_mode=fm,
                                                                fill_value=0.3, **kw)))
            cases.append(("perspective_transform", (im, START, END),
                          dict(interpolation=itp, fill_value=0.2, **kw)))
        cases.append(("affine_transform", (im[0], T[0]), kw))
        cases.append(("perspective_transform", (im[0], START, END), kw))
        for ks, sigma in (((3, 3), (1.0, 1.0)), ((5, 5), (1.5, 0.7)), ((3, 5), (1.0, 2.0)),
                          ((5, 3), (2.0, 1.0))):
            cases.append(("gaussian_blur", (im, ks, sigma), kw))
        cases.append(("gaussian_blur", (im[0],), kw))
        cases.append(("sobel_edges", (im,), kw))
        for size, st, dil, pad in (((3, 3), None, 1, "valid"), ((2, 3), (1, 2), 1, "same"),
                                   (3, 1, 2, "valid"), ((3, 2), 2, 1, "same")):
            cases.append(("extract_patches", (im, size), dict(strides=st, dilation_rate=dil,
                                                              padding=pad, **kw)))
        cases.append(("extract_patches", (im[0], 2), kw))
        noisy = np.clip(im + 0.1 * R.standard_normal(im.shape), 0, 1).astype(np.float32)
        cases.append(("ssim", (im, noisy), dict(filter_size=5, **kw)))
        cases.append(("ssim", (im[0], noisy[0]), dict(filter_size=3, max_val=2.0, **kw)))
        cases.append(("pad_images", (im, 1, 2), dict(target_height=10, target_width=12, **kw)))
        cases.append(("pad_images", (im[0],), dict(top_padding=1, bottom_padding=0,
                                                   left_padding=0, right_padding=3, **kw)))
        cases.append(("crop_images", (im, 1, 2), dict(target_height=4, target_width=5, **kw)))
        cases.append(("crop_images", (im[0],), dict(top_cropping=1, bottom_cropping=2,
                                                    left_cropping=0, right_cropping=3, **kw)))
    vol = R.random((2, 5, 6, 7, 2)).astype(np.float32)
    cases.append(("extract_patches", (vol, (2, 3, 2)), {}))
    cases.append(("extract_patches_3d", (vol, 2), dict(strides=1, padding="same")))
    cases.append(("extract_patches_3d", (vol[0], (3, 2, 2)), dict(strides=(1, 2, 3))))
    x = R.random((5, 6, 3)).astype(np.float32)
    coords = np.stack([R.uniform(-2, 7, (4, 5)), R.uniform(-2, 8, (4, 5)),
                       R.integers(0, 3, (4, 5)).astype(float)]).astype(np.float32)
    for order in (0, 1):
        for fm in ("constant", "nearest", "wrap", "mirror", "reflect"):
            cases.append(("map_coordinates", (x, coords, order),
                          dict(fill_mode=fm, fill_value=0.5)))
    cases.append(("map_coordinates", (U8[0], coords, 1), {}))
    cases.append(("map_coordinates", (x[:, 0, 0], coords[:1, 0], 1), {}))
    for method in ("linear", "cubic", "lanczos3", "lanczos5"):
        for aa in (True, False):
            cases.append(("scale_and_translate",
                          (IMG, (2, 11, 5, 3), np.array([1.6, 0.55], np.float32),
                           np.array([0.3, -0.2], np.float32), (1, 2), method),
                          dict(antialias=aa)))
    cases.append(("scale_and_translate", (U8[0, :, :, 0], (4, 12), np.array([0.5, 1.4]),
                                          np.array([0.0, 0.5]), (0, 1), "bilinear"), {}))
    cases += [("resize", (U8, (5, 4)), dict(interpolation="nearest")),
              ("resize", (U8, (9, 13)), dict(interpolation="bicubic")),
              ("affine_transform", (U8, T), {})]
    return cases


CASES = _cases()


@pytest.mark.parametrize("i", range(len(CASES)))
def test_values_and_dtypes_match_keras(i):
    name, args, kwargs = CASES[i]
    ours = getattr(fk_image, name)(*args, **kwargs)
    theirs = getattr(keras.ops.image, name)(*args, **kwargs)
    integer = _np(theirs).dtype.kind in "iu" if not isinstance(theirs, tuple) else False
    _compare(ours, theirs, f"{name} {kwargs}", atol=1.0 if integer and name == "resize"
             else 2e-5)


def test_uint8_bilinear_resize_rounds_within_one():
    # PyTorch resizes uint8 images bilinearly in fixed point; ours rounds the exact value
    ours = fk_image.resize(U8, (5, 4)).numpy()
    theirs = _np(keras.ops.image.resize(U8, (5, 4)))
    assert ours.dtype == np.uint8
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_integer_images_are_rounded_float_results():
    # (Keras's PyTorch perspective_transform casts the points to the images' uint8 dtype,
    # wrapping negative corners, so it is not the reference here.)
    want = fk_image.perspective_transform(U8[0].astype(np.float32), START, END).numpy()
    ours = fk_image.perspective_transform(U8[0], START, END)
    assert ours.dtype == np.uint8
    np.testing.assert_array_equal(ours.numpy(), np.clip(np.round(want), 0, 255))
    ours = fk_image.gaussian_blur(U8, (3, 3), (1.0, 1.0))
    assert ours.dtype == np.uint8


def test_default_data_format_is_channels_last():
    # Keras's PyTorch gaussian_blur reads data_format=None as channels_first (a Keras bug);
    # the documented default is keras.config.image_data_format().
    np.testing.assert_allclose(fk_image.gaussian_blur(IMG).numpy(),
                               _np(keras.ops.image.gaussian_blur(
                                   IMG, data_format="channels_last")), rtol=1e-5, atol=1e-6)
    _compare(fk_image.resize(IMG, (3, 4)), keras.ops.image.resize(IMG, (3, 4)), "resize")


def test_elastic_transform():
    a = fk_image.elastic_transform(IMG, seed=3)
    b = fk_image.elastic_transform(IMG, seed=3)
    assert a.shape == IMG.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), IMG)
    # no displacement reads every pixel where it is
    np.testing.assert_allclose(fk_image.elastic_transform(IMG, alpha=0.0, seed=1).numpy(), IMG,
                               atol=1e-6)
    cf = fk_image.elastic_transform(IMG_CF, alpha=0.0, data_format="channels_first",
                                    interpolation="nearest")
    np.testing.assert_allclose(cf.numpy(), IMG_CF, atol=1e-6)
    assert fk_image.elastic_transform(U8[0], seed=2).dtype == np.uint8
    k = keras.ops.image.elastic_transform(IMG, seed=3)
    assert tuple(k.shape) == a.shape


# --- gradients (float64 images, finite differences) ------------------------------------------

def _img(*shape):
    return leaf(R.uniform(0.05, 0.95, shape))


COORDS = np.stack([R.uniform(-1, 6, (3, 4)), R.uniform(-1, 7, (3, 4))])

GRAD_CASES = {
    "resize_bilinear": lambda: ([_img(1, 4, 5, 2)],
                                lambda x: fk_image.resize(x, (3, 7))),
    "resize_bicubic_antialias": lambda: ([_img(1, 2, 6, 5)],
                                         lambda x: fk_image.resize(
                                             x, (3, 4), "bicubic", antialias=True,
                                             data_format="channels_first")),
    "resize_pad": lambda: ([_img(4, 6, 1)],
                           lambda x: fk_image.resize(x, (5, 5), pad_to_aspect_ratio=True)),
    "affine_bilinear": lambda: ([_img(2, 5, 6, 2)],
                                lambda x: fk_image.affine_transform(x, T, fill_value=0.5)),
    "affine_mirror": lambda: ([_img(2, 5, 6, 2)],
                              lambda x: fk_image.affine_transform(x, T, fill_mode="mirror")),
    "perspective": lambda: ([_img(1, 2, 7, 9)],
                            lambda x: fk_image.perspective_transform(
                                x, START, END, data_format="channels_first")),
    "map_coordinates": lambda: ([_img(5, 6)],
                                lambda x: fk_image.map_coordinates(x, COORDS, 1, "reflect")),
    "grayscale": lambda: ([_img(2, 3, 4, 3)], fk_image.rgb_to_grayscale),
    "rgb_to_hsv": lambda: ([_img(2, 3, 4, 3)], fk_image.rgb_to_hsv),
    "hsv_to_rgb": lambda: ([_img(3, 2, 3)], lambda x: fk_image.hsv_to_rgb(
        x, data_format="channels_first")),
    "gaussian_blur": lambda: ([_img(1, 5, 6, 2)],
                              lambda x: fk_image.gaussian_blur(x, (5, 3), (1.0, 2.0))),
    "sobel": lambda: ([_img(1, 4, 5, 2)], fk_image.sobel_edges),
    "scale_and_translate": lambda: ([_img(4, 5)],
                                    lambda x: fk_image.scale_and_translate(
                                        x, (6, 3), np.array([1.5, 0.6]), np.array([0.2, 0.1]),
                                        (0, 1), "cubic")),
    "crop_pad": lambda: ([_img(6, 7, 2)],
                         lambda x: fk_image.pad_images(fk_image.crop_images(
                             x, 1, 2, target_height=3, target_width=4), 2, 1, 0, 3)),
    "extract_patches_3d": lambda: ([_img(1, 3, 4, 3, 1)],
                                   lambda x: fk_image.extract_patches(x, (2, 2, 2), 1)),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_finite_differences(name):
    leaves, fn = GRAD_CASES[name]()
    check_grads(lambda: fn(*leaves), leaves, R)


def test_ssim_gradient_float32():
    a, b = leaf(R.random((1, 6, 6, 1)), np.float32), R.random((1, 6, 6, 1)).astype(np.float32)
    check_grads(lambda: fk_image.ssim(a, b, filter_size=3), [a], R, eps=1e-2, rtol=5e-2,
                atol=5e-3)


# --- errors and graphs ----------------------------------------------------------------------

def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="interpolation='lanczos3'"):
        fk_image.resize(IMG, (3, 3), interpolation="lanczos3")
    with pytest.raises(ValueError, match="interpolation='area'"):
        fk_image.resize(IMG, (3, 3), interpolation="area")
    with pytest.raises(ValueError, match="size=\\(3, 0\\)"):
        fk_image.resize(IMG, (3, 0))
    with pytest.raises(ValueError, match="images.shape=\\(7, 9\\)"):
        fk_image.resize(IMG[0, :, :, 0], (3, 3))
    with pytest.raises(ValueError, match="fill_mode='edge'"):
        fk_image.affine_transform(IMG, T, fill_mode="edge")
    with pytest.raises(ValueError, match="transform.shape=\\(2, 6\\)"):
        fk_image.affine_transform(IMG, T[:, :6])
    with pytest.raises(ValueError, match="start_points.shape"):
        fk_image.perspective_transform(IMG, START[:3], END)
    with pytest.raises(ValueError, match="images.dtype=int32"):
        fk_image.rgb_to_hsv(IMG.astype(np.int32))
    with pytest.raises(ValueError, match="channels"):
        fk_image.rgb_to_grayscale(IMG[..., :2])
    with pytest.raises(ValueError, match="exactly two of top_padding"):
        fk_image.pad_images(IMG, 1, 1, 1, 1, target_height=12)
    with pytest.raises(ValueError, match="top_cropping must|`top_cropping` must"):
        fk_image.crop_images(IMG, -1, 0, target_height=2, target_width=2)
    with pytest.raises(NotImplementedError, match="order=3"):
        fk_image.map_coordinates(IMG[0], np.zeros((3, 2, 2)), 3)
    with pytest.raises(ValueError, match="rank of `inputs`"):
        fk_image.map_coordinates(IMG[0], np.zeros((2, 2, 2)), 1)
    with pytest.raises(ValueError, match="method='area'"):
        fk_image.scale_and_translate(IMG, (2, 3, 3, 3), [1, 1], [0, 0], (1, 2), "area")
    with pytest.raises(TypeError, match="size"):
        fk_image.extract_patches(IMG, "3")


def test_image_ops_record_graph_nodes():
    inputs = fk.Input((7, 9, 3))
    y = fk_image.resize(inputs, (4, 5))
    y = fk_image.rgb_to_grayscale(y)
    model = fk.Model(inputs, y)
    assert model.output_shape == (None, 4, 5, 1)
    want = fk_image.rgb_to_grayscale(fk_image.resize(IMG, (4, 5)))
    np.testing.assert_allclose(model(IMG).numpy(), want.numpy(), rtol=1e-6)
