"""F-beta and F1 scores over accumulated per-class TP/FP/FN counts."""

from __future__ import annotations

import numpy as np

from fastkeras.metrics.base import Metric, epsilon, to_array

_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """``(1 + beta^2) * precision * recall / (beta^2 * precision + recall)``.

    Args:
        average: None (one score per class, the default), ``"micro"`` (from counts summed
            over classes), ``"macro"`` (mean of the per-class scores) or ``"weighted"``
            (per-class scores weighted by each class's weighted count of positive labels).
        beta: a positive Python float (default 1.0).
        threshold: a Python float in (0, 1]: predictions above it are positive. None (the
            default) marks each row's largest prediction(s) positive.
        name: default ``"fbeta_score"``.
        dtype: state/result dtype.

    Inputs are 2-D ``(batch, classes)``; ``sample_weight`` has shape ``(batch,)``.
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score",
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if average not in _AVERAGES:
            raise ValueError("Invalid `average` argument value. Expected one of: "
                             "{None, 'micro', 'macro', 'weighted'}. "
                             f"Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError("Invalid `beta` argument value. It should be a Python float. "
                             f"Received: beta={beta} of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError("Invalid `beta` argument value. It should be > 0. "
                             f"Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError("Invalid `threshold` argument value. It should be a Python "
                                 f"float. Received: threshold={threshold} of type "
                                 f"'{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError("Invalid `threshold` argument value. It should verify "
                                 f"0 < threshold <= 1. Received: threshold={threshold}")
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, t_shape, p_shape):
        if len(p_shape) != 2 or len(t_shape) != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, output_dim)."
                             f" Received input shapes: y_pred.shape={tuple(p_shape)} and "
                             f"y_true.shape={tuple(t_shape)}.")
        shape = () if self.average == "micro" else (p_shape[-1],)
        for var in ("true_positives", "false_positives", "false_negatives",
                    "intermediate_weights"):
            setattr(self, var, self.add_variable(shape=shape, name=var))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        t = to_array(y_true).astype(np.float64)
        p = to_array(y_pred).astype(np.float64)
        if not self._built:
            self._build(t.shape, p.shape)
        if self.threshold is None:
            pos = (p >= np.max(p, axis=-1, keepdims=True)) & (np.abs(p) > 1e-9)
        else:
            pos = p > self.threshold
        pos = pos.astype(np.float64)
        w = None
        if sample_weight is not None:
            w = np.expand_dims(to_array(sample_weight).astype(np.float64), 1)

        def wsum(v):
            if w is not None:
                v = v * w
            return np.sum(v, axis=self.axis)

        self.true_positives.assign_add(wsum(pos * t))
        self.false_positives.assign_add(wsum(pos * (1.0 - t)))
        self.false_negatives.assign_add(wsum((1.0 - pos) * t))
        self.intermediate_weights.assign_add(wsum(t))

    def result(self):
        if not self._built:
            return self._scalar(0.0)
        tp = self.true_positives.value.astype(np.float64)
        precision = tp / (tp + self.false_positives.value + epsilon())
        recall = tp / (tp + self.false_negatives.value + epsilon())
        b2 = self.beta ** 2
        score = (1.0 + b2) * precision * recall / (b2 * precision + recall + epsilon())
        if self.average == "weighted":
            iw = self.intermediate_weights.value.astype(np.float64)
            score = np.sum(score * iw / (np.sum(iw) + epsilon()))
        elif self.average is not None:
            score = np.mean(score)
        return self._scalar(score)

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """`FBetaScore` with ``beta=1``: the harmonic mean of precision and recall. Arguments as
    `FBetaScore` without ``beta``; default name ``"f1_score"``."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name,
                         dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
