"""`MelSpectrogram` and `STFTSpectrogram`: values, shapes, configs, weights and gradients
against real Keras 3 (PyTorch backend), window functions, training and `.keras` files."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.backend import GradientTape, gradients
from fastkeras.layers.spectrogram import _window_values
from keras_files import check_keras_file_both_ways

keras = pytest.importorskip("keras")


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _ours(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


# --- MelSpectrogram -------------------------------------------------------------------------

MEL_CONFIGS = [
    dict(fft_length=64, sequence_stride=16, num_mel_bins=10),
    dict(fft_length=128, sequence_stride=50, sequence_length=100, window="hamming",
         sampling_rate=8000, num_mel_bins=20, min_freq=100.0, max_freq=3000.0, mag_exp=1.0,
         top_db=40.0, ref_power=2.0),
    dict(fft_length=64, sequence_stride=16, power_to_db=False, window=None, num_mel_bins=12),
    dict(fft_length=256, sequence_stride=100, num_mel_bins=16, sampling_rate=22050,
         min_power=1e-6, top_db=20.0, ref_power=-0.5),
]


@pytest.mark.parametrize("config", MEL_CONFIGS)
@pytest.mark.parametrize("shape", [(3, 1001), (777,), (1, 512)])
def test_mel_spectrogram_values_match_keras(config, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    want = _np(keras.layers.MelSpectrogram(**config)(x))
    layer = fk.layers.MelSpectrogram(**config)
    got = _ours(layer(x))
    assert got.shape == want.shape
    assert got.dtype == np.float32
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5 * scale)
    assert layer.compute_output_shape(shape) == tuple(got.shape)


def test_mel_filter_bank_matches_keras():
    ours = fk.layers.MelSpectrogram().linear_to_mel_weight_matrix(
        num_mel_bins=24, num_spectrogram_bins=257, sampling_rate=16000, lower_edge_hertz=30.0,
        upper_edge_hertz=7000.0)
    theirs = _np(keras.layers.MelSpectrogram().linear_to_mel_weight_matrix(
        num_mel_bins=24, num_spectrogram_bins=257, sampling_rate=16000, lower_edge_hertz=30.0,
        upper_edge_hertz=7000.0))
    assert ours.shape == (257, 24)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert np.all(ours[0] == 0)  # the DC bin gets no weight


def test_mel_spectrogram_config_matches_keras():
    for config in MEL_CONFIGS + [{}]:
        ours = fk.layers.MelSpectrogram(name="mel", **config).get_config()
        theirs = keras.layers.MelSpectrogram(name="mel", **config).get_config()
        assert ours == theirs
        again = fk.layers.MelSpectrogram.from_config(ours).get_config()
        assert again == ours


def test_mel_spectrogram_symbolic_shape_and_errors():
    model = fk.Sequential([fk.Input((4000,)), fk.layers.MelSpectrogram(num_mel_bins=32)])
    assert model.output_shape == (None, 32, 8)
    free = fk.Sequential([fk.Input((None,)), fk.layers.MelSpectrogram(num_mel_bins=32)])
    assert free.output_shape == (None, 32, None)
    with pytest.raises(ValueError, match="sequence_length=300, fft_length=256"):
        fk.layers.MelSpectrogram(fft_length=256, sequence_length=300)
    with pytest.raises(ValueError, match="window='blackman'"):
        fk.layers.MelSpectrogram(window="blackman")
    with pytest.raises(ValueError, match="sequence_stride=0"):
        fk.layers.MelSpectrogram(sequence_stride=0)


def test_mel_spectrogram_file_both_ways(tmp_path):
    config = dict(fft_length=128, sequence_stride=64, num_mel_bins=16, sampling_rate=8000)
    model = fk.Sequential([fk.Input((640,)), fk.layers.MelSpectrogram(**config),
                           fk.layers.Flatten(), fk.layers.Dense(3)])
    x = np.random.default_rng(1).standard_normal((4, 640)).astype(np.float32)
    check_keras_file_both_ways(model, x, tmp_path, rtol=1e-4, atol=1e-4, keras_rtol=1e-3,
                               keras_atol=1e-3)


# --- window functions -----------------------------------------------------------------------

@pytest.mark.parametrize("name,reference", [
    ("hann", np.hanning), ("hamming", np.hamming), ("blackman", np.blackman),
    ("bartlett", np.bartlett), ("boxcar", np.ones)])
@pytest.mark.parametrize("length", [1, 2, 7, 16])
def test_windows_match_numpy(name, reference, length):
    np.testing.assert_allclose(_window_values(name, length, False), reference(length),
                               atol=1e-12)
    # periodic: the symmetric window one longer, without its last value
    if length > 1:
        np.testing.assert_allclose(_window_values(name, length, True),
                                   reference(length + 1)[:-1], atol=1e-12)


def test_window_values_of_other_shapes():
    np.testing.assert_allclose(_window_values("triang", 5, False), [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3])
    np.testing.assert_allclose(_window_values("triang", 4, False), [0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(_window_values("cosine", 4, False),
                               np.sin(np.pi / 4 * (np.arange(4) + 0.5)))
    np.testing.assert_allclose(_window_values("hanning", 8, True), _window_values("hann", 8, True))
    with pytest.raises(ValueError, match="window='nonsense'"):
        fk.layers.STFTSpectrogram(window="nonsense")


# --- STFTSpectrogram ------------------------------------------------------------------------

MODES = ["log", "magnitude", "psd", "real", "imag", "angle", "stft"]


def _stft_pair(window="hann", periodic=False, **kwargs):
    """Our layer with a named window, and Keras's given the same window as an array (Keras
    needs scipy for named windows)."""
    frame_length = kwargs.get("frame_length", 256)
    theirs_window = window
    if isinstance(window, str):
        theirs_window = _window_values(window, frame_length, periodic).astype(np.float32)
    ours = fk.layers.STFTSpectrogram(window=window, periodic=periodic, name="stft", **kwargs)
    theirs = keras.layers.STFTSpectrogram(window=theirs_window, periodic=periodic, name="stft",
                                          **kwargs)
    return ours, theirs


def _compare(ours, theirs, x, mode):
    got, want = _ours(ours(x)), _np(theirs(x))
    assert got.shape == want.shape
    assert ours.compute_output_shape(x.shape) == tuple(theirs.compute_output_shape(x.shape))
    if mode == "angle":  # the phase of near-zero bins is ill-conditioned: compare as unit vectors
        np.testing.assert_allclose(np.cos(got), np.cos(want), atol=2e-4)
        np.testing.assert_allclose(np.sin(got), np.sin(want), atol=2e-4)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("expand_dims", [False, True])
def test_stft_spectrogram_values_match_keras(mode, data_format, padding, expand_dims):
    rng = np.random.default_rng(hash((mode, data_format, padding, expand_dims)) % 2**32)
    x = rng.standard_normal((2, 101, 3)).astype(np.float32)
    if data_format == "channels_first":
        x = np.ascontiguousarray(np.transpose(x, (0, 2, 1)))
    ours, theirs = _stft_pair(mode=mode, frame_length=20, frame_step=7, fft_length=32,
                              padding=padding, expand_dims=expand_dims, data_format=data_format)
    _compare(ours, theirs, x, mode)


@pytest.mark.parametrize("kwargs", [
    dict(frame_length=16),  # defaults: frame_step 8, fft_length 16, symmetric hann, density
    dict(frame_length=24, window="hamming", periodic=True, scaling="spectrum"),
    dict(frame_length=30, frame_step=30, fft_length=64, window=None, scaling=None),
    dict(frame_length=12, frame_step=5, window="blackman", scaling=None, padding="same"),
    dict(frame_length=10, frame_step=3, fft_length=16, window=np.linspace(0.1, 1.0, 10)),
])
@pytest.mark.parametrize("mode", ["log", "psd", "stft"])
def test_stft_spectrogram_windows_and_scalings_match_keras(kwargs, mode):
    x = np.random.default_rng(3).standard_normal((3, 77, 2)).astype(np.float32)
    ours, theirs = _stft_pair(mode=mode, **kwargs)
    _compare(ours, theirs, x, mode)


@pytest.mark.parametrize("mode", MODES)
def test_stft_spectrogram_weights_match_keras_both_ways(mode):
    ours, theirs = _stft_pair(mode=mode, frame_length=16, frame_step=4, fft_length=32,
                              window="hann")
    x = np.random.default_rng(4).standard_normal((2, 64, 2)).astype(np.float32)
    ours(x)
    theirs(x)
    names = [w.path for w in theirs.weights]
    assert [w.path for w in ours.weights] == names
    assert len(names) == (1 if mode in ("real", "imag") else 2)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert all(w.trainable for w in ours.weights)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    rng = np.random.default_rng(5)
    new = [rng.standard_normal(w.shape).astype(np.float32) for w in ours.get_weights()]
    ours.set_weights(new)
    theirs.set_weights(ours.get_weights())
    _compare(ours, theirs, x, mode)
    newer = [rng.standard_normal(w.shape).astype(np.float32) for w in new]
    theirs.set_weights(newer)
    ours.set_weights(theirs.get_weights())
    _compare(ours, theirs, x, mode)


def test_stft_spectrogram_non_trainable_kernels():
    layer = fk.layers.STFTSpectrogram(frame_length=8, trainable=False)
    layer(np.zeros((1, 32, 1), np.float32))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2


@pytest.mark.parametrize("mode", ["log", "magnitude", "psd", "stft", "angle"])
def test_stft_spectrogram_kernel_gradients_match_keras(mode):
    import torch
    ours, theirs = _stft_pair(mode=mode, frame_length=16, frame_step=6, fft_length=16,
                              padding="same")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 50, 2)).astype(np.float32)
    r = rng.standard_normal(ours.compute_output_shape(x.shape)[1:]).astype(np.float32)
    with GradientTape():
        loss = fk.ops.sum(ours(x) * r)
    grads = gradients(loss, ours.weights)
    y = theirs(x)
    torch.sum(y * torch.as_tensor(r)).backward()
    for g, w in zip(grads, theirs.weights):
        want = w.value.grad.numpy()
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-3,
                                   atol=1e-4 * np.abs(want).max())


def test_stft_spectrogram_config_matches_keras():
    for kwargs in [{}, dict(mode="stft", frame_length=64, frame_step=16, fft_length=128,
                            periodic=True, scaling="spectrum", padding="same", expand_dims=True,
                            data_format="channels_first")]:
        kwargs = dict(kwargs, window=None)
        ours = fk.layers.STFTSpectrogram(name="stft", **kwargs).get_config()
        theirs = keras.layers.STFTSpectrogram(name="stft", **kwargs).get_config()
        assert ours == theirs
        assert fk.layers.STFTSpectrogram.from_config(ours).get_config() == ours
    config = fk.layers.STFTSpectrogram(window="hamming").get_config()
    assert config["window"] == "hamming" and config["frame_step"] is None
    assert config["fft_length"] is None and config["periodic"] is False


def test_stft_spectrogram_shapes_and_errors():
    model = fk.Sequential([fk.Input((None, 2)),
                           fk.layers.STFTSpectrogram(frame_length=256, padding="valid")])
    assert model.output_shape == (None, None, 2 * 129)
    model = fk.Sequential([fk.Input((1000, 3)),
                           fk.layers.STFTSpectrogram(frame_length=100, frame_step=30,
                                                     padding="same", expand_dims=True)])
    assert model.output_shape == (None, 34, 65, 3)
    with pytest.raises(ValueError, match="frame_step=20"):
        fk.layers.STFTSpectrogram(frame_length=10, frame_step=20)
    with pytest.raises(ValueError, match="fft_length=8"):
        fk.layers.STFTSpectrogram(frame_length=10, fft_length=8)
    with pytest.raises(ValueError, match="mode='power'"):
        fk.layers.STFTSpectrogram(mode="power")
    with pytest.raises(ValueError, match="scaling='l2'"):
        fk.layers.STFTSpectrogram(scaling="l2")
    with pytest.raises(ValueError, match="padding='causal'"):
        fk.layers.STFTSpectrogram(padding="causal")
    with pytest.warns(UserWarning, match="fft_length=12"):
        fk.layers.STFTSpectrogram(frame_length=10, fft_length=12)
    with pytest.raises(TypeError, match="int32"):
        fk.layers.STFTSpectrogram(frame_length=4)(np.zeros((1, 16, 1), np.int32))
    with pytest.raises(ValueError, match="ndim=3"):
        fk.layers.STFTSpectrogram(frame_length=4)(np.zeros((1, 16), np.float32))


def test_stft_spectrogram_model_trains():
    rng = np.random.default_rng(7)
    t = np.arange(128) / 128.0
    low = np.sin(2 * np.pi * 8 * t[None, :] + rng.uniform(0, 6, (64, 1)))
    high = np.sin(2 * np.pi * 40 * t[None, :] + rng.uniform(0, 6, (64, 1)))
    x = np.concatenate([low, high])[..., None].astype(np.float32)
    y = np.r_[np.zeros(64), np.ones(64)].astype(np.float32)
    layer = fk.layers.STFTSpectrogram(mode="log", frame_length=32, frame_step=16)
    model = fk.Sequential([fk.Input((128, 1)), layer, fk.layers.GlobalAveragePooling1D(),
                           fk.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fk.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    before = [w.copy() for w in layer.get_weights()]
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] == 1.0
    assert any(not np.allclose(a, b) for a, b in zip(before, layer.get_weights()))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_stft_spectrogram_file_both_ways(tmp_path, data_format):
    shape = (200, 2) if data_format == "channels_last" else (2, 200)
    model = fk.Sequential([
        fk.Input(shape),
        fk.layers.STFTSpectrogram(mode="magnitude", frame_length=32, frame_step=16,
                                  window=None, data_format=data_format),
        fk.layers.Flatten(), fk.layers.Dense(3)])
    x = np.random.default_rng(8).standard_normal((4,) + shape).astype(np.float32)
    check_keras_file_both_ways(model, x, tmp_path, rtol=1e-4, atol=1e-4, keras_rtol=1e-4,
                               keras_atol=1e-4)
