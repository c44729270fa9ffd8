"""Geometric, mixing and composite augmentation layers, as in Keras 3: RandomShear,
RandomPerspective, RandomElasticTransform, RandomErasing, MixUp, CutMix, RandAugment and
AugMix (random, applied while training), and Pipeline (a layer applying a list of layers in
order). Conventions as in image_augmentation.py.
"""

from __future__ import annotations

import numpy as np

from fastkeras import ops
from fastkeras.backend.tape import Tensor
from fastkeras.layers.image_augmentation import (
    AutoContrast,
    Equalization,
    RandomColorDegeneration,
    RandomPosterization,
    RandomSharpness,
    Solarization,
    _Augment,
    _bernoulli,
    _factor_range,
    _per_image,
)
from fastkeras.layers.image_preprocessing import (
    RandomBrightness,
    RandomContrast,
    RandomRotation,
    RandomTranslation,
    _affine_sample,
    _check_choice,
    _is_number,
    _uniform,
)
from fastkeras.layers.layer import Layer
from fastkeras.ops import image as ops_image

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_ELASTIC_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
_INTERPOLATIONS = ("nearest", "bilinear")


def _signed_unit_range(factor, arg, layer):
    """RandomShear's factors: a number f in [0, 1] (the range [-f, f]) or two numbers
    (sorted). Keras takes pairs within [0, 1] only, and so cannot rebuild a layer from the
    (-f, f) its config holds; pairs within [-1, 1] are accepted here."""
    message = (f"{layer}: the `{arg}` argument should be a number in the range [0, 1.0] (or a "
               f"list of two numbers in [-1.0, 1.0]). Received: {arg}={factor!r}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(_is_number(v) and -1 <= v <= 1 for v in factor):
            raise ValueError(message)
        return tuple(sorted(factor))
    if not _is_number(factor) or not 0 <= factor <= 1:
        raise ValueError(message)
    factor = abs(factor)
    return -factor, factor


def _mask(shape, data_format, x0, x1, y0, y1):
    """(batch, ...) boolean masks of the boxes x0 <= column < x1, y0 <= row < y1, repeated
    over the channels (Keras's batch masks)."""
    channels_first = data_format == "channels_first"
    height, width = (shape[-2], shape[-1]) if channels_first else (shape[-3], shape[-2])
    channels = shape[-3] if channels_first else shape[-1]
    rows, cols = np.meshgrid(np.arange(height, dtype=np.float32),
                             np.arange(width, dtype=np.float32), indexing="ij")
    rows = rows[None, None] if channels_first else rows[None, :, :, None]
    cols = cols[None, None] if channels_first else cols[None, :, :, None]
    x0, x1, y0, y1 = (np.asarray(v, np.float32).reshape(-1, 1, 1, 1) for v in (x0, x1, y0, y1))
    mask = (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)
    return np.repeat(mask, channels, axis=1 if channels_first else 3)


def _crop_bounds(gen, n, length, ratio):
    crop = (np.asarray(ratio, np.float32) * np.float32(length)).astype(np.float32)
    start = gen.random((n,), dtype=np.float32) * (np.float32(length) - crop)
    return start, start + crop


def _beta(gen, alpha, n):
    """n float32 draws from Beta(alpha, alpha); for a vanishing alpha, where numpy's sampler
    gives no number, the limit (0 or 1 with equal odds)."""
    draws = gen.beta(alpha, alpha, n)
    bad = ~np.isfinite(draws)
    if bad.any():
        draws[bad] = gen.random(int(bad.sum())) < 0.5
    return draws.astype(np.float32)


def _spatial_size(layer, shape):
    return (shape[-2], shape[-1]) if layer.data_format == "channels_first" else \
        (shape[-3], shape[-2])


# --- geometric layers ---------------------------------------------------------------------

class RandomShear(_Augment):
    """While training, shears each image: output pixel (x, y) reads the input at
    (x + sx y, sy x + y), sx and sy drawn per image from `x_factor` and `y_factor` (each a
    number f in [0, 1]: the range [-f, f], or two numbers in [0, 1]), both negated together
    for a random half of the images. fill_mode ("reflect", "wrap", "constant", "nearest"),
    fill_value and interpolation ("bilinear", "nearest") as for RandomRotation. Output in the
    layer's dtype (at inference too, as in Keras)."""

    _cast_at_inference = True

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear",
                 fill_mode="reflect", fill_value=0.0, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.x_factor = _signed_unit_range(x_factor, "x_factor", "RandomShear")
        self.y_factor = _signed_unit_range(y_factor, "y_factor", "RandomShear")
        self.fill_mode = _check_choice(fill_mode, _FILL_MODES, "fill_mode", "RandomShear",
                                       NotImplementedError)
        self.interpolation = _check_choice(interpolation, _INTERPOLATIONS, "interpolation",
                                           "RandomShear", NotImplementedError)
        self.fill_value = fill_value

    def _draw(self, gen, shape):
        n = shape[0]
        invert = np.where(gen.random((n, 1), dtype=np.float32) > 0.5, np.float32(-1),
                          np.float32(1))
        shear_y = _uniform(gen, self.y_factor[0], self.y_factor[1], (n, 1))
        shear_x = _uniform(gen, self.x_factor[0], self.x_factor[1], (n, 1))
        return {"shear_factor": (np.concatenate([shear_x, shear_y], axis=1) * invert)
                .astype(np.float32), "input_shape": tuple(shape)}

    def _apply(self, images, transformation):
        shear = np.asarray(transformation["shear_factor"], np.float32)
        one, zero = np.ones(len(shear), np.float32), np.zeros(len(shear), np.float32)
        matrices = np.stack([one, shear[:, 0], zero, shear[:, 1], one, zero, zero, zero], 1)
        return _affine_sample(self._compute(images), matrices, self.interpolation,
                              self.fill_mode, self.fill_value, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"x_factor": self.x_factor, "y_factor": self.y_factor,
                       "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                       "seed": self.seed, "fill_value": self.fill_value,
                       "data_format": self.data_format})
        return config


