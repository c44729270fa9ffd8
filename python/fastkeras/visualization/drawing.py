"""Drawing bounding boxes and segmentation masks onto batches of images, with numpy only."""

from __future__ import annotations

import numpy as np

from fastkeras import backend, ops
from fastkeras.utils.bounding_boxes.converters import convert_format


def _numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


# --- rectangles ---------------------------------------------------------------------------

def _set(image, rows, cols, color):
    """Paints the pixels of the rectangle rows[0]..rows[1], cols[0]..cols[1] (inclusive,
    clipped to the image)."""
    height, width = image.shape[:2]
    r0, r1 = max(rows[0], 0), min(rows[1], height - 1)
    c0, c1 = max(cols[0], 0), min(cols[1], width - 1)
    if r0 <= r1 and c0 <= c1:
        image[r0:r1 + 1, c0:c1 + 1] = color


def _disk(image, cy, cx, radius, color):
    height, width = image.shape[:2]
    r0, r1 = max(cy - radius, 0), min(cy + radius, height - 1)
    c0, c1 = max(cx - radius, 0), min(cx + radius, width - 1)
    if r0 > r1 or c0 > c1:
        return
    yy, xx = np.mgrid[r0:r1 + 1, c0:c1 + 1]
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius
    image[r0:r1 + 1, c0:c1 + 1][inside] = color


def _rectangle(image, x1, y1, x2, y2, color, thickness):
    """An axis-aligned rectangle outline with corners (x1, y1) and (x2, y2), both included,
    like OpenCV's `rectangle`: lines `2 * (thickness // 2) + 1` pixels wide centred on the
    edges (1 pixel for thickness 1) with rounded outer corners; a negative thickness fills
    the rectangle."""
    x1, x2 = min(x1, x2), max(x1, x2)
    y1, y2 = min(y1, y2), max(y1, y2)
    if thickness < 0:
        _set(image, (y1, y2), (x1, x2), color)
        return
    half = max(int(thickness), 1) // 2
    for y in (y1, y2):
        _set(image, (y - half, y + half), (x1, x2), color)
    for x in (x1, x2):
        _set(image, (y1, y2), (x - half, x + half), color)
    if half:
        for y in (y1, y2):
            for x in (x1, x2):
                _disk(image, y, x, half, color)


# --- text ---------------------------------------------------------------------------------

# A 3x5 pixel font for when Pillow is missing: five octal digits per glyph, one per row,
# the high bit being the left column.
_GLYPHS = {
    "0": "75557", "1": "26227", "2": "71747", "3": "71717", "4": "55711", "5": "74717",
    "6": "74757", "7": "71111", "8": "75757", "9": "75717", "A": "25755", "B": "65656",
    "C": "34443", "D": "65556", "E": "74647", "F": "74644", "G": "34553", "H": "55755",
    "I": "72227", "J": "11152", "K": "55655", "L": "44447", "M": "57755", "N": "65555",
    "O": "25552", "P": "65644", "Q": "25563", "R": "65655", "S": "34216", "T": "72222",
    "U": "55557", "V": "55552", "W": "55775", "X": "55255", "Y": "55222", "Z": "71247",
    " ": "00000", ".": "00002", "|": "22222", "-": "00700", "_": "00007", ":": "02020",
    "?": "71202", "/": "11244", "(": "24442", ")": "42224", "%": "51245", "+": "02720",
}


def _text_mask_builtin(text, height, width, x, y, font_scale):
    mask = np.zeros((height, width), bool)
    size = max(1, round(4 * font_scale))
    top = y - 5 * size + 1
    for i, char in enumerate(text.upper()):
        rows = _GLYPHS.get(char, _GLYPHS["?"])
        left = x + i * 4 * size
        for r, digit in enumerate(rows):
            bits = int(digit, 8)
            for c in range(3):
                if bits & (4 >> c):
                    r0, c0 = top + r * size, left + c * size
                    rs = slice(max(r0, 0), max(min(r0 + size, height), 0))
                    cs = slice(max(c0, 0), max(min(c0 + size, width), 0))
                    mask[rs, cs] = True
    return mask


