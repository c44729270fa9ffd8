"""Image preprocessing and augmentation layers (Resizing, CenterCrop, RandomCrop, RandomFlip,
RandomRotation, RandomZoom, RandomTranslation, RandomContrast, RandomBrightness): Keras 3's
outputs for pinned or shared random draws, the randomness itself, inference pass-through,
finite-difference input gradients, configs, argument errors, and models in files both ways."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.backend import Tensor
from gradcheck import check_grads, leaf
from keras_files import check_keras_file_both_ways

keras3 = pytest.importorskip("keras")

FILL_MODES = ["reflect", "wrap", "constant", "nearest"]
INTERPOLATIONS = ["bilinear", "nearest"]
RANDOM_LAYERS = ["RandomCrop", "RandomFlip", "RandomRotation", "RandomZoom",
                 "RandomTranslation", "RandomContrast", "RandomBrightness"]


def _numpy(t):
    return t.numpy() if isinstance(t, Tensor) else keras3.ops.convert_to_numpy(t)


def _unnamed(config):
    return {k: v for k, v in config.items() if k != "name"}


def _images(rng, data_format="channels_last", rank=4, shape=(2, 7, 9, 3)):
    """Images with values in [0, 1), in the given layout and rank."""
    x = rng.uniform(0, 1, shape).astype(np.float32)
    if data_format == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    return x if rank == 4 else x[0]


def _both(name, x, *args, training=True, **kwargs):
    """The fastkeras and Keras layers' outputs on x (same arguments)."""
    ours = getattr(fk.layers, name)(*args, **kwargs)(x, training=training)
    theirs = getattr(keras3.layers, name)(*args, **kwargs)(x, training=training)
    return _numpy(ours), _numpy(theirs)


def _assert_matches_keras(name, x, *args, atol=1e-5, **kwargs):
    ours, theirs = _both(name, x, *args, **kwargs)
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=atol)
    return ours


# --- deterministic values against Keras 3 -------------------------------------------------

@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("size", [(4, 5), (13, 17), (7, 9), (3, 20), (1, 1)])
def test_resizing_matches_keras(interpolation, antialias, size, rng):
    x = _images(rng)
    _assert_matches_keras("Resizing", x, *size, interpolation=interpolation,
                          antialias=antialias)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("kwargs", [
    {}, {"interpolation": "nearest"}, {"crop_to_aspect_ratio": True},
    {"crop_to_aspect_ratio": True, "interpolation": "nearest"},
    {"pad_to_aspect_ratio": True, "fill_value": 0.25},
    {"pad_to_aspect_ratio": True, "interpolation": "bicubic"},
], ids=str)
@pytest.mark.parametrize("size", [(4, 6), (6, 4), (11, 5)])
def test_resizing_aspect_ratio_and_layouts_match_keras(data_format, rank, kwargs, size, rng):
    x = _images(rng, data_format, rank)
    out = _assert_matches_keras("Resizing", x, *size, data_format=data_format, **kwargs)
    layer = fk.layers.Resizing(*size, data_format=data_format, **kwargs)
    assert layer.compute_output_shape(x.shape) == out.shape


def test_resizing_integer_images_keep_their_dtype(rng):
    x = rng.integers(0, 256, (2, 7, 9, 3)).astype(np.uint8)
    for interpolation in ["bilinear", "nearest"]:
        ours, theirs = _both("Resizing", x, 4, 6, interpolation=interpolation)
        assert ours.dtype == theirs.dtype == np.uint8
        # rounding of exact halves may differ by one level
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("size", [(3, 5), (4, 4), (7, 9), (9, 9), (10, 4), (8, 12), (6, 10)])
def test_center_crop_matches_keras(data_format, rank, size, rng):
    # (9, 9), (10, 4), (8, 12), (6, 10): the image is smaller than the target on a side
    x = _images(rng, data_format, rank)
    out = _assert_matches_keras("CenterCrop", x, *size, data_format=data_format)
    assert fk.layers.CenterCrop(*size, data_format=data_format).compute_output_shape(
        x.shape) == out.shape


