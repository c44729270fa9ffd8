import json

import numpy as np
import pytest

from fastkeras import metrics
from fastkeras.backend import Tensor, Variable


def approx(x, rel=1e-5, abs=1e-6):
    return pytest.approx(x, rel=rel, abs=abs)


# ----------------------------------------------------------------------------- base / reduction

def test_mean_and_sum_weighting():
    m = metrics.Mean()
    assert m.name == "mean"
    assert float(m.result()) == 0.0  # nothing seen yet
    m.update_state([1, 3, 5, 7])
    assert m.result() == approx(4.0)
    m.reset_state()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == approx(2.0)
    s = metrics.Sum()
    s.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert s.result() == approx(4.0)
    assert s.name == "sum"


def test_mean_streams_across_batches_and_scalar_weight():
    m = metrics.Mean()
    m.update_state([1.0, 2.0])
    m.update_state([3.0, 4.0, 5.0, 6.0])
    assert m.result() == approx(3.5)
    m.update_state(10.0, sample_weight=4)  # scalar with a scalar weight: counts 4 samples
    assert m.result() == approx((21 + 40) / 10)


def test_mean_reduces_per_sample_then_weights():
    # 2-D values are averaged per row before the per-sample weights apply
    m = metrics.Mean()
    m.update_state([[1.0, 3.0], [10.0, 20.0]], sample_weight=[3.0, 1.0])
    assert m.result() == approx((2.0 * 3 + 15.0 * 1) / 4)
    # weights shaped like the values: weighted sum / weight sum per element
    m.reset_state()
    m.update_state([[1.0, 3.0], [10.0, 20.0]], sample_weight=[[1, 0], [1, 1]])
    assert m.result() == approx((1.0 + 30.0) / 3)


def test_result_type_and_variables():
    m = metrics.Mean()
    m.update_state([1.0, 2.0])
    r = m.result()
    # a Tensor, as Keras's metrics return backend tensors
    assert isinstance(r, Tensor) and r.dtype == np.float32 and r.shape == ()
    assert isinstance(float(r), float) and r.numpy() == 1.5
    assert len(m.variables) == 2
    assert all(isinstance(v, Variable) and not v.trainable for v in m.variables)
    assert [v.name for v in m.variables] == ["total", "count"]
    m.reset_state()
    assert all(np.all(v.value == 0) for v in m.variables)


def test_call_updates_and_returns_result():
    m = metrics.Mean()
    assert m([1.0, 3.0]) == approx(2.0)
    assert m([5.0]) == approx(3.0)


def test_accepts_tensors():
    m = metrics.SparseCategoricalAccuracy()
    y_true = Tensor(np.array([2.0, 1.0], dtype=np.float32))
    y_pred = Tensor(np.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0.0]], dtype=np.float32))
    assert m(y_true, y_pred) == approx(0.5)


def test_mean_metric_wrapper_custom_fn():
    def abs_diff(y_true, y_pred):
        return np.abs(np.asarray(y_true) - np.asarray(y_pred))

    m = metrics.MeanMetricWrapper(abs_diff, name="my_abs")
    assert m.name == "my_abs"
    m.update_state([1.0, 2.0, 3.0], [1.5, 2.0, 5.0], sample_weight=[1, 1, 2])
    assert m.result() == approx((0.5 + 0 + 4.0) / 4)
    assert metrics.MeanMetricWrapper(abs_diff).name == "mean_metric_wrapper"


def test_mask_on_y_pred_zeroes_weights():
    y_pred = Tensor(np.array([[0.9], [0.2], [0.8]], dtype=np.float32))
    y_pred._keras_mask = np.array([True, True, False])
    m = metrics.BinaryAccuracy()
    m.update_state(np.array([[1.0], [1.0], [0.0]]), y_pred)
    assert m.result() == approx(0.5)


