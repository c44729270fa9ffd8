"""`text_dataset_from_directory` and `image_dataset_from_directory`: the files of a directory
tree (one subfolder per class) as a `PyDataset` of numpy batches for `fit`/`evaluate`/
`predict` or a `for` loop.

Keras returns a `tf.data.Dataset`; fastkeras has no TensorFlow, so the files are read batch
by batch by a `PyDataset` subclass that follows the same rules:

- Files are listed class by class (class subfolders in alphanumeric order, or in the order
  of `class_names`), each class's folder walked recursively with folders and then file names
  in sorted order; only files whose lower-cased name ends in an allowed extension count.
- With `shuffle=True` the whole list (and its labels) is permuted once with
  `np.random.RandomState(seed)`; the validation split is then the last
  `int(validation_split * n)` files and the training split the ones before, so both subsets
  built with the same seed are disjoint and together hold every file.
- A shuffled dataset also mixes its files every epoch through a shuffle buffer of
  `8 * batch_size` files (1024 when unbatched), drawn anew each epoch as tf.data's `shuffle`
  does by default (the order itself is not tf.data's). With `subset="both"` the validation
  dataset is not shuffled per epoch.
- Labels are int32 class indices ("int"), float32 one-hot rows ("categorical") or float32
  `(batch, 1)` columns of 0/1 ("binary"); with `labels=None` or `label_mode=None` batches
  hold the inputs alone.
"""

from __future__ import annotations

import codecs
import os

import numpy as np

from fastkeras.utils.io_utils import print_msg
from fastkeras.utils.timeseries import EpochOrderedDataset

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TEXT_FORMATS = (".txt",)
_LABEL_MODES = ("int", "categorical", "binary", None)
_COLOR_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
_PIL_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
# The interpolations Keras accepts, and the ones fastkeras's resizing implements.
_KERAS_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5",
                         "gaussian", "mitchellcubic")
_INTERPOLATIONS = ("bilinear", "nearest", "bicubic")


# --- listing the files ----------------------------------------------------------------------

def _class_folders(directory, class_names):
    found = sorted(name for name in os.listdir(directory)
                   if not name.startswith(".")
                   and os.path.isdir(os.path.join(directory, name)))
    if class_names is None:
        return found
    if not set(class_names) <= set(found):
        raise ValueError("`class_names` must name subdirectories of the target directory. "
                         f"Subdirectories: {found} (or a subset of them); received: "
                         f"class_names={class_names}")
    return list(class_names)


def _files_under(folder, formats, follow_links):
    """Paths of the allowed files under `folder`, folder by folder in sorted order."""
    walked = sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0])
    paths = []
    for root, _, names in walked:
        paths.extend(os.path.join(root, name) for name in sorted(names)
                     if name.lower().endswith(formats))
    return paths


def _index_directory(directory, labels, formats, class_names, shuffle, seed, follow_links,
                     verbose):
    """(file paths, labels or None, class names or None) in the dataset's order."""
    if labels == "inferred":
        classes = _class_folders(directory, class_names)
        paths, label_list = [], []
        for index, name in enumerate(classes):
            found = _files_under(os.path.join(directory, name), formats, follow_links)
            paths += found
            label_list += [index] * len(found)
        labels = np.asarray(label_list, dtype=np.int32)
    else:
        if class_names is not None:
            raise ValueError("`class_names` can only be passed with `labels=\"inferred\"`. "
                             f"Received: labels={labels!r}, class_names={class_names!r}")
        paths = _files_under(directory, formats, follow_links)
        classes = None
        if labels is not None:
            if len(labels) != len(paths):
                raise ValueError(f"`labels` has {len(labels)} entries but {len(paths)} files "
                                 f"were found in directory {directory}. Received: "
                                 f"labels={labels!r}")
            classes = [str(label) for label in sorted(set(labels))]
            labels = np.asarray(labels)
    if verbose:
        if labels is None:
            print_msg(f"Found {len(paths)} files.")
        else:
            print_msg(f"Found {len(paths)} files belonging to {len(classes)} classes.")
    if shuffle:
        # the same permutation for the paths and their labels
        order = np.arange(len(paths))
        np.random.RandomState(seed).shuffle(order)
        paths = [paths[i] for i in order]
        if labels is not None:
            labels = labels[order]
    return paths, labels, classes


