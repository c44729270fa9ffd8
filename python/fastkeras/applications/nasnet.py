"""NASNet-A (Zoph et al., "Learning Transferable Architectures for Scalable Image
Recognition", CVPR 2018): NASNetMobile (4 @ 1056, 224x224) and NASNetLarge (6 @ 4032,
331x331).

The network is a stem convolution followed by stacks of searched "normal" cells (which keep
the resolution) separated by "reduction" cells (which halve it). Every cell combines the
output of the previous cell with the one before it; `_match_previous` brings the older one
to the current resolution and width."""

from fastkeras import backend, layers
from fastkeras.applications import imagenet_utils

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/"
NASNET_MOBILE_WEIGHT_PATH = f"{BASE_WEIGHTS_PATH}NASNet-mobile.h5"
NASNET_MOBILE_WEIGHT_PATH_NO_TOP = f"{BASE_WEIGHTS_PATH}NASNet-mobile-no-top.h5"
NASNET_LARGE_WEIGHT_PATH = f"{BASE_WEIGHTS_PATH}NASNet-large.h5"
NASNET_LARGE_WEIGHT_PATH_NO_TOP = f"{BASE_WEIGHTS_PATH}NASNet-large-no-top.h5"

# default input size -> {include_top: (local file name, URL constant, md5)}
WEIGHTS_FILES = {
    224: {True: ("nasnet_mobile.h5", "NASNET_MOBILE_WEIGHT_PATH",
                 "020fb642bf7360b370c678b08e0adf61"),
          False: ("nasnet_mobile_no_top.h5", "NASNET_MOBILE_WEIGHT_PATH_NO_TOP",
                  "1ed92395b5b598bdda52abe5c0dbfd63")},
    331: {True: ("nasnet_large.h5", "NASNET_LARGE_WEIGHT_PATH",
                 "11577c9a518f0070763c2b964a382f17"),
          False: ("nasnet_large_no_top.h5", "NASNET_LARGE_WEIGHT_PATH_NO_TOP",
                  "d81d89dc07e6e56530c4e77faddd61b5")},
}

_CHANNELS = -1  # NASNet is channels_last only
_WIDTH = -2


def _bn(x, name):
    return layers.BatchNormalization(axis=_CHANNELS, momentum=0.9997, epsilon=1e-3,
                                     name=name)(x)


def _conv1x1(x, filters, name, strides=(1, 1)):
    return layers.Conv2D(filters, (1, 1), strides=strides, padding="same", use_bias=False,
                         kernel_initializer="he_normal", name=name)(x)


def _sep_branch(x, filters, kernel_size, tag, strides=(1, 1)):
    """Twice relu -> separable convolution -> batch norm; the first convolution may be
    strided (preceded then by TensorFlow-style "same" padding)."""
    x = layers.Activation("relu")(x)
    padding = "same"
    if strides == (2, 2):
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size),
                                 name=f"separable_conv_1_pad_{tag}")(x)
        padding = "valid"
    x = layers.SeparableConv2D(filters, kernel_size, strides=strides, padding=padding,
                               use_bias=False, name=f"separable_conv_1_{tag}")(x)
    x = _bn(x, f"separable_conv_1_bn_{tag}")
    x = layers.Activation("relu")(x)
    x = layers.SeparableConv2D(filters, kernel_size, padding="same", use_bias=False,
                               name=f"separable_conv_2_{tag}")(x)
    return _bn(x, f"separable_conv_2_bn_{tag}")


def _avg3(x, strides, padding, name):
    return layers.AveragePooling2D((3, 3), strides=strides, padding=padding, name=name)(x)


