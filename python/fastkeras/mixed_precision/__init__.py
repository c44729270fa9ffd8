"""`keras.mixed_precision`: the dtype policy API. fastkeras computes in float32, so only
float32 (and float64) policies can be set; mixed policies raise an error naming them.
`LossScaleOptimizer` (also `keras.optimizers.LossScaleOptimizer`) still scales the loss
dynamically, as Keras's does."""

from fastkeras.dtype_policies import DTypePolicy, global_policy, set_global_policy
from fastkeras.optimizers.loss_scale_optimizer import LossScaleOptimizer

Policy = DTypePolicy
dtype_policy = global_policy
set_dtype_policy = set_global_policy

__all__ = ["DTypePolicy", "LossScaleOptimizer", "Policy", "dtype_policy", "global_policy",
           "set_dtype_policy", "set_global_policy"]
