"""The progress bar fit/evaluate/predict print, in Keras 3's format:

    1719/1719 ━━━━━━━━━━━━━━━━━━━━ 2s 1ms/step - accuracy: 0.8123 - loss: 0.5321

Live (redrawn in place) only when the output is a terminal or a notebook; otherwise one line
per epoch, so logs are not flooded.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from fastkeras.callbacks.callback import Callback


def _io():
    # imported on use: fastkeras.utils imports this module
    from fastkeras.utils import io_utils
    return io_utils


def _interactive(stream) -> bool:
    """Whether `stream` shows a live bar (a terminal or notebook). A live bar is also drawn
    only while interactive logging (keras.config.enable_interactive_logging) is on."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _format_eta(seconds: float) -> str:
    """The time left, as Keras shows it: h:mm:ss over an hour, m:ss over a minute, else
    whole seconds."""
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def _format_per_step(seconds: float, unit: str = "step") -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def _format_value(v, signed=False) -> str:
    """Keras's log format: four decimals above 1e-3 (in magnitude on the live bar, as signed
    values on the one-line-per-epoch display), otherwise scientific notation. An array (a
    metric with one value per threshold or class) shows its mean, as in Keras."""
    try:
        v = float(np.mean(np.asarray(getattr(v, "value", v), dtype=np.float64)))
    except (TypeError, ValueError):
        return str(v)
    if (v if signed else abs(v)) > 1e-3:
        return f"{v:.4f}"
    return f"{v:.4e}"


