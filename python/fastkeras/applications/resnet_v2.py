"""ResNet50V2/101V2/152V2 (He et al., "Identity Mappings in Deep Residual Networks",
ECCV 2016): residual networks with pre-activation blocks."""

from fastkeras.applications import imagenet_utils, resnet


def _v2_stacks(depths):
    def stack_fn(x):
        x = resnet.stack_residual_blocks_v2(x, 64, depths[0], name="conv2")
        x = resnet.stack_residual_blocks_v2(x, 128, depths[1], name="conv3")
        x = resnet.stack_residual_blocks_v2(x, 256, depths[2], name="conv4")
        return resnet.stack_residual_blocks_v2(x, 512, depths[3], stride1=1, name="conv5")
    return stack_fn


def _build(depths, weights_name, include_top, weights, input_tensor, input_shape, pooling,
           classes, classifier_activation, name):
    return resnet.ResNet(_v2_stacks(depths), True, True, name=name, weights_name=weights_name,
                         include_top=include_top, weights=weights, input_tensor=input_tensor,
                         input_shape=input_shape, pooling=pooling, classes=classes,
                         classifier_activation=classifier_activation)


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="resnet50v2"):
    return _build((3, 4, 6, 3), "resnet50v2", include_top, weights, input_tensor, input_shape,
                  pooling, classes, classifier_activation, name)


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="resnet101v2"):
    return _build((3, 4, 23, 3), "resnet101v2", include_top, weights, input_tensor,
                  input_shape, pooling, classes, classifier_activation, name)


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="resnet152v2"):
    return _build((3, 8, 36, 3), "resnet152v2", include_top, weights, input_tensor,
                  input_shape, pooling, classes, classifier_activation, name)


for _fn, _depth in ((ResNet50V2, 50), (ResNet101V2, 101), (ResNet152V2, 152)):
    _fn.__doc__ = (f"The ResNet{_depth}V2 network (default input 224x224x3). Call "
                   "`fastkeras.applications.resnet_v2.preprocess_input` on the images first."
                   + resnet._ARGS_DOC)


def preprocess_input(x, data_format=None):
    """ImageNet "tf" preprocessing: pixels scaled from [0, 255] to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The `top` best (class_name, class_description, score) of each prediction row."""
    return imagenet_utils.decode_predictions(preds, top=top)
