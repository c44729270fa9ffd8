"""Recurrent layers: SimpleRNN, LSTM and GRU, their cells, RNN over any cell and
StackedRNNCells. The built-in cells run a whole sequence in one C++ call per direction
(ops.rnn); other cells run step by step. The cells own the weights in Keras's layouts, so
weights move to and from Keras files unchanged."""

from __future__ import annotations

import inspect

import numpy as np

from fastkeras import activations as activations_mod
from fastkeras import constraints as constraints_mod
from fastkeras import initializers as initializers_mod
from fastkeras import ops
from fastkeras import regularizers as regularizers_mod
from fastkeras.backend.tape import Tensor, convert_to_tensor, make_op
from fastkeras.layers.core import _check_positive_int
from fastkeras.layers.layer import Layer, to_snake_case
from fastkeras.ops import rnn as rnn_ops
from fastkeras.random import SeedGenerator
from fastkeras.random import _rng as _seeded_generator
from fastkeras.utils.signatures import positional_as_keras

_KERNEL_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid")
_CELL_WEIGHTS = ("kernel", "recurrent_kernel", "bias")


def _rate(value, arg, owner):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"Received an invalid value for argument `{arg}` in {owner}, expected "
                         f"a float between 0 and 1. Received: {arg}={value!r}")
    return float(value)


def _cell_activation(identifier):
    """(function, kernel name): the activation, and its name when the recurrent kernel
    computes it (None for any other activation, which the cells run with ops step by step)."""
    fn = activations_mod.get(identifier)
    name = next((n for n in _KERNEL_ACTIVATIONS if activations_mod.get(n) is fn), None)
    return fn, name


def _ser(obj, serialize):
    return None if obj is None else serialize(obj)


_WEIGHT_PARTS = ("kernel", "recurrent", "bias")


def set_recurrent_arguments(cell, owner, args):
    """Checks and stores what every recurrent cell takes besides its size and activations
    (`args`: the constructor's arguments by name): use_bias, an initializer, regularizer and
    constraint for each of kernel, recurrent kernel and bias, the two dropout rates and the
    seed of the dropout masks (and, as Keras, a `seed_generator` the masks are drawn from)."""
    cell.use_bias = bool(args["use_bias"])
    for part in _WEIGHT_PARTS:
        setattr(cell, f"{part}_initializer", initializers_mod.get(args[f"{part}_initializer"]))
        setattr(cell, f"{part}_regularizer", regularizers_mod.get(args[f"{part}_regularizer"]))
        setattr(cell, f"{part}_constraint", constraints_mod.get(args[f"{part}_constraint"]))
    cell.dropout = _rate(args["dropout"], "dropout", owner)
    cell.recurrent_dropout = _rate(args["recurrent_dropout"], "recurrent_dropout", owner)
    cell.seed = args["seed"]
    cell.seed_generator = SeedGenerator(cell.seed)


def recurrent_arguments_config(cell) -> dict:
    """The config entries of what `set_recurrent_arguments` stored, as Keras writes them."""
    config = {"use_bias": cell.use_bias}
    for part in _WEIGHT_PARTS:
        config[f"{part}_initializer"] = initializers_mod.serialize(
            getattr(cell, f"{part}_initializer"))
        config[f"{part}_regularizer"] = _ser(getattr(cell, f"{part}_regularizer"),
                                             regularizers_mod.serialize)
        config[f"{part}_constraint"] = constraints_mod.serialize(
            getattr(cell, f"{part}_constraint"))
    config.update(dropout=cell.dropout, recurrent_dropout=cell.recurrent_dropout,
                  seed=cell.seed)
    return config


