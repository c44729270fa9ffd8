"""Input / InputLayer and the symbolic KerasTensor that records how layers were connected."""

from __future__ import annotations

import numpy as np

from fastkeras.layers.layer import Layer, standardize_shape, unique_name


class Node:
    """One call of a layer on symbolic inputs (a layer called twice has two nodes). `args` and
    `kwargs` are the call's other arguments (e.g. an RNN's `initial_state`), which may hold
    KerasTensors too; a Functional model replays the call with them."""

    __slots__ = ("args", "inputs", "kwargs", "layer", "outputs")

    def __init__(self, layer, inputs, kwargs=None, args=()):
        self.layer = layer
        self.inputs = inputs
        self.kwargs = dict(kwargs or {})
        self.args = tuple(args)
        self.outputs = None  # the KerasTensor(s) the call made, once made

    def parent_tensors(self):
        """Every KerasTensor the call reads: its inputs, then those among its arguments."""
        return _symbolic_leaves((self.inputs, self.args, self.kwargs))


class KerasTensor:
    """A symbolic tensor: a shape (batch dim None) and the layer call that produced it."""

    def __init__(self, shape, dtype="float32", name=None, layer=None, inputs=(), index=0,
                 node=None):
        self.shape = tuple(shape)
        self.dtype = "string" if dtype in ("object", "str") else dtype  # text, as Keras names it
        self.name = name
        self._layer = layer        # the layer whose call produced this tensor
        self._inputs = inputs      # that call's symbolic inputs (nested structure)
        self._index = index        # which output of the layer call
        self._node = node if node is not None else Node(layer, inputs)
        # The mask the layer attaches to this output (Embedding(mask_zero=True), Masking,
        # layers passing a mask on), as a symbolic bool tensor, or None; as Keras's.
        self._keras_mask = None

    @property
    def ndim(self):
        return len(self.shape)

    # Keras's flags for sparse and ragged tensors (those are not supported: always dense),
    # and whether the tensor records the operations applied to it (always).
    sparse = False
    ragged = False
    ragged_rank = None
    row_splits_dtype = None
    record_history = True

    def reshape(self, newshape):
        from fastkeras import ops
        return ops.reshape(self, newshape)

    def squeeze(self, axis=None):
        from fastkeras import ops
        return ops.squeeze(self, axis=axis)

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse={self.sparse}, "
                f"ragged={self.ragged}, name={self.name}>")

    # Python operators record `fastkeras.ops` nodes, as in Keras.
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().subtract(self, other)

    def __rsub__(self, other):
        return _ops().subtract(other, self)

    def __mul__(self, other):
        return _ops().multiply(self, other)

    def __rmul__(self, other):
        return _ops().multiply(other, self)

    def __truediv__(self, other):
        return _ops().true_divide(self, other)

    def __rtruediv__(self, other):
        return _ops().true_divide(other, self)

    def __pow__(self, other):
        return _ops().power(self, other)

    def __rpow__(self, other):
        return _ops().power(other, self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __floordiv__(self, other):
        return _ops().floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops().floor_divide(other, self)

    def __mod__(self, other):
        return _ops().mod(self, other)

    def __rmod__(self, other):
        return _ops().mod(other, self)

    def __round__(self, ndigits=None):
        return _ops().round(self, decimals=ndigits or 0)

    def __neg__(self):
        return _ops().negative(self)

    # A placeholder has no value: as Keras's, it refuses to be a truth value, a number, an
    # array or a sequence.
    def __bool__(self):
        raise TypeError("A symbolic KerasTensor cannot be used as a boolean.")

    def __iter__(self):  # (and so `x in tensor` too)
        raise NotImplementedError("Iterating over a symbolic KerasTensor is not supported.")

    def _no_value(self, what):
        return ValueError("A KerasTensor is symbolic: it's a placeholder for a shape and a "
                          "dtype. It doesn't have any actual numerical value. You cannot "
                          f"convert it to {what}.")

    def __int__(self):
        raise self._no_value("an int")

    def __float__(self):
        raise self._no_value("a float")

    def __array__(self, dtype=None, copy=None):
        raise self._no_value("a NumPy array")

    def __abs__(self):
        return _ops().abs(self)

    def __getitem__(self, index):
        return _ops().getitem(self, index)

    # Comparisons and logic record boolean ops, as in Keras; `==` stays identity (Keras 3's
    # KerasTensor does not overload it either).
    def __lt__(self, other):
        return _ops().less(self, other)

    def __le__(self, other):
        return _ops().less_equal(self, other)

    def __gt__(self, other):
        return _ops().greater(self, other)

    def __ge__(self, other):
        return _ops().greater_equal(self, other)

    def __ne__(self, other):
        return _ops().not_equal(self, other)

    def __and__(self, other):
        return _ops().logical_and(self, other)

    def __rand__(self, other):
        return _ops().logical_and(other, self)

    def __or__(self, other):
        return _ops().logical_or(self, other)

    def __ror__(self, other):
        return _ops().logical_or(other, self)

    def __xor__(self, other):
        return _ops().logical_xor(self, other)

    def __rxor__(self, other):
        return _ops().logical_xor(other, self)

    def __invert__(self):
        return _ops().logical_not(self)

    # KerasTensors are graph nodes: identity, not value, decides equality.
    __hash__ = object.__hash__


def _ops():
    from fastkeras import ops
    return ops


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=False,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        if ragged or optional:
            raise ValueError("InputLayer: ragged and optional inputs are not supported. "
                             f"Received: ragged={ragged!r}, optional={optional!r}")
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs and batch_shape is None:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name or unique_name("input_layer"), dtype=dtype, **kwargs)
        if batch_shape is not None:
            batch_shape = standardize_shape(batch_shape, "batch_shape")
        elif shape is not None:
            batch_shape = (batch_size,) + standardize_shape(shape, "shape")
        else:
            raise ValueError("You must pass a `shape` argument to Input/InputLayer.")
        self.batch_shape = batch_shape
        self.built = True
        self._build_input_shape = batch_shape
        self._output_shape = batch_shape
        self._tensor = KerasTensor(batch_shape, dtype=self.dtype, name=self.name, layer=self)
        self._tensor._node.outputs = self._tensor

    @property
    def input(self):
        return self._tensor

    @property
    def output(self):
        return self._tensor

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": False}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None):
    """A symbolic input: `fastkeras.Input(shape=(28, 28))`. With `tensor`, an existing
    KerasTensor is used as the input instead of a new one."""
    if tensor is not None:
        if not isinstance(tensor, KerasTensor):
            raise ValueError(f"Argument `input_tensor` must be a KerasTensor. Received invalid "
                             f"type: input_tensor={tensor!r} (of type {type(tensor)})")
        if shape is not None and tuple(shape) != tuple(tensor.shape[1:]):
            raise ValueError(f"Input: `shape` {tuple(shape)} does not match the given tensor's "
                             f"shape {tuple(tensor.shape)}")
        return tensor
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                       name=name)
    return layer.output