def _split(paths, labels, validation_split, subset, verbose):
    if not validation_split:
        return paths, labels
    num_val = int(validation_split * len(paths))
    # As in Keras, the slices are [:-num_val] and [-num_val:] (so a split of 0 files leaves
    # no training files and every file for validation).
    if subset == "training":
        if verbose:
            print_msg(f"Using {len(paths) - num_val} files for training.")
        keep = slice(None, -num_val)
    else:
        if verbose:
            print_msg(f"Using {num_val} files for validation.")
        keep = slice(-num_val, None)
    return paths[keep], None if labels is None else labels[keep]


# --- arguments ------------------------------------------------------------------------------

def _check_common(labels, label_mode, class_names, validation_split, subset, shuffle, seed,
                  fmt, what):
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError("`labels` must be \"inferred\", None or a list/tuple of integer "
                             f"labels, one per {what} file in the directory (sorted by path). "
                             f"Received: labels={labels!r}")
        if class_names:
            raise ValueError("`class_names` can only be passed with `labels=\"inferred\"`. "
                             f"Received: labels={labels!r}, class_names={class_names!r}")
    if label_mode not in _LABEL_MODES:
        raise ValueError('`label_mode` must be one of "int", "categorical", "binary" or None. '
                         f"Received: label_mode={label_mode!r}")
    if fmt not in ("tf", "grain"):
        raise ValueError(f'`format` must be "tf" or "grain". Received: format={fmt!r}')
    if validation_split and not 0 < validation_split < 1:
        raise ValueError("`validation_split` must be between 0 and 1. "
                         f"Received: validation_split={validation_split!r}")
    if bool(validation_split) != bool(subset):
        raise ValueError("`subset` and `validation_split` must be set together. Received: "
                         f"subset={subset!r}, validation_split={validation_split!r}")
    if subset not in ("training", "validation", "both", None):
        raise ValueError('`subset` must be "training", "validation" or "both". '
                         f"Received: subset={subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError("`seed` must be given with `validation_split` and `shuffle=True`, so "
                         "that the training and validation subsets do not overlap. "
                         f"Received: seed={seed!r}")


