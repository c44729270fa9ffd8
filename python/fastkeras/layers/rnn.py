"""Recurrent layers: SimpleRNN, LSTM and GRU (and their cells, and RNN over one of those
cells). Each layer runs its whole sequence in one C++ call per direction (ops.rnn); the cells
own the weights in Keras's layouts, so weights move to and from Keras files unchanged."""

from __future__ import annotations

import inspect

import numpy as np

from fastkeras import activations as activations_mod
from fastkeras import constraints as constraints_mod
from fastkeras import initializers as initializers_mod
from fastkeras import ops
from fastkeras import regularizers as regularizers_mod
from fastkeras.backend import random as fk_random
from fastkeras.backend.tape import Tensor, convert_to_tensor
from fastkeras.layers.core import _check_positive_int
from fastkeras.layers.layer import Layer, to_snake_case
from fastkeras.ops import rnn as rnn_ops

_KERNEL_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid")


def _rate(value, arg, owner):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"Received an invalid value for argument `{arg}` in {owner}, expected "
                         f"a float between 0 and 1. Received: {arg}={value!r}")
    return float(value)


def _kernel_activation(identifier, arg, owner):
    """(function, kernel name) for an activation the recurrent kernel implements."""
    fn = activations_mod.get(identifier)
    name = activations_mod.serialize(fn)
    if name not in _KERNEL_ACTIVATIONS:
        raise ValueError(f"{owner}: `{arg}` must be one of {list(_KERNEL_ACTIVATIONS)} (the "
                         f"recurrent kernel computes these). Received: {arg}={identifier!r}")
    return fn, name


def _ser(obj, serialize):
    return None if obj is None else serialize(obj)


class _Cell(Layer):
    """What the three cells share: arguments, weights (kernel, recurrent_kernel, bias) and
    the dropout masks, drawn once per batch and reused at every timestep as Keras does.

    Like Keras, LSTM and GRU cells with recurrent_dropout > 0 draw a separate mask for every
    gate, for the inputs and for the state; otherwise one input mask serves all gates."""

    cell_kind = "simple"
    gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = _check_positive_int(units, "units", owner)
        self.activation, self._act_name = _kernel_activation(activation, "activation", owner)
        self.recurrent_activation, self._rec_act_name = _kernel_activation(
            recurrent_activation, "recurrent_activation", owner)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.recurrent_initializer = initializers_mod.get(recurrent_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers_mod.get(recurrent_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.recurrent_constraint = constraints_mod.get(recurrent_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        self.dropout = _rate(dropout, "dropout", owner)
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout", owner)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self.kernel = self.recurrent_kernel = self.bias = None

    @property
    def state_size(self):
        return [self.units, self.units] if self.cell_kind == "lstm" else self.units

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the last dimension of the "
                             f"input must be defined. Received input shape: {input_shape}")
        gu = self.gates * self.units
        self.kernel = self.add_weight(name="kernel", shape=(input_dim, gu),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, gu),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=self._bias_shape(),
                                        initializer=self._bias_initializer(),
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        super().build(input_shape)

    def _keep_mask(self, shape, rate):
        """Kept entries scaled by 1 / (1 - rate), dropped ones 0. A rate of 1 drops every
        entry (Keras does so for input dropout on its fused path, while its per-gate cells
        skip dropout at rate 1; one rule here, and never a division by zero)."""
        if rate >= 1:
            return np.zeros(shape, np.float32)
        gen = self._rng if self._rng is not None else fk_random.generator()
        keep = gen.random(shape, dtype=np.float32) >= rate
        return (keep / np.float32(1 - rate)).astype(np.float32)

    @property
    def dropout_mask_per_gate(self):
        """Whether each gate gets its own dropout masks (Keras: LSTM/GRU with recurrent
        dropout run their per-gate implementation)."""
        return self.gates > 1 and self.recurrent_dropout > 0

    def input_dropout_mask(self, batch, features):
        """(batch, gates * features) with one mask per gate when `dropout_mask_per_gate`,
        else (batch, 1, features): one mask for every gate and timestep."""
        if self.dropout_mask_per_gate:
            return self._keep_mask((batch, self.gates * features), self.dropout)
        return self._keep_mask((batch, 1, features), self.dropout)

    def recurrent_dropout_mask(self, batch):
        """(batch, gates * units): one mask per gate on the state entering its recurrent
        product (SimpleRNN has one gate)."""
        return self._keep_mask((batch, self.gates * self.units), self.recurrent_dropout)

    def kernel_cell(self):
        return self.cell_kind

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations_mod.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers_mod.serialize(self.recurrent_initializer),
            "bias_initializer": initializers_mod.serialize(self.bias_initializer),
            "kernel_regularizer": _ser(self.kernel_regularizer, regularizers_mod.serialize),
            "recurrent_regularizer": _ser(self.recurrent_regularizer,
                                          regularizers_mod.serialize),
            "bias_regularizer": _ser(self.bias_regularizer, regularizers_mod.serialize),
            "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints_mod.serialize(self.recurrent_constraint),
            "bias_constraint": constraints_mod.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        })
        return config


