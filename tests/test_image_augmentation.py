"""The colour, geometric, mixing and composite augmentation layers (RandomGrayscale,
RandomHue, RandomSaturation, RandomColorJitter, RandomColorDegeneration, RandomSharpness,
RandomShear, RandomPerspective, RandomErasing, RandomGaussianBlur, RandomInvert,
RandomPosterization, Solarization, AutoContrast, Equalization, RandomElasticTransform, MixUp,
CutMix, RandAugment, AugMix, Pipeline): signatures and configs against Keras 3, Keras's
outputs for pinned factors and for our own random draws, the randomness itself, inference
behaviour, both data formats, single images, dict inputs, argument errors, and models that
train and go through .keras files both ways."""

import inspect
import json

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.backend import Tensor
from keras_files import check_keras_file_both_ways

keras3 = pytest.importorskip("keras")

NAMES = ["RandomGrayscale", "RandomHue", "RandomSaturation", "RandomColorJitter",
         "RandomColorDegeneration", "RandomSharpness", "RandomShear", "RandomPerspective",
         "RandomErasing", "RandomGaussianBlur", "RandomInvert", "RandomPosterization",
         "Solarization", "AutoContrast", "Equalization", "RandomElasticTransform", "MixUp",
         "CutMix", "RandAugment", "AugMix", "Pipeline"]
FORMATS = ["channels_last", "channels_first"]


def _json(config):
    return json.loads(json.dumps(config))


def _numpy(t):
    return t.numpy() if isinstance(t, Tensor) else keras3.ops.convert_to_numpy(t)


def _unnamed(config):
    return {k: v for k, v in config.items() if k != "name"}


def _images(rng, data_format="channels_last", rank=4, shape=(4, 9, 11, 3), high=1.0):
    """Images with values in [0, high), in the given layout and rank."""
    x = (rng.uniform(0, 1, shape) * high).astype(np.float32)
    if data_format == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    return x if rank == 4 else x[0]


def _keras_transformation(t):
    """Our drawn transformation, as tensors for Keras's transform_images."""
    if isinstance(t, dict):
        return {k: _keras_transformation(v) for k, v in t.items()}
    if isinstance(t, list):
        return [_keras_transformation(v) for v in t]
    if isinstance(t, (np.ndarray, np.generic)):
        return keras3.ops.convert_to_tensor(np.asarray(t))
    return t


def _both(name, x, *args, training=True, **kwargs):
    ours = getattr(fk.layers, name)(*args, **kwargs)(x, training=training)
    theirs = getattr(keras3.layers, name)(*args, **kwargs)(x, training=training)
    return _numpy(ours), _numpy(theirs)


def _assert_matches_keras(name, x, *args, atol=1e-4, training=True, **kwargs):
    ours, theirs = _both(name, x, *args, training=training, **kwargs)
    assert ours.shape == theirs.shape == x.shape
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=atol)
    return ours


# --- signatures and configs ---------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_signatures_match_keras(name):
    ours = inspect.signature(getattr(fk.layers, name).__init__)
    theirs = inspect.signature(getattr(keras3.layers, name).__init__)
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.parameters.values()]


CONFIG_CASES = [
    ("RandomGrayscale", (), {}), ("RandomGrayscale", (0.2,), {"seed": 3}),
    ("RandomHue", (0.3,), {}), ("RandomHue", ((0.1, 0.4),), {"value_range": (0, 1), "seed": 2}),
    ("RandomSaturation", (0.5,), {}),
    ("RandomSaturation", ((0.7, 0.2),), {"value_range": [1, 0], "data_format": "channels_first"}),
    ("RandomColorJitter", (), {}),
    ("RandomColorJitter", (), {"value_range": (0, 1), "brightness_factor": 0.2,
                               "contrast_factor": (0.1, 0.3), "saturation_factor": 0.4,
                               "hue_factor": 0.1, "seed": 5}),
    ("RandomColorDegeneration", (0.4,), {}),
    ("RandomSharpness", (0.2,), {"value_range": (0, 1)}),
    ("RandomShear", (), {}),
    ("RandomShear", (0.3, (0.1, 0.2)), {"fill_mode": "constant", "fill_value": 0.5,
                                        "interpolation": "nearest", "seed": 1}),
    ("RandomPerspective", (), {}), ("RandomPerspective", (0.4, 0.3), {"fill_value": 1.0}),
    ("RandomErasing", (), {}),
    ("RandomErasing", (0.5, (0.1, 0.2)), {"fill_value": 3.0, "value_range": (0, 1)}),
    ("RandomErasing", (), {"fill_value": [1.0, 2.0, 3.0]}),
    ("RandomGaussianBlur", (), {}),
    ("RandomGaussianBlur", (0.5, (3, 5), (0.2, 0.8)), {"value_range": (0, 1)}),
    ("RandomInvert", (), {}), ("RandomInvert", ((0.2, 0.6),), {"value_range": (0, 1)}),
    ("RandomPosterization", (4,), {}), ("RandomPosterization", ((2, 6),), {"seed": 2}),
    ("Solarization", (), {}), ("Solarization", (0.2, (0.3, 0.6)), {"value_range": (0, 1)}),
    ("AutoContrast", (), {}), ("AutoContrast", (), {"value_range": (1, 0)}),
    ("Equalization", (), {}), ("Equalization", (), {"bins": 32, "value_range": (0, 1)}),
    ("RandomElasticTransform", (), {}),
    ("RandomElasticTransform", (0.5, (0.2, 0.4)), {"fill_mode": "mirror",
                                                   "interpolation": "nearest"}),
    ("MixUp", (), {}), ("MixUp", (0.5,), {"seed": 4}),
    ("CutMix", (), {}), ("CutMix", ((0.2, 0.6),), {"seed": 4}),
    ("RandAugment", (), {}), ("RandAugment", ((0, 1), 3, 0.7, "nearest", 2), {}),
    ("AugMix", (), {}), ("AugMix", ((0, 1), 2, 4, 0.5, 0.5, False, "nearest", 3), {}),
]


