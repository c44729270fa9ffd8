"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Lambda."""

from __future__ import annotations

import base64
import inspect
import marshal
import math
import types

import numpy as np

from fastkeras import activations as activations_mod
from fastkeras import constraints as constraints_mod
from fastkeras import initializers as initializers_mod
from fastkeras import ops
from fastkeras import regularizers as regularizers_mod
from fastkeras.backend.tape import Tensor, make_op
from fastkeras.layers.input_spec import InputSpec
from fastkeras.layers.layer import Layer
from fastkeras.layers.lora import LoRA, adapted_weight
from fastkeras.layers.reshaping import standardize_data_format
from fastkeras.random import SeedGenerator
from fastkeras.random import _rng as _seeded_generator


def _check_positive_int(value, arg, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Received an invalid value for argument `{arg}` in {layer}, expected "
                         f"a positive integer. Received: {arg}={value!r}")
    return int(value)


def _serialize(obj):
    """An initializer, regularizer or constraint (built-in, custom class or function) as
    Keras writes it in a layer's config."""
    from fastkeras.utils.object_serialization import serialize_keras_object
    return serialize_keras_object(obj)


class Dense(LoRA, Layer):
    """`outputs = activation(inputs @ kernel + bias)` on the last axis of the input.

    Args:
        units: positive integer, the output size.
        activation: name or function (default: linear).
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: initializers (glorot_uniform, zeros).
        kernel_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        lora_rank: build with LoRA of this rank (see `enable_lora`); as in Keras, the build
            then uses lora_alpha = lora_rank. lora_alpha: the LoRA scale's numerator.

    Input shape: (batch, ..., input_dim). Output shape: (batch, ..., units).
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        if quantization_config is not None:
            raise ValueError("Dense: quantized layers are not supported. Received: "
                             f"quantization_config={quantization_config!r}")
        self.units = _check_positive_int(units, "units", "Dense")
        self.activation = activations_mod.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        self._set_lora_arguments(lora_rank, lora_alpha)
        self._kernel = None
        self.bias = None
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=2)  # as Keras (a 1-D batch is refused)

    _lora_build_keeps_alpha = False  # Keras's Dense enables build-time LoRA with alpha = rank
    kernel = adapted_weight("kernel")

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"The last dimension of the input to Dense layer '{self.name}' "
                             f"must be defined. Received input shape: {input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=(input_dim, self.units),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        # as Keras: once built, the spec names the input size too (checked before `call`)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        super().build(input_shape)
        self._build_lora()

    def call(self, inputs):
        kernel = self._kernel
        if inputs.shape[-1] != kernel.shape[0]:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected axis -1 of input shape to have value "
                             f"{kernel.shape[0]}, but received input with shape "
                             f"{(None,) + tuple(inputs.shape[1:])}")
        if self.lora_enabled:  # as Keras: inputs @ (kernel + alpha / r * a @ b) + bias
            y = ops.matmul(inputs, self.kernel)
            if self.use_bias:
                y = ops.add(y, self.bias)
            return y if self.activation is activations_mod.linear else self.activation(y)
        lead = inputs.shape[:-1]
        x = inputs if inputs.ndim == 2 else ops.reshape(inputs, (-1, inputs.shape[-1]))
        fuse_relu = self.activation is activations_mod.relu
        y = ops.dense(x, kernel, self.bias if self.use_bias else None, relu=fuse_relu)
        if inputs.ndim != 2:
            y = ops.reshape(y, lead + (self.units,))
        if not fuse_relu and self.activation is not activations_mod.linear:
            y = self.activation(y)
        return y

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations_mod.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _serialize(self.kernel_initializer),
            "bias_initializer": _serialize(self.bias_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
            "bias_regularizer": _serialize(self.bias_regularizer),
            "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
            "bias_constraint": constraints_mod.serialize(self.bias_constraint),
            "quantization_config": None,
        })
        if self.activity_regularizer is not None:  # Keras's Dense writes it only when set
            config["activity_regularizer"] = _serialize(self.activity_regularizer)
        return self._lora_config(config)


class Activation(Layer):
    """Applies an activation function: `Activation("relu")`."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations_mod.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations_mod.serialize(self.activation)
        return config


class Identity(Layer):
    """Returns its inputs unchanged (a placeholder, e.g. for an optional block)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class Dropout(Layer):
    """Zeroes a fraction `rate` of inputs while training and scales the rest by 1/(1-rate);
    passes inputs through unchanged at inference."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed
        if self.rate > 0:
            # As Keras: the masks are drawn from this generator (each draw advances it), so
            # a `seed` makes the sequence of masks reproducible. Without a seed its own seed
            # is drawn from the global generator (`fastkeras.utils.set_random_seed`).
            self.seed_generator = SeedGenerator(seed)
        self.supports_masking = True

    def _generator(self) -> np.random.Generator:
        """A numpy generator for one draw: the next state of `seed_generator`."""
        return _seeded_generator(self.seed_generator)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            return ops.multiply(inputs, 0.0)
        keep = self._generator().random(self._noise_shape(inputs.shape),
                                        dtype=np.float32) >= self.rate
        scale = (keep / np.float32(1 - self.rate)).astype(np.float32)
        return ops.multiply(inputs, scale)

    def _noise_shape(self, shape):
        """The shape of the keep mask (broadcast against the input): `noise_shape` with its
        None entries taken from the input."""
        if self.noise_shape is None:
            return shape
        return tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return config


