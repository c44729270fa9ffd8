"""CIFAR-10: 60,000 32x32 colour images (50,000 train, 10,000 test) in 10 classes.

`load_data()` reads the batches from the first usable copy among:

1. ``<cache>/cifar-10-python.tar.gz`` (the archive as published), where ``<cache>`` is
   ``$FASTKERAS_DATASETS`` if set, else ``$FASTKERAS_HOME/datasets``, else
   ``~/.fastkeras/datasets``;
2. an extracted ``<cache>/cifar-10-batches-py/`` folder;
3. Keras's cache, ``~/.keras/datasets/`` (``$KERAS_HOME`` honoured): Keras 3's
   ``cifar-10-batches-py-target/cifar-10-batches-py/`` folder or
   ``cifar-10-batches-py-target_archive``, or Keras 2's ``cifar-10-batches-py/`` folder or
   ``cifar-10-batches-py.tar.gz``;
4. a download of the archive from the University of Toronto, to ``<cache>``.

Archives are checked by SHA-256 (a mismatching copy is skipped with a warning) and read
without being extracted; the pickled batches are read with an unpickler that only rebuilds
numpy arrays. Downloads show a progress bar on stderr and are verified before being moved
into place.

The data set is by Alex Krizhevsky, Vinod Nair and Geoffrey Hinton.
"""

from __future__ import annotations

import numpy as np

from fastkeras.datasets import _cifar

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
               "ship", "truck")


def _spec() -> _cifar.Archive:
    # built at call time so that URL / FILE_HASH can be changed at run time
    return _cifar.Archive(title="CIFAR-10", url=URL, file_hash=FILE_HASH,
                          archive="cifar-10-python.tar.gz", inner="cifar-10-batches-py",
                          keras_target="cifar-10-batches-py-target",
                          members=TRAIN_BATCHES + (TEST_BATCH,))


def load_data():
    """Loads CIFAR-10 as ``keras.datasets.cifar10.load_data`` returns it.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 arrays; images of shape
        ``(50000, 32, 32, 3)`` and ``(10000, 32, 32, 3)`` (``(n, 3, 32, 32)`` when
        ``fastkeras.config.image_data_format()`` is ``"channels_first"``), labels 0-9 of
        shape ``(50000, 1)`` and ``(10000, 1)``. Class names are in `CLASS_NAMES`.

    Raises:
        DatasetNotFoundError: no usable local copy and the download failed; the message
            names the archive, the URL and the places searched.
        ValueError: the downloaded archive failed its checksum or is not a CIFAR archive.
    """
    batches = _cifar.load_batches(_spec(), "labels")
    x_train = np.concatenate([batches[name][0] for name in TRAIN_BATCHES]).astype(np.uint8)
    y_train = np.concatenate([np.asarray(batches[name][1]).reshape(-1)
                              for name in TRAIN_BATCHES]).astype(np.uint8)
    x_test, test_labels = batches[TEST_BATCH]
    x_test = x_test.astype(np.uint8)
    y_test = np.asarray(test_labels).reshape(-1).astype(np.uint8)
    return ((_cifar.to_image_layout(x_train), y_train.reshape(-1, 1)),
            (_cifar.to_image_layout(x_test), y_test.reshape(-1, 1)))