@pytest.mark.parametrize("name, args, kwargs", CONFIG_CASES, ids=str)
def test_configs_match_keras(name, args, kwargs):
    ours = getattr(fk.layers, name)(*args, **kwargs)
    theirs = getattr(keras3.layers, name)(*args, **kwargs)
    assert _unnamed(ours.get_config()) == _unnamed(theirs.get_config())
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()
    if name == "RandomShear" and args:
        return  # Keras rebuilds no sheared layer from its own config (see the errors below)
    assert _unnamed(type(ours).from_config(theirs.get_config()).get_config()) == \
        _unnamed(theirs.get_config())
    rebuilt = type(theirs).from_config(ours.get_config())
    assert _unnamed(rebuilt.get_config()) == _unnamed(theirs.get_config())


def test_pipeline_config_matches_keras():
    ours = fk.layers.Pipeline([fk.layers.RandomFlip(seed=1, name="flip"),
                               fk.layers.AutoContrast(name="contrast")], name="pipe")
    theirs = keras3.layers.Pipeline([keras3.layers.RandomFlip(seed=1, name="flip"),
                                     keras3.layers.AutoContrast(name="contrast")], name="pipe")
    assert ours.get_config() == theirs.get_config()
    again = fk.layers.Pipeline.from_config(theirs.get_config())
    assert [type(v).__name__ for v in again.layers] == ["RandomFlip", "AutoContrast"]
    assert again.get_config() == ours.get_config()
    assert keras3.layers.Pipeline.from_config(ours.get_config()).get_config() == \
        theirs.get_config()


# --- deterministic cases against Keras ----------------------------------------------------

PINNED_CASES = [
    ("RandomGrayscale", {"factor": 1.0}), ("RandomGrayscale", {"factor": 0.0}),
    ("RandomHue", {"factor": 0.0, "value_range": (0, 1)}),
    ("RandomSaturation", {"factor": (0.0, 0.0), "value_range": (0, 1)}),
    ("RandomSaturation", {"factor": (0.5, 0.5), "value_range": (0, 1)}),
    ("RandomSaturation", {"factor": (1.0, 1.0), "value_range": (0, 1)}),
    ("RandomColorDegeneration", {"factor": (0.3, 0.3), "value_range": (0, 1)}),
    ("RandomColorDegeneration", {"factor": (1.0, 1.0)}),
    ("RandomSharpness", {"factor": (0.1, 0.1), "value_range": (0, 1)}),
    ("RandomSharpness", {"factor": (0.9, 0.9), "value_range": (0, 1)}),
    ("RandomInvert", {"factor": (1, 1), "value_range": (0, 1)}),
    ("RandomInvert", {"factor": 0.0}),
    ("RandomPosterization", {"factor": (3, 3), "value_range": (0, 1)}),
    ("RandomPosterization", {"factor": 1}),
    ("Solarization", {"value_range": (0, 1)}), ("Solarization", {}),
    ("AutoContrast", {"value_range": (0, 1)}), ("AutoContrast", {}),
    ("Equalization", {"value_range": (0, 1)}), ("Equalization", {"bins": 20}),
    ("RandomGaussianBlur", {"factor": (1, 1), "sigma": (0.5, 0.5), "value_range": (0, 1)}),
    ("RandomGaussianBlur", {"factor": (1, 1), "kernel_size": 5, "sigma": (0.9, 0.9)}),
    ("RandomGaussianBlur", {"factor": 0.0, "value_range": (0, 1)}),
    ("RandomShear", {}), ("RandomPerspective", {"factor": (1, 1), "scale": 0.0}),
    ("RandomPerspective", {"factor": 0.0}), ("RandomErasing", {"factor": 0.0}),
    ("RandomElasticTransform", {"scale": 0.0}), ("RandomElasticTransform", {"factor": 0.0}),
]


@pytest.mark.parametrize("case", PINNED_CASES, ids=str)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [3, 4])
def test_pinned_factors_match_keras(case, data_format, rank, rng):
    name, kwargs = case
    high = 1.0 if tuple(kwargs.get("value_range", (0, 255))) == (0, 1) else 255.0
    x = _images(rng, data_format, rank, high=high)
    if name == "AutoContrast" and data_format == "channels_first":
        # Keras takes the extremes over (channels, height) for channels_first: compare with
        # its channels_last result instead
        last = np.moveaxis(x, -3, -1)
        ours = fk.layers.AutoContrast(data_format=data_format, **kwargs)(x).numpy()
        theirs = _numpy(keras3.layers.AutoContrast(**kwargs)(last))
        np.testing.assert_allclose(np.moveaxis(ours, -3, -1), theirs, atol=1e-4)
        return
    _assert_matches_keras(name, x, data_format=data_format, **kwargs)


