"""The Layer base class: weights, building on first call, sublayer tracking, configs."""

from __future__ import annotations

import inspect
import re
import threading
import warnings

import numpy as np

from fastkeras import constraints as constraints_mod
from fastkeras import initializers as initializers_mod
from fastkeras import regularizers as regularizers_mod
from fastkeras.backend.config import is_float_dtype
from fastkeras.backend.tape import Tensor, convert_to_tensor
from fastkeras.backend.variable import Variable

_name_counts: dict[str, int] = {}


# The layers whose build (or first call) is running, outermost first: a variable a layer
# creates is named by this chain ("sequential/dense/kernel", "mha/query/kernel"), as Keras's
# name scopes name it.
_BUILD_SCOPE: list = []


class _BuildScope:
    """`with _BuildScope(layer):` puts `layer` on the scope chain (once: a layer already on top
    is not pushed again)."""

    __slots__ = ("layer", "pushed")

    def __init__(self, layer):
        self.layer = layer
        self.pushed = False

    def __enter__(self):
        if not _BUILD_SCOPE:  # the name scopes open around the outermost build prefix paths
            import fastkeras
            _OUTER_NAME_SCOPES[:] = fastkeras._NAME_SCOPES
        if not _BUILD_SCOPE or _BUILD_SCOPE[-1] is not self.layer:
            _BUILD_SCOPE.append(self.layer)
            self.pushed = True
        if self.layer.__dict__.get("_path") is None:  # Keras's `layer.path`, fixed at build
            names = _OUTER_NAME_SCOPES + [e.name for e in _BUILD_SCOPE]
            object.__setattr__(self.layer, "_path", "/".join(names))

    def __exit__(self, *exc):
        if self.pushed:
            _BUILD_SCOPE.pop()
        if not _BUILD_SCOPE:
            _OUTER_NAME_SCOPES.clear()
        return False


# The `name_scope`s open when the outermost build began: Keras's layers build under them
# (`blk/dense/kernel`), while a scope opened inside a build does not rename its weights.
_OUTER_NAME_SCOPES: list = []


def _scoped_build(build):
    def wrapper(self, *args, **kwargs):
        with _BuildScope(self):
            out = build(self, *args, **kwargs)
        # As Keras: a layer whose build() ran (even called directly) is built.
        self.built = True
        if self.__dict__.get("_build_input_shape") is None and len(args) == 1 and not kwargs:
            self._build_input_shape = args[0]
        return out
    wrapper.__wrapped__ = build
    wrapper.__doc__ = build.__doc__
    wrapper.__name__ = build.__name__
    wrapper.__qualname__ = build.__qualname__
    return wrapper


_CALL_PARAMETERS: dict = {}


def _call_signature(cls) -> tuple:
    """(names of `cls.call`'s parameters after self, the first positional one or None, the
    default of its `training` parameter or None), cached per class."""
    found = _CALL_PARAMETERS.get(cls)
    if found is None:
        params = tuple(inspect.signature(cls.call).parameters.values())[1:]
        first = next((p.name for p in params
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)), None)
        training = next((p.default for p in params if p.name == "training"
                         and p.default is not inspect.Parameter.empty), None)
        found = _CALL_PARAMETERS[cls] = (tuple(p.name for p in params), first, training)
    return found


class _CallContext(threading.local):
    """The `training` flag of the layer calls in progress on this thread, as Keras's call
    context: the outermost eager call opens it, and every call inside that passes no flag of
    its own takes the one the previous call set, so a Dropout or BatchNormalization called in
    a custom layer's or subclassed model's `call` trains during `fit`."""

    active = False
    training = None


_CALL_CONTEXT = _CallContext()


def _call_parameter_names(cls) -> tuple:
    return _call_signature(cls)[0]


def _first_call_parameter(cls):
    return _call_signature(cls)[1]


def _auto_config(cls, args, kwargs):
    """Keras's automatic config: every `__init__` argument bound to its value (defaults too,
    the `**kwargs` ones spread out, without `name`), or None when they cannot all be written
    (a value that is not plain, variadic positional arguments, arguments that do not bind)."""
    try:
        signature = inspect.signature(cls.__init__)
        bound = signature.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    bound.apply_defaults()
    params = list(signature.parameters.values())
    config = {}
    for p in params[1:]:
        if p.name not in bound.arguments:
            continue
        value = bound.arguments[p.name]
        if p.kind is p.VAR_KEYWORD:
            config.update(value)
        elif p.kind is p.VAR_POSITIONAL:
            if value:
                return None
        elif p.kind is p.POSITIONAL_ONLY:
            return None
        else:
            config[p.name] = value
    config.pop("name", None)
    return config if _all_plain(config) else None


def _all_plain(value) -> bool:
    if isinstance(value, (str, int, float, bool, type(None))):
        return True
    if isinstance(value, (list, tuple)):
        return all(_all_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _all_plain(v) for k, v in value.items())
    return False


def variable_path(layer, name: str) -> str:
    """The path of a variable `layer` creates: the scope chain, the layer, the name."""
    if _BUILD_SCOPE:
        names = _OUTER_NAME_SCOPES + [entry.name for entry in _BUILD_SCOPE]
    else:
        import fastkeras
        names = list(fastkeras._NAME_SCOPES)
    if not _BUILD_SCOPE or _BUILD_SCOPE[-1] is not layer:
        names.append(layer.name)
    return "/".join(names + [name])


def unique_name(base: str) -> str:
    """Keras's auto names: 'dense', then 'dense_1', 'dense_2', ..."""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def reset_names() -> None:
    _name_counts.clear()


