"""Image galleries drawn with matplotlib (an optional dependency: the "plot" extra)."""

from __future__ import annotations

import functools
import math

import numpy as np

from fastkeras import backend, ops
from fastkeras.visualization.drawing import draw_bounding_boxes, draw_segmentation_masks


def _pyplot(fn):
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(f"The `{fn}` function requires the `matplotlib` package. Please "
                          "install it with `pip install matplotlib` (or the `plot` extra: "
                          "`pip install fastkeras[plot]`).") from error
    return plt


def _numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def _check_batched(images):
    shape = tuple(ops.shape(images))
    if len(shape) != 4:
        raise ValueError(f"`images` must be batched 4D tensor. Received: images.shape={shape}")
    return shape


def _to_value_range(images, original_range, target_range):
    """Linearly maps float32 `images` from `original_range` to `target_range`."""
    if tuple(original_range) == tuple(target_range):
        return images.astype("float32")
    images = images.astype("float32")
    images = (images - original_range[0]) / (original_range[1] - original_range[0])
    scale = target_range[1] - target_range[0]
    return (images * scale + target_range[0]).astype("float32")


def plot_image_gallery(images, y_true=None, y_pred=None, label_map=None, rows=None, cols=None,
                       value_range=(0, 255), scale=2, path=None, show=None, transparent=True,
                       dpi=60, legend_handles=None, data_format=None):
    """Shows (or saves) a grid of images, optionally titled with true/predicted labels.

    Args:
        images: a batch of images, `(batch, height, width, channels)` (or channels-first).
        y_true: optional true class ids, one per image.
        y_pred: optional predicted class ids, one per image.
        label_map: a dict from class id to name; required with `y_true` or `y_pred`.
        rows: grid rows. Defaults to `ceil(sqrt(batch))`.
        cols: grid columns. Defaults to `batch // rows`.
        value_range: the value range of `images`, mapped to [0, 255]. Defaults to
            `(0, 255)`.
        scale: the size of each image in inches. Defaults to 2.
        path: if given, the figure is saved there (and closed) instead of shown.
        show: whether to call `plt.show()`. Defaults to True when `path` is None.
        transparent: whether the saved figure has a transparent background.
        dpi: the resolution of the saved figure. Defaults to 60.
        legend_handles: optional matplotlib handles for a figure legend.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.

    Raises:
        ImportError: if matplotlib is not installed.
        ValueError: if both `path` and `show` are given, if `images` is not 4-D, or if
            labels are given without `label_map`.
    """
    plt = _pyplot("plot_image_gallery")
    if path is not None and show:
        raise ValueError("plot_gallery() expects either `path` to be set, or `show` to be "
                         f"true. Received: path={path!r}, show={show!r}")
    if (y_true is not None or y_pred is not None) and label_map is None:
        raise ValueError("If `y_true` or `y_pred` are provided, a `label_map` must also be "
                         "provided. Received: label_map=None")
    show = show if show is not None else (path is None)
    data_format = data_format or backend.image_data_format()
    shape = _check_batched(images)
    batch_size = shape[0]
    rows = rows or math.ceil(math.sqrt(batch_size))
    cols = cols or batch_size // rows
    images = _numpy(images)[:min(rows * cols, batch_size)]
    if data_format == "channels_first":
        images = np.transpose(images, (0, 2, 3, 1))

    fig, axes = plt.subplots(nrows=rows, ncols=cols, figsize=(cols * scale, rows * scale),
                             frameon=False, layout="tight", squeeze=True, sharex="row",
                             sharey="col")
    fig.subplots_adjust(wspace=0, hspace=0)
    if isinstance(axes, np.ndarray) and axes.ndim == 1:
        axes = np.expand_dims(axes, 0 if rows == 1 else -1)
    if legend_handles is not None:
        fig.legend(handles=legend_handles, loc="lower center")
    images = _to_value_range(images, value_range, (0, 255))
    if y_true is not None:
        y_true = _numpy(y_true)
    if y_pred is not None:
        y_pred = _numpy(y_pred)
    for row in range(rows):
        for col in range(cols):
            index = row * cols + col
            axis = axes[row, col] if isinstance(axes, np.ndarray) else axes
            axis.margins(x=0, y=0)
            axis.axis("off")
            if index >= len(images):
                continue
            axis.imshow(images[index].astype("uint8"))
            title = []
            if y_true is not None and index < len(y_true):
                title.append(f"Label: {label_map.get(y_true[index], 'Unknown')}")
            if y_pred is not None and index < len(y_pred):
                title.append(f"Pred: {label_map.get(y_pred[index], 'Unknown')}")
            if title:
                axis.set_title("  ".join(title), fontsize=8)
    if path is not None:
        plt.savefig(fname=path, pad_inches=0, bbox_inches="tight", transparent=transparent,
                    dpi=dpi)
        plt.close()
    elif show:
        plt.show()
        plt.close()
    return fig


