"""Layer wrappers: Bidirectional (a recurrent layer run both ways), the Wrapper base class and
TimeDistributed (a layer applied to every timestep)."""

from __future__ import annotations

import numpy as np

from fastkeras import ops
from fastkeras.backend.tape import Tensor
from fastkeras.layers.layer import Layer
from fastkeras.layers.rnn import RNN
from fastkeras.ops import rnn as rnn_ops

_MERGE_MODES = ("concat", "sum", "ave", "mul", None)


def _from_spec(spec):
    """A layer from its Keras config dict (as stored in .keras/.h5 files), else unchanged."""
    if isinstance(spec, dict) and "class_name" in spec:
        from fastkeras.saving.saving_api import deserialize_layer
        return deserialize_layer(spec)
    return spec


def _clone(layer, **overrides):
    """A new layer from `layer`'s config with `overrides`, built as `layer` is (as Keras's
    serialize-and-deserialize copy, which carries the build config)."""
    config = layer.get_config()
    config.update(overrides)
    clone = type(layer).from_config(config)
    build_config = layer.get_build_config() if layer.built else None
    if build_config:
        clone.build_from_config(build_config)
    return clone


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards over the same sequence and
    merges the two outputs.

    Args:
        layer: an RNN layer (LSTM, GRU, SimpleRNN, RNN); its configuration makes the forward
            layer, and a go_backwards copy the backward one (unless `backward_layer` is given).
        merge_mode: "concat" (default), "sum", "ave", "mul" or None (a list of both outputs).
        backward_layer: an optional RNN layer for the backward direction.

    With return_sequences the backward outputs are put back in input order before merging.
    With return_state the forward states follow the output, then the backward ones.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        layer, backward_layer = _from_spec(layer), _from_spec(backward_layer)
        if isinstance(layer, RNN) and layer.name.startswith("forward_"):
            layer.name = layer.name[len("forward_"):]  # a saved config's forward layer
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional: `layer` must be a recurrent layer (LSTM, GRU, "
                             f"SimpleRNN or RNN). Received: layer={layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: merge_mode={merge_mode!r}. "
                             f"Merge mode should be one of {list(_MERGE_MODES)}")
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            raise ValueError(f"Bidirectional: `backward_layer` must be a recurrent layer. "
                             f"Received: backward_layer={backward_layer!r}")
        # As Keras: the backward copy always reads the sequence backwards, so a `layer` that
        # already does has no direction left for it.
        backwards = True if backward_layer is None else backward_layer.go_backwards
        if backwards == layer.go_backwards:
            raise ValueError("Forward layer and backward layer should have different "
                             "`go_backwards` value. Received: forward_layer.go_backwards "
                             f"{layer.go_backwards}, backward_layer.go_backwards={backwards}")
        if backward_layer is not None:
            for attr in ("stateful", "return_sequences", "return_state"):
                if getattr(layer, attr) != getattr(backward_layer, attr):
                    raise ValueError(f"Forward layer and backward layer are expected to have "
                                     f"the same value for attribute '{attr}'")
        super().__init__(**kwargs)
        self.forward_layer = _clone(layer, name="forward_" + layer.name)
        if backward_layer is None:
            self.backward_layer = _clone(layer, name="backward_" + layer.name,
                                         go_backwards=True)
        else:
            self.backward_layer = backward_layer
        # use_cudnn is not in configs: the copies keep the given layer's, as in Keras.
        if hasattr(layer, "use_cudnn"):
            self.forward_layer.use_cudnn = layer.use_cudnn
            self.backward_layer.use_cudnn = layer.use_cudnn
        # As Keras: with sequences returned, masked steps output zeros in both directions.
        self.forward_layer.zero_output_for_mask = self.forward_layer.return_sequences
        self.backward_layer.zero_output_for_mask = self.backward_layer.return_sequences
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self._initial_weights = weights

    def _saveable_children(self):
        return [("forward_layer", self.forward_layer), ("backward_layer", self.backward_layer)]

    @property
    def states(self):
        """The forward layer's carried states then the backward layer's (a tuple), once both
        stateful layers have them; otherwise None."""
        forward, backward = self.forward_layer.states, self.backward_layer.states
        if forward and backward:
            return tuple(forward) + tuple(backward)
        return None

    def reset_state(self):
        """Zeroes the states both directions carry between calls (stateful layers only)."""
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        self.reset_state()

    def _record_build_shapes(self, input_shape, arg_shapes, kwarg_shapes):
        super()._record_build_shapes(input_shape, arg_shapes, kwarg_shapes)
        self.forward_layer._create_states_for(input_shape)
        self.backward_layer._create_states_for(input_shape)

    def build(self, input_shape):
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer.build(input_shape)
                layer.built = True
        super().build(input_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, sequences, initial_state=None, mask=None, training=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            states = list(initial_state)
            half = len(states) // 2
            fwd_state, bwd_state = states[:half], states[half:]
        y = self.forward_layer(sequences, initial_state=fwd_state, mask=mask, training=training)
        y_rev = self.backward_layer(sequences, initial_state=bwd_state, mask=mask,
                                    training=training)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = rnn_ops.flip_time(y_rev)
        if self.merge_mode == "concat":
            out = ops.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            out = ops.add(y, y_rev)
        elif self.merge_mode == "ave":
            out = ops.multiply(ops.add(y, y_rev), 0.5)
        elif self.merge_mode == "mul":
            out = ops.multiply(y, y_rev)
        else:
            out = (y, y_rev)
        if self.return_state:  # tuples, as Keras returns them
            return (out if isinstance(out, tuple) else (out,)) + states
        return out

    def compute_mask(self, inputs, mask=None):
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            n = 2 if self.forward_layer.cell.cell_kind == "lstm" else 1
            return masks + [None] * (2 * n)
        return masks if self.merge_mode is None else output_mask

    def get_config(self):
        from fastkeras.saving.serialization import serialize_layer
        config = super().get_config()
        config["merge_mode"] = self.merge_mode
        config["layer"] = serialize_layer(self.forward_layer)
        config["backward_layer"] = serialize_layer(self.backward_layer)
        return config



class Wrapper(Layer):
    """The base class of layers that wrap another layer (TimeDistributed, or a user's
    wrapper): it holds `layer`, builds it on the wrapper's input shape unless it is built,
    and stores it in the config as Keras does. Subclasses define `call`."""

    def __init__(self, layer, **kwargs):
        layer = _from_spec(layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer!r} supplied to {type(self).__name__} isn't a "
                             f"supported layer type. Please ensure the wrapped layer is a "
                             f"valid layer. Received: layer={layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            # built for any batch size, as Keras's symbolic build leaves it
            shape = None if input_shape is None else (None,) + tuple(input_shape[1:])
            self.layer.build(shape)
            self.layer.built = True
            if self.layer._build_input_shape is None:
                self.layer._build_input_shape = shape
        super().build(input_shape)

    def get_config(self):
        from fastkeras.saving.serialization import serialize_layer
        config = super().get_config()
        config["layer"] = serialize_layer(self.layer)
        return config


def _call_takes_mask(layer) -> bool:
    import inspect
    try:
        return "mask" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


class TimeDistributed(Wrapper):
    """Applies `layer` to every timestep of (batch, timesteps, ...) inputs: the timesteps are
    folded into the batch for one call of the wrapped layer, then unfolded.

    >>> TimeDistributed(Dense(8))(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 8)
    """

    def __init__(self, layer, **kwargs):
        layer = _from_spec(layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: `layer` must be a Layer instance. Received: "
                             f"layer={layer!r}")
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}' expects inputs with at least 3 "
                             f"dimensions (batch, timesteps, ...). Received input shape: "
                             f"{tuple(input_shape)}")
        if not self.layer.built:
            self.layer.build((None,) + tuple(input_shape[2:]))
            self.layer.built = True
        super().build(input_shape)

    def call(self, inputs, training=None, mask=None):
        if inputs.ndim < 3:
            raise ValueError(f"TimeDistributed '{self.name}' expects inputs with at least 3 "
                             f"dimensions (batch, timesteps, ...). Received input shape: "
                             f"{(None,) + tuple(inputs.shape[1:])}")
        batch, steps = inputs.shape[:2]
        # As Keras: a wrapped layer whose call takes a mask gets each timestep's part of it
        # (an LSTM over the words of each sentence skips the padded words).
        inner_mask = mask if mask is not None and _call_takes_mask(self.layer) else None
        if inner_mask is not None:
            inner_mask = np.asarray(getattr(inner_mask, "value", inner_mask)).astype(bool)
        if training and any(not w.trainable for w in self.layer.weights):
            # A layer that updates state while training (BatchNormalization's moving
            # statistics) runs once per timestep, as Keras runs every wrapped layer: batch
            # statistics per step, one update per step.
            outs = [self.layer(inputs[:, i], training=training,
                               **({} if inner_mask is None else {"mask": inner_mask[:, i]}))
                    for i in range(steps)]
            return ops.stack(outs, axis=1)
        inner = ops.reshape(inputs, (batch * steps,) + tuple(inputs.shape[2:]))
        extra = {} if inner_mask is None else {
            "mask": inner_mask.reshape((batch * steps,) + inner_mask.shape[2:])}
        out = self.layer(inner, training=training, **extra)
        if not isinstance(out, Tensor):
            raise ValueError(f"TimeDistributed '{self.name}': the wrapped layer must return one "
                             "tensor")
        # The mask (batch, timesteps) passes on to the next layer; the wrapped layer sees
        # each timestep independently, as in Keras.
        return ops.reshape(out, (batch, steps) + tuple(out.shape[1:]))

    def compute_mask(self, inputs, mask=None):
        return mask