def keep_mask(seed_generator, shape, rate):
    """A dropout mask: kept entries scaled by 1 / (1 - rate), dropped ones 0, drawn with the
    next state of `seed_generator` (a cell's `SeedGenerator`). A rate of 1 drops every entry
    (Keras does so for input dropout on its fused path, while its per-gate cells skip dropout
    at rate 1; one rule here, and never a division by zero)."""
    if rate >= 1:
        return np.zeros(shape, np.float32)
    keep = _seeded_generator(seed_generator).random(shape, dtype=np.float32) >= rate
    return (keep / np.float32(1 - rate)).astype(np.float32)


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
        self.activation, self._act_name = _cell_activation(activation)
        self.recurrent_activation, self._rec_act_name = _cell_activation(recurrent_activation)
        set_recurrent_arguments(self, owner, locals())
        self.kernel = self.recurrent_kernel = self.bias = None
        self._dropout_mask = self._recurrent_dropout_mask = None

    @property
    def state_size(self):
        return [self.units, self.units] if self.cell_kind == "lstm" else self.units

    @property
    def output_size(self):
        return self.units

    def get_initial_state(self, batch_size=None):
        count = 2 if self.cell_kind == "lstm" else 1
        return [ops.zeros((batch_size, self.units)) for _ in range(count)]

    def call(self, inputs, states, training=False):
        """One timestep: `(output, new_states)` from the step's input (batch, features) and
        the states (h, or [h, c] for LSTM), as Keras's cells compute it; the same C++ kernel
        as the layers, over one step. Dropout masks are drawn on the first training call and
        reused until `reset_dropout_mask()` (the RNN layer resets them for every sequence)."""
        x = convert_to_tensor(inputs)
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        count = 2 if self.cell_kind == "lstm" else 1
        if x.ndim != 2 or len(states) < count:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of shape "
                             f"(batch, features) and {count} state tensor(s). Received: inputs "
                             f"shape {tuple(x.shape)} and {len(states)} state(s)")
        batch, features = x.shape
        in_mask = rec_mask = None
        if training and 0 < self.dropout < 1:
            if self._dropout_mask is None or self._dropout_mask.shape[0] != batch:
                self._dropout_mask = self.input_dropout_mask(batch, features)
            if self.dropout_mask_per_gate:
                in_mask = self._dropout_mask
            else:
                x = ops.multiply(x, self._dropout_mask.reshape(batch, features))
        if training and 0 < self.recurrent_dropout < 1:
            if self._recurrent_dropout_mask is None or \
                    self._recurrent_dropout_mask.shape[0] != batch:
                self._recurrent_dropout_mask = self.recurrent_dropout_mask(batch)
            rec_mask = self._recurrent_dropout_mask
        if self.in_kernel:
            _, _, h, c = rnn_ops.rnn(
                ops.expand_dims(x, 1), self.kernel_cell(), self.kernel, self.recurrent_kernel,
                self.bias if self.use_bias else None, initial_state=states[:count],
                input_mask=in_mask, recurrent_mask=rec_mask, activation=self._act_name,
                recurrent_activation=self._rec_act_name, return_sequences=False)
        else:
            h, c = self._step_with_ops(x, states[:count], in_mask, rec_mask)
        if self.cell_kind == "lstm":
            return h, [h, c]
        return h, ([h] if nested else h)

    @property
    def in_kernel(self) -> bool:
        """Whether the C++ recurrent kernel computes this cell's activations; other
        activations (any Keras activation or callable) run as ops, one step at a time."""
        return self._act_name is not None and self._rec_act_name is not None

    def _step_with_ops(self, x, states, in_mask, rec_mask):
        """One step of Keras's cell formulas as ops: (h, c), c None unless LSTM. in_mask and
        rec_mask (or None) hold one dropout mask per gate side by side, as the kernel takes
        them."""
        units, gates, act, rec_act = self.units, self.gates, self.activation, \
            self.recurrent_activation
        features = x.shape[-1]
        kernels = ops.split(self.kernel, gates, axis=1)
        recurrents = ops.split(self.recurrent_kernel, gates, axis=1)
        h_prev = convert_to_tensor(states[0])

        def masked(v, mask, width, g):
            return v if mask is None else ops.multiply(v, mask[:, g * width:(g + 1) * width])

        xs = [ops.matmul(masked(x, in_mask, features, g), kernels[g]) for g in range(gates)]
        hs = [masked(h_prev, rec_mask, units, g) for g in range(gates)]
        reset_after = self.cell_kind == "gru" and self.reset_after
        if self.use_bias:
            biases = ops.split(self.bias[0] if reset_after else self.bias, gates, axis=-1)
            xs = [ops.add(v, b) for v, b in zip(xs, biases)]
        if self.cell_kind == "simple":
            h = act(ops.add(xs[0], ops.matmul(hs[0], recurrents[0])))
            return h, None
        if self.cell_kind == "lstm":
            z = [ops.add(xs[g], ops.matmul(hs[g], recurrents[g])) for g in range(4)]
            c = ops.add(ops.multiply(rec_act(z[1]), convert_to_tensor(states[1])),
                        ops.multiply(rec_act(z[0]), act(z[2])))
            return ops.multiply(rec_act(z[3]), act(c)), c
        # GRU: gates z, r and the candidate h~
        if reset_after:
            inner = [ops.matmul(hs[g], recurrents[g]) for g in range(3)]
            if self.use_bias:
                inner = [ops.add(v, b) for v, b in
                         zip(inner, ops.split(self.bias[1], 3, axis=-1))]
            z = rec_act(ops.add(xs[0], inner[0]))
            r = rec_act(ops.add(xs[1], inner[1]))
            candidate = act(ops.add(xs[2], ops.multiply(r, inner[2])))
        else:
            z = rec_act(ops.add(xs[0], ops.matmul(hs[0], recurrents[0])))
            r = rec_act(ops.add(xs[1], ops.matmul(hs[1], recurrents[1])))
            candidate = act(ops.add(xs[2], ops.matmul(ops.multiply(r, hs[2]), recurrents[2])))
        h = ops.add(ops.multiply(z, h_prev), ops.multiply(ops.subtract(1.0, z), candidate))
        return h, None

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None

    def get_dropout_mask(self, step_input):
        """The input dropout mask of the current sequence (drawn on first use, kept until
        `reset_dropout_mask()`), as Keras's cells return it: a tensor shaped like `step_input`
        (batch, features), or a list with one per gate when the gates draw their own
        (`implementation=1`). None when `dropout` is 0."""
        if not self.dropout > 0:
            return None
        batch, features = tuple(convert_to_tensor(step_input).shape)
        if self._dropout_mask is None or self._dropout_mask.shape[0] != batch:
            self._dropout_mask = self.input_dropout_mask(batch, features)
        if self.dropout_mask_per_gate:
            return [Tensor(np.ascontiguousarray(part))
                    for part in np.split(self._dropout_mask, self.gates, axis=1)]
        return Tensor(self._dropout_mask.reshape(batch, features))

    def get_recurrent_dropout_mask(self, step_input):
        """The recurrent dropout mask of the current sequence, on the state `step_input`
        (batch, units): a tensor, or a list with one per gate for LSTM and GRU cells. None when
        `recurrent_dropout` is 0."""
        if not self.recurrent_dropout > 0:
            return None
        batch = convert_to_tensor(step_input).shape[0]
        if self._recurrent_dropout_mask is None or \
                self._recurrent_dropout_mask.shape[0] != batch:
            self._recurrent_dropout_mask = self.recurrent_dropout_mask(batch)
        if self.gates > 1:
            return [Tensor(np.ascontiguousarray(part))
                    for part in np.split(self._recurrent_dropout_mask, self.gates, axis=1)]
        return Tensor(self._recurrent_dropout_mask)

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
        return keep_mask(self.seed_generator, shape, rate)

    @property
    def dropout_mask_per_gate(self):
        """Whether each gate gets its own dropout masks (Keras: LSTM/GRU cells in their
        per-gate `implementation` 1, which recurrent dropout implies)."""
        return self.gates > 1 and getattr(self, "implementation", 2) == 1

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
            **recurrent_arguments_config(self),
        })
        return config


