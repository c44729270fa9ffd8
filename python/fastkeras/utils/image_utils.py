"""Image files and arrays: `load_img`, `img_to_array`, `array_to_img`, `save_img` (Pillow
images in and out, as in Keras 3) and `smart_resize` (resizing without distorting the aspect
ratio).

Pillow is needed by everything here except `smart_resize`; it is the optional "images"
extra of fastkeras.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from fastkeras.utils.directory_datasets import _import_pil

_COLOR_MODES = ("grayscale", "rgb", "rgba")
# Pillow's resampling filters that load_img accepts, by Keras's names.
_PIL_FILTERS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
_SMART_RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic")
_UNSUPPORTED_SMART_RESIZE = ("lanczos3", "lanczos5")


def _data_format(data_format):
    from fastkeras.layers.reshaping import standardize_data_format
    return standardize_data_format(data_format)


def _float_dtype(dtype):
    if dtype is None:
        from fastkeras.backend.config import floatx
        return floatx()
    return dtype


def _pil_filter(image_module, name):
    resampling = getattr(image_module, "Resampling", image_module)
    return getattr(resampling, name.upper())


def _is_size_pair(value):
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                    for v in value))


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3-D array (one image) as a Pillow image.

    Args:
        x: the image, `(height, width, channels)` (or `(channels, height, width)` with
            `data_format="channels_first"`), anything `np.asarray` accepts. 1 channel gives
            a grayscale image (mode "L", or 32-bit "I" when values exceed 255 after
            scaling), 3 an RGB and 4 an RGBA image.
        data_format: "channels_last" or "channels_first" (default: the global setting).
        scale: stretch the values linearly so that the smallest becomes 0 and the largest
            255; without it the values are cast to 8 bits as they are.
        dtype: the dtype `x` is read as before scaling (default: the global floatx).

    Returns:
        A `PIL.Image.Image`.
    """
    data_format = _data_format(data_format)
    dtype = _float_dtype(dtype)
    image_module = _import_pil("array_to_img")
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError("`array_to_img` expects one image, an array of rank 3 "
                         f"(height, width, channels). Received: x with shape {x.shape}")
    if data_format == "channels_first":
        x = np.transpose(x, (1, 2, 0))
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x = x / top
        x = x * 255
    channels = x.shape[2]
    if channels == 4:
        return image_module.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return image_module.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return image_module.fromarray(x[:, :, 0].astype("int32"), "I")
        return image_module.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError("`array_to_img` supports 1 (grayscale), 3 (RGB) or 4 (RGBA) channels. "
                     f"Received: x with {channels} channels (shape {x.shape}, "
                     f"data_format={data_format!r})")