class RandomPerspective(_Augment):
    """While training, warps images by a random perspective: the image corners (x, y) move
    to (x, y) * (1 + d), each d drawn from [-scale / 2, scale / 2] (`scale` in [0, 1]), each
    image with a probability drawn from `factor` (a number f in [0, 1]: the range [0, f], or
    two numbers). Points read from outside the image take `fill_value`; `interpolation` is
    "bilinear" or "nearest". Output in the layer's dtype (at inference too, as in Keras)."""

    _cast_at_inference = True

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0,
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomPerspective", (0, 1))
        if not _is_number(scale) or scale < 0.0 or scale > 1.0:
            raise ValueError("RandomPerspective: the `scale` argument should be a number in "
                             f"the range [0, 1]. Received: scale={scale!r}")
        self.scale = scale
        self.fill_value = fill_value
        self.interpolation = _check_choice(interpolation, _INTERPOLATIONS, "interpolation",
                                           "RandomPerspective", NotImplementedError)

    def _draw(self, gen, shape):
        n = shape[0]
        height, width = _spatial_size(self, shape)
        apply = _bernoulli(gen, self.factor, n)
        half = 0.5 * self.scale
        distortion = _uniform(gen, -half, half, (n, 4, 2))
        start = np.array([[[0.0, 0.0], [width - 1, 0.0], [0.0, height - 1],
                           [width - 1, height - 1]]], np.float32).repeat(n, axis=0)
        return {"apply_perspective": apply, "start_points": start,
                "end_points": (start + start * distortion).astype(np.float32),
                "input_shape": tuple(shape)}

    def _apply(self, images, transformation):
        x = self._compute(images)
        warped = ops_image.perspective_transform(
            x, np.asarray(transformation["start_points"]),
            np.asarray(transformation["end_points"]), interpolation=self.interpolation,
            fill_value=self.fill_value, data_format=self.data_format)
        return ops.where(_per_image(transformation["apply_perspective"]), warped, x)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "scale": self.scale,
                       "interpolation": self.interpolation, "fill_value": self.fill_value,
                       "seed": self.seed})
        return config


