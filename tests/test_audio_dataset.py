"""`keras.utils.audio_dataset_from_directory` on WAV files written in tmp_path: decoding of
8/16/32-bit PCM, class inference and order, label modes, batching, padding and truncation,
seeded splits, training on the result and argument errors. (Keras's own loader needs
TensorFlow, so the expectations are computed by hand from the samples written.)"""

import wave

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.utils import audio_dataset_from_directory


def _write_wav(path, samples, width=2, rate=16000):
    """Integer `samples` of shape (frames, channels) as a PCM file of `width` bytes."""
    samples = np.asarray(samples)
    if samples.ndim == 1:
        samples = samples[:, None]
    dtype = {1: np.uint8, 2: "<i2", 4: "<i4"}[width]
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(samples.shape[1])
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(samples.astype(dtype).tobytes())


# lengths (in frames) of the 16-bit mono files of the tree, by relative path
LENGTHS = {"dog/d1.wav": 5, "dog/d2.wav": 3, "cat/c1.wav": 4, "cat/sub/c2.wav": 6,
           "cat/c3.WAV": 2, "bird/b1.wav": 7}
ORDERED = ["bird/b1.wav", "cat/c1.wav", "cat/c3.WAV", "cat/sub/c2.wav", "dog/d1.wav",
           "dog/d2.wav"]


def _samples(rel):
    """The int16 samples written for file `rel` (distinct per file)."""
    base = 1000 * (ORDERED.index(rel) + 1)
    return np.arange(LENGTHS[rel], dtype=np.int64) * 10 + base


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "audio"
    for rel in LENGTHS:
        _write_wav(root / rel, _samples(rel))
    (root / "dog" / "notes.txt").write_text("not audio")
    _write_wav(root / ".hidden" / "h.wav", [1, 2, 3])
    _write_wav(root / "stray.wav", [5, 6])
    return root


def _expected(rel, length=None):
    x = (_samples(rel) / 32768.0).astype(np.float32)[:, None]
    if length is not None:
        out = np.zeros((length, 1), np.float32)
        out[:min(length, len(x))] = x[:length]
        return out
    return x


def _epoch(ds):
    batches = list(ds)
    return batches


# --- decoding -------------------------------------------------------------------------------

@pytest.mark.parametrize("width,values,expected", [
    (1, [0, 64, 128, 255], [-1.0, -0.5, 0.0, 127 / 128]),
    (2, [-32768, -16384, 0, 32767], [-1.0, -0.5, 0.0, 32767 / 32768]),
    (4, [-2**31, -2**30, 0, 2**31 - 1], [-1.0, -0.5, 0.0, 1.0]),
])
def test_pcm_widths_decode_to_float32(tmp_path, width, values, expected):
    _write_wav(tmp_path / "a" / "x.wav", values, width=width)
    ds = audio_dataset_from_directory(tmp_path, batch_size=None, shuffle=False, verbose=False)
    audio, label = ds[0]
    assert audio.dtype == np.float32 and audio.shape == (4, 1)
    np.testing.assert_allclose(audio[:, 0], expected, atol=1e-7)
    assert label == 0 and label.dtype == np.int32


def test_stereo_files_keep_their_channels(tmp_path):
    frames = np.stack([np.arange(6) * 100, -np.arange(6) * 100], axis=1)
    _write_wav(tmp_path / "a" / "s.wav", frames)
    _write_wav(tmp_path / "a" / "t.wav", frames[:4])
    ds = audio_dataset_from_directory(tmp_path, shuffle=False, verbose=False)
    x, y = ds[0]
    assert x.shape == (2, 6, 2)
    np.testing.assert_allclose(x[0], frames / 32768.0, atol=1e-7)
    np.testing.assert_allclose(x[1, 4:], 0.0)
    np.testing.assert_array_equal(y, [0, 0])


def test_mixed_channel_counts_in_a_batch_fail(tmp_path):
    _write_wav(tmp_path / "a" / "mono.wav", [1, 2])
    _write_wav(tmp_path / "a" / "stereo.wav", [[1, 2], [3, 4]])
    ds = audio_dataset_from_directory(tmp_path, shuffle=False, verbose=False)
    with pytest.raises(ValueError, match="channels"):
        ds[0]


def test_undecodable_file_names_the_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bad.wav").write_bytes(b"not a wav file at all")
    ds = audio_dataset_from_directory(tmp_path, shuffle=False, verbose=False)
    with pytest.raises(ValueError, match="bad.wav"):
        ds[0]


# --- discovery, labels, batching -------------------------------------------------------------