AFFINE_CASES = [
    ("RandomRotation", ((0.25, 0.25),)),
    ("RandomRotation", ((-0.1, -0.1),)),
    ("RandomRotation", ((0.37, 0.37),)),
    ("RandomZoom", ((-0.23, -0.23),)),
    ("RandomZoom", ((0.31, 0.31), (-0.13, -0.13))),
    ("RandomTranslation", ((0.21, 0.21), (-0.33, -0.33))),
    ("RandomTranslation", ((-0.6, -0.6), (0.45, 0.45))),
]


@pytest.mark.parametrize("case", AFFINE_CASES, ids=lambda c: f"{c[0]}{c[1]}")
@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("layout", [("channels_last", 4), ("channels_first", 4),
                                    ("channels_last", 3), ("channels_first", 3)])
def test_affine_layers_with_pinned_factors_match_keras(case, fill_mode, interpolation, layout,
                                                       rng):
    name, args = case
    x = _images(rng, *layout)
    out = _assert_matches_keras(name, x, *args, fill_mode=fill_mode, interpolation=interpolation,
                                fill_value=0.5, data_format=layout[0])
    assert not np.allclose(out, x)


@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("kwargs", [
    {"factor": (-0.3, 0.3)}, {"factor": (-0.8, 0.8), "value_range": (0.2, 0.9)},
    {"factor": 0.0}, {"factor": (-0.5, 0.5), "data_format": "channels_first"},
], ids=str)
def test_random_contrast_with_a_pinned_factor_matches_keras(rank, kwargs, rng):
    # factor (-c, c) draws from [1 + c, 1 + c]: a single value
    x = _images(rng, kwargs.get("data_format", "channels_last"), rank)
    kwargs.setdefault("value_range", (0, 1))
    _assert_matches_keras("RandomContrast", x, **kwargs)


@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("kwargs", [
    {"factor": (0.3, 0.3)}, {"factor": (-0.2, -0.2)}, {"factor": (0.6, 0.6)},
    {"factor": (-0.4, -0.4), "value_range": (0.0, 255.0)},
    {"factor": (0.1, 0.1), "value_range": (1, 0), "data_format": "channels_first"},
], ids=str)
def test_random_brightness_with_a_pinned_factor_matches_keras(rank, kwargs, rng):
    x = _images(rng, kwargs.get("data_format", "channels_last"), rank)
    kwargs.setdefault("value_range", (0, 1))
    if kwargs["value_range"][1] == 255.0:
        x = x * 255
    _assert_matches_keras("RandomBrightness", x, **kwargs)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("size", [(7, 9), (7, 5), (10, 4), (8, 12), (3, 9)])
def test_random_crop_without_room_to_move_matches_keras(data_format, size, rng):
    # an image not larger than the target on both sides: Keras's deterministic crop and resize
    x = _images(rng, data_format)
    _assert_matches_keras("RandomCrop", x, *size, data_format=data_format)


def _keras_transformation(transformation):
    return {k: keras3.ops.convert_to_tensor(np.asarray(v)) for k, v in transformation.items()}


SHARED_DRAW_CASES = [
    ("RandomFlip", {"mode": "horizontal"}), ("RandomFlip", {"mode": "vertical"}),
    ("RandomFlip", {}),
    ("RandomRotation", {"factor": 0.4, "fill_mode": "constant", "fill_value": 0.3}),
    ("RandomZoom", {"height_factor": (-0.5, 0.5), "width_factor": 0.3}),
    ("RandomZoom", {"height_factor": 0.4, "interpolation": "nearest", "fill_mode": "wrap"}),
    ("RandomTranslation", {"height_factor": 0.3, "width_factor": (-0.2, 0.4)}),
    ("RandomContrast", {"factor": (0.6, 0.8), "value_range": (0, 1)}),
    ("RandomBrightness", {"factor": 0.5, "value_range": (0, 1)}),
]


