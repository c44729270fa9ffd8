"""Variables: the model's weights and the optimizer's state, stored as float32 numpy arrays
that the C++ kernels update in place."""

from __future__ import annotations

import numpy as np

from fastkeras.backend.tape import Tensor


class Variable(Tensor):
    """A named, mutable float32 array: a leaf of the autodiff graph.

    `value` is the storage itself (C-contiguous float32); optimizers update it in place, so
    references to it stay valid. `assign` copies new data into it.
    """

    __slots__ = (
        "_declared_trainable",
        "_grad_buffer",
        "_grad_pass",
        "constraint",
        "name",
        "path",
        "regularizer",
    )

    def __init__(self, value, name: str = "variable", trainable: bool = True, path: str | None = None,
                 dtype="float32"):
        arr = np.array(value, dtype=dtype, copy=True, order="C")
        super().__init__(arr, requires_grad=trainable)
        self.name = name
        self.path = path or name
        self.trainable = trainable
        self._grad_buffer = None
        self._grad_pass = -1
        self.regularizer = None
        self.constraint = None

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.requires_grad = bool(value)

    def assign(self, value) -> Variable:
        arr = np.asarray(value.value if isinstance(value, Tensor) else value)
        if arr.shape != self.value.shape:
            raise ValueError(f"Variable '{self.path}' has shape {self.value.shape}; cannot assign "
                             f"a value of shape {arr.shape}")
        np.copyto(self.value, arr, casting="same_kind" if arr.dtype.kind == "f" else "unsafe")
        return self

    def assign_add(self, delta) -> Variable:
        self.value += np.asarray(delta, dtype=self.value.dtype)
        return self

    def assign_sub(self, delta) -> Variable:
        self.value -= np.asarray(delta, dtype=self.value.dtype)
        return self

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
        return (f"<Variable path={self.path}, shape={self.value.shape}, dtype={self.value.dtype}, "
                f"value={self.value!r}>")
