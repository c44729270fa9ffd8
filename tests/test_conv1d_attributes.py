"""The public geometry attributes of the 1-D layers (kernel_size, strides, dilation_rate,
output_padding, pool_size, ...) against real Keras 3: the 1-D convolutions run on the 2-D
kernels, but read as Keras's 1-tuples. Also the 2-D layers they are built on (still pairs),
and one forward/backward pass of each 1-D convolution against Keras with the same weights."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.backend import GradientTape, Tensor, gradients

# Weight lists and the like are lists; the geometry Keras keeps is tuples.
_SKIP = {"weights", "variables", "trainable_weights", "non_trainable_weights",
         "trainable_variables", "non_trainable_variables"}


def _keras():
    return pytest.importorskip("keras")


_MISSING = object()


def _tuple_attributes(layer):
    """{name: value} of the public attributes that are tuples (or output_padding, which may
    be None), read without raising."""
    found = {}
    for name in dir(layer):
        if name.startswith("_") or name in _SKIP:
            continue
        try:
            value = getattr(layer, name)
        except (AttributeError, ValueError, RuntimeError, NotImplementedError):
            # e.g. `kernel` before the build, `input` of an unconnected layer
            value = _MISSING
        if isinstance(value, tuple) or (name == "output_padding" and value is not _MISSING):
            found[name] = value
    return found


# What a built fastkeras layer also exposes (every layer, after a call), not geometry.
_GENERIC = {"input_shape", "output_shape"}


def _check_same_attributes(ours, theirs):
    want, got = _tuple_attributes(theirs), _tuple_attributes(ours)
    got = {name: value for name, value in got.items()
           if name in want or name not in _GENERIC}
    assert got == want
    for name, value in want.items():
        assert type(got[name]) is type(value), name
        if isinstance(value, tuple):
            assert all(type(v) is int for v in got[name]), (name, got[name])
    return got


CONV1D_CASES = [
    ("Conv1D", (4, 3), {}),
    ("Conv1D", (4, 3), dict(strides=2)),
    ("Conv1D", (4, (5,)), dict(strides=(3,), padding="same")),
    ("Conv1D", (4, 3), dict(dilation_rate=2, padding="causal")),
    ("Conv1D", (4, 3), dict(groups=2)),
    ("Conv1D", (4, 3), dict(lora_rank=2)),
    ("Convolution1D", (2, 1), {}),
    ("SeparableConv1D", (4, 3), {}),
    ("SeparableConv1D", (4, 3), dict(strides=2, padding="same", depth_multiplier=2)),
    ("SeparableConv1D", (4, 5), dict(dilation_rate=3)),
    ("SeparableConvolution1D", (4, 2), dict(data_format="channels_first")),
    ("DepthwiseConv1D", (3,), {}),
    ("DepthwiseConv1D", (3,), dict(strides=2, padding="same")),
    ("DepthwiseConv1D", (4,), dict(dilation_rate=2, depth_multiplier=3)),
    ("Conv1DTranspose", (4, 3), {}),
    ("Conv1DTranspose", (4, 3), dict(strides=2, output_padding=1)),
    ("Conv1DTranspose", (4, 4), dict(strides=3, padding="same", output_padding=0)),
    ("Conv1DTranspose", (4, 3), dict(dilation_rate=2, padding="same")),
    ("Convolution1DTranspose", (2, 2), dict(data_format="channels_first")),
    ("ConvLSTM1D", (4, 3), {}),
    ("ConvLSTM1D", (4, 3), dict(strides=2, padding="same")),
    ("ConvLSTM1D", (4, 3), dict(dilation_rate=2, return_sequences=True)),
    ("MaxPooling1D", (), {}),
    ("MaxPooling1D", (3,), dict(strides=1, padding="same")),
    ("MaxPool1D", ((2,),), dict(strides=(1,))),
    ("AveragePooling1D", (3,), {}),
    ("AveragePooling1D", (2,), dict(strides=3, data_format="channels_first")),
    ("AvgPool1D", (4,), {}),
    ("AdaptiveAveragePooling1D", (4,), {}),
    ("AdaptiveMaxPooling1D", (3,), {}),
    ("ZeroPadding1D", ((1, 2),), {}),
    ("Cropping1D", ((2, 1),), {}),
]

CONV2D_CASES = [
    ("Conv2D", (4, 3), dict(strides=2)),
    ("Conv2D", (4, (3, 2)), dict(dilation_rate=(2, 1))),
    ("SeparableConv2D", (4, 3), dict(strides=(2, 1))),
    ("DepthwiseConv2D", ((3, 2),), dict(dilation_rate=2)),
    ("Conv2DTranspose", (4, 3), dict(strides=2, output_padding=1)),
    ("Conv2DTranspose", (4, (3, 2)), {}),
    ("MaxPooling2D", ((2, 3),), {}),
    ("ConvLSTM2D", (4, 3), dict(strides=2)),
]


def _input_shape(name, kwargs):
    """A (batch, ...) input shape for building `name` (None: the layer is not built)."""
    first = kwargs.get("data_format") == "channels_first"
    if name.startswith("ConvLSTM1D"):
        return (2, 3, 8, 4)
    if name.startswith("ConvLSTM2D"):
        return (2, 3, 8, 8, 4)
    if "2D" in name:
        return (2, 8, 8, 4)
    return (2, 4, 16) if first else (2, 16, 4)


@pytest.mark.parametrize("name, args, kwargs", CONV1D_CASES + CONV2D_CASES,
                         ids=[f"{n}-{a}-{k}" for n, a, k in CONV1D_CASES + CONV2D_CASES])
def test_public_tuple_attributes_match_keras(name, args, kwargs):
    keras = _keras()
    ours = getattr(fk.layers, name)(*args, **kwargs)
    theirs = getattr(keras.layers, name)(*args, **kwargs)
    got = _check_same_attributes(ours, theirs)
    rank = 1 if "1D" in name else 2
    for key in ("kernel_size", "strides", "dilation_rate", "pool_size"):
        if key in got:
            assert len(got[key]) == rank
    # Building the layer changes none of them.
    x = np.zeros(_input_shape(name, kwargs), np.float32)
    ours(x)
    theirs(x)
    _check_same_attributes(ours, theirs)
    # The config round trip keeps them too.
    _check_same_attributes(type(ours).from_config(ours.get_config()), theirs)


def test_user_code_indexing_sees_the_1d_values():
    layer = fk.layers.Conv1D(4, 3, strides=2)
    assert layer.kernel_size[0] == 3 and layer.strides[0] == 2
    assert layer.dilation_rate == (1,)
    transpose = fk.layers.Conv1DTranspose(4, 3, strides=2, output_padding=1)
    assert transpose.output_padding == (1,) and transpose.strides == (2,)
    assert fk.layers.Conv1DTranspose(4, 3).output_padding is None
    sep = fk.layers.SeparableConv1D(4, 5, dilation_rate=2)
    assert (sep.kernel_size, sep.strides, sep.dilation_rate) == ((5,), (1,), (2,))
    depth = fk.layers.DepthwiseConv1D(3, strides=2)
    assert (depth.kernel_size, depth.strides, depth.dilation_rate) == ((3,), (2,), (1,))


def _torch_grads(layer, x, r):
    """Keras (torch backend): the output for x and the gradients of sum(y * r) with respect
    to x and to each of the layer's trainable weights."""
    import torch
    keras = _keras()
    xt = torch.tensor(x, requires_grad=True)
    y = layer(xt)
    loss = (y * torch.tensor(r)).sum()
    params = [w.value for w in layer.trainable_weights]
    grads = torch.autograd.grad(loss, [xt] + params)
    return (keras.ops.convert_to_numpy(y),
            [g.detach().cpu().numpy() for g in grads])