@pytest.mark.parametrize("case", SHARED_DRAW_CASES, ids=str)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_random_draws_applied_as_keras_applies_them(case, data_format, rng):
    """Our random draws for a batch, given to Keras's transform_images, give our outputs:
    every sample's own transformation is applied as Keras applies it."""
    name, kwargs = case
    x = _images(rng, data_format, shape=(6, 7, 9, 3))
    ours = getattr(fk.layers, name)(data_format=data_format, **kwargs)
    theirs = getattr(keras3.layers, name)(data_format=data_format, **kwargs)
    transformation = ours._draw(np.random.default_rng(7), x.shape)
    got = _numpy(ours._apply(Tensor(x), transformation))
    want = _numpy(theirs.transform_images(keras3.ops.convert_to_tensor(x),
                                          _keras_transformation(transformation)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# --- randomness ---------------------------------------------------------------------------

def _draws(layer, shape):
    return layer._draw(np.random.default_rng(0), shape)


def test_draws_are_per_sample_and_in_range():
    shape = (400, 8, 10, 3)
    angle = _draws(fk.layers.RandomRotation((-0.1, 0.2)), shape=shape)["angle"]
    assert angle.min() >= -36 and angle.max() <= 72 and np.ptp(angle) > 90
    zoom = _draws(fk.layers.RandomZoom((-0.3, 0.2), (0.1, 0.4)), shape=shape)
    assert zoom["height_zoom"].min() >= 0.7 and zoom["height_zoom"].max() <= 1.2
    assert zoom["width_zoom"].min() >= 1.1 and zoom["width_zoom"].max() <= 1.4
    assert not np.allclose(zoom["height_zoom"], zoom["width_zoom"])
    same = _draws(fk.layers.RandomZoom(0.3), shape=shape)
    np.testing.assert_array_equal(same["height_zoom"], same["width_zoom"])
    shift = _draws(fk.layers.RandomTranslation(0.25, (-0.5, 0.0)), shape=shape)["translations"]
    assert np.abs(shift[:, 1]).max() <= 0.25 * 8 and shift[:, 1].min() < -1.5
    assert shift[:, 0].min() >= -5 and shift[:, 0].max() <= 0
    contrast = _draws(fk.layers.RandomContrast((0.2, 0.5)), shape=shape)["contrast_factor"]
    assert contrast.shape == (400, 1, 1, 1)
    assert contrast.min() >= 0.8 and contrast.max() <= 1.5 and np.ptp(contrast) > 0.6
    # a single number only raises contrast, as in Keras 3: [1, 1 + f]
    single = _draws(fk.layers.RandomContrast(0.3), shape=shape)["contrast_factor"]
    assert single.min() >= 1.0 and single.max() <= 1.3
    delta = _draws(fk.layers.RandomBrightness(0.2, value_range=(0, 10)), shape=shape)["rgb_delta"]
    assert delta.min() >= -2 and delta.max() <= 2 and delta.min() < -1.5 and delta.max() > 1.5
    flips = _draws(fk.layers.RandomFlip(), shape=shape)["flips"]
    assert 150 < flips.sum() < 250


@pytest.mark.parametrize("name, kwargs", [
    ("RandomFlip", {}), ("RandomRotation", {"factor": 0.3}), ("RandomZoom", {"height_factor": 0.4}),
    ("RandomTranslation", {"height_factor": 0.3, "width_factor": 0.3}),
    ("RandomContrast", {"factor": (0.5, 0.5), "value_range": (0, 1)}),
    ("RandomBrightness", {"factor": 0.4, "value_range": (0, 1)}),
])
def test_each_sample_gets_its_own_draw_and_seed_reproduces(name, kwargs, rng):
    x = np.repeat(_images(rng, shape=(1, 8, 10, 3)), 8, axis=0)
    out = getattr(fk.layers, name)(seed=3, **kwargs)(x, training=True).numpy()
    assert len({out[i].tobytes() for i in range(8)}) > 1
    again = getattr(fk.layers, name)(seed=3, **kwargs)(x, training=True).numpy()
    np.testing.assert_array_equal(out, again)
    other = getattr(fk.layers, name)(seed=4, **kwargs)(x, training=True).numpy()
    assert not np.array_equal(out, other)
    # without a seed: fastkeras.utils.set_random_seed makes a run reproducible
    runs = []
    for _ in range(2):
        fk.utils.set_random_seed(11)
        runs.append(getattr(fk.layers, name)(**kwargs)(x, training=True).numpy())
    np.testing.assert_array_equal(*runs)


def test_random_crop_picks_one_window_per_batch_anywhere(rng):
    x = _images(rng, shape=(3, 8, 10, 2))
    layer = fk.layers.RandomCrop(5, 6, seed=1)
    corners = set()
    for _ in range(200):
        out = layer(x, training=True).numpy()
        assert out.shape == (3, 5, 6, 2)
        found = [(t, s) for t in range(4) for s in range(5)
                 if np.array_equal(out, x[:, t:t + 5, s:s + 6])]
        assert len(found) == 1
        corners.add(found[0])
    assert corners == {(t, s) for t in range(4) for s in range(5)}


def test_flip_modes(rng):
    x = _images(rng, shape=(64, 4, 5, 2))
    for mode, flip in [("horizontal", lambda a: a[:, ::-1]), ("vertical", lambda a: a[::-1]),
                       ("horizontal_and_vertical", lambda a: a[::-1, ::-1])]:
        out = fk.layers.RandomFlip(mode, seed=2)(x, training=True).numpy()
        flipped = [np.array_equal(o, flip(i)) for o, i in zip(out, x)]
        kept = [np.array_equal(o, i) for o, i in zip(out, x)]
        assert all(f or k for f, k in zip(flipped, kept))
        assert 16 < sum(flipped) < 48


@pytest.mark.parametrize("name, args", [
    ("RandomCrop", (4, 5)), ("RandomFlip", ()), ("RandomRotation", (0.3,)),
    ("RandomZoom", (0.3,)), ("RandomTranslation", (0.2, 0.2)), ("RandomContrast", (0.5,)),
    ("RandomBrightness", (0.3,)),
])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_inference_passes_inputs_through_as_keras(name, args, dtype, rng):
    x = (_images(rng) * 255).astype(dtype)
    ours, theirs = _both(name, x, *args, training=False)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape == x.shape
    np.testing.assert_array_equal(ours, x)
    np.testing.assert_array_equal(theirs, x)


@pytest.mark.parametrize("name, args", [
    ("Resizing", (4, 6)), ("CenterCrop", (4, 6)), ("RandomCrop", (4, 6)), ("RandomFlip", ()),
    ("RandomRotation", (0.3,)), ("RandomZoom", (0.3,)), ("RandomTranslation", (0.2, 0.2)),
    ("RandomContrast", (0.5,)), ("RandomBrightness", ((0.05, 0.05),)),
])
@pytest.mark.parametrize("dtype", ["float64", "uint8"])
def test_output_dtypes_while_training_match_keras(name, args, dtype, rng):
    # float64 images come out in the layer's float32; uint8 ones as each Keras layer does
    x = (_images(rng) * 200).astype(dtype)
    ours, theirs = _both(name, x, *args, training=True)
    assert ours.dtype == theirs.dtype
    if name == "RandomBrightness":  # a fixed offset: 0.05 * 255 truncated to 12 for uint8
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_training_defaults_to_true_and_models_pass_the_flag(rng):
    x = _images(rng, shape=(4, 8, 8, 3))
    layer = fk.layers.RandomRotation((0.25, 0.25))
    assert not np.allclose(layer(x).numpy(), x)  # as Keras: a direct call augments
    model = fk.Sequential([fk.Input((8, 8, 3)), layer])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    assert not np.allclose(model(x).numpy(), x)
    np.testing.assert_array_equal(model(x, training=False).numpy(), x)


# --- shapes -------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda lib: lib.layers.RandomCrop(4, 5), lambda lib: lib.layers.Resizing(5, 11),
    lambda lib: lib.layers.CenterCrop(3, 2, data_format="channels_first"),
    lambda lib: lib.layers.RandomZoom(0.2), lambda lib: lib.layers.Resizing(
        4, 4, data_format="channels_first", crop_to_aspect_ratio=True),
])
def test_symbolic_output_shapes_match_keras(make):
    ours = fk.Sequential([fk.Input((8, 10, 3)), make(fk)])
    theirs = keras3.Sequential([keras3.Input((8, 10, 3)), make(keras3)])
    assert ours.output_shape == theirs.output_shape
    assert make(fk).compute_output_shape((None, 8, 10, 3)) == \
        make(keras3).compute_output_shape((None, 8, 10, 3))