def test_custom_subclass_and_super_check():
    class CountPositives(metrics.Metric):
        def __init__(self, name="count_positives", **kw):
            super().__init__(name=name, **kw)
            self.n = self.add_variable(shape=(), initializer="zeros", name="n")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.n.assign_add(np.sum(np.asarray(y_pred) > 0))

        def result(self):
            return self.n.value.copy()

    c = CountPositives()
    c.update_state(None, [1, -1, 2])
    assert float(c.result()) == 2
    c.reset_state()
    assert float(c.result()) == 0

    class Broken(metrics.Metric):
        def __init__(self):
            pass

    with pytest.raises(RuntimeError, match="super"):
        Broken().add_variable(shape=())


# ----------------------------------------------------------------------------- accuracy

def test_accuracy_examples():
    m = metrics.Accuracy()
    assert m.name == "accuracy"
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert m.result() == approx(0.75)
    m.reset_state()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    assert m.result() == approx(0.5)


def test_binary_accuracy():
    m = metrics.BinaryAccuracy()
    assert m.name == "binary_accuracy"
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    assert m.result() == approx(0.75)
    m.reset_state()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], sample_weight=[1, 0, 0, 1])
    assert m.result() == approx(0.5)
    m2 = metrics.BinaryAccuracy(threshold=0.7)
    assert m2([[1], [0]], [[0.65], [0.65]]) == approx(0.5)
    # any threshold, as Keras 3.15: 0.0 for logits
    assert metrics.BinaryAccuracy(threshold=0.0)([[1], [0]], [[0.2], [-0.3]]) == approx(1.0)


def test_binary_accuracy_function_element_by_element():
    # as Keras 3: one value per element, labels (n,) aligned with predictions (n, 1)
    out = metrics.binary_accuracy(np.array([1, 0, 1]), np.array([[0.7], [0.7], [0.2]]))
    np.testing.assert_array_equal(out, [[1.0], [0.0], [0.0]])
    assert out.dtype == np.float32
    out = metrics.binary_accuracy([[1, 0], [1, 1]], [[0.9, 0.9], [0.8, 0.6]])
    np.testing.assert_array_equal(out, [[1.0, 0.0], [1.0, 1.0]])


