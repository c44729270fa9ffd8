"""Confusion-matrix metrics: counts, Precision, Recall and AUC.

A prediction counts as positive at threshold ``t`` when ``y_pred > t`` (strictly); a label
counts as positive when it is nonzero. Counts are weighted by ``sample_weight``.
"""

from __future__ import annotations

import numpy as np

from fastkeras.metrics.base import (
    Metric,
    divide_no_nan,
    epsilon,
    squeeze_or_expand_to_same_rank,
    to_array,
)

NEG_INF = -1e10

TP, FP, TN, FN = "tp", "fp", "tn", "fn"


def _to_list(x):
    if isinstance(x, (list, tuple)):
        return list(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return [x]


def parse_thresholds(thresholds, default):
    if thresholds is not None:
        values = _to_list(thresholds)
        bad = [t for t in values if t is None or not (0 <= t <= 1)]
        if bad:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {bad}")
        return [float(t) for t in values]
    return [float(t) for t in _to_list(default)]


def evenly_distributed(thresholds) -> bool:
    """True for >= 3 thresholds spaced like ``linspace(0, 1, n)`` (within 1e-7)."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=epsilon()))


def _filter_top_k(x, k):
    """Keeps the ``k`` largest entries of the last axis (first ones on ties); the others
    become NEG_INF."""
    n = x.shape[-1]
    k = min(int(k), n)
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, idx, True, axis=-1)
    return np.where(keep, x, np.asarray(NEG_INF, dtype=x.dtype))


def _counts_1d(labels, preds, weights, thresholds):
    """(tp, fp, fn, tn) at each threshold (in the given order) for flat arrays."""
    thr = np.asarray(thresholds, dtype=np.float32)
    order = np.argsort(thr, kind="stable")
    sorted_thr = thr[order]
    T = thr.shape[0]
    # number of thresholds strictly below each prediction: the prediction is positive at
    # exactly those (sorted) thresholds
    below = np.searchsorted(sorted_thr, preds, side="left")
    below[np.isnan(preds)] = 0
    pos_bins = np.bincount(below, weights=np.where(labels, weights, 0.0), minlength=T + 1)
    neg_bins = np.bincount(below, weights=np.where(labels, 0.0, weights), minlength=T + 1)
    # at sorted threshold i: positive predictions are those with below > i
    out = []
    for bins in (pos_bins, neg_bins):
        above = np.cumsum(bins[::-1])[::-1][1:]   # below > i
        at_or_under = np.cumsum(bins)[:-1]         # below <= i
        out.append((above, at_or_under))
    (tp_s, fn_s), (fp_s, tn_s) = out
    result = []
    for arr in (tp_s, fp_s, fn_s, tn_s):
        unsorted = np.empty(T)
        unsorted[order] = arr
        result.append(unsorted)
    return tuple(result)


def update_confusion_matrix_variables(variables, y_true, y_pred, thresholds, top_k=None,
                                      class_id=None, sample_weight=None, multi_label=False,
                                      label_weights=None, clip_predictions=False,
                                      context="metric"):
    """Adds weighted TP/FP/TN/FN counts at each threshold to ``variables`` (a dict keyed by
    "tp", "fp", "tn", "fn"; values are Variables of shape ``(T,)``, or ``(T, labels)`` with
    ``multi_label``)."""
    y_true = to_array(y_true)
    y_pred = to_array(y_pred).astype(np.float32)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{context}: y_true and y_pred must have the same shape; received "
                         f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
    if sample_weight is not None:
        sample_weight = np.expand_dims(to_array(sample_weight).astype(np.float64), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight,
                                                          expand_rank_1=False)
    if top_k is not None:
        if y_pred.ndim == 0:
            raise ValueError(f"{context}: top_k needs predictions with a class axis")
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim <= 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape "
                             f"(num_samples, num_classes), found shape: {y_pred.shape}")
        if not 0 <= int(class_id) < y_pred.shape[-1]:
            raise ValueError(f"{context}: class_id={class_id} is out of range for predictions "
                             f"with {y_pred.shape[-1]} classes")
        y_true = y_true[..., int(class_id), None]
        y_pred = y_pred[..., int(class_id), None]
    weights = np.ones(y_pred.shape, dtype=np.float64)
    if sample_weight is not None:
        try:
            weights = weights * np.broadcast_to(sample_weight, y_pred.shape)
        except ValueError:
            raise ValueError(f"{context}: sample_weight of shape {sample_weight.shape} cannot be "
                             f"broadcast to y_pred of shape {y_pred.shape}") from None
    if label_weights is not None and not multi_label:
        weights = weights * np.broadcast_to(np.asarray(label_weights, np.float64), y_pred.shape)
    if clip_predictions:
        y_pred = np.clip(y_pred, 0.0, 1.0)
    labels = y_true.astype(bool)

    if multi_label:
        if y_pred.ndim != 2:
            raise ValueError(f"{context}: multi_label needs 2-D inputs (samples, labels); "
                             f"received y_pred.shape={y_pred.shape}")
        cols = [_counts_1d(labels[:, j], y_pred[:, j], weights[:, j], thresholds)
                for j in range(y_pred.shape[1])]
        tp, fp, fn, tn = (np.stack([c[i] for c in cols], axis=1) for i in range(4))
    else:
        tp, fp, fn, tn = _counts_1d(labels.reshape(-1), y_pred.reshape(-1),
                                    weights.reshape(-1), thresholds)
    if TP in variables:
        variables[TP].assign_add(tp)
    if FP in variables:
        variables[FP].assign_add(fp)
    if TN in variables:
        variables[TN].assign_add(tn)
    if FN in variables:
        variables[FN].assign_add(fn)


# ----------------------------------------------------------------------------- counts

class _ConfusionCount(Metric):
    _cond = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(thresholds, 0.5)
        self._evenly = evenly_distributed(self.thresholds)
        self.accumulator = self.add_variable(shape=(len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables({self._cond: self.accumulator}, y_true, y_pred,
                                          self.thresholds, sample_weight=sample_weight,
                                          clip_predictions=self._evenly, context=self.name)

    def result(self):
        acc = self.accumulator.value
        return self._scalar(acc[0] if len(self.thresholds) == 1 else acc)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """Weighted count of positive labels predicted positive (``y_pred > threshold``)."""
    _cond = TP


class FalsePositives(_ConfusionCount):
    """Weighted count of negative labels predicted positive."""
    _cond = FP


class TrueNegatives(_ConfusionCount):
    """Weighted count of negative labels predicted negative."""
    _cond = TN


class FalseNegatives(_ConfusionCount):
    """Weighted count of positive labels predicted negative."""
    _cond = FN


# ----------------------------------------------------------------------------- P / R

class _PrecisionRecallBase(Metric):
    _second = None  # "fp" for precision, "fn" for recall

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly = evenly_distributed(self.thresholds)
        self.true_positives = self.add_variable(shape=(len(self.thresholds),),
                                                name="true_positives")
        second_name = "false_positives" if self._second == FP else "false_negatives"
        setattr(self, second_name,
                self.add_variable(shape=(len(self.thresholds),), name=second_name))
        self._second_var = getattr(self, second_name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Accumulates counts; ``y_true`` has ``y_pred``'s shape (nonzero = positive),
        ``sample_weight`` broadcasts to it."""
        update_confusion_matrix_variables(
            {TP: self.true_positives, self._second: self._second_var}, y_true, y_pred,
            self.thresholds, top_k=self.top_k, class_id=self.class_id,
            sample_weight=sample_weight, clip_predictions=self._evenly, context=self.name)

    def result(self):
        tp = self.true_positives.value
        res = divide_no_nan(tp, tp + self._second_var.value)
        return self._scalar(res[0] if len(self.thresholds) == 1 else res)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecallBase):
    """``tp / (tp + fp)``: the fraction of positive predictions that are right.

    Args:
        thresholds: a float or list of floats in [0, 1]; a prediction above a threshold is
            positive. With a list, `result()` is an array, one value per threshold. Default
            0.5 (or, with ``top_k``, no threshold: the top-k entries are positive).
        top_k: only the ``k`` largest predictions of each sample (last axis) can be positive.
        class_id: only look at this column of the last axis.
        name: default ``"precision"`` (numbered after the first instance).
        dtype: state/result dtype.
    """
    _second = FP


