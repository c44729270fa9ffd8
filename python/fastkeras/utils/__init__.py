"""Helpers that sit outside the model: label encoding, normalization, seeding, plotting."""

from fastkeras.utils.numerical_utils import normalize, to_categorical
from fastkeras.utils.model_visualization import model_to_dot, plot_model
from fastkeras.utils.rng_utils import get_random_seed, set_random_seed
from fastkeras.utils.session import clear_session

__all__ = ["to_categorical", "normalize", "set_random_seed", "get_random_seed",
           "plot_model", "model_to_dot", "clear_session"]