# --- gradients ----------------------------------------------------------------------------

def _reseeded(layer, x, **call):
    """A function calling layer on x with the same random draws every time."""
    def fn():
        layer._rng = np.random.default_rng(5)
        return layer(x, **call)
    return fn


GRADIENT_CASES = [
    ("Resizing", (4, 6), {}), ("Resizing", (9, 13), {"interpolation": "nearest"}),
    ("Resizing", (4, 3), {"interpolation": "bicubic"}),
    ("Resizing", (3, 4), {"antialias": True}),
    ("Resizing", (4, 4), {"crop_to_aspect_ratio": True}),
    ("Resizing", (4, 4), {"pad_to_aspect_ratio": True, "fill_value": 1.5,
                          "data_format": "channels_first"}),
    ("CenterCrop", (3, 4), {}), ("CenterCrop", (7, 4), {"data_format": "channels_first"}),
    ("RandomCrop", (3, 4), {}), ("RandomCrop", (7, 4), {}),
    ("RandomFlip", (), {}), ("RandomFlip", (), {"mode": "vertical"}),
    ("RandomContrast", ((0.5, 0.7),), {"value_range": (-5, 5)}),
    ("RandomContrast", ((-0.9, 0.9),), {"value_range": (-1, 1)}),
    ("RandomBrightness", (0.3,), {"value_range": (-2, 2)}),
] + [(name, args, {"fill_mode": fill_mode, "interpolation": interpolation,
                   "fill_value": 0.7})
     for name, args in [("RandomRotation", (0.3,)), ("RandomZoom", (0.4, 0.3)),
                        ("RandomTranslation", (0.3, 0.4))]
     for fill_mode in FILL_MODES for interpolation in INTERPOLATIONS]