class SimpleRNNCell(_Cell):
    """h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""

    cell_kind = "simple"
    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)


def _implementation(value, recurrent_dropout):
    """Keras's `implementation` of the LSTM and GRU cells: 2 (the gates' products computed
    together, one input dropout mask for all gates) or 1 (gate by gate, each gate with its own
    dropout masks), which recurrent dropout forces. Both give the same results without
    dropout; here it only decides how dropout masks are drawn."""
    return 1 if recurrent_dropout != 0 else value


class LSTMCell(_Cell):
    """Keras's LSTM cell: gates i, f, c, o side by side in kernel (in, 4*units),
    recurrent_kernel (units, 4*units) and bias (4*units)."""

    cell_kind = "lstm"
    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, **kwargs)
        self.implementation = _implementation(implementation, self.recurrent_dropout)
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
        implementation = kwargs.pop("implementation", 2)
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, **kwargs)
        self.implementation = _implementation(implementation, self.recurrent_dropout)
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


def _fusable(cell) -> bool:
    """Whether one C++ call can run `cell` over a whole sequence: a built-in cell whose step
    (`call`) the user has not replaced, with activations the kernel computes."""
    return isinstance(cell, _CELLS) and type(cell).call is _Cell.call and cell.in_kernel


def _is_nested(x) -> bool:
    return isinstance(x, (list, tuple))


def _map_nested(fn, *structures):
    """fn applied leaf by leaf to structures of the same nesting (lists and tuples)."""
    first = structures[0]
    if _is_nested(first):
        return [_map_nested(fn, *parts) for parts in zip(*structures)]
    return fn(*structures)


def _leaves(x) -> list:
    if _is_nested(x):
        return [leaf for v in x for leaf in _leaves(v)]
    return [x]


def _zero_states(state_size, batch):
    """Zeros for each entry of `state_size` (an int, a shape, or a list of those)."""
    if isinstance(state_size, int):
        return [ops.zeros((batch, state_size))]
    out = []
    for d in state_size:
        shape = (d,) if isinstance(d, int) else tuple(d)
        out.append(ops.zeros((batch,) + shape))
    return out


def _unstack_time(x):
    """x[:, t] for every t, with one backward pass that writes each step's gradient into its
    slice (instead of one full-size gradient per step)."""
    steps = x.shape[1]
    value = x.value

    def backward(g, needs):
        grad = np.zeros(value.shape, np.float32 if value.dtype != np.float64 else value.dtype)
        for t, gt in g.parts.items():
            grad[:, t] = gt
        return (grad,)

    if not getattr(x, "requires_grad", False):
        return [Tensor(value[:, t]) for t in range(steps)]
    joint = make_op(np.zeros((), np.float32), (x,), backward)
    return [rnn_ops._part(joint, t, np.ascontiguousarray(value[:, t])) for t in range(steps)]


def _reset_dropout_masks(cell):
    for c in getattr(cell, "cells", None) or [cell]:
        if c is not cell:
            _reset_dropout_masks(c)
        for name in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
            fn = getattr(c, name, None)
            if callable(fn):
                fn()


def _call_accepts(cell, name) -> bool:
    try:
        params = inspect.signature(cell.call).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class RNN(Layer):
    """A recurrent layer: runs `cell` over every timestep of its input.

    Args:
        cell: an RNN cell: a layer with `call(inputs, states)` returning
            `(output, new_states)` and a `state_size` (an int, or a list with one entry per
            state), optionally `output_size` and `get_initial_state(batch_size)`. A list of
            cells is stacked (StackedRNNCells). SimpleRNNCell, LSTMCell and GRUCell run the
            whole sequence in one C++ call; other cells run step by step.
        return_sequences: return every timestep's output (batch, timesteps, ...) instead of
            the last one.
        return_state: also return the final state(s) after the output.
        go_backwards: process the sequence in reverse (outputs come in processing order).
        stateful: keep the final states of a batch as the initial states of the next call
            (the batch size must then stay the same; `reset_state()` zeroes them).
        unroll: accepted and ignored.
        zero_output_for_mask: masked timesteps output zeros instead of the previous output.

    Call arguments: inputs (batch, timesteps, ...); mask (batch, timesteps) booleans, masked
    steps carry the state and the previous output over; training (dropout only while
    training); initial_state: a list of state tensors.
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not callable(getattr(cell, "call", None)):
            raise ValueError(f"Argument `cell` should have a `call` method. Received: "
                             f"cell={cell!r}")
        if not hasattr(cell, "state_size"):
            raise ValueError(f"The RNN cell should have a `state_size` attribute (single "
                             f"integer or list of integers, one integer per RNN state). "
                             f"Received: cell={cell!r}")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.states = None
        self._fused = _fusable(cell)
        self._workspace = rnn_ops.RnnWorkspace()
        state_size = cell.state_size
        if not isinstance(state_size, (list, tuple, int)):
            raise ValueError(f"state_size must be an integer, or a list/tuple of integers (one "
                             f"for each state tensor). Received: state_size={state_size!r}")
        self.state_size = [state_size] if isinstance(state_size, int) else list(state_size)
        # As Keras: whether the cell declares its state as one int (one state tensor).
        self.single_state = isinstance(state_size, int)

    @property
    def units(self):
        return self.cell.units

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 3 or (self._fused and len(input_shape) != 3):
            want = "(batch, timesteps, features)" if self._fused else "(batch, timesteps, ...)"
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of shape "
                             f"{want}. Received input shape: {input_shape}")
        cell = self.cell
        if not cell.built:
            step_shape = input_shape if self._fused else (input_shape[0],) + input_shape[2:]
            cell.build(step_shape)
            cell.built = True
            # As Keras records it: one timestep's shape, any batch size
            cell._build_input_shape = (None,) + input_shape[2:]
        super().build(input_shape)
        from fastkeras.layers.input_layer import inferring_shapes
        if self.stateful and input_shape[0] is not None and self.states is None \
                and not inferring_shapes():
            # As Keras, a stateful layer built for a known batch size has its states (zeros)
            # from then on, before any call. (Shape-inference probes have a stand-in batch
            # size; the states are then made on the first call.)
            self._create_states(input_shape[0])

    def _record_build_shapes(self, input_shape, arg_shapes, kwarg_shapes):
        super()._record_build_shapes(input_shape, arg_shapes, kwarg_shapes)
        self._create_states_for(input_shape)
        if self.stateful and isinstance(input_shape, tuple) and input_shape[0] is None:
            raise ValueError(f"When using `stateful=True` in a RNN, the batch size must be "
                             f"static. Found dynamic batch size: sequence.shape={input_shape}. "
                             f"Give the input a batch size: Input(shape, batch_size=...).")

    # --- states --------------------------------------------------------------------------
    def get_initial_state(self, batch_size):
        """The states a sequence starts from: the cell's `get_initial_state`, else zeros."""
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is None:
            return _zero_states(self.cell.state_size, batch_size)
        states = fn(batch_size=batch_size)
        return list(states) if _is_nested(states) else [states]

    def reset_state(self):
        """Zeroes the states a stateful layer carries between calls."""
        if self.states is not None:
            for v in _leaves(self.states):
                v.assign(np.zeros_like(v.value))

    def reset_states(self):
        self.reset_state()

    def _stateful_initial(self, batch):
        """The carried states as fresh tensors (the variables are overwritten after the call,
        while the recorded graph may still need the values it started from)."""
        from fastkeras.layers.input_layer import inferring_shapes
        if inferring_shapes():
            return self.get_initial_state(batch)
        if self.states is None:
            self._create_states(batch)
        expected = _leaves(self.states)[0].shape[0]
        if expected != batch:
            raise ValueError(f"If an RNN is stateful, the batch size of the input sequences "
                             f"must be the same as the batch size of the initial state.\n"
                             f"- Expected batch size: {expected}\n"
                             f"- Received batch size: {batch}")
        return _map_nested(lambda v: Tensor(v.value.copy()), self.states)

    def _create_states_for(self, input_shape):
        """As Keras: a stateful layer built symbolically for a known batch size has its states
        (zeros) from then on."""
        if self.stateful and isinstance(input_shape, tuple) and input_shape[0] is not None \
                and self.states is None:
            self._create_states(input_shape[0])

    def _create_states(self, batch):
        """The variables a stateful layer carries its states in, set to the initial states."""
        from fastkeras.backend.variable import Variable
        self.states = _map_nested(
            lambda s: Variable(np.asarray(convert_to_tensor(s).value, np.float32),
                               name="rnn_state", trainable=False,
                               path=f"{self.name}/rnn_state"),
            self.get_initial_state(batch))

    def _carry_states(self, states):
        from fastkeras.layers.input_layer import inferring_shapes
        if self.stateful and not inferring_shapes():
            for var, s in zip(_leaves(self.states), _leaves(states)):
                var.assign(convert_to_tensor(s).value)

    # --- the call ------------------------------------------------------------------------
    def _standardize_mask(self, mask, batch, steps):
        """The (batch, timesteps) boolean mask as a numpy array (the first of a list), or None."""
        if isinstance(mask, (list, tuple)):
            mask = next((m for m in mask if m is not None), None)
        if mask is None:
            return None
        mask = np.asarray(mask.value if isinstance(mask, Tensor) else mask)
        if mask.shape != (batch, steps):
            raise ValueError(f"{type(self).__name__} '{self.name}': `mask` must have shape "
                             f"(batch, timesteps) = {(batch, steps)}. Received: "
                             f"mask.shape={mask.shape}")
        return mask

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if sequences.ndim < 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of shape "
                             f"(batch, timesteps, ...). Received input shape: "
                             f"{(None,) + tuple(sequences.shape[1:])}")
        batch, steps = sequences.shape[:2]
        if steps == 0:  # (Keras fails on it too; there is no last output to give)
            raise ValueError(f"{type(self).__name__} '{self.name}' needs at least one timestep. "
                             "Received input shape: "
                             f"{(None,) + tuple(sequences.shape[1:])}")
        mask = self._standardize_mask(mask, batch, steps)
        if initial_state is None and self.stateful:
            initial_state = self._stateful_initial(batch)
        last, outputs, states = self.inner_loop(sequences, initial_state, mask,
                                                training=training)
        self._carry_states(states)
        out = outputs if self.return_sequences else last
        if self.return_state:
            return (out, *states)  # a tuple, as Keras returns it
        return out

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """Runs the cell over every timestep, as Keras's `RNN.inner_loop`: `sequences`
        (batch, timesteps, ...) from `initial_state` (a list of state tensors; None: the cell's
        initial states), skipping the steps `mask` (batch, timesteps) marks False.

        Returns `(last_output, outputs, states)`: the output of the last step processed, the
        outputs of every step in processing order (with return_sequences; otherwise the last
        output alone, (batch, 1, ...)) and the final states (a list). Stateful layers do not
        update their states here; `call` does."""
        sequences = convert_to_tensor(sequences)
        mask = self._standardize_mask(mask, *sequences.shape[:2])
        if self._fused:
            return self._loop_fused(sequences, initial_state, mask, training)
        return self._loop_steps(sequences, initial_state, mask, training)

    def _loop_fused(self, sequences, initial_state, mask, training):
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
        batch, _, features = sequences.shape
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
        outputs, last, h, c = rnn_ops.rnn(
            x, cell.kernel_cell(), cell.kernel, cell.recurrent_kernel,
            cell.bias if cell.use_bias else None, initial_state=states, mask=mask,
            input_mask=in_mask, recurrent_mask=rec_mask, activation=cell._act_name,
            recurrent_activation=cell._rec_act_name, go_backwards=self.go_backwards,
            zero_output_for_mask=self.zero_output_for_mask,
            return_sequences=self.return_sequences, workspace=self._workspace)
        if outputs is None:
            outputs = ops.expand_dims(last, 1)
        return last, outputs, ([h, c] if c is not None else [h])

    def _loop_steps(self, sequences, initial_state, mask, training):
        """The cell called once per timestep (any cell): Keras's loop, with masked steps
        keeping the states and repeating the previous output (or zeros)."""
        batch, steps = sequences.shape[:2]
        if steps == 0:
            raise ValueError(f"{type(self).__name__} '{self.name}' received a sequence of "
                             f"0 timesteps.")
        if initial_state is None:
            states = self.get_initial_state(batch)
        else:
            states = list(initial_state) if _is_nested(initial_state) else [initial_state]
            states = _map_nested(convert_to_tensor, states)
        kwargs = {"training": bool(training)} if _call_accepts(self.cell, "training") else {}
        inputs = _unstack_time(sequences)
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs, prev = [], None
        _reset_dropout_masks(self.cell)
        try:
            for t in order:
                out, new_states = self.cell(inputs[t], tuple(states), **kwargs)
                if not _is_nested(new_states):
                    new_states = [new_states]
                if mask is not None:
                    keep = mask[:, t]

                    def select(new, old, keep=keep):
                        k = keep.reshape((-1,) + (1,) * (len(new.shape) - 1))
                        return ops.where(k, new, old)
                    if prev is None or self.zero_output_for_mask:
                        prev = ops.zeros(tuple(out.shape), dtype=str(out.dtype))
                    out = _map_nested(select, out, prev)
                    new_states = _map_nested(select, list(new_states), list(states))
                states, prev = list(new_states), out
                outputs.append(out)
        finally:
            _reset_dropout_masks(self.cell)
        last = outputs[-1]
        stacked = ops.stack(outputs, axis=1) if self.return_sequences else \
            ops.expand_dims(last, 1)
        return last, stacked, states

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
        if isinstance(mask, (list, tuple)):
            mask = next((m for m in mask if m is not None), None)
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def get_config(self):
        config = super().get_config()
        config.update({"return_sequences": self.return_sequences,
                       "return_state": self.return_state, "go_backwards": self.go_backwards,
                       "stateful": self.stateful, "unroll": self.unroll,
                       "zero_output_for_mask": self.zero_output_for_mask})
        if not isinstance(self, _CellLayer):  # those make their own cell from their arguments
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


