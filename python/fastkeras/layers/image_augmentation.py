"""Colour and intensity augmentation layers, as in Keras 3: RandomGrayscale, RandomHue,
RandomSaturation, RandomColorDegeneration, RandomColorJitter, RandomSharpness, RandomInvert,
RandomPosterization, RandomGaussianBlur and Solarization (random, applied while training),
and AutoContrast (always applied) and Equalization (applied while training, no randomness).

Images are 3-D (one image) or 4-D (a batch), channels_last or channels_first. Each layer
draws its random parameters with numpy (from `seed`, or from fastkeras's global generator),
in the same ranges and with the same per-image / per-batch structure as Keras 3; the draws
are kept in Keras's transformation format, so that a drawn transformation applies exactly as
Keras applies it. The layers also take a dict {"images": ..., "labels": ...}: labels pass
through, except for MixUp and CutMix, which mix them as they mix the images.
"""

from __future__ import annotations

import numpy as np

from fastkeras import ops
from fastkeras.backend.tape import Tensor, convert_to_tensor
from fastkeras.layers.image_preprocessing import (
    RandomBrightness,
    RandomContrast,
    _is_number,
    _RandomImageLayer,
    _uniform,
)
from fastkeras.ops import image as ops_image

_EPSILON = 1e-7  # Keras's backend epsilon


# --- argument checks ----------------------------------------------------------------------

