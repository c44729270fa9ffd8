"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Lambda, Input/InputLayer and the
Layer base class (naming, weights, trainable, losses, configs, errors)."""

import numpy as np
import pytest

import fastkeras as keras
from fastkeras import ops, regularizers
from fastkeras.backend import GradientTape, Tensor, Variable, gradients
from fastkeras.backend import random as fk_random
from fastkeras.layers import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    KerasTensor,
    Lambda,
    Layer,
    Reshape,
)
from fastkeras.layers.layer import reset_names


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# --------------------------------------------------------------------------------------------
# Dense
# --------------------------------------------------------------------------------------------

NP_ACT = {
    None: lambda y: y,
    "linear": lambda y: y,
    "relu": lambda y: np.maximum(y, 0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softmax": lambda y: np.exp(y - y.max(-1, keepdims=True)) /
    np.exp(y - y.max(-1, keepdims=True)).sum(-1, keepdims=True),
    "elu": lambda y: np.where(y > 0, y, np.expm1(y)),
    "softplus": lambda y: np.log1p(np.exp(y)),
    "leaky_relu": lambda y: np.where(y >= 0, y, 0.2 * y),
}


@pytest.mark.parametrize("act", list(NP_ACT))
def test_dense_values_match_numpy(act, rng):
    layer = Dense(7, activation=act, bias_initializer="random_normal")
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = layer(x)
    assert isinstance(y, Tensor)
    assert y.shape == (5, 7) and y.dtype == np.float32
    k, b = layer.kernel.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
    np.testing.assert_allclose(y.numpy(), NP_ACT[act](x @ k + b), rtol=1e-5, atol=1e-5)


def test_dense_builds_on_first_call(rng):
    layer = Dense(3)
    assert not layer.built and layer.weights == []
    assert not hasattr(layer, "kernel")  # as Keras: the kernel exists once the layer is built
    layer(rng.standard_normal((2, 5)).astype(np.float32))
    assert layer.built
    assert layer.kernel.shape == (5, 3) and layer.bias.shape == (3,)
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert layer.kernel.path == "dense/kernel" and layer.bias.path == "dense/bias"
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(3))
    assert layer.count_params() == 5 * 3 + 3
    assert layer.input_shape == (2, 5)


def test_dense_default_kernel_is_glorot_uniform():
    layer = Dense(300)
    layer(np.zeros((1, 200), np.float32))
    limit = np.sqrt(6 / (200 + 300))
    k = layer.kernel.numpy()
    assert np.abs(k).max() <= limit
    assert np.abs(k).max() > 0.95 * limit
    np.testing.assert_allclose(k.var(), limit ** 2 / 3, rtol=0.05)


def test_dense_3d_input(rng):
    layer = Dense(3, bias_initializer="ones")
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, 4, 3)
    np.testing.assert_allclose(y.numpy(), x @ layer.kernel.numpy() + 1.0, rtol=1e-5, atol=1e-5)
    assert layer.kernel.shape == (5, 3)


def test_dense_4d_input(rng):
    layer = Dense(2)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, 3, 4, 2)
    np.testing.assert_allclose(y.numpy(), x @ layer.kernel.numpy(), rtol=1e-5, atol=1e-5)


def test_dense_no_bias(rng):
    layer = Dense(4, use_bias=False)
    x = rng.standard_normal((3, 2)).astype(np.float32)
    y = layer(x)
    assert layer.bias is None
    assert len(layer.weights) == 1 and layer.count_params() == 8
    np.testing.assert_allclose(y.numpy(), x @ layer.kernel.numpy(), rtol=1e-5, atol=1e-6)


def test_dense_accepts_lists_float64_and_ints(rng):
    layer = Dense(2, kernel_initializer="ones")
    np.testing.assert_allclose(layer([[1.0, 2.0, 3.0]]).numpy(), [[6.0, 6.0]])
    np.testing.assert_allclose(layer(np.array([[1, 2, 3]])).numpy(), [[6.0, 6.0]])
    y = layer(np.array([[0.5, 0.5, 0.5]], np.float64))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), [[1.5, 1.5]])


def test_dense_non_contiguous_input(rng):
    layer = Dense(3)
    x = rng.standard_normal((5, 4)).astype(np.float32).T  # (4, 5), Fortran-ordered
    y = layer(x)
    np.testing.assert_allclose(y.numpy(), x @ layer.kernel.numpy(), rtol=1e-5, atol=1e-5)


def test_dense_relu_output_is_nonnegative_and_fused_matches(rng):
    layer = Dense(16, activation="relu", bias_initializer="random_normal")
    x = rng.standard_normal((10, 8)).astype(np.float32)
    y = layer(x).numpy()
    assert (y >= 0).all() and (y == 0).any() and (y > 0).any()
    np.testing.assert_allclose(y, np.maximum(x @ layer.kernel.numpy() + layer.bias.numpy(), 0),
                               rtol=1e-5, atol=1e-5)


def test_dense_input_shape_kwarg_records_batch_shape():
    layer = Dense(4, input_shape=(3,))
    assert layer._input_shape_arg == (None, 3)
    assert Dense(4, input_dim=5)._input_shape_arg == (None, 5)
    # as Keras 3: the shape goes to the Input a Sequential makes, not into the layer's config
    assert "batch_input_shape" not in layer.get_config()


@pytest.mark.parametrize("units", [-3, 0, 2.5, "3", None, True])
def test_dense_invalid_units(units):
    with pytest.raises(ValueError) as e:
        Dense(units)
    msg = str(e.value)
    assert "units" in msg and repr(units) in msg


def test_dense_units_numpy_integer():
    assert Dense(np.int64(4)).units == 4


def test_dense_unknown_activation():
    with pytest.raises(ValueError, match="nope"):
        Dense(3, activation="nope")


def test_dense_wrong_input_dim_names_layer_and_shapes(rng):
    layer = Dense(3, name="my_dense")
    layer(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError) as e:
        layer(np.zeros((2, 5), np.float32))
    msg = str(e.value)
    assert "my_dense" in msg
    assert "value 4" in msg and "(2, 5)" in msg


def test_dense_get_config_keys_and_values():
    layer = Dense(5, activation="relu", use_bias=False, name="d",
                  kernel_regularizer=regularizers.L2(0.1))
    config = layer.get_config()
    for key in ("name", "trainable", "dtype", "units", "activation", "use_bias",
                "kernel_initializer", "bias_initializer", "kernel_regularizer",
                "bias_regularizer", "kernel_constraint", "bias_constraint"):
        assert key in config, key
    assert config["name"] == "d" and config["units"] == 5
    assert config["activation"] == "relu" and config["use_bias"] is False
    assert config["trainable"] is True
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert config["kernel_initializer"]["module"] == "keras.initializers"
    assert config["bias_initializer"]["class_name"] == "Zeros"
    assert config["kernel_regularizer"]["class_name"] == "L2"
    assert config["kernel_regularizer"]["config"]["l2"] == pytest.approx(0.1)
    assert config["bias_regularizer"] is None
    assert Dense(2).get_config()["activation"] == "linear"


def test_dense_from_config_roundtrip():
    layer = Dense(6, activation="tanh", name="dd")
    config = layer.get_config()
    config = {k: v for k, v in config.items() if not isinstance(v, dict)}
    clone = Dense.from_config(config)
    assert clone.units == 6 and clone.name == "dd"
    assert clone.get_config()["activation"] == "tanh"


def test_dense_kernel_initializer_and_regularizer_by_name(rng):
    layer = Dense(3, kernel_initializer="ones", bias_initializer="ones", kernel_regularizer="l2")
    layer(np.zeros((1, 2), np.float32))
    np.testing.assert_array_equal(layer.kernel.numpy(), np.ones((2, 3)))
    (loss,) = layer.losses
    assert float(loss) == pytest.approx(0.01 * 6)


# --------------------------------------------------------------------------------------------
# Activation
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "elu", "softplus",
                                  "leaky_relu", "linear"])
def test_activation_layer(name, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y = Activation(name)(x)
    np.testing.assert_allclose(y.numpy(), NP_ACT[name](x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    assert y.shape == x.shape


def test_activation_layer_callable_and_config(rng):
    layer = Activation(ops.relu)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), np.maximum(x, 0))
    layer = Activation("tanh")
    config = layer.get_config()
    assert config["activation"] == "tanh" and config["name"] == "activation_1"
    assert Activation.from_config(config).get_config()["activation"] == "tanh"


def test_activation_layer_unknown():
    with pytest.raises(ValueError):
        Activation("not_an_activation")


def test_activation_layer_has_no_weights(rng):
    layer = Activation("relu")
    layer(np.ones((2, 2), np.float32))
    assert layer.weights == [] and layer.count_params() == 0


# --------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------

def test_dropout_inactive_at_inference(rng):
    layer = Dropout(0.5)
    x = rng.standard_normal((10, 10)).astype(np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.8])
def test_dropout_active_in_training(rate, rng):
    layer = Dropout(rate, seed=0)
    x = np.ones((400, 500), np.float32)
    y = layer(x, training=True).numpy()
    dropped = (y == 0).mean()
    assert abs(dropped - rate) < 0.01
    kept = y[y != 0]
    np.testing.assert_allclose(kept, 1 / (1 - rate), rtol=1e-6)
    # the expected value is preserved
    assert abs(y.mean() - 1.0) < 0.03


def test_dropout_rate_zero_and_one():
    x = np.ones((3, 4), np.float32)
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True).numpy(), x)
    np.testing.assert_array_equal(Dropout(1.0)(x, training=True).numpy(), np.zeros_like(x))


@pytest.mark.parametrize("rate", [1.5, -0.1, "0.5", None])
def test_dropout_invalid_rate(rate):
    with pytest.raises(ValueError) as e:
        Dropout(rate)
    assert "rate" in str(e.value) and repr(rate) in str(e.value)


def test_dropout_noise_shape(rng):
    layer = Dropout(0.5, noise_shape=(None, 1, 6), seed=2)
    x = np.ones((50, 4, 6), np.float32)
    y = layer(x, training=True).numpy()
    # the mask is shared along axis 1
    assert (y == y[:, :1, :]).all()
    assert 0.35 < (y == 0).mean() < 0.65


def test_dropout_noise_shape_batch_shared():
    layer = Dropout(0.5, noise_shape=(1, 20), seed=4)
    y = layer(np.ones((8, 20), np.float32), training=True).numpy()
    assert (y == y[0]).all()


def test_dropout_seed_reproducible():
    x = np.ones((20, 30), np.float32)
    a, b = Dropout(0.5, seed=42), Dropout(0.5, seed=42)
    ya1, yb1 = a(x, training=True).numpy(), b(x, training=True).numpy()
    np.testing.assert_array_equal(ya1, yb1)
    ya2, yb2 = a(x, training=True).numpy(), b(x, training=True).numpy()
    np.testing.assert_array_equal(ya2, yb2)
    # successive calls of one layer draw new masks
    assert not np.array_equal(ya1, ya2)
    # and a different seed gives a different mask
    assert not np.array_equal(ya1, Dropout(0.5, seed=43)(x, training=True).numpy())


def test_dropout_global_seed_reproducible():
    x = np.ones((20, 30), np.float32)
    fk_random.set_seed(123)
    y1 = Dropout(0.5)(x, training=True).numpy()
    fk_random.set_seed(123)
    y2 = Dropout(0.5)(x, training=True).numpy()
    np.testing.assert_array_equal(y1, y2)
    fk_random.set_seed(None)


def test_dropout_config():
    config = Dropout(0.25, noise_shape=(None, 1), seed=5, name="drop").get_config()
    assert config["rate"] == 0.25 and config["seed"] == 5
    assert tuple(config["noise_shape"]) == (None, 1)
    assert config["name"] == "drop" and config["trainable"] is True
    assert Dropout.from_config(config).rate == 0.25


# --------------------------------------------------------------------------------------------
# Flatten / Reshape
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3, 4), (5, 28, 28), (2, 3, 4, 5), (3, 7)])
def test_flatten(shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    y = Flatten()(x)
    assert y.shape == (shape[0], int(np.prod(shape[1:])))
    np.testing.assert_array_equal(y.numpy(), x.reshape(shape[0], -1))


def test_flatten_1d_input_gives_column():
    y = Flatten()(np.arange(4, dtype=np.float32))
    assert y.shape == (4, 1)


def test_flatten_channels_first(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y = Flatten(data_format="channels_first")(x)
    np.testing.assert_array_equal(y.numpy(), np.transpose(x, (0, 2, 3, 1)).reshape(2, -1))


def test_flatten_config_and_no_weights():
    layer = Flatten()
    assert layer.get_config()["data_format"] == "channels_last"
    assert layer.name == "flatten"
    layer(np.zeros((2, 3, 3)))
    assert layer.count_params() == 0


@pytest.mark.parametrize("target,expected", [((3, 4), (2, 3, 4)), ((-1, 2), (2, 6, 2)),
                                             ((12,), (2, 12)), ((2, -1, 3), (2, 2, 2, 3))])
def test_reshape(target, expected, rng):
    x = rng.standard_normal((2, 12)).astype(np.float32)
    y = Reshape(target)(x)
    assert y.shape == expected
    np.testing.assert_array_equal(y.numpy(), x.reshape(expected))


@pytest.mark.parametrize("target", [(5,), (5, -1), (7, 2)])
def test_reshape_incompatible(target):
    layer = Reshape(target)
    with pytest.raises(ValueError) as e:
        layer(np.zeros((2, 12), np.float32))
    msg = str(e.value)
    assert str(target) in msg and "12" in msg


def test_reshape_config():
    config = Reshape((3, 4)).get_config()
    assert tuple(config["target_shape"]) == (3, 4)
    assert config["name"] == "reshape"


# --------------------------------------------------------------------------------------------
# Lambda
# --------------------------------------------------------------------------------------------

def test_lambda_layer(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    layer = Lambda(lambda t: ops.square(t) + 1.0)
    np.testing.assert_allclose(layer(x).numpy(), x ** 2 + 1, rtol=1e-6)
    assert layer.name == "lambda"
    assert layer.weights == []


def test_lambda_arguments(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    layer = Lambda(lambda t, k: ops.multiply(t, k), arguments={"k": 3.0})
    np.testing.assert_allclose(layer(x).numpy(), 3 * x, rtol=1e-6)
    assert layer.get_config()["arguments"] == {"k": 3.0}


def test_lambda_returning_numpy_is_wrapped(rng):
    layer = Lambda(lambda t: np.asarray(t) * 2)
    y = layer(np.ones((2, 2), np.float32))
    assert isinstance(y, Tensor)
    np.testing.assert_array_equal(y.numpy(), 2 * np.ones((2, 2)))


def test_lambda_requires_callable():
    with pytest.raises(ValueError, match="callable"):
        Lambda(3)


# --------------------------------------------------------------------------------------------
# Input / InputLayer
# --------------------------------------------------------------------------------------------

def test_input_returns_keras_tensor():
    t = Input(shape=(28, 28))
    assert isinstance(t, KerasTensor)
    assert t.shape == (None, 28, 28) and t.ndim == 3 and t.dtype == "float32"
    assert isinstance(t._layer, InputLayer)
    assert t._layer.name == "input_layer"


def test_input_batch_size_and_batch_shape():
    assert Input(shape=(3,), batch_size=8).shape == (8, 3)
    assert Input(batch_shape=(None, 4, 2)).shape == (None, 4, 2)
    assert InputLayer(input_shape=(5,)).batch_shape == (None, 5)


def test_input_requires_shape():
    with pytest.raises(ValueError, match="shape"):
        InputLayer()


def test_input_negative_shape():
    with pytest.raises(ValueError):
        Input(shape=(-2, 3))


def test_symbolic_dense_call():
    t = Input(shape=(6,))
    layer = Dense(4)
    out = layer(t)
    assert isinstance(out, KerasTensor)
    assert out.shape == (None, 4)
    assert layer.built and layer.kernel.shape == (6, 4)
    out2 = Flatten()(Input(shape=(2, 3)))
    assert out2.shape == (None, 6)


def test_symbolic_call_error_names_layer():
    t = Input(shape=(6,))
    with pytest.raises(ValueError) as e:
        Reshape((5,), name="bad_reshape")(t)
    assert "bad_reshape" in str(e.value)


# --------------------------------------------------------------------------------------------
# naming
# --------------------------------------------------------------------------------------------

def test_auto_naming_sequence():
    assert [Dense(1).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert Flatten().name == "flatten"
    assert Flatten().name == "flatten_1"
    assert Dropout(0.1).name == "dropout"
    assert Activation("relu").name == "activation"
    assert Reshape((1,)).name == "reshape"
    assert Lambda(lambda t: t).name == "lambda"


def test_auto_naming_custom_class_snake_case():
    class MyFancyLayer(Layer):
        pass

    assert MyFancyLayer().name == "my_fancy_layer"
    assert MyFancyLayer().name == "my_fancy_layer_1"


def test_explicit_name_and_reset():
    assert Dense(1, name="head").name == "head"
    assert Dense(1).name == "dense"
    reset_names()
    assert Dense(1).name == "dense"


def test_name_must_be_string():
    with pytest.raises(ValueError, match="name"):
        Dense(1, name=3)


def test_unknown_kwarg_raises_value_error():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to Dense"):
        Dense(3, foo=1)


# --------------------------------------------------------------------------------------------
# Layer subclassing, weights, trainable, losses
# --------------------------------------------------------------------------------------------

class Linear(Layer):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                 name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
        self.steps = self.add_weight(shape=(), initializer="zeros", trainable=False, name="steps")

    def call(self, inputs):
        return ops.add(ops.matmul(inputs, self.w), self.b)


def test_subclass_build_add_weight_call(rng):
    layer = Linear(3)
    assert layer.name == "linear" and not layer.built
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = layer(x)
    assert layer.built
    np.testing.assert_allclose(y.numpy(), x @ layer.w.numpy() + layer.b.numpy(), rtol=1e-5)
    assert [v.name for v in layer.weights] == ["w", "b", "steps"]
    assert [v.name for v in layer.trainable_weights] == ["w", "b"]
    assert [v.name for v in layer.non_trainable_weights] == ["steps"]
    assert all(isinstance(v, Variable) for v in layer.weights)
    assert layer.w.path == "linear/w"
    assert layer.count_params() == 5 * 3 + 3 + 1
    assert np.std(layer.w.numpy()) < 0.2


def test_subclass_weights_trainable_with_tape(rng):
    layer = Linear(2)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    layer(x)
    with GradientTape():
        loss = ops.sum(layer(x))
    gw, gb, gs = gradients(loss, [layer.w, layer.b, layer.steps])
    np.testing.assert_allclose(gw, x.T @ np.ones((3, 2)), rtol=1e-5)
    np.testing.assert_allclose(gb, [3.0, 3.0])
    assert gs is None


def test_nested_layers_are_tracked(rng):
    class Block(Layer):
        def __init__(self):
            super().__init__()
            self.first = Dense(4)
            self.rest = [Dense(3), Dense(2)]

        def call(self, x):
            x = self.first(x)
            for layer in self.rest:
                x = layer(x)
            return x

    block = Block()
    block(rng.standard_normal((2, 5)).astype(np.float32))
    assert len(block.weights) == 6
    assert [tuple(w.shape) for w in block.weights] == [(5, 4), (4,), (4, 3), (3,), (3, 2), (2,)]
    block.trainable = False
    assert block.trainable_weights == []
    assert all(not l.trainable for l in [block.first] + block.rest)
    block.trainable = True
    assert len(block.trainable_weights) == 6


def test_trainable_false_excludes_weights(rng):
    layer = Dense(3, trainable=False)
    layer(np.zeros((1, 2), np.float32))
    assert layer.trainable is False
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 2
    layer.trainable = True
    assert len(layer.trainable_weights) == 2 and layer.non_trainable_weights == []
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.weights) == 2
    assert not layer.kernel.trainable
    assert layer.get_config()["trainable"] is False


def test_unfreezing_keeps_declared_non_trainable(rng):
    layer = Linear(2)
    layer(np.zeros((1, 2), np.float32))
    layer.trainable = False
    layer.trainable = True
    assert [v.name for v in layer.trainable_weights] == ["w", "b"]


def test_get_set_weights(rng):
    layer = Dense(3)
    layer(np.zeros((1, 2), np.float32))
    new = [rng.standard_normal((2, 3)), rng.standard_normal((3,))]
    layer.set_weights(new)
    got = layer.get_weights()
    for a, b in zip(got, new):
        np.testing.assert_allclose(a, b, rtol=1e-6)
        assert a.dtype == np.float32
    # get_weights returns copies
    got[0][...] = 0
    assert not np.allclose(layer.kernel.numpy(), 0)
    with pytest.raises(ValueError):
        layer.set_weights([new[0]])
    with pytest.raises(ValueError):
        layer.set_weights([new[0].T, new[1]])


def test_set_weights_keeps_storage_identity(rng):
    layer = Dense(3)
    layer(np.zeros((1, 2), np.float32))
    storage = layer.kernel.value
    layer.set_weights([np.ones((2, 3)), np.zeros(3)])
    assert layer.kernel.value is storage
    np.testing.assert_array_equal(storage, np.ones((2, 3)))


def test_count_params_unbuilt_raises():
    with pytest.raises(ValueError, match="isn't built"):
        Dense(3).count_params()


def test_input_output_shape_before_call():
    layer = Dense(3)
    with pytest.raises(AttributeError):
        _ = layer.input_shape


def test_compute_output_shape():
    assert Dense(7).compute_output_shape((None, 3)) == (None, 7)
    assert Flatten().compute_output_shape((None, 3, 4)) == (None, 12)
    assert Reshape((2, -1)).compute_output_shape((None, 8)) == (None, 2, 4)


def test_regularizer_losses(rng):
    layer = Dense(3, kernel_regularizer=regularizers.L2(0.1), bias_regularizer=regularizers.L1(0.5),
                  bias_initializer="random_normal")
    layer(rng.standard_normal((2, 4)).astype(np.float32))
    losses = layer.losses
    assert len(losses) == 2
    k, b = layer.kernel.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
    np.testing.assert_allclose(float(losses[0]), 0.1 * np.sum(k ** 2), rtol=1e-5)
    np.testing.assert_allclose(float(losses[1]), 0.5 * np.sum(np.abs(b)), rtol=1e-5)
    assert Dense(3).losses == []


def test_regularizer_loss_differentiable(rng):
    layer = Dense(2, kernel_regularizer=regularizers.L2(0.3))
    layer(np.zeros((1, 3), np.float32))
    with GradientTape():
        (loss,) = layer.losses
    (g,) = gradients(loss, [layer.kernel])
    np.testing.assert_allclose(g, 0.6 * layer.kernel.numpy(), rtol=1e-5)


def test_frozen_layer_has_no_regularization_loss():
    layer = Dense(2, kernel_regularizer="l2")
    layer(np.zeros((1, 3), np.float32))
    assert len(layer.losses) == 1
    layer.trainable = False
    assert layer.losses == []


def test_nested_layer_regularizer_losses_collected(rng):
    class Block(Layer):
        def __init__(self):
            super().__init__()
            self.a = Dense(2, kernel_regularizer=regularizers.L2(0.1))
            self.b = Dense(2, kernel_regularizer=regularizers.L1(0.1))

        def call(self, x):
            return self.b(self.a(x))

    block = Block()
    block(np.ones((1, 3), np.float32))
    assert len(block.losses) == 2


def test_add_weight_regularizer_in_losses():
    class WithReg(Layer):
        def build(self, input_shape):
            self.v = self.add_weight(shape=(3,), initializer="ones", regularizer="l1")

        def call(self, x):
            return ops.multiply(x, self.v)

    layer = WithReg()
    layer(np.ones((2, 3), np.float32))
    (loss,) = layer.losses
    assert float(loss) == pytest.approx(0.01 * 3)


def test_activity_regularizer_loss_matches_keras3(rng):
    """Keras 3.15 adds `activity_regularizer(output) / batch_size` as the loss."""
    layer = Dense(3, activity_regularizer=regularizers.L2(0.1), kernel_initializer="ones")
    x = rng.standard_normal((4, 2)).astype(np.float32)
    y = layer(x).numpy().astype(np.float64)
    (loss,) = layer.losses
    np.testing.assert_allclose(float(loss), 0.1 * np.sum(y ** 2) / 4, rtol=1e-5)
    keras3 = pytest.importorskip("keras")
    theirs = keras3.layers.Dense(3, activity_regularizer=keras3.regularizers.L2(0.1),
                                 kernel_initializer="ones")
    theirs(x)
    np.testing.assert_allclose(float(loss), float(keras3.ops.convert_to_numpy(
        theirs.losses[0])), rtol=1e-5)


@pytest.mark.parametrize("make", [
    lambda lib: lib.layers.Conv2D(2, 3, activity_regularizer="l2"),
    lambda lib: lib.layers.Conv2DTranspose(2, 3, activity_regularizer="l1"),
    lambda lib: lib.layers.DepthwiseConv2D(3, activity_regularizer="l2"),
    lambda lib: lib.layers.SeparableConv2D(2, 3, activity_regularizer="l2"),
    lambda lib: lib.layers.LSTM(3, return_state=True, activity_regularizer="l2"),
    lambda lib: lib.layers.Embedding(5, 2, activity_regularizer="l1"),
])
def test_every_layer_adds_activity_losses_as_keras3(make, rng):
    keras3 = pytest.importorskip("keras")
    theirs, ours = make(keras3), make(keras)
    x = rng.integers(0, 5, (3, 4)) if isinstance(ours, keras.layers.Embedding) else \
        rng.standard_normal((3, 6, 5) if isinstance(ours, keras.layers.LSTM)
                            else (3, 6, 6, 2)).astype(np.float32)
    theirs(x)
    ours(x)
    ours.set_weights([keras3.ops.convert_to_numpy(w) for w in theirs.weights])
    theirs(x)
    ours(x)
    want = [float(keras3.ops.convert_to_numpy(v)) for v in theirs.losses]
    np.testing.assert_allclose([float(np.asarray(v.value)) for v in ours.losses], want,
                               rtol=1e-5)


def test_activity_regularizer_replaced_each_call(rng):
    layer = Dense(3, activity_regularizer=regularizers.L1(0.1))
    layer(rng.standard_normal((4, 2)).astype(np.float32))
    layer(rng.standard_normal((4, 2)).astype(np.float32))
    assert len(layer.losses) == 1


def test_base_layer_get_config():
    config = Flatten(name="f", trainable=False).get_config()
    assert config["name"] == "f" and config["trainable"] is False
    assert config["dtype"] == {"module": "keras", "class_name": "DTypePolicy",
                               "config": {"name": "float32"}, "registered_name": None}
    assert Flatten.from_config(config).dtype == "float32"


@pytest.mark.parametrize("make, text", [
    (lambda: Dense(0), r"argument `units` in Dense.*units=0"),
    (lambda: Dense(2.5), r"argument `units` in Dense.*units=2.5"),
    (lambda: Dense(True), r"argument `units` in Dense.*units=True"),
])
def test_non_positive_integer_sizes_name_the_layer_argument_and_value(make, text):
    with pytest.raises(ValueError, match=text):
        make()


def test_embedding_and_conv_sizes_share_the_same_check():
    from fastkeras import layers
    with pytest.raises(ValueError, match=r"argument `input_dim` in Embedding.*input_dim=0"):
        layers.Embedding(0, 4)
    with pytest.raises(ValueError, match=r"argument `output_dim` in Embedding.*output_dim=-1"):
        layers.Embedding(5, -1)
    with pytest.raises(ValueError, match=r"argument `filters` in Conv2D.*filters=0"):
        layers.Conv2D(0, 3)
    with pytest.raises(ValueError, match=r"argument `units` in LSTMCell.*units=0"):
        layers.LSTM(0)


def test_dense_on_a_transposed_view_differentiates(rng):
    """A 2-D input that is a Fortran-ordered view (a transpose) gets a C-ordered input gradient
    from the fused backward, the same as from a contiguous copy."""
    xv = rng.standard_normal((5, 3)).astype(np.float32)
    layer = Dense(2)
    layer.build((None, 5))
    grads = []
    for view in (True, False):
        x = Variable(xv)
        with GradientTape():
            h = ops.transpose(x) if view else ops.reshape(ops.transpose(x) * 1.0, (3, 5))
            loss = ops.sum(layer(h) ** 2)
        grads.append(gradients(loss, [x])[0])
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)
    kernel = layer.kernel.value.astype(np.float64)
    h = xv.T.astype(np.float64)
    dy = 2 * (h @ kernel + layer.bias.value)
    # float32 sums of two products: an element where they nearly cancel is small but carries
    # the terms' absolute rounding (~1e-7), so an absolute floor is needed beside rtol.
    np.testing.assert_allclose(grads[0], (dy @ kernel.T).T, rtol=1e-5, atol=1e-6)


def test_custom_layer_with_a_build_per_call_argument_as_keras(tmp_path):
    """`build(self, a_shape, b_shape)` receives the shapes of call arguments `a` and `b`, and
    the layer's build config is Keras's shapes_dict, so the file loads in Keras and back."""
    keras3 = pytest.importorskip("keras")

    def define(lib):
        @lib.saving.register_keras_serializable(package="two_shapes")
        class Mix(lib.layers.Layer):
            def build(self, a_shape, b_shape):
                self.w = self.add_weight(shape=(a_shape[-1], b_shape[-1]), name="w")

            def call(self, a, b):
                return lib.ops.matmul(a, self.w) * b

        return Mix

    theirs_cls, ours_cls = define(keras3), define(keras)
    layer = ours_cls()
    y = layer(np.ones((2, 3), np.float32), np.ones((2, 4), np.float32))
    assert y.shape == (2, 4) and layer.w.shape == (3, 4)
    a, b = keras.Input((3,)), keras.Input((4,))
    model = keras.Model([a, b], ours_cls()(a, b))
    entry = next(e for e in model.get_config()["layers"] if e["class_name"] == "Mix")
    assert entry["build_config"] == {"shapes_dict": {"a_shape": [None, 3], "b_shape": [None, 4]}}
    x = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((2, 4), np.float32)]
    model.save(tmp_path / "mix.keras")
    theirs = keras3.saving.load_model(tmp_path / "mix.keras")
    np.testing.assert_allclose(keras3.ops.convert_to_numpy(theirs.predict(x, verbose=0)),
                               model.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "mix.keras").predict(
        x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert theirs_cls is not None


def test_add_loss_in_call_trains_as_keras3():
    """A layer that calls `self.add_loss(...)` in `call` adds it to the training and
    evaluation loss (undivided), once per call, as Keras 3 does."""
    keras3 = pytest.importorskip("keras")

    def build(lib):
        class Penalize(lib.layers.Layer):
            def call(self, x):
                self.add_loss(0.01 * lib.ops.sum(lib.ops.square(x)))
                return x

        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4), Penalize(),
                                lib.layers.Dense(1)])
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
        return model

    theirs, ours = build(keras3), build(keras)
    ours.set_weights([keras3.ops.convert_to_numpy(w) for w in theirs.weights])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)
    h_theirs = theirs.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    h_ours = ours.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0),
                               rtol=1e-5)
    assert len(ours.losses) == 1  # the last call's, not one per call made
    ours(x[:2])
    assert len(ours.losses) == 1
