"""The ops custom layers compute with (`fastkeras.ops`): each exists with Keras 3's signature,
computes what NumPy computes and has a finite-difference-checked gradient."""

import inspect

import numpy as np
import pytest

from fastkeras import ops
from fastkeras.backend import GradientTape, Tensor, gradients, no_grad

rng = np.random.default_rng(7)


def leaf(shape, low=-2.0, high=2.0, away_from_zero=False):
    a = rng.uniform(low, high, shape)
    if away_from_zero:
        a = np.where(np.abs(a) < 0.2, np.sign(a + 1e-12) * 0.2 + a, a)
    return Tensor(a, requires_grad=True)


def positive(shape):
    return Tensor(rng.uniform(0.5, 2.0, shape), requires_grad=True)


A, B = (3, 4), (3, 4)
# (op name, builder of (fn, leaves), NumPy reference on the leaves' values)
CASES = {
    "matmul": (lambda: (lambda x, y: ops.matmul(x, y), [leaf((3, 4)), leaf((4, 2))]), np.matmul),
    "add": (lambda: (ops.add, [leaf(A), leaf((4,))]), np.add),
    "subtract": (lambda: (ops.subtract, [leaf(A), leaf(B)]), np.subtract),
    "multiply": (lambda: (ops.multiply, [leaf(A), leaf((3, 1))]), np.multiply),
    "divide": (lambda: (ops.divide, [leaf(A), positive(B)]), np.divide),
    "concatenate": (lambda: (lambda x, y: ops.concatenate([x, y], axis=1),
                             [leaf((3, 2)), leaf((3, 4))]),
                    lambda x, y: np.concatenate([x, y], axis=1)),
    "reshape": (lambda: (lambda x: ops.reshape(x, (2, 6)), [leaf(A)]),
                lambda x: x.reshape(2, 6)),
    "transpose": (lambda: (lambda x: ops.transpose(x, (1, 0, 2)), [leaf((2, 3, 4))]),
                  lambda x: x.transpose(1, 0, 2)),
    "mean": (lambda: (lambda x: ops.mean(x, axis=1, keepdims=True), [leaf(A)]),
             lambda x: x.mean(axis=1, keepdims=True)),
    "sum": (lambda: (lambda x: ops.sum(x, axis=0), [leaf(A)]), lambda x: x.sum(axis=0)),
    "max": (lambda: (lambda x: ops.max(x, axis=-1), [leaf(A)]), lambda x: x.max(axis=-1)),
    "min": (lambda: (lambda x: ops.min(x, axis=0), [leaf(A)]), lambda x: x.min(axis=0)),
    "exp": (lambda: (ops.exp, [leaf(A)]), np.exp),
    "log": (lambda: (ops.log, [positive(A)]), np.log),
    "sqrt": (lambda: (ops.sqrt, [positive(A)]), np.sqrt),
    "square": (lambda: (ops.square, [leaf(A)]), np.square),
    "abs": (lambda: (ops.abs, [leaf(A, away_from_zero=True)]), np.abs),
    "maximum": (lambda: (ops.maximum, [leaf(A), leaf(B)]), np.maximum),
    "minimum": (lambda: (ops.minimum, [leaf(A), leaf(B)]), np.minimum),
    "where": (lambda: (lambda x, y: ops.where(np.arange(12).reshape(A) % 3 == 0, x, y),
                       [leaf(A), leaf(B)]),
              lambda x, y: np.where(np.arange(12).reshape(A) % 3 == 0, x, y)),
    "relu": (lambda: (ops.relu, [leaf(A, away_from_zero=True)]), lambda x: np.maximum(x, 0)),
    "sigmoid": (lambda: (ops.sigmoid, [leaf(A)]), lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (lambda: (ops.tanh, [leaf(A)]), np.tanh),
    "softmax": (lambda: (ops.softmax, [leaf(A)]),
                lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    "log_softmax": (lambda: (ops.log_softmax, [leaf(A)]),
                    lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    "power": (lambda: (ops.power, [positive(A), leaf(B)]), np.power),
    "negative": (lambda: (ops.negative, [leaf(A)]), np.negative),
    "expand_dims": (lambda: (lambda x: ops.expand_dims(x, 1), [leaf(A)]),
                    lambda x: np.expand_dims(x, 1)),
    "squeeze": (lambda: (lambda x: ops.squeeze(x, axis=1), [leaf((3, 1, 4))]),
                lambda x: np.squeeze(x, axis=1)),
    "stack": (lambda: (lambda x, y: ops.stack([x, y], axis=1), [leaf(A), leaf(B)]),
              lambda x, y: np.stack([x, y], axis=1)),
    "clip": (lambda: (lambda x: ops.clip(x, -1.0, 1.0), [leaf(A, away_from_zero=True)]),
             lambda x: np.clip(x, -1, 1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_finite_difference_gradients(name):
    build, reference = CASES[name]
    fn, leaves = build()
    values = [t.value.copy() for t in leaves]
    out = fn(*leaves)
    np.testing.assert_allclose(out.numpy(), reference(*values), rtol=1e-10, atol=1e-12)
    weight = rng.standard_normal(out.shape)
    with GradientTape():
        loss = ops.sum(ops.multiply(fn(*leaves), weight))
    analytic = gradients(loss, leaves)
    eps = 1e-6
    for i, t in enumerate(leaves):
        numeric = np.zeros_like(values[i])
        for idx in np.ndindex(values[i].shape):
            for sign in (1, -1):
                shifted = [v.copy() for v in values]
                shifted[i][idx] += sign * eps
                with no_grad():
                    numeric[idx] += sign * np.sum(fn(*[Tensor(v) for v in shifted]).numpy()
                                                  * weight)
        numeric /= 2 * eps
        np.testing.assert_allclose(analytic[i], numeric, rtol=1e-5, atol=1e-7,
                                   err_msg=f"{name}: leaf {i}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_signature_matches_keras(name):
    keras3 = pytest.importorskip("keras")
    theirs = list(inspect.signature(getattr(keras3.ops, name)).parameters)
    ours = list(inspect.signature(getattr(ops, name)).parameters)
    assert ours == theirs


def test_keyword_arguments_as_keras_names_them():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(ops.add(x1=x, x2=1.0).numpy(), x + 1)
    np.testing.assert_allclose(ops.reshape(x, newshape=(3, 2)).numpy(), x.reshape(3, 2))
    np.testing.assert_allclose(ops.max(x, axis=1, initial=4.0).numpy(), [4.0, 5.0])
    np.testing.assert_allclose(ops.stack(x=[x, x]).numpy(), np.stack([x, x]))


def test_defaults_match_keras_ops():
    """Argument defaults that change results: concatenate along axis 0, argmax/argmin over the
    flattened array, ops.gelu approximate (activations.gelu exact)."""
    import inspect
    k3 = pytest.importorskip("keras")
    for name in ("concatenate", "argmax", "argmin", "gelu", "mean", "sum", "max", "min",
                 "softmax", "transpose", "reshape", "where", "stack"):
        ours = inspect.signature(getattr(ops, name)).parameters
        theirs = inspect.signature(getattr(k3.ops, name)).parameters
        for p in theirs.values():
            if p.default is not inspect.Parameter.empty and p.name in ours:
                assert ours[p.name].default == p.default, (name, p.name)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert ops.concatenate([a, a]).shape == (4, 3)
    assert int(np.asarray(ops.argmax(a))) == 5


def test_where_without_branches_gives_indices():
    idx = ops.where(np.array([[True, False], [False, True]]))
    assert [np.asarray(i).tolist() for i in idx] == [[0, 1], [0, 1]]
    with pytest.raises(ValueError, match="both should"):
        ops.where(np.array([True]), 1.0)
