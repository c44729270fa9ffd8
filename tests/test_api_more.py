"""The last pieces of Keras's public surface: initializers.STFT, layers.serialize /
deserialize and the root DTypePolicy names, compared with real Keras."""

import numpy as np
import pytest

import fastkeras as fk

keras = pytest.importorskip("keras")


@pytest.mark.parametrize("side", ["real", "imag"])
@pytest.mark.parametrize("scaling", ["density", "spectrum", None])
@pytest.mark.parametrize("shape", [(8, 1, 5), (9, 1, 3), (16, 1, 9)])
def test_stft_initializer_matches_keras(side, scaling, shape):
    window = np.hanning(shape[0]).astype(np.float32)
    theirs = keras.initializers.STFT(side=side, window=window, scaling=scaling)(shape)
    ours = fk.initializers.STFT(side=side, window=window, scaling=scaling)(shape)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, np.asarray(theirs), atol=1e-6)
    plain = fk.initializers.STFTInitializer(side=side, window=None)(shape)
    np.testing.assert_allclose(plain, np.asarray(keras.initializers.STFT(side=side,
                                                                          window=None)(shape)),
                               atol=1e-6)


def test_stft_initializer_config_and_errors():
    init = fk.initializers.get("stft")
    assert isinstance(init, fk.initializers.STFT)
    config = fk.initializers.serialize(fk.initializers.STFT(side="imag", window="hamming"))
    assert config["class_name"] == "STFT"
    again = fk.initializers.deserialize(config)
    assert (again.side, again.window) == ("imag", "hamming")
    with pytest.raises(ValueError, match="side should be 'real' or 'imag', not 'both'"):
        fk.initializers.STFT(side="both")
    with pytest.raises(ValueError, match="scaling='loud'"):
        fk.initializers.STFT(scaling="loud")


def test_layers_serialize_and_deserialize_as_keras():
    ours = fk.layers.Dense(3, activation="relu", name="d")
    ours.build((None, 4))
    theirs = keras.layers.Dense(3, activation="relu", name="d")
    theirs.build((None, 4))
    mine, keras_dict = fk.layers.serialize(ours), keras.layers.serialize(theirs)
    assert mine["class_name"] == keras_dict["class_name"] == "Dense"
    assert mine["config"] == keras_dict["config"]
    rebuilt = fk.layers.deserialize(keras_dict)
    assert isinstance(rebuilt, fk.layers.Dense) and rebuilt.units == 3
    assert type(keras.layers.deserialize(mine)).__name__ == "Dense"


def test_root_dtype_policy_names():
    assert fk.DTypePolicy("float32").name == keras.DTypePolicy("float32").name
    assert fk.FloatDTypePolicy is fk.dtype_policies.DTypePolicy