def _factor_range(factor, arg, layer, bounds):
    """A factor as Keras's image layers read it: a number f within bounds gives the range
    [max(-|f|, low), |f|]; two numbers overlapping bounds give their sorted range."""
    low, high = bounds
    message = (f"{layer}: the `{arg}` argument should be a number (or a list of two numbers) "
               f"in the range [{low}, {high}]. Received: {arg}={factor!r}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(_is_number(v) for v in factor) or \
                factor[0] > high or factor[1] < low:
            raise ValueError(message)
        return tuple(sorted(factor))
    if not _is_number(factor) or factor < low or factor > high:
        raise ValueError(message)
    factor = abs(factor)
    return max(-factor, low), factor


def _unit_range(factor, arg, layer):
    """Solarization's factors: a number f in [0, 1] (the range [0, f]) or two numbers in
    [0, 1] (sorted)."""
    message = (f"{layer}: the `{arg}` argument should be a number (or a list of two numbers) "
               f"in the range [0, 1]. Received: {arg}={factor!r}")
    values = factor if isinstance(factor, (tuple, list)) else [factor]
    if len(values) not in (1, 2) or isinstance(factor, (tuple, list)) and len(values) != 2 or \
            not all(_is_number(v) and 0 <= v <= 1 for v in values):
        raise ValueError(message)
    return tuple(sorted(factor)) if isinstance(factor, (tuple, list)) else (0, factor)


def _value_range(value_range, layer, sort=True):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or \
            not all(_is_number(v) for v in value_range):
        raise ValueError(f"{layer}: the `value_range` argument should be a list of two "
                         f"numbers. Received: value_range={value_range!r}")
    return sorted(value_range) if sort else value_range


# --- shared pieces ------------------------------------------------------------------------

def _rescale(x, source, target, dtype):
    """x mapped linearly from the value range `source` to `target` (computed in dtype), as
    Keras's _transform_value_range; unchanged when the ranges are equal."""
    if source[0] == target[0] and source[1] == target[1]:
        return x
    x = ops.cast(x, dtype)
    t = np.dtype(dtype).type
    smin, smax, tmin, tmax = (t(v) for v in (source[0], source[1], target[0], target[1]))
    x = ops.divide(ops.subtract(x, smin), smax - smin)
    return ops.add(ops.multiply(x, tmax - tmin), tmin)


def _bernoulli(gen, factor, n):
    """Keras's per-image "apply" flags: a probability drawn from the factor range, then
    applied where a second uniform draw falls below it."""
    probability = _uniform(gen, factor[0], factor[1], (n,))
    return gen.random((n,), dtype=np.float32) < probability


def _per_image(flags):
    return np.asarray(flags, bool).reshape(-1, 1, 1, 1)


def _channel_axis(data_format):
    return 1 if data_format == "channels_first" else 3


class _Augment(_RandomImageLayer):
    """The base of this module's layers: `_draw(gen, shape)` gives a batch's random
    transformation (None for layers without randomness) in Keras's format, `_apply` applies
    it to a 4-D batch; `_apply_labels` transforms the labels of dict inputs."""

    _cast_at_inference = False  # whether inference output is in the layer's dtype
    _always = False  # applied at inference too
    _config_seed = True  # whether the config holds the seed, as in Keras

    def call(self, inputs, training=None):
        data = inputs if isinstance(inputs, dict) else None
        x = self._image(data["images"] if data is not None else inputs, data)
        if training is None:
            training = True
        if not training and not self._always:
            out = self._floating(x) if self._cast_at_inference else x
            return out if data is None else {**data, "images": out}
        batch = x if x.ndim == 4 else ops.expand_dims(x, 0)
        transformation = self._draw(self._generator(), batch.shape)
        out = self._apply(batch, transformation)
        out = out if x.ndim == 4 else ops.squeeze(out, 0)
        if data is None:
            return out
        result = {**data, "images": out}
        if "labels" in data:
            labels = data["labels"]
            labels = labels if isinstance(labels, Tensor) else convert_to_tensor(labels)
            if x.ndim == 3:
                labels = ops.squeeze(self._apply_labels(ops.expand_dims(labels, 0),
                                                        transformation), 0)
            else:
                labels = self._apply_labels(labels, transformation)
            result["labels"] = labels
        return result

    def _image(self, inputs, data=None):
        if data is not None:
            unknown = sorted(set(data) - {"images", "labels"})
            if "images" not in data or unknown:
                raise ValueError(f"{type(self).__name__} takes images, or a dict with the keys "
                                 "'images' and (optionally) 'labels'; bounding boxes and "
                                 "segmentation masks are not supported. Received a dict with "
                                 f"keys {sorted(data)}")
        return super()._image(inputs)

    def _draw(self, gen, shape):
        return None

    def _apply_labels(self, labels, transformation):
        return labels

    def _compute(self, images):
        """Images in the layer's (float) dtype."""
        return self._floating(images)

    def get_config(self):
        config = super().get_config()
        if not self._config_seed:
            config.pop("seed", None)
        return config


# --- colour layers ------------------------------------------------------------------------

class RandomGrayscale(_Augment):
    """While training, turns each image to grayscale (luma 0.2989 R + 0.587 G + 0.114 B,
    repeated over the three channels) with probability `factor` (in [0, 1], default 0.5).
    The images keep their dtype; at inference they pass through unchanged."""

    _config_seed = False

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not _is_number(factor) or factor < 0 or factor > 1:
            raise ValueError("RandomGrayscale: `factor` should be a number between 0 and 1. "
                             f"Received: factor={factor!r}")
        self.factor = factor

    def _draw(self, gen, shape):
        return _per_image(gen.random((shape[0],), dtype=np.float32) < self.factor)

    def _apply(self, images, transformation):
        gray = ops_image.rgb_to_grayscale(images, data_format=self.data_format)
        gray = ops.broadcast_to(gray, images.shape)
        if images.dtype.kind != "f":  # integer images keep their dtype
            return Tensor(np.where(_per_image(transformation), gray.value, images.value))
        return ops.where(_per_image(transformation), gray, images)

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config


def _split_channels(x, axis):
    return [ops.take(x, i, axis=axis) for i in range(3)]


class RandomHue(_Augment):
    """While training, shifts the hue of each image by a random amount: a magnitude drawn
    from `factor` (a number f in [0, 1]: the range [0, f], or two numbers) times 0.5, with a
    random sign. `value_range` is the range of the pixel values; the output is in the layer's
    dtype, clipped to it. At inference the input passes through unchanged."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomHue", (0, 1))
        self.value_range = _value_range(value_range, "RandomHue", sort=False)

    def _draw(self, gen, shape):
        n = shape[0]
        invert = np.where(gen.random((n,), dtype=np.float32) > 0.5, np.float32(-1),
                          np.float32(1))
        factor = _uniform(gen, self.factor[0], self.factor[1], (n,))
        return {"factor": (invert * factor * np.float32(0.5)).astype(np.float32)}

    def _apply(self, images, transformation):
        dtype = self.dtype
        x = _rescale(self._compute(images), self.value_range, (0, 1), dtype)
        shift = np.asarray(transformation["factor"]).astype(dtype).reshape(-1, 1, 1)
        axis = _channel_axis(self.data_format)
        hue, saturation, value = _split_channels(
            ops_image.rgb_to_hsv(x, data_format=self.data_format), axis)
        hue = ops.add(hue, shift)
        hue = ops.where(hue.value > 1.0, ops.subtract(hue, np.asarray(1, dtype)), hue)
        hue = ops.where(hue.value < 0.0, ops.add(hue, np.asarray(1, dtype)), hue)
        x = ops_image.hsv_to_rgb(ops.stack([hue, saturation, value], axis=axis),
                                 data_format=self.data_format)
        x = ops.clip(x, 0, 1)
        return ops.cast(_rescale(x, (0, 1), self.value_range, dtype), dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


class RandomSaturation(_Augment):
    """While training, scales the saturation of each image by f / (1 - f) for f drawn from
    `factor` (a number f in [-1, 1]: the range [-|f|, |f|], or two numbers): 0.5 keeps the
    image, 0 makes it grayscale, 1 fully saturated. The scaled saturation is clipped to
    `value_range`, as in Keras. Integer images are converted to the layer's dtype (Keras
    rejects them); at inference the input passes through unchanged."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomSaturation", (-1, 1))
        self.value_range = _value_range(value_range, "RandomSaturation")

    def _draw(self, gen, shape):
        factor = _uniform(gen, self.factor[0], self.factor[1], (shape[0],))
        return {"factor": factor / (np.float32(1) - factor + np.float32(_EPSILON))}

    def _apply(self, images, transformation):
        dtype = self.dtype
        scale = np.asarray(transformation["factor"]).astype(dtype).reshape(-1, 1, 1)
        axis = _channel_axis(self.data_format)
        hue, saturation, value = _split_channels(
            ops_image.rgb_to_hsv(self._compute(images), data_format=self.data_format), axis)
        saturation = ops.clip(ops.multiply(saturation, scale), self.value_range[0],
                              self.value_range[1])
        return ops_image.hsv_to_rgb(ops.stack([hue, saturation, value], axis=axis),
                                    data_format=self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


class RandomColorDegeneration(_Augment):
    """While training, blends each image towards its grayscale version by a random amount
    drawn from `factor` (a number f in [-1, 1]: the range [-|f|, |f|], or two numbers; 0
    keeps the image, 1 gives grayscale) and clips to `value_range`. Output in the layer's
    dtype; at inference the input passes through unchanged."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomColorDegeneration", (-1, 1))
        self.value_range = _value_range(value_range, "RandomColorDegeneration")

    def _draw(self, gen, shape):
        return {"factor": _uniform(gen, self.factor[0], self.factor[1], (shape[0], 1, 1, 1))}

    def _apply(self, images, transformation):
        x = self._compute(images)
        factor = np.asarray(transformation["factor"]).astype(self.dtype).reshape(-1, 1, 1, 1)
        gray = ops_image.rgb_to_grayscale(x, data_format=self.data_format)
        x = ops.add(x, ops.multiply(factor, ops.subtract(gray, x)))
        return ops.clip(x, self.value_range[0], self.value_range[1])

    def compute_output_shape(self, input_shape):
        if len(input_shape) not in (3, 4):
            raise ValueError("RandomColorDegeneration: expected rank 3 (single image) or 4 "
                             f"(batch of images). Received: input_shape={input_shape}")
        channels = input_shape[-1 if self.data_format == "channels_last" else -3]
        if channels is not None and channels != 3:
            raise ValueError("RandomColorDegeneration: images must have 3 channels. "
                             f"Received: input_shape={input_shape}")
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


class RandomColorJitter(_Augment):
    """While training, applies in turn a random brightness, contrast, saturation and hue
    change (each only if its factor is given; the factors as for RandomBrightness,
    RandomContrast, RandomSaturation and RandomHue, all with `value_range`). Output in the
    layer's dtype; at inference the input passes through unchanged."""

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None,
                 saturation_factor=None, hue_factor=None, seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = value_range
        self.brightness_factor = brightness_factor
        self.contrast_factor = contrast_factor
        self.saturation_factor = saturation_factor
        self.hue_factor = hue_factor
        common = dict(value_range=value_range, seed=seed, data_format=self.data_format,
                      dtype=self.dtype)
        steps = []
        if brightness_factor is not None:
            steps.append(RandomBrightness(brightness_factor, **common))
        if contrast_factor is not None:
            steps.append(RandomContrast(contrast_factor, **common))
        if saturation_factor is not None:
            steps.append(RandomSaturation(saturation_factor, **common))
        if hue_factor is not None:
            steps.append(RandomHue(hue_factor, **common))
        self._steps = steps

    def _draw(self, gen, shape):
        return [step._draw(gen, shape) for step in self._steps]

    def _apply(self, images, transformation):
        x = self._compute(images)
        for step, t in zip(self._steps, transformation):
            x = step._apply(x, t)
        return self._compute(x)

    def get_config(self):
        config = super().get_config()
        config.update({"value_range": self.value_range,
                       "brightness_factor": self.brightness_factor,
                       "contrast_factor": self.contrast_factor,
                       "saturation_factor": self.saturation_factor,
                       "hue_factor": self.hue_factor, "seed": self.seed})
        return config


class RandomSharpness(_Augment):
    """While training, changes the sharpness of each image: blends it with a smoothed copy
    (3x3 kernel, zero-padded) by 1 - 2 f, for f drawn from `factor` (a number f in [0, 1]:
    the range [0, f], or two numbers; 0.5 keeps the image, 0 blurs, 1 sharpens), then clips
    to `value_range`. Output in the layer's dtype (at inference too, as in Keras)."""

    _cast_at_inference = True

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomSharpness", (0, 1))
        self.value_range = _value_range(value_range, "RandomSharpness")

    def _draw(self, gen, shape):
        return {"factor": _uniform(gen, self.factor[0], self.factor[1], (shape[0],))}

    def _apply(self, images, transformation):
        from fastkeras.ops.image import _depthwise

        x = self._compute(images)
        dtype = np.dtype(self.dtype)
        sharpness = (np.asarray(transformation["factor"]) * 2).astype(dtype).reshape(-1, 1, 1, 1)
        a, b = 1.0 / 13.0, 5.0 / 13.0
        kernel = np.array([[a, a, a], [a, b, a], [a, a, a]], dtype)
        smoothed = _depthwise(x, kernel, 1, self.data_format)
        x = ops.add(x, ops.multiply(dtype.type(1) - sharpness, ops.subtract(smoothed, x)))
        return ops.clip(x, self.value_range[0], self.value_range[1])

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


class RandomInvert(_Augment):
    """While training, inverts images (value_range[1] - x): each image with a probability
    drawn from `factor` (a number f in [0, 1]: the range [0, f], so the default 1.0 inverts
    half the images on average; (1, 1) inverts all). Output in the layer's dtype; at
    inference the input passes through unchanged."""

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomInvert", (0, 1))
        self.value_range = _value_range(value_range, "RandomInvert", sort=False)

    def _draw(self, gen, shape):
        return {"apply_inversion": _bernoulli(gen, self.factor, shape[0])}

    def _apply(self, images, transformation):
        x = self._compute(images)
        inverted = ops.subtract(np.asarray(self.value_range[1], x.dtype), x)
        return ops.where(_per_image(transformation["apply_inversion"]), inverted, x)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


class RandomPosterization(_Augment):
    """While training, keeps only the top b bits of each 8-bit colour value (the images
    mapped from `value_range` to [0, 255] and back), b drawn per image from `factor`: a
    number f in [1, 8] (integers 1 .. f - 1, or f when f is 1) or two numbers (a range, the
    upper end excluded unless both are equal). Output in the layer's dtype; at inference the
    input passes through unchanged."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomPosterization", (1, 8))
        self.value_range = _value_range(value_range, "RandomPosterization")

    def _draw(self, gen, shape):
        n = shape[0]
        low, high = self.factor
        if low != high:
            bits = gen.integers(int(low), int(high), (n,)).astype(np.uint8)
        else:
            bits = np.full((n,), low).astype(np.uint8)
        return {"shift_factor": (np.uint8(8) - bits).astype(np.uint8)}

    def _apply(self, images, transformation):
        dtype = self.dtype
        shift = np.asarray(transformation["shift_factor"]).astype(np.uint8).reshape(-1, 1, 1, 1)
        x = _rescale(self._compute(images), self.value_range, (0, 255), dtype)
        levels = np.clip(np.trunc(np.nan_to_num(x.value)), 0, 255).astype(np.uint8)
        levels = np.left_shift(np.right_shift(levels, shift), shift)
        return _rescale(Tensor(levels.astype(dtype)), (0, 255), self.value_range, dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range,
                       "seed": self.seed})
        return config


class Solarization(_Augment):
    """While training, solarizes images: on the [0, 255] scale (mapped from `value_range`),
    adds a random offset drawn per image from [addition_factor[0], 255 * addition_factor[1]]
    and clips, then inverts (255 - x) every value at or above a threshold drawn per image
    from [threshold_factor[0], 255 * threshold_factor[1]]. Each factor is a number f in
    [0, 1] (the range [0, f]) or two numbers; the defaults (0) invert every value. Output in
    the layer's dtype (at inference too, where the input is otherwise unchanged)."""

    _cast_at_inference = True

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255),
                 seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = _unit_range(addition_factor, "addition_factor", "Solarization")
        self.threshold_factor = _unit_range(threshold_factor, "threshold_factor",
                                            "Solarization")
        self.value_range = _value_range(value_range, "Solarization")

    def _draw(self, gen, shape):
        size = (shape[0], 1, 1, 1)
        return {"additions": _uniform(gen, self.addition_factor[0],
                                      self.addition_factor[1] * 255, size),
                "thresholds": _uniform(gen, self.threshold_factor[0],
                                       self.threshold_factor[1] * 255, size)}

    def _apply(self, images, transformation):
        dtype = np.dtype(self.dtype)
        x = _rescale(self._compute(images), self.value_range, (0, 255), dtype)
        additions = np.asarray(transformation["additions"]).astype(dtype).reshape(-1, 1, 1, 1)
        thresholds = np.asarray(transformation["thresholds"]).astype(dtype)
        x = ops.clip(ops.add(x, additions), 0, 255)
        x = ops.where(x.value < thresholds.reshape(-1, 1, 1, 1), x,
                      ops.subtract(dtype.type(255), x))
        return ops.cast(_rescale(x, (0, 255), self.value_range, dtype), dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"value_range": self.value_range,
                       "addition_factor": self.addition_factor,
                       "threshold_factor": self.threshold_factor, "seed": self.seed})
        return config


