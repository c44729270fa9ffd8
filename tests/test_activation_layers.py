"""ReLU, LeakyReLU, PReLU, ELU, Softmax, Rescaling, GaussianNoise and Identity layers: Keras 3's
outputs, gradients (finite differences), configs, files and errors."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras.backend import GradientTape, Tensor, gradients
from gradcheck import away_from, check_grads
from keras_files import check_keras_file_both_ways

keras3 = pytest.importorskip("keras")

CASES = [
    ("ReLU", {}), ("ReLU", {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.2}),
    ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.05}), ("ELU", {}),
    ("ELU", {"alpha": 0.5}), ("Softmax", {}), ("Softmax", {"axis": 1}),
    ("Softmax", {"axis": (1, 2)}), ("Rescaling", {"scale": 0.5, "offset": -1.0}),
    ("Rescaling", {"scale": [0.5, 2.0, 1.0, -1.0], "offset": [0.0, 1.0, 2.0, 3.0]}),
    ("GaussianNoise", {"stddev": 0.3}), ("Identity", {}),
]


def make(lib, name, kwargs):
    return getattr(lib.layers, name)(**kwargs)


def to_numpy(t):
    return keras3.ops.convert_to_numpy(t) if not isinstance(t, (Tensor, np.ndarray)) \
        else np.asarray(getattr(t, "value", t))


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}{k}" for n, k in CASES])
def test_outputs_match_keras(name, kwargs, rng):
    x = rng.uniform(-3, 3, (2, 3, 4)).astype("float32")
    ours, theirs = make(fk, name, kwargs), make(keras3, name, kwargs)
    np.testing.assert_allclose(to_numpy(ours(x)), to_numpy(theirs(x)), rtol=1e-6, atol=1e-7)
    assert ours.compute_output_shape((None, 3, 4)) == (None, 3, 4)


def test_softmax_mask_matches_keras(rng):
    x = rng.standard_normal((2, 5)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0]], bool)
    ours = to_numpy(fk.layers.Softmax()(x, mask=mask))
    np.testing.assert_allclose(ours, to_numpy(keras3.layers.Softmax()(x, mask=mask)), rtol=1e-6)
    assert ours[0, [2, 4]].tolist() == [0, 0] and ours[1].sum() == 0  # all masked: zeros
    np.testing.assert_allclose(ours[0].sum(), 1.0, rtol=1e-6)


def test_rescaling_casts_integer_images():
    pixels = np.array([[[0, 128, 255]]], np.uint8)
    out = fk.layers.Rescaling(1 / 255)(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), pixels / 255, rtol=1e-6)


def test_gaussian_noise_only_while_training(rng):
    x = np.zeros((400, 50), np.float32)
    layer = fk.layers.GaussianNoise(0.2, seed=3)
    assert layer(x) is not None and np.all(layer(x).numpy() == 0)  # inference: unchanged
    noisy = layer(x, training=True).numpy()
    assert abs(noisy.mean()) < 0.005 and abs(noisy.std() - 0.2) < 0.005
    again = fk.layers.GaussianNoise(0.2, seed=3)(x, training=True).numpy()
    np.testing.assert_array_equal(noisy, again)  # a seed fixes the draws


# --- gradients against central differences (float64) ---------------------------------------

GRADIENT_CASES = [
    ("ReLU", {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.2}, (0.2, 1.5)),
    ("LeakyReLU", {"negative_slope": 0.05}, (0.0,)), ("ELU", {"alpha": 0.7}, (0.0,)),
    ("Softmax", {"axis": 1}, ()), ("Softmax", {"axis": (1, 2)}, ()),
    ("Rescaling", {"scale": [0.5, 2.0, 1.0, -1.0], "offset": 1.0}, ()), ("Identity", {}, ()),
]


@pytest.mark.parametrize("name, kwargs, kinks", GRADIENT_CASES,
                         ids=[f"{n}{k}" for n, k, _ in GRADIENT_CASES])
def test_input_gradient_matches_finite_differences(name, kwargs, kinks, rng):
    layer = make(fk, name, kwargs)
    x = Tensor(away_from(rng, (2, 3, 4), kinks, low=-2.5, high=2.5), requires_grad=True)
    if name == "Rescaling":  # computes in float32 by design: compare in that precision
        check_grads(lambda: ops.cast(layer(x), "float64"), [x], rng, eps=1e-3, rtol=1e-3,
                    atol=1e-3)
    else:
        check_grads(lambda: layer(x), [x], rng, eps=1e-6, rtol=1e-6, atol=1e-6)


# --- configs, files, errors ----------------------------------------------------------------

@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}{k}" for n, k in CASES])
def test_config_matches_keras_and_round_trips(name, kwargs):
    ours = make(fk, name, kwargs).get_config()
    theirs = make(keras3, name, kwargs).get_config()
    ours.pop("name"), theirs.pop("name")
    assert ours == theirs
    again = getattr(fk.layers, name).from_config(ours).get_config()
    again.pop("name")
    assert again == ours


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_model_with_these_layers_trains_saves_and_loads_in_keras(tmp_path, rng):
    x = rng.integers(0, 256, (96, 6, 6, 1)).astype(np.uint8)
    y = (x[:, :3].mean(axis=(1, 2, 3)) > x[:, 3:].mean(axis=(1, 2, 3))).astype(np.int64)
    model = fk.Sequential([
        fk.Input((6, 6, 1)), fk.layers.Rescaling(1 / 255), fk.layers.GaussianNoise(0.05),
        fk.layers.Conv2D(4, 3), fk.layers.LeakyReLU(0.1), fk.layers.Conv2D(4, 1),
        fk.layers.PReLU(alpha_initializer="ones", shared_axes=[1, 2]), fk.layers.Flatten(),
        fk.layers.Dense(8), fk.layers.ReLU(max_value=6.0), fk.layers.Identity(),
        fk.layers.Dense(8), fk.layers.ELU(), fk.layers.Dense(2), fk.layers.Softmax()])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    check_keras_file_both_ways(model, x[:8], tmp_path, rtol=1e-6, atol=0, keras_atol=1e-6,
                               back=False)


@pytest.mark.parametrize("make_bad, text", [
    (lambda: fk.layers.ReLU(max_value=-1), r"max_value .*ReLU.*Received: max_value=-1"),
    (lambda: fk.layers.ReLU(negative_slope=-0.5), r"negative_slope=-0.5"),
    (lambda: fk.layers.ReLU(threshold=None), r"threshold=None"),
    (lambda: fk.layers.LeakyReLU(negative_slope=-1), r"Leaky ReLU.*negative_slope=-1"),
    (lambda: fk.layers.GaussianNoise(2.0), r"stddev.*Received: stddev=2.0"),
    (lambda: fk.layers.Rescaling("half"), r"Rescaling: `scale`.*'half'"),
    (lambda: fk.layers.PReLU(shared_axes=[3])(np.zeros((2, 3), np.float32)),
     r"PReLU 'p_re_lu': shared_axes=\[3\].*\(2, 3\)"),
])
def test_bad_arguments_name_the_layer_and_value(make_bad, text):
    with pytest.raises(ValueError, match=text):
        make_bad()


def test_leaky_relu_accepts_the_older_alpha():
    with pytest.warns(UserWarning, match="alpha"):
        layer = fk.layers.LeakyReLU(alpha=0.2)
    assert layer.negative_slope == 0.2


@pytest.mark.parametrize("kwargs", [{}, {"shared_axes": [1, 2], "alpha_initializer": "he_normal"},
                                    {"shared_axes": 3}])
def test_prelu_matches_keras_and_learns_its_slopes(kwargs, rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype("float32")
    ours, theirs = fk.layers.PReLU(**kwargs), keras3.layers.PReLU(**kwargs)
    ours(x), theirs(x)
    theirs.set_weights([rng.uniform(0.1, 0.9, w.shape).astype("float32")
                        for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    assert ours.weights[0].path.endswith("/alpha") and ours.weights[0].trainable
    np.testing.assert_allclose(to_numpy(ours(x)), to_numpy(theirs(x)), rtol=1e-6)
    mine, keras_config = ours.get_config(), theirs.get_config()
    mine.pop("name"), keras_config.pop("name")
    assert mine == keras_config
    # the input gradient in closed form; alpha's against central differences (float32: loose)
    xt = Tensor(away_from(rng, x.shape, (0.0,), low=-2.5, high=2.5).astype("float32"),
                requires_grad=True)
    w = rng.standard_normal(x.shape).astype("float32")
    with GradientTape():
        value = ops.sum(ops.multiply(ours(xt), w))
    (grad_x,) = gradients(value, [xt])
    expected_x = np.where(xt.value > 0, 1.0, np.broadcast_to(ours.alpha.value, x.shape)) * w
    np.testing.assert_allclose(np.asarray(grad_x), expected_x, rtol=1e-5, atol=1e-6)
    check_grads(lambda: ours(xt), [ours.alpha], rng, eps=1e-2, rtol=1e-3, atol=1e-3)