class RandomElasticTransform(_Augment):
    """While training, distorts images by a smooth random displacement field (Gaussian-
    blurred normal noise): with d drawn once per batch from `scale` (a number s in [0, 1]:
    the range [0, s], or two numbers), the field has standard deviation
    0.05 d min(height, width) for its blur and strength 0.1 d max(height, width). Each image
    is distorted with a probability drawn from `factor` (as RandomPerspective's), then all
    are clipped to `value_range`. fill_mode ("reflect", "mirror", "wrap", "constant",
    "nearest"), fill_value and interpolation as for the other geometric layers. Output in
    the layer's dtype (at inference too, as in Keras)."""

    _cast_at_inference = True

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        name = "RandomElasticTransform"
        self.factor = _factor_range(factor, "factor", name, (0, 1))
        self.scale = _factor_range(scale, "scale", name, (0, 1))
        self.interpolation = _check_choice(interpolation, _INTERPOLATIONS, "interpolation",
                                           name, NotImplementedError)
        self.fill_mode = _check_choice(fill_mode, _ELASTIC_FILL_MODES, "fill_mode", name,
                                       NotImplementedError)
        self.fill_value = fill_value
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"{name}: the `value_range` argument should be a list of two "
                             f"numbers. Received: value_range={value_range!r}")
        self.value_range = value_range

    def _draw(self, gen, shape):
        if self.scale[1] == 0 or self.factor[1] == 0:
            return None
        apply = _bernoulli(gen, self.factor, shape[0])
        distortion = _uniform(gen, self.scale[0], self.scale[1], ())
        return {"apply_transform": apply, "distortion_factor": np.float32(distortion),
                "seed": int(gen.integers(0, 2**31 - 1))}

    def _apply(self, images, transformation):
        x = self._compute(images)
        if transformation is None:
            return x
        height, width = _spatial_size(self, x.shape)
        factor = float(transformation["distortion_factor"])
        alpha = max(height, width) * (0.1 * factor)
        sigma = min(height, width) * (0.05 * factor)
        warped = ops_image.elastic_transform(
            x, alpha=alpha, sigma=sigma, interpolation=self.interpolation,
            fill_mode=self.fill_mode, fill_value=self.fill_value,
            seed=transformation["seed"], data_format=self.data_format)
        x = ops.where(_per_image(transformation["apply_transform"]), warped, x)
        return self._compute(ops.clip(x, self.value_range[0], self.value_range[1]))

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "scale": self.scale,
                       "interpolation": self.interpolation, "fill_mode": self.fill_mode,
                       "fill_value": self.fill_value, "value_range": self.value_range,
                       "seed": self.seed})
        return config


class RandomErasing(_Augment):
    """While training, erases a random box of each image (with a probability drawn from
    `factor`, as RandomPerspective's): its width and height are sqrt(a) times the image's
    for a and b drawn from `scale` (a number s in [0, 1]: the range [0, s], or two numbers;
    a for the width, b for the height), placed uniformly inside the image. The box is filled
    with `fill_value` (a number, or one per channel), or by default with normal noise times
    value_range[1]; the fill is clipped to `value_range`. Output in the layer's dtype (at
    inference too, as in Keras)."""

    _cast_at_inference = True

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255),
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomErasing", (0, 1))
        self.scale = _factor_range(scale, "scale", "RandomErasing", (0, 1))
        if fill_value is not None and not _is_number(fill_value) and not (
                isinstance(fill_value, (tuple, list)) and len(fill_value) == 3 and
                all(_is_number(v) for v in fill_value)):
            raise ValueError("RandomErasing: the `fill_value` argument should be a number "
                             f"(or a list of three numbers). Received: fill_value="
                             f"{fill_value!r}")
        self.fill_value = fill_value
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError("RandomErasing: the `value_range` argument should be a list of "
                             f"two numbers. Received: value_range={value_range!r}")
        self.value_range = value_range

    def _draw(self, gen, shape):
        n = shape[0]
        height, width = _spatial_size(self, shape)
        size = np.sqrt(_uniform(gen, self.scale[0], self.scale[1], (n, 2)))
        x0, x1 = _crop_bounds(gen, n, width, size[:, 0])
        y0, y1 = _crop_bounds(gen, n, height, size[:, 1])
        masks = _mask(shape, self.data_format, x0, x1, y0, y1)
        apply = _bernoulli(gen, self.factor, n)
        if self.fill_value is None:
            fill = gen.standard_normal(shape).astype(np.float32) * \
                np.float32(self.value_range[1])
        elif isinstance(self.fill_value, (tuple, list)):
            per_channel = np.asarray(self.fill_value, np.float32)
            per_channel = per_channel.reshape(-1, 1, 1) if \
                self.data_format == "channels_first" else per_channel
            fill = np.broadcast_to(per_channel, shape).astype(np.float32)
        else:
            fill = np.full(shape, self.fill_value, np.float32)
        fill = np.clip(fill, self.value_range[0], self.value_range[1])
        return {"apply_erasing": apply, "batch_masks": masks, "fill_value": fill}

    def _apply(self, images, transformation):
        x = self._compute(images)
        fill = np.asarray(transformation["fill_value"]).astype(x.dtype)
        erased = ops.where(np.asarray(transformation["batch_masks"]), fill, x)
        return ops.where(_per_image(transformation["apply_erasing"]), erased, x)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "scale": self.scale,
                       "fill_value": self.fill_value, "value_range": self.value_range,
                       "seed": self.seed})
        return config


