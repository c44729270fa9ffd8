"""Models (`fastkeras.models`)."""

from fastkeras.models.cloning import clone_model, model_from_json, model_to_json
from fastkeras.models.model import Model
from fastkeras.models.sequential import Sequential
from fastkeras.saving import save_model
from fastkeras.saving.saving_api import load_model

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json",
           "model_to_json", "save_model"]