class Progbar:
    """A progress bar for `target` steps (None: unknown), as `keras.utils.Progbar`.

    `update(current, values)` draws step `current`; `add(n, values)` advances by n. Values
    (name, value) are shown averaged over the steps they were given for, except those named
    in `stateful_metrics` (shown as given); with `stateless_metrics` instead, only those are
    averaged. As Keras 3's: every name given so far stays on the line, an array value shows
    its mean, and the final update shows the values it is given.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step", stream=None):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar: give `stateful_metrics` (values not to average) or "
                             "`stateless_metrics` (values to average), not both. Received: "
                             f"stateful_metrics={stateful_metrics!r}, "
                             f"stateless_metrics={stateless_metrics!r}")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.interval = interval
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self.unit_name = unit_name
        self.interactive = _interactive(self.stream)
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._last_len = 0
        self._seen_so_far = 0
        self._first_step_done = None  # when step 1 ended: the time per step leaves it out
        self._values = {}        # name -> [weighted sum, weight], in the order first given
        self._average = True     # the training-loop logger passes running means already

    def add(self, n, values=None):
        """Advances the bar by `n` steps."""
        self.update(self._seen_so_far + n, values)

    def _shown(self, current, values, finalize):
        if not self._average:
            return values
        step = max(current - self._seen_so_far, 1)
        for k, v in values or []:
            averaged = k in self.stateless_metrics if self.stateless_metrics is not None \
                else k not in self.stateful_metrics
            v = np.asarray(getattr(v, "value", v), np.float64)
            if not averaged or finalize:  # (Keras: the last update shows its own values)
                self._values[k] = [v, 1]
            elif k in self._values:
                self._values[k][0] = self._values[k][0] + v * step
                self._values[k][1] += step
            else:
                self._values[k] = [v * step, step]
        return [(k, float(np.mean(total)) / max(1, count))
                for k, (total, count) in self._values.items()]

    def _note_step(self, current, now):
        if current == 1 and self._first_step_done is None:
            self._first_step_done = now

    def _per_step(self, current, now):
        """Seconds per step as Keras estimates them: after the first step, which is often
        slower than the rest, where there are later ones."""
        if not current:
            return 0.0
        if self._first_step_done is not None and current > 1:
            return (now - self._first_step_done) / (current - 1)
        return (now - self.start) / current

    def update(self, current, values=None, finalize=None):
        if finalize is None:  # as Keras: the last step of a known target finalizes the bar
            finalize = self.target is not None and current >= self.target
        values = self._shown(current, values, finalize)
        self._seen_so_far = current
        now = time.perf_counter()
        self._note_step(current, now)
        if self.verbose == 0:
            return
        live = self.interactive and _io().is_interactive_logging_enabled()
        if self.verbose == 1 and live:
            if not finalize and now - self._last_draw < self.interval:
                return
            self._last_draw = now
            line = self._line(current, values, now, live)
            pad = max(0, self._last_len - len(line))
            _io().write("\r" + line + " " * pad + ("\n" if finalize else ""), self.stream)
            self._last_len = len(line)
        elif finalize:
            if self.verbose == 1:
                _io().write(self._line(current, values, now, live) + "\n", self.stream)
            elif self.target:  # as Keras: verbose=2 has no line for an unknown target
                parts = [f"{current}/{self.target}", f"{now - self.start:.0f}s",
                         _format_per_step(self._per_step(current, now), self.unit_name)] + [
                    f"{k}: {_format_value(v, signed=True)}" for k, v in (values or [])]
                _io().write(" - ".join(parts) + "\n", self.stream)

    def _line(self, current, values, now, live=None):
        if self.target is None and self._average:  # as Keras's: no bar for an unknown target
            text = (f"{current:7d}/Unknown {now - self.start:.0f}s "
                    f"{_format_per_step(self._per_step(current, now), self.unit_name)}")
            for k, v in values or []:
                text += f" - {k}: {_format_value(v)}"
            return text
        target = self.target or current
        digits = len(str(target))
        frac = current / target if target else 1.0
        done = int(self.width * frac)
        live = self.interactive if live is None else live
        if live and os.environ.get("NO_COLOR") is None:
            bar = "\x1b[32m" + "━" * done + "\x1b[0m\x1b[37m" + "━" * (self.width - done) + "\x1b[0m"
        else:
            bar = "━" * done + " " * (self.width - done) if live else "━" * self.width
        per = self._per_step(current, now)
        unit = self.unit_name
        # the time left while running; once done, the seconds it took
        left = f"{_format_eta(per * (target - current))}" if current < target else \
            f"{now - self.start:.0f}s"
        timing = f"{left} {_format_per_step(per, unit)}"
        text = f"{current:>{digits}}/{target} {bar} {timing}"
        for k, v in values or []:
            text += f" - {k}: {_format_value(v)}"
        return text


class ProgbarLogger(Callback):
    """Prints the epoch header and progress bar during fit (and evaluate/predict)."""

    def __init__(self):
        super().__init__()
        # As Keras: the steps seen in the current epoch (or evaluation / prediction) and the
        # bar's target, the number of steps (None until known: from the params, else from the
        # first pass over data of unknown length).
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._mode = "train"

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    @property
    def wants_batch_logs(self) -> bool:
        """Only a live bar shows per-batch values; otherwise only epoch-end lines are printed."""
        return (self.verbose == 1 and _interactive(sys.stdout)
                and _io().is_interactive_logging_enabled())

    def _start(self):
        self.progbar = Progbar(self.target, verbose=self.verbose)
        self.progbar._average = False  # the logs hold running means already
        self.seen = 0

    def _final(self):
        if self.target is None:  # data of unknown length: its length is now known
            self.target = self.seen
            self.progbar.target = self.target
        return self.target

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose and self.epochs > 1:  # as Keras: no header for a single epoch
            _io().print_msg(f"Epoch {epoch + 1}/{self.epochs}")
        self._start()

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        if logs is not None:
            self.progbar.update(batch + 1, list(logs.items()), finalize=False)
        elif batch == 0:  # no line to draw; the bar still notes when the first step ended
            self.progbar._note_step(1, time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        self.progbar.update(self._final(), list((logs or {}).items()), finalize=True)

    def on_test_begin(self, logs=None):
        if self.model is not None and getattr(self.model, "_in_fit", False):
            return
        self._mode = "test"
        self._start()

    def on_test_batch_end(self, batch, logs=None):
        if self._mode == "test" and self.progbar is not None:
            self.seen = batch + 1
            self.progbar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_test_end(self, logs=None):
        if self._mode == "test" and self.progbar is not None:
            self.progbar.update(self._final(), list((logs or {}).items()), finalize=True)
            self._mode = "train"

    def on_predict_begin(self, logs=None):
        self._start()

    def on_predict_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self.progbar.update(batch + 1, finalize=False)

    def on_predict_end(self, logs=None):
        self.progbar.update(self._final(), finalize=True)
