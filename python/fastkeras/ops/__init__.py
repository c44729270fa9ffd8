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

from fastkeras.ops import nn_more as _nn_more
from fastkeras.ops.nn_more import *

__all__ += list(_nn_more.__all__)
_symbolic._SPECS.update(_nn_more.GRAPH_SPECS)
_install(globals(), [n for n in _nn_more.__all__ if n not in _nn_more.NOT_SYMBOLIC])

from fastkeras.ops import fft as _fft
from fastkeras.ops.fft import *

__all__ += list(_fft.__all__)
_symbolic._SPECS.update(_fft.GRAPH_SPECS)
_install(globals(), [n for n in _fft.__all__ if n not in _fft.NOT_SYMBOLIC])

from fastkeras.ops import linalg

_symbolic._SPECS.update(linalg.GRAPH_SPECS)
_install(vars(linalg), [n for n in linalg.__all__ if n not in linalg.NOT_SYMBOLIC + ("norm",)])
linalg.norm = norm
for _name in linalg.__all__:
    if _name != "norm":
        globals()[_name] = getattr(linalg, _name)
__all__ += [n for n in linalg.__all__ if n != "norm"]

from fastkeras.ops import image

_symbolic._SPECS.update(image.GRAPH_SPECS)
_install(vars(image), [n for n in image.__all__ if n not in image.NOT_SYMBOLIC])

from fastkeras.ops import ops_rest as _ops_rest
from fastkeras.ops.ops_rest import *

__all__ += list(_ops_rest.__all__)
_symbolic._SPECS.update(_ops_rest.GRAPH_SPECS)
_install(globals(), [n for n in _ops_rest.__all__ if n not in _ops_rest.NOT_SYMBOLIC])

# Keras's `keras.ops.nn`: the package-level (graph-aware) functions also live on the nn module,
# replacing only nn.py's own functions of the same name (whose graph-aware forms wrap them).
from fastkeras.ops import nn as _nn_module

for _name in (
    "adaptive_average_pool", "adaptive_max_pool", "average_pool", "batch_normalization",
    "binary_crossentropy", "categorical_crossentropy", "celu", "conv", "conv_transpose",
    "ctc_decode", "ctc_loss", "depth_to_space", "depthwise_conv", "dot_product_attention", "elu",
    "fold", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "layer_normalization", "leaky_relu", "log_sigmoid", "log_softmax", "max_pool", "moments",
    "multi_hot", "normalize", "one_hot", "polar", "psnr", "relu", "relu6", "rms_normalization",
    "selu", "separable_conv", "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign",
    "space_to_depth", "sparse_categorical_crossentropy", "sparse_plus", "sparse_sigmoid",
    "sparsemax", "squareplus", "swish", "tanh_shrink", "threshold", "unfold",
):
    _own = getattr(_nn_module, _name, None)
    if _own is None or getattr(globals()[_name], "__wrapped__", None) is _own:
        setattr(_nn_module, _name, globals()[_name])
del _name, _own

# Keras's `keras.ops.numpy` and `keras.ops.core` namespaces.
from fastkeras.ops import core, numpy  # noqa: F401  (after every op exists)