def test_categorical_accuracy():
    y_true = [[0, 0, 1], [0, 1, 0]]
    y_pred = [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    np.testing.assert_array_equal(metrics.categorical_accuracy(y_true, y_pred), [0.0, 1.0])
    m = metrics.CategoricalAccuracy()
    assert m.name == "categorical_accuracy"
    assert m(y_true, y_pred) == approx(0.5)
    m.reset_state()
    assert m(y_true, y_pred, sample_weight=[0.7, 0.3]) == approx(0.3)


def test_sparse_categorical_accuracy():
    y_pred = [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]
    for y_true in ([[2], [1]], [2, 1], np.array([2.0, 1.0], dtype=np.float32)):
        out = metrics.sparse_categorical_accuracy(y_true, y_pred)
        assert out.shape == (2,)
        np.testing.assert_array_equal(out, [0.0, 1.0])
    m = metrics.SparseCategoricalAccuracy()
    assert m.name == "sparse_categorical_accuracy"
    assert m([[2], [1]], y_pred, sample_weight=[0.7, 0.3]) == approx(0.3)


def test_sparse_categorical_accuracy_sequences():
    y_pred = np.zeros((2, 3, 4))
    y_pred[..., 1] = 1.0
    y_true = np.array([[1, 1, 0], [1, 2, 1]])
    out = metrics.sparse_categorical_accuracy(y_true, y_pred)
    np.testing.assert_array_equal(out, [[1, 1, 0], [1, 0, 1]])
    m = metrics.SparseCategoricalAccuracy()
    assert m(y_true, y_pred) == approx(4 / 6)


def test_top_k_accuracies():
    y_pred = [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    m = metrics.TopKCategoricalAccuracy(k=1)
    assert m.name == "top_k_categorical_accuracy" and m.k == 1
    assert m([[0, 0, 1], [0, 1, 0]], y_pred) == approx(0.5)
    m.reset_state()
    assert m([[0, 0, 1], [0, 1, 0]], y_pred, sample_weight=[0.7, 0.3]) == approx(0.3)
    np.testing.assert_array_equal(
        metrics.top_k_categorical_accuracy([[0, 0, 1], [0, 1, 0]], y_pred, k=2), [1.0, 1.0])

    s = metrics.SparseTopKCategoricalAccuracy(k=1)
    assert s.name == "sparse_top_k_categorical_accuracy"
    assert s([2, 1], y_pred) == approx(0.5)
    s.reset_state()
    assert s([2, 1], y_pred, sample_weight=[0.7, 0.3]) == approx(0.3)
    assert metrics.SparseTopKCategoricalAccuracy().k == 5
    out = metrics.sparse_top_k_categorical_accuracy([[2], [1]], y_pred, k=2)
    np.testing.assert_array_equal(out, [[1.0], [1.0]])


def test_top_k_ties_count_as_inside():
    # class 2 ties with the 2nd best score -> inside the top 2
    out = metrics.sparse_top_k_categorical_accuracy([2], [[0.5, 0.3, 0.3, 0.1]], k=2)
    np.testing.assert_array_equal(out, [1.0])
    out = metrics.sparse_top_k_categorical_accuracy([3], [[0.5, 0.3, 0.3, 0.1]], k=2)
    np.testing.assert_array_equal(out, [0.0])
    # k larger than the number of classes: always a hit
    out = metrics.sparse_top_k_categorical_accuracy([0, 1], [[0.1, 0.9], [0.9, 0.1]], k=5)
    np.testing.assert_array_equal(out, [1.0, 1.0])


def test_accuracy_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 4\)"):
        metrics.sparse_categorical_accuracy(np.array([1, 2, 3]), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        metrics.categorical_accuracy(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(4, 2\)"):
        metrics.BinaryAccuracy().update_state(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(5,\).*\(2, 3\)"):
        metrics.sparse_top_k_categorical_accuracy(np.zeros(5), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="out of range"):
        metrics.sparse_top_k_categorical_accuracy([7], [[0.1, 0.2]], k=1)
    with pytest.raises(ValueError, match="sample_weight"):
        metrics.Mean().update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 2.0])


# ----------------------------------------------------------------------------- regression

def test_regression_examples():
    y_true, y_pred = [[0, 1], [0, 0]], [[1, 1], [0, 0]]
    mse = metrics.MeanSquaredError()
    assert mse.name == "mean_squared_error"
    assert mse(y_true, y_pred) == approx(0.25)
    mae = metrics.MeanAbsoluteError()
    assert mae.name == "mean_absolute_error"
    assert mae(y_true, y_pred) == approx(0.25)
    mae.reset_state()
    assert mae(y_true, y_pred, sample_weight=[1, 0]) == approx(0.5)
    mape = metrics.MeanAbsolutePercentageError()
    assert mape.name == "mean_absolute_percentage_error"
    assert mape(y_true, y_pred) == approx(250000000.0)
    mape.reset_state()
    assert mape(y_true, y_pred, sample_weight=[1, 0]) == approx(500000000.0)
    rmse = metrics.RootMeanSquaredError()
    assert rmse.name == "root_mean_squared_error"
    assert rmse(y_true, y_pred) == approx(0.5)
    rmse.reset_state()
    assert rmse(y_true, y_pred, sample_weight=[1, 0]) == approx(0.70710677)
    msle = metrics.MeanSquaredLogarithmicError()
    assert msle(y_true, y_pred) == approx(0.12011322)


def test_regression_functions_per_sample(rng):
    y_true = rng.normal(size=(5, 3)).astype(np.float32)
    y_pred = rng.normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(metrics.mean_squared_error(y_true, y_pred),
                               ((y_true - y_pred) ** 2).mean(-1), rtol=1e-5)
    np.testing.assert_allclose(metrics.mean_absolute_error(y_true, y_pred),
                               np.abs(y_true - y_pred).mean(-1), rtol=1e-5)
    # (n,) targets against (n, 1) predictions line up per sample
    out = metrics.mean_squared_error(np.array([1.0, 2.0]), np.array([[0.0], [4.0]]))
    np.testing.assert_allclose(out, [1.0, 4.0])


def test_rmse_streaming_is_over_all_samples():
    m = metrics.RootMeanSquaredError()
    m.update_state([0.0, 0.0], [1.0, 1.0])
    m.update_state([0.0], [4.0])
    # Keras reduces rank-1 inputs per sample: mean of squared errors over the 3 samples
    assert m.result() == approx(np.sqrt((1 + 1 + 16) / 3))


def test_crossentropy_metrics():
    y_true = np.array([[0, 1, 0], [0, 0, 1]], dtype=np.float32)
    y_pred = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], dtype=np.float32)
    expected = [-np.log(0.95), -np.log(0.1)]
    np.testing.assert_allclose(metrics.categorical_crossentropy(y_true, y_pred), expected,
                               rtol=1e-5)
    m = metrics.CategoricalCrossentropy()
    assert m(y_true, y_pred) == approx(np.mean(expected), rel=1e-5)
    sm = metrics.SparseCategoricalCrossentropy()
    assert sm([1, 2], y_pred) == approx(np.mean(expected), rel=1e-5)
    logits = np.log(y_pred + 1e-12)
    assert metrics.SparseCategoricalCrossentropy(from_logits=True)([1, 2], logits) == approx(
        np.mean(expected), rel=1e-4)
    b = metrics.BinaryCrossentropy()
    val = b([[0], [1]], [[0.2], [0.6]])
    assert val == approx(-(np.log(0.8) + np.log(0.6)) / 2, rel=1e-5)
    z = np.array([[-1.3862944], [0.4054651]])  # logit(0.2), logit(0.6)
    assert metrics.BinaryCrossentropy(from_logits=True)([[0], [1]], z) == approx(val, rel=1e-5)