def _build(directory, labels, label_mode, class_names, batch_size, shuffle, seed,
           validation_split, subset, follow_links, verbose, formats, what, load):
    """The dataset (or [training, validation] for subset="both") of the files under
    `directory`, each read by `load(path)`."""
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:
        seed = np.random.randint(1e6)
    paths, labels, class_names = _index_directory(directory, labels, formats, class_names,
                                                  shuffle, seed, follow_links, verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError('`label_mode="binary"` needs exactly 2 classes. '
                         f"Received: class_names={class_names}")
    num_classes = len(class_names) if class_names else 0

    def make(subset_name, shuffle_epochs):
        part_paths, part_labels = _split(paths, labels, validation_split, subset_name,
                                         verbose)
        if not part_paths:
            kind = f"{subset_name} " if subset == "both" else ""
            raise ValueError(f"No {kind}{what} files found in directory {directory}. "
                             f"Allowed formats: {formats}")
        dataset = DirectoryDataset(part_paths, part_labels, label_mode, num_classes, load,
                                   batch_size, shuffle_epochs, seed)
        dataset.class_names = class_names
        return dataset

    if subset == "both":
        return [make("training", shuffle), make("validation", False)]
    return make(subset, shuffle)


# --- the dataset ----------------------------------------------------------------------------

class DirectoryDataset(EpochOrderedDataset):
    """Files read by `load(path)` with their labels, in batches of `batch_size` (one file at
    a time when `batch_size` is None).

    `len(ds)` is the number of batches, `ds[i]` batch `i` of the current epoch,
    `(inputs, labels)` or `inputs` alone; `for batch in ds` reads one epoch. `class_names`
    lists the classes in label order (None without labels).
    """

    def __init__(self, file_paths, labels, label_mode, num_classes, load, batch_size,
                 shuffle, seed):
        super().__init__()
        self.file_paths = list(file_paths)
        self.labels = labels
        self.label_mode = label_mode
        self.num_classes = int(num_classes)
        self.class_names = None
        self._load = load
        self._init_order(np.arange(len(self.file_paths), dtype=np.int64), batch_size, shuffle,
                         seed)

    def _encode(self, labels):
        if self.label_mode == "binary":
            return labels.astype(np.float32)[..., None]
        if self.label_mode == "categorical":
            # rows of zeros for labels outside [0, num_classes), as tf.one_hot gives
            eye = np.concatenate([np.eye(self.num_classes, dtype=np.float32),
                                  np.zeros((1, self.num_classes), np.float32)])
            labels = np.asarray(labels, np.int64)
            valid = (labels >= 0) & (labels < self.num_classes)
            return eye[np.where(valid, labels, self.num_classes)]
        return labels.astype(np.int32)

    def _batch(self, indices):
        inputs = self._load([self.file_paths[i] for i in np.atleast_1d(indices)])
        labels = None if self.label_mode is None else self._encode(self.labels[indices])
        if np.ndim(indices) == 0:
            inputs = inputs[0]
        return inputs if labels is None else (inputs, labels)

    def __repr__(self):
        unit = "files" if self.batch_size is None else f"batches of {self.batch_size}"
        return f"<DirectoryDataset: {len(self.file_paths)} files, {unit}>"


# --- text -----------------------------------------------------------------------------------

def _text_loader(max_length):
    def load(paths):
        texts = []
        for path in paths:
            with open(path, "rb") as f:
                data = f.read()
            if max_length is not None:
                data = data[:max_length]
            # Bytes are cut as TensorFlow's substr cuts them; a character split by the cut
            # is dropped (final=False keeps an incomplete trailing sequence undecoded).
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            texts.append(decoder.decode(data, final=max_length is None))
        return np.asarray(texts, dtype=str)
    return load


def text_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                class_names=None, batch_size=32, max_length=None, shuffle=True,
                                seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """The `.txt` files under `directory` as a dataset of `(texts, labels)` batches.

    With `labels="inferred"`, `directory` holds one subfolder per class (its files, found
    recursively, get that class); texts are numpy string arrays of the files' contents
    (UTF-8), ready for a `TextVectorization` layer.

    Args:
        directory: the folder holding the files.
        labels: "inferred" (from the class subfolders), None (texts only), or a list/tuple
            of integer labels, one per `.txt` file in sorted path order.
        label_mode: "int", "categorical" (one-hot), "binary" (float 0/1, two classes) or None.
        class_names: with inferred labels, the class subfolders to use, in label order.
        batch_size: files per batch (the last one may hold fewer), or None for single files.
        max_length: keep at most this many bytes of each file.
        shuffle: shuffle the files (else alphanumeric order).
        seed: int seed of the shuffling and the split.
        validation_split: fraction of the files kept for validation.
        subset: "training", "validation" or "both" (returns `[training, validation]`).
        follow_links: also walk folders reached through symlinks.
        format: "tf" or "grain", accepted for compatibility; both give the same dataset.
        verbose: print how many files and classes were found.

    Returns:
        A `DirectoryDataset` (a `keras.utils.PyDataset`) with a `class_names` attribute, or a
        list of two for `subset="both"`.
    """
    _check_common(labels, label_mode, class_names, validation_split, subset, shuffle, seed,
                  format, "text")
    if max_length is not None and (isinstance(max_length, bool) or int(max_length) < 0):
        raise ValueError(f"`max_length` must be None or a non-negative integer. "
                         f"Received: max_length={max_length!r}")
    return _build(directory, labels, label_mode, class_names, batch_size, shuffle, seed,
                  validation_split, subset, follow_links, verbose, TEXT_FORMATS, "text",
                  _text_loader(max_length))


# --- images ---------------------------------------------------------------------------------

def _import_pil(caller="image_dataset_from_directory"):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"`{caller}` needs Pillow, which is not installed. Install it with "
                          "`pip install pillow` (or fastkeras's \"images\" extra).") from None
    return Image


def _pad_box(height, width, target_height, target_width):
    """(resized height, resized width, top, left) of an image scaled to fit the target with
    its aspect ratio kept and centred in it, as TensorFlow's `resize_with_pad` computes them
    (in float32)."""
    h, w = np.float32(height), np.float32(width)
    th, tw = np.float32(target_height), np.float32(target_width)
    ratio = max(w / tw, h / th)
    new_h, new_w = h / ratio, w / ratio
    top = max(0, int(np.floor((th - new_h) / np.float32(2))))
    left = max(0, int(np.floor((tw - new_w) / np.float32(2))))
    return int(np.floor(new_h)), int(np.floor(new_w)), top, left