class AutoContrast(_Augment):
    """Stretches each channel of each image so that its smallest value maps to
    value_range[0] and its largest to value_range[1] (constant channels are kept).
    Applied always, at inference too; output in the layer's dtype."""

    _always = True
    _config_seed = False

    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(**kwargs)
        self.value_range = _value_range(value_range, "AutoContrast")

    def _apply(self, images, transformation=None):
        dtype = np.dtype(self.dtype)
        x = ops.cast(_rescale(self._compute(images), self.value_range, (0, 255), dtype), dtype)
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        low = ops.min(x, axis=axes, keepdims=True)
        high = ops.max(x, axis=axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = ops.divide(dtype.type(255), ops.subtract(high, low))
            offset = ops.multiply(ops.negative(low), scale)
            x = ops.clip(ops.add(ops.multiply(x, scale), offset), 0, 255)
            out = _rescale(x, (0, 255), self.value_range, dtype)
        original = self._compute(images)
        return ops.cast(ops.where(np.isnan(out.value), original, out), dtype)

    def get_config(self):
        config = super().get_config()
        config["value_range"] = self.value_range
        return config


class Equalization(_Augment):
    """While training, equalizes the histogram of each channel: values (on the [0, 255]
    scale, mapped from `value_range`) are binned into `bins` bins, as in Keras over the whole
    batch, and remapped through the normalised cumulative histogram. Output in the layer's
    dtype; at inference the input passes through unchanged."""

    _config_seed = False

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError("Equalization: `bins` must be a positive integer. Received: "
                             f"bins={bins!r}")
        self.bins = bins
        self.value_range = _value_range(value_range, "Equalization")

    def _equalize(self, channel):
        f32 = np.float32
        nbins = self.bins
        low, high = self.value_range
        scale = (255 - 0) / (high - low)
        channel = channel * f32(scale) + f32(0 - low * scale)
        scaled = (channel - f32(0)) * f32(nbins - 1) / f32(255)
        indices = np.clip(np.trunc(np.nan_to_num(scaled)), 0, nbins - 1).astype(np.int64)
        hist = np.bincount(indices.reshape(-1), minlength=nbins)
        if np.count_nonzero(hist) > 1:
            cdf = np.cumsum(hist)
            cdf_min = cdf[np.nonzero(cdf)[0][0]]
            denominator = cdf[-1] - cdf_min
            denominator = denominator if denominator != 0 else 1
            lut = ((cdf - cdf_min) * 255).astype(f32) / f32(denominator)
            lut = np.clip(np.round(lut), 0, 255).astype(f32)
            where = np.clip(channel / f32(255) * f32(nbins - 1), 0, nbins - 1)
            channel = lut[np.trunc(np.nan_to_num(where)).astype(np.int64)]
        back = (high - low) / (255 - 0)
        return channel * f32(back) + f32(low - 0 * back)

    def _apply(self, images, transformation=None):
        x = self._compute(images).value
        axis = _channel_axis(self.data_format)
        channels = [self._equalize(np.take(x, i, axis=axis).astype(np.float32))
                    for i in range(x.shape[axis])]
        return Tensor(np.stack(channels, axis=axis).astype(self.dtype))

    def get_config(self):
        config = super().get_config()
        config.update({"bins": self.bins, "value_range": self.value_range})
        return config


def _kernel_size(value, layer):
    message = (f"{layer}: `kernel_size` must be an odd number or a list of two odd numbers. "
               f"Received: kernel_size={value!r}")
    values = list(value) if isinstance(value, (tuple, list)) else [value, value]
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) and
                                   not isinstance(v, bool) and v > 0 and v % 2 == 1
                                   for v in values):
        raise ValueError(message)
    return tuple(values)