# ----------------------------------------------------------------------------- precision / recall

def test_precision_recall_basic_and_weighted():
    p = metrics.Precision()
    assert p.name == "precision"
    assert p([0, 1, 1, 1], [1, 0, 1, 1]) == approx(2 / 3)
    p.reset_state()
    assert p([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0]) == approx(1.0)
    r = metrics.Recall()
    assert r.name == "recall"
    assert r([0, 1, 1, 1], [1, 0, 1, 1]) == approx(2 / 3)
    r.reset_state()
    assert r([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0]) == approx(1.0)


def test_precision_recall_streaming_and_empty():
    p = metrics.Precision()
    assert float(p.result()) == 0.0  # 0/0 -> 0
    p.update_state([1, 0], [0.9, 0.9])
    p.update_state([1, 1], [0.9, 0.1])
    assert p.result() == approx(2 / 3)  # tp=2, fp=1


def test_precision_multiple_thresholds():
    p = metrics.Precision(thresholds=[0.5, 0.2, 0.9])
    res = p([1, 0, 1, 0], [0.6, 0.3, 0.95, 0.1])
    assert isinstance(res, Tensor) and res.dtype == np.float32 and res.shape == (3,)
    # t=0.5: tp 2 fp 0; t=0.2: tp 2 fp 1; t=0.9: tp 1 fp 0 (order as given)
    np.testing.assert_allclose(res, [1.0, 2 / 3, 1.0], rtol=1e-6)
    r = metrics.Recall(thresholds=[0.5, 0.2, 0.9])
    np.testing.assert_allclose(r([1, 0, 1, 0], [0.6, 0.3, 0.95, 0.1]), [1.0, 1.0, 0.5])


def test_threshold_is_strict():
    p = metrics.Precision(thresholds=0.5)
    # a prediction equal to the threshold is negative
    assert p([1, 0], [0.5, 0.7]) == approx(0.0)


