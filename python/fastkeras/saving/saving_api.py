"""`fastkeras.models.load_model`: models saved by Keras 3 (or fastkeras) as `.keras` (a zip of
config.json, metadata.json and model.weights.h5) or legacy `.h5` (model_config and
training_config attributes, weights under model_weights/<layer>/ by weight_names)."""

from __future__ import annotations

import inspect
import io
import json
import os
import zipfile

import h5py
import numpy as np

from fastkeras.saving import weights_h5


def _layer_classes():
    from fastkeras import layers
    return {name: getattr(layers, name) for name in layers.__all__}


def _accepted_keys(cls):
    """Constructor argument names along the class's MRO (plus the base Layer's kwargs)."""
    keys = {"input_shape", "batch_input_shape", "batch_size", "input_dim"}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                keys.add(p.name)
    keys.discard("self")
    return keys


def construct(cls, config: dict):
    """cls(**config) keeping only the arguments cls accepts (Keras configs carry extra keys such
    as 'ragged', 'optional' or 'quantization_config' that have no meaning here)."""
    accepted = _accepted_keys(cls)
    return cls(**{k: v for k, v in config.items() if k in accepted})


def deserialize_layer(spec: dict, custom_objects=None):
    class_name = spec.get("class_name")
    classes = _layer_classes()
    if custom_objects and class_name in custom_objects:
        cls = custom_objects[class_name]
    elif class_name in classes:
        cls = classes[class_name]
    else:
        raise ValueError(f"Unknown layer class '{class_name}': pass it in `custom_objects` "
                         f"(known: {sorted(classes)})")
    config = dict(spec.get("config", {}))
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = None
    return construct(cls, config)


def model_from_config(spec: dict, custom_objects=None):
    from fastkeras.models.sequential import Sequential
    class_name = spec.get("class_name")
    if class_name in ("Functional", "Model"):
        from fastkeras.models.functional import Functional
        return Functional.from_config(spec["config"], custom_objects)
    if class_name != "Sequential":
        if custom_objects and class_name in custom_objects:
            return custom_objects[class_name].from_config(spec["config"])
        raise ValueError(f"Unknown model class '{class_name}': pass it in `custom_objects`.")
    config = spec["config"]
    layers = [deserialize_layer(s, custom_objects) for s in config.get("layers", [])]
    return Sequential(layers, name=config.get("name"), trainable=config.get("trainable", True))


def _compile_from(model, training_config, custom_objects=None):
    if not training_config:
        return
    from fastkeras import optimizers
    # Legacy .h5 stores "optimizer_config"; .keras's compile_config stores "optimizer".
    opt = training_config.get("optimizer_config") or training_config.get("optimizer")
    optimizer = optimizers.deserialize(opt, custom_objects) if opt else "rmsprop"
    loss = training_config.get("loss")
    if isinstance(loss, dict) and "class_name" in loss:
        from fastkeras import losses
        loss = losses.deserialize(loss, custom_objects)
    model.compile(optimizer=optimizer, loss=loss, metrics=training_config.get("metrics"),
                  loss_weights=training_config.get("loss_weights"),
                  weighted_metrics=training_config.get("weighted_metrics"))


def _load_legacy_h5_weights(model, group, filepath):
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["layer_names"]]
    with_weights = [layer for layer in model.layers if layer._own_weights]
    stored = [n for n in names
              if len(group[n].attrs.get("weight_names", [])) > 0]
    if len(stored) != len(with_weights):
        raise ValueError(f"'{filepath}' holds weights for {len(stored)} layers {stored}, the "
                         f"model has {len(with_weights)} layers with weights "
                         f"{[l.name for l in with_weights]}")
    pending = []
    for layer, name in zip(with_weights, stored):
        g = group[name]
        wnames = [w.decode() if isinstance(w, bytes) else str(w) for w in g.attrs["weight_names"]]
        pending.extend(weights_h5.stage_layer_weights(layer, [g[w][()] for w in wnames],
                                                      filepath, f"model_weights/{name}"))
    for v, a in pending:  # nothing changes unless every weight fits
        v.assign(a)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No file or directory found at '{filepath}'")
    if zipfile.is_zipfile(filepath):
        try:
            with zipfile.ZipFile(filepath) as z:
                spec = json.loads(z.read("config.json"))
                weights = z.read("model.weights.h5")
        except (KeyError, zipfile.BadZipFile, json.JSONDecodeError) as e:
            raise ValueError(f"'{filepath}' is not a valid .keras file: {e}") from e
        model = model_from_config(spec, custom_objects)
        with h5py.File(io.BytesIO(weights), "r") as f:
            weights_h5.load_weights_from(model, f, filepath)
        if compile and spec.get("compile_config"):
            _compile_from(model, spec["compile_config"], custom_objects)
        return model
    try:
        f = h5py.File(filepath, "r")
    except OSError as e:
        raise ValueError(f"'{filepath}' is neither a .keras zip nor a readable HDF5 file: {e}") \
            from e
    with f:
        if "model_config" not in f.attrs:
            raise ValueError(f"'{filepath}' has no 'model_config' attribute: not a saved Keras "
                             "model (for weights only, use model.load_weights)")
        raw = f.attrs["model_config"]
        spec = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        model = model_from_config(spec, custom_objects)
        _load_legacy_h5_weights(model, f["model_weights"], filepath)
        if compile and "training_config" in f.attrs:
            raw = f.attrs["training_config"]
            _compile_from(model, json.loads(raw.decode() if isinstance(raw, bytes) else raw),
                          custom_objects)
    return model
