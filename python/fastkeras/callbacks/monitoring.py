"""Callbacks that watch a logged metric: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from fastkeras.callbacks.callback import Callback


def _resolve_mode(mode, monitor, cls):
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{cls} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
        mode = "auto"
    if mode == "auto":
        name = monitor.removeprefix("val_")
        maximize = (name.endswith("acc") or name.endswith("accuracy") or name.endswith("auc")
                    or name in ("precision", "recall"))
        mode = "max" if maximize else "min"
    return mode


class _Monitor(Callback):
    """A monitored value, its direction, and what counts as an improvement (by min_delta)."""

    def __init__(self, monitor, mode, min_delta, cls):
        super().__init__()
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor, cls)
        self.min_delta = abs(min_delta)

    def _initial_best(self):
        return np.inf if self.mode == "min" else -np.inf

    def _is_improvement(self, value, reference):
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__}: the monitored metric '{self.monitor}' is not "
                          f"available. Available metrics are: {','.join(sorted(logs or {}))}",
                          stacklevel=3)
        return value


class EarlyStopping(_Monitor):
    """Stops training when `monitor` has not improved by `min_delta` for `patience` epochs;
    with restore_best_weights the model ends with the weights of its best epoch."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta, "EarlyStopping")
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._initial_best()
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
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
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Saves the model (or its weights) every epoch, every `save_freq` batches, or only when
    `monitor` improves. `filepath` may hold format fields: "ckpt-{epoch:02d}-{val_loss:.2f}.h5".
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, 0, "ModelCheckpoint")
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
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
                             f"or `.h5`. Received: filepath={self.filepath}")
        self.best = self._initial_best() if initial_value_threshold is None \
            else initial_value_threshold
        self._batches_seen = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if isinstance(self.save_freq, int):
            self._batches_seen += 1
            if self._batches_seen % self.save_freq == 0:
                self._save(self._epoch, logs, batch=batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def _save(self, epoch, logs, batch=None):
        logs = dict(logs or {})
        try:
            path = self.filepath.format(epoch=epoch + 1, batch=(batch or 0) + 1, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: failed to format filepath '{self.filepath}': the "
                           f"key {e} is not in the logs (available: {sorted(logs)})") from None
        if self.save_best_only:
            current = self._current(logs)
            if current is None:
                return
            if isinstance(current, float) and math.isnan(current):
                return
            if not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by `factor` when `monitor` has not improved for `patience`
    epochs, then waits `cooldown` epochs; never below `min_lr`."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta, "ReduceLROnPlateau")
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received: factor={factor}")
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.min_lr = min_lr

    def on_train_begin(self, logs=None):
        self.best = self._initial_best()
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                              f"{new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