# Non-batch dimensions left free (None: a sequence's length, an image's size) are probed at two
# sizes, and an output dimension that differs between the two runs is free too. The sizes are
# large enough for the usual kernels, and far enough apart that a stack of five stride-2
# reductions still maps them to different lengths (64 -> 2, 97 -> 3).
_PROBE_SIZES = (64, 97)
# Tried first: small sizes make the probes of deep layers cheap (a 2048-channel convolution on
# 16x16 and 23x23 instead of 64x64 and 97x97). Their result stands when the output keeps at
# least as many free dimensions as the input has; otherwise (a global pooling, a stride that
# maps both sizes to one length, a kernel larger than the probe) the large sizes decide.
_SMALL_PROBE_SIZES = (16, 23)
# The last resort, for layers that take only short lengths (both other pairs raised).
_TINY_PROBE_SIZES = (2, 3)


def _probe(x, free_size, batch=None):
    """x (nested) with each KerasTensor replaced by zeros: the static batch size when the
    inputs share one (else 1), free dims free_size."""
    from fastkeras.backend.tape import Tensor
    if isinstance(x, KerasTensor):
        shape = (batch or 1,) + tuple(free_size if d is None else d for d in x.shape[1:]) \
            if x.shape else ()
        if x.dtype == "string":  # text: a probe word
            return Tensor(np.full(shape, "a", dtype=object))
        probe = Tensor(np.zeros(shape, np.dtype(x.dtype)))
        if x._keras_mask is not None:  # the layer sees that its input carries a mask
            probe._keras_mask = np.ones(shape[:x._keras_mask.ndim], bool)
        return probe
    if isinstance(x, (list, tuple)):
        return type(x)(_probe(v, free_size, batch) for v in x)
    if isinstance(x, dict):
        return {k: _probe(v, free_size, batch) for k, v in x.items()}
    return x