class RandomGaussianBlur(_Augment):
    """While training, blurs images with a Gaussian kernel of `kernel_size` (an odd number
    or two) and a (height, width) sigma pair drawn once per batch from `sigma` (a number s
    in [0, 1]: the range [0, s], or two numbers), each image with a probability drawn from
    `factor` (as RandomInvert's); then clips to `value_range`. Output in the layer's dtype
    (at inference too, as in Keras)."""

    _cast_at_inference = True

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255),
                 data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomGaussianBlur", (0, 1))
        self.kernel_size = _kernel_size(kernel_size, "RandomGaussianBlur")
        self.sigma = _factor_range(sigma, "sigma", "RandomGaussianBlur", (0, 1))
        self.value_range = _value_range(value_range, "RandomGaussianBlur", sort=False)

    def _draw(self, gen, shape):
        apply = _bernoulli(gen, self.factor, shape[0])
        sigma = _uniform(gen, self.sigma[0], self.sigma[1], (2,)) + np.float32(1e-6)
        return {"should_apply_blur": apply, "blur_factor": sigma.astype(np.float32)}

    def _apply(self, images, transformation):
        x = self._compute(images)
        sigma = [float(s) for s in np.asarray(transformation["blur_factor"]).reshape(2)]
        blurred = ops_image.gaussian_blur(x, kernel_size=self.kernel_size, sigma=sigma,
                                          data_format=self.data_format)
        x = ops.where(_per_image(transformation["should_apply_blur"]), blurred, x)
        return self._compute(ops.clip(x, self.value_range[0], self.value_range[1]))

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "kernel_size": self.kernel_size,
                       "sigma": self.sigma, "value_range": self.value_range,
                       "seed": self.seed})
        return config