# --- mixing layers ------------------------------------------------------------------------

def _mix(a, b, weight):
    weight = np.asarray(weight).astype(a.dtype)
    return ops.add(ops.multiply(weight, a), ops.multiply(weight.dtype.type(1) - weight, b))


class MixUp(_Augment):
    """While training, mixes each image with another of the batch (a random permutation):
    w x + (1 - w) x[perm], w drawn per image from Beta(alpha, alpha). Given a dict
    {"images", "labels"}, the labels are mixed with the same weights. Output in the layer's
    dtype; at inference the input passes through unchanged."""

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not _is_number(alpha) or alpha <= 0:
            raise ValueError("MixUp: `alpha` must be a positive number. Received: "
                             f"alpha={alpha!r}")
        self.alpha = alpha

    def _draw(self, gen, shape):
        n = shape[0]
        return {"permutation_order": gen.permutation(n).astype(np.int64),
                "mix_weight": _beta(gen, self.alpha, n)}

    def _apply(self, images, transformation):
        x = self._compute(images)
        order = np.asarray(transformation["permutation_order"])
        weight = np.asarray(transformation["mix_weight"]).reshape(-1, 1, 1, 1)
        return _mix(x, ops.take(x, order, axis=0), weight)

    def _apply_labels(self, labels, transformation):
        labels = labels if labels.dtype.kind == "f" else ops.cast(labels, self.dtype)
        order = np.asarray(transformation["permutation_order"])
        weight = np.asarray(transformation["mix_weight"]).reshape(-1, 1)
        return _mix(labels, ops.take(labels, order, axis=0), weight)

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha, "seed": self.seed})
        return config


class CutMix(_Augment):
    """While training, pastes into each image a box cut from another image of the batch (a
    random permutation). With a drawn once per batch from `factor` (a number f in [0, 1]:
    the range [0, f], or two numbers) and w drawn per image from Beta(a, a), the box's sides
    are sqrt(1 - w) times the image's, placed uniformly inside it. Given a dict
    {"images", "labels"}, the labels are mixed by the area kept. A single image is returned
    unchanged. Output in the layer's dtype (at inference too, as in Keras)."""

    _cast_at_inference = True

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "CutMix", (0, 1))
        self._single = False

    def call(self, inputs, training=None):
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        self._single = np.ndim(images) == 3
        try:
            return super().call(inputs, training=training)
        finally:
            self._single = False

    def _draw(self, gen, shape):
        if self._single:
            return None
        n = shape[0]
        height, width = _spatial_size(self, shape)
        alpha = float(_uniform(gen, self.factor[0], self.factor[1], ())) + 1e-6
        weight = _beta(gen, alpha, n)
        ratio = np.sqrt(np.float32(1) - weight)
        x0, x1 = _crop_bounds(gen, n, width, ratio)
        y0, y1 = _crop_bounds(gen, n, height, ratio)
        masks = _mask(shape, self.data_format, x0, x1, y0, y1)
        kept = np.float32(1) - (x1 - x0) * (y1 - y0) / np.float32(width * height)
        return {"permutation_order": gen.permutation(n).astype(np.int32),
                "batch_masks": masks, "mix_weight": kept.astype(np.float32)}

    def _apply(self, images, transformation):
        x = self._compute(images)
        if transformation is None:
            return x
        order = np.asarray(transformation["permutation_order"])
        return ops.where(np.asarray(transformation["batch_masks"]),
                         ops.take(x, order, axis=0), x)

    def _apply_labels(self, labels, transformation):
        if transformation is None:
            return labels
        labels = labels if labels.dtype.kind == "f" else ops.cast(labels, self.dtype)
        order = np.asarray(transformation["permutation_order"])
        weight = np.asarray(transformation["mix_weight"]).reshape(-1, 1)
        return _mix(labels, ops.take(labels, order, axis=0), weight)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "seed": self.seed})
        return config


# --- composite layers ---------------------------------------------------------------------

