"""`clone_model`, `model_from_json` and `model_to_json` (Keras 3's `keras.models` functions).

Cloning makes new layers (from their configs, or from `clone_function`) and calls them on new
inputs as the original model's graph says, so the copy computes the same function with its own,
freshly initialized weights.
"""

from __future__ import annotations

import json

from fastkeras.layers.input_layer import Input, InputLayer, KerasTensor
from fastkeras.models.functional import Functional, _flatten, _map
from fastkeras.models.sequential import Sequential
from fastkeras.ops.symbolic import Operation


def _default_clone(layer):
    return type(layer).from_config(layer.get_config())


def _wrap_clone_function(clone_function, call_function, recursive, cache):
    """`clone_function` made to clone each layer once (shared layers stay shared in the copy)
    and, with `recursive`, to clone nested Sequential/Functional models with `clone_model`."""
    clone_function = clone_function or _default_clone

    def wrapped(layer):
        if id(layer) in cache:
            return cache[id(layer)]
        if recursive and isinstance(layer, Sequential):
            clone = clone_model(layer, clone_function=clone_function, recursive=True,
                                cache=cache)
        elif recursive and isinstance(layer, Functional):
            clone = clone_model(layer, clone_function=clone_function,
                                call_function=call_function, recursive=True, cache=cache)
        else:
            clone = clone_function(layer)
        cache[id(layer)] = clone
        return clone

    return wrapped


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A copy of a Sequential or Functional `model` with new layers and new weights.

    Args:
        model: the model to copy.
        input_tensors: symbolic tensors (from `fastkeras.Input`) to build the copy on, in the
            structure of `model.input`; by default new Inputs like the model's.
        clone_function: `fn(layer) -> layer` making each layer of the copy (Inputs excepted);
            by default `layer.__class__.from_config(layer.get_config())`. Each layer is
            cloned once, so a layer used twice is shared in the copy too.
        call_function: `fn(layer, *args, **kwargs)` calling each cloned layer in a
            Functional model (e.g. to insert layers after some); by default the call itself.
        recursive: clone nested Sequential/Functional models with `clone_model` (same
            `clone_function`, `call_function`) instead of passing them to `clone_function`.

    A compiled model's copy is compiled the same way, with a new optimizer. A subclassed model
    is rebuilt from its config (`clone_function` and `input_tensors` are not supported for it).
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {tuple(kwargs.keys())}")
    cache = {} if cache is None else cache
    if clone_function is not None and not callable(clone_function):
        raise ValueError("Expected `clone_function` argument to be a callable. "
                         f"Received: clone_function={clone_function!r}")
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                "`call_function` argument is not supported with Sequential models: their "
                "layers are listed, not called, when the model is made. Use `call_function` "
                f"with Functional models only. Received model of type "
                f"'{type(model).__name__}', with call_function={call_function!r}")
        wrapped = _wrap_clone_function(clone_function, None, recursive, cache)
        clone = _clone_sequential(model, wrapped, input_tensors)
    elif isinstance(model, Functional):
        wrapped = _wrap_clone_function(clone_function, call_function, recursive, cache)
        clone = _clone_functional(model, wrapped, call_function, input_tensors)
    else:
        return _clone_subclassed(model, clone_function, call_function, input_tensors)
    _compile_like(model, clone)
    return clone


def _clone_subclassed(model, clone_function, call_function, input_tensors):
    from fastkeras.utils.object_serialization import (
        deserialize_keras_object,
        serialize_keras_object,
    )
    if clone_function is not None or input_tensors is not None:
        raise ValueError("Arguments `clone_function` and `input_tensors` are only supported "
                         "for Sequential models or Functional models. Received model of type "
                         f"'{type(model).__name__}', with clone_function={clone_function!r} "
                         f"and input_tensors={input_tensors!r}")
    if call_function is not None:
        raise ValueError("Argument `call_function` is only supported for Functional models. "
                         f"Received model of type '{type(model).__name__}', with "
                         f"call_function={call_function!r}")
    config = serialize_keras_object(model)
    return deserialize_keras_object(config, custom_objects={type(model).__name__: type(model)})


def _compile_like(model, clone):
    """Compiles `clone` as `model` was compiled (a new optimizer from the same config)."""
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        return
    from fastkeras.saving import model_files, saving_api
    saving_api.compile_from_config(clone, model_files.compile_spec(model))


def _input_from(tensor, what):
    """An InputLayer for a user-given symbolic tensor: its own if it comes from an Input."""
    if not isinstance(tensor, KerasTensor):
        raise ValueError(f"Argument `input_tensors` must be a KerasTensor. Received invalid "
                         f"value: {what}={tensor!r}")
    return tensor