@pytest.mark.parametrize("rank", [3, 4])
def test_pinned_color_jitter_matches_keras(rank, rng):
    # brightness (0.2, 0.2) and contrast (-0.3, 0.3) have single values; saturation (0.6,
    # 0.6) scales by 1.5 and hue 0 converts to HSV and back
    x = _images(rng, rank=rank)
    _assert_matches_keras("RandomColorJitter", x, value_range=(0, 1), brightness_factor=(0.2, 0.2),
                          contrast_factor=(-0.3, 0.3), saturation_factor=(0.6, 0.6),
                          hue_factor=0.0)


def test_uint8_images_match_keras(rng):
    x = rng.integers(0, 256, (3, 8, 9, 3)).astype(np.uint8)
    for name, kwargs in [("RandomGrayscale", {"factor": 1.0}), ("AutoContrast", {}),
                         ("Equalization", {}), ("Solarization", {}),
                         ("RandomPosterization", {"factor": (2, 2)}),
                         ("RandomInvert", {"factor": (1, 1)}),
                         ("RandomColorDegeneration", {"factor": (0.4, 0.4)})]:
        _assert_matches_keras(name, x, **kwargs)


def test_equalization_with_constant_channels_matches_keras(rng):
    x = _images(rng, high=255.0)
    x[..., 1] = 7.0  # one level only: left as it is
    x[:2, :, :, 2] = np.round(x[:2, :, :, 2] / 64) * 64  # few levels
    _assert_matches_keras("Equalization", x)
    _assert_matches_keras("AutoContrast", x)


# --- our draws, applied as Keras applies them ---------------------------------------------

SHARED_DRAW_CASES = [
    ("RandomGrayscale", {"factor": 0.5}),
    ("RandomHue", {"factor": 0.8, "value_range": (0, 1)}),
    ("RandomHue", {"factor": (0.2, 0.9), "value_range": (0, 255)}),
    ("RandomSaturation", {"factor": (0.1, 0.9), "value_range": (0, 1)}),
    ("RandomColorDegeneration", {"factor": (0.1, 0.9), "value_range": (0, 1)}),
    ("RandomSharpness", {"factor": (0.0, 1.0), "value_range": (0, 1)}),
    ("RandomInvert", {"factor": 0.9, "value_range": (0, 1)}),
    ("RandomPosterization", {"factor": (1, 8), "value_range": (0, 1)}),
    ("Solarization", {"addition_factor": 0.3, "threshold_factor": (0.2, 0.8),
                      "value_range": (0, 1)}),
    ("RandomGaussianBlur", {"factor": 0.8, "kernel_size": 5, "sigma": (0.3, 1.0),
                            "value_range": (0, 1)}),
    ("RandomShear", {"x_factor": 0.3, "y_factor": (0.1, 0.5), "fill_mode": "constant",
                     "fill_value": 0.3}),
    ("RandomShear", {"x_factor": 0.6, "y_factor": 0.2, "fill_mode": "wrap",
                     "interpolation": "nearest"}),
    ("RandomShear", {"x_factor": 0.4, "fill_mode": "reflect"}),
    ("RandomPerspective", {"factor": 0.9, "scale": 0.6, "fill_value": 0.2}),
    ("RandomPerspective", {"factor": (1, 1), "scale": 0.4, "interpolation": "nearest"}),
    ("RandomErasing", {"factor": 0.9, "value_range": (0, 1)}),
    ("RandomErasing", {"factor": (1, 1), "scale": (0.1, 0.5), "fill_value": 0.3,
                       "value_range": (0, 1)}),
    ("RandomErasing", {"factor": (1, 1), "fill_value": [0.1, 0.5, 0.9],
                       "value_range": (0, 1)}),
    ("MixUp", {"alpha": 0.4}), ("CutMix", {"factor": 0.8}),
    ("AugMix", {"value_range": (0, 1), "factor": 0.6}),
    ("AugMix", {"value_range": (0, 1), "factor": 0.6, "all_ops": False, "num_chains": 2,
                "chain_depth": 4}),
]


@pytest.mark.parametrize("case", SHARED_DRAW_CASES, ids=str)
@pytest.mark.parametrize("data_format", FORMATS)
def test_random_draws_applied_as_keras_applies_them(case, data_format, rng):
    """Our random draws for a batch, given to Keras's transform_images, give our outputs."""
    name, kwargs = case
    # Keras's AutoContrast (inside AugMix) reduces over the wrong axes for channels_first:
    # there the reference is Keras's channels_last result on the transposed images.
    via_last = name == "AugMix" and data_format == "channels_first"
    high = 255.0 if tuple(kwargs.get("value_range", (0, 1))) == (0, 255) else 1.0
    x = _images(rng, data_format, shape=(6, 9, 11, 3), high=high)
    ours = getattr(fk.layers, name)(data_format=data_format, **kwargs)
    theirs = getattr(keras3.layers, name)(
        data_format="channels_last" if via_last else data_format, **kwargs)
    for seed in range(3):
        transformation = ours._draw(np.random.default_rng(seed), x.shape)
        got = _numpy(ours._apply(Tensor(x), transformation))
        x_in = np.transpose(x, (0, 2, 3, 1)) if via_last else x
        want = _numpy(theirs.transform_images(keras3.ops.convert_to_tensor(x_in),
                                              _keras_transformation(transformation)))
        if via_last:
            want = np.transpose(want, (0, 3, 1, 2))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 * high)


