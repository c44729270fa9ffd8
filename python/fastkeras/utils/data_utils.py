"""Helpers for the `(x, y, sample_weight)` tuples `fit` reads, and for symbolic graphs."""

from __future__ import annotations


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The tuple `fit` takes: `x` alone (or `(x,)` when `x` is itself a list or tuple),
    `(x, y)`, or `(x, y, sample_weight)`."""
    if y is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """`(x, y, sample_weight)` from `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` (lists too),
    with None for what is missing."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if 1 <= len(data) <= 3:
        return tuple(data) + (None,) * (3 - len(data))
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found: {data}")


def get_source_inputs(tensor):
    """The `Input` tensors a symbolic tensor was computed from, as a list (each once, in the
    order first reached). A tensor that is not symbolic is returned as is."""
    from fastkeras.layers.input_layer import InputLayer, KerasTensor
    if not isinstance(tensor, KerasTensor):
        return tensor
    layer = tensor._layer
    if layer is None or isinstance(layer, InputLayer) or tensor._node is None:
        return [tensor]
    sources = []
    for parent in tensor._node.parent_tensors():
        for t in get_source_inputs(parent):
            if all(t is not s for s in sources):
                sources.append(t)
    return sources