def test_precision_recall_top_k():
    assert metrics.Precision(top_k=2)([0, 0, 1, 1], [1, 1, 1, 1]) == approx(0.0)
    assert metrics.Precision(top_k=4)([0, 0, 1, 1], [1, 1, 1, 1]) == approx(0.5)
    y_true = [[0, 0, 1, 1], [1, 0, 0, 0]]
    y_pred = [[0.1, 0.2, 0.9, 0.3], [0.5, 0.4, 0.45, 0.0]]
    # top-2 per row: row0 -> {2, 3} both right; row1 -> {0, 2}: one right
    assert metrics.Precision(top_k=2)(y_true, y_pred) == approx(3 / 4)
    assert metrics.Recall(top_k=1)(y_true, y_pred) == approx(2 / 3)


def test_precision_recall_class_id():
    y_true = np.array([[0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]])
    y_pred = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]])
    # class 1: predicted positive in rows 0 and 2; true in rows 0 and 1
    assert metrics.Precision(class_id=1)(y_true, y_pred) == approx(0.5)
    assert metrics.Recall(class_id=1)(y_true, y_pred) == approx(0.5)
    assert metrics.Precision(class_id=2)(y_true, y_pred) == approx(1.0)
    # top_k with class_id: only counts class 1 when it is in the top 1
    assert metrics.Recall(class_id=1, top_k=1)(y_true, y_pred) == approx(0.5)
    with pytest.raises(ValueError, match="class_id"):
        metrics.Precision(class_id=1)([1, 0], [0.3, 0.9])


def test_confusion_counts():
    fp = metrics.FalsePositives()
    assert fp([0, 1, 0, 0], [0, 0, 1, 1]) == approx(2.0)
    fn = metrics.FalseNegatives()
    assert fn([0, 1, 1, 1], [0, 1, 0, 0]) == approx(2.0)
    tn = metrics.TrueNegatives()
    assert tn([0, 1, 0, 0], [1, 1, 0, 0]) == approx(2.0)
    tp = metrics.TruePositives()
    assert tp([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0]) == approx(1.0)


def test_confusion_shape_mismatch_and_bad_thresholds():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        metrics.Precision().update_state([1, 0, 1], [0.2, 0.3, 0.4, 0.5])
    with pytest.raises(ValueError, match="Threshold values must be in"):
        metrics.Recall(thresholds=[0.5, 1.5])


def test_precision_matches_direct_computation(rng):
    y_true = rng.integers(0, 2, size=(40, 3))
    y_pred = rng.random((40, 3)).astype(np.float32)
    w = rng.random(40)
    thresholds = [0.1, 0.35, 0.5, 0.8]
    p = metrics.Precision(thresholds=thresholds)
    r = metrics.Recall(thresholds=thresholds)
    p.update_state(y_true[:25], y_pred[:25], sample_weight=w[:25])
    p.update_state(y_true[25:], y_pred[25:], sample_weight=w[25:])
    r.update_state(y_true, y_pred, sample_weight=w)
    ww = np.broadcast_to(w[:, None], y_true.shape)
    for i, t in enumerate(thresholds):
        pos = y_pred > t
        tp = (ww * (pos & (y_true == 1))).sum()
        fpv = (ww * (pos & (y_true == 0))).sum()
        fnv = (ww * (~pos & (y_true == 1))).sum()
        assert p.result()[i] == approx(tp / (tp + fpv), rel=1e-5)
        assert r.result()[i] == approx(tp / (tp + fnv), rel=1e-5)


# ----------------------------------------------------------------------------- AUC

def _exact_roc_auc(y, s):
    """Probability that a random positive outscores a random negative (ties count 1/2)."""
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def test_auc_docstring_example():
    m = metrics.AUC(num_thresholds=3)
    assert m.name == "auc"
    assert m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]) == approx(0.75)
    m.reset_state()
    assert m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1]) == approx(1.0)
    np.testing.assert_allclose(m.thresholds, [0.0, 0.5, 1.0], atol=1e-6)