@pytest.mark.parametrize("num_ops", [1, 2, 3])
def test_rand_augment_applies_its_draws_as_keras_sub_layers(num_ops, rng):
    """Each chosen operation applied with its draw as Keras's own sub-layer applies it. (On
    PyTorch, Keras's RandAugment itself also adds the brightness draw in place at every step
    and reuses a rotation matrix that its affine transform has changed in place.)"""
    x = _images(rng, shape=(5, 9, 11, 3))
    ours = fk.layers.RandAugment(value_range=(0, 1), num_ops=num_ops, factor=0.7)
    theirs = keras3.layers.RandAugment(value_range=(0, 1), num_ops=num_ops, factor=0.7)
    for seed in range(8):
        t = ours._draw(np.random.default_rng(seed), x.shape)
        want = keras3.ops.convert_to_tensor(x)
        for index in t["layer_idxes"]:
            name = ours._OPS[index]
            want = getattr(theirs, name).transform_images(
                want, _keras_transformation(t["transforms"][name]))
        np.testing.assert_allclose(_numpy(ours._apply(Tensor(x), t)), _numpy(want), atol=1e-4)
        if num_ops == 1:  # no step to interfere with: Keras's layer agrees
            t["transforms"]["random_brightness"]["rgb_delta"] *= 0
            whole = theirs.transform_images(keras3.ops.convert_to_tensor(x),
                                            _keras_transformation(t))
            np.testing.assert_allclose(_numpy(ours._apply(Tensor(x), t)), _numpy(whole),
                                       atol=1e-4)


def test_rand_augment_with_zero_factor_picks_one_of_keras_outputs(rng):
    # with factor 0 every operation is deterministic (shear, translation, rotation,
    # brightness, degeneration, contrast: identity; sharpness: blur; posterization: top bit;
    # solarization: inversion; auto-contrast; equalization)
    x = _images(rng, shape=(3, 9, 11, 3))
    theirs = keras3.layers.RandAugment(value_range=(0, 1), num_ops=1, factor=0.0)
    candidates = []
    for name in fk.layers.RandAugment._OPS:
        sub = getattr(theirs, name)
        t = sub.get_random_transformation(keras3.ops.convert_to_tensor(x))
        candidates.append(_numpy(sub.transform_images(keras3.ops.convert_to_tensor(x), t)))
    layer = fk.layers.RandAugment(value_range=(0, 1), num_ops=1, factor=0.0, seed=1)
    seen = set()
    for _ in range(40):
        out = layer(x).numpy()
        matches = [i for i, c in enumerate(candidates) if np.allclose(out, c, atol=1e-4)]
        assert matches
        seen.update(matches)
    assert len(seen) >= 6


# --- randomness ---------------------------------------------------------------------------

def _draws(layer, shape=(400, 8, 10, 3), seed=0):
    return layer._draw(np.random.default_rng(seed), shape)


def test_draw_ranges():
    flags = _draws(fk.layers.RandomGrayscale(0.3))
    assert flags.shape == (400, 1, 1, 1) and 80 < flags.sum() < 160
    hue = _draws(fk.layers.RandomHue((0.2, 0.6)))["factor"]
    assert np.abs(hue).min() >= 0.1 and np.abs(hue).max() <= 0.3
    assert 120 < (hue < 0).sum() < 280
    saturation = _draws(fk.layers.RandomSaturation((0.2, 0.6)))["factor"]
    assert saturation.min() >= 0.25 - 1e-5 and saturation.max() <= 1.5 + 1e-5
    degeneration = _draws(fk.layers.RandomColorDegeneration(0.4))["factor"]
    assert degeneration.shape == (400, 1, 1, 1)
    assert -0.4 <= degeneration.min() < -0.3 and 0.3 < degeneration.max() <= 0.4
    sharpness = _draws(fk.layers.RandomSharpness((0.3, 0.5)))["factor"]
    assert 0.3 <= sharpness.min() and sharpness.max() <= 0.5
    invert = _draws(fk.layers.RandomInvert())["apply_inversion"]
    assert 150 < invert.sum() < 250  # factor 1.0: probabilities drawn from [0, 1]
    assert _draws(fk.layers.RandomInvert((1, 1)))["apply_inversion"].all()
    shift = _draws(fk.layers.RandomPosterization((2, 5)))["shift_factor"]
    assert set(np.unique(shift)) == {4, 5, 6}  # 8 - bits, bits in 2, 3, 4
    assert set(np.unique(_draws(fk.layers.RandomPosterization(3))["shift_factor"])) == {6, 7}
    solar = _draws(fk.layers.Solarization(0.2, (0.4, 0.6)))
    assert 0 <= solar["additions"].min() and solar["additions"].max() <= 51
    assert 0.4 <= solar["thresholds"].min() and solar["thresholds"].max() <= 153
    blur = _draws(fk.layers.RandomGaussianBlur(sigma=(0.2, 0.7)))
    assert blur["blur_factor"].shape == (2,)
    assert (0.2 <= blur["blur_factor"]).all() and (blur["blur_factor"] <= 0.7 + 1e-5).all()
    shear = _draws(fk.layers.RandomShear(0.3, (0.1, 0.2)))["shear_factor"]
    assert shear.shape == (400, 2) and np.abs(shear[:, 0]).max() <= 0.3
    assert (np.abs(shear[:, 1]) >= 0.1).all() and (np.abs(shear[:, 1]) <= 0.2).all()
    assert (np.sign(shear[:, 1]) < 0).sum() > 100  # a random sign, shared by both
    perspective = _draws(fk.layers.RandomPerspective(scale=0.4))
    moved = perspective["end_points"] - perspective["start_points"]
    assert np.abs(moved / np.maximum(perspective["start_points"], 1)).max() <= 0.2 + 1e-5
    erase = _draws(fk.layers.RandomErasing(scale=(0.1, 0.3)), shape=(400, 10, 20, 3))
    area = erase["batch_masks"][..., 0].mean(axis=(1, 2))
    assert area.min() > 0.05 and area.max() < 0.35 and np.ptp(area) > 0.1
    assert erase["fill_value"].min() >= 0 and erase["fill_value"].max() <= 255
    mix = _draws(fk.layers.MixUp(0.3))
    assert sorted(mix["permutation_order"]) == list(range(400))
    assert 0 <= mix["mix_weight"].min() and mix["mix_weight"].max() <= 1
    assert ((mix["mix_weight"] < 0.1) | (mix["mix_weight"] > 0.9)).mean() > 0.5  # U-shaped
    cut = _draws(fk.layers.CutMix())
    assert cut["batch_masks"].shape == (400, 8, 10, 3)
    kept = 1 - cut["batch_masks"][..., 0].mean(axis=(1, 2))
    assert np.corrcoef(kept, cut["mix_weight"])[0, 1] > 0.95
    augment = _draws(fk.layers.RandAugment(num_ops=5))["layer_idxes"]
    assert augment.shape == (5,) and augment.min() >= 0 and augment.max() <= 10
    augmix = _draws(fk.layers.AugMix(num_chains=4))
    np.testing.assert_allclose(augmix["chain_mixing_weights"].sum(), 1, rtol=1e-5)
    assert len(augmix["chain_transforms"]) == 4


