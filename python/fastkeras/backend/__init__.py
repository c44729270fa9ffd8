"""The autodiff engine: variables, tensors and the tape that records ops for backward."""

from fastkeras.backend.tape import (
    Tensor,
    GradientTape,
    convert_to_tensor,
    grad_enabled,
    make_op,
    no_grad,
    gradients,
)
from fastkeras.backend.variable import Variable

__all__ = ["Tensor", "Variable", "GradientTape", "convert_to_tensor", "grad_enabled", "make_op",
           "no_grad", "gradients", "epsilon", "floatx"]

_EPSILON = 1e-7


def epsilon() -> float:
    """The fuzz factor Keras uses in losses and metrics (1e-7)."""
    return _EPSILON


def floatx() -> str:
    return "float32"
