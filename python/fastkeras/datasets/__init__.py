"""Small reference data sets, returned as numpy arrays in Keras's layout: `mnist`,
`fashion_mnist`, `cifar10`, `cifar100`, `imdb`, `reuters`, `boston_housing` and
`california_housing`, with the signatures of ``keras.datasets``.

    (x_train, y_train), (x_test, y_test) = fastkeras.datasets.fashion_mnist.load_data()

Files are cached under ``~/.fastkeras/datasets`` (or ``$FASTKERAS_HOME/datasets``, or
``$FASTKERAS_DATASETS`` when set); each loader's docstring lists every place it looks
before downloading.
"""

from fastkeras.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)
from fastkeras.datasets._files import DatasetNotFoundError

__all__ = ["DatasetNotFoundError", "boston_housing", "california_housing", "cifar10",
           "cifar100", "fashion_mnist", "imdb", "mnist", "reuters"]
