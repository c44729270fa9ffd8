"""Variables: the model's weights and the optimizer's state, stored as float32 numpy arrays
that the C++ kernels update in place."""

from __future__ import annotations

import numpy as np

from fastkeras.backend.tape import Tensor

# While a symbolic call probes a layer: the non-trainable variables created meanwhile, with
# their initial values (the probes' changes to them are undone afterwards).
CREATION_LOGS: list = []

# The active StatelessScopes (fastkeras.StatelessScope), innermost last: a write to a variable
# inside one is noted by it first (it restores the variable when it exits).
STATELESS_SCOPES: list = []


class Variable(Tensor):
    """A named, mutable float32 array: a leaf of the autodiff graph.

    `value` is the storage itself (C-contiguous float32); optimizers update it in place, so
    references to it stay valid. `assign` copies new data into it.
    """

    __slots__ = (
        "_declared_trainable",
        "_grad_buffer",
        "_grad_pass",
        "aggregation",
        "autocast",
        "constraint",
        "name",
        "overwrite_with_gradient",
        "path",
        "regularizer",
        "synchronization",
    )

    def __array__(self, dtype=None, copy=None):
        # As Keras: np.asarray(variable) is a snapshot, unchanged by later updates (only
        # copy=False asks for the storage itself).
        if copy is False:
            return np.asarray(self.value, dtype=dtype)
        return np.array(self.value, dtype=dtype)

    def __init__(self, initializer=None, shape=None, dtype=None, trainable: bool = True,
                 autocast: bool = True, aggregation: str = "none", synchronization: str = "auto",
                 name: str | None = None, path: str | None = None, **kwargs):
        """Keras's `Variable(initializer, shape=None, dtype=None, trainable=True, ...)`: the
        initial value (an array, tensor or number), or an initializer (a name or callable)
        together with `shape`. Without `dtype`, an array keeps its dtype and Python numbers
        become float32 / int32 / bool."""
        # (other keyword arguments are backend-specific in Keras, which ignores them here)
        if aggregation not in (None, "none", "mean", "sum", "only_first_replica"):
            raise ValueError("Invalid value for argument `aggregation`. Expected one of "
                             "`None`, `'none'`, `'mean'`, `'sum'`, `'only_first_replica'`. "
                             f"Received: aggregation={aggregation}")
        if synchronization not in (None, "none", "on_read", "on_write", "auto"):
            raise ValueError("Invalid value for argument `synchronization`. Expected one of "
                             "`None`, `'none'`, `'on_read'`, `'on_write'`, `'auto'`. "
                             f"Received: synchronization={synchronization}")
        if dtype is not None:
            from fastkeras.backend.config import np_dtype
            dtype = np_dtype(dtype)
        if isinstance(initializer, str) or (callable(initializer)
                                            and not isinstance(initializer, Tensor)):
            if shape is None:
                raise ValueError("When creating a Variable from an initializer, the `shape` "
                                 f"argument should be specified. Received: "
                                 f"initializer={initializer!r} and shape={shape}")
            from fastkeras import initializers
            value = initializers.get(initializer)(tuple(shape), dtype=dtype or "float32")
            dtype = dtype or "float32"
        else:
            if initializer is None:
                raise ValueError("Variable() needs an initial value or an initializer "
                                 "(with `shape`). Received: initializer=None")
            value = initializer.value if isinstance(initializer, Tensor) else initializer
            if dtype is None:
                dtype = _value_dtype(value)
        arr = np.array(value, dtype=dtype, copy=True, order="C")
        if shape is not None and tuple(arr.shape) != tuple(shape):
            raise ValueError(f"Initial value has shape {arr.shape}, but the `shape` argument "
                             f"is {tuple(shape)}")
        super().__init__(arr, requires_grad=trainable)
        if not name:  # as Keras: unnamed variables are 'variable', 'variable_1', ...
            from fastkeras.layers.layer import unique_name
            name = unique_name("variable")
        if not isinstance(name, str) or "/" in name:
            raise ValueError("Argument `name` must be a string and cannot contain character "
                             f"`/`. Received: name={name!r}")
        self.name = name
        if path is None:  # a variable made inside `name_scope(...)` is named under it, as Keras
            import fastkeras
            scopes = fastkeras._NAME_SCOPES
            path = "/".join(scopes + [name]) if scopes else name
        self.path = path
        self.trainable = trainable
        self.autocast = bool(autocast)
        self.aggregation = aggregation or "none"
        self.synchronization = synchronization or "none"
        self.overwrite_with_gradient = False
        self._grad_buffer = None
        self._grad_pass = -1
        self.regularizer = None
        self.constraint = None
        if CREATION_LOGS and not trainable:
            CREATION_LOGS[-1].append((self, arr.copy()))

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.requires_grad = bool(value)

    def assign(self, value) -> Variable:
        if STATELESS_SCOPES:
            STATELESS_SCOPES[-1]._touch(self)
        return self._assign_value(value)

    def _assign_value(self, value) -> Variable:
        """`assign` without telling an active StatelessScope (the scope's own writes)."""
        arr = np.asarray(value.value if isinstance(value, Tensor) else value)
        if arr.dtype.kind in "USO" and self.value.dtype.kind not in "USO":
            # as Keras: text is not a number ("1.5" is not silently parsed)
            raise ValueError(f"Invalid dtype: {arr.dtype} (assigning to variable "
                             f"'{self.path}' of dtype {self.value.dtype})")
        if arr.shape != self.value.shape:
            raise ValueError(f"Variable '{self.path}' has shape {self.value.shape}; cannot assign "
                             f"a value of shape {arr.shape}")
        # As Keras: a value of another kind is cast (2.0 into an int counter gives 2).
        same_kind = arr.dtype.kind == "f" and self.value.dtype.kind == "f"
        np.copyto(self.value, arr, casting="same_kind" if same_kind else "unsafe")
        return self

    def assign_add(self, delta) -> Variable:
        if STATELESS_SCOPES:
            STATELESS_SCOPES[-1]._touch(self)
        d = np.asarray(getattr(delta, "value", delta))
        if d.dtype.kind == "f" and self.value.dtype.kind != "f":
            # as Keras (assign(self + delta)): the sum in floats, then cast to the variable's type
            self._assign_value(np.broadcast_to(self.value + d, self.value.shape))
        else:
            self.value += d.astype(self.value.dtype, copy=False)
        return self

    def assign_sub(self, delta) -> Variable:
        d = np.asarray(getattr(delta, "value", delta))
        return self.assign_add(-d if d.dtype.kind in "fi" else d * -1)

    def grad_buffer(self, pass_id: int) -> np.ndarray:
        """A gradient-sized buffer owned by this variable, reused across steps so the backward
        pass does not allocate weight-sized arrays. Within one backward pass (`pass_id`) it is
        handed out once; a second request (a weight used twice) gets a fresh array."""
        if self._grad_pass == pass_id or self._grad_buffer is None:
            fresh = np.empty_like(self.value)
            if self._grad_buffer is None:
                self._grad_buffer = fresh
                self._grad_pass = pass_id
            return fresh
        self._grad_pass = pass_id
        return self._grad_buffer

    def __repr__(self):
        # as Keras prints it: one value as a Python number, an array as numpy prints it
        value = self.value.item() if self.value.ndim == 0 else self.value
        return (f"<Variable path={self.path}, shape={self.value.shape}, dtype={self.value.dtype}, "
                f"value={value}>")

    __str__ = __repr__  # print(variable) shows its path too, as Keras's


def _value_dtype(value):
    """The dtype a Variable keeps for an initial value given without one (as Keras: arrays
    keep theirs, Python floats, ints and bools become float32, int32 and bool)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    if isinstance(value, bool):
        return np.bool_
    if isinstance(value, int):
        return np.int32
    if isinstance(value, float):
        return np.float32
    kind = np.asarray(value).dtype.kind
    return {"b": np.bool_, "i": np.int32, "u": np.uint32}.get(kind, np.float32)
