"""Run-time settings: how many threads the kernels use and which instruction set they run on,
and Keras's `keras.config` settings (floatx, epsilon, image data format, backend name)."""

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
    """Sets how many threads the C++ kernels may use (a positive integer).

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
