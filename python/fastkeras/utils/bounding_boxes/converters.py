"""Bounding-box format conversion and geometric helpers (`keras.utils.bounding_boxes`).

Boxes are arrays or tensors whose last axis holds 4 coordinates: `(num_boxes, 4)` unbatched
or `(batch, num_boxes, 4)` batched. Results are fastkeras tensors computed with fastkeras
ops, so gradients flow through them.

Formats (case-insensitive):
- `"xyxy"`: left, top, right, bottom
- `"yxyx"`: top, left, bottom, right
- `"xywh"`: left, top, width, height
- `"center_xywh"`: center x, center y, width, height
- `"center_yxhw"`: center y, center x, height, width
- `"rel_xyxy"`, `"rel_yxyx"`, `"rel_xywh"`, `"rel_center_xywh"`: the same with x-values
  divided by the image width and y-values by the image height.
"""

from __future__ import annotations

import math

import numpy as np

from fastkeras import backend, ops
from fastkeras.backend.tape import Tensor, convert_to_tensor

SUPPORTED_FORMATS = (
    "xyxy",
    "yxyx",
    "xywh",
    "center_xywh",
    "center_yxhw",
    "rel_xyxy",
    "rel_yxyx",
    "rel_xywh",
    "rel_center_xywh",
)


def _tensor(x, dtype=None):
    if isinstance(x, Tensor):
        return x if dtype is None else ops.cast(x, dtype)
    return convert_to_tensor(x, dtype=dtype)


def _split(boxes):
    return ops.split(boxes, 4, axis=-1)


def _join(parts):
    return ops.concatenate(list(parts), axis=-1)


# --- to and from xyxy -------------------------------------------------------------------------

def _to_xyxy(fmt, boxes, height, width):
    a, b, c, d = _split(boxes)
    if fmt == "xyxy":
        return boxes
    if fmt == "yxyx":
        return _join([b, a, d, c])
    if fmt == "xywh":
        return _join([a, b, a + c, b + d])
    if fmt == "center_xywh":
        half_w, half_h = c / 2.0, d / 2.0
        return _join([a - half_w, b - half_h, a + half_w, b + half_h])
    if fmt == "center_yxhw":
        half_h, half_w = c / 2.0, d / 2.0
        return _join([b - half_w, a - half_h, b + half_w, a + half_h])
    if fmt == "rel_xyxy":
        return _join([a * width, b * height, c * width, d * height])
    if fmt == "rel_yxyx":
        return _join([b * width, a * height, d * width, c * height])
    if fmt == "rel_xywh":
        return _join([a * width, b * height, (a + c) * width, (b + d) * height])
    # rel_center_xywh
    half_w, half_h = c / 2.0, d / 2.0
    return _join([(a - half_w) * width, (b - half_h) * height,
                  (a + half_w) * width, (b + half_h) * height])


def _from_xyxy(fmt, boxes, height, width):
    x1, y1, x2, y2 = _split(boxes)
    if fmt == "xyxy":
        return boxes
    if fmt == "yxyx":
        return _join([y1, x1, y2, x2])
    if fmt == "xywh":
        return _join([x1, y1, x2 - x1, y2 - y1])
    if fmt in ("center_xywh", "center_yxhw"):
        w, h = x2 - x1, y2 - y1
        cx, cy = x1 + w / 2.0, y1 + h / 2.0
        return _join([cx, cy, w, h] if fmt == "center_xywh" else [cy, cx, h, w])
    if fmt in ("rel_xyxy", "rel_yxyx"):
        rx1, ry1 = ops.divide(x1, width), ops.divide(y1, height)
        rx2, ry2 = ops.divide(x2, width), ops.divide(y2, height)
        return _join([rx1, ry1, rx2, ry2] if fmt == "rel_xyxy" else [ry1, rx1, ry2, rx2])
    if fmt == "rel_xywh":
        return _join([x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height])
    # rel_center_xywh
    return _join([(x1 + (x2 - x1) / 2.0) / width, (y1 + (y2 - y1) / 2.0) / height,
                  (x2 - x1) / width, (y2 - y1) / height])