def test_auc_summation_methods_weighted():
    y, s, w = [0, 0, 1, 1], [0, 0.5, 0.3, 0.9], [1, 2, 3, 4]
    # tp=[7,4,0] fp=[3,0,0] fn=[0,3,7] tn=[0,3,3]
    rec = 4 / 7
    assert metrics.AUC(num_thresholds=3)(y, s, sample_weight=w) == approx((1 + rec) / 2)
    assert metrics.AUC(num_thresholds=3, summation_method="majoring")(
        y, s, sample_weight=w) == approx(1.0)
    assert metrics.AUC(num_thresholds=3, summation_method="minoring")(
        y, s, sample_weight=w) == approx(rec)
    assert metrics.AUC(num_thresholds=3, curve="PR", summation_method="majoring")(
        y, s, sample_weight=w) == approx(1.0)
    assert metrics.AUC(num_thresholds=3, curve="PR", summation_method="minoring")(
        y, s, sample_weight=w) == approx(0.7 * (1 - rec))
    # interpolated PR (Davis & Goadrich): P=[10,4,0], slopes [0.5, 1], intercepts [2, 0]
    expected = (0.5 * (3 + 2 * np.log(10 / 4)) + 4.0) / 7
    assert metrics.AUC(num_thresholds=3, curve="PR")(y, s, sample_weight=w) == approx(
        expected, rel=1e-5)


def test_auc_roc_matches_exact_auc(rng):
    y = rng.integers(0, 2, size=500)
    s = np.clip(rng.normal(0.4 + 0.25 * y, 0.2), 0, 1).astype(np.float32)
    m = metrics.AUC(num_thresholds=2000)
    for chunk in np.array_split(np.arange(500), 4):
        m.update_state(y[chunk], s[chunk])
    assert float(m.result()) == approx(_exact_roc_auc(y, s), abs=2e-3)


def test_auc_pr_matches_direct_computation(rng):
    y = rng.integers(0, 2, size=400)
    s = (1 / (1 + np.exp(-rng.normal(1.5 * y - 0.75, 1.0)))).astype(np.float32)
    # average precision computed directly from the ranking
    order = np.argsort(-s, kind="stable")
    ys = y[order]
    prec_at = np.cumsum(ys) / np.arange(1, len(ys) + 1)
    ap = (prec_at * ys).sum() / ys.sum()
    for method in ("interpolation", "majoring", "minoring"):
        m = metrics.AUC(num_thresholds=4000, curve="PR", summation_method=method)
        assert float(m(y, s)) == approx(ap, abs=1e-2), method
    lo = metrics.AUC(num_thresholds=50, curve="PR", summation_method="minoring")(y, s)
    hi = metrics.AUC(num_thresholds=50, curve="PR", summation_method="majoring")(y, s)
    assert lo <= ap <= hi


def test_auc_counts_against_direct_thresholding(rng):
    y = rng.integers(0, 2, size=60)
    s = rng.random(60).astype(np.float32)
    w = rng.random(60)
    m = metrics.AUC(num_thresholds=7)
    m.update_state(y, s, sample_weight=w)
    thr = np.array(m.thresholds, dtype=np.float32)
    pos = s[None, :] > thr[:, None]
    np.testing.assert_allclose(m.true_positives.value, (pos * (y == 1) * w).sum(1), rtol=1e-5)
    np.testing.assert_allclose(m.false_positives.value, (pos * (y == 0) * w).sum(1), rtol=1e-5)
    np.testing.assert_allclose(m.true_negatives.value, (~pos * (y == 0) * w).sum(1), rtol=1e-5)
    np.testing.assert_allclose(m.false_negatives.value, (~pos * (y == 1) * w).sum(1), rtol=1e-5)