def _augmenters(layer, factor, value_range, interpolation, names):
    """The augmentation layers RandAugment and AugMix choose from, by Keras's names."""
    common = dict(seed=layer.seed, data_format=layer.data_format, dtype=layer.dtype)
    colour = dict(value_range=value_range, **common)
    makers = {
        "random_shear": lambda: RandomShear(x_factor=factor, y_factor=factor,
                                            interpolation=interpolation, **common),
        "random_translation": lambda: RandomTranslation(
            height_factor=factor, width_factor=factor, interpolation=interpolation, **common),
        "random_rotation": lambda: RandomRotation(factor=factor, interpolation=interpolation,
                                                  **common),
        "random_brightness": lambda: RandomBrightness(factor=factor, **colour),
        "random_color_degeneration": lambda: RandomColorDegeneration(factor=factor, **colour),
        "random_contrast": lambda: RandomContrast(factor=factor, **colour),
        "random_sharpness": lambda: RandomSharpness(factor=factor, **colour),
        "random_posterization": lambda: RandomPosterization(
            factor=max(1, int(8 * factor[1])), **colour),
        "solarization": lambda: Solarization(addition_factor=factor, threshold_factor=factor,
                                             **colour),
        "auto_contrast": lambda: AutoContrast(value_range=value_range,
                                              data_format=layer.data_format,
                                              dtype=layer.dtype),
        "equalization": lambda: Equalization(value_range=value_range,
                                             data_format=layer.data_format,
                                             dtype=layer.dtype),
    }
    return {name: makers[name]() for name in names}


def _sub_transformation(sub, gen, shape):
    return sub._draw(gen, shape)


def _sub_apply(sub, images, transformation):
    return sub._floating(sub._apply(sub._floating(images), transformation))


def _check_count(value, arg, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{layer}: `{arg}` must be a non-negative integer. Received: "
                         f"{arg}={value!r}")
    return value


def _interpolation(value, layer):
    return _check_choice(value, _INTERPOLATIONS, "interpolation", layer, NotImplementedError)


class RandAugment(_Augment):
    """While training, applies `num_ops` augmentations in turn, each chosen at random (once
    per batch) among shear, translation, rotation, brightness, colour degeneration,
    contrast, sharpness, posterization, solarization, auto-contrast and equalization, all
    with strength `factor` (a number f in [0, 1]: the range [0, f], or two numbers) and
    `value_range`. Output in the layer's dtype (at inference too, as in Keras)."""

    _cast_at_inference = True
    _OPS = ("random_shear", "random_translation", "random_rotation", "random_brightness",
            "random_color_degeneration", "random_contrast", "random_sharpness",
            "random_posterization", "solarization", "auto_contrast", "equalization")

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear",
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = value_range
        self.num_ops = _check_count(num_ops, "num_ops", "RandAugment")
        self.factor = _factor_range(factor, "factor", "RandAugment", (0, 1))
        self.interpolation = _interpolation(interpolation, "RandAugment")
        self._ops = _augmenters(self, self.factor, value_range, interpolation, self._OPS)

    def _draw(self, gen, shape):
        chosen = gen.integers(0, len(self._OPS), (self.num_ops,))
        return {"transforms": {name: _sub_transformation(sub, gen, shape)
                               for name, sub in self._ops.items()},
                "layer_idxes": chosen}

    def _apply(self, images, transformation):
        x = self._compute(images)
        for index in np.asarray(transformation["layer_idxes"]).reshape(-1):
            name = self._OPS[int(index)]
            x = _sub_apply(self._ops[name], x, transformation["transforms"][name])
        return self._compute(x)

    def get_config(self):
        config = super().get_config()
        config.update({"value_range": self.value_range, "num_ops": self.num_ops,
                       "factor": self.factor, "interpolation": self.interpolation,
                       "seed": self.seed})
        return config


