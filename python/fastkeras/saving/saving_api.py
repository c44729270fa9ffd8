"""`fastkeras.models.load_model`: models saved by Keras 3 (or fastkeras) as `.keras` (a zip of
config.json, metadata.json and model.weights.h5) or legacy `.h5` (model_config and
training_config attributes, weights under model_weights/<layer>/ by weight_names, optimizer
state under optimizer_weights/). The config's class (Sequential, Functional or a custom
model) rebuilds the model; weights and optimizer state follow."""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import warnings
import zipfile
import zlib

import h5py

from fastkeras.saving import legacy_h5, object_registry, weights_h5
from fastkeras.saving.serialization import construct, deserialize_layer, model_from_config  # noqa: F401

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK\x03\x04"


def _head(filepath, n=8) -> bytes:
    with open(filepath, "rb") as f:
        return f.read(n)


class SavedFileNotFoundError(FileNotFoundError, ValueError):
    """No file at the path given to load: Keras raises a ValueError here; this is also the
    FileNotFoundError it is."""


def _check_exists(filepath):
    if not os.path.exists(filepath):
        raise SavedFileNotFoundError(f"File not found: filepath={filepath}. No file or "
                                     "directory found there.")
    if os.path.isdir(filepath):
        raise ValueError(f"'{filepath}' is a directory, not a saved model file (.keras or .h5); "
                         "TensorFlow SavedModel directories are not supported")


def _read_keras_zip(filepath):
    """(config dict, weights bytes) from a .keras zip, with clear errors for damaged files."""
    try:
        with zipfile.ZipFile(filepath) as z:
            names = z.namelist()
            for required in ("config.json", "model.weights.h5"):
                if required not in names:
                    raise ValueError(f"'{filepath}' is not a valid .keras file: it has no "
                                     f"'{required}' (the archive holds {sorted(names)[:10]})")
            raw_config = z.read("config.json")
            weights = z.read("model.weights.h5")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise ValueError(f"'{filepath}' is not a valid .keras file: the zip archive is damaged "
                         f"or truncated ({e})") from e
    try:
        spec = json.loads(raw_config)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"'{filepath}': config.json is not valid JSON ({e})") from e
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"'{filepath}': config.json does not describe a model (expected a dict "
                         "with 'class_name' and 'config')")
    return spec, weights


@contextlib.contextmanager
def _open_weights_bytes(weights, filepath):
    try:
        f = h5py.File(io.BytesIO(weights), "r")
    except OSError as e:
        raise ValueError(f"'{filepath}': model.weights.h5 inside the archive is not a readable "
                         f"HDF5 file ({e})") from e
    with f:
        yield f


@contextlib.contextmanager
def open_keras_weights(filepath):
    """The model.weights.h5 of a .keras file, opened for reading."""
    _check_exists(filepath)
    _, weights = _read_keras_zip(filepath)
    with _open_weights_bytes(weights, filepath) as f:
        yield f


def _deserialize_named(spec, kind, custom_objects, builtin_deserialize):
    """A loss or metric from a compile config entry: a name, a function reference or a class
    config; custom ones come from custom_objects or the registry."""
    if spec is None:
        return None
    if isinstance(spec, list):
        return [_deserialize_named(s, kind, custom_objects, builtin_deserialize) for s in spec]
    if isinstance(spec, str):
        obj = object_registry.get_registered_object(spec, custom_objects)
        return obj if obj is not None else spec
    if isinstance(spec, dict) and "class_name" in spec:
        if spec["class_name"] == "function":
            name = spec.get("config")
            obj = object_registry.lookup({"registered_name": spec.get("registered_name"),
                                          "class_name": name}, custom_objects)
            return obj if obj is not None else name
        cls = object_registry.lookup(spec, custom_objects)
        if cls is not None:
            config = spec.get("config") or {}
            return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
        return builtin_deserialize(spec, object_registry.all_custom_objects(custom_objects))
    if isinstance(spec, dict):
        return {k: _deserialize_named(v, kind, custom_objects, builtin_deserialize)
                for k, v in spec.items()}
    raise ValueError(f"Could not interpret the {kind} {spec!r} of the saved compile "
                     "configuration")


def compile_from_config(model, training_config, custom_objects=None, filepath=None):
    """Compiles `model` as the saved compile configuration says (Keras's compile_config, or a
    legacy training_config with 'optimizer_config')."""
    if not training_config:
        return
    from fastkeras import losses, optimizers
    from fastkeras.metrics import _registry as metric_registry
    objects = object_registry.all_custom_objects(custom_objects)
    for key, value in object_registry.get_custom_objects().items():
        objects.setdefault(key, value)
        objects.setdefault(key.split(">", 1)[-1], value)
    opt = training_config.get("optimizer_config") or training_config.get("optimizer")
    where = f"'{filepath}'" if filepath else "the saved model"
    try:
        if isinstance(opt, dict):
            optimizer = optimizers.deserialize(opt, objects)
        else:
            optimizer = opt or "rmsprop"
        loss = _deserialize_named(training_config.get("loss"), "loss", custom_objects,
                                  losses.deserialize)
        metrics = _deserialize_named(training_config.get("metrics"), "metric", custom_objects,
                                     metric_registry.deserialize)
        weighted = _deserialize_named(training_config.get("weighted_metrics"), "metric",
                                      custom_objects, metric_registry.deserialize)
    except (ValueError, TypeError) as e:
        raise ValueError(f"Cannot restore the compile configuration of {where}: {e}") from e
    if type(model).compile is not _base_compile():
        params = inspect.signature(model.compile).parameters
        if not {"optimizer", "loss"} <= set(params):
            # a custom compile(): the caller compiles after loading, as in Keras, which says so
            warnings.warn("`compile()` was not called as part of model loading because the "
                          "model's `compile()` method is custom. All subclassed Models that "
                          "have `compile()` overridden should also override "
                          "`get_compile_config()` and `compile_from_config(config)`. "
                          "Alternatively, you can call `compile()` manually after loading.",
                          stacklevel=2)
            return
    # (as Keras: the execution settings come back too; jit_compile has no effect here)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                  loss_weights=training_config.get("loss_weights"), weighted_metrics=weighted,
                  run_eagerly=bool(training_config.get("run_eagerly") or False),
                  steps_per_execution=training_config.get("steps_per_execution") or 1)
    if model.built and model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_weights)


