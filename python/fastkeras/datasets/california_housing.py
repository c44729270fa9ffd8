"""California housing prices: 20,640 block groups of the 1990 US census, 8 features each
(median income, median house age, average rooms, average bedrooms, population, average
occupancy, latitude, longitude), with the median house value in dollars as the regression
target.

`load_data(version="large", path="california_housing.npz")` uses the first good copy among:

1. ``<cache>/<path>``, where ``<cache>`` is ``$FASTKERAS_DATASETS`` if set, else
   ``$FASTKERAS_HOME/datasets``, else ``~/.fastkeras/datasets`` (an absolute ``path`` is
   used as is);
2. Keras's own cache, ``~/.keras/datasets/<path>`` (``$KERAS_HOME`` honoured);
3. a download from the public mirror Keras uses, to ``<cache>/<path>``.

Copies are checked by SHA-256 (a mismatching copy is skipped with a warning); downloads show
a progress bar on stderr and are verified before being moved into place. The data are from
the StatLib repository (Pace and Barry, 1997).
"""

from __future__ import annotations

from fastkeras.datasets import _tabular

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/california_housing.npz"
FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"
SMALL_ROWS = 600
VERSIONS = ("small", "large")


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """Loads California housing, shuffled and split as
    ``keras.datasets.california_housing`` does.

    Args:
        version: ``"large"`` for all 20,640 rows, ``"small"`` for the first 600 (a stand-in
            for the Boston data set of similar size).
        path: file name in the cache (or an absolute path).
        test_split: fraction of the rows in the test set, at least 0 and below 1.
        seed: seed of the ``np.random.RandomState`` shuffle done before splitting.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: arrays of shapes ``(n, 8)`` and ``(n,)``
        with the archive's dtype; the training part is the first
        ``int(rows * (1 - test_split))`` shuffled rows.

    Raises:
        DatasetNotFoundError: no local copy and the download failed.
        ValueError: ``version`` or ``test_split`` invalid (the message names the argument
            and its value).
    """
    if version not in VERSIONS:
        raise ValueError(f"california_housing.load_data: `version` must be 'small' or "
                         f"'large'. Received: version={version!r}")
    return _tabular.load("california_housing.load_data",
                         (path, URL, FILE_HASH, "California housing"), test_split, seed,
                         rows=SMALL_ROWS if version == "small" else None)
