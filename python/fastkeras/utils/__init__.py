"""Helpers that sit outside the model: label encoding, normalization, seeding, plotting,
sequence padding, custom objects and (de)serialization, image files, downloads, `Config` and
the interactive-logging switch."""

from fastkeras.backend.config import is_keras_tensor, standardize_dtype
from fastkeras.callbacks.progbar_logger import Progbar
from fastkeras.saving.object_registry import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from fastkeras.trainers.py_dataset import PyDataset, Sequence
from fastkeras.utils.config import Config
from fastkeras.utils.data_utils import (
    get_source_inputs,
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)
from fastkeras.utils.dataset_split import ArrayDataset, split_dataset
from fastkeras.utils.directory_datasets import (
    DirectoryDataset,
    image_dataset_from_directory,
    text_dataset_from_directory,
)
from fastkeras.utils.file_utils import get_file
from fastkeras.utils.image_utils import array_to_img, img_to_array, load_img, save_img
from fastkeras.utils.io_utils import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from fastkeras.utils.model_visualization import model_to_dot, plot_model
from fastkeras.utils.numerical_utils import normalize, to_categorical
from fastkeras.utils.object_serialization import (
    deserialize_keras_object,
    serialize_keras_object,
)
from fastkeras.utils.rng_utils import get_random_seed, set_random_seed
from fastkeras.utils.sequence_utils import pad_sequences
from fastkeras.utils.session import clear_session
from fastkeras.utils.timeseries import TimeseriesDataset, timeseries_dataset_from_array

__all__ = [
    "ArrayDataset",
    "Config",
    "CustomObjectScope",
    "DirectoryDataset",
    "Progbar",
    "PyDataset",
    "Sequence",
    "TimeseriesDataset",
    "array_to_img",
    "clear_session",
    "custom_object_scope",
    "deserialize_keras_object",
    "disable_interactive_logging",
    "enable_interactive_logging",
    "get_custom_objects",
    "get_file",
    "get_random_seed",
    "get_registered_name",
    "get_registered_object",
    "get_source_inputs",
    "image_dataset_from_directory",
    "img_to_array",
    "is_interactive_logging_enabled",
    "is_keras_tensor",
    "load_img",
    "model_to_dot",
    "normalize",
    "pack_x_y_sample_weight",
    "pad_sequences",
    "plot_model",
    "register_keras_serializable",
    "save_img",
    "serialize_keras_object",
    "set_random_seed",
    "split_dataset",
    "standardize_dtype",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
    "to_categorical",
    "unpack_x_y_sample_weight",
]

from fastkeras.utils.audio_dataset import audio_dataset_from_directory

__all__ += ["audio_dataset_from_directory"]

from fastkeras.utils import bounding_boxes

__all__ += ["bounding_boxes"]
