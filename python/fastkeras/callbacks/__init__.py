"""Callbacks (`fastkeras.callbacks`): hooks into fit/evaluate/predict."""

from fastkeras.callbacks.callback import Callback, CallbackList
from fastkeras.callbacks.history import History
from fastkeras.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