def _free_dims(x) -> bool:
    return any(None in t.shape[1:] for t in _symbolic_leaves(x))


def _agree(a, b):
    """Symbolic shapes from two probes: dims that differ are None."""
    if isinstance(a, list):
        return [_agree(u, v) for u, v in zip(a, b)]
    if len(a) != len(b):
        return a
    return tuple(u if u == v else None for u, v in zip(a, b))


_inferring = [0]  # depth of nested infer_call runs


def inferring_shapes() -> bool:
    """Whether the current call is one of the probe calls that infer a symbolic output shape
    (a layer whose inference-mode output has another shape than it declares can check)."""
    return _inferring[0] > 0


def infer_call(layer, inputs, args=(), kwargs=None):
    """Runs `layer` on zero probes of symbolic `inputs` (building it if needed). Returns the
    first probe's outputs (for their dtypes) and the symbolic output shape(s): batch None, and
    None wherever the output follows a free input dimension."""
    from fastkeras.backend.tape import no_grad
    kwargs = {k: v for k, v in (kwargs or {}).items() if k != "training"}

    # As Keras: a static batch size (Input(..., batch_size=2)) carries through the layers.
    batch = _static_batch((inputs, args, kwargs))

    def run(size):
        return layer(_probe(inputs, size, batch), *_probe(tuple(args), size, batch),
                     training=False, **_probe(kwargs, size, batch))

    def _none_batch(o):
        return _with_batch(o, batch)

    # A symbolic call changes no state (as in Keras, where assignments inside a symbolic call
    # do nothing): what the probes write into the layer's non-trainable and metric variables
    # (a counter, a running mean) is undone.
    # (and non-trainable variables the probes create are reset to their initial values)
    free = _free_count((inputs, args, kwargs))
    _inferring[0] += 1
    try:
        with no_grad(), undo_state_changes(layer):
            if free:
                try:
                    out = run(_SMALL_PROBE_SIZES[0])
                    shapes = _agree(_none_batch(out), _none_batch(run(_SMALL_PROBE_SIZES[1])))
                except Exception:  # noqa: BLE001 (too small for the layer: the large sizes decide)
                    shapes = None
                if shapes is not None and _free_count_of_shapes(shapes) >= free:
                    return out, shapes
            try:
                out = run(_PROBE_SIZES[0])
                shapes = _none_batch(out)
                if free:
                    shapes = _agree(shapes, _none_batch(run(_PROBE_SIZES[1])))
            except Exception as large_error:
                if not free:
                    raise
                # Some layers take only short lengths (a position embedding of 20 rows
                # indexed by arange(length)): the tiny probes decide then.
                try:
                    out = run(_TINY_PROBE_SIZES[0])
                    shapes = _agree(_none_batch(out), _none_batch(run(_TINY_PROBE_SIZES[1])))
                except Exception:  # noqa: BLE001 (the layer fails at every size: say why)
                    raise large_error from None
    finally:
        _inferring[0] -= 1
    return out, shapes


def _free_count(x) -> int:
    """The most free (None) non-batch dimensions any symbolic input has."""
    return max((sum(d is None for d in t.shape[1:]) for t in _symbolic_leaves(x)), default=0)


def _free_count_of_shapes(shapes) -> int:
    """The fewest free non-batch dimensions among the inferred output shapes."""
    if isinstance(shapes, list):
        return min((_free_count_of_shapes(s) for s in shapes), default=0)
    return sum(d is None for d in shapes[1:])