def test_classes_order_and_padding_to_the_longest_in_each_batch(tree, capsys):
    ds = audio_dataset_from_directory(tree, batch_size=4, shuffle=False)
    assert "Found 6 files belonging to 3 classes." in capsys.readouterr().out
    assert isinstance(ds, fk.utils.PyDataset)
    assert ds.class_names == ["bird", "cat", "dog"]
    assert [p.replace(str(tree) + "/", "") for p in ds.file_paths] == ORDERED
    assert len(ds) == 2
    (x0, y0), (x1, y1) = _epoch(ds)
    assert x0.shape == (4, 7, 1) and x1.shape == (2, 5, 1)
    for i, rel in enumerate(ORDERED[:4]):
        np.testing.assert_allclose(x0[i], _expected(rel, 7), atol=1e-7)
    for i, rel in enumerate(ORDERED[4:]):
        np.testing.assert_allclose(x1[i], _expected(rel, 5), atol=1e-7)
    np.testing.assert_array_equal(y0, [0, 1, 1, 1])
    np.testing.assert_array_equal(y1, [2, 2])
    assert y0.dtype == np.int32


@pytest.mark.parametrize("length", [3, 6, 10])
def test_output_sequence_length_cuts_and_pads(tree, length):
    ds = audio_dataset_from_directory(tree, batch_size=6, shuffle=False, verbose=False,
                                      output_sequence_length=length)
    x, _ = ds[0]
    assert x.shape == (6, length, 1)
    for i, rel in enumerate(ORDERED):
        np.testing.assert_allclose(x[i], _expected(rel, length), atol=1e-7)


def test_unbatched_and_ragged(tree):
    ds = audio_dataset_from_directory(tree, batch_size=None, shuffle=False, verbose=False)
    assert len(ds) == 6
    for i, rel in enumerate(ORDERED):
        x, y = ds[i]
        np.testing.assert_allclose(x, _expected(rel), atol=1e-7)
        assert y.shape == ()
    ragged = audio_dataset_from_directory(tree, batch_size=4, ragged=True, shuffle=False,
                                          verbose=False)
    x, y = ragged[0]
    assert x.dtype == object and x.shape == (4,)
    assert [a.shape for a in x] == [(LENGTHS[rel], 1) for rel in ORDERED[:4]]
    np.testing.assert_allclose(x[3], _expected(ORDERED[3]), atol=1e-7)


def test_label_modes(tree):
    cat = audio_dataset_from_directory(tree, label_mode="categorical", shuffle=False,
                                       verbose=False)
    _, y = cat[0]
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.eye(3)[[0, 1, 1, 1, 2, 2]])
    # without labels every .wav under the directory counts (the stray and hidden ones too)
    alone = audio_dataset_from_directory(tree, label_mode=None, shuffle=False, verbose=False)
    x = alone[0]
    assert isinstance(x, np.ndarray) and x.shape == (8, 7, 1)
    assert audio_dataset_from_directory(tree, labels=None, verbose=False).class_names is None
    binary = audio_dataset_from_directory(tree, label_mode="binary", shuffle=False,
                                          class_names=["dog", "cat"], verbose=False)
    x, y = binary[0]
    assert binary.class_names == ["dog", "cat"]
    assert y.dtype == np.float32 and y.shape == (5, 1)
    np.testing.assert_array_equal(y[:, 0], [0, 0, 1, 1, 1])  # d1, d2, then c1, c3, sub/c2


def test_explicit_labels_follow_sorted_paths(tree):
    # folders, then names, in sorted order: the top level first, then .hidden, bird, ...
    everything = ["stray.wav", ".hidden/h.wav"] + ORDERED
    files = audio_dataset_from_directory(tree, labels=None, shuffle=False, verbose=False)
    assert len(files.file_paths) == 8
    labels = list(range(8))
    ds = audio_dataset_from_directory(tree, labels=labels, shuffle=False, batch_size=8,
                                      verbose=False)
    x, y = ds[0]
    np.testing.assert_array_equal(y, labels)
    assert [p.replace(str(tree) + "/", "") for p in ds.file_paths] == \
        [p.replace(str(tree) + "/", "") for p in files.file_paths]
    assert [p.replace(str(tree) + "/", "") for p in ds.file_paths] == everything
    np.testing.assert_allclose(x[0, :2, 0], np.array([5, 6]) / 32768.0)


# --- shuffling and validation split -------------------------------------------------------------

def _files_of(ds):
    return list(ds.file_paths)


