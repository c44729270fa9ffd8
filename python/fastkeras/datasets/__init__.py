"""Small reference data sets, returned as numpy arrays in Keras's layout.

    (x_train, y_train), (x_test, y_test) = fastkeras.datasets.fashion_mnist.load_data()

Files are cached under ``~/.fastkeras/datasets`` (or ``$FASTKERAS_HOME/datasets``, or
``$FASTKERAS_DATASETS`` when set); each loader's docstring lists every place it looks
before downloading.
"""

from fastkeras.datasets import fashion_mnist, mnist
from fastkeras.datasets._files import DatasetNotFoundError

__all__ = ["DatasetNotFoundError", "fashion_mnist", "mnist"]