class undo_state_changes:
    """`with undo_state_changes(layer):` restores, after the block, the layer's non-trainable
    and metric variables, and gives the non-trainable variables created in the block their
    initial values back."""

    def __init__(self, layer):
        self.layer = layer

    def __enter__(self):
        from fastkeras.backend import variable as variable_mod
        variables = list(getattr(self.layer, "non_trainable_weights", []))
        try:
            metric_variables = self.layer.metrics_variables
        except (AttributeError, TypeError, ValueError):  # a model's metrics not set up yet
            metric_variables = []
        variables += metric_variables
        # the states stateful RNNs carry from call to call, and the seed generators layers
        # draw from (Keras's symbolic calls draw nothing)
        from fastkeras.random import SeedGenerator
        for sub in getattr(self.layer, "_all_layers", lambda: [self.layer])():
            states = sub.__dict__.get("states") if getattr(sub, "stateful", False) else None
            if states is not None:
                variables += [v for v in _flat(states) if isinstance(v, variable_mod.Variable)]
            variables += [v.state for v in sub.__dict__.values() if isinstance(v, SeedGenerator)]
        self.saved = [(v, np.array(v.value, copy=True)) for v in variables]
        self.created = []
        variable_mod.CREATION_LOGS.append(self.created)
        return self

    def __exit__(self, *exc):
        from fastkeras.backend import variable as variable_mod
        logs = variable_mod.CREATION_LOGS
        del logs[next(i for i in range(len(logs) - 1, -1, -1) if logs[i] is self.created)]
        for v, value in self.saved + self.created:
            v.assign(value)
        return False


class _Unbuilt:
    """The layers of `layer` (itself included) not built yet, as they are: a failed symbolic
    call's probes may build them for a probe's sizes, which `restore()` undoes, so they stay
    unbuilt as in Keras (and can still be called on other inputs)."""

    def __init__(self, layer):
        self.states = [(sub, dict(sub.__dict__), len(sub._own_weights), len(sub._tracked_layers))
                       for sub in layer._all_layers() if not sub.built]

    def restore(self):
        for sub, attributes, weights, layers in self.states:
            del sub._own_weights[weights:]  # (the same lists as in `attributes`)
            del sub._tracked_layers[layers:]
            sub.__dict__.clear()
            sub.__dict__.update(attributes)


def symbolic_call(layer, inputs, args, kwargs):
    """Calling a layer on KerasTensors: infer the output shape (building the layer on probe
    batches) and return KerasTensors that remember the call."""
    was_built, built_for = layer.built, layer._build_input_shape
    unbuilt = None if was_built else _Unbuilt(layer)
    try:
        if not was_built and isinstance(inputs, KerasTensor) and _is_sequential(layer):
            layer.build(inputs.shape)  # its Input then keeps the free dims, not a probe's
        out, shapes = infer_call(layer, inputs, args, kwargs)
        from fastkeras.layers.layer import clear_call_losses
        clear_call_losses(layer)  # the probes' losses are not the model's (Keras's: none yet)
    except ValueError as e:
        built = (f" (it was built for input shape {_fmt(built_for)})"
                 if was_built and built_for is not None else "")
        if not was_built and layer.built and _free_count((inputs, args, kwargs)) and \
                "is incompatible with the layer" in str(e):
            # built on one probe's sizes, its input spec refused another's: its weights
            # follow a size the input leaves free
            e = ValueError("its weights' shapes would depend on a dimension that is None "
                           "there. Shapes used to initialize variables must be fully-defined "
                           "(no `None` dimensions).")
        if unbuilt is not None:
            unbuilt.restore()
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) cannot be called on "
                         f"input shape {_fmt(_shapes(inputs))}, {_sources(inputs)}{built}: "
                         f"{e}") from e
    layer._output_shape = shapes
    if not was_built:  # built on probe batches: record the symbolic shape
        layer._record_build_shapes(_shapes(inputs), _shapes(tuple(args)),
                                   {k: _shapes(v) for k, v in kwargs.items()
                                    if _symbolic_leaves(v)})
    node = Node(layer, inputs, kwargs, args)
    layer._inbound_nodes.append(node)

    def wrap(o, shape, i):
        out = KerasTensor(shape, dtype=str(o.dtype), name=layer.name, layer=layer,
                          inputs=inputs, index=i, node=node)
        mask = getattr(o, "_keras_mask", None)
        if mask is not None:
            # the mask's own sizes (a TimeDistributed LSTM keeps its input's (batch, steps,
            # words) mask), free where the output's matching axis is free
            dims = np.shape(mask)
            mask_shape = tuple(None if i < len(shape) and shape[i] is None else int(dims[i])
                               for i in range(1, len(dims)))
            out._keras_mask = KerasTensor((None,) + mask_shape, dtype="bool",
                                          name=f"{layer.name}_mask")
        return out

    if isinstance(out, (list, tuple)):
        # Nested outputs (an RNN over stacked cells returns its states as a list per cell)
        # are numbered in flattened order, as Keras numbers a call's outputs.
        counter = iter(range(1 << 30))

        def wrap_all(o, shape):  # a tuple stays a tuple, as in Keras
            if isinstance(o, (list, tuple)):
                wrapped = [wrap_all(v, s) for v, s in zip(o, shape)]
                return tuple(wrapped) if isinstance(o, tuple) else wrapped
            return wrap(o, shape, next(counter))

        node.outputs = wrap_all(out, shapes)
    else:
        node.outputs = wrap(out, shapes, 0)
    return node.outputs


