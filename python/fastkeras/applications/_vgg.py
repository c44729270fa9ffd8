"""The VGG family: five blocks of 3x3 convolutions, each closed by a 2x2 max pooling."""

from fastkeras import backend, layers
from fastkeras.applications import imagenet_utils


def build_vgg(convs_per_block, weights_name, hashes, include_top, weights, input_tensor,
              input_shape, pooling, classes, classifier_activation, name, base_url):
    """A VGG network with `convs_per_block` convolutions in each of its five blocks; its
    released weights are `<base_url><weights_name>/<weights_name>_weights_...h5`."""
    imagenet_utils.check_weights_arg(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=backend.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)

    x = img_input
    for block, (filters, n) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block), 1):
        for i in range(1, n + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                              name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)

    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.global_pool(x, pooling)

    model = imagenet_utils.functional(imagenet_utils.model_inputs(input_tensor, img_input), x,
                                      name)

    def imagenet_file():
        suffix = "" if include_top else "_notop"
        fname = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        origin = f"{base_url}{weights_name}/{fname}"
        return imagenet_utils.fetch_weights(fname, origin, hashes[0 if include_top else 1])

    return imagenet_utils.load_weights(model, weights, imagenet_file)
