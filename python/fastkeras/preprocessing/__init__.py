"""`keras.preprocessing`: the dataset builders of `keras.utils` (image, text and time-series
datasets) and the `image` and `sequence` helper modules, under the names Keras 3 gives them."""

from fastkeras.preprocessing import image, sequence
from fastkeras.utils.directory_datasets import (
    image_dataset_from_directory,
    text_dataset_from_directory,
)
from fastkeras.utils.timeseries import timeseries_dataset_from_array

__all__ = [
    "image",
    "image_dataset_from_directory",
    "sequence",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
]
