"""Keras 3's `.weights.h5` layout (also the `model.weights.h5` inside a `.keras` zip).

Every saveable object (layer, model, optimizer) keeps its own variables under `<path>/vars/<i>`
with a `name` attribute. The path of a child is the attribute that holds it (`optimizer`, or
`d1` for `self.d1 = Dense(...)` in a subclassed model); a child inside a list or dict (such as
a Sequential's `layers`) is addressed by its class name in snake case plus a counter among
siblings of the same class ('dense', 'dense_1', ...), never by its auto-generated name, so two
instances of the same architecture read each other's files. Attributes are visited in sorted
order, private ones (leading underscore) last, and an object reached twice is stored once.
"""

from __future__ import annotations

import os
import warnings

import h5py
import numpy as np

from fastkeras.layers.layer import Layer, _held, to_snake_case
from fastkeras.saving.files import atomic_path

# Attributes of the base classes that hold layers for bookkeeping, not as the user's children
# (Keras likewise skips the attributes every plain Layer has).
_INTERNAL_ATTRS = frozenset({
    "_tracked_layers", "_layers", "_input_layer", "_inbound_nodes", "_nodes", "inputs",
    "outputs", "_inputs_struct", "_outputs_struct", "layers", "optimizer", "_loss_fn",
    "_metrics", "_weighted_metrics", "history",
})


def _is_optimizer(obj) -> bool:
    from fastkeras.optimizers.base_optimizer import Optimizer
    return isinstance(obj, Optimizer)


def _is_saveable(obj) -> bool:
    return isinstance(obj, Layer) or _is_optimizer(obj)


def _is_graph_model(obj) -> bool:
    from fastkeras.models.functional import Functional
    from fastkeras.models.sequential import Sequential
    return isinstance(obj, (Sequential, Functional))


def _attr_order(name: str) -> str:
    return "~" + name if name.startswith("_") else name


def _model_layers(obj):
    layers = getattr(type(obj), "layers", None)
    if isinstance(layers, property):
        return list(obj.layers)
    return list(obj._tracked_layers)


def _children(obj):
    """(path component, child) pairs of a saveable, in Keras's visiting order. A child is a
    saveable or a list of saveables."""
    from fastkeras.models.model import Model
    if _is_optimizer(obj):
        # A wrapping optimizer (LossScaleOptimizer, MultiOptimizer) names the optimizers it
        # holds, which Keras also stores under their own paths.
        children = getattr(obj, "_saveable_children", None)
        return list(children()) if callable(children) else []
    attrs = {}
    listed = None
    if isinstance(obj, Model):
        attrs["layers"] = _model_layers(obj)
        if obj.optimizer is not None:
            attrs["optimizer"] = obj.optimizer
    elif isinstance(getattr(type(obj), "layers", None), property):
        # A layer that lists sub-layers through a `layers` property (Pipeline) stores them
        # under "layers", as Keras does, not under the attribute that holds them.
        listed = list(obj.layers)
        attrs["layers"] = listed
    if not _is_graph_model(obj):  # a graph's state lives in its layers
        for key, value in vars(obj).items():
            if key in _INTERNAL_ATTRS or key.startswith("__"):
                continue
            if _is_saveable(value) and value is not obj:
                attrs[key] = value
            elif isinstance(value, (list, tuple, dict)):
                items = list(value.values()) if isinstance(value, dict) else list(value)
                if listed is not None and items == listed:
                    continue  # already under "layers"
                if _held_saveables(items):
                    attrs[key] = items
    out = []
    if _is_graph_model(obj):  # Keras visits a graph's layers before anything else
        out.append(("layers", attrs.pop("layers")))
    out.extend((k, attrs[k]) for k in sorted(attrs, key=_attr_order))
    return out


def walk(root):
    """(path, object) for every saveable reachable from `root`, each once, `root` at ''."""
    seen = set()
    out = []

    def visit(obj, path):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        out.append((path, obj))
        for key, child in _children(obj):
            child_path = f"{path}/{key}" if path else key
            if isinstance(child, list):
                visit_container(child, child_path, set())
            else:
                visit(child, child_path)

    def visit_container(container, path, containers):
        if id(container) in containers:  # (a container holding itself is visited once)
            return
        containers.add(id(container))
        used = {}
        for item in (container.values() if isinstance(container, dict) else container):
            if _is_saveable(item):
                # (a class Keras names differently keeps Keras's name for its path)
                name = _unique(to_snake_case(getattr(type(item), "_keras_class_name",
                                                     type(item).__name__)), used)
                visit(item, f"{path}/{name}")
            elif isinstance(item, (list, tuple, dict)):
                # A list or dict inside the container: Keras's "container", "container_1", ...
                visit_container(item, f"{path}/{_unique('container', used)}", containers)

    visit(root, "")
    return out


def _unique(base, used):
    """base the first time, then base_1, base_2, ... (counted in `used`)."""
    if base in used:
        used[base] += 1
        return f"{base}_{used[base]}"
    used[base] = 0
    return base