def _match_previous(prev, current, filters, block_id):
    """The previous-previous cell output `prev` brought to `current`'s resolution (two
    offset stride-2 1x1 paths, concatenated) or to `filters` channels (a 1x1 projection)."""
    if prev is None:
        return current
    if prev.shape[_WIDTH] != current.shape[_WIDTH]:
        prev = layers.Activation("relu", name=f"adjust_relu_1_{block_id}")(prev)
        left = layers.AveragePooling2D((1, 1), strides=(2, 2), padding="valid",
                                       name=f"adjust_avg_pool_1_{block_id}")(prev)
        left = _conv1x1(left, filters // 2, f"adjust_conv_1_{block_id}")
        # the second path samples the odd pixels: shift the map by one row and column
        right = layers.ZeroPadding2D(padding=((0, 1), (0, 1)))(prev)
        right = layers.Cropping2D(cropping=((1, 0), (1, 0)))(right)
        right = layers.AveragePooling2D((1, 1), strides=(2, 2), padding="valid",
                                        name=f"adjust_avg_pool_2_{block_id}")(right)
        right = _conv1x1(right, filters // 2, f"adjust_conv_2_{block_id}")
        merged = layers.concatenate([left, right], axis=_CHANNELS)
        return _bn(merged, f"adjust_bn_{block_id}")
    if prev.shape[_CHANNELS] != filters:
        prev = layers.Activation("relu")(prev)
        prev = _conv1x1(prev, filters, f"adjust_conv_projection_{block_id}")
        return _bn(prev, f"adjust_bn_{block_id}")
    return prev


def _squeeze(x, filters, kind, block_id):
    """relu -> 1x1 convolution -> batch norm: the cell's input at `filters` channels."""
    x = layers.Activation("relu")(x)
    x = _conv1x1(x, filters, f"{kind}_conv_1_{block_id}")
    return _bn(x, f"{kind}_bn_1_{block_id}")


def _normal_cell(x, prev, filters, block_id):
    """A NASNet-A normal cell; returns (output, x) -- x becomes the next cell's `prev`."""
    p = _match_previous(prev, x, filters, block_id)
    h = _squeeze(x, filters, "normal", block_id)

    def add(tensors, k):
        return layers.add(tensors, name=f"normal_add_{k}_{block_id}")

    b1 = add([_sep_branch(h, filters, (5, 5), f"normal_left1_{block_id}"),
              _sep_branch(p, filters, (3, 3), f"normal_right1_{block_id}")], 1)
    b2 = add([_sep_branch(p, filters, (5, 5), f"normal_left2_{block_id}"),
              _sep_branch(p, filters, (3, 3), f"normal_right2_{block_id}")], 2)
    b3 = add([_avg3(h, (1, 1), "same", f"normal_left3_{block_id}"), p], 3)
    b4 = add([_avg3(p, (1, 1), "same", f"normal_left4_{block_id}"),
              _avg3(p, (1, 1), "same", f"normal_right4_{block_id}")], 4)
    b5 = add([_sep_branch(h, filters, (3, 3), f"normal_left5_{block_id}"), h], 5)
    out = layers.concatenate([p, b1, b2, b3, b4, b5], axis=_CHANNELS,
                             name=f"normal_concat_{block_id}")
    return out, x


def _reduction_cell(x, prev, filters, block_id):
    """A NASNet-A reduction cell (halves the resolution); returns (output, x)."""
    p = _match_previous(prev, x, filters, block_id)
    h = _squeeze(x, filters, "reduction", block_id)
    h_pad = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(h, 3),
                                 name=f"reduction_pad_1_{block_id}")(h)

    def sep(t, size, side):
        return _sep_branch(t, filters, (size, size), f"reduction_{side}_{block_id}",
                           strides=(2, 2))

    def maxpool(name):
        return layers.MaxPooling2D((3, 3), strides=(2, 2), padding="valid",
                                   name=f"reduction_{name}_{block_id}")(h_pad)

    b1 = layers.add([sep(h, 5, "left1"), sep(p, 7, "right1")],
                    name=f"reduction_add_1_{block_id}")
    b2 = layers.add([maxpool("left2"), sep(p, 7, "right2")],
                    name=f"reduction_add_2_{block_id}")
    b3 = layers.add([_avg3(h_pad, (2, 2), "valid", f"reduction_left3_{block_id}"),
                     sep(p, 5, "right3")], name=f"reduction_add3_{block_id}")
    b4 = layers.add([b2, _avg3(b1, (1, 1), "same", f"reduction_left4_{block_id}")])
    # (this unstrided branch shares the "left4" tag with the pooling above in Keras's names)
    b5 = layers.add([_sep_branch(b1, filters, (3, 3), f"reduction_left4_{block_id}"),
                     maxpool("right5")], name=f"reduction_add4_{block_id}")
    out = layers.concatenate([b2, b3, b4, b5], axis=_CHANNELS,
                             name=f"reduction_concat_{block_id}")
    return out, x


def NASNet(input_shape=None, penultimate_filters=4032, num_blocks=6, stem_block_filters=96,
           skip_reduction=True, filter_multiplier=2, include_top=True, weights="imagenet",
           input_tensor=None, pooling=None, classes=1000, default_size=None,
           classifier_activation="softmax", name="NASNet"):
    """A NASNet-A network "num_blocks @ penultimate_filters" (see NASNetMobile and
    NASNetLarge for the released configurations).

    Args:
        input_shape: the (height, width, 3) of the images (at least 32x32).
        penultimate_filters: the width of the last cells (a multiple of
            24 * filter_multiplier ** 2).
        num_blocks: the number of normal cells in each of the three stacks.
        stem_block_filters: the filters of the stem convolution.
        skip_reduction: whether the cells after a reduction cell skip over it to the
            previous stack's output.
        filter_multiplier: the width growth between stacks.
        include_top, weights, input_tensor, pooling, classes, classifier_activation, name:
            as in the other applications.
        default_size: the image size of the released weights (224 or 331).

    Call `fastkeras.applications.nasnet.preprocess_input` on the images first.
    """
    if backend.image_data_format() == "channels_first":
        raise ValueError("NASNet does not support the `channels_first` image data format. "
                         "Switch to `channels_last` by editing your local config file at "
                         "~/.keras/keras.json")
    if not (weights is None or imagenet_utils._is_imagenet(weights)
            or imagenet_utils._is_file(weights)):
        raise ValueError("The `weights` argument should be either `None` (random "
                         "initialization), `imagenet` (pre-training on ImageNet), or the "
                         "path to the weights file to be loaded.")
    imagenet = imagenet_utils._is_imagenet(weights)
    if imagenet and include_top and classes != 1000:
        raise ValueError('If using `weights` as `"imagenet"` with `include_top` as true, '
                         "`classes` should be 1000")
    if isinstance(input_shape, tuple) and None in input_shape and imagenet:
        raise ValueError("When specifying the input shape of a NASNet and loading `ImageNet` "
                         "weights, the input_shape argument must be static (no None entries)."
                         f" Got: `input_shape={input_shape}`.")
    if default_size is None:
        default_size = 331
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=backend.image_data_format(), require_flatten=include_top,
        weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    if penultimate_filters % (24 * (filter_multiplier ** 2)) != 0:
        raise ValueError("For NASNet-A models, the `penultimate_filters` must be a multiple "
                         "of 24 * (`filter_multiplier` ** 2). "
                         f"Current value: {penultimate_filters}")

    filters = penultimate_filters // 24
    x = layers.Conv2D(stem_block_filters, (3, 3), strides=(2, 2), padding="valid",
                      use_bias=False, kernel_initializer="he_normal", name="stem_conv1")(
        img_input)
    x = _bn(x, "stem_bn1")

    prev = None
    x, prev = _reduction_cell(x, prev, filters // filter_multiplier ** 2, "stem_1")
    x, prev = _reduction_cell(x, prev, filters // filter_multiplier, "stem_2")
    for stack in range(3):
        width = filters * filter_multiplier ** stack
        if stack:
            reduced_at = stack * num_blocks
            x, before = _reduction_cell(x, prev, width, f"reduce_{reduced_at}")
            if not skip_reduction:
                prev = before
        first = stack * num_blocks + 1 if stack else 0
        for i in range(num_blocks):
            x, prev = _normal_cell(x, prev, width, f"{first + i}")
    x = layers.Activation("relu")(x)

    x = imagenet_utils.pooled_classifier(x, include_top, pooling, classes, classifier_activation,
                                         weights)

    model = imagenet_utils.functional(imagenet_utils.model_inputs(input_tensor, img_input), x,
                                      name)

    def imagenet_file():
        if default_size not in WEIGHTS_FILES:
            raise ValueError("ImageNet weights can only be loaded with NASNetLarge or "
                             "NASNetMobile")
        fname, url, file_hash = WEIGHTS_FILES[default_size][bool(include_top)]
        return imagenet_utils.fetch_weights(fname, globals()[url], file_hash)

    return imagenet_utils.load_weights(model, weights, imagenet_file)


def NASNetMobile(input_shape=None, include_top=True, weights="imagenet", input_tensor=None,
                 pooling=None, classes=1000, classifier_activation="softmax",
                 name="nasnet_mobile"):
    """NASNet-A 4 @ 1056 (default input 224x224x3, at least 32x32); the arguments are those
    of the other applications. With `include_top=False` and no `input_shape`, the input is
    224x224x3."""
    if not include_top and input_shape is None:
        input_shape = (224, 224, 3)
    return NASNet(input_shape, penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
                  skip_reduction=False, filter_multiplier=2, include_top=include_top,
                  weights=weights, input_tensor=input_tensor, pooling=pooling, classes=classes,
                  default_size=224, classifier_activation=classifier_activation, name=name)


def NASNetLarge(input_shape=None, include_top=True, weights="imagenet", input_tensor=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="nasnet_large"):
    """NASNet-A 6 @ 4032 (default input 331x331x3, at least 32x32); the arguments are those
    of the other applications."""
    return NASNet(input_shape, penultimate_filters=4032, num_blocks=6, stem_block_filters=96,
                  skip_reduction=True, filter_multiplier=2, include_top=include_top,
                  weights=weights, input_tensor=input_tensor, pooling=pooling, classes=classes,
                  default_size=331, classifier_activation=classifier_activation, name=name)


def preprocess_input(x, data_format=None):
    """ImageNet "tf" preprocessing: pixels scaled from [0, 255] to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The `top` best (class_name, class_description, score) of each prediction row."""
    return imagenet_utils.decode_predictions(preds, top=top)
