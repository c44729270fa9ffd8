"""The core ops of Keras 3 (`keras.src.ops.core`): casting and conversion, control flow,
scatter and slice updates, `stop_gradient` and `custom_gradient`.

The same functions as `fastkeras.ops.<name>`: `from fastkeras.ops.core import <name>` and
`fastkeras.ops.core.<name>` both work.
"""

from fastkeras.ops import (
    associative_scan,
    cast,
    cond,
    convert_to_numpy,
    convert_to_tensor,
    custom_gradient,
    dtype,
    fori_loop,
    is_tensor,
    map,
    saturate_cast,
    scan,
    scatter,
    scatter_update,
    shape,
    slice,
    slice_update,
    stop_gradient,
    switch,
    unstack,
    vectorized_map,
    while_loop,
)

__all__ = [
    "associative_scan", "cast", "cond", "convert_to_numpy", "convert_to_tensor", "custom_gradient",
    "dtype", "fori_loop", "is_tensor", "map", "saturate_cast", "scan", "scatter", "scatter_update",
    "shape", "slice", "slice_update", "stop_gradient", "switch", "unstack", "vectorized_map",
    "while_loop",
]