class StackedRNNCells(Layer):
    """Several RNN cells run as one: each timestep goes through the cells in order, each
    cell's output being the next one's input. Its state is the list of the cells' states.

    >>> cells = [LSTMCell(8), LSTMCell(4)]
    >>> RNN(StackedRNNCells(cells))(np.zeros((2, 5, 3), "float32")).shape
    (2, 4)
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(f"StackedRNNCells: `cells` must be a non-empty list of RNN "
                             f"cells. Received: cells={cells!r}")
        for cell in cells:
            if not callable(getattr(cell, "call", None)):
                raise ValueError(f"All cells must have a `call` method. Received cell without "
                                 f"a `call` method: {cell!r}")
            if not hasattr(cell, "state_size"):
                raise ValueError(f"All cells must have a `state_size` attribute. Received "
                                 f"cell without a `state_size`: {cell!r}")
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @staticmethod
    def _cell_output_size(cell):
        size = getattr(cell, "output_size", None)
        if size is not None:
            return size
        return cell.state_size[0] if _is_nested(cell.state_size) else cell.state_size

    @property
    def output_size(self):
        return self._cell_output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None):
        states = []
        for cell in self.cells:
            fn = getattr(cell, "get_initial_state", None)
            if fn is not None:
                states.append(fn(batch_size=batch_size))
            elif isinstance(cell.state_size, int):
                states.append(_zero_states(cell.state_size, batch_size)[0])
            else:
                states.append(_zero_states(cell.state_size, batch_size))
        return states

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if not cell.built:
                cell.build(shape)
                cell.built = True
                if cell._build_input_shape is None:
                    cell._build_input_shape = shape
            shape = (shape[0], self._cell_output_size(cell))
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, state in zip(self.cells, states):
            was_nested = _is_nested(state)
            state = list(state) if was_nested else [state]
            kwargs = {"training": training} if _call_accepts(cell, "training") else {}
            inputs, state = cell(inputs, state, **kwargs)
            if not _is_nested(state):
                state = [state]
            new_states.append(list(state) if was_nested or len(state) != 1 else state[0])
        return inputs, new_states

    def get_config(self):
        from fastkeras.saving.serialization import serialize_layer
        config = super().get_config()
        config["cells"] = [serialize_layer(c) for c in self.cells]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastkeras.saving.serialization import deserialize_layer
        config = dict(config)
        cells = [deserialize_layer(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


def _cell_setting(name):
    """A read-only property of a recurrent layer giving its cell's `name` (Keras's LSTM, GRU
    and SimpleRNN expose their cell's arguments so: `LSTM(4).dropout`)."""
    def get(self):
        return getattr(self.cell, name)
    get.__name__ = name
    get.__doc__ = f"The cell's `{name}` (read-only)."
    return property(get)