def _compile_loaded(model, config, custom_objects, filepath):
    """A loaded model's compile: its own `compile_from_config` when it overrides it (as Keras
    calls it), else the saved configuration restored here."""
    from fastkeras.models.model import Model
    if type(model).compile_from_config is not Model.compile_from_config:
        model.compile_from_config(config)
    else:
        compile_from_config(model, config, custom_objects, filepath)


def _base_compile():
    from fastkeras.models.model import Model
    return Model.compile


class ModelRebuildError(ValueError, TypeError):
    """A saved model's architecture could not be rebuilt. Keras raises a TypeError here and
    older fastkeras a ValueError: this is both, so either `except` catches it."""


def _build_model(spec, custom_objects, filepath):
    try:
        return model_from_config(spec, custom_objects)
    except NotImplementedError:
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise ModelRebuildError(f"Cannot rebuild the model saved in '{filepath}': {e}") from e


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved with `model.save` (by fastkeras or Keras 3): architecture, weights and,
    with `compile=True`, its compile configuration and optimizer state."""
    with object_registry.SafeModeScope(None if safe_mode else False):
        return _load_any(filepath, custom_objects, compile)


def _load_any(filepath, custom_objects, compile):
    filepath = os.fspath(filepath)
    _check_exists(filepath)
    head = _head(filepath)
    if zipfile.is_zipfile(filepath):
        return _load_keras(filepath, custom_objects, compile)
    if head.startswith(_ZIP_SIGNATURE):
        raise ValueError(f"'{filepath}' is not a valid .keras file: the zip archive is "
                         "truncated or damaged (no central directory)")
    if head != _HDF5_SIGNATURE:
        kind = ".keras zip" if filepath.endswith(".keras") else "HDF5 (.h5) file"
        raise ValueError(f"'{filepath}' is not a saved Keras model: it is neither a .keras zip "
                         f"nor an HDF5 file (expected a {kind}; the file starts with {head!r})")
    return _load_h5(filepath, custom_objects, compile)


def _load_keras(filepath, custom_objects, compile):
    spec, weights = _read_keras_zip(filepath)
    with object_registry.CustomObjectScope(custom_objects):
        model = _build_model(spec, custom_objects, filepath)
        if compile and spec.get("compile_config"):
            _compile_loaded(model, spec["compile_config"], custom_objects, filepath)
    with _open_weights_bytes(weights, filepath) as f:
        weights_h5.load_weights_from(model, f, filepath)
    _read_assets(model, filepath)
    return model


def _read_assets(model, filepath):
    """Hands each layer with `load_assets(dir)` the files under `assets/<its path>/`."""
    import tempfile
    with zipfile.ZipFile(filepath) as z:
        names = [n for n in z.namelist() if n.startswith("assets/") and not n.endswith("/")]
        if not names:
            return
        for path, obj in weights_h5.walk(model):
            if not callable(getattr(obj, "load_assets", None)):
                continue
            prefix = "/".join(p for p in ("assets", path) if p) + "/"
            mine = [n for n in names if n.startswith(prefix) and "/" not in n[len(prefix):]]
            if not mine:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                for n in mine:
                    with open(os.path.join(tmp, n[len(prefix):]), "wb") as out:
                        out.write(z.read(n))
                obj.load_assets(tmp)


def _load_h5(filepath, custom_objects, compile):
    try:
        f = h5py.File(filepath, "r")
    except OSError as e:
        raise ValueError(f"'{filepath}' is not a readable HDF5 file (truncated or damaged?): "
                         f"{e}") from e
    with f:
        if "model_config" not in f.attrs:
            raise ValueError(f"'{filepath}' has no 'model_config' attribute: not a saved Keras "
                             "model (for weights only, use model.load_weights)")
        if "model_weights" not in f:
            raise ValueError(f"'{filepath}' has a 'model_config' but no 'model_weights' group: "
                             "the file is incomplete")
        try:
            spec = legacy_h5.read_json_attribute(f, "model_config", filepath)
            training_config = (legacy_h5.read_json_attribute(f, "training_config", filepath)
                               if compile and "training_config" in f.attrs else None)
            with object_registry.CustomObjectScope(custom_objects):
                model = _build_model(spec, custom_objects, filepath)
                if training_config:
                    _compile_loaded(model, training_config, custom_objects, filepath)
            legacy_h5.load_model_weights(model, f["model_weights"], filepath)
            if training_config:
                legacy_h5.load_optimizer_weights(model, f, filepath)
        except (OSError, KeyError) as e:  # a damaged dataset or group inside the file
            raise ValueError(f"'{filepath}' could not be read: {e}") from e
    return model
