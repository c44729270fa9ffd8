"""The autodiff engine (variables, tensors and the tape that records ops for backward) and
Keras 3's `keras.backend` helpers: settings (epsilon, floatx, image data format), dtype names
and promotion, `is_keras_tensor`, `get_uid` and `clear_session`."""

from fastkeras.backend.config import (
    backend,
    epsilon,
    floatx,
    get_uid,
    image_data_format,
    is_float_dtype,
    is_int_dtype,
    is_keras_tensor,
    result_type,
    set_epsilon,
    set_floatx,
    set_image_data_format,
    standardize_dtype,
)
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


def clear_session(free_memory=True):
    """Resets the counters behind automatic names (as `fastkeras.utils.clear_session`)."""
    from fastkeras.utils.session import clear_session as _clear
    _clear(free_memory=free_memory)


__all__ = [
    "GradientTape",
    "Tensor",
    "Variable",
    "backend",
    "clear_session",
    "convert_to_tensor",
    "epsilon",
    "floatx",
    "get_uid",
    "grad_enabled",
    "gradients",
    "image_data_format",
    "is_float_dtype",
    "is_int_dtype",
    "is_keras_tensor",
    "make_op",
    "no_grad",
    "result_type",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "standardize_dtype",
]
