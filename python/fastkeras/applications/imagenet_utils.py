"""ImageNet helpers shared by the applications: input preprocessing ("caffe", "tf" and
"torch" conventions), decoding of 1000-class predictions, and the argument checks and
weight loading every architecture does the same way."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from fastkeras import activations, backend, ops

CLASS_INDEX = None
CLASS_INDEX_PATH = ("https://storage.googleapis.com/download.tensorflow.org/"
                    "data/imagenet_class_index.json")
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

_CAFFE_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def _check_data_format(data_format):
    if data_format is None:
        return backend.image_data_format()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("Expected data_format to be one of `channels_first` or "
                         f"`channels_last`. Received: data_format={data_format}")
    return data_format


def preprocess_input(x, data_format=None, mode="caffe"):
    """Scales a batch of RGB images (values 0..255) the way an ImageNet model expects.

    Args:
        x: a float or integer numpy array, or a tensor, of 3 or 4 dimensions with 3 color
            channels. A float numpy array is modified in place.
        data_format: "channels_last" or "channels_first" (default: the global setting).
        mode: "caffe" (RGB to BGR, then the ImageNet channel means subtracted), "tf"
            (scaled to [-1, 1]) or "torch" (scaled to [0, 1], then normalized with the
            ImageNet channel means and standard deviations).

    Returns:
        The preprocessed array or tensor.
    """
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError("Expected mode to be one of `caffe`, `tf` or `torch`. "
                         f"Received: mode={mode}")
    data_format = _check_data_format(data_format)
    if isinstance(x, np.ndarray):
        return _preprocess_array(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _channel_view(x, data_format, c):
    """An indexing tuple selecting channel c."""
    if data_format == "channels_first":
        return (c,) if x.ndim == 3 else (slice(None), c)
    return (Ellipsis, c)


def _preprocess_array(x, data_format, mode):
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(backend.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        if data_format == "channels_first":
            x = x[::-1, ...] if x.ndim == 3 else x[:, ::-1, ...]
        else:
            x = x[..., ::-1]
        mean, std = _CAFFE_MEAN, None
    for c in range(3):
        index = _channel_view(x, data_format, c)
        x[index] -= mean[c]
        if std is not None:
            x[index] /= std[c]
    return x


def _preprocess_tensor(x, data_format, mode):
    ndim = len(x.shape)
    if not backend.is_float_dtype(backend.standardize_dtype(x.dtype)):
        x = ops.cast(x, backend.floatx())
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        x = x / 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        if data_format == "channels_first":
            if ndim == 3:
                x = ops.stack([x[i, ...] for i in (2, 1, 0)], axis=0)
            else:
                x = ops.stack([x[:, i, ...] for i in (2, 1, 0)], axis=1)
        else:
            x = ops.stack([x[..., i] for i in (2, 1, 0)], axis=-1)
        mean, std = _CAFFE_MEAN, None
    if data_format == "channels_first":
        shape = (3, 1, 1) if ndim == 3 else (1, 3) + (1,) * (ndim - 2)
    else:
        shape = (1,) * (ndim - 1) + (3,)
    dtype = backend.standardize_dtype(x.dtype)
    x = x + ops.convert_to_tensor(-np.array(mean).reshape(shape), dtype=dtype)
    if std is not None:
        x = x / ops.convert_to_tensor(np.array(std).reshape(shape), dtype=dtype)
    return x


def decode_predictions(preds, top=5):
    """The `top` best ImageNet classes of each row of `preds` (shape (samples, 1000)), as
    lists of (class_name, class_description, score) tuples, best first."""
    global CLASS_INDEX
    if len(preds.shape) != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array "
                         f"of shape (samples, 1000)). Received array with shape: {preds.shape}")
    if CLASS_INDEX is None:
        from fastkeras.utils.file_utils import get_file
        fpath = get_file("imagenet_class_index.json", CLASS_INDEX_PATH, cache_subdir="models",
                         file_hash=CLASS_INDEX_HASH)
        with open(fpath) as f:
            CLASS_INDEX = json.load(f)
    preds = ops.convert_to_numpy(preds)
    results = []
    for pred in preds:
        best = pred.argsort()[-top:][::-1]
        row = [tuple(CLASS_INDEX[str(i)]) + (pred[i],) for i in best]
        row.sort(key=lambda item: item[2], reverse=True)
        results.append(row)
    return results


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten,
                       weights=None):
    """The model's input shape (without the batch dimension): `input_shape` checked against
    the model's minimum size and the pretrained weights' needs, or the default."""
    channels_first = data_format == "channels_first"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if channels_first else input_shape[-1]
        if channels not in (1, 3):
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was "
                          f"passed an input_shape with {channels} input channels.",
                          stacklevel=3)
        if channels_first:
            default_shape = (input_shape[0], default_size, default_size)
        else:
            default_shape = (default_size, default_size, input_shape[-1])
    elif channels_first:
        default_shape = (3, default_size, default_size)
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, "
                             f"`input_shape` should be {default_shape}.  "
                             f"Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers. "
                             f"Received: input_shape={input_shape}")
        channels = input_shape[0] if channels_first else input_shape[-1]
        if channels != 3 and weights == "imagenet":
            raise ValueError("The input must have 3 channels; Received "
                             f"`input_shape={input_shape}`")
        rows, cols = (input_shape[1], input_shape[2]) if channels_first else input_shape[:2]
        if (rows is not None and rows < min_size) or (cols is not None and cols < min_size):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if channels_first else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static "
                         f"`input_shape`. Received: input_shape={input_shape}")
    return input_shape


def correct_pad(inputs, kernel_size):
    """The ((top, bottom), (left, right)) zero padding in front of a stride-2 "valid"
    convolution that reproduces TensorFlow's "same" padding."""
    first = 2 if backend.image_data_format() == "channels_first" else 1
    size = inputs.shape[first:first + 2]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))