def flat_outputs(out) -> list:
    """A call's outputs in the flattened order their KerasTensors are numbered by."""
    if isinstance(out, (list, tuple)):
        return [leaf for o in out for leaf in flat_outputs(o)]
    return [out]


def _is_sequential(layer) -> bool:
    from fastkeras.models.sequential import Sequential
    return isinstance(layer, Sequential)


def _with_batch(o, batch):
    """The probe outputs' shapes with the batch axis `batch` (None: any batch size)."""
    if isinstance(o, (list, tuple)):
        return [_with_batch(v, batch) for v in o]
    return (batch,) + tuple(o.shape[1:])


def _static_batch(x):
    """The batch size all symbolic inputs declare, or None (any, or they differ)."""
    sizes = {t.shape[0] for t in _symbolic_leaves(x) if t.shape}
    return sizes.pop() if len(sizes) == 1 and None not in sizes else None


def _shapes(x):
    if isinstance(x, KerasTensor):
        return x.shape
    if isinstance(x, (list, tuple)):
        return [_shapes(v) for v in x]
    if isinstance(x, dict):
        return {k: _shapes(v) for k, v in x.items()}
    return getattr(x, "shape", x)


def _fmt(shape):
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return "[" + ", ".join(_fmt(s) for s in shape) + "]"
    return str(tuple(shape)) if isinstance(shape, (list, tuple)) else str(shape)


def _sources(inputs):
    """'the output of layer 'dense' (Dense) with shape (None, 4)' for each symbolic input."""
    parts = []
    for t in _flat(inputs):
        if isinstance(t, KerasTensor) and t._layer is not None:
            parts.append(f"layer '{t._layer.name}' ({type(t._layer).__name__}) with shape "
                         f"{_fmt(t.shape)}")
    if not parts:
        return "from non-symbolic inputs"
    return "the output of " + " and ".join(parts)


def _flat(x):
    if isinstance(x, dict):
        return [v for k in x for v in _flat(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flat(item)]
    return [x]


def sorted_keys(d) -> list:
    """A dict's keys in the order Keras flattens it: sorted (as given when they do not
    sort)."""
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def _symbolic_leaves(x):
    """The KerasTensors anywhere in a nested structure (other values are skipped)."""
    if isinstance(x, KerasTensor):
        return [x]
    if isinstance(x, dict):  # in sorted key order, as Keras walks a dict argument
        return [t for k in sorted_keys(x) for t in _symbolic_leaves(x[k])]
    if isinstance(x, (list, tuple)):
        return [t for item in x for t in _symbolic_leaves(item)]
    return []
