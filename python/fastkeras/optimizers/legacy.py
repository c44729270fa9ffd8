"""`keras.optimizers.legacy`: Keras 2's optimizers, which Keras 3 (and so fastkeras) no longer
has. The names exist so that old code fails with an explanation rather than a missing
attribute, as it does in Keras 3."""

from __future__ import annotations


class _RemovedLegacyOptimizer:
    def __init__(self, *args, **kwargs):
        raise ImportError(
            "`keras.optimizers.legacy` is not supported in Keras 3, and so not in fastkeras: "
            f"use `keras.optimizers.{type(self).__name__}` instead (its arguments are Keras "
            "3's: e.g. `learning_rate`, not `lr` or `decay`).")


class Adagrad(_RemovedLegacyOptimizer):
    pass


class Adam(_RemovedLegacyOptimizer):
    pass


class Ftrl(_RemovedLegacyOptimizer):
    pass


class Optimizer(_RemovedLegacyOptimizer):
    pass


class RMSprop(_RemovedLegacyOptimizer):
    pass


class SGD(_RemovedLegacyOptimizer):
    pass