class Recall(_PrecisionRecallBase):
    """``tp / (tp + fn)``: the fraction of positive labels that are found. Arguments as
    `Precision`; default name ``"recall"``."""
    _second = FN


# ----------------------------------------------------------------------------- AUC

_CURVES = {"roc": "ROC", "pr": "PR"}
_SUMMATIONS = {"interpolation": "interpolation", "majoring": "majoring",
               "minoring": "minoring"}


class AUC(Metric):
    """Area under the ROC or precision-recall curve, approximated on fixed thresholds.

    Predictions are bucketed at ``num_thresholds`` thresholds (``0 - 1e-7``, evenly
    spaced interior values, ``1 + 1e-7``); the TP/FP/TN/FN counts at each give the curve's
    points, and a Riemann sum gives the area.

    Args:
        num_thresholds: number of thresholds (> 1). Default 200.
        curve: ``"ROC"`` (default) or ``"PR"``.
        summation_method: ``"interpolation"`` (trapezoids for ROC; for PR, the
            Davis & Goadrich interpolation of TP and FP), ``"minoring"`` (lower rectangle)
            or ``"majoring"`` (upper rectangle).
        name: default ``"auc"`` (numbered after the first instance).
        dtype: state/result dtype.
        thresholds: explicit interior thresholds in [0, 1] (``num_thresholds`` is then
            ``len(thresholds) + 2``).
        multi_label: treat each column of 2-D inputs as its own label and average the
            per-label AUCs, instead of flattening everything into one label.
        num_labels: number of labels with ``multi_label`` (else found on the first update).
        label_weights: per-label weights: for the average with ``multi_label``, otherwise
            multiplied into the counts.
        from_logits: apply a sigmoid to predictions first.
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self._direction = "up"
        key = str(curve).lower()
        if key not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are '
                             '["PR", "ROC"]')
        self.curve = _CURVES[key]
        skey = str(summation_method).lower()
        if skey not in _SUMMATIONS:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". '
                             'Expected values are ["interpolation", "majoring", "minoring"]')
        self.summation_method = _SUMMATIONS[skey]

        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            interior = sorted(parse_thresholds(thresholds, 0.5))
            self.num_thresholds = len(interior) + 2
            self._evenly = evenly_distributed([0.0] + interior + [1.0])
        else:
            if not isinstance(num_thresholds, (int, np.integer)) or num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            interior = [(i + 1) * 1.0 / (self.num_thresholds - 1)
                        for i in range(self.num_thresholds - 2)]
            self._evenly = True
        self._thresholds = [0.0 - epsilon()] + interior + [1.0 + epsilon()]

        super().__init__(name=name, dtype=dtype)
        self.multi_label = bool(multi_label)
        self.num_labels = num_labels
        self.label_weights = (None if label_weights is None
                              else np.asarray(to_array(label_weights), dtype=self.dtype))
        if self.label_weights is not None and np.any(self.label_weights < 0):
            raise ValueError("All values of `label_weights` must be non-negative. "
                             f"Received: label_weights={self.label_weights.tolist()}")
        self._from_logits = bool(from_logits)
        self._built = False
        if self.multi_label:
            if num_labels:
                self._build((None, int(num_labels)))
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self):
        """All thresholds, including the two end points."""
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                                 f"{len(shape)}. Full shape received for `y_pred`: "
                                 f"{tuple(shape)}")
            self._num_labels = int(shape[1])
            var_shape = (self.num_thresholds, self._num_labels)
        else:
            var_shape = (self.num_thresholds,)
        self.true_positives = self.add_variable(shape=var_shape, name="true_positives")
        self.false_positives = self.add_variable(shape=var_shape, name="false_positives")
        self.true_negatives = self.add_variable(shape=var_shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape=var_shape, name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Accumulates the confusion counts at every threshold."""
        y_pred = to_array(y_pred).astype(np.float32)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            y_pred = (1.0 / (1.0 + np.exp(-y_pred.astype(np.float64)))).astype(np.float32)
        update_confusion_matrix_variables(
            {TP: self.true_positives, FP: self.false_positives, TN: self.true_negatives,
             FN: self.false_negatives},
            y_true, y_pred, self._thresholds, sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            clip_predictions=self._evenly, context=self.name)

    def _average(self, per_label):
        if self.label_weights is None:
            return np.mean(per_label)
        return divide_no_nan(np.sum(per_label * self.label_weights), np.sum(self.label_weights))

    def _interpolate_pr_auc(self, tp, fp, fn):
        n = self.num_thresholds
        dtp = tp[: n - 1] - tp[1:]
        p = tp + fp
        dp = p[: n - 1] - p[1:]
        slope = divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[: n - 1] > 0) & (p[1:] > 0)
        ratio = np.where(both, divide_no_nan(p[: n - 1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore"):
            log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
        increments = divide_no_nan(slope * (dtp + intercept * log_ratio),
                                   np.maximum(tp[1:] + fn[1:], 0))
        if self.multi_label:
            return self._average(np.sum(increments, axis=0))
        return np.sum(increments)

    def result(self):
        if not self._built:
            return self._scalar(0.0)
        tp = self.true_positives.value.astype(np.float64)
        fp = self.false_positives.value.astype(np.float64)
        tn = self.true_negatives.value.astype(np.float64)
        fn = self.false_negatives.value.astype(np.float64)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._scalar(self._interpolate_pr_auc(tp, fp, fn))
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, divide_no_nan(tp, tp + fp)
        n = self.num_thresholds
        if self.summation_method == "interpolation":
            heights = (y[: n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[: n - 1], y[1:])
        else:
            heights = np.maximum(y[: n - 1], y[1:])
        terms = (x[: n - 1] - x[1:]) * heights
        if self.multi_label:
            return self._scalar(self._average(np.sum(terms, axis=0)))
        return self._scalar(np.sum(terms))

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": (None if self.label_weights is None
                              else self.label_weights.tolist()),
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


# ----------------------------------------------------------------------------- X at Y

class SensitivitySpecificityBase(Metric):
    """Counts TP/FP/TN/FN at ``num_thresholds`` evenly spaced thresholds in [0, 1] (only
    0.5 when ``num_thresholds == 1``); subclasses report the best value of one rate among the
    thresholds where another rate reaches ``value``."""

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if num_thresholds <= 0:
            raise ValueError("Argument `num_thresholds` must be an integer > 0. "
                             f"Received: num_thresholds={num_thresholds}")
        self.value = value
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds = [0.5]
            self._evenly = False
        else:
            self.thresholds = ([0.0] + [(i + 1) * 1.0 / (num_thresholds - 1)
                                        for i in range(num_thresholds - 2)] + [1.0])
            self._evenly = True
        n = len(self.thresholds)
        self.true_positives = self.add_variable(shape=(n,), name="true_positives")
        self.false_positives = self.add_variable(shape=(n,), name="false_positives")
        self.true_negatives = self.add_variable(shape=(n,), name="true_negatives")
        self.false_negatives = self.add_variable(shape=(n,), name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Accumulates the counts at every threshold (``y_pred > threshold`` is
        positive)."""
        update_confusion_matrix_variables(
            {TP: self.true_positives, FP: self.false_positives, TN: self.true_negatives,
             FN: self.false_negatives},
            y_true, y_pred, self.thresholds, class_id=self.class_id,
            sample_weight=sample_weight, clip_predictions=self._evenly, context=self.name)

    def _rates(self):
        tp = self.true_positives.value.astype(np.float64)
        fp = self.false_positives.value.astype(np.float64)
        tn = self.true_negatives.value.astype(np.float64)
        fn = self.false_negatives.value.astype(np.float64)
        return {"sensitivity": divide_no_nan(tp, tp + fn),
                "specificity": divide_no_nan(tn, tn + fp),
                "precision": divide_no_nan(tp, tp + fp)}

    def _best_where(self, constrained, dependent):
        feasible = constrained >= self.value
        return self._scalar(max(0.0, float(np.max(np.where(feasible, dependent, 0.0)))))

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id}


def _check_rate(value, arg):
    if value < 0 or value > 1:
        raise ValueError(f"Argument `{arg}` must be in the range [0, 1]. "
                         f"Received: {arg}={value}")


class SensitivityAtSpecificity(SensitivitySpecificityBase):
    """The best sensitivity (recall) among thresholds whose specificity is at least
    ``specificity``.

    Args:
        specificity: a float in [0, 1].
        num_thresholds: thresholds evenly spaced over [0, 1] (default 200).
        class_id: only look at this column of the last axis.
        name: default ``"sensitivity_at_specificity"`` (numbered).
        dtype: state/result dtype.
    """

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None,
                 dtype=None):
        _check_rate(specificity, "specificity")
        self.specificity = specificity
        self.num_thresholds = num_thresholds
        super().__init__(specificity, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._best_where(r["specificity"], r["sensitivity"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "specificity": self.specificity}


class SpecificityAtSensitivity(SensitivitySpecificityBase):
    """The best specificity among thresholds whose sensitivity is at least
    ``sensitivity``. Arguments as `SensitivityAtSpecificity`."""

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None,
                 dtype=None):
        _check_rate(sensitivity, "sensitivity")
        self.sensitivity = sensitivity
        self.num_thresholds = num_thresholds
        super().__init__(sensitivity, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._best_where(r["sensitivity"], r["specificity"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "sensitivity": self.sensitivity}


class PrecisionAtRecall(SensitivitySpecificityBase):
    """The best precision among thresholds whose recall is at least ``recall``. Arguments
    as `SensitivityAtSpecificity`."""

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate(recall, "recall")
        self.recall = recall
        self.num_thresholds = num_thresholds
        super().__init__(recall, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._best_where(r["sensitivity"], r["precision"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "recall": self.recall}


class RecallAtPrecision(SensitivitySpecificityBase):
    """The best recall among thresholds whose precision is at least ``precision``.
    Arguments as `SensitivityAtSpecificity`."""

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate(precision, "precision")
        self.precision = precision
        self.num_thresholds = num_thresholds
        super().__init__(precision, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._best_where(r["precision"], r["sensitivity"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "precision": self.precision}