def test_cut_mix_pastes_a_box_from_another_image(rng):
    x = np.stack([np.full((12, 14, 3), float(i), np.float32) for i in range(8)])
    out = fk.layers.CutMix(seed=2)(x).numpy()
    changed = 0
    for i in range(8):
        values = set(np.unique(out[i]))
        assert float(i) in values or len(values) == 1
        other = values - {float(i)}
        if other:
            changed += 1
            mask = out[i] != i
            rows, cols = np.nonzero(mask[..., 0])
            # a box: every pixel between its extremes is pasted
            assert mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    assert changed >= 3


RANDOM_CASES = [
    ("RandomGrayscale", {"factor": 0.5}), ("RandomHue", {"factor": 0.5}),
    ("RandomSaturation", {"factor": 0.5}), ("RandomColorDegeneration", {"factor": 0.5}),
    ("RandomColorJitter", {"brightness_factor": 0.3, "hue_factor": 0.3}),
    ("RandomSharpness", {"factor": 0.5}), ("RandomShear", {"x_factor": 0.4}),
    ("RandomPerspective", {"scale": 0.5}), ("RandomErasing", {}),
    ("RandomGaussianBlur", {}), ("RandomInvert", {}),
    ("RandomPosterization", {"factor": (1, 8)}),
    ("Solarization", {"addition_factor": 0.5, "threshold_factor": 0.8}),
    ("RandomElasticTransform", {"scale": 1.0}), ("MixUp", {}), ("CutMix", {}),
    ("RandAugment", {}), ("AugMix", {}),
]


@pytest.mark.parametrize("name, kwargs", RANDOM_CASES, ids=str)
def test_seeds_reproduce_and_images_get_their_own_draws(name, kwargs, rng):
    if name in ("MixUp", "CutMix"):  # these mix different images of the batch
        x = _images(rng, shape=(8, 10, 12, 3), high=255.0)
    else:
        x = np.repeat(_images(rng, shape=(1, 10, 12, 3), high=255.0), 8, axis=0)
    layer = getattr(fk.layers, name)
    out = layer(seed=3, **kwargs)(x, training=True).numpy()
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.isfinite(out).all()
    if name not in ("RandAugment", "AugMix", "RandomElasticTransform"):  # per batch
        assert len({out[i].tobytes() for i in range(8)}) > 1
    np.testing.assert_array_equal(out, layer(seed=3, **kwargs)(x, training=True).numpy())
    runs = [layer(seed=s, **kwargs)(x, training=True).numpy() for s in (4, 5, 6)]
    assert any(not np.array_equal(out, r) for r in runs)
    same = fk.layers.Pipeline([layer(seed=7, **kwargs)])
    first, second = same(x).numpy(), same(x).numpy()
    assert not np.array_equal(first, second) or name == "RandomGrayscale"
    runs = []
    for _ in range(2):
        fk.utils.set_random_seed(11)
        runs.append(layer(**kwargs)(x, training=True).numpy())
    np.testing.assert_array_equal(*runs)