def global_pool(x, pooling, named=False):
    """A model without its top under `pooling`: "avg" or "max" global pooling (the layers
    named "avg_pool"/"max_pool" where Keras names them, `named`), else the features as they
    are."""
    from fastkeras import layers
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool" if named else None)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool" if named else None)(x)
    return x


def pooled_classifier(x, include_top, pooling, classes, classifier_activation, weights,
                      top_pool_name=None, named=False):
    """The usual end of an ImageNet model: with its top, global average pooling (named
    `top_pool_name`) and the "predictions" Dense layer; without it, `global_pool`."""
    from fastkeras import layers
    if not include_top:
        return global_pool(x, pooling, named=named)
    x = layers.GlobalAveragePooling2D(name=top_pool_name)(x)
    validate_activation(classifier_activation, weights)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


def validate_activation(classifier_activation, weights):
    """Pretrained classifier weights only go with a softmax or linear output."""
    if weights is None:
        return
    fn = activations.get(classifier_activation)
    if fn not in (activations.get("softmax"), activations.get(None)):
        raise ValueError("Only `None` and `softmax` activations are allowed for the "
                         "`classifier_activation` argument when using pretrained weights, "
                         "with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")


# --- shared by the architectures ------------------------------------------------------------

def _is_file(weights):
    return isinstance(weights, (str, os.PathLike)) and os.path.exists(weights)


def check_weights_arg(weights, include_top, classes):
    """The checks every application makes on `weights` and `classes`."""
    if not (weights is None or (isinstance(weights, str) and weights == "imagenet")
            or _is_file(weights)):
        raise ValueError("The `weights` argument should be either `None` (random "
                         "initialization), 'imagenet' (pre-training on ImageNet), or the path "
                         f"to the weights file to be loaded.  Received: weights={weights}")
    if _is_imagenet(weights) and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` "
                         f"should be 1000.  Received classes={classes}")


def _is_imagenet(weights):
    return isinstance(weights, str) and weights == "imagenet"


def image_input(input_tensor, input_shape):
    """The symbolic image input: `input_tensor` when it is one, else a new `Input`."""
    from fastkeras.layers import Input
    if input_tensor is None:
        return Input(shape=input_shape)
    if backend.is_keras_tensor(input_tensor):
        return input_tensor
    raise ValueError("Argument `input_tensor` must be a KerasTensor. Received invalid type: "
                     f"input_tensor={input_tensor} (of type {type(input_tensor)})")


def model_inputs(input_tensor, img_input):
    """The inputs of the model: the sources `input_tensor` was computed from, if given."""
    if input_tensor is not None:
        from fastkeras.utils.data_utils import get_source_inputs
        return get_source_inputs(input_tensor)
    return img_input


def functional(inputs, outputs, name):
    from fastkeras.models.functional import Functional
    return Functional(inputs, outputs, name=name)


def fetch_weights(fname, origin, file_hash=None):
    """The local path of a released weights file, downloaded into the "models" cache."""
    from fastkeras.utils.file_utils import get_file
    return get_file(fname, origin, cache_subdir="models", file_hash=file_hash)


def load_weights(model, weights, imagenet_file=None):
    """Loads `weights` into `model`: `imagenet_file()` (a callable giving the local path of
    the released file) for "imagenet", else the given path; nothing for None."""
    if weights is None:
        return model
    if _is_imagenet(weights):
        if imagenet_file is None:
            return model
        model.load_weights(imagenet_file())
    else:
        model.load_weights(weights)
    return model
