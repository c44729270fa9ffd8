"""Keras 3's config dicts: `{"module", "class_name", "config", "registered_name"}` for layers
and models, and turning them back into objects (built-in or custom)."""

from __future__ import annotations

import inspect

from fastkeras.saving import object_registry


def _builtin_layers() -> dict:
    from fastkeras import layers
    table = {name: getattr(layers, name) for name in layers.__all__
             if inspect.isclass(getattr(layers, name))}
    # A class whose Python name in Keras differs from its exported one (GroupQueryAttention
    # is Keras's GroupedQueryAttention, the name its legacy .h5 files record) is found by both.
    for cls in list(table.values()):
        alias = cls.__dict__.get("_keras_class_name")
        if alias:
            table.setdefault(alias, cls)
    return table


def _builtin_models() -> dict:
    from fastkeras.models.functional import Functional
    from fastkeras.models.model import Model
    from fastkeras.models.sequential import Sequential
    return {"Sequential": Sequential, "Functional": Functional, "Model": Model}


def _is_builtin(cls, table) -> bool:
    return table.get(cls.__name__) is cls


def serialize_layer(layer) -> dict:
    """A layer (or model) as Keras writes it into config.json. Built-in classes are named by
    their Keras module; others by their Python module and registered name."""
    cls = type(layer)
    models = _builtin_models()
    functional = cls is models["Functional"]
    if functional:
        module, registered = "keras.src.models.functional", "Functional"
    elif _is_builtin(cls, models):
        module, registered = "keras", None
    elif _is_builtin(cls, _builtin_layers()):
        module, registered = "keras.layers", None
    else:
        module, registered = object_registry.keras_module_and_name(cls)
    spec = {"module": module, "class_name": cls.__name__, "config": layer.get_config(),
            "registered_name": registered}
    if functional:
        spec["build_config"] = {"input_shape": None}  # built from its graph; as Keras writes it
    elif getattr(layer, "built", False) and not _is_builtin(
            cls, {"InputLayer": _builtin_layers().get("InputLayer")}):
        build_config = layer.get_build_config()  # a custom layer may override it
        if build_config is not None:
            spec["build_config"] = _json_build_config(build_config)
    return spec


def _json_build_config(config):
    config = dict(config)
    if "input_shape" in config:
        config["input_shape"] = _shape_list(config["input_shape"])
    if isinstance(config.get("shapes_dict"), dict):
        config["shapes_dict"] = {k: _shape_list(v) for k, v in config["shapes_dict"].items()}
    return config


def _shape_list(shape):
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [list(s) for s in shape]
    return list(shape) if shape is not None else None


def _accepted_keys(cls):
    """Constructor argument names along the class's MRO (plus the base Layer's kwargs)."""
    keys = {"input_shape", "batch_input_shape", "batch_size", "input_dim"}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                keys.add(p.name)
            if p.kind == p.VAR_KEYWORD and klass.__module__.split(".")[0] != "fastkeras":
                return None  # a user class taking **kwargs gets everything
    keys.discard("self")
    # Config entries a class reads from **kwargs (a lookup layer's vocabulary_size).
    keys |= set(getattr(cls, "_config_kwargs", ()))
    return keys


def construct(cls, config: dict):
    """cls(**config) keeping only the arguments cls accepts (Keras configs carry keys such as
    'ragged', 'optional' or 'quantization_config' that have no meaning here)."""
    accepted = _accepted_keys(cls)
    if accepted is None:
        return cls(**config)
    return cls(**{k: v for k, v in config.items() if k in accepted})


def _call_from_config(cls, config, custom_objects):
    params = inspect.signature(cls.from_config).parameters
    if "custom_objects" in params:
        return cls.from_config(config, custom_objects=custom_objects)
    with object_registry.CustomObjectScope(custom_objects):
        return cls.from_config(config)


def _resolve_class(spec, custom_objects, builtins, kind):
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"Could not deserialize a {kind}: expected a dict with 'class_name' and "
                         f"'config'. Received: {spec!r:.300}")
    cls = object_registry.lookup(spec, custom_objects, builtins)
    if cls is None:
        raise ValueError(
            f"Unknown {kind} class '{spec['class_name']}' (registered_name="
            f"{spec.get('registered_name')!r}): pass it in `custom_objects` or register it with "
            f"`fastkeras.saving.register_keras_serializable`. Known {kind}s: {sorted(builtins)}")
    return cls


