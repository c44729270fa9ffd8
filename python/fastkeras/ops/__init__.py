"""Differentiable operations on tensors (Keras's `keras.ops` surface).

Each op computes its value with numpy or a C++ kernel and, while gradients are recorded, knows
its own backward. Inputs may be Tensors, Variables, numpy arrays or Python numbers.
"""

from fastkeras.ops.convolution import conv
from fastkeras.ops.ctc import ctc_loss
from fastkeras.ops.einsum import einsum
from fastkeras.ops.math import *
from fastkeras.ops.math import __all__ as _math_all
from fastkeras.ops.nn import *
from fastkeras.ops.nn import __all__ as _nn_all
from fastkeras.ops.normalization import *
from fastkeras.ops.normalization import __all__ as _norm_all
from fastkeras.ops.numpy_extra import *
from fastkeras.ops.numpy_extra import __all__ as _numpy_extra_all
from fastkeras.ops.numpy_more import *
from fastkeras.ops.numpy_more import __all__ as _numpy_more_all

__all__ = list(_math_all) + list(_nn_all)
__all__ += list(_norm_all)
__all__ += ["einsum"]
__all__ += ["ctc_loss"]
__all__ += ["conv"]
__all__ += list(_numpy_extra_all)
__all__ += list(_numpy_more_all)

# Ops called on KerasTensors (while defining a Functional model) record graph nodes.
from fastkeras.ops import numpy_more as _numpy_more
from fastkeras.ops import symbolic as _symbolic
from fastkeras.ops.symbolic import install as _install

_symbolic._SPECS.update(_numpy_more.GRAPH_SPECS)
_install(globals(), [n for n in __all__ if n not in _numpy_more.NOT_SYMBOLIC])