@pytest.mark.parametrize("name, args, kwargs", GRADIENT_CASES, ids=str)
def test_input_gradients(name, args, kwargs, rng):
    layer = getattr(fk.layers, name)(*args, dtype="float64", **kwargs)
    shape = (3, 3, 5, 6) if kwargs.get("data_format") == "channels_first" else (3, 5, 6, 3)
    x = leaf(rng.uniform(-1, 1, shape))
    fn = _reseeded(layer, x, training=True)
    assert fn().dtype == np.float64
    check_grads(fn, [x], rng, rtol=1e-5, atol=1e-7)


def test_input_gradient_of_a_single_image(rng):
    x = leaf(rng.uniform(-1, 1, (5, 6, 2)))
    layer = fk.layers.RandomRotation(0.2, dtype="float64", fill_mode="constant")
    check_grads(_reseeded(layer, x), [x], rng, rtol=1e-5, atol=1e-7)


# --- configs and errors -------------------------------------------------------------------

CONFIG_CASES = [
    ("Resizing", (3, 4), {}),
    ("Resizing", (5, 2), {"interpolation": "nearest", "crop_to_aspect_ratio": True,
                          "data_format": "channels_first", "antialias": True}),
    ("Resizing", (5, 2), {"pad_to_aspect_ratio": True, "fill_value": 2.0}),
    ("CenterCrop", (2, 3), {}), ("CenterCrop", (2, 3), {"data_format": "channels_first"}),
    ("RandomCrop", (2, 3), {"seed": 3}),
    ("RandomFlip", (), {}), ("RandomFlip", ("vertical",), {"seed": 1}),
    ("RandomRotation", (0.2,), {}),
    ("RandomRotation", ((-0.1, 0.3),), {"fill_mode": "constant", "fill_value": 1.0,
                                        "interpolation": "nearest", "seed": 4}),
    ("RandomRotation", (0,), {}),
    ("RandomZoom", (0.2,), {}), ("RandomZoom", ((-0.2, 0.3), [0.1, 0.2]), {"fill_mode": "wrap"}),
    ("RandomTranslation", (0.1, (0.2, -0.1)), {"data_format": "channels_first"}),
    ("RandomContrast", (0.3,), {}), ("RandomContrast", ((0.2, 0.5),), {"value_range": (0, 1)}),
    ("RandomBrightness", (0.2,), {}),
    ("RandomBrightness", ((-0.2, 0.1),), {"value_range": [1, 0], "seed": 9}),
]


