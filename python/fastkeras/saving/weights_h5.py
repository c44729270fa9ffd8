"""Keras 3's `.weights.h5` layout: every object's variables under `<path>/vars/<i>`, where a
child of a container is addressed by its class name in snake case plus a counter among
siblings of the same class ('dense', 'dense_1', ...), not by its (auto-generated) name."""

from __future__ import annotations

import os

import h5py
import numpy as np

from fastkeras.layers.layer import to_snake_case
from fastkeras.saving.files import atomic_path


def _children(model):
    """(key, layer) for the model's layers in order, keyed as Keras keys them."""
    used = {}
    out = []
    for layer in getattr(model, "layers", []):
        base = to_snake_case(type(layer).__name__)
        if base in used:
            used[base] += 1
            key = f"{base}_{used[base]}"
        else:
            used[base] = 0
            key = base
        out.append((key, layer))
    return out


def _own_vars(layer):
    return list(layer._own_weights)


def _nested(key, layer):
    """(path, layer) for a layer and the sublayers Keras stores under it by attribute name
    (an RNN's 'cell', Bidirectional's 'forward_layer'/'backward_layer', TimeDistributed's
    'layer'): 'lstm', 'lstm/cell'."""
    out = [(key, layer)]
    for child_key, child in getattr(layer, "_saveable_children", lambda: [])():
        out.extend(_nested(f"{key}/{child_key}", child))
    return out


def stage_layer_weights(layer, arrays, filepath, where):
    """(variable, array) pairs for one layer's stored arrays, after checking their count and
    shapes (ValueError naming the layer, the file, the place and both shapes)."""
    own = _own_vars(layer)
    if len(arrays) != len(own):
        raise ValueError(f"Layer '{layer.name}' expects {len(own)} weights, but '{filepath}' has "
                         f"{len(arrays)} for '{where}'")
    for v, arr in zip(own, arrays):
        if arr.shape != v.shape:
            raise ValueError(f"Layer '{layer.name}' weight {v.name} has shape {v.shape}, but "
                             f"'{filepath}' stores shape {arr.shape} at '{where}'")
    return list(zip(own, arrays))


def save_weights(model, filepath, overwrite=True):
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError("The filename must end in `.weights.h5`. "
                         f"Received: filepath={filepath}")
    with atomic_path(filepath, overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            write_weights(model, f)


def write_weights(model, f):
    """Writes the model's (and its built optimizer's) variables into an open h5py File."""
    layers_group = f.create_group("layers")
    for top_key, top_layer in _children(model):
        for key, layer in _nested(top_key, top_layer):
            g = layers_group.require_group(key).create_group("vars")
            g.attrs["name"] = layer.name
            for i, v in enumerate(_own_vars(layer)):
                g.create_dataset(str(i), data=v.value)
    opt = getattr(model, "optimizer", None)
    if opt is not None and getattr(opt, "built", False):
        g = f.create_group("optimizer").create_group("vars")
        g.attrs["name"] = opt.name
        for i, v in enumerate(opt.variables):
            g.create_dataset(str(i), data=np.asarray(v.value))
    f.create_group("vars").attrs["name"] = model.name


def load_weights(model, filepath, skip_mismatch=False):
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such file: '{filepath}'")
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet: build it (or call it on data) "
                         "before loading weights into it.")
    try:
        f = h5py.File(filepath, "r")
    except OSError as e:
        raise ValueError(f"'{filepath}' is not a readable HDF5 weights file: {e}") from e
    with f:
        load_weights_from(model, f, filepath, skip_mismatch)


def load_weights_from(model, f, filepath, skip_mismatch=False):
    """Loads from an open h5py File (a .weights.h5, or the one inside a .keras zip)."""
    if "layers" not in f:
        raise ValueError(f"'{filepath}' is not a Keras .weights.h5 file: it has no 'layers' "
                         f"group (top-level keys: {sorted(f.keys())})")
    pending = []
    for key, layer in [kl for top in _children(model) for kl in _nested(*top)]:
        own = _own_vars(layer)
        if key not in f["layers"]:
            if own and not skip_mismatch:
                raise ValueError(f"Layer '{layer.name}' ({key}) has {len(own)} weights but "
                                 f"'{filepath}' has no entry 'layers/{key}'")
            continue
        if not own and "vars" not in f["layers"][key]:
            continue
        stored = f["layers"][key].get("vars", {})
        arrays = [stored[str(i)][()] for i in range(len(stored))]
        try:
            pending.extend(stage_layer_weights(layer, arrays, filepath, f"layers/{key}/vars"))
        except ValueError:
            if not skip_mismatch:
                raise
    for v, arr in pending:  # nothing changes unless every weight fits
        v.assign(arr)
