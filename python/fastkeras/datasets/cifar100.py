"""CIFAR-100: 60,000 32x32 colour images (50,000 train, 10,000 test) in 100 fine classes
grouped into 20 coarse superclasses.

`load_data(label_mode="fine")` reads the ``train`` and ``test`` batches from the first
usable copy among:

1. ``<cache>/cifar-100-python.tar.gz`` (the archive as published), where ``<cache>`` is
   ``$FASTKERAS_DATASETS`` if set, else ``$FASTKERAS_HOME/datasets``, else
   ``~/.fastkeras/datasets``;
2. an extracted ``<cache>/cifar-100-python/`` folder;
3. Keras's cache, ``~/.keras/datasets/`` (``$KERAS_HOME`` honoured): Keras 3's
   ``cifar-100-python-target/cifar-100-python/`` folder or
   ``cifar-100-python-target_archive``, or Keras 2's ``cifar-100-python/`` folder or
   ``cifar-100-python.tar.gz``;
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

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
LABEL_MODES = ("fine", "coarse")


def _spec() -> _cifar.Archive:
    return _cifar.Archive(title="CIFAR-100", url=URL, file_hash=FILE_HASH,
                          archive="cifar-100-python.tar.gz", inner="cifar-100-python",
                          keras_target="cifar-100-python-target", members=("train", "test"))


def load_data(label_mode="fine"):
    """Loads CIFAR-100 as ``keras.datasets.cifar100.load_data`` returns it.

    Args:
        label_mode: ``"fine"`` for the 100 classes, ``"coarse"`` for the 20 superclasses.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape
        ``(50000, 32, 32, 3)`` and ``(10000, 32, 32, 3)`` (``(n, 3, 32, 32)`` when
        ``fastkeras.config.image_data_format()`` is ``"channels_first"``), and int64 labels
        of shape ``(50000, 1)`` and ``(10000, 1)`` (the dtypes Keras returns).

    Raises:
        ValueError: ``label_mode`` is neither (the message names it and its value), or the
            downloaded archive failed its checksum.
        DatasetNotFoundError: no usable local copy and the download failed.
    """
    if label_mode not in LABEL_MODES:
        raise ValueError(f"cifar100.load_data: `label_mode` must be 'fine' or 'coarse'. "
                         f"Received: label_mode={label_mode!r}")
    batches = _cifar.load_batches(_spec(), f"{label_mode}_labels")
    (x_train, train_labels), (x_test, test_labels) = batches["train"], batches["test"]
    y_train = np.reshape(train_labels, (len(train_labels), 1))
    y_test = np.reshape(test_labels, (len(test_labels), 1))
    return ((_cifar.to_image_layout(x_train), y_train),
            (_cifar.to_image_layout(x_test), y_test))
