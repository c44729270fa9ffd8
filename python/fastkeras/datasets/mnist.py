"""MNIST: 70,000 28x28 grayscale images of handwritten digits.

`load_data(path="mnist.npz")` uses, in order, the first good copy among:

1. ``<cache>/<path>``, where ``<cache>`` is ``$FASTKERAS_DATASETS`` if set, else
   ``$FASTKERAS_HOME/datasets``, else ``~/.fastkeras/datasets`` (an absolute ``path`` is
   used as is);
2. Keras's own cache, ``~/.keras/datasets/<path>`` (``$KERAS_HOME`` honoured);
3. the four original IDX files (``train-images-idx3-ubyte[.gz]``,
   ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
   ``t10k-labels-idx1-ubyte[.gz]``) in ``<cache>/mnist/``;
4. a download of ``mnist.npz`` from the public mirror Keras uses, to ``<cache>/<path>``.

The ``.npz`` archive is checked by SHA-256 (a mismatching copy is skipped with a warning
and fetched again); the IDX files are checked for a valid header and size. Debian has no
MNIST package, so there is no system location. Downloads show a progress bar on stderr
and are verified before being moved into place.

MNIST is by Yann LeCun and Corinna Cortes, under CC BY-SA 3.0.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from fastkeras.datasets import _files

NAME = "mnist"
URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _npz_candidates(path: str) -> list[str]:
    if os.path.isabs(path):
        return [path]
    return [os.path.join(_files.datasets_dir(), path),
            os.path.join(_files.keras_datasets_dir(), path)]


def _load_npz(path: str):
    with np.load(path, allow_pickle=False) as data:
        absent = [k for k in _KEYS if k not in data.files]
        if absent:
            raise ValueError(f"{path}: not an MNIST archive (missing arrays {absent})")
        return tuple(np.array(data[k]) for k in _KEYS)


def _try_npz(path: str):
    if not os.path.isfile(path):
        return None
    if FILE_HASH is not None and _files.sha256_of(path) != FILE_HASH:
        warnings.warn(f"Ignoring {path}: its checksum does not match the MNIST release",
                      stacklevel=3)
        return None
    try:
        return _load_npz(path)
    except (OSError, ValueError) as exc:
        warnings.warn(f"Ignoring unreadable MNIST file {path}: {exc}", stacklevel=3)
        return None


def idx_dir() -> str:
    """Folder searched for the four original IDX files."""
    return os.path.join(_files.datasets_dir(), NAME)


def _try_idx():
    folder = idx_dir()
    paths = {}
    for key, stem in IDX_FILES.items():
        found = [p for p in (os.path.join(folder, stem + ".gz"), os.path.join(folder, stem))
                 if os.path.isfile(p)]
        if not found:
            return None
        paths[key] = found[0]
    return tuple(_files.read_idx(paths[k]) for k in _KEYS)


def load_data(path="mnist.npz"):
    """Loads MNIST (see the module docstring for where files are looked for).

    Args:
        path: the archive's file name relative to the dataset cache (or an absolute path).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 numpy arrays of shapes
        ``(60000, 28, 28)``, ``(60000,)``, ``(10000, 28, 28)`` and ``(10000,)``; pixels are
        0-255, labels 0-9.

    Raises:
        DatasetNotFoundError: no local copy and the download failed; the message says where
            to put the file.
        ValueError: the downloaded archive failed its checksum (nothing is written), or the
            IDX files found are corrupt.
    """
    arrays = None
    for candidate in _npz_candidates(path):
        arrays = _try_npz(candidate)
        if arrays is not None:
            break
    if arrays is None:
        arrays = _try_idx()
    if arrays is None:
        if os.path.isabs(path):
            dest = path
        else:
            dest = os.path.join(_files.writable_dir(_files.datasets_dir()), path)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
        try:
            _files.download(URL, dest, FILE_HASH, label=os.path.basename(dest))
        except ValueError:
            raise
        except OSError as exc:
            raise _files.DatasetNotFoundError(
                f"MNIST is not available locally and the download from {URL} failed "
                f"({_files.describe_download_error(exc)}).\n"
                f"Looked for: {', '.join(_npz_candidates(path))}, and the IDX files "
                f"{', '.join(IDX_FILES.values())} (optionally .gz) in {idx_dir()}.\n"
                f"Put mnist.npz at {_npz_candidates(path)[0]}, or set FASTKERAS_DATASETS to "
                f"a folder that holds it.") from None
        arrays = _load_npz(dest)

    x_train, y_train, x_test, y_test = arrays
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(f"MNIST {split} data do not fit together: images of shape "
                             f"{x.shape}, labels of shape {y.shape}")
    return (x_train, y_train), (x_test, y_test)