def _check_format(fmt, arg):
    if not isinstance(fmt, str) or fmt.lower() not in SUPPORTED_FORMATS:
        raise ValueError(f"Invalid {arg} format. Supported formats: {SUPPORTED_FORMATS}. "
                         f"Received: {arg}={fmt!r}")
    return fmt.lower()


def convert_format(boxes, source, target, height=None, width=None, dtype="float32"):
    """Converts bounding boxes from the `source` format to the `target` format.

    Args:
        boxes: boxes of shape `(..., 4)` (array or tensor), or a dict with a `"boxes"`
            entry (and usually `"labels"`); a dict gives back a dict whose `"boxes"` are
            converted and whose other entries are kept.
        source: the format of `boxes`, one of `SUPPORTED_FORMATS` (any case).
        target: the format to convert to.
        height: the image height; needed when either format is relative (`"rel_..."`).
        width: the image width; needed when either format is relative.
        dtype: the dtype of the result. Defaults to `"float32"`.

    Returns:
        The converted boxes (a tensor), or a dict holding them.

    Raises:
        ValueError: for an unknown format, a last axis other than 4, or a relative format
            without `height` and `width`.

    Example:

    >>> convert_format(np.array([[10, 20, 30, 40]]), "xyxy", "xywh")
    # [[10., 20., 20., 20.]]
    """
    if isinstance(boxes, dict):
        result = dict(boxes)
        result["boxes"] = convert_format(boxes["boxes"], source=source, target=target,
                                         height=height, width=width, dtype=dtype)
        return result
    boxes = _tensor(boxes)
    if len(boxes.shape) == 0 or boxes.shape[-1] != 4:
        raise ValueError("`boxes` must be a tensor with the last dimension of 4. "
                         f"Received: boxes.shape={tuple(boxes.shape)}")
    source = _check_format(source, "source")
    target = _check_format(target, "target")
    if (source.startswith("rel_") or target.startswith("rel_")) and (
            height is None or width is None):
        raise ValueError("convert_format() needs `height` and `width` to convert between "
                         f"relative and absolute formats. Received: source={source!r}, "
                         f"target={target!r}, height={height}, width={width}")
    boxes = ops.cast(boxes, dtype)
    if source == target:
        return boxes
    if width is not None:
        width = ops.cast(width, dtype)
    if height is not None:
        height = ops.cast(height, dtype)
    if source.startswith("rel_") and target.startswith("rel_"):
        source, target = source[4:], target[4:]
    return _from_xyxy(target, _to_xyxy(source, boxes, height, width), height, width)


def _area(boxes):
    x1, y1, x2, y2 = _split(boxes)
    return (x2 - x1) * (y2 - y1)


def clip_to_image_size(bounding_boxes, height=None, width=None, bounding_box_format="xyxy"):
    """Clips boxes to the image and marks boxes left without area with label -1.

    Args:
        bounding_boxes: a dict with `"boxes"` of shape `(N, 4)` or `(batch, N, 4)` and
            optionally `"labels"` of shape `(N,)` or `(batch, N)`.
        height: the image height (needed for `"xyxy"`).
        width: the image width (needed for `"xyxy"`).
        bounding_box_format: `"xyxy"` (clipped to `[0, width] x [0, height]`) or
            `"rel_xyxy"` (clipped to `[0, 1]`). Defaults to `"xyxy"`.

    Returns:
        A new dict with the clipped `"boxes"`; `"labels"`, if given, is -1 where the
        clipped box has no positive area. Other entries are kept.

    Raises:
        NotImplementedError: for any other `bounding_box_format`.
        ValueError: for `"xyxy"` without `height` and `width`.
    """
    if bounding_box_format not in ("xyxy", "rel_xyxy"):
        raise NotImplementedError("clip_to_image_size() supports bounding_box_format "
                                  "'xyxy' and 'rel_xyxy'. Received: "
                                  f"bounding_box_format={bounding_box_format!r}")
    if bounding_box_format == "xyxy" and (height is None or width is None):
        raise ValueError("`height` and `width` must be set if `format='xyxy'`. Received: "
                         f"height={height}, width={width}")
    if not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes:
        raise ValueError("`bounding_boxes` must be a dict with a 'boxes' entry. Received: "
                         f"bounding_boxes={bounding_boxes!r}")
    boxes = _tensor(bounding_boxes["boxes"])
    labels = bounding_boxes.get("labels", None)
    if bounding_box_format == "xyxy":
        high_x, high_y = ops.cast(width, boxes.dtype), ops.cast(height, boxes.dtype)
    else:
        high_x = high_y = 1.0
    x1, y1, x2, y2 = _split(boxes)
    boxes = _join([ops.clip(x1, 0, high_x), ops.clip(y1, 0, high_y),
                   ops.clip(x2, 0, high_x), ops.clip(y2, 0, high_y)])
    result = dict(bounding_boxes)
    result["boxes"] = boxes
    if labels is not None:
        labels = np.asarray(ops.convert_to_numpy(_tensor(labels)))
        areas = np.asarray(ops.convert_to_numpy(ops.squeeze(_area(boxes), axis=-1)))
        result["labels"] = convert_to_tensor(
            np.where(areas > 0, labels, np.asarray(-1, labels.dtype)).astype(labels.dtype))
    return result


