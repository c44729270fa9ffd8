"""Intersection over union of bounding boxes (`keras.utils.bounding_boxes.compute_iou` and
`compute_ciou`)."""

from __future__ import annotations

import math

from fastkeras import backend, ops
from fastkeras.utils.bounding_boxes.converters import _check_format, _tensor, convert_format


def _image_size(image_shape, fmt):
    if "rel" in fmt and image_shape is None:
        raise ValueError("When using relative bounding box formats (e.g. `rel_yxyx`) the "
                         "`image_shape` argument must be provided. Received: "
                         f"bounding_box_format={fmt!r}, image_shape={image_shape}")
    if image_shape is None:
        return None, None
    height, width, _ = image_shape
    return height, width


def _rank_check(rank, arg, ranks):
    if rank not in (2, 3):
        raise ValueError(f"compute_iou() expects {arg} to be batched, or to be unbatched. "
                         f"Received len(boxes1.shape)={ranks[0]}, "
                         f"len(boxes2.shape)={ranks[1]}. Expected either "
                         f"len({arg}.shape)=2 or len({arg}.shape)=3.")


def compute_iou(boxes1, boxes2, bounding_box_format, use_masking=False, mask_val=-1,
                image_shape=None):
    """The pairwise intersection-over-union table of two sets of boxes.

    Shapes: `(M, 4)` with `(N, 4)` gives `(M, N)`; if either is batched (`(batch, M, 4)` or
    `(batch, N, 4)`) the result is `(batch, M, N)`.

    Args:
        boxes1: the first boxes.
        boxes2: the second boxes.
        bounding_box_format: the format of both (see `convert_format`).
        use_masking: if True, pairs where a box has all 4 coordinates negative (padding)
            get `mask_val`. Defaults to False.
        mask_val: the value of masked pairs. Defaults to -1.
        image_shape: `(height, width, channels)`, needed for relative formats.

    Returns:
        The IoU table, `intersection / (union + epsilon)`.
    """
    boxes1, boxes2 = _tensor(boxes1), _tensor(boxes2)
    ranks = (len(boxes1.shape), len(boxes2.shape))
    _rank_check(ranks[0], "boxes1", ranks)
    _rank_check(ranks[1], "boxes2", ranks)
    fmt = _check_format(bounding_box_format, "bounding_box_format")
    height, width = _image_size(image_shape, fmt)
    boxes1 = convert_format(boxes1, source=fmt, target="yxyx", height=height, width=width)
    boxes2 = convert_format(boxes2, source=fmt, target="yxyx", height=height, width=width)

    perm2 = [1, 0] if ranks[1] == 2 else [0, 2, 1]
    y_min1, x_min1, y_max1, x_max1 = ops.split(boxes1, 4, axis=-1)  # (..., M, 1)
    y_min2, x_min2, y_max2, x_max2 = [ops.transpose(v, perm2)  # (..., 1, N)
                                      for v in ops.split(boxes2, 4, axis=-1)]
    inter_h = ops.maximum(ops.minimum(y_max1, y_max2) - ops.maximum(y_min1, y_min2), 0.0)
    inter_w = ops.maximum(ops.minimum(x_max1, x_max2) - ops.maximum(x_min1, x_min2), 0.0)
    intersection = inter_h * inter_w

    area1 = (y_max1 - y_min1) * (x_max1 - x_min1)  # (..., M, 1)
    area2 = (y_max2 - y_min2) * (x_max2 - x_min2)  # (..., 1, N)
    union = area1 + area2 - intersection
    result = ops.divide(intersection, union + backend.epsilon())
    if not use_masking:
        return result
    mask1 = ops.less(ops.max(boxes1, axis=-1, keepdims=True), 0.0)
    mask2 = ops.transpose(ops.less(ops.max(boxes2, axis=-1, keepdims=True), 0.0), perm2)
    background = ops.logical_or(mask1, mask2)
    return ops.where(background, ops.cast(mask_val, result.dtype), result)


def compute_ciou(boxes1, boxes2, bounding_box_format, image_shape=None):
    """Complete IoU of paired boxes: IoU minus the squared center distance over the squared
    diagonal of the enclosing box, minus an aspect-ratio consistency term.

    Args:
        boxes1: boxes of shape `(..., 4)`.
        boxes2: boxes of a shape broadcastable with `boxes1`.
        bounding_box_format: the format of both (see `convert_format`).
        image_shape: `(height, width, channels)`, needed for relative formats.

    Returns:
        The CIoU of each pair, shape `(...)`.
    """
    fmt = _check_format(bounding_box_format, "bounding_box_format")
    height, width = _image_size(image_shape, fmt)
    boxes1 = convert_format(boxes1, source=fmt, target="xyxy", height=height, width=width)
    boxes2 = convert_format(boxes2, source=fmt, target="xyxy", height=height, width=width)
    eps = backend.epsilon()
    x_min1, y_min1, x_max1, y_max1 = ops.split(boxes1, 4, axis=-1)
    x_min2, y_min2, x_max2, y_max2 = ops.split(boxes2, 4, axis=-1)

    width_1 = x_max1 - x_min1
    height_1 = y_max1 - y_min1 + eps
    width_2 = x_max2 - x_min2
    height_2 = y_max2 - y_min2 + eps

    intersection = (ops.maximum(ops.minimum(x_max1, x_max2) - ops.maximum(x_min1, x_min2), 0)
                    * ops.maximum(ops.minimum(y_max1, y_max2) - ops.maximum(y_min1, y_min2),
                                  0))
    union = width_1 * height_1 + width_2 * height_2 - intersection + eps
    iou = ops.squeeze(ops.divide(intersection, union + eps), axis=-1)

    convex_w = ops.maximum(x_max1, x_max2) - ops.minimum(x_min1, x_min2)
    convex_h = ops.maximum(y_max1, y_max2) - ops.minimum(y_min1, y_min2)
    diagonal_sq = ops.squeeze(convex_w ** 2 + convex_h ** 2 + eps, axis=-1)
    centers_sq = ops.squeeze(((x_min1 + x_max1) / 2 - (x_min2 + x_max2) / 2) ** 2
                             + ((y_min1 + y_max1) / 2 - (y_min2 + y_max2) / 2) ** 2, axis=-1)
    v = ops.squeeze((4 / math.pi ** 2) * ops.power(
        ops.arctan(width_2 / height_2) - ops.arctan(width_1 / height_1), 2), axis=-1)
    alpha = v / (v - iou + (1 + eps))
    return iou - (centers_sq / diagonal_sq + v * alpha)