class SimpleRNNCell(_Cell):
    """h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""

    cell_kind = "simple"
    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)


class LSTMCell(_Cell):
    """Keras's LSTM cell: gates i, f, c, o side by side in kernel (in, 4*units),
    recurrent_kernel (units, 4*units) and bias (4*units)."""

    cell_kind = "lstm"
    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        def init(shape, dtype="float32"):
            return np.concatenate([np.asarray(base((units,), dtype=dtype)),
                                   np.ones((units,), dtype),
                                   np.asarray(base((2 * units,), dtype=dtype))])
        return init

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations_mod.serialize(self.recurrent_activation)
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRUCell(_Cell):
    """Keras's GRU cell: gates z, r, h in kernel (in, 3*units) and recurrent_kernel
    (units, 3*units). With reset_after (the default) the reset gate multiplies the recurrent
    product and the bias is (2, 3*units): input bias, recurrent bias."""

    cell_kind = "gru"
    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def kernel_cell(self):
        return "gru_reset_after" if self.reset_after else "gru"

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations_mod.serialize(self.recurrent_activation)
        config["reset_after"] = self.reset_after
        return config


_CELLS = (SimpleRNNCell, LSTMCell, GRUCell)


class RNN(Layer):
    """A recurrent layer over one of SimpleRNNCell, LSTMCell or GRUCell.

    Args:
        cell: the cell instance (it owns the weights).
        return_sequences: return every timestep's output (batch, timesteps, units) instead of
            the last one (batch, units).
        return_state: also return the final state(s) (h, or h and c for LSTM).
        go_backwards: process the sequence in reverse (outputs come in processing order).
        stateful, unroll: stateful=True is not supported; unroll is accepted and ignored.
        zero_output_for_mask: masked timesteps output zeros instead of the previous output.

    Call arguments: inputs (batch, timesteps, features); mask (batch, timesteps) booleans,
    masked steps carry the state over; training (dropout only while training);
    initial_state: a list of state tensors.
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)) or not isinstance(cell, _CELLS):
            raise ValueError(f"RNN: `cell` must be a SimpleRNNCell, LSTMCell or GRUCell "
                             f"instance (stacked or custom cells are not supported). "
                             f"Received: cell={cell!r}")
        if stateful:
            raise NotImplementedError(f"{type(self).__name__}: stateful=True is not supported")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self._workspace = rnn_ops.RnnWorkspace()

    def _saveable_children(self):
        return [("cell", self.cell)]

    @property
    def units(self):
        return self.cell.units

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of shape "
                             f"(batch, timesteps, features). Received input shape: "
                             f"{tuple(input_shape)}")
        if not self.cell.built:
            self.cell.build(input_shape)
            self.cell.built = True
            # Keras's variable paths name the layer above the cell ("lstm/lstm_cell/kernel"),
            # which also keeps them distinct between layers (their cells share one name).
            for v in self.cell._own_weights:
                v.path = f"{self.name}/{v.path}"
        super().build(input_shape)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        cell = self.cell
        if sequences.ndim != 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of shape "
                             f"(batch, timesteps, features). Received input shape: "
                             f"{(None,) + tuple(sequences.shape[1:])}")
        if sequences.shape[-1] != cell.kernel.shape[0]:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected axis -1 of input shape to have value "
                             f"{cell.kernel.shape[0]}, but received input with shape "
                             f"{(None,) + tuple(sequences.shape[1:])}")
        batch, steps, features = sequences.shape
        x = sequences
        in_mask = rec_mask = None
        if training and cell.dropout > 0:
            if cell.dropout_mask_per_gate:
                in_mask = cell.input_dropout_mask(batch, features)
            else:
                x = ops.multiply(x, cell.input_dropout_mask(batch, features))
        if training and cell.recurrent_dropout > 0:
            rec_mask = cell.recurrent_dropout_mask(batch)
        states = self._initial_states(initial_state, batch)
        if mask is not None:
            mask = np.asarray(mask.value if isinstance(mask, Tensor) else mask)
            if mask.shape != (batch, steps):
                raise ValueError(f"{type(self).__name__} '{self.name}': `mask` must have shape "
                                 f"(batch, timesteps) = {(batch, steps)}. Received: "
                                 f"mask.shape={mask.shape}")
        outputs, last, h, c = rnn_ops.rnn(
            x, cell.kernel_cell(), cell.kernel, cell.recurrent_kernel,
            cell.bias if cell.use_bias else None, initial_state=states, mask=mask,
            input_mask=in_mask, recurrent_mask=rec_mask, activation=cell._act_name,
            recurrent_activation=cell._rec_act_name, go_backwards=self.go_backwards,
            zero_output_for_mask=self.zero_output_for_mask,
            return_sequences=self.return_sequences, workspace=self._workspace)
        out = outputs if self.return_sequences else last
        if self.return_state:
            return [out, h, c] if c is not None else [out, h]
        return out

    def _initial_states(self, initial_state, batch):
        if initial_state is None:
            return ()
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
            else [initial_state]
        want = 2 if self.cell.cell_kind == "lstm" else 1
        if len(states) != want:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects {want} initial "
                             f"state tensor(s). Received: {len(states)}")
        out = []
        for i, s in enumerate(states):
            s = convert_to_tensor(s)
            if tuple(s.shape) != (batch, self.units):
                raise ValueError(f"{type(self).__name__} '{self.name}': initial_state[{i}] "
                                 f"must have shape (batch, units) = {(batch, self.units)}. "
                                 f"Received: {tuple(s.shape)}")
            out.append(s)
        return out

    def compute_mask(self, inputs, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            n = 2 if self.cell.cell_kind == "lstm" else 1
            return [output_mask] + [None] * n
        return output_mask

    def get_config(self):
        config = super().get_config()
        config.update({"return_sequences": self.return_sequences,
                       "return_state": self.return_state, "go_backwards": self.go_backwards,
                       "stateful": False, "unroll": self.unroll,
                       "zero_output_for_mask": self.zero_output_for_mask})
        if type(self) is RNN:  # the layers that make their own cell store its arguments
            from fastkeras.saving.serialization import serialize_layer
            config["cell"] = serialize_layer(self.cell)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("cell"), dict):
            from fastkeras.saving.serialization import deserialize_layer
            config["cell"] = deserialize_layer(config["cell"], custom_objects)
        return super().from_config(config)


