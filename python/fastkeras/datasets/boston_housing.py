"""Boston housing prices: 506 Boston suburbs in the 1970s, 13 attributes each, with the
median home value (in thousands of dollars) as the regression target.

This data set has an ethical problem: one of its attributes ("B") was built on the
assumption that racial self-segregation affects house prices. Prefer `california_housing`
except to discuss that problem.

`load_data(path="boston_housing.npz")` uses the first good copy among:

1. ``<cache>/<path>``, where ``<cache>`` is ``$FASTKERAS_DATASETS`` if set, else
   ``$FASTKERAS_HOME/datasets``, else ``~/.fastkeras/datasets`` (an absolute ``path`` is
   used as is);
2. Keras's own cache, ``~/.keras/datasets/<path>`` (``$KERAS_HOME`` honoured);
3. a download from the public mirror Keras uses, to ``<cache>/<path>``.

Copies are checked by SHA-256 (a mismatching copy is skipped with a warning); downloads show
a progress bar on stderr and are verified before being moved into place. The data are from
the StatLib archive at Carnegie Mellon University.
"""

from __future__ import annotations

from fastkeras.datasets import _tabular

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Loads Boston housing, shuffled and split as ``keras.datasets.boston_housing`` does.

    Args:
        path: file name in the cache (or an absolute path).
        test_split: fraction of the rows in the test set, at least 0 and below 1.
        seed: seed of the ``np.random.RandomState`` shuffle done before splitting.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: float64 arrays of shapes ``(n, 13)`` and
        ``(n,)``; the training part is the first ``int(506 * (1 - test_split))`` shuffled
        rows (404 by default).

    Raises:
        DatasetNotFoundError: no local copy and the download failed.
        ValueError: ``test_split`` out of range (the message names it and its value).
    """
    return _tabular.load("boston_housing.load_data", (path, URL, FILE_HASH, "Boston housing"),
                         test_split, seed)
