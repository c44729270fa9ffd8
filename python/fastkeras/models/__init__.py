"""Models (`fastkeras.models`)."""

from fastkeras.models.model import Model
from fastkeras.models.sequential import Sequential
from fastkeras.saving.saving_api import load_model

__all__ = ["Model", "Sequential", "load_model"]
