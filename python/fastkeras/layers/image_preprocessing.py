"""Image preprocessing and augmentation layers, as in Keras 3: Resizing and CenterCrop
(always applied) and the random augmentations RandomCrop, RandomFlip, RandomRotation,
RandomZoom, RandomTranslation, RandomContrast and RandomBrightness (applied while training;
at inference they return their inputs).

Images are 3-D (one image) or 4-D (a batch), channels_last `(..., height, width, channels)`
or channels_first `(..., channels, height, width)`. Every transform is linear in the pixels
(plus a constant for filled areas and clipping for the colour layers), and records its
gradient with respect to the input image on the tape.

Resampling follows Keras 3 on its PyTorch backend: resizing is half-pixel-centred (bilinear,
bicubic, "nearest-exact" nearest, optional antialiasing), and the affine layers read each
output pixel at an input position given by a per-image 2x3 matrix, sampled with
nearest/bilinear weights and one of four edge modes.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from fastkeras import ops
from fastkeras.backend import random as fk_random
from fastkeras.backend.tape import Tensor, convert_to_tensor, make_op
from fastkeras.layers.input_layer import inferring_shapes
from fastkeras.layers.layer import Layer
from fastkeras.layers.reshaping import standardize_data_format

_RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic")
_AFFINE_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_AFFINE_INTERPOLATIONS = ("nearest", "bilinear")
_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


# --- resampling ---------------------------------------------------------------------------

def _cubic_near(t, a):
    """Keys' cubic convolution kernel for |t| <= 1."""
    return ((a + 2) * t - (a + 3)) * t * t + 1


def _cubic_far(t, a):
    """Keys' cubic convolution kernel for 1 < |t| <= 2."""
    return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a


def _resize_weights(in_size, out_size, interpolation, antialias):
    """The (out_size, in_size) matrix that resizes one axis: output sample i is
    sum_j W[i, j] * input[j], with input pixel j centred at j + 0.5 and the scale in/out."""
    weights = np.zeros((out_size, in_size), np.float64)
    rows = np.arange(out_size)
    scale32 = np.float32(in_size) / np.float32(out_size)
    if interpolation == "nearest":
        # the source pixel whose cell holds the output pixel's centre
        src = np.floor(np.float32((rows + 0.5) * np.float64(scale32)))
        weights[rows, np.minimum(src.astype(np.int64), in_size - 1)] = 1.0
        return weights
    scale = float(scale32)
    if antialias:
        # a kernel stretched by the scale when shrinking, normalised over the pixels it covers
        half = 1.0 if interpolation == "bilinear" else 2.0
        support = half * scale if scale >= 1.0 else half
        inv = 1.0 / scale if scale >= 1.0 else 1.0
        for i in rows:
            centre = scale * (i + 0.5)
            lo = max(int(centre - support + 0.5), 0)
            hi = min(int(centre + support + 0.5), in_size)
            t = np.abs((np.arange(lo, hi) - centre + 0.5) * inv)
            if interpolation == "bilinear":
                w = np.maximum(1.0 - t, 0.0)
            else:
                w = np.where(t < 1.0, _cubic_near(t, -0.5),
                             np.where(t < 2.0, _cubic_far(t, -0.5), 0.0))
            total = w.sum()
            weights[i, lo:hi] = w / total if total != 0 else w
        return weights
    src = scale * (rows + 0.5) - 0.5
    if interpolation == "bilinear":
        src = np.maximum(src, 0.0)
        lo = np.floor(src).astype(np.int64)
        frac = np.clip(src - lo, 0.0, 1.0)
        hi = np.minimum(lo + 1, in_size - 1)
        np.add.at(weights, (rows, lo), 1.0 - frac)
        np.add.at(weights, (rows, hi), frac)
        return weights
    # bicubic: four taps around the source position, indices clamped to the image
    lo = np.floor(src).astype(np.int64)
    t = src - lo
    taps = (_cubic_far(t + 1.0, -0.75), _cubic_near(t, -0.75), _cubic_near(1.0 - t, -0.75),
            _cubic_far(2.0 - t, -0.75))
    for k, w in enumerate(taps):
        np.add.at(weights, (rows, np.clip(lo - 1 + k, 0, in_size - 1)), w)
    return weights


