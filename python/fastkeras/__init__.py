"""fastkeras: Keras's API on fast C++ CPU kernels.

    import fastkeras as keras
"""

from fastkeras import config
from fastkeras import _core

__version__ = "0.1.0"

__all__ = ["config", "__version__"]
