"""`audio_dataset_from_directory`: the `.wav` files of a directory tree (one subfolder per
class) as a `PyDataset` of numpy batches, listed, labelled, shuffled and split by the same rules
as `image_dataset_from_directory` and `text_dataset_from_directory` (see
`fastkeras.utils.directory_datasets`).

Files are decoded with Python's `wave` module (integer PCM of 8, 16, 24 or 32 bits) to float32
`(samples, channels)` arrays in [-1, 1): 8-bit samples as `(v - 128) / 128`, wider ones as
`v / 2 ** (bits - 1)`. With `output_sequence_length` each file is cut or zero-padded to that
many samples; otherwise a batch is zero-padded to its longest file (or, with `ragged=True`,
holds the files at their own lengths in a numpy object array).
"""

from __future__ import annotations

import wave

import numpy as np

from fastkeras.utils.directory_datasets import _build, _check_common

AUDIO_FORMATS = (".wav",)


def read_wav(path):
    """A PCM `.wav` file as float32 `(samples, channels)` in [-1, 1), and its sampling rate."""
    try:
        with wave.open(str(path), "rb") as f:
            channels, width, rate = f.getnchannels(), f.getsampwidth(), f.getframerate()
            data = f.readframes(f.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(f"Cannot decode the WAV file {path}: {e} (only integer PCM files "
                         "are supported)") from None
    if width == 1:
        samples = (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        raw = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
        values = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        samples = values.astype(np.float32) / float(1 << 23)
    elif width == 4:
        samples = (np.frombuffer(data, "<i4").astype(np.float64) / 2.0 ** 31).astype(np.float32)
    else:
        raise ValueError(f"Cannot decode the WAV file {path}: {8 * width}-bit samples are not "
                         "supported (8, 16, 24 or 32-bit PCM)")
    frames = len(samples) // channels
    return samples[:frames * channels].reshape(frames, channels), rate


def _fit_length(audio, length):
    if len(audio) >= length:
        return audio[:length]
    out = np.zeros((length, audio.shape[1]), np.float32)
    out[:len(audio)] = audio
    return out


def _audio_loader(output_sequence_length, ragged):
    def load(paths):
        clips = []
        for path in paths:
            audio, _ = read_wav(path)
            if output_sequence_length is not None:
                audio = _fit_length(audio, output_sequence_length)
            clips.append(audio)
        if ragged:
            out = np.empty(len(clips), dtype=object)
            out[:] = clips
            return out
        counts = {clip.shape[1] for clip in clips}
        if len(counts) > 1:
            raise ValueError("The audio files of a batch have different numbers of channels "
                             f"({sorted(counts)}): {list(paths)}")
        longest = max(len(clip) for clip in clips)
        return np.stack([_fit_length(clip, longest) for clip in clips])
    return load


def audio_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, batch_size=32, sampling_rate=None,
                                 output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None,
                                 follow_links=False, verbose=True):
    """The `.wav` files under `directory` as a dataset of `(audio, labels)` batches.

    With `labels="inferred"`, `directory` holds one subfolder per class (its files, found
    recursively, get that class). Audio batches are float32 `(batch, samples, channels)` with
    values in [-1, 1).

    Args:
        directory: the folder holding the files.
        labels: "inferred" (from the class subfolders), None (audio only), or a list/tuple
            of integer labels, one per `.wav` file in sorted path order.
        label_mode: "int", "categorical" (one-hot), "binary" (float 0/1, two classes) or None.
        class_names: with inferred labels, the class subfolders to use, in label order.
        batch_size: files per batch (the last one may hold fewer), or None for single files.
        sampling_rate: resampling to this rate needs TensorFlow-IO in Keras, and is not
            available here: a positive integer raises an ImportError, as Keras does without
            TensorFlow-IO.
        output_sequence_length: cut or zero-pad every file to this many samples; None pads
            each batch to its longest file.
        ragged: batches of files at their own lengths (a numpy object array of
            `(samples, channels)` arrays); not with `output_sequence_length`.
        shuffle: shuffle the files (else alphanumeric order).
        seed: int seed of the shuffling and the split.
        validation_split: fraction of the files kept for validation.
        subset: "training", "validation" or "both" (returns `[training, validation]`).
        follow_links: also walk folders reached through symlinks.
        verbose: print how many files and classes were found.

    Returns:
        A `DirectoryDataset` (a `keras.utils.PyDataset`) with `class_names` and `file_paths`
        attributes, or a list of two for `subset="both"`.
    """
    _check_common(labels, label_mode, class_names, validation_split, subset, shuffle, seed,
                  "tf", "audio")
    if batch_size is not None and (isinstance(batch_size, bool)
                                   or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError("`batch_size` must be None or a positive integer. "
                         f"Received: batch_size={batch_size!r}")
    if output_sequence_length is not None and (
            isinstance(output_sequence_length, bool)
            or not isinstance(output_sequence_length, (int, np.integer))
            or output_sequence_length < 1):
        raise ValueError("`output_sequence_length` must be None or a positive integer. "
                         f"Received: output_sequence_length={output_sequence_length!r}")
    if ragged and output_sequence_length is not None:
        raise ValueError("Cannot set both `ragged` and `output_sequence_length`. Received: "
                         f"ragged={ragged!r}, output_sequence_length={output_sequence_length!r}")
    if sampling_rate is not None:
        if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, (int, np.integer)):
            raise ValueError("`sampling_rate` should have an integer value. "
                             f"Received: sampling_rate={sampling_rate!r}")
        if sampling_rate <= 0:
            raise ValueError("`sampling_rate` should be higher than 0. "
                             f"Received: sampling_rate={sampling_rate!r}")
        raise ImportError("Resampling audio (`sampling_rate="
                          f"{sampling_rate}`) needs tensorflow-io, which fastkeras does not "
                          "use; resample the files beforehand and pass `sampling_rate=None`.")
    return _build(directory, labels, label_mode, class_names, batch_size, shuffle, seed,
                  validation_split, subset, follow_links, verbose, AUDIO_FORMATS, "audio",
                  _audio_loader(output_sequence_length, bool(ragged)))