class SpectralNormalization(Wrapper):
    """Keeps the wrapped layer's kernel (or an Embedding's table) at spectral norm 1 while
    training: each training call runs `power_iterations` steps of the power method from the
    stored estimate `vector_u` of the top singular vector, then divides the kernel by the
    estimated largest singular value, in place (Miyato et al., 2018, as Keras does it).
    Inference calls use the kernel as it is."""

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) or \
                power_iterations <= 0:
            raise ValueError(f"`power_iterations` should be greater than zero. Received: "
                             f"`power_iterations={power_iterations!r}`")
        self.power_iterations = power_iterations
        self.vector_u = None

    def build(self, input_shape):
        from fastkeras import initializers as initializers_mod
        from fastkeras.layers.input_spec import InputSpec
        super().build(input_shape)
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if kernel is None:
            raise ValueError(f"{type(self.layer).__name__} object has no attribute 'kernel' "
                             f"nor 'embeddings'")
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        # As in Keras, the kernel is also one of the wrapper's own variables (listed before
        # vector_u; a `.keras` file stores it under both layers).
        self.kernel = kernel  # (tracked as one of the wrapper's variables by the assignment)
        self.vector_u = self.add_weight(
            name="vector_u", shape=(1, kernel.shape[-1]),
            initializer=initializers_mod.TruncatedNormal(stddev=0.02), trainable=False)

    def _normalized_weights(self):
        w = self.kernel.value.reshape(-1, self.kernel.shape[-1]).astype(np.float32)
        u = self.vector_u.value.astype(np.float32)
        eps = np.float32(1e-12)
        for _ in range(self.power_iterations):
            v = u @ w.T
            v = v / max(np.float32(np.sqrt(np.sum(v * v))), eps)
            u = v @ w
            u = u / max(np.float32(np.sqrt(np.sum(u * u))), eps)
        sigma = (v @ w) @ u.T
        return u, self.kernel.value / sigma.reshape(())

    def call(self, inputs, training=False):
        if training and np.any(self.kernel.value != 0):
            u, kernel = self._normalized_weights()
            self.vector_u.assign(u)
            self.kernel.assign(kernel)
        return self.layer(inputs)

    def get_config(self):
        config = super().get_config()
        config["power_iterations"] = self.power_iterations
        return config