def _clone_sequential(model, clone_function, input_tensors):
    new_layers = [clone_function(layer) for layer in model.layers]
    ref = model._input_layer
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError("Argument `input_tensors` must contain a single tensor. "
                                 f"Received: input_tensors={input_tensors!r}")
            input_tensors = input_tensors[0]
        tensor = _input_from(input_tensors, "input_tensors")
        if isinstance(tensor._layer, InputLayer):
            new_layers = [tensor._layer] + new_layers
        else:
            new_layers = [InputLayer(batch_shape=tensor.shape, dtype=tensor.dtype)] + new_layers
    elif ref is not None:
        new_layers = [InputLayer(batch_shape=ref.batch_shape, dtype=ref.dtype,
                                 name=ref.name)] + new_layers
    return Sequential(new_layers, name=model.name, trainable=model.trainable)


def _new_inputs(model, input_tensors):
    if input_tensors is None:
        return _map(model._inputs_struct,
                    lambda t: Input(batch_shape=t.shape, dtype=t.dtype, name=t.name))
    given = input_tensors
    flat_given = _flatten_any(given)
    if not all(isinstance(t, KerasTensor) for t in flat_given):
        raise ValueError("All entries in `input_tensors` must be KerasTensors. Received invalid "
                         f"values: input_tensors={input_tensors!r}")
    if isinstance(given, (list, tuple)) and len(given) == 1 and isinstance(
            model._inputs_struct, KerasTensor):
        given = given[0]
    if not _same_structure(given, model._inputs_struct):
        raise ValueError("`input_tensors` must have the same structure as model.input\n"
                         f"Reference structure: {model.input}\n"
                         f"Received structure: {input_tensors}")
    return given


def _flatten_any(structure):
    if isinstance(structure, dict):
        return [t for k in structure for t in _flatten_any(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [t for item in structure for t in _flatten_any(item)]
    return [structure]


def _same_structure(a, b):
    if isinstance(b, KerasTensor):
        return isinstance(a, KerasTensor)
    if isinstance(b, dict):
        return isinstance(a, dict) and set(a) == set(b) and all(
            _same_structure(a[k], b[k]) for k in b)
    if isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and all(
            _same_structure(x, y) for x, y in zip(a, b))
    return False


def _clone_functional(model, clone_function, call_function, input_tensors):
    inputs = _new_inputs(model, input_tensors)
    values = {id(old): new for old, new in zip(model.inputs, _flatten(inputs))}

    def value(t):
        try:
            return values[id(t)]
        except KeyError:
            raise ValueError(f"Cannot clone model '{model.name}': tensor {t!r} is not "
                             "connected to the model's inputs.") from None

    for layer, node, _ in model._nodes:
        new_layer = clone_function(layer)
        args = (_map(node.inputs, value),) if not isinstance(layer, Operation) else tuple(
            _map(list(node.inputs), value))
        args += tuple(_map(a, value) for a in node.args)
        kwargs = {k: _map(v, value) for k, v in node.kwargs.items()}
        if call_function is not None:
            out = call_function(new_layer, *args, **kwargs)
        else:
            out = new_layer(*args, **kwargs)
        outs = node.outputs if isinstance(node.outputs, (list, tuple)) else [node.outputs]
        for t in outs:
            if t is not None:
                values[id(t)] = out[t._index] if isinstance(out, (list, tuple)) else out
    outputs = _map(model._outputs_struct, value)
    as_list_in, as_list_out = model._single_as_list
    if as_list_in and isinstance(inputs, KerasTensor):
        inputs = [inputs]
    if as_list_out and isinstance(outputs, KerasTensor):
        outputs = [outputs]
    cls = type(model) if type(model).__init__ is Functional.__init__ else Functional
    return cls(inputs, outputs, name=model.name)


def model_to_json(model, **kwargs) -> str:
    """The model's config as Keras's `Model.to_json()` writes it: `serialize_keras_object`
    of the model (module, class_name, config, registered_name, build_config and, when
    compiled, compile_config) as JSON. `kwargs` go to `json.dumps`."""
    from fastkeras.utils.object_serialization import serialize_keras_object
    return json.dumps(serialize_keras_object(model), **kwargs)


def model_from_json(json_string, custom_objects=None):
    """The (uncompiled unless the JSON has a compile_config) model a `to_json()` string
    describes, from fastkeras or Keras 3. Weights are new: set them with `set_weights` or
    `load_weights`."""
    from fastkeras.utils.object_serialization import deserialize_keras_object
    config = json.loads(json_string)
    return deserialize_keras_object(config, custom_objects=custom_objects)