def _image_loader(image_size, color_mode, interpolation, crop_to_aspect_ratio,
                  pad_to_aspect_ratio, data_format):
    from fastkeras.backend.tape import convert_to_tensor
    from fastkeras.layers.image_preprocessing import _aspect_box, _resize, _window

    image_module = _import_pil()
    target_h, target_w = image_size

    def load_one(path):
        with image_module.open(path) as img:
            img.seek(0)  # the first frame of an animation
            pixels = np.asarray(img.convert(_PIL_MODES[color_mode]), dtype=np.float32)
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        x = convert_to_tensor(pixels)
        height, width = pixels.shape[:2]
        if crop_to_aspect_ratio:
            top, left, box_h, box_w = _aspect_box(height, width, target_h, target_w)
            x = _window(x, top, box_h, left, box_w, 0, 1)
            out = _resize(x, (target_h, target_w), interpolation, 0, 1).value
        elif pad_to_aspect_ratio:
            new_h, new_w, top, left = _pad_box(height, width, target_h, target_w)
            inner = _resize(x, (new_h, new_w), interpolation, 0, 1).value
            out = np.zeros((target_h, target_w, pixels.shape[2]), np.float32)
            out[top:top + new_h, left:left + new_w] = inner
        else:
            out = _resize(x, (target_h, target_w), interpolation, 0, 1).value
        out = np.asarray(out, dtype=np.float32)
        if data_format == "channels_first":
            out = np.transpose(out, (2, 0, 1))
        return out

    def load(paths):
        return np.stack([load_one(path) for path in paths]).astype(np.float32, copy=False)
    return load


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, format="tf",
                                 verbose=True):
    """The images under `directory` (.bmp, .gif, .jpeg, .jpg, .png; decoded with Pillow) as
    a dataset of `(images, labels)` batches.

    With `labels="inferred"`, `directory` holds one subfolder per class (its images, found
    recursively, get that class). Images are float32 `(batch, height, width, channels)`
    (`(batch, channels, height, width)` with `data_format="channels_first"`), pixel values
    in [0, 255] resized to `image_size`; an animated GIF gives its first frame.

    Args:
        directory: the folder holding the images.
        labels: "inferred" (from the class subfolders), None (images only), or a list/tuple
            of integer labels, one per image file in sorted path order.
        label_mode: "int", "categorical" (one-hot), "binary" (float 0/1, two classes) or None.
        class_names: with inferred labels, the class subfolders to use, in label order.
        color_mode: "grayscale", "rgb" or "rgba": 1, 3 or 4 channels.
        batch_size: images per batch (the last one may hold fewer), or None for single
            images.
        image_size: (height, width) of the output, or one int for both.
        shuffle: shuffle the images (else alphanumeric order).
        seed: int seed of the shuffling and the split.
        validation_split: fraction of the images kept for validation.
        subset: "training", "validation" or "both" (returns `[training, validation]`).
        interpolation: "bilinear", "nearest" or "bicubic" (half-pixel-centred resizing).
        follow_links: also walk folders reached through symlinks.
        crop_to_aspect_ratio: resize the largest centred window of the output's aspect ratio
            (no distortion).
        pad_to_aspect_ratio: resize to fit inside the output with the aspect ratio kept and
            pad the rest with zeros (no distortion).
        data_format: "channels_last" or "channels_first" (default: the global setting).
        format: "tf" or "grain", accepted for compatibility; both give the same dataset.
        verbose: print how many files and classes were found.

    Returns:
        A `DirectoryDataset` (a `keras.utils.PyDataset`) with `class_names` and `file_paths`
        attributes, or a list of two for `subset="both"`.
    """
    from fastkeras.layers.reshaping import standardize_data_format

    _check_common(labels, label_mode, class_names, validation_split, subset, shuffle, seed,
                  format, "image")
    if color_mode not in _COLOR_CHANNELS:
        raise ValueError('`color_mode` must be one of "rgb", "rgba" or "grayscale". '
                         f"Received: color_mode={color_mode!r}")
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (not isinstance(image_size, (list, tuple)) or len(image_size) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                       for v in image_size)):
        raise ValueError("`image_size` must be a tuple of 2 positive integers. "
                         f"Received: image_size={image_size!r}")
    image_size = (int(image_size[0]), int(image_size[1]))
    name = interpolation.lower() if isinstance(interpolation, str) else interpolation
    if name not in _KERAS_INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {_KERAS_INTERPOLATIONS}. "
                         f"Received: interpolation={interpolation!r}")
    if name not in _INTERPOLATIONS:
        raise NotImplementedError(f"`interpolation` must be one of {_INTERPOLATIONS} in "
                                  f"fastkeras. Received: interpolation={interpolation!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be "
                         f"True. Received: crop_to_aspect_ratio={crop_to_aspect_ratio!r}, "
                         f"pad_to_aspect_ratio={pad_to_aspect_ratio!r}")
    data_format = standardize_data_format(data_format)
    load = _image_loader(image_size, color_mode, name, crop_to_aspect_ratio,
                         pad_to_aspect_ratio, data_format)
    return _build(directory, labels, label_mode, class_names, batch_size, shuffle, seed,
                  validation_split, subset, follow_links, verbose, IMAGE_FORMATS, "image",
                  load)