def test_auc_perfect_and_multilabel():
    y = np.array([[0, 0, 1, 1], [0, 0, 1, 1]]).T
    s = np.array([[0, 0.5, 0.3, 0.9], [0.1, 0.2, 0.3, 0.4]], dtype=np.float32).T
    assert metrics.AUC()(y, y) == approx(1.0)
    assert metrics.AUC(multi_label=True)(y, y) == approx(1.0)
    # thresholds [-eps, .25, .5, .75, 1+eps]: per-label ROC AUCs 0.875 and 1.0
    m = metrics.AUC(num_thresholds=5, multi_label=True)
    assert m.variables == []  # built on first update
    assert m(y, s) == approx((0.875 + 1.0) / 2)
    assert m.true_positives.value.shape == (5, 2)
    lw = metrics.AUC(num_thresholds=5, multi_label=True, label_weights=[0.75, 0.25])
    assert lw(y, s) == approx(0.875 * 0.75 + 0.25)
    flat = metrics.AUC(num_thresholds=5)
    assert flat(y, s) == approx(1.0 - 3.0 / 32.0)
    logits = np.log(s + 1e-12) - np.log1p(-s + 1e-12)
    assert metrics.AUC(num_thresholds=5, from_logits=True)(y, logits) == approx(1 - 3 / 32,
                                                                                  rel=1e-4)


def test_auc_manual_thresholds_and_config():
    m = metrics.AUC(num_thresholds=None, curve="PR", summation_method="majoring",
                    name="my_auc", thresholds=[0.5, 0.3])
    assert m.num_thresholds == 4
    np.testing.assert_allclose(m.thresholds, [0.0, 0.3, 0.5, 1.0], atol=1e-6)
    cfg = m.get_config()
    assert cfg == json.loads(json.dumps(cfg))
    assert cfg["curve"] == "PR" and cfg["summation_method"] == "majoring"
    m2 = metrics.AUC.from_config(cfg)
    assert m2.name == "my_auc" and m2.num_thresholds == 4
    assert m2.get_config() == cfg


def test_auc_argument_errors():
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="Invalid")
    with pytest.raises(ValueError, match="summation method"):
        metrics.AUC(summation_method="Invalid")
    with pytest.raises(ValueError, match="num_labels"):
        metrics.AUC(num_labels=3)


# ----------------------------------------------------------------------------- names / config

def test_default_names_are_numbered_like_keras():
    assert metrics.Precision().name == "precision"
    assert metrics.Precision().name == "precision_1"
    assert metrics.AUC().name == "auc"
    # classes with a fixed default name are not numbered
    assert metrics.Mean().name == "mean" and metrics.Mean().name == "mean"
    metrics.reset_name_uids()
    assert metrics.Precision().name == "precision"


def test_get_config_round_trip():
    for m in (metrics.BinaryAccuracy(threshold=0.3, name="ba"),
              metrics.TopKCategoricalAccuracy(k=3),
              metrics.Precision(thresholds=[0.2, 0.6], class_id=1),
              metrics.Recall(top_k=2),
              metrics.MeanSquaredError(),
              metrics.AUC(num_thresholds=50, curve="PR")):
        cfg = m.get_config()
        json.dumps(cfg)
        clone = type(m).from_config(cfg)
        assert clone.get_config() == cfg
        restored = metrics.deserialize(metrics.serialize(m))
        assert type(restored) is type(m) and restored.get_config() == cfg


def test_mean_metric_wrapper_serialization():
    w = metrics.MeanMetricWrapper(metrics.binary_accuracy, name="ba", threshold=0.7)
    cfg = w.get_config()
    # Keras's serialized-function form
    assert cfg["fn"] == {"module": "builtins", "class_name": "function",
                         "config": "binary_accuracy", "registered_name": "function"}
    assert cfg["threshold"] == 0.7
    clone = metrics.MeanMetricWrapper.from_config(cfg)
    assert clone([[1], [0]], [[0.65], [0.65]]) == approx(0.5)


# ----------------------------------------------------------------------------- get / compile rules