class _CellLayer(RNN):
    """SimpleRNN/LSTM/GRU: an RNN that builds its own cell from the layer's arguments."""

    cell_class = SimpleRNNCell

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        layer_keys = ("name", "trainable", "dtype", "input_shape", "batch_input_shape",
                      "batch_size", "input_dim", "autocast", "input_length")
        layer_kwargs = {k: kwargs.pop(k) for k in layer_keys if k in kwargs}
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        kwargs.pop("use_cudnn", None)
        kwargs.pop("implementation", None)
        # Named as Keras names the cell inside the layer ("lstm_cell"): weight paths in
        # legacy .h5 files read <layer>/lstm_cell/kernel.
        cell_name = to_snake_case(self.cell_class.__name__)
        cell = self.cell_class(units, trainable=layer_kwargs.get("trainable", True),
                               name=cell_name, **kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, **layer_kwargs)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)

    def __getattr__(self, name):
        # The cell's arguments read as the layer's (layer.activation, layer.dropout, ...).
        cell = self.__dict__.get("cell")
        if cell is not None and not name.startswith("_"):
            return getattr(cell, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self):
        config = super().get_config()
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype", "batch_input_shape"):
            cell_config.pop(key, None)
        config.update(cell_config)
        config["activity_regularizer"] = (
            None if self.activity_regularizer is None
            else regularizers_mod.serialize(self.activity_regularizer))
        return config


