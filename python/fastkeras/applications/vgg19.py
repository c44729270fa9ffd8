"""VGG19 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015)."""

from fastkeras.applications import _vgg, imagenet_utils

WEIGHTS_BASE_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/"
WEIGHTS_HASHES = ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6")


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg19"):
    """The VGG19 network (default input 224x224x3, at least 32x32).

    Args:
        include_top: whether to end with the 3 fully-connected layers (then the input shape
            must be fixed).
        weights: None (random initialization), "imagenet" (the released ImageNet weights,
            downloaded once into `~/.keras/models`), or the path of a weights file.
        input_tensor: an optional symbolic tensor to use as the image input.
        input_shape: the (height, width, channels) of the images when `include_top` is False
            or with random weights.
        pooling: with `include_top=False`, None (4D output of the last block), "avg" or
            "max" (global pooling to a 2D output).
        classes: the number of classes of the classifier (1000 with ImageNet weights).
        classifier_activation: the activation of the last layer (None for logits).
        name: the model's name.

    Call `fastkeras.applications.vgg19.preprocess_input` on the images first.
    """
    return _vgg.build_vgg((2, 2, 4, 4, 4), "vgg19", WEIGHTS_HASHES, include_top, weights,
                          input_tensor, input_shape, pooling, classes, classifier_activation,
                          name, WEIGHTS_BASE_PATH)


def preprocess_input(x, data_format=None):
    """ImageNet "caffe" preprocessing: RGB to BGR, then each channel's ImageNet mean
    subtracted (no scaling)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """The `top` best (class_name, class_description, score) of each prediction row."""
    return imagenet_utils.decode_predictions(preds, top=top)