def test_outputs_stay_in_the_value_range(rng):
    x = _images(rng, shape=(16, 12, 12, 3))
    for layer in [fk.layers.RandomHue(0.9, value_range=(0, 1)),
                  fk.layers.RandomColorDegeneration(1.0, value_range=(0, 1)),
                  fk.layers.RandomSharpness(1.0, value_range=(0, 1)),
                  fk.layers.RandomGaussianBlur(value_range=(0, 1)),
                  fk.layers.RandomErasing(value_range=(0, 1)),
                  fk.layers.RandomElasticTransform(value_range=(0, 1)),
                  fk.layers.RandAugment(value_range=(0, 1), factor=0.9, num_ops=3),
                  fk.layers.AugMix(value_range=(0, 1), factor=0.9),
                  fk.layers.Solarization(0.5, 0.5, value_range=(0, 1)),
                  fk.layers.RandomPosterization(8, value_range=(0, 1))]:
        out = layer(x, training=True).numpy()
        assert out.min() >= 0 and out.max() <= 1, type(layer).__name__


def test_elastic_transform_distorts_as_much_as_keras(rng):
    y, xx = np.meshgrid(np.linspace(0, 1, 32), np.linspace(0, 1, 32), indexing="ij")
    x = np.stack([y, xx, y * xx], -1)[None].repeat(8, 0).astype(np.float32)
    kwargs = dict(factor=(1, 1), scale=(1, 1), value_range=(0, 1))
    ours = np.abs(fk.layers.RandomElasticTransform(seed=1, **kwargs)(x).numpy() - x)
    theirs = np.abs(_numpy(keras3.layers.RandomElasticTransform(seed=1, **kwargs)(x)) - x)
    assert 0.5 < ours.mean() / theirs.mean() < 2 and ours.max() > 0.02
    weak = fk.layers.RandomElasticTransform(seed=1, **{**kwargs, "scale": (0.3, 0.3)})(x)
    assert np.abs(weak.numpy() - x).mean() < ours.mean()


def test_mixup_and_cutmix_mix_labels_with_the_images(rng):
    x = np.stack([np.full((16, 20, 3), float(i), np.float32) for i in range(6)])
    labels = np.eye(6, dtype=np.float32)
    out = fk.layers.MixUp(seed=1)({"images": x, "labels": labels})
    images, mixed = out["images"].numpy(), out["labels"].numpy()
    np.testing.assert_allclose(mixed.sum(axis=1), 1, rtol=1e-5)
    # each image is w * own + (1 - w) * other: its value is the labels' weighted index
    np.testing.assert_allclose(images[:, 0, 0, 0], mixed @ np.arange(6), rtol=1e-4,
                               atol=1e-4)
    out = fk.layers.CutMix(seed=1)({"images": x, "labels": labels})
    images, mixed = out["images"].numpy(), out["labels"].numpy()
    np.testing.assert_allclose(mixed.sum(axis=1), 1, rtol=1e-5)
    for i in range(6):  # the label weight of another image is the share of pixels pasted
        for j in set(range(6)) - {i}:
            assert abs(mixed[i, j] - (images[i] == j).mean()) < 0.15
    # other layers pass the labels through; inference leaves both alone
    out = fk.layers.RandomInvert(seed=1)({"images": x, "labels": labels})
    np.testing.assert_array_equal(out["labels"].numpy(), labels)
    out = fk.layers.MixUp()({"images": x, "labels": labels}, training=False)
    np.testing.assert_array_equal(out["images"].numpy(), x)
    with pytest.raises(ValueError, match="bounding_boxes"):
        fk.layers.MixUp()({"images": x, "bounding_boxes": {"boxes": np.zeros((6, 1, 4))}})


def test_single_images(rng):
    for df in FORMATS:
        x = _images(rng, df, rank=3)
        # CutMix and MixUp have nothing to mix a single image with
        for name in ("CutMix", "MixUp"):
            _assert_matches_keras(name, x, data_format=df)
        for name, kwargs in RANDOM_CASES:
            out = getattr(fk.layers, name)(seed=2, data_format=df, **kwargs)(x * 255)
            assert out.shape == x.shape, name


# --- inference ----------------------------------------------------------------------------

INFERENCE_CASES = [(name, args) for name, args in [
    ("RandomGrayscale", ()), ("RandomHue", (0.5,)), ("RandomSaturation", (0.5,)),
    ("RandomColorJitter", ((0, 255), 0.2, 0.2, 0.2, 0.2)),
    ("RandomColorDegeneration", (0.5,)), ("RandomSharpness", (0.5,)),
    ("RandomShear", (0.3, 0.3)), ("RandomPerspective", ()), ("RandomErasing", ()),
    ("RandomGaussianBlur", ()), ("RandomInvert", ()), ("RandomPosterization", (4,)),
    ("Solarization", (0.5, 0.5)), ("Equalization", ()), ("RandomElasticTransform", ()),
    ("MixUp", ()), ("CutMix", ()), ("RandAugment", ()), ("AugMix", ()),
]]