def _per_batch(value, batch, dtype):
    value = _tensor(value)
    if value.dtype.kind != "f":
        value = ops.cast(value, dtype)
    if len(value.shape) == 0:
        value = ops.broadcast_to(value, (batch,))
    return value


def _inverse_affine_matrix(center_x, center_y, angle, translate_x, translate_y, scale,
                           shear_x, shear_y, height, width):
    """The `(batch, 3, 3)` matrices mapping input coordinates to output coordinates (the
    inverse of the matrices image transforms sample with)."""
    angle, shear_x, shear_y = -angle, -shear_x, -shear_y
    cx = center_x * (width - 1)
    cy = center_y * (height - 1)
    rot = angle * (1.0 / 180.0 * math.pi)
    tx = -translate_x * (width - 1)
    ty = -translate_y * (height - 1)
    sx = shear_x * (1.0 / 180.0 * math.pi)
    sy = shear_y * (1.0 / 180.0 * math.pi)
    cos_sy, tan_sx = ops.cos(sy), ops.tan(sx)
    rot_minus_sy = rot - sy
    cx_tx, cy_ty = cx + tx, cy + ty
    a = ops.cos(rot_minus_sy) / cos_sy
    b = a * tan_sx + ops.sin(rot)
    c = -ops.sin(rot_minus_sy) / cos_sy
    d = ops.cos(rot) - c * tan_sx
    a0, a1, b0, b1 = d * scale, -b * scale, -c * scale, a * scale
    a2 = cx - a0 * cx_tx - a1 * cy_ty
    b2 = cy - b0 * cx_tx - b1 * cy_ty
    return ops.stack([ops.stack([a0, a1, a2], axis=-1), ops.stack([b0, b1, b2], axis=-1)],
                     axis=1)  # (batch, 2, 3): the third row (0, 0, 1) is not needed


