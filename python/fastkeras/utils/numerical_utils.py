"""One-hot encoding of class labels and norm-scaling of arrays (numpy in, numpy out)."""

from __future__ import annotations

import numpy as np


def _as_numpy(x) -> np.ndarray:
    # Tensors and Variables expose `__array__`; anything array-like goes through numpy.
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(x)


def to_categorical(x, num_classes=None) -> np.ndarray:
    """Turns integer class labels into one-hot rows.

    Args:
        x: array-like of integer labels in ``[0, num_classes)``, of any shape. A trailing
            axis of size 1 (labels shaped ``(n, 1)``) is dropped first, so ``(n, 1)`` and
            ``(n,)`` both give ``(n, num_classes)``.
        num_classes: how many classes. ``None`` means ``max(x) + 1``.

    Returns:
        As Keras: a float64 numpy array of shape ``x.shape + (num_classes,)`` (after the
        squeeze above) holding 1.0 at each label's position and 0.0 elsewhere; for a tensor
        input, a float32 tensor.

    Raises:
        ValueError: a label is negative, not a whole number, or ``>= num_classes``; or
            ``num_classes`` is not a positive integer.

    >>> to_categorical([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    labels = _as_numpy(x)
    if labels.dtype == np.bool_:
        labels = labels.astype(np.int64)
    if labels.dtype.kind == "f":
        if labels.size and not np.all(np.isfinite(labels) & (labels == np.floor(labels))):
            raise ValueError("to_categorical: labels must be whole numbers; received "
                             f"non-integer values such as {labels[labels != np.floor(labels)][:3]}")
        labels = labels.astype(np.int64)
    elif labels.dtype.kind not in "iu":
        try:
            labels = labels.astype(np.int64)
        except (TypeError, ValueError) as exc:
            raise ValueError("to_categorical: expected integer class labels, received an array "
                             f"of dtype {labels.dtype}") from exc
    else:
        labels = labels.astype(np.int64, copy=False)

    out_shape = labels.shape
    if len(out_shape) > 1 and out_shape[-1] == 1:
        out_shape = out_shape[:-1]
    flat = labels.reshape(-1)

    if isinstance(num_classes, (bool, np.bool_)) or not (
            num_classes is None or isinstance(num_classes, (int, np.integer))):
        raise ValueError(f"to_categorical: num_classes must be a positive integer, received "
                         f"num_classes={num_classes!r}")
    if not num_classes:  # None or 0: infer from the labels, as Keras does
        if flat.size == 0:
            raise ValueError("to_categorical: cannot infer num_classes from an empty label "
                             "array; pass num_classes")
        num_classes = int(flat.max()) + 1
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be a positive integer, received "
                         f"num_classes={num_classes}")

    if flat.size:
        lo, hi = int(flat.min()), int(flat.max())
        if lo < 0:
            raise ValueError(f"to_categorical: labels must be >= 0; found label {lo}")
        if hi >= num_classes:
            raise ValueError(f"to_categorical: label {hi} is out of range for "
                             f"num_classes={num_classes} (labels must be < num_classes)")

    from fastkeras.backend.tape import Tensor
    from_tensor = isinstance(x, Tensor)
    onehot = np.zeros((flat.size, num_classes), dtype=np.float32 if from_tensor else np.float64)
    onehot[np.arange(flat.size), flat] = 1.0
    onehot = onehot.reshape(tuple(out_shape) + (num_classes,))
    return Tensor(onehot) if from_tensor else onehot


def normalize(x, axis=-1, order=2):
    """Divides ``x`` by its ``order``-norm along ``axis`` (norms of 0 are left alone).

    Args:
        x: array-like (numpy array or fastkeras tensor).
        axis: the axis the norm is taken over. Defaults to the last one.
        order: the norm order, as ``numpy.linalg.norm``'s ``ord`` (2: Euclidean, 1: sum of
            absolute values, ``numpy.inf``: largest absolute value).

    Returns:
        For a numpy array, a new numpy array of the same shape (floating inputs keep their
        dtype; integer inputs come back as float64, as numpy's division gives). Anything else
        (a tensor, a list) gives a tensor, as Keras's `ops.normalize` does.
    """
    if not isinstance(x, np.ndarray):
        from fastkeras import ops
        return ops.normalize(x, axis=-1 if axis is None else axis, order=order)
    arr = x
    if axis is None:
        axis = -1
    norm = np.linalg.norm(arr, ord=order, axis=axis, keepdims=True)
    norm = np.where(norm == 0, np.ones_like(norm), norm)
    out = arr / norm
    if arr.dtype.kind == "f":
        out = out.astype(arr.dtype, copy=False)
    return out
