"""keras.config's remaining switches: unsafe deserialization (with Lambda layers saved as
Keras saves them), the debugging caps on epochs and steps, and the flags Keras exposes."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.saving import object_registry


@pytest.fixture
def restore_config():
    yield
    fk.config.set_max_epochs(None)
    fk.config.set_max_steps_per_epoch(None)
    object_registry._unsafe_everywhere[0] = False
    fk.config.enable_traceback_filtering()


def lambda_model():
    inp = fk.Input((3,))
    return fk.Model(inp, fk.layers.Lambda(lambda t: t * 2 + 1, output_shape=(3,))(inp))


def test_lambda_models_load_only_when_unsafe_is_allowed(tmp_path, restore_config, rng):
    x = rng.normal(size=(2, 3)).astype(np.float32)
    lambda_model().save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        fk.models.load_model(tmp_path / "m.keras")
    loaded = fk.models.load_model(tmp_path / "m.keras", safe_mode=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), x * 2 + 1, rtol=1e-6)
    fk.config.enable_unsafe_deserialization()
    np.testing.assert_allclose(fk.models.load_model(tmp_path / "m.keras").predict(
        x, verbose=0), x * 2 + 1, rtol=1e-6)


def test_lambda_files_both_ways_with_keras(tmp_path, rng):
    keras = pytest.importorskip("keras")
    x = rng.normal(size=(2, 3)).astype(np.float32)
    lambda_model().save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras", safe_mode=False)
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), x * 2 + 1, rtol=1e-6)
    inp = keras.Input((3,))
    keras.Model(inp, keras.layers.Lambda(lambda t: t * 3)(inp)).save(tmp_path / "k.keras")
    ours = fk.models.load_model(tmp_path / "k.keras", safe_mode=False)
    np.testing.assert_allclose(ours.predict(x, verbose=0), x * 3, rtol=1e-6)


def triple(t):
    return t * 3


def test_named_functions_come_back_through_custom_objects(tmp_path, rng):
    inp = fk.Input((3,))
    fk.Model(inp, fk.layers.Lambda(triple)(inp)).save(tmp_path / "n.keras")
    x = rng.normal(size=(2, 3)).astype(np.float32)
    loaded = fk.models.load_model(tmp_path / "n.keras", custom_objects={"triple": triple})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), x * 3, rtol=1e-6)


def test_lambda_passes_mask_and_training():
    seen = {}

    def fn(t, mask=None, training=None):
        seen.update(mask=mask, training=training)
        return t

    layer = fk.layers.Lambda(fn)
    x = fk.layers.Masking()(np.array([[[0.0], [1.0]]], np.float32))
    layer(x, training=True)
    assert seen["training"] is True
    np.testing.assert_array_equal(seen["mask"], [[False, True]])


def test_debugging_caps_limit_fit_evaluate_and_predict(restore_config, rng):
    model = fk.Sequential([fk.Input((2,)), fk.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = rng.normal(size=(64, 2)), rng.normal(size=(64, 1))
    fk.config.set_max_epochs(2)
    fk.config.set_max_steps_per_epoch(3)
    batches = []
    cb = fk.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    with pytest.warns(UserWarning, match="Limiting epochs to 2"):
        history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[cb])
    assert len(history.history["loss"]) == 2 and batches == [0, 1, 2, 0, 1, 2]
    with pytest.warns(UserWarning, match="Limiting steps_per_epoch to 3"):
        assert model.predict(x, batch_size=8, verbose=0).shape == (24, 1)
    with pytest.raises(ValueError, match="max_epochs=0"):
        fk.config.set_max_epochs(0)


def test_flags(restore_config):
    assert fk.config.is_traceback_filtering_enabled()
    fk.config.disable_traceback_filtering()
    assert not fk.config.is_traceback_filtering_enabled()
    assert fk.config.is_flash_attention_enabled() is None
    assert fk.config.is_nnx_enabled() is False
    fk.config.set_backend("fastkeras")
    with pytest.raises(ValueError, match="backend='torch'"):
        fk.config.set_backend("torch")