_USE_CUDNN_VALUES = ("auto", True, False)


class _CellLayer(RNN):
    """SimpleRNN/LSTM/GRU: an RNN that builds its own cell from the layer's arguments."""

    cell_class = SimpleRNNCell
    # Whether the layer takes Keras's `use_cudnn` (LSTM and GRU).
    _takes_use_cudnn = False

    activation = _cell_setting("activation")
    use_bias = _cell_setting("use_bias")
    kernel_initializer = _cell_setting("kernel_initializer")
    recurrent_initializer = _cell_setting("recurrent_initializer")
    bias_initializer = _cell_setting("bias_initializer")
    kernel_regularizer = _cell_setting("kernel_regularizer")
    recurrent_regularizer = _cell_setting("recurrent_regularizer")
    bias_regularizer = _cell_setting("bias_regularizer")
    kernel_constraint = _cell_setting("kernel_constraint")
    recurrent_constraint = _cell_setting("recurrent_constraint")
    bias_constraint = _cell_setting("bias_constraint")
    dropout = _cell_setting("dropout")
    recurrent_dropout = _cell_setting("recurrent_dropout")

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        layer_keys = ("name", "trainable", "dtype", "input_shape", "batch_input_shape",
                      "batch_size", "input_dim", "autocast", "input_length")
        layer_kwargs = {k: kwargs.pop(k) for k in layer_keys if k in kwargs}
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        owner = type(self).__name__
        if self._takes_use_cudnn:
            use_cudnn = kwargs.pop("use_cudnn", "auto")
            if use_cudnn not in _USE_CUDNN_VALUES:
                raise ValueError(f"Invalid value received for argument `use_cudnn` of {owner}: "
                                 f"expected 'auto', True or False. Received: "
                                 f"use_cudnn={use_cudnn!r}")
        elif "use_cudnn" in kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to {owner}: "
                             f"{{'use_cudnn': {kwargs['use_cudnn']!r}}}")
        if not self._takes_use_cudnn:
            kwargs.pop("implementation", None)  # accepted from old configs, as before
        known = _cell_argument_names(self.cell_class)
        unknown = {k: v for k, v in kwargs.items() if k not in known}
        if unknown:
            raise ValueError(f"Unrecognized keyword arguments passed to {owner}: {unknown}")
        # Named as Keras names the cell inside the layer ("lstm_cell"): weight paths in
        # legacy .h5 files read <layer>/lstm_cell/kernel.
        cell_name = to_snake_case(self.cell_class.__name__)
        cell = self.cell_class(units, trainable=layer_kwargs.get("trainable", True),
                               name=cell_name, **kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, **layer_kwargs)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        if self._takes_use_cudnn:
            # Kept as given (not serialized, as Keras). The kernels here are fastkeras's own;
            # True fails, as on Keras's PyTorch backend, where no cuDNN-style kernel applies.
            self.use_cudnn = use_cudnn

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if self._takes_use_cudnn and self.use_cudnn is True:
            self._check_cudnn_applies(mask)
        return super().inner_loop(sequences, initial_state, mask, training=training)

    def _check_cudnn_applies(self, mask):
        """use_cudnn=True: the configurations where Keras (PyTorch backend) has no fused
        kernel to use raise, as there: a mask, recurrent dropout, or a GRU with
        reset_after=False. (Shape-inference probes do not raise; Keras's symbolic calls
        do not either.)"""
        from fastkeras.layers.input_layer import inferring_shapes
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        unsupported = (mask is not None or bool(self.recurrent_dropout)
                       or getattr(self.cell, "reset_after", True) is False)
        if unsupported and not inferring_shapes():
            raise ValueError(f"{type(self).__name__} '{self.name}' was given use_cudnn=True, "
                             "but this configuration (a mask, recurrent dropout, or a GRU with "
                             "reset_after=False) has no cuDNN-style implementation. Use "
                             "use_cudnn='auto' to run it with the generic implementation.")

    def __getattr__(self, name):
        # The cell's other attributes read as the layer's too (layer.seed, ...).
        # Not its weights: as Keras, those are the cell's (`layer.cell.kernel`).
        cell = self.__dict__.get("cell")
        if cell is not None and not name.startswith("_") and name not in _CELL_WEIGHTS:
            try:
                return getattr(cell, name)
            except AttributeError:
                pass
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

    def get_config(self):
        config = super().get_config()
        config.pop("seed", None)  # Keras's SimpleRNN does not write its cell's seed
        return config


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
    _takes_use_cudnn = True

    recurrent_activation = _cell_setting("recurrent_activation")
    unit_forget_bias = _cell_setting("unit_forget_bias")


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
    _takes_use_cudnn = True

    recurrent_activation = _cell_setting("recurrent_activation")
    reset_after = _cell_setting("reset_after")