def test_seeded_shuffle_and_validation_split(tree):
    kwargs = dict(validation_split=0.34, seed=11, verbose=False, batch_size=2)
    train = audio_dataset_from_directory(tree, subset="training", **kwargs)
    val = audio_dataset_from_directory(tree, subset="validation", **kwargs)
    assert len(val.file_paths) == 2 and len(train.file_paths) == 4
    assert not set(train.file_paths) & set(val.file_paths)
    assert len(set(train.file_paths) | set(val.file_paths)) == 6
    both = audio_dataset_from_directory(tree, subset="both", **kwargs)
    assert _files_of(both[0]) == _files_of(train) and _files_of(both[1]) == _files_of(val)
    # the labels travel with their files
    for ds in both:
        for x, y in ds:
            for audio, label in zip(x, y):
                assert label in (0, 1, 2)
    # the same seed gives the same split and order; the shuffled order is not the sorted one
    again = audio_dataset_from_directory(tree, subset="training", **kwargs)
    assert _files_of(again) == _files_of(train)
    shuffled = audio_dataset_from_directory(tree, seed=3, verbose=False)
    assert sorted(shuffled.file_paths) == sorted(
        audio_dataset_from_directory(tree, shuffle=False, verbose=False).file_paths)


def test_split_batches_hold_the_right_labels(tree):
    train, val = audio_dataset_from_directory(tree, validation_split=0.5, subset="both",
                                              seed=5, shuffle=True, batch_size=None,
                                              verbose=False)
    label_of = {rel: ["bird", "cat", "dog"].index(rel.split("/")[0]) for rel in ORDERED}
    for ds in (train, val):
        seen = [ds[i] for i in range(len(ds))]
        # each item's audio identifies its file (distinct first sample), and its label matches
        for audio, label in seen:
            rel = next(r for r in ORDERED if np.isclose(audio[0, 0], _expected(r)[0, 0]))
            assert label == label_of[rel]


def test_a_model_trains_on_the_dataset(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(400) / 8000.0
    for i in range(8):
        for name, freq in (("low", 200.0), ("high", 2000.0)):
            wave_ = 0.5 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6))
            _write_wav(tmp_path / name / f"{i}.wav", np.round(wave_ * 32767), rate=8000)
    ds = audio_dataset_from_directory(tmp_path, batch_size=4, seed=1, label_mode="binary",
                                      verbose=False)
    model = fk.Sequential([
        fk.Input((400, 1)),
        fk.layers.STFTSpectrogram(mode="log", frame_length=64, frame_step=32),
        fk.layers.GlobalAveragePooling1D(), fk.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fk.optimizers.Adam(0.02), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(ds, epochs=10, verbose=0)
    assert history.history["accuracy"][-1] == 1.0


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,match", [
    (dict(labels="folders"), ValueError, "labels='folders'"),
    (dict(labels=None, class_names=["a"]), ValueError, "class_names"),
    (dict(labels=[0, 1], class_names=["a"]), ValueError, "class_names=\\['a'\\]"),
    (dict(label_mode="sparse"), ValueError, "label_mode='sparse'"),
    (dict(ragged=True, output_sequence_length=100), ValueError,
     "output_sequence_length=100"),
    (dict(output_sequence_length=0), ValueError, "output_sequence_length=0"),
    (dict(batch_size=0), ValueError, "batch_size=0"),
    (dict(sampling_rate=16000.0), ValueError, "sampling_rate=16000.0"),
    (dict(sampling_rate=0), ValueError, "sampling_rate=0"),
    (dict(sampling_rate=8000), ImportError, "sampling_rate=8000"),
    (dict(validation_split=1.5, subset="training", seed=1), ValueError,
     "validation_split=1.5"),
    (dict(validation_split=0.2), ValueError, "subset=None"),
    (dict(validation_split=0.2, subset="train", seed=1), ValueError, "subset='train'"),
    (dict(validation_split=0.2, subset="training"), ValueError, "seed=None"),
    (dict(label_mode="binary"), ValueError, "class_names=\\['bird', 'cat', 'dog'\\]"),
    (dict(class_names=["cat", "fish"]), ValueError, "class_names=\\['cat', 'fish'\\]"),
    (dict(labels=[0, 1]), ValueError, "labels=\\[0, 1\\]"),
])
def test_errors_name_the_argument_and_value(tree, kwargs, error, match):
    with pytest.raises(error, match=match):
        audio_dataset_from_directory(tree, verbose=False, **kwargs)


def test_no_files_found(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match="No audio files found"):
        audio_dataset_from_directory(tmp_path, verbose=False)