def _text_mask(text, height, width, x, y, font_scale, thickness):
    """The pixels of `text` written with its baseline's left end at (x, y)."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        return _text_mask_builtin(text, height, width, x, y, font_scale)
    canvas = Image.new("L", (width, height), 0)
    try:
        font = ImageFont.load_default(size=max(6, round(30 * font_scale)))
    except (TypeError, OSError, ImportError):
        font = ImageFont.load_default()
    ImageDraw.Draw(canvas).text((x, y), text, fill=255, font=font, anchor="ls",
                                stroke_width=max(int(thickness) - 1, 0) // 2, stroke_fill=255)
    return np.asarray(canvas) >= 128


def _find_text_location(x, y, font_scale, thickness):
    font_height = int(font_scale * 12)
    if y - 8 - 2 * font_height > 0:
        return x, y - 8
    return x + 3, y + 2 * font_height + thickness + 3


# --- public functions -----------------------------------------------------------------------

def _channel_color(color, channels, dtype):
    color = list(color)[:channels] + [0] * max(channels - len(color), 0)
    return np.asarray(color, dtype=np.float64).clip(0, 255).astype(dtype)


def draw_bounding_boxes(images, bounding_boxes, bounding_box_format, class_mapping=None,
                        color=(128, 128, 128), line_thickness=2, text_thickness=1,
                        font_scale=1.0, data_format=None):
    """Draws bounding boxes (and optionally their class names) onto a batch of images.

    Drawing is done with numpy, so OpenCV is not needed. Box outlines follow OpenCV's
    `rectangle` (corners from the boxes' coordinates truncated to integers, lines
    `2 * (line_thickness // 2) + 1` pixels wide for a thickness above 1); class names are
    written with Pillow's default font when Pillow is installed and with a small built-in
    pixel font otherwise, so the pixels of text labels differ from OpenCV's Hershey font
    (their placement follows the same rule).

    Args:
        images: a batch of images, shape `(batch, height, width, channels)` (or
            channels-first). Floating images with values at most 1 are scaled by 255;
            others are clipped to [0, 255]. The result is uint8.
        bounding_boxes: a dict with `"boxes"` `(batch, num_boxes, 4)`, `"labels"`
            `(batch, num_boxes)` (boxes labelled -1 are skipped) and optionally
            `"confidences"` `(batch, num_boxes)`, appended to the written class names.
        bounding_box_format: the format of the boxes (see
            `keras.utils.bounding_boxes.convert_format`).
        class_mapping: a dict from class id to name; boxes whose class is in it get their
            name written next to them. Defaults to None (no text).
        color: the RGB color of the boxes and text. Defaults to `(128, 128, 128)`.
        line_thickness: the box line thickness. Defaults to 2.
        text_thickness: the text thickness. Defaults to 1 (`line_thickness` if falsy).
        font_scale: the text size factor. Defaults to 1.0.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.

    Returns:
        A uint8 numpy array of the images with the boxes drawn, shaped like `images`.

    Raises:
        ValueError: if `images` is not 4-D or `bounding_boxes` lacks `"boxes"` or
            `"labels"`.
        TypeError: if `bounding_boxes` is not a dict.
    """
    class_mapping = class_mapping or {}
    text_thickness = text_thickness or line_thickness
    data_format = data_format or backend.image_data_format()
    images_shape = tuple(ops.shape(images))
    if len(images_shape) != 4:
        raise ValueError(f"`images` must be batched 4D tensor. Received: "
                         f"images.shape={images_shape}")
    if not isinstance(bounding_boxes, dict):
        raise TypeError(f"`bounding_boxes` should be a dict. Received: "
                        f"bounding_boxes={bounding_boxes} of type {type(bounding_boxes)}")
    if "boxes" not in bounding_boxes or "labels" not in bounding_boxes:
        raise ValueError("`bounding_boxes` should be a dict containing 'boxes' and 'labels' "
                         f"keys. Received: bounding_boxes={bounding_boxes}")
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("`data_format` must be 'channels_last' or 'channels_first'. "
                         f"Received: data_format={data_format!r}")
    channels_first = data_format == "channels_first"
    height, width = images_shape[-2:] if channels_first else images_shape[1:3]
    converted = convert_format(dict(bounding_boxes), bounding_box_format, "xyxy", height,
                               width)

    images = _numpy(images)
    if images.dtype.kind == "f" and images.size > 0:
        if images.max() <= 1.0:
            images = np.clip(images, 0, 1) * 255
        else:
            images = np.clip(images, 0, 255)
    images = images.astype("uint8")
    if channels_first:
        images = np.ascontiguousarray(np.transpose(images, (0, 2, 3, 1)))
    boxes = _numpy(converted["boxes"])
    labels = _numpy(converted["labels"])
    confidences = (_numpy(converted["confidences"]) if "confidences" in converted
                   else None)
    paint = _channel_color(color, images.shape[-1], images.dtype)

    for i in range(images.shape[0]):
        image = images[i]
        for j in range(boxes[i].shape[0]):
            x1, y1, x2, y2 = (int(v) for v in boxes[i][j].astype("int32"))
            c = int(np.asarray(labels[i][j]).astype("int32"))
            if c == -1:
                continue
            _rectangle(image, x1, y1, x2, y2, paint, int(line_thickness))
            if c in class_mapping:
                label = class_mapping[c]
                if confidences is not None:
                    label = f"{label} | {confidences[i][j]:.2f}"
                tx, ty = _find_text_location(x1, y1, font_scale, text_thickness)
                mask = _text_mask(str(label), image.shape[0], image.shape[1], tx, ty,
                                  font_scale, text_thickness)
                image[mask] = paint
    if channels_first:
        images = np.transpose(images, (0, 3, 1, 2))
    return images


def _generate_color_palette(num_classes):
    palette = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1])
    return [((i * palette) % 255).tolist() for i in range(num_classes)]


def draw_segmentation_masks(images, segmentation_masks, num_classes=None, color_mapping=None,
                            alpha=0.8, blend=True, ignore_index=-1, data_format=None):
    """Paints segmentation masks onto a batch of images.

    Each pixel of class k in `[0, num_classes)` takes that class's color; with `blend` the
    color is mixed with the image as `image * (1 - alpha) + color * alpha` (pixels equal to
    `ignore_index` keep the image) and the result is cast to uint8.

    Args:
        images: a batch of images, `(batch, height, width, channels)` (or channels-first).
        segmentation_masks: integer class ids, `(batch, height, width, 1)` (or
            `(batch, 1, height, width)` channels-first); `(batch, height, width)` is also
            accepted.
        num_classes: the number of classes. Defaults to the largest value in the masks
            (so, as in Keras, that largest class is then not painted).
        color_mapping: a dict from class id to RGB color for every id in
            `range(num_classes)`. Defaults to a generated palette (class 0 black).
        alpha: the opacity of the mask colors. Defaults to 0.8.
        blend: whether to blend with the images. If False the painted float32 images are
            returned unblended (pixels of no class keep the image). Defaults to True.
        ignore_index: the mask value that is never drawn. Defaults to -1.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.

    Returns:
        A numpy array, channels-last `(batch, height, width, channels)`: uint8 when
        `blend`, float32 otherwise.

    Raises:
        ValueError: if `images` is not 4-D.
        TypeError: if `segmentation_masks` is not of an integer dtype.
    """
    data_format = data_format or backend.image_data_format()
    images_shape = tuple(ops.shape(images))
    if len(images_shape) != 4:
        raise ValueError(f"`images` must be batched 4D tensor. Received: "
                         f"images.shape={images_shape}")
    images = _numpy(images)
    masks = _numpy(segmentation_masks)
    if masks.ndim == 3:
        masks = masks[..., None] if data_format != "channels_first" else masks[:, None]
    if data_format == "channels_first":
        images = np.transpose(images, (0, 2, 3, 1))
        masks = np.transpose(masks, (0, 2, 3, 1))
    images = images.astype("float32")
    if masks.dtype.kind not in "iu":
        raise TypeError("`segmentation_masks` must be in integer dtype. Received: "
                        f"segmentation_masks.dtype={backend.standardize_dtype(masks.dtype)}")
    if num_classes is None:
        num_classes = int(masks.max())
    if color_mapping is None:
        colors = _generate_color_palette(num_classes)
    else:
        colors = [color_mapping[i] for i in range(num_classes)]
    masks = masks[..., 0]
    valid = masks != ignore_index
    drawn = images.copy()
    for k, color in enumerate(colors):
        drawn[masks == k] = np.asarray(color, dtype=drawn.dtype)[None, :]
    if not blend:
        return drawn
    out = images * np.float32(1 - alpha) + drawn * np.float32(alpha)
    out = np.where(valid[..., None], out, images)
    return out.astype("uint8")