FORWARD_CASES = [
    ("Conv1D", (4, 3), dict(strides=2, padding="same"), (2, 11, 3)),
    ("Conv1D", (4, 3), dict(dilation_rate=2, padding="causal"), (2, 10, 3)),
    ("Conv1D", (6, 3), dict(groups=2, activation="relu"), (2, 9, 4)),
    ("SeparableConv1D", (5, 3), dict(strides=2, depth_multiplier=2), (2, 11, 3)),
    ("DepthwiseConv1D", (3,), dict(dilation_rate=2, padding="same", depth_multiplier=2),
     (2, 10, 3)),
    ("Conv1DTranspose", (4, 3), dict(strides=2, output_padding=1, padding="same"),
     (2, 7, 3)),
    ("ConvLSTM1D", (4, 3), dict(strides=2, return_sequences=True), (2, 3, 9, 3)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", FORWARD_CASES,
                         ids=[case[0] + str(case[2]) for case in FORWARD_CASES])
def test_forward_and_backward_match_keras(name, args, kwargs, shape, rng):
    keras = _keras()
    x = rng.standard_normal(shape).astype(np.float32)
    theirs = getattr(keras.layers, name)(*args, **kwargs)
    theirs(x)
    # Non-default weights everywhere (biases included), shared by both layers.
    weights = [rng.standard_normal(tuple(w.shape)).astype(np.float32) * 0.5
               for w in theirs.weights]
    theirs.set_weights(weights)
    r = _cotangent(theirs, x)
    want, want_grads = _torch_grads(theirs, x, r)

    ours = getattr(fk.layers, name)(*args, **kwargs)
    ours(x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(weights)
    with GradientTape():
        xt = fk.ops.convert_to_tensor(x)
        xt.requires_grad = True
        y = ours(xt)
        loss = fk.ops.sum(fk.ops.multiply(y, r))
    got_grads = gradients(loss, [xt] + list(ours.trainable_weights))
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-4, atol=1e-4)
    assert len(got_grads) == len(want_grads)
    for g, w in zip(got_grads, want_grads):
        g = g.numpy() if isinstance(g, Tensor) else np.asarray(g)
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)
    # The geometry still reads as Keras's after the pass.
    _check_same_attributes(ours, theirs)


def _cotangent(layer, x):
    """A fixed, non-uniform cotangent of the layer's output shape for x."""
    keras = _keras()
    shape = keras.ops.convert_to_numpy(layer(x)).shape
    return np.linspace(-1.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