class SimpleRNN(_CellLayer):
    """A fully connected recurrent layer: h_t = activation(x_t W + h_{t-1} U + b).

    Args: units, activation ("tanh"), use_bias, kernel/recurrent/bias initializers
    (glorot_uniform, orthogonal, zeros), regularizers, dropout, recurrent_dropout, seed, and the
    RNN arguments (return_sequences, return_state, go_backwards, ...).

    Input shape: (batch, timesteps, features). Output shape: (batch, units), or
    (batch, timesteps, units) with return_sequences.

    >>> layer = SimpleRNN(4)
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 4)
    """

    cell_class = SimpleRNNCell


class LSTM(_CellLayer):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997), Keras's formulation:
    i, f, o = recurrent_activation(...), c_t = f * c_{t-1} + i * activation(...),
    h_t = o * activation(c_t).

    Args: units, activation ("tanh"), recurrent_activation ("sigmoid"), use_bias,
    initializers (glorot_uniform, orthogonal, zeros), unit_forget_bias (forget-gate bias
    starts at 1), regularizers, dropout, recurrent_dropout, seed, and the RNN arguments.
    With return_state the layer returns [output, h, c].

    Input shape: (batch, timesteps, features). Output shape: (batch, units), or
    (batch, timesteps, units) with return_sequences.
    """

    cell_class = LSTMCell


class GRU(_CellLayer):
    """Gated Recurrent Unit (Cho et al., 2014), Keras's formulation with update gate z,
    reset gate r and candidate h; h_t = z * h_{t-1} + (1 - z) * candidate.

    Args: units, activation ("tanh"), recurrent_activation ("sigmoid"), use_bias,
    initializers, regularizers, dropout, recurrent_dropout, seed, reset_after (True: the
    reset gate applies after the recurrent product, bias shape (2, 3*units)), and the RNN
    arguments.

    Input shape: (batch, timesteps, features). Output shape: (batch, units), or
    (batch, timesteps, units) with return_sequences.
    """

    cell_class = GRUCell


def _layer_signature(cell_class):
    """The layer's constructor arguments: its cell's and RNN's, as Keras spells them (configs
    are loaded by matching these names)."""
    params = {"self": inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    for fn in (cell_class.__init__, _Cell.__init__, RNN.__init__):
        for p in inspect.signature(fn).parameters.values():
            if p.name in ("self", "cell") or p.name in params or p.kind in (
                    p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            kind = p.POSITIONAL_OR_KEYWORD if p.name == "units" else p.KEYWORD_ONLY
            params[p.name] = p.replace(kind=kind)
    params["kwargs"] = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
    return inspect.Signature(list(params.values()))


def _with_signature(cls):
    def __init__(self, *args, **kwargs):
        _CellLayer.__init__(self, *args, **kwargs)
    __init__.__signature__ = _layer_signature(cls.cell_class)
    __init__.__doc__ = cls.__doc__
    cls.__init__ = __init__


for _cls in (SimpleRNN, LSTM, GRU):
    _with_signature(_cls)