def _separable(x, rows, cols, h_axis, w_axis):
    """rows @ image @ cols.T on the (height, width) plane of every image and channel."""
    value = x.value
    r, c = rows.astype(value.dtype), cols.astype(value.dtype)
    planes = (h_axis, w_axis)

    def apply(v, left, right):
        moved = np.moveaxis(v, planes, (-2, -1))
        return np.ascontiguousarray(np.moveaxis(left @ moved @ right, (-2, -1), planes))

    return make_op(apply(value, r, c.T), (x,), lambda g, needs: (apply(g, r.T, c),))


def _resize(x, size, interpolation, h_axis, w_axis, antialias=False):
    height, width = x.shape[h_axis], x.shape[w_axis]
    if (height, width) == tuple(size):
        return x  # every mode maps an axis onto itself exactly
    return _separable(x, _resize_weights(height, size[0], interpolation, antialias),
                      _resize_weights(width, size[1], interpolation, antialias), h_axis, w_axis)


def _window(x, top, height, left, width, h_axis, w_axis):
    """x[..., top:top+height, left:left+width, ...] on the spatial axes (clipped at the
    image's edge as slicing is)."""
    index = [slice(None)] * x.ndim
    index[h_axis] = slice(top, top + height)
    index[w_axis] = slice(left, left + width)
    index = tuple(index)
    if x.value[index].shape == x.shape:
        return x

    def backward(g, needs):
        full = np.zeros(x.shape, g.dtype)
        full[index] = g
        return (full,)

    return make_op(np.ascontiguousarray(x.value[index]), (x,), backward)


def _pad(x, pad_h, pad_w, fill_value, h_axis, w_axis):
    """Pads pad_h rows above and below and pad_w columns left and right with fill_value."""
    widths = [(0, 0)] * x.ndim
    widths[h_axis], widths[w_axis] = (pad_h, pad_h), (pad_w, pad_w)
    inner = [slice(None)] * x.ndim
    inner[h_axis] = slice(pad_h, pad_h + x.shape[h_axis])
    inner[w_axis] = slice(pad_w, pad_w + x.shape[w_axis])
    inner = tuple(inner)
    out = np.pad(x.value, widths, constant_values=np.asarray(fill_value, x.dtype))
    return make_op(out, (x,), lambda g, needs: (np.ascontiguousarray(g[inner]),))


def _aspect_box(height, width, target_height, target_width):
    """The centred window of the target aspect ratio inside a height x width image:
    (top, left, box_height, box_width)."""
    box_h = max(min(height, int(float(width * target_height) / target_width)), 1)
    box_w = max(min(width, int(float(height * target_width) / target_height)), 1)
    return int(float(height - box_h) / 2), int(float(width - box_w) / 2), box_h, box_w


def _fix_index(index, size, fill_mode):
    """Indices outside [0, size) mapped back inside by the fill mode."""
    if fill_mode == "wrap":
        return np.mod(index, size)
    if fill_mode == "reflect":  # ... c b a | a b c ... (edge pixels repeated)
        period = 2 * size
        folded = np.mod(index, period)
        return np.where(folded < size, folded, period - 1 - folded)
    return np.clip(index, 0, size - 1)


def _taps(coordinate, interpolation):
    """(index, weight) pairs that interpolate at float32 `coordinate`."""
    if interpolation == "nearest":
        return [(np.round(coordinate).astype(np.int64), np.ones_like(coordinate))]
    lower = np.floor(coordinate)
    upper_weight = coordinate - lower
    lower = lower.astype(np.int64)
    return [(lower, 1 - upper_weight), (lower + 1, upper_weight)]


