"""load_model on files saved by real Keras 3.15: .keras and legacy .h5, Sequential models."""

import os

import numpy as np
import pytest

import fastkeras as keras
from keras_fixtures import FIXTURES

pytestmark = pytest.mark.skipif(not FIXTURES.exists() and not os.environ.get("CI"),
                                reason="../shared/fixtures/keras not found")


@pytest.mark.parametrize("name", ["mlp_adam", "cnn_sgd"])
@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_keras_files_load_and_predict(name, ext):
    io = np.load(FIXTURES / f"{name}_io.npz")
    model = keras.models.load_model(FIXTURES / f"{name}{ext}")
    np.testing.assert_allclose(model.predict(io["x0"], verbose=0), io["y0"], rtol=1e-5, atol=1e-5)
    assert model.count_params() == {"mlp_adam": 266610, "cnn_sgd": 787}[name]
    assert model.compiled and model.loss in ("sparse_categorical_crossentropy",
                                             "categorical_crossentropy")


def test_legacy_h5_restores_the_training_configuration():
    model = keras.models.load_model(FIXTURES / "cnn_sgd.h5")
    cfg = model.optimizer.get_config()
    assert type(model.optimizer).__name__ == "SGD"
    assert cfg["momentum"] == pytest.approx(0.9) and cfg["nesterov"] is True
    assert cfg["learning_rate"] == pytest.approx(0.01)
    # A loaded model trains.
    io = np.load(FIXTURES / "cnn_sgd_io.npz")
    y = np.eye(5, dtype=np.float32)[np.argmax(io["y0"], axis=1)]
    model.fit(io["x0"], y, epochs=1, verbose=0)


def test_load_without_compile():
    model = keras.models.load_model(FIXTURES / "mlp_adam.keras", compile=False)
    assert not model.compiled


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_functional_models_load_through_their_class(ext):
    """load_model dispatches on the config's class name: Functional.from_config rebuilds the
    two-input, two-output graph and the weights predict Keras's outputs."""
    io = np.load(FIXTURES / "wide_deep_io.npz")
    model = keras.models.load_model(FIXTURES / f"wide_deep{ext}")
    assert type(model).__name__ == "Functional" and len(model.outputs) == 2
    inputs = [io[k] for k in sorted(io.files) if k.startswith("x")]
    outputs = model.predict(inputs, verbose=0)
    expected = [io[k] for k in sorted(io.files) if k.startswith("y")]
    assert isinstance(outputs, list) and len(outputs) == len(expected) == 2
    for out, want in zip(outputs, expected):
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        keras.models.load_model(tmp_path / "nope.keras")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ValueError, match="junk.keras"):
        keras.models.load_model(junk)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes((FIXTURES / "cnn_sgd.h5").read_bytes()[:2000])
    with pytest.raises(ValueError, match="truncated.h5"):
        keras.models.load_model(truncated)
    with pytest.raises(ValueError, match="no 'model_config'"):
        keras.models.load_model(FIXTURES / "cnn_sgd.weights.h5")
