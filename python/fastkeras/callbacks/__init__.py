"""Callbacks (`fastkeras.callbacks`): hooks into fit/evaluate/predict."""

from fastkeras.callbacks.backup_and_restore import BackupAndRestore
from fastkeras.callbacks.callback import Callback, CallbackList
from fastkeras.callbacks.ema_remote import RemoteMonitor, SwapEMAWeights
from fastkeras.callbacks.history import History
from fastkeras.callbacks.monitoring import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from fastkeras.callbacks.progbar_logger import ProgbarLogger
from fastkeras.callbacks.simple import (
                                        CSVLogger,
                                        LambdaCallback,
                                        LearningRateScheduler,
                                        TerminateOnNaN,
)
from fastkeras.callbacks.tensorboard import TensorBoard

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping",
           "History", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint",
           "ProgbarLogger", "ReduceLROnPlateau", "RemoteMonitor", "SwapEMAWeights",
           "TensorBoard", "TerminateOnNaN"]
