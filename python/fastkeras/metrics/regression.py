"""Regression and cross-entropy metrics: per-sample functions and streaming classes."""

from __future__ import annotations

import numpy as np

from fastkeras.metrics.base import (
    Mean,
    MeanMetricWrapper,
    check_broadcastable,
    epsilon,
    squeeze_or_expand_to_same_rank,
    to_array,
)

_F = np.float32


def _pair(y_true, y_pred, fn_name):
    y_pred = to_array(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(_F)
    y_true = to_array(y_true).astype(y_pred.dtype, copy=False)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    check_broadcastable(y_true.shape, y_pred.shape, context=fn_name)
    return y_true, y_pred


def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred) ** 2)`` over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred, "mean_squared_error")
    return np.mean(np.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(|y_true - y_pred|)`` over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred, "mean_absolute_error")
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred, "mean_absolute_percentage_error")
    diff = np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), epsilon()))
    return 100.0 * np.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean((log(1 + max(y_pred, eps)) - log(1 + max(y_true, eps))) ** 2)`` over the last
    axis."""
    y_true, y_pred = _pair(y_true, y_pred, "mean_squared_logarithmic_error")
    a = np.log1p(np.maximum(y_pred, epsilon()))
    b = np.log1p(np.maximum(y_true, epsilon()))
    return np.mean(np.square(a - b), axis=-1)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary cross-entropy, averaged over ``axis``.

    Probabilities are clipped to ``[1e-7, 1 - 1e-7]``; with ``from_logits`` the stable
    logit form is used. ``label_smoothing`` moves labels towards 0.5.
    """
    y_true, y_pred = _pair(y_true, y_pred, "binary_crossentropy")
    y_true = y_true.astype(np.float64)
    y_pred = y_pred.astype(np.float64)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        ce = np.maximum(y_pred, 0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
    else:
        p = np.clip(y_pred, epsilon(), 1.0 - epsilon())
        ce = -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))
    return np.mean(ce, axis=axis).astype(_F)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample cross-entropy between one-hot (or soft) labels and predictions.

    Probabilities are renormalized to sum to 1 along ``axis`` and clipped to
    ``[1e-7, 1 - 1e-7]``. ``label_smoothing`` mixes the labels with a uniform distribution.
    """
    y_true = to_array(y_true).astype(np.float64)
    y_pred = to_array(y_pred).astype(np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError("categorical_crossentropy: y_true and y_pred must have the same shape; "
                         f"received y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
    if label_smoothing:
        n = y_pred.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n
    if from_logits:
        logp = _log_softmax(y_pred, axis)
    else:
        p = y_pred / np.sum(y_pred, axis=axis, keepdims=True)
        logp = np.log(np.clip(p, epsilon(), 1.0 - epsilon()))
    return (-np.sum(y_true * logp, axis=axis)).astype(_F)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Per-sample cross-entropy between integer labels and predictions over classes."""
    y_true = to_array(y_true)
    y_pred = to_array(y_pred).astype(np.float64)
    if y_true.ndim == y_pred.ndim and y_true.ndim > 0 and y_true.shape[-1] == 1:
        y_true = np.squeeze(y_true, -1)
    if axis not in (-1, y_pred.ndim - 1):
        y_pred = np.moveaxis(y_pred, axis, -1)
    n = y_pred.shape[-1]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError("sparse_categorical_crossentropy: y_true should have y_pred's shape "
                         f"without the class axis; received y_true.shape={y_true.shape} and "
                         f"y_pred.shape={y_pred.shape}")
    labels = y_true.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(f"sparse_categorical_crossentropy: labels must be in [0, {n}); found "
                         f"{labels.min() if labels.min() < 0 else labels.max()}")
    if from_logits:
        logp = _log_softmax(y_pred, -1)
    else:
        p = y_pred / np.sum(y_pred, axis=-1, keepdims=True)
        logp = np.log(np.clip(p, epsilon(), 1.0 - epsilon()))
    picked = np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    return (-picked).astype(_F)


# ----------------------------------------------------------------------------- classes

class MeanSquaredError(MeanMetricWrapper):
    """Mean of ``(y_true - y_pred) ** 2``."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(fn=mean_squared_error, name=name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of ``|y_true - y_pred|``."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(fn=mean_absolute_error, name=name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean of ``100 * |y_true - y_pred| / max(|y_true|, 1e-7)``."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(fn=mean_absolute_percentage_error, name=name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Mean of the squared difference of ``log(1 + y)``."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(fn=mean_squared_logarithmic_error, name=name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class RootMeanSquaredError(Mean):
    """``sqrt`` of the (weighted) mean of ``(y_pred - y_true) ** 2`` over everything seen."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _pair(y_true, y_pred, "root_mean_squared_error")
        return super().update_state(np.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self):
        return self._scalar(np.sqrt(np.float64(super().result())))


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary cross-entropy (see `binary_crossentropy`)."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical cross-entropy (see `categorical_crossentropy`)."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean sparse categorical cross-entropy (see `sparse_categorical_crossentropy`)."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        if ignore_class is not None:
            raise ValueError("SparseCategoricalCrossentropy metric: `ignore_class` is not "
                             f"supported. Received: ignore_class={ignore_class!r}")
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, axis=axis)
        self.from_logits = from_logits
        self.axis = axis
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "ignore_class": None, "axis": self.axis}
