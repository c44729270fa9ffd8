"""History: the record `fit` returns."""

from __future__ import annotations

from fastkeras.callbacks.callback import Callback


class History(Callback):
    """`history.history` is a dict of per-epoch lists (loss, metrics, val_...); `epoch` the
    epoch indices; `params` fit's parameters (verbose, epochs, steps)."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"
