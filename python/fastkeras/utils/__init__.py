"""Helpers that sit outside the model: label encoding, normalization, seeding, plotting."""

from fastkeras.trainers.py_dataset import PyDataset, Sequence
from fastkeras.utils.model_visualization import model_to_dot, plot_model
from fastkeras.utils.numerical_utils import normalize, to_categorical
from fastkeras.utils.rng_utils import get_random_seed, set_random_seed
from fastkeras.utils.session import clear_session

__all__ = [
           "PyDataset",
           "Sequence",
           "clear_session",
           "get_random_seed",
           "model_to_dot",
           "normalize",
           "plot_model",
           "set_random_seed",
           "to_categorical",
]