class AugMix(_Augment):
    """While training, mixes each batch with `num_chains` augmented copies: each chain
    applies up to `chain_depth` augmentations chosen at random (each step may be skipped)
    among shear, translation, rotation, posterization, solarization, auto-contrast and
    equalization, plus brightness, colour degeneration, contrast and sharpness when
    `all_ops`, all with strength `factor` (a number f in [0, 1]: the range [0, f], or two
    numbers). The chains are averaged with Dirichlet(alpha) weights and the result blended
    with the input by a Beta(alpha, alpha) weight, then clipped to `value_range`. Output in
    the layer's dtype (at inference too, as in Keras)."""

    _cast_at_inference = True
    _ALL_OPS = ("random_shear", "random_translation", "random_rotation",
                "random_posterization", "solarization", "auto_contrast", "equalization",
                "random_brightness", "random_color_degeneration", "random_contrast",
                "random_sharpness")

    def __init__(self, value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3,
                 alpha=1.0, all_ops=True, interpolation="bilinear", seed=None,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = value_range
        self.num_chains = _check_count(num_chains, "num_chains", "AugMix")
        self.chain_depth = _check_count(chain_depth, "chain_depth", "AugMix")
        self.factor = _factor_range(factor, "factor", "AugMix", (0, 1))
        if not _is_number(alpha) or alpha <= 0:
            raise ValueError(f"AugMix: `alpha` must be a positive number. Received: "
                             f"alpha={alpha!r}")
        self.alpha = alpha
        self.all_ops = all_ops
        self.interpolation = _interpolation(interpolation, "AugMix")
        names = self._ALL_OPS if all_ops else self._ALL_OPS[:7]
        self._ops = _augmenters(self, self.factor, value_range, interpolation, names)

    def _draw(self, gen, shape):
        gamma = gen.gamma(self.alpha, size=(self.num_chains,))
        weights = (gamma / gamma.sum()).astype(np.float32) if gamma.sum() > 0 else \
            np.full((self.num_chains,), 1.0 / max(self.num_chains, 1), np.float32)
        names = list(self._ops) + [None]
        chains = []
        for _ in range(self.num_chains):
            steps = []
            for _ in range(self.chain_depth):
                name = names[int(gen.integers(0, len(names)))]
                if name is not None:
                    steps.append({"layer_name": name, "transformation": _sub_transformation(
                        self._ops[name], gen, shape)})
            chains.append(steps)
        return {"chain_mixing_weights": weights,
                "weight_sample": _beta(gen, self.alpha, ())[()],
                "chain_transforms": chains}

    def _apply(self, images, transformation):
        x = self._compute(images)
        dtype = x.dtype
        weights = np.asarray(transformation["chain_mixing_weights"]).astype(dtype)
        sample = np.asarray(transformation["weight_sample"]).astype(dtype)
        mixed = Tensor(np.zeros(x.shape, dtype))
        for weight, chain in zip(weights, transformation["chain_transforms"]):
            copy = x
            for step in chain:
                copy = _sub_apply(self._ops[step["layer_name"]], copy, step["transformation"])
            mixed = ops.add(mixed, ops.multiply(copy, weight))
        x = ops.add(ops.multiply(sample, x), ops.multiply(dtype.type(1) - sample, mixed))
        return self._compute(ops.clip(x, self.value_range[0], self.value_range[1]))

    def get_config(self):
        config = super().get_config()
        config.update({"value_range": self.value_range, "num_chains": self.num_chains,
                       "chain_depth": self.chain_depth, "factor": self.factor,
                       "alpha": self.alpha, "all_ops": self.all_ops,
                       "interpolation": self.interpolation, "seed": self.seed})
        return config


class Pipeline(Layer):
    """Applies `layers` in order (a plain layer, not a model): each gets the previous one's
    output, and the `training` flag (default True, as in Keras) where it takes one."""

    def __init__(self, layers, name=None):
        super().__init__(name=name)
        if not isinstance(layers, (list, tuple)) or not all(isinstance(v, Layer)
                                                            for v in layers):
            raise ValueError("Pipeline: `layers` must be a list of layers. Received: "
                             f"layers={layers!r}")
        self._pipeline_layers = list(layers)
        self._tracked_layers.extend(self._pipeline_layers)  # their weights are the pipeline's

    @property
    def layers(self):
        return self._pipeline_layers

    def call(self, inputs, training=True, mask=None):
        outputs = inputs
        for layer in self._pipeline_layers:
            kwargs = {}
            if layer._call_has_mask:
                kwargs["mask"] = mask
            if layer._call_has_training and training is not None:
                kwargs["training"] = training
            outputs = layer(inputs, **kwargs)
            inputs = outputs
            mask = getattr(outputs, "_keras_mask", None)
        return outputs

    def compute_output_shape(self, input_shape):
        for layer in self._pipeline_layers:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape

    @classmethod
    def from_config(cls, config):
        from fastkeras.saving.serialization import deserialize_layer

        layers = config.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise ValueError("Pipeline: the config must hold a `layers` list of serialized "
                             f"layers. Received: layers={layers!r}")
        config = dict(config)
        config["layers"] = [deserialize_layer(v) if isinstance(v, dict) else v
                            for v in layers]
        return cls(**{k: v for k, v in config.items() if k in ("layers", "name")})

    def get_config(self):
        from fastkeras.saving.serialization import serialize_layer

        return {"layers": [serialize_layer(layer) for layer in self._pipeline_layers],
                "name": self.name}
