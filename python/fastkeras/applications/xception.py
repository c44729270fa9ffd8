"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions",
CVPR 2017)."""

from fastkeras import backend, layers
from fastkeras.applications import imagenet_utils

WEIGHTS_BASE_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
WEIGHTS_HASHES = ("0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97")


def _sepconv_bn(x, filters, name, axis):
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(axis=axis, name=f"{name}_bn")(x)


def _strided_residual(x, filters, axis):
    residual = layers.Conv2D(filters, (1, 1), strides=(2, 2), padding="same",
                             use_bias=False)(x)
    return layers.BatchNormalization(axis=axis)(residual)


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    """The Xception network (default input 299x299x3, at least 71x71).

    Args:
        include_top: whether to end with the global pooling and the classifier.
        weights: None (random initialization), "imagenet" (the released ImageNet weights,
            downloaded once into `~/.keras/models`), or the path of a weights file.
        input_tensor: an optional symbolic tensor to use as the image input.
        input_shape: the (height, width, channels) of the images when `include_top` is False
            or with random weights.
        pooling: with `include_top=False`, None (4D output), "avg" or "max".
        classes: the number of classes of the classifier (1000 with ImageNet weights).
        classifier_activation: the activation of the last layer (None for logits).
        name: the model's name.

    Call `fastkeras.applications.xception.preprocess_input` on the images first.
    """
    imagenet_utils.check_weights_arg(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=71, data_format=backend.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    axis = 1 if backend.image_data_format() == "channels_first" else -1

    # entry flow
    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = layers.BatchNormalization(axis=axis, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=axis, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)

    for block, filters in ((2, 128), (3, 256), (4, 728)):
        residual = _strided_residual(x, filters, axis)
        if block > 2:
            x = layers.Activation("relu", name=f"block{block}_sepconv1_act")(x)
        x = _sepconv_bn(x, filters, f"block{block}_sepconv1", axis)
        x = layers.Activation("relu", name=f"block{block}_sepconv2_act")(x)
        x = _sepconv_bn(x, filters, f"block{block}_sepconv2", axis)
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same",
                                name=f"block{block}_pool")(x)
        x = layers.add([x, residual])

    # middle flow
    for block in range(5, 13):
        residual = x
        for k in (1, 2, 3):
            x = layers.Activation("relu", name=f"block{block}_sepconv{k}_act")(x)
            x = _sepconv_bn(x, 728, f"block{block}_sepconv{k}", axis)
        x = layers.add([x, residual])

    # exit flow
    residual = _strided_residual(x, 1024, axis)
    x = layers.Activation("relu", name="block13_sepconv1_act")(x)
    x = _sepconv_bn(x, 728, "block13_sepconv1", axis)
    x = layers.Activation("relu", name="block13_sepconv2_act")(x)
    x = _sepconv_bn(x, 1024, "block13_sepconv2", axis)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="block13_pool")(x)
    x = layers.add([x, residual])

    x = _sepconv_bn(x, 1536, "block14_sepconv1", axis)
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = _sepconv_bn(x, 2048, "block14_sepconv2", axis)
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)

    x = imagenet_utils.pooled_classifier(x, include_top, pooling, classes, classifier_activation,
                                         weights, top_pool_name="avg_pool")

    model = imagenet_utils.functional(imagenet_utils.model_inputs(input_tensor, img_input), x,
                                      name)

    def imagenet_file():
        top = "" if include_top else "_notop"
        fname = f"xception_weights_tf_dim_ordering_tf_kernels{top}.h5"
        return imagenet_utils.fetch_weights(fname, WEIGHTS_BASE_PATH + fname,
                                            WEIGHTS_HASHES[0 if include_top else 1])

    return imagenet_utils.load_weights(model, weights, imagenet_file)


def preprocess_input(x, data_format=None):
    """ImageNet "tf" preprocessing: pixels scaled from [0, 255] to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The `top` best (class_name, class_description, score) of each prediction row."""
    return imagenet_utils.decode_predictions(preds, top=top)
