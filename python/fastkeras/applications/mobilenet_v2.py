"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
CVPR 2018)."""

import warnings

from fastkeras import backend, layers
from fastkeras.applications import imagenet_utils

WEIGHTS_BASE_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                     "mobilenet_v2/")

_SIZES = (96, 128, 160, 192, 224)
# (filters, stride, expansion) of the 17 inverted residual blocks
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
           (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6),
           (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6))


def _rows_cols(shape, channels_first, batched=False):
    start = (1 if channels_first else 0) + (1 if batched else 0)
    return shape[start], shape[start + 1]


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet",
                input_tensor=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None):
    """The MobileNetV2 network (default input 224x224x3, at least 32x32).

    Args:
        input_shape: the (height, width, channels) of the images when `include_top` is False
            or with random weights. ImageNet weights exist for square 96, 128, 160, 192
            and 224.
        alpha: the width multiplier (ImageNet weights exist for 0.35, 0.5, 0.75, 1.0, 1.3
            and 1.4).
        include_top: whether to end with the classifier.
        weights: None (random initialization), "imagenet" (the released ImageNet weights,
            downloaded once into `~/.keras/models`), or the path of a weights file.
        input_tensor: an optional symbolic tensor to use as the image input.
        pooling: with `include_top=False`, None (4D output), "avg" or "max".
        classes: the number of classes of the classifier (1000 with ImageNet weights).
        classifier_activation: the activation of the last layer (None for logits).
        name: the model's name (default "mobilenetv2_{alpha:.2f}_{rows}").

    Call `fastkeras.applications.mobilenet_v2.preprocess_input` on the images first.
    """
    imagenet_utils.check_weights_arg(weights, include_top, classes)
    channels_first = backend.image_data_format() == "channels_first"

    if input_shape is not None and input_tensor is not None:
        if not backend.is_keras_tensor(input_tensor):
            raise ValueError("input_tensor is not a Keras tensor; "
                             f"Received `input_tensor={input_tensor}`")
        axis = 1 if channels_first else 2
        if input_tensor.shape[axis] != input_shape[1]:
            raise ValueError(f"input_tensor.shape[{axis}] must equal input_shape[1]; Received "
                             f"`input_tensor.shape={input_tensor.shape}`, "
                             f"`input_shape={input_shape}`")

    default_size = 224
    if input_shape is None and input_tensor is not None:
        if backend.is_keras_tensor(input_tensor):
            rows, cols = _rows_cols(input_tensor.shape, channels_first, batched=True)
            if rows == cols and rows in _SIZES:
                default_size = rows
    elif input_shape is not None:
        rows, cols = _rows_cols(input_shape, channels_first)
        if rows == cols and rows in _SIZES:
            default_size = rows

    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=backend.image_data_format(), require_flatten=include_top, weights=weights)
    rows, cols = _rows_cols(input_shape, channels_first)

    if imagenet_utils._is_imagenet(weights):
        if alpha not in (0.35, 0.50, 0.75, 1.0, 1.3, 1.4):
            raise ValueError("If imagenet weights are being loaded, alpha must be one of "
                             "`0.35`, `0.50`, `0.75`, `1.0`, `1.3` or `1.4` only; "
                             f"Received `alpha={alpha}`")
        if rows != cols or rows not in _SIZES:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in "
                          "[96, 128, 160, 192, 224]. Weights for input shape (224, 224) will "
                          "be loaded as the default.", stacklevel=2)

    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    channel_axis = 1 if channels_first else -1

    x = layers.Conv2D(_make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2),
                      padding="same", use_bias=False, name="Conv1")(img_input)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999,
                                  name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)

    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, filters=filters, alpha=alpha, stride=stride,
                                expansion=expansion, block_id=block_id)

    last_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999,
                                  name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)

    x = imagenet_utils.pooled_classifier(x, include_top, pooling, classes, classifier_activation,
                                         weights)

    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"
    model = imagenet_utils.functional(imagenet_utils.model_inputs(input_tensor, img_input), x,
                                      name)

    def imagenet_file():
        top = "" if include_top else "_no_top"
        fname = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{top}.h5"
        return imagenet_utils.fetch_weights(fname, WEIGHTS_BASE_PATH + fname)

    return imagenet_utils.load_weights(model, weights, imagenet_file)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """1x1 expansion (not in block 0), 3x3 depthwise, then a linear 1x1 projection, with a
    residual connection when the shapes allow it."""
    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1
    in_channels = inputs.shape[channel_axis]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same",
                          use_bias=False, activation=None, name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999,
                                      name=f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3),
                                 name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid",
                               name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999,
                                  name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False,
                      activation=None, name=f"{prefix}project")(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999,
                                  name=f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _make_divisible(v, divisor, min_value=None):
    """v rounded to the nearest multiple of `divisor` (at least `min_value`), never more than
    10% below v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def preprocess_input(x, data_format=None):
    """ImageNet "tf" preprocessing: pixels scaled from [0, 255] to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The `top` best (class_name, class_description, score) of each prediction row."""
    return imagenet_utils.decode_predictions(preds, top=top)
