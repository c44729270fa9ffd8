"""Drawing boxes and masks onto images and plotting image galleries, as
`keras.visualization`. Drawing needs only numpy; the plotting functions need matplotlib
(the "plot" extra)."""

from fastkeras.visualization.drawing import draw_bounding_boxes, draw_segmentation_masks
from fastkeras.visualization.plotting import (
    plot_bounding_box_gallery,
    plot_image_gallery,
    plot_segmentation_mask_gallery,
)

__all__ = [
    "draw_bounding_boxes",
    "draw_segmentation_masks",
    "plot_bounding_box_gallery",
    "plot_image_gallery",
    "plot_segmentation_mask_gallery",
]
