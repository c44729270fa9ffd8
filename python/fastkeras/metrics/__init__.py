"""Metrics with Keras's API: stateful `Metric` objects and per-sample functions.

    m = fastkeras.metrics.SparseCategoricalAccuracy()
    m.update_state(y_true, y_pred)      # accumulate (numpy arrays or fastkeras tensors)
    float(m.result())                   # the value so far
    m.reset_state()

``result()`` returns a numpy ``float32`` scalar (a 1-D float32 array for confusion
metrics given several thresholds). Calling a metric, ``m(y_true, y_pred)``, updates it and
returns the result.

``get(identifier)`` turns names, classes, configs and functions into metrics;
``get_compile_metric`` / ``resolve_accuracy`` apply model.compile's rules, where
``"accuracy"`` means binary, categorical or sparse categorical accuracy depending on the
shapes of the targets and predictions.
"""

from fastkeras.metrics._registry import (
    deserialize,
    get,
    get_compile_metric,
    is_binary_or_sparse_categorical,
    resolve_accuracy,
    resolve_crossentropy,
    serialize,
)
from fastkeras.metrics.accuracy_metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from fastkeras.metrics.base import Mean, MeanMetricWrapper, Metric, Sum, reset_name_uids
from fastkeras.metrics.confusion import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from fastkeras.metrics.regression import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    sparse_categorical_crossentropy,
)

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "FalseNegatives",
    "FalsePositives",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "Sum",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "accuracy",
    "binary_accuracy",
    "binary_crossentropy",
    "categorical_accuracy",
    "categorical_crossentropy",
    "deserialize",
    "get",
    "get_compile_metric",
    "is_binary_or_sparse_categorical",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "reset_name_uids",
    "resolve_accuracy",
    "resolve_crossentropy",
    "serialize",
    "sparse_categorical_accuracy",
    "sparse_categorical_crossentropy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]
