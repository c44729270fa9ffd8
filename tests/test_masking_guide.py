"""Keras's "Understanding masking and padding" guide, run with `fastkeras as keras`: masks
from Embedding and Masking, masks passed by hand, custom layers that split, make, carry or
use masks, and the symbolic `_keras_mask` of a functional model's tensors."""

import numpy as np

import fastkeras as keras
from fastkeras import layers, ops


def padded():
    raw_inputs = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]
    return keras.utils.pad_sequences(raw_inputs, padding="post")


WANT = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], bool)


def test_embedding_and_masking_layers_make_masks():
    inputs = padded()
    np.testing.assert_array_equal(
        layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)._keras_mask,
        WANT)
    unmasked = ops.cast(ops.tile(ops.expand_dims(inputs, axis=-1), [1, 1, 10]), "float32")
    np.testing.assert_array_equal(layers.Masking()(unmasked)._keras_mask, WANT)


class TemporalSplit(keras.layers.Layer):
    def call(self, inputs):
        return ops.split(inputs, 2, axis=1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.split(mask, 2, axis=1)


class CustomEmbedding(keras.layers.Layer):
    def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, mask_zero

    def build(self, input_shape):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer="random_normal", dtype="float32")

    def call(self, inputs):
        return ops.take(self.embeddings, ops.cast(inputs, "int32"))

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)


class MyActivation(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.relu(inputs)


class TemporalSoftmax(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        assert mask is not None
        broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
        inputs_exp = ops.exp(inputs) * broadcast_float_mask
        inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
        return inputs_exp / inputs_sum


def test_custom_layers_split_make_and_carry_masks():
    masked = layers.Masking()(ops.cast(ops.expand_dims(padded(), -1), "float32"))
    first, second = TemporalSplit()(masked)
    np.testing.assert_array_equal(first._keras_mask, WANT[:, :3])
    np.testing.assert_array_equal(second._keras_mask, WANT[:, 3:])
    x = np.array([[0, 3, 4, 0, 2]])
    layer = CustomEmbedding(10, 32, mask_zero=True)
    assert tuple(layer(x).shape) == (1, 5)  # ops.take without an axis reads the flat table
    np.testing.assert_array_equal(layer.compute_mask(x), x != 0)


def test_symbolic_masks_reach_layers_that_use_them():
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    x = MyActivation()(x)
    assert x._keras_mask is not None and x._keras_mask.dtype == "bool"
    model = keras.Model(inputs, layers.LSTM(32)(x))
    assert tuple(model(np.random.randint(0, 5000, size=(4, 20))).shape) == (4, 32)

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
    x = layers.Dense(1)(x)
    assert x._keras_mask is not None  # Dense carries the mask on, as in Keras
    model = keras.Model(inputs, TemporalSoftmax()(x))
    ids = np.array([[1, 2, 3, 0]])
    y = model(ids).value
    np.testing.assert_allclose(y[0, :3, 0], 1.0)


def test_mask_passed_by_hand_inside_a_layer():
    class MyLayer(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
            self.lstm = layers.LSTM(32)

        def call(self, inputs):
            x = self.embedding(inputs)
            return self.lstm(x, mask=self.embedding.compute_mask(inputs))

    x = (np.random.random((32, 10)) * 100).astype("int32")
    assert tuple(MyLayer()(x).shape) == (32, 32)
