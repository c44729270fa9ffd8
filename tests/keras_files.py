"""A model's `.keras` file read back by fastkeras and by real Keras 3, with the same
predictions each way (real Keras: `pip install keras`, PyTorch backend, see conftest)."""

import numpy as np


def check_keras_file_both_ways(model, x, tmp_path, rtol=1e-5, atol=1e-6, keras_rtol=1e-5,
                               keras_atol=1e-5, back=True):
    """Saves `model` as .keras; fastkeras's load (to rtol/atol) and Keras's load (to
    keras_rtol/keras_atol) predict `x` as the model does; with `back`, the file Keras saves
    again loads in fastkeras and predicts the same too. Returns the model's predictions."""
    import keras

    import fastkeras as fk
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "ours.keras")
    np.testing.assert_allclose(fk.models.load_model(tmp_path / "ours.keras").predict(x, verbose=0),
                               want, rtol=rtol, atol=atol)
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)), want,
                               rtol=keras_rtol, atol=keras_atol)
    if back:
        theirs.save(tmp_path / "theirs.keras")
        again = fk.models.load_model(tmp_path / "theirs.keras")
        np.testing.assert_allclose(again.predict(x, verbose=0), want, rtol=keras_rtol,
                                   atol=keras_atol)
    return want
