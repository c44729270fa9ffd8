"""`model.save(path)`: Keras 3's `.keras` zip (config.json, metadata.json, model.weights.h5) or
the legacy `.h5` layout (model_config / training_config attributes, model_weights/<layer>/...).
Writes are atomic: a temporary file beside the target replaces it only once complete."""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile

import h5py
import numpy as np

from fastkeras.saving.files import atomic_path
from fastkeras.saving.weights_h5 import write_weights

# The Keras file-format version these files follow.
KERAS_FORMAT_VERSION = "3.15.1"


def _model_spec(model) -> dict:
    from fastkeras.models.functional import Functional
    from fastkeras.models.sequential import Sequential
    if isinstance(model, Functional):
        return {"module": "keras.src.models.functional", "class_name": "Functional",
                "config": model.get_config(), "registered_name": "Functional",
                "build_config": {"input_shape": None}}
    if not isinstance(model, Sequential):
        raise NotImplementedError(
            f"Saving a {type(model).__name__} model to .keras/.h5 is not supported yet "
            "(Sequential models are); use save_weights for its weights.")
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet: call it on data (or give an "
                         "input shape) before saving it.")
    return {"module": "keras", "class_name": "Sequential", "config": model.get_config(),
            "registered_name": None, "build_config": {"input_shape": list(model.input_shape)}}


def _compile_spec(model):
    if not getattr(model, "compiled", False):
        return None
    from fastkeras import losses, optimizers
    def loss_spec(loss):  # one loss, or a list / dict of them (one per output)
        if isinstance(loss, (list, tuple)):
            return [loss_spec(v) for v in loss]
        if isinstance(loss, dict):
            return {k: loss_spec(v) for k, v in loss.items()}
        return loss if loss is None or isinstance(loss, str) else losses.serialize(loss)

    def metric_spec(m):
        if isinstance(m, (list, tuple)):
            return [metric_spec(v) for v in m]
        if isinstance(m, dict):
            return {k: metric_spec(v) for k, v in m.items()}
        return m if m is None or isinstance(m, str) else getattr(m, "name", str(m))

    loss = loss_spec(model.loss)
    metrics = metric_spec(model._compile_config.get("metrics"))
    return {"optimizer": optimizers.serialize(model.optimizer), "loss": loss,
            "loss_weights": model._compile_config.get("loss_weights"), "metrics": metrics,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def save_model(model, filepath, overwrite=True):
    filepath = os.fspath(filepath)
    if filepath.endswith(".keras"):
        _save_keras(model, filepath, overwrite)
    elif filepath.endswith(".h5") and not filepath.endswith(".weights.h5"):
        _save_h5(model, filepath, overwrite)
    else:
        raise ValueError("The filename must end in `.keras` (Keras 3's format) or `.h5` (the "
                         f"legacy HDF5 format). Received: filepath={filepath}")


def _save_keras(model, filepath, overwrite):
    spec = _model_spec(model)
    compile_spec = _compile_spec(model)
    if compile_spec is not None:
        spec["compile_config"] = compile_spec
    metadata = {"keras_version": KERAS_FORMAT_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:
        write_weights(model, f)
    with atomic_path(filepath, overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w") as z:
            z.writestr("metadata.json", json.dumps(metadata))
            z.writestr("config.json", json.dumps(_jsonable(spec)))
            z.writestr("model.weights.h5", weights.getvalue())


def _save_h5(model, filepath, overwrite):
    spec = _model_spec(model)
    compile_spec = _compile_spec(model)
    with atomic_path(filepath, overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["keras_version"] = KERAS_FORMAT_VERSION
            f.attrs["backend"] = "tensorflow"
            f.attrs["model_config"] = json.dumps(_jsonable(
                {"class_name": spec["class_name"], "config": spec["config"]}))
            if compile_spec is not None:
                training = dict(compile_spec)
                training["optimizer_config"] = training.pop("optimizer")
                f.attrs["training_config"] = json.dumps(_jsonable(training))
            group = f.create_group("model_weights")
            group.attrs["keras_version"] = KERAS_FORMAT_VERSION
            group.attrs["backend"] = "tensorflow"
            names = [layer.name for layer in model.layers]
            group.attrs["layer_names"] = np.array(names, dtype=h5py.string_dtype())
            for layer in model.layers:
                g = group.create_group(layer.name)
                weight_names = [f"{model.name}/{layer.name}/{v.name}" for v in layer._own_weights]
                g.attrs["weight_names"] = np.array(weight_names, dtype=h5py.string_dtype())
                for wname, v in zip(weight_names, layer._own_weights):
                    g.create_dataset(wname, data=v.value)
