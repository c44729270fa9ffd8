"""Run-time settings: how many threads the kernels use and which instruction set they run on,
and Keras's `keras.config` settings (floatx, epsilon, image data format, backend name,
interactive logging)."""

from __future__ import annotations

from fastkeras import _core
from fastkeras.backend.config import (  # noqa: F401  (keras.config's settings, re-exported)
    backend,
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)


def set_num_threads(n: int) -> None:
    """Sets how many threads the C++ kernels may use (a positive integer; more than 1024 counts
    as 1024).

    The default is the ``FASTKERAS_NUM_THREADS`` environment variable if set, else the number
    of cores this process may run on. Small operations always run on one thread.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: expected a positive integer, received n={n!r}")
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, received n={n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """Returns how many threads the C++ kernels may use."""
    return _core.get_num_threads()


def reset_num_threads() -> None:
    """Restores the default thread count (``FASTKERAS_NUM_THREADS`` or the core count)."""
    _core.reset_num_threads()


def get_isa() -> str:
    """The instruction set the GEMM runs on: 'avx512', 'avx2' or 'generic'."""
    return _core.gemm_isa()


def supported_isas() -> list[str]:
    """Every instruction set this CPU and build can run, portable first."""
    return list(_core.supported_isas())


def set_isa(name: str) -> None:
    """Forces the GEMM onto one instruction set ('generic', 'avx2', 'avx512'), or 'auto'."""
    _core.set_gemm_isa(name)


# keras.config's interactive-logging switch (shared with keras.utils; fastkeras.utils is
# imported on use so that importing fastkeras does not load it).

def enable_interactive_logging():
    """Sends progress bars and messages (fit's epochs, callbacks) to stdout (the default)."""
    from fastkeras.utils import io_utils
    io_utils.enable_interactive_logging()


def disable_interactive_logging():
    """Sends progress bars and messages to Python's `logging` (logger "fastkeras", level
    INFO) instead of stdout."""
    from fastkeras.utils import io_utils
    io_utils.disable_interactive_logging()


def is_interactive_logging_enabled():
    """True when progress output goes to stdout, False when it goes to `logging`."""
    from fastkeras.utils import io_utils
    return io_utils.is_interactive_logging_enabled()


def dtype_policy():
    """The global dtype policy (a DTypePolicy; "float32" unless set)."""
    from fastkeras import dtype_policies
    return dtype_policies.global_policy()


def set_dtype_policy(policy):
    """Sets the global dtype policy by name or DTypePolicy; fastkeras computes in float32
    (or float64), so mixed and 16-bit policies raise an error naming them."""
    from fastkeras import dtype_policies
    dtype_policies.set_global_policy(policy)


def enable_unsafe_deserialization():
    """Lets loading turn a stored Python lambda (a Lambda layer's function) back into code
    everywhere; only for files you trust."""
    from fastkeras.saving import object_registry
    object_registry.enable_unsafe_deserialization()


# --- Keras's debugging caps and switches --------------------------------------------------
_SETTINGS = {"max_epochs": None, "max_steps_per_epoch": None, "flash_attention": None,
             "traceback_filtering": True}


def _positive_or_none(value, name):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise ValueError(f"`{name}` must be a positive integer or None. Received: "
                         f"{name}={value!r}")
    return value


def set_max_epochs(max_epochs):
    """Caps the epochs of every `fit` (None: no cap), for quick debugging runs."""
    _SETTINGS["max_epochs"] = _positive_or_none(max_epochs, "max_epochs")


def max_epochs():
    return _SETTINGS["max_epochs"]


def set_max_steps_per_epoch(max_steps_per_epoch):
    """Caps the steps of every epoch of `fit`, `evaluate` and `predict` (None: no cap)."""
    _SETTINGS["max_steps_per_epoch"] = _positive_or_none(max_steps_per_epoch,
                                                         "max_steps_per_epoch")


def max_steps_per_epoch():
    return _SETTINGS["max_steps_per_epoch"]


def enable_flash_attention():
    """Recorded for code that reads it; attention here computes the exact softmax either
    way."""
    _SETTINGS["flash_attention"] = True


def disable_flash_attention():
    _SETTINGS["flash_attention"] = False


def is_flash_attention_enabled():
    return _SETTINGS["flash_attention"]


def enable_traceback_filtering():
    _SETTINGS["traceback_filtering"] = True


def disable_traceback_filtering():
    _SETTINGS["traceback_filtering"] = False


def is_traceback_filtering_enabled():
    return _SETTINGS["traceback_filtering"]


def is_nnx_enabled():
    return False


def set_backend(backend):  # noqa: F811  (Keras's argument name; `backend()` is read above)
    """fastkeras is its own backend: "fastkeras" is accepted, any other name is an error."""
    if backend != "fastkeras":
        raise ValueError(f"fastkeras runs on its own kernels; it cannot switch to another "
                         f"backend. Received: backend={backend!r}")