@pytest.mark.parametrize("name, args", INFERENCE_CASES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_inference_passes_inputs_through_as_keras(name, args, dtype, rng):
    x = (_images(rng) * 255).astype(dtype)
    ours, theirs = _both(name, x, *args, training=False)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape == x.shape
    np.testing.assert_array_equal(ours, x)
    np.testing.assert_array_equal(theirs, x)


def test_auto_contrast_applies_at_inference_too(rng):
    x = _images(rng) * 0.5 + 0.2
    out = fk.layers.AutoContrast(value_range=(0, 1))(x, training=False).numpy()
    np.testing.assert_allclose(out.min(axis=(1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(out.max(axis=(1, 2)), 1, atol=1e-6)
    model = fk.Sequential([fk.Input((9, 11, 3)), fk.layers.AutoContrast(value_range=(0, 1)),
                           fk.layers.RandomInvert((1, 1), value_range=(0, 1))])
    np.testing.assert_allclose(model.predict(x, verbose=0), out, atol=1e-6)
    np.testing.assert_allclose(model(x, training=True).numpy(), 1 - out, atol=1e-6)


def test_pipeline_applies_layers_in_order_and_passes_training(rng):
    x = _images(rng)
    pipeline = fk.layers.Pipeline([fk.layers.RandomInvert((1, 1), value_range=(0, 1)),
                                   fk.layers.Rescaling(2.0)])
    np.testing.assert_allclose(pipeline(x).numpy(), 2 * (1 - x), rtol=1e-6)
    np.testing.assert_allclose(pipeline(x, training=False).numpy(), 2 * x, rtol=1e-6)
    theirs = keras3.layers.Pipeline([keras3.layers.RandomInvert((1, 1), value_range=(0, 1)),
                                     keras3.layers.Rescaling(2.0)])
    np.testing.assert_allclose(_numpy(theirs(x)), 2 * (1 - x), rtol=1e-6)
    assert pipeline.compute_output_shape((None, 9, 11, 3)) == (None, 9, 11, 3)


# --- errors -------------------------------------------------------------------------------

def _error(fn):
    with pytest.raises((ValueError, TypeError, NotImplementedError)) as info:
        fn()
    return info


@pytest.mark.parametrize("make, argument", [
    (lambda lib: lib.layers.RandomGrayscale(factor=1.5), "factor=1.5"),
    (lambda lib: lib.layers.RandomHue(factor=2.0), "factor=2.0"),
    (lambda lib: lib.layers.RandomHue(factor=(0.1, 0.2, 0.3)), r"factor=\(0.1, 0.2, 0.3\)"),
    (lambda lib: lib.layers.RandomSaturation(0.5, value_range=5), "value_range=5"),
    (lambda lib: lib.layers.RandomColorDegeneration(-1.5), "factor=-1.5"),
    (lambda lib: lib.layers.RandomSharpness(0.5, value_range=(0, 1, 2)),
     r"value_range=\(0, 1, 2\)"),
    (lambda lib: lib.layers.RandomShear(x_factor=1.5), "1.5"),
    (lambda lib: lib.layers.RandomShear(0.1, fill_mode="mirror"), "mirror"),
    (lambda lib: lib.layers.RandomShear(0.1, interpolation="bicubic"), "bicubic"),
    (lambda lib: lib.layers.RandomPerspective(scale=1.5), "scale=1.5"),
    (lambda lib: lib.layers.RandomPerspective(interpolation="area"), "area"),
    (lambda lib: lib.layers.RandomErasing(scale=(2, 3)), r"\(2, 3\)"),
    (lambda lib: lib.layers.RandomGaussianBlur(kernel_size=4), "kernel_size=4"),
    (lambda lib: lib.layers.RandomGaussianBlur(kernel_size=(3, 4)), r"kernel_size=\(3, 4\)"),
    (lambda lib: lib.layers.RandomGaussianBlur(sigma=2.0), "2.0"),
    (lambda lib: lib.layers.RandomInvert(factor=1.2), "factor=1.2"),
    (lambda lib: lib.layers.RandomPosterization(9), "factor=9"),
    (lambda lib: lib.layers.RandomPosterization(0.5), "factor=0.5"),
    (lambda lib: lib.layers.Solarization(addition_factor=1.5), "1.5"),
    (lambda lib: lib.layers.Solarization(threshold_factor="a"), "threshold_factor='?a"),
    (lambda lib: lib.layers.AutoContrast(value_range=3), "value_range=3"),
    (lambda lib: lib.layers.RandomElasticTransform(fill_mode="edge"), "edge"),
    (lambda lib: lib.layers.RandomElasticTransform(scale=1.5), "1.5"),
    (lambda lib: lib.layers.CutMix(factor=-2), "factor=-2"),
    (lambda lib: lib.layers.RandAugment(factor=1.5), "factor=1.5"),
    (lambda lib: lib.layers.AugMix(factor=(2, 3)), r"factor=\(2, 3\)"),
    (lambda lib: lib.layers.RandomHue(0.2, data_format="channels_middle"),
     "data_format='?channels_middle"),
])
def test_argument_errors_match_keras(make, argument):
    ours, theirs = _error(lambda: make(fk)), _error(lambda: make(keras3))
    assert ours.type is theirs.type
    assert ours.match(argument)


@pytest.mark.parametrize("make, argument", [
    (lambda: fk.layers.RandomGrayscale(factor="a"), "factor='a'"),
    (lambda: fk.layers.RandomHue(0.2, seed="x"), "seed='x'"),
    (lambda: fk.layers.RandomShear(x_factor=(0.1, 1.2)), r"x_factor=\(0.1, 1.2\)"),
    (lambda: fk.layers.RandomPerspective(scale="big"), "scale='big'"),
    (lambda: fk.layers.RandomErasing(fill_value=[1, 2]), r"fill_value=\[1, 2\]"),
    (lambda: fk.layers.RandomGaussianBlur(sigma=(0.1, 0.2, 0.3)), r"sigma=\(0.1, 0.2, 0.3\)"),
    (lambda: fk.layers.Equalization(bins=0), "bins=0"),
    (lambda: fk.layers.Equalization(value_range=(0,)), r"value_range=\(0,\)"),
    (lambda: fk.layers.MixUp(alpha=-1.0), "alpha=-1.0"),
    (lambda: fk.layers.RandAugment(num_ops=-1), "num_ops=-1"),
    (lambda: fk.layers.AugMix(num_chains=1.5), "num_chains=1.5"),
    (lambda: fk.layers.AugMix(alpha=0), "alpha=0"),
    (lambda: fk.layers.RandAugment(interpolation="cubic"), "interpolation='cubic'"),
    (lambda: fk.layers.Pipeline(fk.layers.Dense(2)), "layers="),
])
def test_more_argument_errors(make, argument):
    assert _error(make).match(argument)


def test_keras_cannot_rebuild_a_shear_from_its_config():
    config = keras3.layers.RandomShear(0.2).get_config()
    with pytest.raises((ValueError, TypeError), match="-0.2"):
        keras3.layers.RandomShear.from_config(config)
    assert fk.layers.RandomShear.from_config(config).x_factor == (-0.2, 0.2)


def test_rank_errors():
    for layer in [fk.layers.RandomHue(0.2), fk.layers.AutoContrast(), fk.layers.MixUp()]:
        with pytest.raises(ValueError, match=r"rank 3 .* or 4 .*data.shape=\(4, 5\)"):
            layer(np.ones((4, 5), np.float32), training=True)


# --- models -------------------------------------------------------------------------------

def _augmenting_model(data_format="channels_last"):
    layers = fk.layers
    shape = (12, 12, 3) if data_format == "channels_last" else (3, 12, 12)
    kw = {"data_format": data_format}
    unit = dict(value_range=(0, 1), **kw)
    return fk.Sequential([
        fk.Input(shape),
        layers.RandomGrayscale(0.3, seed=1, **kw),
        layers.RandomHue(0.2, **unit),
        layers.RandomSaturation(0.3, **unit),
        layers.RandomColorDegeneration(0.2, **unit),
        layers.RandomSharpness(0.3, **unit),
        layers.RandomShear(0.0, 0.0, **kw),
        layers.RandomPerspective(0.5, 0.2, **kw),
        layers.RandomErasing(0.5, **unit),
        layers.RandomGaussianBlur(0.5, **unit),
        layers.RandomInvert(0.1, **unit),
        layers.RandomPosterization(6, **unit),
        layers.Solarization(0.1, 0.9, **unit),
        # (Keras's AutoContrast reduces over the wrong axes for channels_first)
        *([layers.AutoContrast(**unit)] if data_format == "channels_last" else []),
        layers.RandomElasticTransform(0.5, 0.3, **unit),
        layers.MixUp(seed=2, **kw),
        layers.CutMix(**kw),
        layers.RandAugment(num_ops=2, factor=0.3, seed=3, **unit),
        layers.AugMix(num_chains=2, chain_depth=2, **unit),
        layers.Pipeline([layers.RandomFlip(**kw), layers.RandomShear((0.0, 0.1), **kw)]),
        layers.Conv2D(2, 3, activation="relu", **kw),
        layers.GlobalAveragePooling2D(data_format=data_format),
        layers.Dense(1, activation="sigmoid"),
    ])


@pytest.mark.parametrize("data_format", FORMATS)
def test_sequential_model_trains_and_round_trips_both_ways(data_format, tmp_path, rng):
    x = rng.uniform(0, 1, (8, 12, 12, 3)).astype(np.float32)
    if data_format == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    y = rng.integers(0, 2, (8, 1)).astype(np.float32)
    model = _augmenting_model(data_format)
    assert model.output_shape == (None, 1)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    check_keras_file_both_ways(model, x, tmp_path, keras_rtol=1e-4, keras_atol=1e-4)


def test_models_keras_cannot_build_still_round_trip_in_fastkeras(tmp_path, rng):
    # Keras's Equalization returns its input KerasTensor as its output (a graph cycle), and
    # Keras rebuilds no RandomShear with a non-zero factor from its config; Keras cannot
    # build RandomColorJitter on channels_first images with saturation or hue.
    x = rng.uniform(0, 1, (6, 3, 10, 10)).astype(np.float32)
    model = fk.Sequential([
        fk.Input((3, 10, 10)),
        fk.layers.Equalization(value_range=(0, 1), data_format="channels_first"),
        fk.layers.RandomShear(0.3, 0.2, data_format="channels_first"),
        fk.layers.RandomColorJitter((0, 1), 0.1, 0.2, 0.3, 0.1, data_format="channels_first"),
        fk.layers.Flatten(), fk.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, rng.standard_normal((6, 2)).astype(np.float32), epochs=1, verbose=0)
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    again = fk.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    assert _json(again.layers[2].get_config()) == _json(model.layers[2].get_config())


def test_pipeline_with_weighted_layers_files_both_ways(tmp_path, rng):
    """A Pipeline's layers are stored under <pipeline>/layers, as Keras stores them."""
    from keras_files import check_keras_file_both_ways
    model = fk.Sequential([fk.Input((4,)), fk.layers.Pipeline([fk.layers.Dense(3),
                                                               fk.layers.Dense(2)])])
    check_keras_file_both_ways(model, rng.normal(size=(3, 4)).astype(np.float32), tmp_path)