def deserialize_layer(spec: dict, custom_objects=None):
    """A layer (or nested model) from its serialized dict."""
    builtins = {**_builtin_layers(), **_builtin_models()}
    cls = _resolve_class(spec, custom_objects, builtins, "layer")
    config = spec.get("config", {})
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError(f"Could not deserialize layer '{spec['class_name']}': its 'config' must "
                         f"be a dict. Received: {config!r:.300}")
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = None
    from fastkeras.models.model import Model
    if isinstance(cls, type) and issubclass(cls, Model):
        return model_from_config(spec, custom_objects)
    try:
        if _has_own_from_config(cls):
            layer = _call_from_config(cls, config, custom_objects)
        else:
            with object_registry.CustomObjectScope(custom_objects):
                layer = construct(cls, config)
    except (TypeError, ValueError) as e:
        raise ValueError(f"Could not build layer '{config.get('name')}' of class "
                         f"'{spec['class_name']}' from its config: {e}") from e
    _build_from_config(layer, spec.get("build_config"))
    return layer


def _build_from_config(obj, build_config):
    """Builds a layer from its saved build config with its `build_from_config` (which a
    custom layer may override)."""
    if obj.built or not build_config:
        return
    try:
        obj.build_from_config(build_config)
    except Exception as e:  # a custom build that cannot run from a shape alone
        raise ValueError(f"Could not build '{obj.name}' ({type(obj).__name__}) from its saved "
                         f"build config {build_config}: {e}") from e


def model_from_config(spec: dict, custom_objects=None):
    """A model from its serialized dict: the config's class (Sequential, Functional or a
    custom Model) builds it with its own `from_config`."""
    from fastkeras.models.functional import Functional
    from fastkeras.models.model import Model
    builtins = _builtin_models()
    cls = _resolve_class(spec, custom_objects, builtins, "model")
    if cls is Model:
        cls = Functional
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ValueError(f"'{spec['class_name']}' is not a model class (it is {cls!r}); a saved "
                         "model's config must name a Model subclass")
    config = spec.get("config") or {}
    if cls in builtins.values() and not _has_own_from_config(cls) and cls.__name__ != "Model":
        raise NotImplementedError(
            f"Loading a '{spec['class_name']}' model is not supported yet: "
            f"{cls.__name__}.from_config is not implemented.")
    if not _has_own_from_config(cls):
        model = _subclassed_from_config(cls, config, custom_objects)
    else:
        model = _call_from_config(cls, dict(config), custom_objects)
    if not model.built:
        build_config = spec.get("build_config")
        from fastkeras.layers.layer import Layer
        if build_config and type(model).build_from_config is not Layer.build_from_config:
            model.build_from_config(build_config)
        elif build_config and build_config.get("input_shape") is not None:
            _build_model(model, build_config["input_shape"])
    return model


def _has_own_from_config(cls) -> bool:
    from fastkeras.layers.layer import Layer
    func = getattr(getattr(cls, "from_config", None), "__func__", None)
    return func is not None and func is not Layer.from_config.__func__


def _subclassed_from_config(cls, config, custom_objects):
    with object_registry.CustomObjectScope(custom_objects):
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(
                f"Could not rebuild the model '{cls.__name__}' from its config {config!r:.300}: "
                f"{e}. A subclassed model should implement `get_config()` returning its "
                "constructor arguments (and `from_config()` when they are not plain values).") \
                from e


def _build_model(model, shape):
    """Builds a subclassed model by its `build` or by running it once on zeros."""
    import numpy as np

    from fastkeras.layers.layer import Layer
    from fastkeras.models.model import Model
    multi = bool(shape) and isinstance(shape[0], (list, tuple))
    shapes = [tuple(s) for s in shape] if multi else [tuple(shape)]
    if type(model).build not in (Layer.build, Model.build):
        model.build(shapes if multi else shapes[0])
        return
    zeros = [np.zeros((1,) + tuple(1 if d is None else d for d in s[1:]), np.float32)
             for s in shapes]
    model(zeros if multi else zeros[0], training=False)