def img_to_array(img, data_format=None, dtype=None):
    """A Pillow image as a 3-D numpy array.

    Args:
        img: a `PIL.Image.Image` (or anything `np.asarray` turns into a 2-D or 3-D array).
        data_format: "channels_last" gives `(height, width, channels)`, "channels_first"
            `(channels, height, width)` (default: the global setting).
        dtype: the array's dtype (default: the global floatx).

    Returns:
        A numpy array; a single-band image gets a channel axis of size 1.
    """
    data_format = _data_format(data_format)
    dtype = _float_dtype(dtype)
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    elif x.ndim == 2:
        if data_format == "channels_first":
            x = x.reshape((1,) + x.shape)
        else:
            x = x.reshape(x.shape + (1,))
    else:
        raise ValueError("`img_to_array` expects an image giving a 2-D or 3-D array. "
                         f"Received: img={img!r} (array shape {x.shape})")
    return x


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Writes an image array to a file.

    Args:
        path: a file path, or an open binary file object (then give `file_format`).
        x: the image array, as `array_to_img` takes it.
        data_format: "channels_last" or "channels_first" (default: the global setting).
        file_format: "png", "jpeg" ("jpg"), "bmp", ... (default: from the path's
            extension). An RGBA image saved as JPEG loses its alpha channel, with a warning.
        scale: stretch the values to [0, 255] first (see `array_to_img`).
        **kwargs: passed on to `PIL.Image.Image.save` (e.g. `quality=95`).
    """
    data_format = _data_format(data_format)
    if file_format is None and isinstance(path, (str, os.PathLike)):
        file_format = os.path.splitext(os.fspath(path))[1][1:].lower()
    if isinstance(file_format, str) and file_format.lower() in ("jpg", "jpeg"):
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("JPEG has no alpha channel: the RGBA image is saved as RGB.",
                      stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def _open_image(image_module, path):
    """The image at `path`, its bytes read into memory so that no file stays open."""
    if isinstance(path, io.BytesIO):
        return image_module.open(path)
    if isinstance(path, (str, bytes, os.PathLike)):
        if isinstance(path, os.PathLike):
            path = os.path.realpath(os.fspath(path))
        with open(path, "rb") as f:
            return image_module.open(io.BytesIO(f.read()))
    if hasattr(path, "read"):
        return image_module.open(io.BytesIO(path.read()))
    raise TypeError("`path` must be a file path (str, bytes or os.PathLike) or a binary file "
                    f"object such as io.BytesIO. Received: path={path!r} of type "
                    f"{type(path).__name__}")


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Reads an image file into a Pillow image.

    Args:
        path: a file path or a binary file object (e.g. `io.BytesIO`).
        color_mode: "rgb", "rgba" or "grayscale". Grayscale keeps 16- and 32-bit grayscale
            images as they are and turns anything else into 8 bits.
        target_size: None (keep the size) or `(height, width)`.
        interpolation: Pillow's resampling filter used when resizing: "nearest",
            "bilinear", "bicubic", "hamming", "box" or "lanczos".
        keep_aspect_ratio: resize the largest centred crop of the target's aspect ratio
            instead of the whole image, so nothing is stretched.

    Returns:
        A `PIL.Image.Image`; `keras.utils.img_to_array` turns it into an array.
    """
    if color_mode not in _COLOR_MODES:
        raise ValueError('`color_mode` must be "grayscale", "rgb" or "rgba". '
                         f"Received: color_mode={color_mode!r}")
    if target_size is not None:
        if not _is_size_pair(target_size):
            raise ValueError("`target_size` must be None or a tuple of 2 positive integers "
                             f"(height, width). Received: target_size={target_size!r}")
        if interpolation not in _PIL_FILTERS:
            raise ValueError(f"`interpolation` must be one of {', '.join(_PIL_FILTERS)}. "
                             f"Received: interpolation={interpolation!r}")
    image_module = _import_pil("load_img")
    img = _open_image(image_module, path)
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    if target_size is None:
        return img
    size = (int(target_size[1]), int(target_size[0]))  # Pillow's (width, height)
    if img.size == size:
        return img
    resample = _pil_filter(image_module, interpolation)
    if not keep_aspect_ratio:
        return img.resize(size, resample)
    width, height = img.size
    crop_height = min(height, (width * size[1]) // size[0])
    crop_width = min(width, (height * size[0]) // size[1])
    top = (height - crop_height) // 2
    left = (width - crop_width) // 2
    box = [left, top, left + crop_width, top + crop_height]
    return img.resize(size, resample, box=box)


# --- smart_resize ---------------------------------------------------------------------------

def _cubic_inner(t, a):
    return ((a + 2) * t - (a + 3)) * t * t + 1


def _cubic_outer(t, a):
    return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a


def _axis_weights(in_size, out_size, interpolation, work):
    """The (out_size, in_size) matrix resizing one axis, half-pixel centred, with source
    positions and interpolation weights computed in the `work` precision as PyTorch's
    resampling (Keras's reference backend here) computes them."""
    from fastkeras.layers.image_preprocessing import _resize_weights

    if interpolation == "nearest":
        return _resize_weights(in_size, out_size, "nearest", False).astype(work)
    one, half = work(1), work(0.5)
    scale = work(in_size) / work(out_size)
    source = scale * (np.arange(out_size, dtype=work) + half) - half
    weights = np.zeros((out_size, in_size), work)
    rows = np.arange(out_size)
    if interpolation == "bilinear":
        source = np.maximum(source, work(0))
        low = source.astype(np.int64)
        frac = np.clip(source - low.astype(work), work(0), one)
        high = np.minimum(low + 1, in_size - 1)
        np.add.at(weights, (rows, low), one - frac)
        np.add.at(weights, (rows, high), frac)
        return weights
    a = work(-0.75)
    low = np.floor(source).astype(np.int64)
    t = source - low.astype(work)
    taps = (_cubic_outer(t + one, a), _cubic_inner(t, a), _cubic_inner(one - t, a),
            _cubic_outer((one - t) + one, a))
    for k, tap in enumerate(taps):
        np.add.at(weights, (rows, np.clip(low - 1 + k, 0, in_size - 1)), tap.astype(work))
    return weights


def _resize_array(x, size, interpolation, h_axis, w_axis):
    """`x` resized on its (h_axis, w_axis) plane, computed in float32 (or float64 for
    float64 input); integer and bool images are rounded back to their dtype."""
    dtype = x.dtype
    work = np.float64 if dtype == np.float64 else np.float32
    if x.shape[h_axis] == size[0] and x.shape[w_axis] == size[1]:
        return np.array(x)
    rows = _axis_weights(x.shape[h_axis], size[0], interpolation, work)
    cols = _axis_weights(x.shape[w_axis], size[1], interpolation, work)
    planes = np.moveaxis(x.astype(work), (h_axis, w_axis), (-2, -1))
    out = np.moveaxis(rows @ (planes @ cols.T), (-2, -1), (h_axis, w_axis))
    if dtype == work:
        return np.ascontiguousarray(out)
    if dtype.kind in "biu":
        out = np.round(out)
        if interpolation == "bicubic" and dtype == np.uint8:
            out = np.clip(out, 0, 255)
    return np.ascontiguousarray(out.astype(dtype))


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last", **kwargs):
    """Resizes images to `size` without distorting them: the largest centred window with the
    target's aspect ratio is cropped out, then resized to `size`.

    For example an image of 340 x 500 resized to (200, 200) gives its central 340 x 340
    square scaled down to 200 x 200.

    Args:
        x: one image `(height, width, channels)` or a batch `(batch, height, width,
            channels)` (channels first with `data_format="channels_first"`), a numpy array or
            a fastkeras tensor.
        size: `(height, width)` of the output.
        interpolation: "bilinear", "nearest" or "bicubic" (half-pixel-centred resizing as
            `keras.layers.Resizing` does).
        data_format: "channels_last" or "channels_first" (None: the global setting).

    Returns:
        The resized image(s): a numpy array of `x`'s dtype for numpy (or other array-like)
        input, a fastkeras tensor for tensor input. Integer images are rounded.
    """
    kwargs.pop("backend_module", None)
    if kwargs:
        raise TypeError(f"smart_resize() got unexpected keyword arguments: {list(kwargs)}")
    if isinstance(size, (str, bytes)) or not hasattr(size, "__len__") or len(size) != 2:
        raise ValueError("`size` must be a tuple of 2 integers (height, width). "
                         f"Received: size={size!r}")
    if not _is_size_pair(tuple(size)):
        raise ValueError("`size` must be a tuple of 2 positive integers (height, width). "
                         f"Received: size={size!r}")
    size = (int(size[0]), int(size[1]))
    if interpolation in _UNSUPPORTED_SMART_RESIZE:
        raise NotImplementedError("`smart_resize` does not implement Lanczos resampling; use "
                                  f"one of {_SMART_RESIZE_INTERPOLATIONS}. Received: "
                                  f"interpolation={interpolation!r}")
    if interpolation not in _SMART_RESIZE_INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {_SMART_RESIZE_INTERPOLATIONS}. "
                         f"Received: interpolation={interpolation!r}")
    data_format = _data_format(data_format)

    from fastkeras.backend.tape import Tensor
    is_tensor = isinstance(x, Tensor)
    if is_tensor and x.dtype.kind == "f":
        return _smart_resize_tensor(x, size, interpolation, data_format)
    images = np.asarray(x.value if is_tensor else x)
    if images.ndim not in (3, 4):
        raise ValueError("`smart_resize` expects an image (height, width, channels) or a batch "
                         "(batch_size, height, width, channels). Received: x with shape "
                         f"{images.shape}")
    h_axis, w_axis = (images.ndim - 3, images.ndim - 2) if data_format == "channels_last" \
        else (images.ndim - 2, images.ndim - 1)
    images = _crop_to_aspect(images, size, h_axis, w_axis)
    out = _resize_array(images, size, interpolation, h_axis, w_axis)
    if is_tensor:
        from fastkeras.backend.tape import convert_to_tensor
        return convert_to_tensor(out)
    return out


def _crop_to_aspect(images, size, h_axis, w_axis):
    from fastkeras.layers.image_preprocessing import _aspect_box

    top, left, box_h, box_w = _aspect_box(images.shape[h_axis], images.shape[w_axis], *size)
    index = [slice(None)] * images.ndim
    index[h_axis] = slice(top, top + box_h)
    index[w_axis] = slice(left, left + box_w)
    return images[tuple(index)]


def _smart_resize_tensor(x, size, interpolation, data_format):
    """smart_resize of a float fastkeras tensor, keeping its gradient."""
    from fastkeras.layers.image_preprocessing import _aspect_box, _resize, _window

    if x.ndim not in (3, 4):
        raise ValueError("`smart_resize` expects an image (height, width, channels) or a batch "
                         "(batch_size, height, width, channels). Received: x with shape "
                         f"{tuple(x.shape)}")
    h_axis, w_axis = (x.ndim - 3, x.ndim - 2) if data_format == "channels_last" \
        else (x.ndim - 2, x.ndim - 1)
    top, left, box_h, box_w = _aspect_box(x.shape[h_axis], x.shape[w_axis], *size)
    x = _window(x, top, box_h, left, box_w, h_axis, w_axis)
    return _resize(x, size, interpolation, h_axis, w_axis)