def _affine_sample(x, transforms, interpolation, fill_mode, fill_value, data_format):
    """Resamples each image of the 4-D x: output pixel (row y, column x) of image n reads the
    input at column a0*x + a1*y + a2 and row b0*x + b1*y + b2, where transforms[n] starts
    [a0, a1, a2, b0, b1, b2] (float32). Points outside the image follow fill_mode: "constant"
    reads fill_value there, the others read the pixel that "reflect", "wrap" or "nearest"
    maps them to."""
    channels_first = data_format == "channels_first"
    image = np.transpose(x.value, (0, 2, 3, 1)) if channels_first else x.value
    n, height, width, channels = image.shape
    t = np.asarray(transforms, np.float32).reshape(n, -1)[:, :6, None, None]
    a0, a1, a2, b0, b1, b2 = (t[:, k] for k in range(6))
    rows, cols = np.meshgrid(np.arange(height, dtype=np.float32),
                             np.arange(width, dtype=np.float32), indexing="ij")
    src_rows = rows * b1 + cols * b0 + b2
    src_cols = rows * a1 + cols * a0 + a2
    base = np.arange(n)[:, None, None] * (height * width)
    flat_image = image.reshape(n * height * width, channels)
    dtype = image.dtype
    corners = []  # (flat index, weight on the input pixel, weight on fill_value)
    for ri, rw in _taps(src_rows, interpolation):
        for ci, cw in _taps(src_cols, interpolation):
            weight = rw * cw
            index = base + _fix_index(ri, height, fill_mode) * width + \
                _fix_index(ci, width, fill_mode)
            if fill_mode == "constant":
                inside = (ri >= 0) & (ri < height) & (ci >= 0) & (ci < width)
                corners.append((index, np.where(inside, weight, 0), np.where(inside, 0, weight)))
            else:
                corners.append((index, weight, None))
    out = np.zeros((n, height, width, channels), dtype)
    for index, weight, fill_weight in corners:
        out += weight.astype(dtype)[..., None] * flat_image[index]
        if fill_weight is not None and fill_value != 0:
            out += (fill_weight * np.float32(fill_value)).astype(dtype)[..., None]
    if channels_first:
        out = np.transpose(out, (0, 3, 1, 2))

    def backward(g, needs):
        g = np.transpose(g, (0, 2, 3, 1)) if channels_first else g
        grad = np.zeros((n * height * width, channels), np.float64)
        for index, weight, _ in corners:
            flat = index.ravel()
            for ch in range(channels):
                grad[:, ch] += np.bincount(flat, weights=(weight * g[..., ch]).ravel(),
                                           minlength=n * height * width)
        grad = grad.astype(g.dtype).reshape(n, height, width, channels)
        return (np.ascontiguousarray(np.transpose(grad, (0, 3, 1, 2))) if channels_first
                else grad,)

    return make_op(np.ascontiguousarray(out), (x,), backward)


def _flip_selected(x, flags, axes):
    """Reverses `axes` of the images (axis 0) whose flag is set; its own transpose."""
    flags = np.asarray(flags, bool).reshape(-1)

    def apply(v):
        out = np.array(v, copy=True)
        out[flags] = np.flip(v[flags], axis=axes)
        return out

    return make_op(apply(x.value), (x,), lambda g, needs: (apply(g),))


# --- argument checks ----------------------------------------------------------------------

def _check_size(value, arg, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: `{arg}` must be a positive integer. Received: "
                         f"{arg}={value!r}")
    return int(value)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_choice(value, choices, arg, layer, error=ValueError):
    if value not in choices:
        raise error(f"{layer}: unknown `{arg}` {value!r}. Expected one of {choices}. "
                    f"Received: {arg}={value!r}")
    return value