def _held_saveables(items) -> bool:
    """Whether a saveable is in `items`, or in the lists, tuples and dicts inside it."""
    from fastkeras.optimizers.base_optimizer import Optimizer
    return bool(_held(items, (Layer, Optimizer)))


def own_variables(obj):
    """The variables an object stores itself, in Keras's order: an optimizer's `variables`;
    a layer's trainable weights, then its non-trainable ones (each in creation order)."""
    if _is_optimizer(obj):
        return list(obj.variables)
    own = list(obj._own_weights)
    return ([v for v in own if getattr(v, "_declared_trainable", True)]
            + [v for v in own if not getattr(v, "_declared_trainable", True)])


def _vars_path(path):
    return f"{path}/vars" if path else "vars"


def _describe(obj):
    kind = "Optimizer" if _is_optimizer(obj) else "Layer"
    return f"{kind} '{obj.name}' ({type(obj).__name__})"


# --- writing -------------------------------------------------------------------------------

def save_weights(model, filepath, overwrite=True):
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError("The filename must end in `.weights.h5`. "
                         f"Received: filepath={filepath}")
    if not model.built:
        raise ValueError(f"Model '{model.name}' has not been built yet, so it has no weights "
                         "to save: build it first by calling it on some data or with "
                         "`build()`.")
    with atomic_path(filepath, overwrite) as tmp, h5py.File(tmp, "w") as f:
        write_weights(model, f)


def write_weights(model, f):
    """Writes every variable reachable from `model` (its optimizer's included) into an open
    h5py File."""
    for path, obj in walk(model):
        group = f.create_group(_vars_path(path))
        group.attrs["name"] = obj.name
        if _is_optimizer(obj):
            for i, v in enumerate(own_variables(obj)):
                group.create_dataset(str(i), data=np.asarray(v.value))
            continue
        store = {}
        obj.save_own_variables(store)  # a layer may override what it stores
        for key, value in store.items():
            group.create_dataset(str(key), data=np.asarray(getattr(value, "value", value)))


# --- reading -------------------------------------------------------------------------------

def stage_layer_weights(layer, arrays, filepath, where, own=None):
    """(variable, array) pairs for one object's stored arrays, after checking their count and
    shapes (ValueError naming the layer, the file, the place and both shapes). `own`: what
    the layer stores (default: its own variables)."""
    own = own_variables(layer) if own is None else own
    if len(arrays) != len(own):
        raise ValueError(f"{_describe(layer)} expects {len(own)} weights "
                         f"{[tuple(v.shape) for v in own]}, but '{filepath}' has {len(arrays)} "
                         f"at '{where}' {[tuple(a.shape) for a in arrays]}")
    for v, arr in zip(own, arrays):
        if tuple(arr.shape) != tuple(v.shape):
            raise ValueError(f"{_describe(layer)}: weight '{v.name}' has shape "
                             f"{tuple(v.shape)}, but '{filepath}' stores shape "
                             f"{tuple(arr.shape)} at '{where}'")
    return list(zip(own, arrays))


class _Stored:
    """What a layer's `save_own_variables` puts under one key: a name and a shape."""

    def __init__(self, name, shape):
        self.name, self.shape = name, shape


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """`model.load_weights`: a `.weights.h5` file, the weights inside a `.keras` zip, or a
    legacy Keras `.h5` file (model_weights/<layer>/...), whose layers may also be matched by
    name (`by_name=True`, for legacy files only, as in Keras)."""
    filepath = os.fspath(filepath)
    by_name = kwargs.pop("by_name", False)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    legacy = filepath.endswith((".h5", ".hdf5")) and not filepath.endswith(".weights.h5")
    if by_name and not legacy:
        raise ValueError("Invalid keyword arguments: 'by_name' only supports loading legacy "
                         f"'.h5' or '.hdf5' files. Received: {filepath}")
    if not filepath.endswith((".keras", ".weights.h5", ".h5", ".hdf5")):
        raise ValueError(f"File format not supported: filepath={filepath}. Keras 3 only "
                         "supports V3 `.keras` files, `.weights.h5` files, legacy H5 format "
                         "files (`.h5` extension), or Orbax checkpoints.")
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such file: '{filepath}'")
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet: build it (or call it on data) "
                         "before loading weights into it.")
    if filepath.endswith(".keras"):
        from fastkeras.saving import saving_api
        with saving_api.open_keras_weights(filepath) as f:
            load_weights_from(model, f, filepath, skip_mismatch, build_optimizer=False)
        return
    try:
        f = h5py.File(filepath, "r")
    except OSError as e:
        raise ValueError(f"'{filepath}' is not a readable HDF5 weights file: {e}") from e
    with f:
        if "layers" not in f and ("model_weights" in f or "layer_names" in f.attrs):
            from fastkeras.saving import legacy_h5
            group = f.get("model_weights", f)
            legacy_h5.load_model_weights(model, group, filepath, skip_mismatch, by_name)
            return
        load_weights_from(model, f, filepath, skip_mismatch, build_optimizer=False)


