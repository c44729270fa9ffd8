"""Fashion-MNIST: 70,000 28x28 grayscale images of clothing in 10 classes.

`load_data()` looks for the four IDX files in this order and uses the first good copy of
each:

1. the fastkeras cache, ``<cache>/fashion-mnist/`` where ``<cache>`` is
   ``$FASTKERAS_DATASETS`` if set, else ``$FASTKERAS_HOME/datasets``, else
   ``~/.fastkeras/datasets``;
2. Keras's own cache, ``~/.keras/datasets/fashion-mnist/`` (``$KERAS_HOME`` honoured), so a
   copy Keras already downloaded is reused;
3. Debian's ``dataset-fashion-mnist`` package, ``/usr/share/datasets/fashion-mnist``;
4. a download from the public mirror Keras uses, into the fastkeras cache.

Each file may be gzip-compressed (``train-images-idx3-ubyte.gz``) or plain
(``train-images-idx3-ubyte``). Every copy is checked by SHA-256 (of the archive Keras
publishes, or of the decompressed data); a copy that fails the check is skipped with a
warning. Downloads show a progress bar on stderr and are verified before they are moved
into the cache, so an interrupted transfer never leaves a broken file behind.

To work offline, put the four files in the cache folder above.

Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
7 Sneaker, 8 Bag, 9 Ankle boot. The data set is by Zalando SE, under the MIT license.
"""

from __future__ import annotations

import os
import warnings

from fastkeras.datasets import _files

NAME = "fashion-mnist"
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
FILES = (TRAIN_LABELS, TRAIN_IMAGES, TEST_LABELS, TEST_IMAGES)

# SHA-256 of the archives as served by the download mirror.
FILE_HASHES = {
    TRAIN_LABELS: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    TRAIN_IMAGES: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    TEST_LABELS: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    TEST_IMAGES: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}
# SHA-256 of the uncompressed IDX content (what any faithful copy decompresses to).
PAYLOAD_HASHES = {
    TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
}

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


def cache_dir() -> str:
    """The folder fastkeras keeps (and downloads) Fashion-MNIST in."""
    return os.path.join(_files.datasets_dir(), NAME)


def search_dirs() -> list[str]:
    """Folders searched for existing files, in order."""
    return [cache_dir(), os.path.join(_files.keras_datasets_dir(), NAME), DEBIAN_DIR]


def _find(fname: str):
    """First verified copy of ``fname`` (gz or plain) in `search_dirs`, as an array."""
    for folder in search_dirs():
        for candidate in (fname, fname[:-3]):
            path = os.path.join(folder, candidate)
            if not os.path.isfile(path):
                continue
            try:
                arr = _files.read_idx_verified(path, FILE_HASHES.get(fname),
                                               PAYLOAD_HASHES.get(fname))
            except (OSError, ValueError) as exc:
                warnings.warn(f"Ignoring unreadable Fashion-MNIST file {path}: {exc}",
                              stacklevel=3)
                continue
            if arr is None:
                warnings.warn(f"Ignoring {path}: its checksum does not match the Fashion-MNIST "
                              f"release", stacklevel=3)
                continue
            return arr
    return None


def _fetch(fname: str):
    target_dir = _files.writable_dir(cache_dir())
    dest = os.path.join(target_dir, fname)
    _files.download(BASE_URL + fname, dest, FILE_HASHES.get(fname), label=fname)
    return _files.read_idx(dest)


def load_data():
    """Loads Fashion-MNIST (see the module docstring for where files are looked for).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 numpy arrays of shapes
        ``(60000, 28, 28)``, ``(60000,)``, ``(10000, 28, 28)`` and ``(10000,)``; pixels are
        0-255, labels 0-9.

    Raises:
        DatasetNotFoundError: some files are not available locally and could not be
            downloaded; the message lists them and where to put them.
        ValueError: a downloaded file failed its checksum (nothing is written), or the files
            found do not fit together.
    """
    arrays = {}
    missing = []
    for fname in FILES:
        arr = _find(fname)
        if arr is None:
            missing.append(fname)
        else:
            arrays[fname] = arr

    failures = []
    for fname in missing:
        try:
            arrays[fname] = _fetch(fname)
        except ValueError:
            raise
        except OSError as exc:  # URLError, HTTPError, timeouts and disk errors
            failures.append((fname, _files.describe_download_error(exc)))
    if failures:
        lines = "\n".join(f"  - {f}: {why}" for f, why in failures)
        raise _files.DatasetNotFoundError(
            "Fashion-MNIST files are missing and could not be downloaded:\n"
            f"{lines}\n"
            f"Looked in: {', '.join(search_dirs())}.\n"
            f"Copy them (from {BASE_URL}<name>, gzip-compressed or not) into {cache_dir()}, "
            f"set FASTKERAS_DATASETS to a folder holding a 'fashion-mnist' subfolder, or "
            f"install Debian's 'dataset-fashion-mnist' package.")

    x_train, y_train = arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS]
    x_test, y_test = arrays[TEST_IMAGES], arrays[TEST_LABELS]
    _check_split("train", x_train, y_train)
    _check_split("test", x_test, y_test)
    return (x_train, y_train), (x_test, y_test)


def _check_split(split, x, y):
    if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"Fashion-MNIST {split} files do not fit together: images of shape "
                         f"{x.shape}, labels of shape {y.shape}")
