"""Layers acting on bounding boxes: `MaxNumBoundingBoxes`, which gives every image the same
number of boxes."""

from __future__ import annotations

import numpy as np

from fastkeras import ops
from fastkeras.backend.tape import Tensor, convert_to_tensor
from fastkeras.layers.image_preprocessing import _ImageLayer


def _as_tensor(x, dtype=None):
    if isinstance(x, Tensor):
        return x if dtype is None else ops.cast(x, dtype)
    return convert_to_tensor(x, dtype=dtype)


class MaxNumBoundingBoxes(_ImageLayer):
    """Truncates or pads the bounding boxes of each image to exactly `max_number`.

    Called on a dict `{"images", "bounding_boxes": {"boxes", "labels"}, ...}` it keeps the
    first `max_number` boxes (and labels) and pads with `fill_value` up to `max_number`; the
    images, `"labels"` and `"segmentation_masks"` pass unchanged. Boxes come out as float32.
    Called on images alone it returns them. Both batched (`boxes` of shape
    `(batch, N, 4)`) and single-image (`(N, 4)`) inputs work. A `bounding_box_format`
    argument is required when the input has bounding boxes (any format: boxes are not
    converted).

    Args:
        max_number: the number of boxes per image in the output.
        fill_value: the value of padded boxes and labels. Defaults to -1.
        **kwargs: base layer arguments, plus `data_format` and `bounding_box_format`.

    Example:

    >>> layer = MaxNumBoundingBoxes(max_number=10, bounding_box_format="xyxy")
    >>> out = layer({"images": np.zeros((1, 224, 224, 3)),
    ...              "bounding_boxes": {"boxes": np.array([[[10, 20, 100, 150]]]),
    ...                                 "labels": np.array([[1]])}})
    >>> out["bounding_boxes"]["boxes"].shape
    (1, 10, 4)
    """

    def __init__(self, max_number, fill_value=-1, **kwargs):
        super().__init__(**kwargs)
        self.max_number = int(max_number)
        self.fill_value = int(fill_value)
        if self.max_number < 0:
            raise ValueError("MaxNumBoundingBoxes: `max_number` must be a non-negative "
                             f"integer. Received: max_number={max_number}")

    def _images(self, images):
        x = _as_tensor(images)
        if x.dtype.kind == "f" and x.dtype != np.dtype(self.dtype):
            x = ops.cast(x, self.dtype)
        return x

    def _fit(self, values, batched):
        """`values` cut or padded along the boxes axis to `max_number`."""
        if not batched:
            values = ops.expand_dims(values, 0)
        count = values.shape[1]
        values = values[:, :self.max_number]
        if count < self.max_number:
            widths = [(0, 0)] * len(values.shape)
            widths[1] = (0, self.max_number - count)
            values = ops.pad(values, widths, constant_values=self.fill_value)
        return values if batched else ops.squeeze(values, 0)

    def _boxes(self, bounding_boxes, batched):
        if (not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes
                or "labels" not in bounding_boxes):
            raise ValueError("Expected `bounding_boxes` argument to be a dict with keys "
                             "'boxes' and 'labels'. Received: "
                             f"bounding_boxes={bounding_boxes!r}")
        boxes = _as_tensor(bounding_boxes["boxes"], "float32")
        labels = _as_tensor(bounding_boxes["labels"])
        rank = 3 if batched else 2
        if len(boxes.shape) != rank or boxes.shape[-1] != 4:
            raise ValueError("MaxNumBoundingBoxes: expected bounding_boxes['boxes'] of shape "
                             f"{'(batch, num_boxes, 4)' if batched else '(num_boxes, 4)'} "
                             "to go with the images. Received: "
                             f"bounding_boxes['boxes'].shape={tuple(boxes.shape)}")
        result = dict(bounding_boxes)
        result["boxes"] = self._fit(boxes, batched)
        result["labels"] = self._fit(labels, batched)
        return result

    def call(self, inputs, training=True):
        if not isinstance(inputs, dict):
            return self._images(inputs)
        if "images" not in inputs:
            raise ValueError("MaxNumBoundingBoxes: a dict input needs an 'images' entry. "
                             f"Received keys: {sorted(inputs)}")
        data = dict(inputs)
        images = self._images(inputs["images"])
        data["images"] = images
        batched = len(images.shape) == 4
        if "bounding_boxes" in data:
            if not self.bounding_box_format:
                raise ValueError("You passed an input with a 'bounding_boxes' key, but you "
                                 "didn't specify a bounding box format. Pass a "
                                 "`bounding_box_format` argument to your MaxNumBoundingBoxes "
                                 "layer, e.g. `bounding_box_format='xyxy'`. Received: "
                                 f"bounding_box_format={self.bounding_box_format!r}")
            data["bounding_boxes"] = self._boxes(data["bounding_boxes"], batched)
        if "labels" in data:
            data["labels"] = _as_tensor(data["labels"])
        return data

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict) and "bounding_boxes" in input_shape:
            shapes = dict(input_shape)
            boxes_shapes = dict(input_shape["bounding_boxes"])
            extra = set(boxes_shapes) - {"boxes", "labels"}
            if extra:
                raise KeyError(f"There are unsupported keys in `bounding_boxes`: "
                               f"{sorted(extra)}. Only `boxes` and `labels` are supported.")
            for key in ("boxes", "labels"):
                shape = list(boxes_shapes[key])
                shape[1] = self.max_number
                boxes_shapes[key] = shape
            shapes["bounding_boxes"] = boxes_shapes
            return shapes
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_number": self.max_number, "fill_value": self.fill_value})
        return config
