"""The autodiff engine: variables, tensors and the tape that records ops for backward."""

from fastkeras.backend.tape import (
    GradientTape,
    Tensor,
    convert_to_tensor,
    grad_enabled,
    gradients,
    make_op,
    no_grad,
)
from fastkeras.backend.variable import Variable

__all__ = [
    "GradientTape",
    "Tensor",
    "Variable",
    "convert_to_tensor",
    "epsilon",
    "floatx",
    "grad_enabled",
    "gradients",
    "make_op",
    "no_grad",
]

_EPSILON = 1e-7


def epsilon() -> float:
    """The fuzz factor Keras uses in losses and metrics (1e-7)."""
    return _EPSILON


def floatx() -> str:
    return "float32"
