"""The progress bar fit/evaluate/predict print, in Keras 3's format:

    1719/1719 ━━━━━━━━━━━━━━━━━━━━ 2s 1ms/step - accuracy: 0.8123 - loss: 0.5321

Live (redrawn in place) only when the output is a terminal or a notebook; otherwise one line
per epoch, so logs are not flooded.
"""

from __future__ import annotations

import os
import sys
import time

from fastkeras.callbacks.callback import Callback


def _interactive(stream) -> bool:
    if "ipykernel" in sys.modules:
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _format_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{round(seconds)}s"


def _format_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _format_value(v) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.4e}"
    return f"{v:.4f}"


class Progbar:
    """A progress bar for `target` steps (None: unknown)."""

    def __init__(self, target, width=20, verbose=1, stream=None, interval=0.05):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.interval = interval
        self.interactive = _interactive(self.stream)
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._last_len = 0

    def update(self, current, values=None, finalize=False):
        if self.verbose == 0:
            return
        now = time.perf_counter()
        if self.verbose == 1 and self.interactive:
            if not finalize and now - self._last_draw < self.interval:
                return
            self._last_draw = now
            line = self._line(current, values, now)
            pad = max(0, self._last_len - len(line))
            self.stream.write("\r" + line + " " * pad + ("\n" if finalize else ""))
            self._last_len = len(line)
            self.stream.flush()
        elif finalize:
            if self.verbose == 1:
                self.stream.write(self._line(current, values, now) + "\n")
            else:
                elapsed = now - self.start
                per = elapsed / max(current, 1)
                parts = [f"{current}/{self.target or current}", _format_time(elapsed),
                         _format_per_step(per)] + [f"{k}: {_format_value(v)}" for k, v in
                                                   (values or [])]
                self.stream.write(" - ".join(parts) + "\n")
            self.stream.flush()

    def _line(self, current, values, now):
        target = self.target or current
        digits = len(str(target))
        frac = current / target if target else 1.0
        done = int(self.width * frac)
        if self.interactive and os.environ.get("NO_COLOR") is None:
            bar = "\x1b[32m" + "━" * done + "\x1b[0m\x1b[37m" + "━" * (self.width - done) + "\x1b[0m"
        else:
            bar = "━" * done + " " * (self.width - done) if self.interactive else "━" * self.width
        elapsed = now - self.start
        per = elapsed / max(current, 1)
        if current < target:
            timing = f"{_format_time(per * (target - current))} {_format_per_step(per)}"
        else:
            timing = f"{_format_time(elapsed)} {_format_per_step(per)}"
        text = f"{current:>{digits}}/{target} {bar} {timing}"
        for k, v in values or []:
            text += f" - {k}: {_format_value(v)}"
        return text


class ProgbarLogger(Callback):
    """Prints the epoch header and progress bar during fit (and evaluate/predict)."""

    def __init__(self):
        super().__init__()
        self.progbar = None
        self.verbose = 1
        self.epochs = 1
        self._mode = "train"

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)

    @property
    def wants_batch_logs(self) -> bool:
        """Only a live bar shows per-batch values; otherwise only epoch-end lines are printed."""
        return self.verbose == 1 and _interactive(sys.stdout)

    def _start(self, target):
        self.progbar = Progbar(target, verbose=self.verbose)
        self._done = 0  # steps seen so far (the target when the data's length is unknown)

    def _final(self):
        return self.params.get("steps") or self._done

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)
        self._start(self.params.get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        self._done = batch + 1
        if logs is not None:
            self.progbar.update(batch + 1, list(logs.items()))

    def on_epoch_end(self, epoch, logs=None):
        self.progbar.update(self._final(), list((logs or {}).items()), finalize=True)

    def on_test_begin(self, logs=None):
        if self.model is not None and getattr(self.model, "_in_fit", False):
            return
        self._mode = "test"
        self._start(self.params.get("steps"))

    def on_test_batch_end(self, batch, logs=None):
        if self._mode == "test" and self.progbar is not None:
            self._done = batch + 1
            self.progbar.update(batch + 1, list((logs or {}).items()))

    def on_test_end(self, logs=None):
        if self._mode == "test" and self.progbar is not None:
            self.progbar.update(self._final(), list((logs or {}).items()), finalize=True)
            self._mode = "train"

    def on_predict_begin(self, logs=None):
        self._start(self.params.get("steps"))

    def on_predict_batch_end(self, batch, logs=None):
        self._done = batch + 1
        self.progbar.update(batch + 1)

    def on_predict_end(self, logs=None):
        self.progbar.update(self._final(), finalize=True)