def _read_arrays(group):
    try:
        return [group[str(i)][()] for i in range(len(group))]
    except KeyError as e:
        raise ValueError(f"'{group.file.filename}': the group '{group.name}' does not hold "
                         f"datasets numbered 0..{len(group) - 1} ({sorted(group)})") from e


def load_weights_from(model, f, filepath, skip_mismatch=False, build_optimizer=True):
    """Loads from an open h5py File (a .weights.h5, or the one inside a .keras zip). Nothing
    is changed unless every layer's weights fit; optimizer state that does not match the
    optimizer is skipped with a warning, as Keras does. With `build_optimizer` (loading a
    whole model) an optimizer not yet built is built to take the saved state; without it
    (`model.load_weights`) its state is skipped, as Keras's is."""
    if "layers" not in f and "vars" not in f:
        raise ValueError(f"'{filepath}' is not a Keras .weights.h5 file: it has neither a "
                         f"'layers' nor a 'vars' group (top-level keys: {sorted(f.keys())})")
    pending = []
    custom = []
    optimizer_entry = None
    for path, obj in walk(model):
        where = _vars_path(path)
        if _is_optimizer(obj):
            # The model's optimizer stores its whole state (a wrapper's includes the optimizers
            # it holds, whose own entries repeat their part of it).
            if where in f and (optimizer_entry is None
                               or obj is getattr(model, "optimizer", None)):
                optimizer_entry = (obj, f[where], where)
            continue
        own = own_variables(obj)
        loader = type(obj).load_own_variables
        builtin_loader = loader is not Layer.load_own_variables and \
            loader.__module__.startswith("fastkeras.")
        if loader is not Layer.load_own_variables and not builtin_loader:
            # a user's layer reads its own entry (after every other layer's weights were
            # checked)
            if where in f:
                group = f[where]
                custom.append((obj, {k: group[k][()] for k in group}, where))
            elif own and not skip_mismatch:
                raise ValueError(f"{_describe(obj)} has {len(own)} weights but '{filepath}' "
                                 f"has no entry '{where}'")
            continue
        if where not in f:
            if own and not skip_mismatch:
                raise ValueError(f"{_describe(obj)} has {len(own)} weights but '{filepath}' has "
                                 f"no entry '{where}' (the file was saved from a different "
                                 "architecture)")
            continue
        arrays = _read_arrays(f[where])
        try:
            if builtin_loader:  # (LoRA layers store a merged kernel): checked like any other
                expected = {}
                obj.save_own_variables(expected)
                stage_layer_weights(obj, arrays, filepath, where, [
                    _Stored(getattr(v, "name", k), tuple(np.shape(getattr(v, "value", v))))
                    for k, v in expected.items()])
                custom.append((obj, {str(i): a for i, a in enumerate(arrays)}, where))
            else:
                pending.extend(stage_layer_weights(obj, arrays, filepath, where))
        except ValueError:
            if not skip_mismatch:
                raise
            warnings.warn(f"Skipping weights of {_describe(obj)}: they do not match "
                          f"'{filepath}' at '{where}'", stacklevel=3)
    for obj, store, where in custom:
        try:
            obj.load_own_variables(store)
        except ValueError:
            if not skip_mismatch:
                raise
            warnings.warn(f"Skipping weights of {_describe(obj)}: its load_own_variables() "
                          f"rejected '{filepath}' at '{where}'", stacklevel=3)
    for v, arr in pending:
        v.assign(arr)
    if optimizer_entry is not None:
        load_optimizer_state(model, *optimizer_entry, filepath, build=build_optimizer)


def load_optimizer_state(model, optimizer, group, where, filepath, build=True):
    """Restores the optimizer's variables (iteration count, learning rate, slots). With
    `build`, an optimizer not yet built is built for the model's trainable weights first, so a
    freshly loaded model continues training where the saved one stopped. State that does not
    fit (an unbuilt optimizer, another optimizer or model) is skipped whole, with Keras's
    warning."""
    arrays = _read_arrays(group) if isinstance(group, h5py.Group) else list(group)
    if (build and not optimizer.built and len(arrays) != len(optimizer.variables)
            and model.built):
        optimizer.build(model.trainable_weights)
    own = optimizer.variables
    if len(arrays) != len(own):
        warnings.warn(f"Skipping variable loading for optimizer '{optimizer.name}', because it "
                      f"has {len(own)} variables whereas the saved optimizer has "
                      f"{len(arrays)} variables. ", stacklevel=3)
        return
    for v, arr in zip(own, arrays):
        if tuple(arr.shape) != tuple(v.shape):
            warnings.warn(f"Skipping the state of optimizer '{optimizer.name}': its variable "
                          f"'{v.name}' has shape {tuple(v.shape)}, but '{filepath}' stores "
                          f"shape {tuple(arr.shape)} at '{where}'", stacklevel=3)
            return
    for v, arr in zip(own, arrays):
        v.assign(np.asarray(arr).astype(v.value.dtype, copy=False))
