"""Models (`fastkeras.models`)."""

from fastkeras.models.model import Model
from fastkeras.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
