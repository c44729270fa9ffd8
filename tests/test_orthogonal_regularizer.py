"""regularizers.OrthogonalRegularizer: values, gradients (finite differences), a layer's
training step and its config, against real Keras."""

import numpy as np
import pytest

import fastkeras as fk
from gradcheck import check_grads, leaf


@pytest.mark.parametrize("mode", ["rows", "columns"])
@pytest.mark.parametrize("shape", [(5, 3), (2, 7), (4, 4)])
def test_penalty_matches_keras(mode, shape, rng):
    keras = pytest.importorskip("keras")
    w = rng.normal(size=shape).astype(np.float32)
    theirs = float(keras.regularizers.OrthogonalRegularizer(0.3, mode)(
        keras.ops.convert_to_tensor(w)))
    ours = float(fk.regularizers.OrthogonalRegularizer(0.3, mode)(fk.ops.convert_to_tensor(w))
                 .value)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_gradient_matches_finite_differences(mode, rng):
    reg = fk.regularizers.OrthogonalRegularizer(0.5, mode)
    w = leaf(rng.normal(size=(4, 3)) + 0.5)
    check_grads(lambda: fk.ops.reshape(reg(w), (1,)), [w], rng, eps=1e-6, rtol=1e-4,
                atol=1e-8)


def test_dense_training_step_matches_keras(rng):
    keras = pytest.importorskip("keras")
    x = rng.normal(size=(8, 5)).astype(np.float32)
    y = rng.normal(size=(8, 4)).astype(np.float32)
    models = []
    for lib in (keras, fk):
        model = lib.Sequential([lib.Input((5,)), lib.layers.Dense(
            4, kernel_regularizer=lib.regularizers.OrthogonalRegularizer(0.2, "columns"))])
        models.append(model)
    km, fm = models
    fm.set_weights(km.get_weights())
    for lib, model in ((keras, km), (fk, fm)):
        model.compile(lib.optimizers.SGD(0.1), "mse")
    k_loss, f_loss = float(km.train_on_batch(x, y)), float(fm.train_on_batch(x, y))
    np.testing.assert_allclose(f_loss, k_loss, rtol=1e-5)
    for a, b in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    config = fk.regularizers.serialize(fm.layers[0].kernel_regularizer)
    assert keras.regularizers.deserialize(config).mode == "columns"
    assert fk.regularizers.get("orthogonal_regularizer").get_config() == \
        keras.regularizers.get("orthogonal_regularizer").get_config()


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="mode='diag'"):
        fk.regularizers.OrthogonalRegularizer(mode="diag")
    with pytest.raises(ValueError, match="factor"):
        fk.regularizers.OrthogonalRegularizer(-1.0)
    with pytest.raises(ValueError, match=r"rank 2. Received: inputs.shape=\(3,\)"):
        fk.regularizers.OrthogonalRegularizer()(fk.ops.ones((3,)))