def affine_transform(boxes, angle, translate_x, translate_y, scale, shear_x, shear_y, height,
                     width, center_x=None, center_y=None, bounding_box_format="xyxy"):
    """Moves boxes by an affine transform of the image (rotation, translation, scaling and
    shear about a center) and returns the axis-aligned boxes enclosing the moved corners.

    Args:
        boxes: `"xyxy"` boxes of shape `(batch, N, 4)` or `(N, 4)`.
        angle: rotation in degrees, a number or one per image (shape `(batch,)`).
        translate_x: horizontal shift as a fraction of `width - 1` (number or per image).
        translate_y: vertical shift as a fraction of `height - 1`.
        scale: scaling factor.
        shear_x: shear angle along x, in degrees.
        shear_y: shear angle along y, in degrees.
        height: the image height.
        width: the image width.
        center_x: the x of the transform's center as a fraction of `width - 1`. Defaults
            to 0.5.
        center_y: the y of the transform's center as a fraction of `height - 1`. Defaults
            to 0.5.
        bounding_box_format: only `"xyxy"` is supported.

    Returns:
        The transformed boxes, with the shape of `boxes`.
    """
    if bounding_box_format != "xyxy":
        raise NotImplementedError("affine_transform() supports bounding_box_format='xyxy' "
                                  f"only. Received: bounding_box_format={bounding_box_format!r}")
    boxes = _tensor(boxes)
    unbatched = len(boxes.shape) == 2
    if unbatched:
        boxes = ops.expand_dims(boxes, 0)
    if len(boxes.shape) != 3 or boxes.shape[-1] != 4:
        raise ValueError("`boxes` must have shape (N, 4) or (batch, N, 4). Received: "
                         f"boxes.shape={tuple(_tensor(boxes).shape)}")
    batch, n_boxes = boxes.shape[0], boxes.shape[1]
    angle_t = _tensor(angle)
    dtype = angle_t.dtype if angle_t.dtype.kind == "f" else np.dtype(backend.floatx())
    params = [_per_batch(v, batch, dtype) for v in
              (0.5 if center_x is None else center_x, 0.5 if center_y is None else center_y,
               angle, translate_x, translate_y, scale, shear_x, shear_y)]
    matrix = _inverse_affine_matrix(*params, ops.cast(height, dtype), ops.cast(width, dtype))
    boxes = ops.cast(boxes, matrix.dtype)
    x1, y1, x2, y2 = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    points = ops.reshape(ops.stack([x1, y1, x2, y1, x2, y2, x1, y2], axis=-1),
                         (batch, n_boxes, 4, 2))
    points = ops.concatenate([points, ops.ones((batch, n_boxes, 4, 1), points.dtype)],
                             axis=-1)
    moved = ops.einsum("bnxy,bzy->bnxz", points, matrix)
    out = ops.concatenate([ops.min(moved, axis=2), ops.max(moved, axis=2)], axis=-1)
    return ops.squeeze(out, 0) if unbatched else out


def _only_xyxy(fn, bounding_box_format):
    if bounding_box_format != "xyxy":
        raise NotImplementedError(f"{fn}() supports bounding_box_format='xyxy' only. "
                                  f"Received: bounding_box_format={bounding_box_format!r}")


def crop(boxes, top, left, height, width, bounding_box_format="xyxy"):
    """Moves `"xyxy"` boxes into the frame of a crop of the image.

    The crop's top-left corner is at (`left`, `top`); the shifted coordinates are clipped to
    `[0, width]` and `[0, height]` (a `None` size leaves that side unclipped above).

    Args:
        boxes: boxes of shape `(N, 4)` or `(batch, N, 4)`.
        top: the crop's vertical offset.
        left: the crop's horizontal offset.
        height: the crop's height.
        width: the crop's width.
        bounding_box_format: only `"xyxy"` is supported.

    Returns:
        The cropped boxes.

    Example:

    >>> crop(np.array([[10, 20, 50, 60]]), top=10, left=20, height=40, width=30)
    # [[0., 10., 30., 40.]]
    """
    _only_xyxy("crop", bounding_box_format)
    x1, y1, x2, y2 = _split(_tensor(boxes))
    x1, x2 = x1 - left, x2 - left
    y1, y2 = y1 - top, y2 - top
    return _join([ops.clip(x1, 0, width), ops.clip(y1, 0, height),
                  ops.clip(x2, 0, width), ops.clip(y2, 0, height)])


def pad(boxes, top, left, height=None, width=None, bounding_box_format="xyxy"):
    """Shifts `"xyxy"` boxes to follow an image padded by `top` rows and `left` columns.

    Args:
        boxes: boxes of shape `(N, 4)` or `(batch, N, 4)`.
        top: rows added above the image.
        left: columns added left of the image.
        height: the padded image height (unused; kept for Keras compatibility).
        width: the padded image width (unused; kept for Keras compatibility).
        bounding_box_format: only `"xyxy"` is supported.

    Returns:
        The shifted boxes.
    """
    _only_xyxy("pad", bounding_box_format)
    x1, y1, x2, y2 = _split(_tensor(boxes))
    return _join([x1 + left, y1 + top, x2 + left, y2 + top])


def _check_variance(variance):
    if variance is None:
        return None
    variance = _tensor(variance, "float32")
    if len(variance.shape) == 0 or variance.shape[-1] != 4:
        raise ValueError("`variance` must be length 4, got "
                         f"variance={np.asarray(ops.convert_to_numpy(variance)).tolist()}")
    return variance


