"""DenseNet121/169/201 (Huang et al., "Densely Connected Convolutional Networks",
CVPR 2017)."""

from fastkeras import backend, layers
from fastkeras.applications import imagenet_utils

WEIGHTS_BASE_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
# blocks per stage -> (file prefix, hash with the top, hash without the top)
WEIGHTS_FILES = {
    (6, 12, 24, 16): ("densenet121", "9d60b8095a5708f2dcce2bca79d332c7",
                      "30ee3e1110167f948a6b9946edeeb738"),
    (6, 12, 32, 32): ("densenet169", "d699b8f76981ab1b30698df4c175e90b",
                      "b8c4d4c20dd625c148057b9ff1c1176b"),
    (6, 12, 48, 32): ("densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807",
                      "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
_EPS = 1.001e-5


def _bn_axis():
    return 3 if backend.image_data_format() == "channels_last" else 1


def dense_block(x, blocks, name):
    """`blocks` conv blocks, each concatenating 32 new channels to its input."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """Batch norm, relu, a 1x1 convolution keeping `reduction` of the channels, 2x2 average
    pooling."""
    bn_axis = _bn_axis()
    x = layers.BatchNormalization(axis=bn_axis, epsilon=_EPS, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[bn_axis] * reduction), 1, use_bias=False,
                      name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x, growth_rate, name):
    """A bottleneck (1x1 then 3x3 convolution) whose `growth_rate` output channels are
    concatenated to its input."""
    bn_axis = _bn_axis()
    x1 = layers.BatchNormalization(axis=bn_axis, epsilon=_EPS, name=f"{name}_0_bn")(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = layers.BatchNormalization(axis=bn_axis, epsilon=_EPS, name=f"{name}_1_bn")(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False,
                       name=f"{name}_2_conv")(x1)
    return layers.Concatenate(axis=bn_axis, name=f"{name}_concat")([x, x1])


def DenseNet(blocks, include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="densenet"):
    """A DenseNet with `blocks` (4 numbers) conv blocks in its dense stages."""
    if backend.image_data_format() == "channels_first":
        raise ValueError("DenseNet does not support the `channels_first` image data format. "
                         "Switch to `channels_last` by editing your local config file at "
                         "~/.keras/keras.json")
    imagenet_utils.check_weights_arg(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=backend.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    bn_axis = _bn_axis()

    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)

    for stage in range(4):
        x = dense_block(x, blocks[stage], name=f"conv{stage + 2}")
        if stage < 3:
            x = transition_block(x, 0.5, name=f"pool{stage + 2}")

    x = layers.BatchNormalization(axis=bn_axis, epsilon=_EPS, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)

    x = imagenet_utils.pooled_classifier(x, include_top, pooling, classes, classifier_activation,
                                         weights, top_pool_name="avg_pool", named=True)

    model = imagenet_utils.functional(imagenet_utils.model_inputs(input_tensor, img_input), x,
                                      name)

    def imagenet_file():
        key = tuple(blocks)
        if key not in WEIGHTS_FILES:
            raise ValueError("weights_path undefined")
        prefix, top_hash, notop_hash = WEIGHTS_FILES[key]
        top = "" if include_top else "_notop"
        fname = f"{prefix}_weights_tf_dim_ordering_tf_kernels{top}.h5"
        return imagenet_utils.fetch_weights(fname, WEIGHTS_BASE_PATH + fname,
                                            top_hash if include_top else notop_hash)

    return imagenet_utils.load_weights(model, weights, imagenet_file)


_ARGS_DOC = """

    Args:
        include_top: whether to end with the global pooling and the classifier.
        weights: None (random initialization), "imagenet" (the released ImageNet weights,
            downloaded once into `~/.keras/models`), or the path of a weights file.
        input_tensor: an optional symbolic tensor to use as the image input.
        input_shape: the (height, width, channels) of the images (at least 32x32) when
            `include_top` is False or with random weights.
        pooling: with `include_top=False`, None (4D output), "avg" or "max".
        classes: the number of classes of the classifier (1000 with ImageNet weights).
        classifier_activation: the activation of the last layer (None for logits).
        name: the model's name.
    """


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet121"):
    return DenseNet([6, 12, 24, 16], include_top, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation, name=name)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet169"):
    return DenseNet([6, 12, 32, 32], include_top, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation, name=name)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet201"):
    return DenseNet([6, 12, 48, 32], include_top, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation, name=name)


for _fn, _depth in ((DenseNet121, 121), (DenseNet169, 169), (DenseNet201, 201)):
    _fn.__doc__ = (f"The DenseNet{_depth} network (default input 224x224x3). Call "
                   "`fastkeras.applications.densenet.preprocess_input` on the images first."
                   + _ARGS_DOC)


def preprocess_input(x, data_format=None):
    """ImageNet "torch" preprocessing: pixels scaled to [0, 1], then normalized with each
    channel's ImageNet mean and standard deviation."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    """The `top` best (class_name, class_description, score) of each prediction row."""
    return imagenet_utils.decode_predictions(preds, top=top)
