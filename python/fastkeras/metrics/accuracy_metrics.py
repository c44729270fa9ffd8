"""Accuracy metrics: per-sample functions and their streaming-mean classes."""

from __future__ import annotations

import numpy as np

from fastkeras.metrics.base import (
    MeanMetricWrapper,
    check_broadcastable,
    squeeze_or_expand_to_same_rank,
    to_array,
)

_F = np.float32


def accuracy(y_true, y_pred):
    """1.0 where ``y_pred == y_true`` exactly, element by element (as Keras 3)."""
    y_pred = to_array(y_pred)
    y_true = to_array(y_true).astype(y_pred.dtype, copy=False)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    check_broadcastable(y_true.shape, y_pred.shape, context="accuracy")
    return np.equal(y_true, y_pred).astype(_F)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``y_pred > threshold`` equals the 0/1 label, element by element (as Keras 3).

    Labels shaped ``(n,)`` with predictions ``(n, 1)`` are aligned first, giving one value
    per sample.
    """
    y_true = to_array(y_true)
    y_pred = to_array(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    check_broadcastable(y_true.shape, y_pred.shape, context="binary_accuracy")
    thr = np.asarray(threshold, dtype=y_pred.dtype if y_pred.dtype.kind == "f" else np.float32)
    decided = (y_pred > thr).astype(y_true.dtype)
    return np.equal(y_true, decided).astype(_F)


def _argmax_last(x, what):
    if x.ndim == 0:
        raise ValueError(f"{what} must have at least one axis (the class axis); received a "
                         "scalar")
    return x.argmax(-1)


def categorical_accuracy(y_true, y_pred):
    """1.0 per sample where the argmax of the one-hot ``y_true`` equals the argmax of
    ``y_pred`` (logits or probabilities)."""
    y_true = to_array(y_true)
    y_pred = to_array(y_pred)
    labels = _argmax_last(y_true, "y_true")
    out_shape = labels.shape
    reshape = False
    if labels.ndim == y_pred.ndim:
        if labels.shape[-1] != 1:
            raise ValueError("categorical_accuracy: y_true should be one-hot with the same "
                             f"shape as y_pred; received y_true.shape={y_true.shape} and "
                             f"y_pred.shape={y_pred.shape}")
        labels = np.squeeze(labels, -1)
        reshape = True
    elif y_pred.ndim == 0 or y_true.shape[-1] != y_pred.shape[-1]:
        raise ValueError("categorical_accuracy: y_true (one-hot) and y_pred must have the same "
                         f"number of classes; received y_true.shape={y_true.shape} and "
                         f"y_pred.shape={y_pred.shape}")
    preds = _argmax_last(y_pred, "y_pred")
    check_broadcastable(labels.shape, preds.shape, "y_true", "y_pred", "categorical_accuracy")
    matches = np.equal(labels, preds).astype(_F)
    if reshape:
        matches = matches.reshape(out_shape)
    return matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 per sample where the integer label equals the argmax of ``y_pred``.

    ``y_true`` has ``y_pred``'s shape without the class axis, optionally with a trailing
    axis of size 1 (``(n,)`` or ``(n, 1)`` for ``y_pred`` of shape ``(n, classes)``).
    """
    if (type(y_true) is np.ndarray and type(y_pred) is np.ndarray and y_pred.ndim == 2
            and y_true.ndim == 1 and y_true.shape[0] == y_pred.shape[0]):
        preds = y_pred.argmax(-1)  # the usual (batch,) labels against (batch, classes)
        if preds.dtype != y_true.dtype:
            preds = preds.astype(y_true.dtype)
        return np.equal(y_true, preds).astype(_F)
    y_true = to_array(y_true)
    y_pred = to_array(y_pred)
    orig_shape = y_true.shape
    reshape = False
    if y_true.ndim == y_pred.ndim and y_true.ndim > 0 and y_true.shape[-1] == 1:
        y_true = np.squeeze(y_true, -1)
        reshape = True
    preds = _argmax_last(y_pred, "y_pred")
    if y_true.shape != preds.shape:
        try:
            np.broadcast_shapes(y_true.shape, preds.shape)
        except ValueError:
            raise ValueError("sparse_categorical_accuracy: y_true should have y_pred's shape "
                             "without its last (class) axis; received "
                             f"y_true.shape={orig_shape} and y_pred.shape={y_pred.shape}") from None
    if preds.dtype != y_true.dtype:
        preds = preds.astype(y_true.dtype)
    matches = np.equal(y_true, preds).astype(_F)
    if reshape:
        matches = matches.reshape(orig_shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = np.squeeze(matches, -1)
    return matches


def _in_top_k(targets, predictions, k, fn_name):
    n_classes = predictions.shape[-1]
    targets = targets.astype(np.int64, copy=False)
    if targets.size and (targets.min() < 0 or targets.max() >= n_classes):
        bad = targets[(targets < 0) | (targets >= n_classes)][0]
        raise ValueError(f"{fn_name}: label {bad} is out of range for y_pred with "
                         f"{n_classes} classes")
    if targets.shape[0] != predictions.shape[0]:
        raise ValueError(f"{fn_name}: {targets.shape[0]} labels for {predictions.shape[0]} "
                         "predictions")
    if targets.size == 0:
        return np.zeros((0,), dtype=bool)
    k_eff = max(1, min(int(k), n_classes))
    kth = np.partition(predictions, n_classes - k_eff, axis=-1)[:, n_classes - k_eff]
    target_scores = np.take_along_axis(predictions, targets[:, None], axis=-1)[:, 0]
    # ties at the k-th value count as inside the top k
    return target_scores >= kth


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 per sample where the one-hot label's class is among the ``k`` highest
    predictions (ties with the k-th value count as inside)."""
    y_true = to_array(y_true)
    y_pred = to_array(y_pred)
    labels = _argmax_last(y_true, "y_true")
    out_shape = labels.shape
    if y_pred.ndim == 0:
        raise ValueError("top_k_categorical_accuracy: y_pred must have a class axis")
    if y_true.shape[-1] != y_pred.shape[-1]:
        raise ValueError("top_k_categorical_accuracy: y_true (one-hot) and y_pred must have "
                         f"the same number of classes; received y_true.shape={y_true.shape} "
                         f"and y_pred.shape={y_pred.shape}")
    preds = y_pred.reshape(-1, y_pred.shape[-1]) if y_pred.ndim != 2 else y_pred
    matches = _in_top_k(labels.reshape(-1), preds, k, "top_k_categorical_accuracy")
    return matches.astype(_F).reshape(out_shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 per sample where the integer label is among the ``k`` highest predictions; with
    `from_sorted_ids`, y_pred holds each sample's category ids from best to worst, and the
    label is looked for among its first ``k``."""
    y_true = to_array(y_true)
    y_pred = to_array(y_pred)
    if from_sorted_ids:
        ids = y_pred.reshape(-1, y_pred.shape[-1]) if y_pred.ndim > 2 else y_pred
        labels = y_true.reshape(-1).astype(ids.dtype)
        matches = (labels[:, None] == ids[:, :k]).any(axis=1)
        return matches.astype(_F).reshape(y_true.shape)
    if y_pred.ndim == 0:
        raise ValueError("sparse_top_k_categorical_accuracy: y_pred must have a class axis")
    out_shape = y_true.shape
    preds = y_pred.reshape(-1, y_pred.shape[-1]) if y_pred.ndim != 2 else y_pred
    labels = y_true.reshape(-1)
    if labels.shape[0] != preds.shape[0]:
        raise ValueError("sparse_top_k_categorical_accuracy: y_true should have y_pred's shape "
                         "without its class axis; received "
                         f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
    if labels.dtype.kind == "f":
        labels = labels.astype(np.int64)
    matches = _in_top_k(labels, preds, k, "sparse_top_k_categorical_accuracy")
    return matches.astype(_F).reshape(out_shape)


# ----------------------------------------------------------------------------- classes

class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly (`accuracy`, streamed as a mean)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(fn=accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class BinaryAccuracy(MeanMetricWrapper):
    """How often thresholded predictions match 0/1 labels.

    Args:
        name: defaults to ``"binary_accuracy"``.
        dtype: state/result dtype.
        threshold: predictions above it count as 1. Default 0.5; any number, as in Keras
            (0.0 for a model that outputs logits).
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(fn=binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the predictions matches one-hot labels."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(fn=categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the predictions matches integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(fn=sparse_categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label's class is among the ``k`` top predictions."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(fn=top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` top predictions."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(fn=sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids
        self._direction = "up"

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:  # written only when set, as Keras does
            config["from_sorted_ids"] = True
        return config