def plot_bounding_box_gallery(images, bounding_box_format, y_true=None, y_pred=None,
                              value_range=(0, 255), true_color=(0, 188, 212),
                              pred_color=(255, 235, 59), line_thickness=2, font_scale=1.0,
                              text_thickness=None, class_mapping=None,
                              ground_truth_mapping=None, prediction_mapping=None, legend=False,
                              legend_handles=None, rows=None, cols=None, data_format=None,
                              **kwargs):
    """Shows a gallery of images with their true and/or predicted boxes drawn
    (`draw_bounding_boxes`), via `plot_image_gallery`.

    Args:
        images: a batch of images, `(batch, height, width, channels)` (or channels-first).
        bounding_box_format: the format of the boxes.
        y_true: optional dict of true `"boxes"` and `"labels"` (see `draw_bounding_boxes`).
        y_pred: optional dict of predicted boxes, labels (and `"confidences"`).
        value_range: the value range of `images`. Defaults to `(0, 255)`.
        true_color: RGB color of the true boxes. Defaults to `(0, 188, 212)`.
        pred_color: RGB color of the predicted boxes. Defaults to `(255, 235, 59)`.
        line_thickness: box line thickness. Defaults to 2.
        font_scale: text size factor. Defaults to 1.0.
        text_thickness: text thickness. Defaults to `line_thickness`.
        class_mapping: a dict from class id to name for both kinds of boxes.
        ground_truth_mapping: the mapping for true boxes (overrides `class_mapping`).
        prediction_mapping: the mapping for predicted boxes (overrides `class_mapping`).
        legend: whether to add a "Ground Truth"/"Prediction" legend. Defaults to False.
        legend_handles: custom legend handles (not together with `legend`).
        rows: grid rows.
        cols: grid columns.
        data_format: `"channels_last"` or `"channels_first"`.
        **kwargs: passed on to `plot_image_gallery`.

    Returns:
        The matplotlib figure.

    Raises:
        ImportError: if matplotlib is not installed.
        ValueError: if `images` is not 4-D, or both `legend` and `legend_handles` are set.
    """
    _pyplot("plot_bounding_box_gallery")
    from matplotlib import patches

    prediction_mapping = prediction_mapping or class_mapping
    ground_truth_mapping = ground_truth_mapping or class_mapping
    data_format = data_format or backend.image_data_format()
    _check_batched(images)
    plotted = _numpy(images)
    if data_format == "channels_first":
        plotted = np.transpose(plotted, (0, 2, 3, 1))
    draw = functools.partial(draw_bounding_boxes, bounding_box_format=bounding_box_format,
                             line_thickness=line_thickness, text_thickness=text_thickness,
                             font_scale=font_scale, data_format="channels_last")
    if y_true is not None:
        plotted = draw(plotted, y_true, color=true_color, class_mapping=ground_truth_mapping)
    if y_pred is not None:
        plotted = draw(plotted, y_pred, color=pred_color, class_mapping=prediction_mapping)
    if legend:
        if legend_handles:
            raise ValueError("Only pass `legend` OR `legend_handles` to "
                             "`keras.visualization.plot_bounding_box_gallery()`.")
        legend_handles = [
            patches.Patch(color=np.array(true_color) / 255.0, label="Ground Truth"),
            patches.Patch(color=np.array(pred_color) / 255.0, label="Prediction"),
        ]
    return plot_image_gallery(plotted, value_range=value_range, legend_handles=legend_handles,
                              rows=rows, cols=cols, data_format="channels_last", **kwargs)


def plot_segmentation_mask_gallery(images, num_classes, value_range=(0, 255), y_true=None,
                                   y_pred=None, color_mapping=None, blend=True, alpha=0.8,
                                   ignore_index=-1, data_format=None, **kwargs):
    """Shows each image next to its true and/or predicted segmentation masks drawn on it
    (`draw_segmentation_masks`): one row per image, via `plot_image_gallery`.

    Args:
        images: a batch of images, `(batch, height, width, channels)` (or channels-first).
        num_classes: the number of classes.
        value_range: the value range of `images`. Defaults to `(0, 255)`.
        y_true: optional true masks, `(batch, height, width[, 1])`.
        y_pred: optional predicted masks, shaped like `y_true`.
        color_mapping: a dict from class id to RGB color. Defaults to a generated palette.
        blend: whether to blend masks with the images. Defaults to True.
        alpha: mask opacity. Defaults to 0.8.
        ignore_index: the mask value never drawn. Defaults to -1.
        data_format: `"channels_last"` or `"channels_first"`.
        **kwargs: passed on to `plot_image_gallery`.

    Returns:
        The matplotlib figure.

    Raises:
        ImportError: if matplotlib is not installed.
        ValueError: if `images` is not 4-D.
    """
    _pyplot("plot_segmentation_mask_gallery")
    data_format = data_format or backend.image_data_format()
    batch_size = _check_batched(images)[0]
    images_np = _numpy(images)
    if data_format == "channels_first":
        images_np = np.transpose(images_np, (0, 2, 3, 1))
    draw = functools.partial(draw_segmentation_masks, num_classes=num_classes,
                             color_mapping=color_mapping, alpha=alpha,
                             ignore_index=ignore_index, blend=blend,
                             data_format="channels_last")

    def masks(y):
        y = _numpy(y)
        if data_format == "channels_first" and y.ndim == 4:
            y = np.transpose(y, (0, 2, 3, 1))
        return draw(images_np, y.astype("int32"))

    drawn = [masks(y) for y in (y_true, y_pred) if y is not None]
    gallery = []
    for i in range(batch_size):
        gallery.append(images_np[i])
        gallery.extend(d[i] for d in drawn)
    return plot_image_gallery(np.stack(gallery, axis=0), value_range=value_range,
                              rows=batch_size, cols=1 + len(drawn),
                              data_format="channels_last", **kwargs)