def _image_size(image_shape):
    if image_shape is None:
        return None, None
    if len(image_shape) != 3:
        raise ValueError("`image_shape` must be (height, width, channels). Received: "
                         f"image_shape={image_shape}")
    height, width, _ = image_shape
    return height, width


def encode_box_to_deltas(anchors, boxes, anchor_format, box_format,
                         encoding_format="center_yxhw", variance=None, image_shape=None):
    """Encodes boxes as offsets from anchors (the regression targets of detectors).

    Both are converted to `encoding_format` (center, size); the deltas are
    `(box_center - anchor_center) / anchor_size` and `log(box_size / anchor_size)` (sizes
    floored at the backend epsilon), divided by `variance` when given.

    Args:
        anchors: anchor boxes, shape `(N, 4)`.
        boxes: boxes to encode, shape `(N, 4)` or `(batch, N, 4)`.
        anchor_format: the format of `anchors`.
        box_format: the format of `boxes`.
        encoding_format: `"center_yxhw"` (default) or `"center_xywh"`.
        variance: optional 4 numbers the deltas are divided by.
        image_shape: `(height, width, channels)`, needed for relative formats.

    Returns:
        The deltas, with the shape of `boxes`, in `encoding_format` order.

    Raises:
        ValueError: if `variance` does not have 4 values or `encoding_format` is not one of
            the two center formats.
    """
    variance = _check_variance(variance)
    if encoding_format not in ("center_xywh", "center_yxhw"):
        raise ValueError("`encoding_format` should be one of 'center_xywh' or 'center_yxhw', "
                         f"got encoding_format={encoding_format!r}")
    height, width = _image_size(image_shape)
    encoded_anchors = convert_format(anchors, source=anchor_format, target=encoding_format,
                                     height=height, width=width)
    boxes = convert_format(boxes, source=box_format, target=encoding_format, height=height,
                           width=width)
    eps = backend.epsilon()
    anchor_dims = ops.maximum(encoded_anchors[..., 2:], eps)
    box_dims = ops.maximum(boxes[..., 2:], eps)
    deltas = ops.concatenate([(boxes[..., :2] - encoded_anchors[..., :2]) / anchor_dims,
                              ops.log(box_dims / anchor_dims)], axis=-1)
    if variance is not None:
        deltas = deltas / variance
    return deltas


def decode_deltas_to_boxes(anchors, boxes_delta, anchor_format, box_format,
                           encoded_format="center_yxhw", variance=None, image_shape=None):
    """Turns deltas from `encode_box_to_deltas` back into boxes in `box_format`.

    Args:
        anchors: anchor boxes of shape `(N, 4)`, or a dict of them (one entry per feature
            level).
        boxes_delta: deltas of shape `(N, 4)` or `(batch, N, 4)`, or a dict with the keys of
            `anchors`.
        anchor_format: the format of `anchors`.
        box_format: the format of the returned boxes.
        encoded_format: the delta layout, `"center_yxhw"` (default) or `"center_xywh"`.
        variance: optional 4 numbers the deltas are multiplied by first.
        image_shape: `(height, width, channels)`, needed for relative formats.

    Returns:
        The boxes (a dict of them for dict inputs).

    Raises:
        ValueError: if `variance` does not have 4 values or `encoded_format` is not one of
            the two center formats.
    """
    variance = _check_variance(variance)
    if encoded_format not in ("center_xywh", "center_yxhw"):
        raise ValueError("`encoded_format` should be 'center_xywh' or 'center_yxhw', but got "
                         f"encoded_format={encoded_format!r}")
    height, width = _image_size(image_shape)

    def decode(anchor, delta):
        encoded = convert_format(anchor, source=anchor_format, target=encoded_format,
                                 height=height, width=width)
        delta = _tensor(delta)
        if variance is not None:
            delta = delta * variance
        box = ops.concatenate([delta[..., :2] * encoded[..., 2:] + encoded[..., :2],
                               ops.exp(delta[..., 2:]) * encoded[..., 2:]], axis=-1)
        return convert_format(box, source=encoded_format, target=box_format, height=height,
                              width=width)

    if isinstance(anchors, dict) and isinstance(boxes_delta, dict):
        return {level: decode(anchor, boxes_delta[level]) for level, anchor in anchors.items()}
    return decode(anchors, boxes_delta)
