"""Callbacks that watch a logged metric: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau."""

from __future__ import annotations

import os
import warnings

import numpy as np

from fastkeras.callbacks.callback import Callback


def _print_msg(message):
    """stdout, or Python logging when interactive logging is disabled."""
    from fastkeras.utils.io_utils import print_msg  # on use: fastkeras.utils imports callbacks
    print_msg(message)

# Keras 3's direction of each built-in metric, for metric objects that do not carry their own
# `_direction`.
_METRIC_DIRECTIONS = {
    **dict.fromkeys(["Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
                     "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
                     "SparseTopKCategoricalAccuracy", "AUC", "Precision", "Recall", "F1Score",
                     "FBetaScore", "R2Score", "CosineSimilarity", "BinaryIoU",
                     "PearsonCorrelation", "ConcordanceCorrelation"], "up"),
    **dict.fromkeys(["MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
                     "MeanSquaredLogarithmicError", "RootMeanSquaredError", "LogCoshError",
                     "BinaryCrossentropy", "CategoricalCrossentropy",
                     "SparseCategoricalCrossentropy", "KLDivergence", "Poisson", "Hinge",
                     "SquaredHinge", "CategoricalHinge"], "down"),
}


class _Monitor(Callback):
    """A monitored log value and what counts as an improvement (by more than `min_delta`).

    With mode="auto" the direction is decided, as in Keras 3, when training starts: "loss"
    (or "val_loss") is minimized, a compiled metric goes its own way (accuracy up, mae down);
    anything else is an error asking for mode="min" or "max". `monitor_op` is then np.less
    (and `min_delta` turns negative, as in Keras) or np.greater."""

    def __init__(self, monitor, mode, min_delta, best=None):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.best = best
        self.monitor_op = None

    def _set_monitor_op(self):
        direction = {"min": "down", "max": "up"}.get(self.mode)
        if direction is None:
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                direction = "down"
            leaves = getattr(self.model, "_metric_leaves", None)
            for m in (leaves() if leaves else getattr(self.model, "metrics", None) or []):
                if m.name == name:
                    direction = (getattr(m, "_direction", None)
                                 or _METRIC_DIRECTIONS.get(type(m).__name__, direction))
        if direction is None:
            raise ValueError(
                f"{type(self).__name__} callback received monitor={self.monitor}, but it cannot "
                "tell whether that value should be maximized or minimized. Pass mode='max' to "
                "keep the highest value, or mode='min' to keep the lowest.")
        self.monitor_op = np.greater if direction == "up" else np.less
        if self.monitor_op is np.less:
            # As Keras: the margin becomes negative for a minimized value, so an improvement
            # is always monitor_op(value - min_delta, best).
            self.min_delta = -self.min_delta

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        return bool(self.monitor_op(value - self.min_delta, reference))


class EarlyStopping(_Monitor):
    """Stops training when `monitor` has not improved by `min_delta` for `patience` epochs;
    with restore_best_weights the model ends with the weights of its best epoch."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        # The run's state, as Keras sets it here too (and again at the start of each fit).
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None

    def get_monitor_value(self, logs):
        """The monitored value in `logs`, or None (with a warning naming the available keys)
        when it is missing."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}", stacklevel=3)
        return value

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print_msg("Restoring model weights from the end of the best epoch: "
                           f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Saves the model (or its weights) every epoch, every `save_freq` batches, or only when
    `monitor` improves. `filepath` may hold format fields: "ckpt-{epoch:02d}-{val_loss:.2f}.h5".
    Each save is atomic: an interrupted save leaves the previous file as it was.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, 0, best=initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and not (isinstance(save_freq, int)
                                         and not isinstance(save_freq, bool) and save_freq > 0):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected 'epoch' or a "
                             "positive integer (batches).")
        self.save_freq = save_freq
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the "
                             "filepath provided must end in `.weights.h5` (Keras weights "
                             f"format). Received: filepath={self.filepath}")
        if not save_weights_only and not (self.filepath.endswith(".keras") or
                                          self.filepath.endswith(".h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format) "
                             f"or `.h5` (legacy HDF5). Received: filepath={self.filepath}")
        self._batches_seen = 0
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self._batches_seen += 1
            if self._batches_seen >= self.save_freq:
                self._batches_seen = 0
                self._save(self._current_epoch, logs, batch=batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def _filepath_for(self, epoch, batch, logs):
        fields = dict(logs)
        if batch is not None and "batch" not in fields:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(epoch=epoch + 1, **fields)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: failed to format filepath '{self.filepath}': the "
                           f"key {e} is not in the logs (available: {sorted(logs)})") from None

    def _should_save(self, epoch, logs, path):
        if not self.save_best_only:
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: saving model to {path}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            # As Keras: without the monitored value, every save happens.
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                           f"{current:.5f}, saving model to {path}")
            self.best = current
            return True
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save(self, epoch, logs, batch=None):
        logs = dict(logs or {})
        path = self._filepath_for(epoch, batch, logs)
        if not self._should_save(epoch, logs, path):
            return
        if os.path.isdir(path):
            raise IsADirectoryError("Please specify a non-directory filepath for "
                                    f"ModelCheckpoint. Filepath used is an existing directory: "
                                    f"{path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: finished saving model to {path}")


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by `factor` when `monitor` has not improved for `patience`
    epochs, then waits `cooldown` epochs; never below `min_lr`. Adds the current learning rate
    to the epoch's logs ("learning_rate")."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received: factor={factor}")
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: {','.join(logs)}.",
                          stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        _print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                                   f"rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
