"""Tensors and the tape: every op computes its value eagerly and, when gradients are being
recorded, remembers its inputs and how to send a gradient back to them.

An op is built with `make_op(value, parents, backward)`, where `backward(grad, needs)` gets the
gradient of the loss with respect to the op's output and a tuple saying which parents need a
gradient, and returns one array (or None) per parent. `gradients(loss, sources)` walks the
recorded graph backwards from `loss`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from typing import Callable

import numpy as np

_state = threading.local()


def grad_enabled() -> bool:
    """True while ops record what backward needs (inside a GradientTape / training step)."""
    return getattr(_state, "recording", 0) > 0


@contextlib.contextmanager
def no_grad():
    """Ops inside run without recording (inference)."""
    saved = getattr(_state, "recording", 0)
    _state.recording = 0
    try:
        yield
    finally:
        _state.recording = saved


class GradientTape:
    """Records ops while open: `with GradientTape() as tape: loss = ...` then
    `tape.gradient(loss, variables)`, as tf.GradientTape. The recorded graph stays until its
    tensors are dropped, so any tape may compute gradients more than once (`persistent` is
    accepted for tf's API). Gradients are first order: a gradient is an array, not a Tensor
    that records how it was computed."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = bool(persistent)
        self.watch_accessed_variables = bool(watch_accessed_variables)

    def __enter__(self):
        _state.recording = getattr(_state, "recording", 0) + 1
        return self

    def __exit__(self, *exc):
        _state.recording -= 1
        return False

    def gradient(self, target: Tensor, sources, output_gradients=None):
        """d target / d each source (a list, or one tensor), as tf.GradientTape.gradient;
        `output_gradients` weighs the target's elements (ones by default)."""
        if output_gradients is not None:
            output_gradients = np.asarray(getattr(output_gradients, "value", output_gradients),
                                          np.float32)
        if isinstance(sources, (list, tuple)):
            return gradients(target, list(sources), output_gradients)
        return gradients(target, [sources], output_gradients)[0]

    def watch(self, tensor):
        """Records the ops on `tensor` (a Tensor, or a list/tuple/dict of them) from now on,
        so that gradients with respect to it can be taken: variables are watched already,
        data (an input, an interpolated image) only once watched."""
        if isinstance(tensor, (list, tuple)):
            for t in tensor:
                self.watch(t)
        elif isinstance(tensor, dict):
            for t in tensor.values():
                self.watch(t)
        elif isinstance(tensor, Tensor):
            tensor.requires_grad = True
        else:
            raise TypeError("GradientTape.watch: only Tensors can be watched (convert data "
                            "with `ops.convert_to_tensor` first). Received: "
                            f"{type(tensor).__name__}")
        return tensor


class Tensor:
    """An array in the autodiff graph.

    `value` is a numpy array (float32 for floating data). A tensor made by an op while recording
    keeps its parents and backward function; a tensor made from data has neither.
    """

    __slots__ = (
        "__weakref__",
        "_backward",
        "_keras_logits",
        "_keras_logits_from",
        "_keras_mask",
        "_parents",
        "requires_grad",
        "value",
    )

    def __init__(self, value, parents: Sequence[Tensor] = (), backward: Callable | None = None,
                 requires_grad: bool = False):
        self.value = value
        self._parents = tuple(parents)
        self._backward = backward
        self.requires_grad = requires_grad
        self._keras_logits = None      # the logits a softmax/sigmoid output came from
        self._keras_logits_from = None  # "softmax" or "sigmoid"
        self._keras_mask = None

    # --- array-like surface ---
    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def ndim(self):
        return self.value.ndim

    def numpy(self) -> np.ndarray:
        return np.array(self.value, copy=True)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype=dtype)

    def __len__(self):
        return len(self.value)

    # A numpy operand on the left (`array - tensor`, `np.float32(2) * tensor`) hands the
    # operator to the Tensor, as numpy does for Keras's backend tensors, so the result is a
    # Tensor that records its gradient; other ufuncs (np.exp(tensor), ...) see the array.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = _UFUNC_OPS.get(ufunc.__name__) if method == "__call__" and not kwargs else None
        if name is not None and len(inputs) == 2:
            from fastkeras import ops
            return getattr(ops, name)(*inputs)
        inputs = tuple(x.value if isinstance(x, Tensor) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(x.value if isinstance(x, Tensor) else x for x in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __repr__(self):
        return f"Tensor({self.value}, shape={self.value.shape}, dtype={self.value.dtype})"

    def __str__(self):  # print("loss:", t) shows the values, as numpy prints them
        return str(self.value)

    def tolist(self):
        """The values as (nested) Python lists of Python numbers, or one number."""
        return self.value.tolist()

    # A tensor of one value, of any rank, converts to a Python number, as torch's and
    # TensorFlow's do (numpy 2 refuses arrays of rank > 0).
    def __float__(self):
        return float(self._one_value("float"))

    def __int__(self):
        return int(self._one_value("int"))

    def _one_value(self, kind):
        if self.value.size != 1:
            raise TypeError(f"Only tensors of a single element convert to a Python {kind}; "
                            f"received a tensor of shape {self.value.shape}")
        return self.value.reshape(())

    def __index__(self):  # `names[ops.argmax(p)]`, `range(t)`: integer tensors of one value
        if self.value.dtype.kind not in "iub":
            raise TypeError(f"Only integer tensors of a single element can be used as an "
                            f"index; received a {self.value.dtype} tensor")
        return int(self.value)

    def __format__(self, spec):  # f"{loss:.4f}" and f"{loss}" on a one-value tensor, as torch's
        if self.value.ndim == 0 or (spec and self.value.size == 1):
            return format(self.value.reshape(()).item(), spec)
        return format(str(self), spec)

    # Arithmetic goes through fastkeras.ops so it records gradients.
    def __add__(self, other):
        from fastkeras import ops
        return ops.add(self, other)

    def __radd__(self, other):
        from fastkeras import ops
        return ops.add(other, self)

    def __sub__(self, other):
        from fastkeras import ops
        return ops.subtract(self, other)

    def __rsub__(self, other):
        from fastkeras import ops
        return ops.subtract(other, self)

    def __mul__(self, other):
        from fastkeras import ops
        return ops.multiply(self, other)

    def __rmul__(self, other):
        from fastkeras import ops
        return ops.multiply(other, self)

    def __truediv__(self, other):
        from fastkeras import ops
        return ops.divide(self, other)

    def __rtruediv__(self, other):
        from fastkeras import ops
        return ops.divide(other, self)

    def __floordiv__(self, other):
        from fastkeras import ops
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        from fastkeras import ops
        return ops.floor_divide(other, self)

    def __mod__(self, other):
        from fastkeras import ops
        return ops.mod(self, other)

    def __rmod__(self, other):
        from fastkeras import ops
        return ops.mod(other, self)

    def __rpow__(self, other):
        from fastkeras import ops
        return ops.power(other, self)

    def __rmatmul__(self, other):
        from fastkeras import ops
        return ops.matmul(other, self)

    def __abs__(self):
        from fastkeras import ops
        return ops.abs(self)

    def __pos__(self):
        return self

    def __neg__(self):
        from fastkeras import ops
        return ops.negative(self)

    def __matmul__(self, other):
        from fastkeras import ops
        return ops.matmul(self, other)

    def __pow__(self, other):
        from fastkeras import ops
        return ops.power(self, other)

    def __getitem__(self, index):
        from fastkeras import ops
        return ops.getitem(self, index)

    # Comparisons and logic give boolean Tensors, `==` and `!=` too (element by element, as
    # Keras's backend tensors compare: the guides' metrics count `y_true == y_pred`). Tensors
    # stay hashable by identity, so they still work as dict keys.
    def __eq__(self, other):
        if other is None or isinstance(other, str):
            return NotImplemented
        from fastkeras import ops
        return ops.equal(self, other)

    def __ne__(self, other):
        if other is None or isinstance(other, str):
            return NotImplemented
        from fastkeras import ops
        return ops.not_equal(self, other)

    __hash__ = object.__hash__

    def __bool__(self):
        if self.value.size != 1:
            raise ValueError(f"The truth value of a Tensor with {self.value.size} elements is "
                             f"ambiguous (shape {self.value.shape}); use ops.any / ops.all.")
        return bool(self.value.reshape(()))

    def __lt__(self, other):
        from fastkeras import ops
        return ops.less(self, other)

    def __le__(self, other):
        from fastkeras import ops
        return ops.less_equal(self, other)

    def __gt__(self, other):
        from fastkeras import ops
        return ops.greater(self, other)

    def __ge__(self, other):
        from fastkeras import ops
        return ops.greater_equal(self, other)

    # &, |, ^ and ~ are bitwise on integer tensors (`~t` of int32 5 is -6) and logical on
    # booleans, as torch's and numpy's are; on floats they stay logical.
    def __and__(self, other):
        return _bitwise_or_logical("and", self, other)

    def __rand__(self, other):
        return _bitwise_or_logical("and", other, self)

    def __or__(self, other):
        return _bitwise_or_logical("or", self, other)

    def __ror__(self, other):
        return _bitwise_or_logical("or", other, self)

    def __xor__(self, other):
        return _bitwise_or_logical("xor", self, other)

    def __rxor__(self, other):
        return _bitwise_or_logical("xor", other, self)

    def __invert__(self):
        from fastkeras import ops
        if self.value.dtype.kind in "iu":
            return ops.bitwise_invert(self)
        return ops.logical_not(self)


def _bitwise_or_logical(kind, a, b):
    """a & b (kind "and"), a | b or a ^ b: bitwise when both are integers or booleans and not
    both booleans, logical otherwise."""
    from fastkeras import ops
    kinds = {np.asarray(x.value if isinstance(x, Tensor) else x).dtype.kind for x in (a, b)}
    if kinds <= set("iub") and kinds != {"b"}:
        return getattr(ops, f"bitwise_{kind}")(a, b)
    return getattr(ops, f"logical_{kind}")(a, b)


# The numpy ufuncs of the binary operators, by name, and the ops that record them.
_UFUNC_OPS = {"add": "add", "subtract": "subtract", "multiply": "multiply",
              "divide": "divide", "true_divide": "divide", "floor_divide": "floor_divide",
              "power": "power", "matmul": "matmul", "remainder": "mod", "less": "less", "less_equal": "less_equal",
              "greater": "greater", "greater_equal": "greater_equal", "equal": "equal",
              "not_equal": "not_equal"}


def convert_to_tensor(x, dtype=None) -> Tensor:
    """Wraps data (arrays, lists, scalars) as a constant Tensor; Tensors pass through."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype == np.float64 or arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif arr.dtype == np.int64 and not isinstance(x, (np.ndarray, np.generic)) and (
            arr.size == 0 or (arr.min() >= -2**31 and arr.max() < 2**31)):
        arr = arr.astype(np.int32)  # as Keras: Python ints are int32
    return Tensor(arr)


def make_op(value, parents: Sequence, backward: Callable) -> Tensor:
    """The output of an op: records (parents, backward) when recording and a parent needs it."""
    if grad_enabled():
        ps = tuple(parents)
        for p in ps:
            if isinstance(p, Tensor) and p.requires_grad:
                return Tensor(value, ps, backward, requires_grad=True)
    return Tensor(value)


def _topological_order(root: Tensor) -> list[Tensor]:
    """Nodes that need a gradient, inputs before the ops that use them."""
    order, seen = [], set()
    stack = [(root, iter(root._parents))]
    seen.add(id(root))
    while stack:
        node, parents = stack[-1]
        for p in parents:
            if isinstance(p, Tensor) and p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                stack.append((p, iter(p._parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


_pass_counter = [0]
_reuse = [False]
_in_place = [None]  # {id(variable): alpha} for the backward pass in progress, or None


class _UpdatedInPlace:
    """What a backward returns for a variable it has already stepped in place."""

    __slots__ = ()

    def __repr__(self):
        return "UPDATED_IN_PLACE"


UPDATED_IN_PLACE = _UpdatedInPlace()


def in_place_update_scale(variable):
    """alpha when the op differentiating `variable` may apply `variable += alpha * gradient`
    itself instead of returning the gradient (it then returns UPDATED_IN_PLACE), else None.

    Only the training loop asks for this (plain SGD), and only for variables the recorded
    graph uses once, so the gradient is complete where it is computed and no later backward
    step reads the variable."""
    table = _in_place[0]
    return None if table is None else table.get(id(variable))


def backward_pass_id() -> int:
    """Identifies the backward pass in progress (ops use it to reuse gradient buffers)."""
    return _pass_counter[0]


def reuse_gradient_buffers() -> bool:
    """True inside a training step's backward pass: weight gradients may then be written into
    buffers the variables own and reuse every step (the optimizer consumes them at once)."""
    return _reuse[0]


def weight_gradient_buffer(var) -> np.ndarray:
    """Where an op's backward writes a weight's float32 gradient: inside a training step, the
    buffer the variable reuses every step; otherwise a new array."""
    if reuse_gradient_buffers() and hasattr(var, "grad_buffer"):
        return var.grad_buffer(backward_pass_id())
    return np.empty(var.value.shape, np.float32)


def gradients(target: Tensor, sources: Iterable[Tensor], output_gradient=None,
              reuse_buffers: bool = False, in_place_updates=None) -> list:
    """d target / d source for each source (None where target does not depend on it).

    target is usually a scalar loss; output_gradient defaults to ones of target's shape.
    With reuse_buffers=True (the training loop) the returned weight gradients may be buffers
    that the next backward pass overwrites; by default every result is a fresh array.
    in_place_updates ({id(variable): alpha}, the training loop's plain SGD) lets ops step those
    variables, where the graph uses them once, by alpha * gradient as they compute it; their
    result is then UPDATED_IN_PLACE.
    """
    sources = list(sources)
    _pass_counter[0] += 1
    _reuse[0] = reuse_buffers
    try:
        # (an infinite or NaN gradient propagates quietly, as in Keras's backends)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _gradients(target, sources, output_gradient, in_place_updates)
    finally:
        _reuse[0] = False
        _in_place[0] = None


def _gradients(target, sources, output_gradient, in_place_updates=None):
    if not isinstance(target, Tensor) or not target.requires_grad:
        return [None] * len(sources)
    if output_gradient is None:
        output_gradient = np.ones_like(target.value, dtype=np.float32)
    grads = {id(target): np.asarray(output_gradient, dtype=np.float32)}
    wanted = {id(s) for s in sources}
    results = {}
    order = _topological_order(target)
    if in_place_updates:
        uses = dict.fromkeys(in_place_updates, 0)
        for node in order:
            for p in node._parents:
                if id(p) in uses:
                    uses[id(p)] += 1
        _in_place[0] = {k: a for k, a in in_place_updates.items() if uses[k] == 1}
    for node in reversed(order):
        key = id(node)
        g = grads.pop(key, None)
        if g is None:
            continue
        if key in wanted:
            results[key] = g
        backward = node._backward
        if backward is None:
            continue
        parents = node._parents
        needs = tuple([isinstance(p, Tensor) and p.requires_grad for p in parents])
        for p, pg, need in zip(parents, backward(g, needs), needs):
            if not need or pg is None:
                continue
            pkey = id(p)
            if pg is UPDATED_IN_PLACE:  # a single use: nothing to add it to
                grads[pkey] = pg
                continue
            prev = grads.get(pkey)
            # Never add in place into an array an op may still own; make a new one.
            grads[pkey] = pg if prev is None else prev + pg
    return [results.get(id(s)) for s in sources]