@pytest.mark.parametrize("ident,cls", [
    ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy),
    ("categorical_accuracy", metrics.CategoricalAccuracy),
    ("binary_accuracy", metrics.BinaryAccuracy),
    ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
    ("sparse_top_k_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy),
    ("mae", metrics.MeanAbsoluteError), ("MAE", metrics.MeanAbsoluteError),
    ("mean_absolute_error", metrics.MeanAbsoluteError),
    ("mse", metrics.MeanSquaredError), ("mean_squared_error", metrics.MeanSquaredError),
    ("mape", metrics.MeanAbsolutePercentageError),
    ("root_mean_squared_error", metrics.RootMeanSquaredError),
    ("precision", metrics.Precision), ("recall", metrics.Recall), ("auc", metrics.AUC),
    ("AUC", metrics.AUC), ("Precision", metrics.Precision),
    ("accuracy", metrics.Accuracy),
])
def test_get_by_name(ident, cls):
    m = metrics.get(ident)
    assert type(m) is cls


def test_get_other_identifiers():
    assert metrics.get(None) is None
    inst = metrics.Recall(name="r")
    assert metrics.get(inst) is inst
    assert isinstance(metrics.get(metrics.AUC), metrics.AUC)
    cfg = metrics.serialize(metrics.BinaryAccuracy(threshold=0.2))
    assert metrics.get(cfg).threshold == 0.2

    def my_metric(y_true, y_pred):
        return np.abs(np.asarray(y_true) - np.asarray(y_pred))

    w = metrics.get(my_metric)
    assert isinstance(w, metrics.MeanMetricWrapper) and w.name == "my_metric"
    assert w([1.0, 2.0], [2.0, 2.0]) == approx(0.5)
    with pytest.raises(ValueError, match="no_such_metric"):
        metrics.get("no_such_metric")
    with pytest.raises(ValueError, match="Could not interpret"):
        metrics.get(42)


@pytest.mark.parametrize("yt,yp,cls", [
    ((32, 1), (32, 1), metrics.BinaryAccuracy),
    ((32,), (32, 1), metrics.BinaryAccuracy),
    ((32,), (32, 10), metrics.SparseCategoricalAccuracy),
    ((32, 1), (32, 10), metrics.SparseCategoricalAccuracy),
    ((32, 5), (32, 5, 10), metrics.SparseCategoricalAccuracy),
    ((32, 10), (32, 10), metrics.CategoricalAccuracy),
    ((32, 5, 10), (32, 5, 10), metrics.CategoricalAccuracy),
])
def test_resolve_accuracy(yt, yp, cls):
    for name in ("accuracy", "acc"):
        m = metrics.resolve_accuracy(name, yt, yp)
        assert type(m) is cls
        assert m.name == name
        cm = metrics.get_compile_metric(name, yt, yp)
        assert type(cm) is cls and cm.name == name


def test_resolve_crossentropy():
    assert metrics.resolve_crossentropy((8, 1), (8, 1)) == "binary_crossentropy"
    assert metrics.resolve_crossentropy((8,), (8, 3)) == "sparse_categorical_crossentropy"
    assert metrics.resolve_crossentropy((8, 3), (8, 3)) == "categorical_crossentropy"


def test_get_compile_metric_naming():
    m = metrics.get_compile_metric("ACC", (4,), (4, 3))
    assert m.name == "ACC" and isinstance(m, metrics.SparseCategoricalAccuracy)
    assert metrics.get_compile_metric("mae", (4, 1), (4, 1)).name == "mae"
    assert metrics.get_compile_metric("sparse_categorical_accuracy", (4,), (4, 3)).name == \
        "sparse_categorical_accuracy"
    assert metrics.get_compile_metric(None, (4,), (4, 3)) is None
    p = metrics.Precision(name="prec")
    assert metrics.get_compile_metric(p, (4, 1), (4, 1)) is p and p.name == "prec"
    # resolved metrics compute the right thing
    m = metrics.get_compile_metric("accuracy", (2,), (2, 3))
    assert m(np.array([2, 1]), np.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0]])) == approx(0.5)