def _factor_pair(factor, arg, layer, low, high, low_open=False):
    """A zoom/translation factor: a number f (the range [-|f|, |f|]) or two numbers (a
    range, sorted), each within [low, high] ((low, high] with low_open)."""
    def in_range(v):
        return _is_number(v) and (v > low if low_open else v >= low) and v <= high

    bounds = f"{'(' if low_open else '['}{low}, {high}]"
    message = (f"{layer}: the `{arg}` argument should be a number (or a list of two numbers) "
               f"in the range {bounds}. Received: {arg}={factor!r}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(in_range(v) for v in factor):
            raise ValueError(message)
        return tuple(sorted(factor))
    if not in_range(factor):
        raise ValueError(message)
    return -abs(factor), abs(factor)


# --- the layers ---------------------------------------------------------------------------

class _ImageLayer(Layer):
    """Shared by the image layers: data_format, the rank check, casts and configs."""

    def __init__(self, data_format=None, bounding_box_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.bounding_box_format = bounding_box_format
        self._h_axis, self._w_axis = ((-2, -1) if self.data_format == "channels_first"
                                      else (-3, -2))

    def _image(self, inputs):
        """The input as a tensor of rank 3 or 4; floating inputs in the layer's dtype."""
        if isinstance(inputs, dict):
            raise ValueError(f"{type(self).__name__} takes a tensor of images; dict inputs "
                             "(images with bounding boxes, labels or segmentation masks) are "
                             f"not supported. Received a dict with keys {sorted(inputs)}")
        x = inputs if isinstance(inputs, Tensor) else convert_to_tensor(inputs)
        if x.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__}: expected image tensor to have rank 3 "
                             "(single image) or 4 (batch of images). Received: "
                             f"data.shape={tuple(x.shape)}")
        if x.dtype.kind == "f" and x.dtype != np.dtype(self.dtype):
            x = ops.cast(x, self.dtype)
        return x

    def _floating(self, x):
        return x if x.dtype == np.dtype(self.dtype) else ops.cast(x, self.dtype)

    def _spatial(self, shape):
        return shape[self._h_axis], shape[self._w_axis]

    def _with_size(self, input_shape, height, width):
        shape = list(input_shape)
        shape[self._h_axis], shape[self._w_axis] = height, width
        return tuple(shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        if self.bounding_box_format is not None:
            config["bounding_box_format"] = self.bounding_box_format
        return config


class _FixedSize:
    """For layers whose output images are `height` x `width` (Resizing and the crops): the
    output shape and those two config entries."""

    def compute_output_shape(self, input_shape):
        return self._with_size(input_shape, self.height, self.width)

    def get_config(self):
        config = super().get_config()
        config.update({"height": self.height, "width": self.width})
        return config


class Resizing(_FixedSize, _ImageLayer):
    """Resizes images to (height, width).

    Args:
        height, width: the output size.
        interpolation: "bilinear" (default), "nearest" or "bicubic", half-pixel-centred.
        crop_to_aspect_ratio: first crop the largest centred window of the output's aspect
            ratio (no distortion).
        pad_to_aspect_ratio: first pad the short side evenly with `fill_value` to the
            output's aspect ratio.
        fill_mode: how padding is filled; only "constant".
        fill_value: the padding value.
        antialias: widen the filter when shrinking (bilinear and bicubic).
        data_format: "channels_last" (default) or "channels_first".

    Integer images come back in their dtype (rounded); floating ones in the layer's dtype.
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height = _check_size(height, "height", "Resizing")
        self.width = _check_size(width, "width", "Resizing")
        if interpolation in ("lanczos3", "lanczos5"):
            raise ValueError("Resizing: Lanczos interpolation is not supported. Received: "
                             f"interpolation={interpolation!r}")
        self.interpolation = _check_choice(interpolation, _RESIZE_INTERPOLATIONS,
                                           "interpolation", "Resizing")
        if fill_mode != "constant":
            raise ValueError("Resizing: only fill_mode='constant' is supported. Received: "
                             f"fill_mode={fill_mode!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: only one of `pad_to_aspect_ratio` and "
                             "`crop_to_aspect_ratio` can be True. Received: "
                             f"crop_to_aspect_ratio={crop_to_aspect_ratio!r}, "
                             f"pad_to_aspect_ratio={pad_to_aspect_ratio!r}")
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = bool(antialias)

    def call(self, inputs):
        x = self._image(inputs)
        integer = x.dtype.kind in "iub"
        out_dtype = x.dtype
        x = ops.cast(x, "float32") if integer else x
        height, width = self._spatial(x.shape)
        h_axis, w_axis = self._h_axis, self._w_axis
        if self.crop_to_aspect_ratio:
            top, left, box_h, box_w = _aspect_box(height, width, self.height, self.width)
            x = _window(x, top, box_h, left, box_w, h_axis, w_axis)
        elif self.pad_to_aspect_ratio:
            padded_h = max(height, int(float(width * self.height) / self.width))
            padded_w = max(width, int(float(height * self.width) / self.height))
            x = _pad(x, int(float(padded_h - height) / 2), int(float(padded_w - width) / 2),
                     self.fill_value, h_axis, w_axis)
        antialias = self.antialias and self.interpolation != "nearest"
        out = _resize(x, (self.height, self.width), self.interpolation, h_axis, w_axis,
                      antialias)
        if integer:
            info = np.iinfo(out_dtype) if out_dtype.kind != "b" else None
            values = np.round(out.value)
            if info is not None:
                values = np.clip(values, info.min, info.max)
            return Tensor(values.astype(out_dtype))
        return out

    def get_config(self):
        config = super().get_config()
        config.update({"interpolation": self.interpolation,
                       "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                       "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
                       "fill_mode": self.fill_mode, "fill_value": self.fill_value,
                       "antialias": self.antialias})
        return config


def _crop_or_fit(x, top, left, height, width, h_axis, w_axis):
    """The height x width window at (top, left), clipped at the image's edge and then
    resized (bilinear) to height x width if the clipping shrank it."""
    x = _window(x, top, height, left, width, h_axis, w_axis)
    return _resize(x, (height, width), "bilinear", h_axis, w_axis)


class CenterCrop(_FixedSize, _ImageLayer):
    """Crops the central height x width window of images. An image smaller than that (on
    either side) is instead cropped to its largest centred window of the target aspect
    ratio and resized (bilinear) to height x width. Output in the layer's (float) dtype."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height = _check_size(height, "height", "CenterCrop")
        self.width = _check_size(width, "width", "CenterCrop")

    def call(self, inputs):
        x = self._floating(self._image(inputs))
        height, width = self._spatial(x.shape)
        if height >= self.height and width >= self.width:
            return _window(x, (height - self.height) // 2, self.height,
                           (width - self.width) // 2, self.width, self._h_axis, self._w_axis)
        top, left, box_h, box_w = _aspect_box(height, width, self.height, self.width)
        x = _window(x, top, box_h, left, box_w, self._h_axis, self._w_axis)
        return _resize(x, (self.height, self.width), "bilinear", self._h_axis, self._w_axis)



class _RandomImageLayer(_ImageLayer):
    """A random augmentation. Called with training True (or not given, as in Keras, where
    these layers default to training=True; `fit` passes True, `predict` False) it draws a
    transformation (`_draw`) and applies it (`_apply`) to the images as a batch (a single
    image is a batch of one); at inference it returns the input."""

    _cast_at_inference = True  # whether inference output is in the layer's dtype

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if seed is not None and (isinstance(seed, bool) or
                                 not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{type(self).__name__}: `seed` must be an integer or None. "
                             f"Received: seed={seed!r}")
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def _generator(self):
        return self._rng if self._rng is not None else fk_random.generator()

    def call(self, inputs, training=None):
        x = self._image(inputs)
        if training is None:
            training = True
        if not training:
            return self._floating(x) if self._cast_at_inference else x
        batch = x if x.ndim == 4 else ops.expand_dims(x, 0)
        out = self._apply(batch, self._draw(self._generator(), batch.shape))
        return out if x.ndim == 4 else ops.squeeze(out, 0)

    def _draw(self, gen, shape):
        """The random transformation for a batch of this 4-D shape (a dict)."""
        raise NotImplementedError

    def _apply(self, images, transformation):
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config


class RandomCrop(_FixedSize, _RandomImageLayer):
    """While training, crops a random height x width window of the images (one location for
    the whole batch); an image not larger than that on both sides is cropped to its
    centred window of the target aspect ratio and resized (bilinear) instead. At inference
    the input passes through unchanged, as in Keras 3 (whose output shape then differs
    from `compute_output_shape`)."""

    _cast_at_inference = False

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = _check_size(height, "height", "RandomCrop")
        self.width = _check_size(width, "width", "RandomCrop")
        # Keras fixes an unseeded RandomCrop's config seed once; the draws use the global
        # generator all the same.
        if seed is None:
            self.seed = int(fk_random.generator().integers(0, 2**31 - 1))
        self._symbolic = False

    def call(self, inputs, training=None):
        # Symbolic shapes are inferred on inference-mode probe calls; those get the cropped
        # shape that Keras declares (compute_output_shape) rather than the pass-through one.
        self._symbolic = not training and training is not None and inferring_shapes()
        try:
            return super().call(inputs, training=True if self._symbolic else training)
        finally:
            self._symbolic = False

    def _draw(self, gen, shape):
        height, width = self._spatial(shape)
        if height > self.height and width > self.width:
            if self._symbolic:
                return {"top": 0, "left": 0}
            return {"top": int(gen.integers(0, height - self.height + 1)),
                    "left": int(gen.integers(0, width - self.width + 1))}
        top, left, _, _ = _aspect_box(height, width, self.height, self.width)
        return {"top": top, "left": left}

    def _apply(self, images, transformation):
        return _crop_or_fit(self._floating(images), transformation["top"],
                            transformation["left"], self.height, self.width,
                            self._h_axis, self._w_axis)



class RandomFlip(_RandomImageLayer):
    """While training, flips each image with probability 1/2: left-right ("horizontal"),
    top-bottom ("vertical"), or both at once ("horizontal_and_vertical", the default; one
    draw per image decides both, as in Keras 3)."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = _check_choice(mode, _FLIP_MODES, "mode", "RandomFlip")

    def _draw(self, gen, shape):
        return {"flips": gen.random((shape[0], 1, 1, 1), dtype=np.float32) <= 0.5}

    def _apply(self, images, transformation):
        axes = []
        if self.mode != "vertical":
            axes.append(self._w_axis % 4)
        if self.mode != "horizontal":
            axes.append(self._h_axis % 4)
        return _flip_selected(self._floating(images), transformation["flips"], tuple(axes))

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config


class _RandomAffine(_RandomImageLayer):
    """A random affine resampling (rotation, zoom, translation) of every image."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        name = type(self).__name__
        self.fill_mode = _check_choice(fill_mode, _AFFINE_FILL_MODES, "fill_mode", name,
                                       NotImplementedError)
        self.interpolation = _check_choice(interpolation, _AFFINE_INTERPOLATIONS,
                                           "interpolation", name, NotImplementedError)
        self.fill_value = fill_value

    def _matrices(self, transformation, height, width):
        """(batch, 8) float32 rows [a0, a1, a2, b0, b1, b2, 0, 0] (see _affine_sample)."""
        raise NotImplementedError

    def _apply(self, images, transformation):
        images = self._floating(images)
        height, width = self._spatial(images.shape)
        return _affine_sample(images, self._matrices(transformation, height, width),
                              self.interpolation, self.fill_mode, self.fill_value,
                              self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"fill_mode": self.fill_mode, "fill_value": self.fill_value,
                       "interpolation": self.interpolation})
        return config


def _uniform(gen, low, high, shape):
    """float32 uniform draws in [low, high] (exactly low when the range is empty)."""
    return np.float32(low) + np.float32(high - low) * gen.random(shape, dtype=np.float32) \
        if high != low else np.full(shape, np.float32(low))


class RandomRotation(_RandomAffine):
    """While training, rotates each image about its centre by a random angle drawn from
    factor * 360 degrees: `factor` is a number f in [-1, 1] (the range [-|f|, |f|]) or two
    numbers (a range; positive angles turn the image counter-clockwise).

    Args:
        fill_mode: "reflect" (default), "wrap", "constant" (fill_value) or "nearest", for
            points read from outside the image.
        interpolation: "bilinear" (default) or "nearest".
        seed, fill_value, data_format: as named.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, data_format=data_format, **kwargs)
        self.factor = _base_factor(factor, "RandomRotation", (-1, 1))

    def _draw(self, gen, shape):
        height, width = self._spatial(shape)
        angle = _uniform(gen, self.factor[0] * 360.0, self.factor[1] * 360.0, (shape[0],))
        return {"angle": angle, "rotation_matrix": _rotation_matrices(angle, height, width)}

    def _matrices(self, transformation, height, width):
        return transformation["rotation_matrix"]

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config


def _base_factor(factor, layer, bounds):
    """The factor of RandomRotation/Contrast/Brightness: a number f within bounds (the
    range [max(-|f|, low), |f|]) or a list of two numbers overlapping bounds (sorted)."""
    low, high = bounds
    message = (f"{layer}: the `factor` argument should be a number (or a list of two "
               f"numbers) in the range [{low}, {high}]. Received: factor={factor!r}")
    if factor is None or (not isinstance(factor, (tuple, list)) and not factor):
        factor = 0.0
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(_is_number(v) for v in factor) or \
                factor[0] > high or factor[1] < low:
            raise ValueError(message)
        return tuple(sorted(factor))
    if not _is_number(factor) or factor < low or factor > high:
        raise ValueError(message)
    factor = abs(factor)
    return max(-factor, low), factor


def _rotation_matrices(angle_degrees, height, width):
    """Rows that turn each image by its angle about the image centre, in float32."""
    angle = np.asarray(angle_degrees, np.float32) * np.float32(math.pi / 180.0)
    cos, sin = np.cos(angle), np.sin(angle)
    cx = np.float32(0.5) * np.float32(width - 1)
    cy = np.float32(0.5) * np.float32(height - 1)
    zero = np.zeros_like(cos)
    a2 = (cx - cx * cos) - cy * (-sin)
    b2 = (cy - cx * sin) - cy * cos
    return np.stack([cos, -sin, a2, sin, cos, b2, zero, zero], axis=1).astype(np.float32)


class RandomZoom(_RandomAffine):
    """While training, zooms each image about its centre by a random factor: a height
    factor drawn from 1 + height_factor (negative: zoom in, positive: zoom out), and a width
    factor from 1 + width_factor, or the same factor as the height when width_factor is
    None. Each factor is a number f in (-1, 1] (the range [-|f|, |f|]) or two numbers.
    fill_mode, interpolation, seed, fill_value and data_format as for RandomRotation."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, data_format=data_format, **kwargs)
        self.height_factor = height_factor
        self.height_lower, self.height_upper = _factor_pair(
            height_factor, "height_factor", "RandomZoom", -1.0, 1.0, low_open=True)
        self.width_factor = width_factor
        if width_factor is not None:
            self.width_lower, self.width_upper = _factor_pair(
                width_factor, "width_factor", "RandomZoom", -1.0, 1.0, low_open=True)

    def _draw(self, gen, shape):
        n = shape[0]
        height_zoom = _uniform(gen, 1.0 + self.height_lower, 1.0 + self.height_upper, (n, 1))
        width_zoom = height_zoom if self.width_factor is None else _uniform(
            gen, 1.0 + self.width_lower, 1.0 + self.width_upper, (n, 1))
        return {"height_zoom": height_zoom, "width_zoom": width_zoom}

    def _matrices(self, transformation, height, width):
        zx = np.asarray(transformation["width_zoom"], np.float32).reshape(-1)
        zy = np.asarray(transformation["height_zoom"], np.float32).reshape(-1)
        zero = np.zeros_like(zx)
        x_offset = ((np.float32(width) - np.float32(1)) / np.float32(2)) * (1 - zx)
        y_offset = ((np.float32(height) - np.float32(1)) / np.float32(2)) * (1 - zy)
        return np.stack([zx, zero, x_offset, zero, zy, y_offset, zero, zero], axis=1)

    def get_config(self):
        config = super().get_config()
        config.update({"height_factor": self.height_factor, "width_factor": self.width_factor})
        return config


class RandomTranslation(_RandomAffine):
    """While training, shifts each image by random fractions of its height and width:
    height_factor and width_factor are each a number f in [-1, 1] (the range [-|f|, |f|])
    or two numbers (a range; positive shifts move the content down / right). fill_mode,
    interpolation, seed, fill_value and data_format as for RandomRotation."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, data_format=data_format, **kwargs)
        self.height_factor = height_factor
        self.height_lower, self.height_upper = _factor_pair(
            height_factor, "height_factor", "RandomTranslation", -1.0, 1.0)
        self.width_factor = width_factor
        self.width_lower, self.width_upper = _factor_pair(
            width_factor, "width_factor", "RandomTranslation", -1.0, 1.0)

    def _draw(self, gen, shape):
        n = shape[0]
        height, width = self._spatial(shape)
        dy = _uniform(gen, self.height_lower, self.height_upper, (n, 1)) * np.float32(height)
        dx = _uniform(gen, self.width_lower, self.width_upper, (n, 1)) * np.float32(width)
        return {"translations": np.concatenate([dx, dy], axis=1).astype(np.float32)}

    def _matrices(self, transformation, height, width):
        shift = np.asarray(transformation["translations"], np.float32)
        one, zero = np.ones(len(shift), np.float32), np.zeros(len(shift), np.float32)
        return np.stack([one, zero, -shift[:, 0], zero, one, -shift[:, 1], zero, zero], axis=1)

    def get_config(self):
        config = super().get_config()
        config.update({"height_factor": self.height_factor, "width_factor": self.width_factor})
        return config


class RandomContrast(_RandomImageLayer):
    """While training, scales each image's deviation from its per-channel mean (over
    height and width) by a random factor drawn from [1 - lower, 1 + upper], and clips to
    `value_range`. `factor`: a number f in [0, 1] (the range (0, f): as in Keras 3, a single
    number only raises contrast) or two numbers (lower, upper). Output in the layer's
    dtype; at inference the input passes through unchanged."""

    _cast_at_inference = False

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _base_factor(factor, "RandomContrast", (0, 1))
        self.value_range = value_range

    def _draw(self, gen, shape):
        return {"contrast_factor": _uniform(gen, 1.0 - self.factor[0], 1.0 + self.factor[1],
                                            (shape[0], 1, 1, 1))}

    def _apply(self, images, transformation):
        images = self._floating(images)
        factor = np.asarray(transformation["contrast_factor"]).astype(images.dtype)
        mean = ops.mean(ops.mean(images, axis=self._h_axis % 4, keepdims=True),
                        axis=self._w_axis % 4, keepdims=True)
        out = ops.add(ops.multiply(ops.subtract(images, mean), factor), mean)
        return ops.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range})
        return config


class RandomBrightness(_RandomImageLayer):
    """While training, adds to each image a random offset drawn from factor times the
    width of `value_range` and clips to `value_range`. `factor`: a number f in [-1, 1]
    (the range [-|f|, |f|]) or two numbers (a range). Integer images stay integers (the
    offset truncated toward zero); at inference the input passes through unchanged."""

    _cast_at_inference = False

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _base_factor(factor, "RandomBrightness", (-1, 1))
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError("RandomBrightness: the `value_range` argument should be a list "
                             f"of two numbers. Received: value_range={value_range!r}")
        self.value_range = sorted(value_range)

    def _draw(self, gen, shape):
        delta = _uniform(gen, self.factor[0], self.factor[1], (shape[0], 1, 1, 1))
        return {"rgb_delta": delta * np.float32(self.value_range[1] - self.value_range[0])}

    def _apply(self, images, transformation):
        delta = np.asarray(transformation["rgb_delta"])
        low, high = self.value_range
        if images.dtype.kind in "iub":
            shifted = images.value.astype(np.int64) + np.trunc(delta).astype(np.int64)
            return Tensor(np.clip(shifted, low, high).astype(images.dtype))
        return ops.clip(ops.add(images, delta.astype(images.dtype)), low, high)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range})
        return config
