"""VGG19 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015): VGG16 with four convolutions in each of its last three blocks."""

from fastkeras.applications import _vgg
from fastkeras.applications.vgg16 import WEIGHTS_BASE_PATH, decode_predictions, preprocess_input

__all__ = ["VGG19", "decode_predictions", "preprocess_input"]

WEIGHTS_HASHES = ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6")


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg19"):
    """The VGG19 network (default input 224x224x3, at least 32x32); the arguments are
    VGG16's (see `fastkeras.applications.vgg16.VGG16`). Call
    `fastkeras.applications.vgg19.preprocess_input` on the images first."""
    return _vgg.build_vgg((2, 2, 4, 4, 4), "vgg19", WEIGHTS_HASHES, include_top, weights,
                          input_tensor, input_shape, pooling, classes, classifier_activation,
                          name, WEIGHTS_BASE_PATH)