class Flatten(Layer):
    """Flattens every axis but the batch: (batch, 28, 28) -> (batch, 784)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = ops.transpose(inputs, (0,) + tuple(range(2, inputs.ndim)) + (1,))
        return ops.reshape(inputs, (inputs.shape[0], int(math.prod(inputs.shape[1:]))))

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    """Reshapes everything but the batch axis to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs):
        n = int(math.prod(inputs.shape[1:]))
        target = list(self.target_shape)
        if -1 in target:
            known = int(math.prod(d for d in target if d != -1))
            if known == 0 or n % known:
                raise ValueError(f"Layer '{self.name}': cannot reshape input of shape "
                                 f"{(None,) + tuple(inputs.shape[1:])} to {self.target_shape}")
            target[target.index(-1)] = n // known
        if int(math.prod(target)) != n:
            raise ValueError(f"Layer '{self.name}': total size of the input "
                             f"{(None,) + tuple(inputs.shape[1:])} ({n}) does not match "
                             f"target_shape {self.target_shape}")
        return ops.reshape(inputs, (inputs.shape[0],) + tuple(target))

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


class Lambda(Layer):
    """Wraps a function of tensors as a layer (use fastkeras.ops inside for gradients).

    `output_shape` (a shape without the batch axis, or a function of the input shape) and
    `mask` (a mask, or a function of (inputs, mask)) as Keras's. A function that takes `mask`
    or `training` receives them. Configs store a Python lambda as Keras does (its marshalled
    bytecode), which loading turns back into code only with `safe_mode=False` or after
    `keras.config.enable_unsafe_deserialization()`; a named function is stored by name and
    found again through `custom_objects` or the registered objects."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda expects a callable. Received: function={function!r}")
        self.function = function
        self.arguments = arguments or {}
        self._lambda_output_shape = output_shape
        self.mask = mask
        # As Keras: only a Lambda given a `mask` passes one on; otherwise the input's is lost.
        self.supports_masking = mask is not None
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_takes_mask = "mask" in params
        self._fn_takes_training = "training" in params
        self._call_has_training = self._fn_takes_training

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_takes_mask:
            kwargs["mask"] = mask
        if self._fn_takes_training:
            kwargs["training"] = training
        out = self.function(inputs, **kwargs)
        if not isinstance(out, (Tensor, list, tuple, dict)):
            out = make_op(np.asarray(out, np.float32), (), None)
        return out

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def get_config(self):
        config = super().get_config()
        config["function"] = _function_config(self.function)
        if self._lambda_output_shape is not None:
            shape = self._lambda_output_shape
            config["output_shape"] = _function_config(shape) if callable(shape) else shape
        if self.mask is not None:
            config["mask"] = _function_config(self.mask) if callable(self.mask) else self.mask
        config["arguments"] = self.arguments
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        from fastkeras.saving.object_registry import in_safe_mode
        safe = in_safe_mode() if safe_mode is None else bool(safe_mode)
        config = dict(config)
        config["function"] = _function_from_config(config["function"], custom_objects, safe)
        for key in ("output_shape", "mask"):
            value = config.get(key)
            if isinstance(value, dict):
                config[key] = _function_from_config(value, custom_objects, safe)
            elif key == "output_shape" and isinstance(value, list):
                config[key] = tuple(value)
        return super().from_config(config)


def _function_config(fn):
    """How Keras stores a Lambda's function: a Python lambda as base64 marshalled bytecode
    (with its defaults and closure values), a named function by name."""
    if getattr(fn, "__name__", None) == "<lambda>":
        code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")
        closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
        return {"class_name": "__lambda__",
                "config": {"code": code, "defaults": fn.__defaults__, "closure": closure}}
    from fastkeras.saving.object_registry import get_registered_name
    return {"module": getattr(fn, "__module__", None), "class_name": "function",
            "config": getattr(fn, "__name__", str(fn)),
            "registered_name": get_registered_name(fn)}


def _function_from_config(spec, custom_objects, safe):
    if not isinstance(spec, dict):  # older configs: a bare name
        spec = {"class_name": "function", "config": spec}
    if spec.get("class_name") == "__lambda__":
        if safe:
            raise ValueError(
                "Requested the deserialization of a `Lambda` layer whose `function` is a "
                "Python lambda. This carries a potential risk of arbitrary code execution "
                "and thus it is disallowed by default. If you trust the source of the "
                "artifact, you can override this error by passing `safe_mode=False` to the "
                "loading function, or calling `keras.config.enable_unsafe_deserialization()`.")
        inner = spec["config"]
        code = marshal.loads(base64.decodebytes(inner["code"].encode("ascii")))
        closure = None
        if inner.get("closure") is not None:
            closure = tuple(types.CellType(v) for v in inner["closure"])
        defaults = inner.get("defaults")
        import fastkeras
        globs = {"np": np, "ops": ops, "keras": fastkeras, **(custom_objects or {})}
        return types.FunctionType(code, globs, code.co_name,
                                  tuple(defaults) if defaults is not None else None, closure)
    from fastkeras.saving.object_registry import lookup
    name = spec.get("config")
    fn = lookup({"registered_name": spec.get("registered_name"), "class_name": name},
                custom_objects)
    if fn is None:
        fn = getattr(ops, str(name), None)
    if fn is None:
        raise ValueError(f"Lambda: could not find the function {name!r} the config names. "
                         f"Pass it in `custom_objects` or register it with "
                         f"`keras.saving.register_keras_serializable()`.")
    return fn