@pytest.mark.parametrize("name, args, kwargs", CONFIG_CASES, ids=str)
def test_configs_match_keras(name, args, kwargs):
    ours = getattr(fk.layers, name)(*args, **kwargs)
    theirs = getattr(keras3.layers, name)(*args, **kwargs)
    assert _unnamed(ours.get_config()) == _unnamed(theirs.get_config())
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()
    # Keras's config builds an equal layer here
    assert _unnamed(type(ours).from_config(theirs.get_config()).get_config()) == \
        _unnamed(theirs.get_config())


def test_unseeded_random_crop_writes_a_seed_as_keras():
    seed = fk.layers.RandomCrop(2, 2).get_config()["seed"]
    assert isinstance(seed, int)
    assert isinstance(keras3.layers.RandomCrop(2, 2).get_config()["seed"], int)


def _error(fn):
    with pytest.raises((ValueError, TypeError, NotImplementedError)) as info:
        fn()
    return info


@pytest.mark.parametrize("make, argument", [
    (lambda lib: lib.layers.RandomRotation(factor=1.5), "factor=1.5"),
    (lambda lib: lib.layers.RandomRotation(factor=(0.1, 0.2, 0.3)), r"factor=\(0.1, 0.2, 0.3\)"),
    (lambda lib: lib.layers.RandomRotation(factor="big"), "factor='?big"),
    (lambda lib: lib.layers.RandomRotation(0.1, fill_mode="mirror"), "mirror"),
    (lambda lib: lib.layers.RandomRotation(0.1, interpolation="bicubic"), "bicubic"),
    (lambda lib: lib.layers.RandomZoom(height_factor=-1.0), "height_factor=-1.0"),
    (lambda lib: lib.layers.RandomZoom(0.1, width_factor=(0.2, 1.5)), "width_factor"),
    (lambda lib: lib.layers.RandomZoom(0.1, fill_mode="edge"), "edge"),
    (lambda lib: lib.layers.RandomTranslation(1.5, 0.1), "height_factor=1.5"),
    (lambda lib: lib.layers.RandomTranslation(0.1, [0.1]), r"width_factor=\[0.1\]"),
    (lambda lib: lib.layers.RandomTranslation(0.1, 0.1, interpolation="area"), "area"),
    (lambda lib: lib.layers.RandomContrast(1.5), "factor=1.5"),
    (lambda lib: lib.layers.RandomContrast((0.5, -0.1)), r"factor=\(0.5, -0.1\)"),
    (lambda lib: lib.layers.RandomContrast(-0.2), "factor=-0.2"),
    (lambda lib: lib.layers.RandomBrightness(1.2), "factor=1.2"),
    (lambda lib: lib.layers.RandomBrightness(0.2, value_range=5), "value_range=5"),
    (lambda lib: lib.layers.RandomBrightness(0.2, value_range=(0, 1, 2)),
     r"value_range=\(0, 1, 2\)"),
    (lambda lib: lib.layers.RandomFlip(data_format="channels_middle"),
     "data_format='?channels_middle"),
])
def test_argument_errors_match_keras(make, argument):
    ours, theirs = _error(lambda: make(fk)), _error(lambda: make(keras3))
    assert ours.type is theirs.type
    assert ours.match(argument)