def to_snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def standardize_shape(shape, arg="shape"):
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"Cannot convert '{shape}' to a shape: expected a tuple of integers "
                         f"(or None). Received: {arg}={shape!r}")
    for d in shape:
        if d is not None and d < 0:
            raise ValueError(f"Negative dimensions are not allowed. Received: {arg}={shape}")
    return shape


class Layer:
    """Base class of every layer. Subclasses implement `build(input_shape)` (create weights
    with `add_weight`) and `call(inputs, training=None)`; `__call__` builds on first use."""

    def __new__(cls, *args, **kwargs):
        # As Keras: the constructor's arguments with their defaults, when all are plain values
        # (str, numbers, bools, None, nested in lists/tuples/dicts), are the config of a
        # subclass that does not write its own get_config().
        instance = super().__new__(cls)
        object.__setattr__(instance, "_auto_config",
                           _auto_config(cls, args, kwargs) if cls._records_auto_config else None)
        return instance

    # (Models do not: Keras builds no automatic config from a subclassed model's arguments)
    _records_auto_config = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A layer's build (however it is reached) runs within its name scope, so the weights
        # of sub-layers it builds are named under it.
        build = cls.__dict__.get("build")
        if build is not None and not hasattr(build, "__wrapped__"):
            cls.build = _scoped_build(build)

    def __init__(self, trainable: bool = True, name: str | None = None, dtype=None,
                 **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("autocast", None)
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.",
                          stacklevel=2)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to "
                             f"{type(self).__name__}: {kwargs}")
        if input_shape is not None or input_dim is not None or batch_input_shape is not None:
            warnings.warn("Do not pass an `input_shape`/`input_dim` argument to a layer. When "
                          "using Sequential models, prefer using an `Input(shape)` object as "
                          "the first layer in the model instead.", stacklevel=2)
        object.__setattr__(self, "_tracked_layers", [])
        object.__setattr__(self, "_own_weights", [])
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Argument `name` must be a string. Received: name={name!r}")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        if isinstance(dtype, dict):  # a Keras config's DTypePolicy
            self.dtype = _dtype_from_policy_config(dtype)
        elif dtype in ("string", str):  # Keras's name for text inputs (numpy str/object data)
            self.dtype = "string"
        else:
            self.dtype = _layer_dtype(dtype, type(self).__name__)
        self.built = False
        # As Keras: a layer that computes its own mask supports masking.
        self.supports_masking = type(self).compute_mask is not Layer.compute_mask
        # A shape given on a first layer ("input_shape=[28, 28]"): Sequential makes an Input.
        if batch_input_shape is not None:
            self._input_shape_arg = standardize_shape(batch_input_shape, "batch_input_shape")
        elif input_shape is not None:
            self._input_shape_arg = (batch_size,) + standardize_shape(input_shape, "input_shape")
        elif input_dim is not None:
            self._input_shape_arg = (batch_size, int(input_dim))
        else:
            self._input_shape_arg = None
        self._build_input_shape = None
        self._output_shape = None
        # A penalty on the outputs, added to the losses after every call (Keras's
        # `activity_regularizer`; layers that take the argument set it themselves too).
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self._call_has_training = "training" in inspect.signature(self.call).parameters
        self._call_has_mask = "mask" in inspect.signature(self.call).parameters
        self._inbound_nodes = []

    # --- dtype policy: what the layer computes in, and its variables' dtype ----------------
    @property
    def dtype_policy(self):
        from fastkeras.dtype_policies import DTypePolicy
        return DTypePolicy(self.dtype)

    @dtype_policy.setter
    def dtype_policy(self, value):
        # as Keras: a policy, its name or its config; 16-bit policies raise (see _layer_dtype)
        self.dtype = _dtype_from_policy_config(value) if isinstance(value, dict) else \
            _layer_dtype(value, type(self).__name__)

    @property
    def compute_dtype(self):
        return self.dtype

    @property
    def variable_dtype(self):
        return self.dtype

    # --- attribute tracking: layers held as attributes, in lists or dicts -----------------
    def __setattr__(self, key, value):
        if key == "activation" and value is None and type(self).__module__.startswith(
                "fastkeras."):
            # `layer.activation = None` (keras.io's Grad-CAM, to get logits): no activation,
            # as Keras's layers skip a None one
            from fastkeras import activations
            value = activations.linear
        public = not key.startswith("_") or key == "_layers"
        if not key.startswith("_") and type(value) in (list, dict) and \
                "_tracked_layers" in self.__dict__:
            # As Keras: a list or dict attribute keeps tracking what is added to it later
            # (`self.blocks = []; self.blocks.append(Dense(4))`).
            value = _tracked(value, self, key)
        self._track_held(value, layers=public, variables=key not in _UNTRACKED_ATTRIBUTES)
        object.__setattr__(self, key, value)

    def _track_held(self, value, layers=True, variables=True):
        """Registers the layers (as sub-layers) and Variables (as weights) `value` holds."""
        if layers:
            tracked = self.__dict__.get("_tracked_layers")
            if tracked is not None:
                for layer in _layers_in(value):
                    if layer is not self and all(layer is not t for t in tracked):
                        tracked.append(layer)
        if variables:
            own = self.__dict__.get("_own_weights")
            if own is not None:
                # A Variable held as an attribute (`self.total = keras.Variable(0.0)`) is one
                # of the layer's weights, as Keras tracks it.
                for v in _variables_in(value):
                    if all(v is not w for w in own):
                        v._declared_trainable = v.trainable
                        if not self._trainable:
                            v.trainable = False
                        own.append(v)

    # --- weights ---------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None, **kwargs):
        shape = standardize_shape(shape or (), "shape")
        floating = dtype is None or is_float_dtype(dtype)
        if initializer is None:  # as Keras: glorot_uniform for floats, zeros otherwise
            initializer = "glorot_uniform" if floating else "zeros"
        # Floating weights are float32 whatever the dtype asked (float64 or 16-bit), as the
        # layers compute in float32: the optimizers' kernels then update them.
        dtype = "float32" if floating else dtype
        init = initializers_mod.get(initializer)
        value = init(shape, dtype=dtype)
        name = name or unique_name("variable")  # as Keras: one counter for all unnamed
        v = Variable(value, name=name, trainable=trainable and self._trainable,
                     path=variable_path(self, name), dtype=dtype,
                     autocast=autocast, aggregation=aggregation)
        v._declared_trainable = trainable
        v.regularizer = regularizers_mod.get(regularizer)
        v.constraint = constraints_mod.get(constraint)
        v.overwrite_with_gradient = overwrite_with_gradient
        self._own_weights.append(v)
        return v

    def add_variable(self, shape, initializer, dtype=None, trainable=True, autocast=True,
                     regularizer=None, constraint=None, name=None):
        """Keras's alias of `add_weight` (shape and initializer first)."""
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype,
                               trainable=trainable, regularizer=regularizer,
                               constraint=constraint, name=name)

    def add_metric(self, *args, **kwargs):
        raise NotImplementedError(
            f"Layer '{self.name}': `add_metric()` does not exist in Keras 3. Pass the metric to "
            "`Model.compile(metrics=[...])`, or create a metric object (e.g. "
            "`keras.metrics.Mean()`) in `__init__`/`build` and call its `update_state()` in "
            "`call` or `train_step`.")

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for v in self._own_weights:
            v.trainable = self._trainable and getattr(v, "_declared_trainable", True)
        for layer in self._tracked_layers:
            layer.trainable = value

    def _all_layers(self):
        seen, out = set(), []

        def visit(layer):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            out.append(layer)
            for sub in layer._tracked_layers:
                visit(sub)
        visit(self)
        return out

    @property
    def weights(self) -> list[Variable]:
        seen, out = set(), []
        for layer in self._all_layers():
            for v in _own_variables(layer):  # each layer's trainable ones first, as Keras
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def variables(self):
        """As Keras: the weights and the states of the layers' seed generators (each layer's
        own, then its sub-layers'); metric variables are in `metrics_variables`."""
        seen, out = set(), []
        for layer in self._all_layers():
            for v in _own_variables(layer) + _seed_states(layer):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self._trainable:
            return []
        return [v for v in self.weights if v.trainable]

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_weights(self) -> list[Variable]:
        if not self._trainable:
            return self.weights
        return [v for v in self.weights if not v.trainable]

    @property
    def non_trainable_variables(self):
        """The non-trainable `variables`: non-trainable weights and seed generator states,
        as in Keras."""
        if not self._trainable:
            return self.variables
        return [v for v in self.variables if not v.trainable]

    @property
    def metrics(self) -> list:
        """The metric objects this layer (and its sub-layers) hold as attributes."""
        out = []
        for layer in self._all_layers():
            add_held_metrics(layer, out)
        return out

    @property
    def metrics_variables(self) -> list:
        """The variables of `metrics` (counts and totals)."""
        return [v for m in self.metrics for v in m.variables]

    def get_weights(self) -> list[np.ndarray]:
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(
                f"Layer {self.name} expected {len(params)} variables, but received "
                f"{len(weights)} variables during loading. Expected: "
                f"{[v.name for v in params]}")
        for v, w in zip(params, weights):
            w = np.asarray(w)
            if w.shape != v.shape:
                raise ValueError(f"Layer {self.name} weight shape {v.shape} is not compatible "
                                 f"with provided weight shape {w.shape} (variable {v.path}).")
        for v, w in zip(params, weights):
            v.assign(w)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the "
                             "layer isn't built. You can build it manually via: "
                             "`layer.build(input_shape)`.")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    @property
    def losses(self) -> list:
        """The losses the last calls of this layer and its sublayers added (`add_loss`, then
        activity penalties), then its weights' regularization penalties, as tensors."""
        # Keras's order: each layer's losses from its last call (add_loss, then the activity
        # penalty added after the call), layer by layer, then every weight penalty.
        layers = self._all_layers()
        out = []
        for layer in layers:
            out.extend(getattr(layer, "_added_losses", []))
            out.extend(getattr(layer, "_activity_losses", []))
        for layer in layers:
            for v in layer._own_weights:
                if v.regularizer is not None and v.trainable:
                    out.append(v.regularizer(v))
        return out

    def add_loss(self, loss):
        """Adds `loss` (a scalar tensor, e.g. a penalty computed in `call`) to the model's
        training loss, as Keras's `add_loss`: it counts until the next outermost call begins
        (each call of a shared layer adds its own) and appears in `layer.losses` /
        `model.losses`."""
        from fastkeras.backend.variable import STATELESS_SCOPES
        if STATELESS_SCOPES:  # inside a StatelessScope the scope collects (or drops) it
            scope = STATELESS_SCOPES[-1]
            if scope.collect_losses:
                scope.add_loss(loss)
            return
        self.__dict__.setdefault("_added_losses", []).append(loss)
        self._uses_add_loss = True

    # --- saving hooks: what `model.save` / `save_weights` store for this layer ----------------
    def save_own_variables(self, store):
        """Writes this layer's own variables into `store` (a dict-like object) under "0", "1",
        ...: trainable ones first, then non-trainable ones, as Keras stores them. Override it
        (with `load_own_variables`) to save other state, or to save it differently."""
        for i, v in enumerate(_own_variables(self)):
            store[str(i)] = v

    def load_own_variables(self, store):
        """Reads back what `save_own_variables` wrote (ValueError naming the layer when the
        stored count differs)."""
        own = _own_variables(self)
        if len(store.keys()) != len(own):
            if not own and not self.built:
                raise ValueError(
                    f"Layer '{self.name}' was never built, so it has no variables, but the "
                    f"file stores {len(store.keys())} for it. Its parent's `build()` must "
                    "build it, or it needs `build_from_config()` (and `get_build_config()`) "
                    "so that loading can create its variables.")
            raise ValueError(f"Layer '{self.name}' expected {len(own)} variables, but received "
                             f"{len(store.keys())} variables during loading. Expected: "
                             f"{[v.name for v in own]}")
        for i, v in enumerate(own):
            v.assign(np.asarray(store[str(i)]))

    def get_build_config(self):
        """The shape(s) the layer was built for, which `build_from_config` builds it from when
        a saved model is loaded (None when unbuilt)."""
        shape = self._build_input_shape
        if not self.built or shape is None:
            return None
        if self._built_by_name():
            return {"shapes_dict": {k: _shape_value(v) for k, v in shape.items()}}
        return {"input_shape": _shape_value(shape)}

    def _built_by_name(self) -> bool:
        """Whether the recorded build shapes are one per named `build` argument (a dict that
        is not simply the shapes of a dict input)."""
        return isinstance(self._build_input_shape, dict) and \
            self.__dict__.get("_build_shapes_named", True)

    def build_from_config(self, config):
        """Builds the layer from `get_build_config()`'s dict: `build(input_shape)` or
        `build(**shapes_dict)`. Built-in layers without their own weights-creating build
        defer to their first call."""
        if self.built or not config:
            return
        shape = config.get("input_shape")
        named = config.get("shapes_dict")
        if shape is None and not named:
            return
        if type(self).build is Layer.build:
            return
        if named:
            if type(self).__module__.startswith("fastkeras."):
                return  # built-in layers build on their first call
            shape = {k: None if v is None else _shape_tuple(v) for k, v in named.items()}
            self.build(**shape)
        else:
            shape = [tuple(s) for s in shape] if shape and isinstance(shape[0], (list, tuple)) \
                else tuple(shape)
            self.build(shape)
        self.built = True  # as __call__ does: a custom build need not set it
        if self._build_input_shape is None:
            self._build_input_shape = shape

    @property
    def path(self):
        """Where the layer sits in the name scopes it was built in ("sequential/dense"); None
        before it is built."""
        return self.__dict__.get("_path")

    @property
    def input_dtype(self):
        """The dtype inputs are converted to (the compute dtype)."""
        return self.compute_dtype

    @property
    def autocast(self):
        return True

    @property
    def supports_jit(self):
        return True

    @property
    def quantization_mode(self):
        """Always None: layers are not quantized."""
        return None

    def quantize(self, mode=None, **kwargs):
        raise NotImplementedError(
            f"Layer '{self.name}': quantization (mode={mode!r}) is not supported; weights and "
            "computations stay in float32.")

    def compute_output_spec(self, *args, **kwargs):
        """The output(s) as symbolic KerasTensors for symbolic (or concrete) inputs."""
        from fastkeras.layers.input_layer import KerasTensor, infer_call

        def symbolic(x):
            if isinstance(x, (list, tuple)):
                return type(x)(symbolic(v) for v in x)
            if isinstance(x, dict):
                return {k: symbolic(v) for k, v in x.items()}
            if isinstance(x, KerasTensor) or not hasattr(x, "shape"):
                return x
            return KerasTensor(tuple(x.shape), dtype=str(x.dtype))

        if not args:
            raise ValueError(f"Layer '{self.name}': compute_output_spec() needs the inputs.")
        out, shapes = infer_call(self, symbolic(args[0]), tuple(symbolic(a) for a in args[1:]),
                                 {k: symbolic(v) for k, v in kwargs.items()})

        def spec(value, shape):
            if isinstance(value, (list, tuple)):
                return type(value)(spec(v, s) for v, s in zip(value, shape))
            if isinstance(value, dict):
                return {k: spec(v, shape[k]) for k, v in value.items()}
            return KerasTensor(tuple(shape), dtype=str(value.dtype))

        return spec(out, shapes)

    def symbolic_call(self, *args, **kwargs):
        return self.compute_output_spec(*args, **kwargs)

    def stateless_call(self, trainable_variables, non_trainable_variables, *args,
                       return_losses=False, **kwargs):
        """Calls the layer with the given variable values in place of its own, leaving its
        variables as they were: returns (outputs, new non-trainable values) (and the losses
        with `return_losses=True`)."""
        if not self.built:
            raise ValueError(f"To call stateless_call, {type(self).__name__} must be built (its "
                             "variables created): call it on some data first.")
        for given, own, what in ((trainable_variables, self.trainable_variables, "trainable"),
                                 (non_trainable_variables, self.non_trainable_variables,
                                  "non_trainable")):
            if len(given) != len(own):
                raise ValueError(
                    f"Argument `{what}_variables` must be a list of tensors corresponding 1:1 "
                    f"to {type(self).__name__}().{what}_variables. Received list with length "
                    f"{len(given)}, but expected {len(own)} variables.")
        mapping = list(zip(self.trainable_variables, trainable_variables)) + \
            list(zip(self.non_trainable_variables, non_trainable_variables))
        with swapped_values(mapping):
            outputs = self(*args, **kwargs)
            new_state = [np.array(v.value) for v in self.non_trainable_variables]
            losses = list(self.losses) if return_losses else None
        if return_losses:
            return outputs, new_state, losses
        return outputs, new_state

    # --- building and calling --------------------------------------------------------------
    def build(self, input_shape) -> None:
        self._build_input_shape = input_shape
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `call` method "
                                  "implemented.")

    def _record_build_shapes(self, input_shape, arg_shapes, kwarg_shapes):
        """Keeps the symbolic shape(s) a layer called on KerasTensors was built for (its
        `build_config`). A layer whose build takes several named shapes keeps a dict of them,
        which configs write as Keras's `shapes_dict`."""
        named = self._named_build_shapes(input_shape, arg_shapes, kwarg_shapes)
        self._build_input_shape = input_shape if named is None else named
        self._build_shapes_named = named is not None

    def _named_build_shapes(self, input_shape, arg_shapes, kwarg_shapes):
        """For a `build` taking several shapes (`build(self, query_shape, value_shape)`, as
        Keras allows), {"query_shape": ..., "value_shape": ...} from the shapes of the call's
        arguments of those names (`query`, `value`); None for a one-shape build. A shape whose
        argument was not given is left out when `build` has a default for it."""
        params = _build_parameters(type(self))
        if params is None:
            return None
        call_names = list(inspect.signature(self.call).parameters)
        given = dict(zip(call_names, (input_shape, *arg_shapes)))
        given.update(kwarg_shapes)
        shapes = {}
        for name, has_default in params:
            arg = name.removesuffix("_shape")
            shape = given.get(arg)
            if shape is None and has_default:
                continue
            shapes[name] = shape
        return shapes

    def compute_output_shape(self, input_shape):
        """Output shape for an input shape (batch and other dims may be None), by the probe
        runs that calls on KerasTensors use (a free input dim stays None where it shows)."""
        from fastkeras.layers.input_layer import KerasTensor, infer_call

        def symbolic(shape):
            if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
                return [symbolic(s) for s in shape]
            return KerasTensor(tuple(shape))

        out, shapes = infer_call(self, symbolic(input_shape))
        # several outputs keep the call's structure (a tuple for an RNN's output and states)
        return tuple(shapes) if isinstance(out, tuple) and isinstance(shapes, list) else shapes

    def _maybe_build(self, inputs, args=(), kwargs=None):
        if not self.built:
            shape = _shape_of(inputs)
            named = self._named_build_shapes(
                shape, [_shape_of(a) if _is_tensorish(a) else None for a in args],
                {k: _shape_of(v) for k, v in (kwargs or {}).items() if _is_tensorish(v)})
            if named is not None:
                self.build(**named)
            elif _build_takes_no_shape(type(self)):
                self.build()  # as Keras: `def build(self)` is called without a shape
            else:
                self.build(shape)
            self.built = True
            if self._build_input_shape is None:
                self._build_input_shape = shape if named is None else named
                self._build_shapes_named = named is not None

    # What the inputs must look like (an InputSpec, or a list of them), checked on every call.
    input_spec = None

    def __call__(self, *args, training=None, mask=None, **kwargs):
        if args:
            inputs, args = args[0], args[1:]
        else:  # the first argument by its name, as in `mha(query=q, value=v, key=k)`
            first = _first_call_parameter(type(self))
            if first is None or first not in kwargs:
                raise TypeError(f"Layer '{self.name}' ({type(self).__name__}) was called "
                                f"without inputs: pass them positionally or as `{first}=`.")
            inputs = kwargs.pop(first)
        if not self.built:  # sub-layers made on the first call are named under this layer
            with _BuildScope(self):
                return self._call(inputs, *args, training=training, mask=mask, **kwargs)
        return self._call(inputs, *args, training=training, mask=mask, **kwargs)

    def _call(self, inputs, *args, training=None, mask=None, **kwargs):
        if not isinstance(inputs, Tensor):  # the common case (a Tensor) skips these checks
            from fastkeras.layers.input_layer import KerasTensor, symbolic_call
            if _contains(inputs, KerasTensor):
                if self.input_spec is not None:
                    _check_spec(self, inputs, symbolic=True)
                # An explicit mask or training flag is part of the recorded call, as in Keras.
                if mask is not None:
                    kwargs["mask"] = mask
                if training is not None:
                    kwargs["training"] = training
                return symbolic_call(self, inputs, args, kwargs)
            if isinstance(inputs, Layer):
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) was called on a "
                                 f"layer object, {inputs!r}, not on a tensor. Call that layer "
                                 "on its inputs first: `Concatenate()([a, b])`, not "
                                 "`Concatenate([a, b])`.")
            inputs = _to_tensors(inputs)
        ctx = _CALL_CONTEXT
        if ctx.active:
            return self._call_eager(ctx, inputs, args, training, mask, kwargs)
        ctx.active, ctx.training = True, None
        clear_call_losses(self)  # the losses of this outermost call replace the last one's
        try:
            return self._call_eager(ctx, inputs, args, training, mask, kwargs)
        finally:
            ctx.active, ctx.training = False, None

    def _call_eager(self, ctx, inputs, args, training, mask, kwargs):
        # Keras's order for the flag: the call's own, an outer call's, the signature's default
        # (a None given counts as none given).
        if training is None:
            training = ctx.training if ctx.training is not None else \
                _call_signature(type(self))[2]
        ctx.training = training
        if self.input_spec is not None:
            _check_spec(self, inputs)
        if not self.built:
            self._maybe_build(inputs, args, kwargs)
        others = _other_tensor_arguments(type(self), args, kwargs) if (args or kwargs) else ()
        if self._call_has_training:
            kwargs["training"] = training
        # The mask the first argument carries (Embedding, Masking); a list input gives the
        # list of its tensors' masks, as in Keras.
        carried = inputs._keras_mask if isinstance(inputs, Tensor) else carried_masks(inputs)
        if mask is None and others:
            # As Keras: with several tensor arguments (LSTM(x, initial_state=...)), `mask` is
            # not filled in; a `<argument>_mask` parameter gets that argument's mask. The
            # output's mask is still computed from the first argument's.
            _fill_argument_masks(type(self), [(_first_call_parameter(type(self)), inputs)]
                                 + others, kwargs)
            call_mask, mask = None, carried
        else:
            if mask is None:
                mask = carried
            call_mask = mask
        if self._call_has_mask and call_mask is not None:
            kwargs["mask"] = call_mask
        try:
            outputs = self.call(inputs, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - re-raised with the call's context
            raise _with_call_context(self, e, inputs, args, kwargs) from None
        if self.activity_regularizer is not None:
            add_activity_losses(self, outputs)
        if self.supports_masking and (mask is not None or
                                      type(self).compute_mask is not Layer.compute_mask):
            _attach_masks(outputs, self.compute_mask(inputs, mask))
        elif not self.supports_masking and carried is not None:
            warnings.warn(f"Layer '{self.name}' (of type {type(self).__name__}) was passed an "
                          "input with a mask attached to it. However, this layer does not "
                          "support masking and will therefore destroy the mask information. "
                          "Downstream layers will not see the mask.", stacklevel=1)
            # (reported here, as Keras does, so it shows once per layer whatever the caller)
        return outputs

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output(s) (None: no mask); by default the input's."""
        return mask

    # --- shapes and config -----------------------------------------------------------------
    @property
    def input_shape(self):
        if self._build_input_shape is None:
            raise AttributeError(f"The layer {self.name} has never been called and thus has "
                                 "no defined input.")
        return self._build_input_shape

    @property
    def input(self):
        """The symbolic input(s) of this layer's first call on KerasTensors, as in Keras: the
        one tensor, or a list of every tensor the call took (an RNN's `initial_state` too)."""
        tensors = self._first_node("input").parent_tensors()
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def output(self):
        """The symbolic output(s) of this layer's first call on KerasTensors (for a model made
        of its layers, e.g. `Model(model.input, model.layers[2].output)`), as in Keras: the one
        tensor, or a list of them (an LSTM's output and states)."""
        from fastkeras.layers.input_layer import _symbolic_leaves
        tensors = _symbolic_leaves(self._first_node("output").outputs)
        return tensors[0] if len(tensors) == 1 else tensors

    def _first_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on symbolic "
                                 f"inputs (an `Input(...)` or another layer's output), so it "
                                 f"has no {what} tensor.")
        return self._inbound_nodes[0]

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"The layer {self.name} has never been called and thus has "
                                 "no defined output shape.")
        return self._output_shape

    def get_config(self) -> dict:
        config = {"name": self.name}
        auto = self.__dict__.get("_auto_config")
        automatic = type(self).get_config is Layer.get_config  # no get_config of its own
        if automatic and auto is not None:
            config.update(auto)
            params = inspect.signature(type(self).__init__).parameters
            takes_kwargs = "kwargs" in params and \
                params["kwargs"].kind is inspect.Parameter.VAR_KEYWORD  # (Keras's exact test)
            if "name" not in params and not takes_kwargs:
                config.pop("name", None)  # __init__ could not take it back
        elif automatic and type(self)._records_auto_config \
                and not type(self).__module__.startswith("fastkeras."):
            raise NotImplementedError(
                f"Object {type(self).__name__} was created by passing non-serializable "
                "argument values in `__init__()`, and therefore the object must override "
                "`get_config()` in order to be serializable. Please implement `get_config()`.")
        # (no `batch_input_shape`, which Keras 3 rejects: a Sequential built from an
        # `input_shape=` writes the InputLayer it made instead, as Keras's does)
        config.update({"trainable": self.trainable, "dtype": dtype_policy_config(self.dtype)})
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if "batch_input_shape" in config and config["batch_input_shape"] is not None:
            config["batch_input_shape"] = tuple(config["batch_input_shape"])
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = _dtype_from_policy_config(config["dtype"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


Layer.build = _scoped_build(Layer.build)  # (subclasses' builds are wrapped as they are defined)


# Attributes whose variables are not the layer's weights: a stateful recurrent layer's states,
# which Keras keeps out of `weights` too.
_UNTRACKED_ATTRIBUTES = frozenset({"states"})


class _Tracking:
    """What a layer's tracked list and dict share: their owner, and registering what is added
    to them with it; they pickle (and copy) as the plain container."""

    def __init__(self, items, owner, key):
        super().__init__(items)
        self._owner, self._key = owner, key
        self._wrap_nested()

    def _wrap_nested(self):
        # Lists and dicts inside it track what is added to them too (`self.blocks = [[], []]`
        # then `self.blocks[0].append(Dense(4))`), as Keras's nested containers do.
        keys = self.keys() if isinstance(self, dict) else range(len(self))
        for k in list(keys):
            item = super().__getitem__(k)
            if type(item) in (list, dict):
                super().__setitem__(k, _tracked(item, self._owner, self._key))

    def _added(self, values):
        values = list(values)
        if any(type(v) in (list, dict) for v in values):
            self._wrap_nested()
        self._owner._track_held(list(values), variables=self._key not in _UNTRACKED_ATTRIBUTES)

    def __reduce_ex__(self, protocol):
        return (self._tree_node_type, (self._tree_node_type(self),))


class _TrackedList(_Tracking, list):
    """A layer's list attribute: layers and variables added to it later are the layer's."""

    _tree_node_type = list  # `fastkeras.tree` treats it as a list

    def append(self, value):
        super().append(value)
        self._added([value])

    def extend(self, values):
        values = list(values)
        super().extend(values)
        self._added(values)

    def insert(self, index, value):
        super().insert(index, value)
        self._added([value])

    def __setitem__(self, index, value):
        super().__setitem__(index, value)
        self._added(value if isinstance(index, slice) else [value])

    def __iadd__(self, values):
        self.extend(values)
        return self


class _TrackedDict(_Tracking, dict):
    """A layer's dict attribute: layers and variables added to it later are the layer's."""

    _tree_node_type = dict  # `fastkeras.tree` treats it as a dict

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self._added([value])

    def update(self, *args, **kwargs):
        new = dict(*args, **kwargs)
        super().update(new)
        self._added(new.values())

    def setdefault(self, key, default=None):
        value = super().setdefault(key, default)
        self._added([value])
        return value


def _format_call_argument(value):
    """A call argument as an error message shows it: each tensor by its shape and dtype."""
    from fastkeras import tree
    return tree.map_structure(
        lambda v: f"Tensor(shape={tuple(v.shape)}, dtype={v.value.dtype})"
        if isinstance(v, Tensor) else v, value)


def _with_call_context(layer, error, inputs, args, kwargs):
    """`error`, raised by layer.call, as Keras re-raises it: the same type with a message that
    names the layer's class and lists the call's arguments. Only the innermost failing call
    adds this."""
    if getattr(error, "_keras_call_info_injected", False):
        return error
    try:
        signature = inspect.signature(layer.call)
        bound = signature.bind(inputs, *args, **kwargs).arguments
    except (TypeError, ValueError):
        return error
    lines = []
    for param in signature.parameters.values():
        value = bound.get(param.name, param.default)
        lines.append(f"  \u2022 {param.name}={_format_call_argument(value)}")
    name = f"{type(layer).__name__}.call()"
    message = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    text = (f"Exception encountered when calling {name}.\n\n\x1b[1m{message}\x1b[0m\n\n"
            f"Arguments received by {name}:\n" + "\n".join(lines))
    try:
        new = type(error)(text)
    except Exception:  # noqa: BLE001 - an exception type taking other arguments
        new = RuntimeError(text)
    new._keras_call_info_injected = True
    return new.with_traceback(error.__traceback__)


def _tracked(value, owner, key):
    return (_TrackedList if type(value) is list else _TrackedDict)(value, owner, key)


def _held(value, cls, depth=0):
    """The instances of `cls` in `value`: itself, or those in its lists, tuples and dicts at
    any depth (not inside other objects), in order."""
    if isinstance(value, cls):
        return [value]
    if depth > 32:  # a container holding itself
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in _held(item, cls, depth + 1)]
    return []


def _variables_in(value):
    return _held(value, Variable)


def _seed_states(layer):
    """The states of the seed generators `layer` holds as attributes (in lists and dicts
    too)."""
    from fastkeras.random import SeedGenerator
    return [g.state for value in vars(layer).values() for g in _held(value, SeedGenerator)]


def _own_variables(layer):
    own = list(layer._own_weights)
    return ([v for v in own if getattr(v, "_declared_trainable", True)]
            + [v for v in own if not getattr(v, "_declared_trainable", True)])


class swapped_values:
    """`with swapped_values([(variable, value), ...]):` gives the variables those values for
    the block and restores their own values after it."""

    def __init__(self, mapping):
        self.mapping = [(v, np.asarray(getattr(x, "value", x))) for v, x in mapping]
        self.saved = None

    def __enter__(self):
        self.saved = [np.array(v.value, copy=True) for v, _ in self.mapping]
        for v, x in self.mapping:
            v.assign(x)
        return self

    def __exit__(self, *exc):
        for (v, _), old in zip(self.mapping, self.saved):
            v.assign(old)
        return False


def _shape_value(shape):
    if isinstance(shape, dict):  # a layer called on a dict of tensors
        return {k: _shape_value(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [tuple(s) for s in shape]
    return None if shape is None else tuple(shape)


def _shape_tuple(shape):
    if shape and isinstance(shape[0], (list, tuple)):
        return tuple(_shape_tuple(s) for s in shape)
    return tuple(shape)


def _check_spec(layer, inputs, symbolic=False):
    """The layer's InputSpec checked on a call: on KerasTensors when a model is defined, and
    on the data of eager calls (not on the probe batches that infer symbolic shapes)."""
    from fastkeras.layers.input_layer import inferring_shapes
    from fastkeras.layers.input_spec import check_input_spec
    if symbolic or not inferring_shapes():
        check_input_spec(layer.input_spec, inputs, layer.name)


def _dtype_from_policy_config(config):
    """The dtype a serialized DTypePolicy names: its own name for plain dtypes (int64 for
    Hashing, float64, ...), float32 for mixed or other policies (their weights are float32)."""
    name = (config.get("config") or {}).get("name") if "config" in config else config.get("name")
    try:
        return str(np.dtype(name)) if name not in (None, "bfloat16") else "float32"
    except TypeError:
        return "float32"


def _layer_dtype(dtype, owner):
    """A layer's dtype from its `dtype` argument: a dtype, a policy name or a DTypePolicy
    (None: the global policy). Policies computing in another precision than float32/float64
    (mixed_float16, bfloat16, ...) raise an error naming them."""
    from fastkeras import dtype_policies
    if dtype is None or isinstance(dtype, dtype_policies.DTypePolicy) or (
            isinstance(dtype, str) and ("mixed" in dtype or "16" in dtype)):
        policy = dtype_policies.get(dtype)
        return dtype_policies.check_supported(policy, f"{owner}(dtype={policy.name!r})")
    from fastkeras.backend.config import np_dtype
    return str(np_dtype(dtype))


def dtype_policy_config(dtype):
    """A layer's dtype as Keras 3 configs write it: a serialized DTypePolicy."""
    if dtype is None or isinstance(dtype, dict):
        return dtype
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": str(dtype)},
            "registered_name": None}


def add_activity_losses(layer, outputs):
    """`layer.activity_regularizer` of each output, divided by that output's batch size as
    Keras 3 does (a zero batch gives zero), as the layer's activity losses: `Layer.losses`,
    and so the training loss, include them. Every call of the layer within one outermost call
    adds its own (a layer shared by two branches counts twice), as `add_loss` does."""
    losses = layer.__dict__.setdefault("_activity_losses", [])

    def add(out):
        if isinstance(out, (list, tuple)):
            for o in out:
                add(o)
            return
        loss = layer.activity_regularizer(out)
        if out.ndim > 0:
            batch = out.shape[0]
            loss = loss / float(batch) if batch else loss * 0.0
        losses.append(loss)
    add(outputs)


def add_held_metrics(owner, out, skip=()):
    """Appends to `out` the metric objects `owner` holds in its attributes (directly, or in a
    list, tuple or dict), except the attributes named in `skip` and those already in `out`."""
    from fastkeras.metrics.base import Metric
    for key, value in vars(owner).items():
        if key in skip:
            continue
        items = value if isinstance(value, (list, tuple)) else \
            list(value.values()) if isinstance(value, dict) else (value,)
        out.extend(m for m in items if isinstance(m, Metric) and all(m is not o for o in out))


def clear_call_losses(layer):
    """Forgets the losses the layer and its sub-layers added in their calls (`add_loss`,
    activity regularizers): Keras does this when an outermost call begins."""
    for sub in layer._all_layers():
        if sub.__dict__.get("_added_losses"):
            sub._added_losses = []
        if sub.__dict__.get("_activity_losses"):
            sub._activity_losses = []


def _holds_tensor(value) -> bool:
    if isinstance(value, (Tensor, np.ndarray)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_tensor(v) for v in value.values())
    return False


def _other_tensor_arguments(cls, args, kwargs) -> list:
    """(name, value) of the call's tensor arguments besides the first one."""
    names = _call_parameter_names(cls)
    out = [(names[i + 1] if i + 1 < len(names) else None, v)
           for i, v in enumerate(args) if _holds_tensor(v)]
    out += [(k, v) for k, v in kwargs.items() if k not in ("training", "mask")
            and not k.endswith("_mask") and _holds_tensor(v)]
    return out


def _fill_argument_masks(cls, named, kwargs):
    names = _call_parameter_names(cls)
    for name, value in named:
        key = f"{name}_mask"
        if name is None or key not in names or kwargs.get(key) is not None:
            continue
        found = value._keras_mask if isinstance(value, Tensor) else carried_masks(value)
        if found is not None:
            kwargs[key] = found


def carried_masks(inputs):
    """The masks a list of input tensors carry (from Embedding(mask_zero=True), Masking, ...),
    None for a tensor without one; None when none carries one (or inputs is not a list).
    `Layer.__call__` passes them as `mask`; layers whose `compute_mask` may be called without
    one fall back to them too."""
    if not isinstance(inputs, (list, tuple)):
        return None
    masks = [getattr(t, "_keras_mask", None) for t in inputs]
    return masks if any(m is not None for m in masks) else None


def _attach_masks(outputs, masks):
    """Stores each output's mask on the output tensor (where it has none yet)."""
    if masks is None:
        return
    if isinstance(outputs, (list, tuple)):
        masks = masks if isinstance(masks, (list, tuple)) else [masks] + [None] * len(outputs)
        for out, m in zip(outputs, masks):
            _attach_masks(out, m)
    elif isinstance(outputs, Tensor) and outputs._keras_mask is None:
        if isinstance(masks, (list, tuple)):  # as Keras: flat outputs pair with flat masks
            masks = masks[0] if masks else None
        outputs._keras_mask = masks


def _layers_in(value):
    return _held(value, Layer)


def _contains(x, cls) -> bool:
    if isinstance(x, cls):
        return True
    if isinstance(x, (list, tuple)):
        return any(_contains(v, cls) for v in x)
    if isinstance(x, dict):
        return any(_contains(v, cls) for v in x.values())
    return False


def _to_tensors(x):
    """Layer inputs as Tensors: a list/tuple of arrays or tensors stays a list (several inputs,
    as in Keras); anything else (an array, nested lists of numbers) becomes one Tensor."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)) and x and all(
            isinstance(v, (Tensor, np.ndarray, list, tuple, dict)) and not _is_number_row(v)
            for v in x):
        return [_to_tensors(v) for v in x]
    if isinstance(x, dict):
        return {k: _to_tensors(v) for k, v in x.items()}
    return convert_to_tensor(x)


def _is_number_row(v):
    """A plain list of numbers (a data row), not a list of arrays."""
    return isinstance(v, (list, tuple)) and all(isinstance(e, (int, float, np.number)) for e in v)


_BUILD_PARAMETERS = {}


def _build_shape_parameters(cls) -> list:
    """[(name, has_default)] of `cls.build`'s shape arguments (after self; cached per
    class)."""
    if cls not in _BUILD_PARAMETERS:
        params = [p for p in inspect.signature(cls.build).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        _BUILD_PARAMETERS[cls] = [(p.name, p.default is not p.empty) for p in params[1:]]
    return _BUILD_PARAMETERS[cls]


def _build_parameters(cls):
    """`_build_shape_parameters` when `build` takes several shapes, else None."""
    params = _build_shape_parameters(cls)
    return params if len(params) > 1 else None


def _build_takes_no_shape(cls) -> bool:
    return not _build_shape_parameters(cls)


def _is_tensorish(x):
    if isinstance(x, (list, tuple)):
        return bool(x) and all(_is_tensorish(v) for v in x)
    return hasattr(x, "shape") and not np.isscalar(x)


def _shape_of(x):
    if isinstance(x, (list, tuple)):
        return [_shape_of(v) for v in x]
    if isinstance(x, dict):
        return {k: _shape_of(v) for k, v in x.items()}
    return tuple(x.shape)