def _cell_argument_names(cell_class) -> set:
    """The keyword arguments a cell's constructor takes by name."""
    params = inspect.signature(cell_class.__init__).parameters.values()
    return {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} | {
        "implementation"}


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
    if cell_class in (LSTMCell, GRUCell):
        params["use_cudnn"] = inspect.Parameter("use_cudnn", inspect.Parameter.KEYWORD_ONLY,
                                                default="auto")
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

# Keras's positional order of the cells' and layers' arguments.
_SIMPLE_ARGS = ("units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
                "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
                "bias_regularizer")
_GATED_ARGS = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
               "recurrent_initializer", "bias_initializer")
_REGULARIZERS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer")
_CONSTRAINTS = ("kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
                "recurrent_dropout")
_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")
positional_as_keras(SimpleRNNCell, _SIMPLE_ARGS + _CONSTRAINTS + ("seed",))
positional_as_keras(LSTMCell, _GATED_ARGS + ("unit_forget_bias",) + _REGULARIZERS
                    + _CONSTRAINTS + ("seed",))
positional_as_keras(GRUCell, _GATED_ARGS + _REGULARIZERS + _CONSTRAINTS
                    + ("reset_after", "seed"))
positional_as_keras(SimpleRNN, _SIMPLE_ARGS + ("activity_regularizer",) + _CONSTRAINTS
                    + _RNN_ARGS + ("seed",))
positional_as_keras(LSTM, _GATED_ARGS + ("unit_forget_bias",) + _REGULARIZERS
                    + ("activity_regularizer",) + _CONSTRAINTS + ("seed",) + _RNN_ARGS
                    + ("use_cudnn",))
positional_as_keras(GRU, _GATED_ARGS + _REGULARIZERS + ("activity_regularizer",) + _CONSTRAINTS
                    + ("seed",) + _RNN_ARGS + ("reset_after", "use_cudnn"))