@pytest.mark.parametrize("kwargs, argument", [
    ({"interpolation": "lanczos3"}, "interpolation='lanczos3'"),
    ({"interpolation": "area"}, "interpolation='area'"),
    ({"fill_mode": "reflect", "pad_to_aspect_ratio": True}, "fill_mode='reflect'"),
    ({"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True}, "pad_to_aspect_ratio=True"),
])
def test_resizing_errors(kwargs, argument, rng):
    # Keras finds these when the layer is called; fastkeras when it is made
    ours = _error(lambda: fk.layers.Resizing(4, 4, **kwargs))
    theirs = _error(lambda: keras3.layers.Resizing(4, 4, **kwargs)(_images(rng)))
    assert ours.type is theirs.type
    assert ours.match(argument)


@pytest.mark.parametrize("make, argument", [
    (lambda: fk.layers.Resizing(0, 4), "height=0"),
    (lambda: fk.layers.CenterCrop(4, 2.5), "width=2.5"),
    (lambda: fk.layers.RandomCrop(-1, 2), "height=-1"),
    (lambda: fk.layers.RandomFlip("diagonal"), "mode='diagonal'"),
    (lambda: fk.layers.RandomFlip(seed="a"), "seed='a'"),
])
def test_more_argument_errors(make, argument):
    assert _error(make).match(argument)


def test_rank_errors(rng):
    for layer in [fk.layers.Resizing(2, 2), fk.layers.RandomFlip(), fk.layers.CenterCrop(2, 2),
                  fk.layers.RandomContrast(0.2)]:
        with pytest.raises(ValueError, match=r"rank 3 .* or 4 .*data.shape=\(4, 5\)"):
            layer(np.ones((4, 5), np.float32), training=True)


# --- models -------------------------------------------------------------------------------

def test_sequential_model_trains_and_round_trips_both_ways(tmp_path, rng):
    x = rng.uniform(0, 1, (16, 10, 12, 3)).astype(np.float32)
    y = rng.integers(0, 2, (16, 1)).astype(np.float32)
    model = fk.Sequential([
        fk.Input((10, 12, 3)),
        fk.layers.Resizing(9, 9, crop_to_aspect_ratio=True),
        fk.layers.RandomFlip(seed=1),
        fk.layers.RandomRotation(0.1, fill_mode="constant"),
        fk.layers.RandomZoom(0.1, seed=2),
        fk.layers.RandomTranslation(0.1, 0.1, interpolation="nearest"),
        fk.layers.RandomContrast(0.2, value_range=(0, 1)),
        fk.layers.RandomBrightness(0.1, value_range=(0, 1)),
        fk.layers.CenterCrop(7, 7),
        fk.layers.RandomCrop(5, 5, seed=3),
        fk.layers.Conv2D(4, 3, activation="relu"),
        fk.layers.GlobalAveragePooling2D(),
        fk.layers.Dense(1, activation="sigmoid"),
    ])
    assert model.output_shape == (None, 1)
    assert model.layers[-4].output_shape == (None, 5, 5, 3)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    # inference: the random layers pass through, RandomCrop too (a 7x7 map into the conv)
    check_keras_file_both_ways(model, x, tmp_path)


def test_functional_channels_first_model_round_trips_both_ways(tmp_path, rng):
    x = rng.uniform(0, 255, (8, 3, 9, 11)).astype(np.float32)
    inputs = fk.Input((3, 9, 11))
    h = fk.layers.Resizing(8, 8, interpolation="nearest", data_format="channels_first")(inputs)
    h = fk.layers.Rescaling(1 / 255)(h)
    h = fk.layers.RandomRotation((-0.2, 0.2), data_format="channels_first", seed=5)(h)
    h = fk.layers.CenterCrop(6, 6, data_format="channels_first")(h)
    h = fk.layers.Flatten()(h)
    outputs = fk.layers.Dense(2)(h)
    model = fk.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, rng.standard_normal((8, 2)).astype(np.float32), epochs=1, verbose=0)
    check_keras_file_both_ways(model, x, tmp_path, keras_rtol=1e-4, keras_atol=1e-4)
