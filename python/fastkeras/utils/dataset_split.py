"""`split_dataset`: a left/right (e.g. train/test) split of in-memory samples.

Keras returns two `tf.data.Dataset`s; fastkeras returns two `ArrayDataset`s, `PyDataset`s over
numpy arrays that `fit`/`evaluate`/`predict` read directly and a `for` loop iterates.
"""

from __future__ import annotations

import random

import numpy as np

from fastkeras.trainers.py_dataset import PyDataset

# Batch size `fit`/`evaluate`/`predict` read an unbatched ArrayDataset with (Keras's default).
DEFAULT_READ_BATCH_SIZE = 32


class ArrayDataset(PyDataset):
    """Samples held as numpy arrays: `data` is one array (each sample a row) or a tuple of
    arrays of equal length (each sample a tuple, e.g. `(x, y)` or `(x, y, sample_weight)`).

    Like the unbatched `tf.data.Dataset` Keras returns, `for sample in ds` yields one sample at
    a time until `ds.batch(n)` gives a dataset that yields batches of `n`. `fit`, `evaluate`
    and `predict` read batches in either case: of `batch_size`, or of 32 samples when
    unbatched; `len(ds)` and `ds[i]` follow those batches (the PyDataset protocol), while
    `ds.cardinality()` is the number of elements a `for` loop yields and `ds.num_samples` the
    number of samples. The order is fixed (`fit(shuffle=True)` does not reorder it), as Keras
    reads a `tf.data.Dataset`.
    """

    _keeps_batch_order = True

    def __init__(self, data, batch_size=None):
        super().__init__()
        self.data = data
        self.batch_size = None if batch_size is None else int(batch_size)
        if self.batch_size is not None and self.batch_size <= 0:
            raise ValueError(f"`batch_size` must be a positive integer. "
                             f"Received: batch_size={batch_size}")

    @property
    def num_samples(self):
        return len(self.data[0] if isinstance(self.data, tuple) else self.data)

    def _take(self, index):
        if isinstance(self.data, tuple):
            return tuple(a[index] for a in self.data)
        return self.data[index]

    def batch(self, batch_size):
        """The same samples in batches of `batch_size` (the last one may be smaller)."""
        return ArrayDataset(self.data, batch_size)

    def cardinality(self):
        """Elements a `for` loop yields: batches, or samples when unbatched."""
        if self.batch_size is None:
            return self.num_samples
        return len(self)

    def __len__(self):
        size = self.batch_size or DEFAULT_READ_BATCH_SIZE
        return (self.num_samples + size - 1) // size

    def __getitem__(self, index):
        n = len(self)
        if not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise IndexError(f"Batch index {index} is out of range for a dataset of {n} "
                             "batches.")
        size = self.batch_size or DEFAULT_READ_BATCH_SIZE
        start = (int(index) % n) * size
        return self._take(slice(start, start + size))

    def __iter__(self):
        self.on_epoch_begin()
        if self.batch_size is None:
            for i in range(self.num_samples):
                yield self._take(i)
        else:
            for i in range(len(self)):
                yield self[i]
        self.on_epoch_end()

    def __repr__(self):
        unit = "unbatched" if self.batch_size is None else f"batches of {self.batch_size}"
        return f"<ArrayDataset: {self.num_samples} samples, {unit}>"


def _as_sample_arrays(dataset):
    """(arrays, structure, batch_size): the samples of `dataset` as a tuple of equal-length
    arrays, `structure` "array" (one array) or "tuple", and the batch size to keep."""
    if isinstance(dataset, (tuple, list)):
        kind = "tuple" if isinstance(dataset, tuple) else "list"
        if len(dataset) == 0:
            raise ValueError(f"Received an empty {kind} as `dataset`: pass a non-empty {kind} "
                             "of NumPy arrays.")
        for i, element in enumerate(dataset):
            if not isinstance(element, np.ndarray):
                raise ValueError(f"Expected a {kind} of `numpy.ndarray` objects; received "
                                 f"{type(element)} at index {i}.")
            if element.shape[:1] != dataset[0].shape[:1]:
                raise ValueError(f"Received a {kind} of NumPy arrays with different lengths: "
                                 f"the array at index {i} has shape {element.shape}, the first "
                                 f"{dataset[0].shape}. All arrays need the same length.")
        arrays, structure, batch_size = tuple(dataset), "tuple", None
    elif isinstance(dataset, np.ndarray):
        arrays, structure, batch_size = (dataset,), "array", None
    elif isinstance(dataset, ArrayDataset):
        structure = "tuple" if isinstance(dataset.data, tuple) else "array"
        arrays = dataset.data if structure == "tuple" else (dataset.data,)
        batch_size = dataset.batch_size
    elif isinstance(dataset, PyDataset) and getattr(dataset, "batch_size", "?") is None:
        # An unbatched PyDataset (e.g. timeseries windows with batch_size=None): its items.
        items = [dataset[i] for i in range(len(dataset))]
        structure = "tuple" if items and isinstance(items[0], tuple) else "array"
        if structure == "tuple":
            arrays = tuple(np.stack(parts) for parts in zip(*items))
        else:
            arrays = (np.stack(items),) if items else (np.empty((0,)),)
        batch_size = None
    elif isinstance(dataset, PyDataset):
        # A batched PyDataset: its batches joined, the splits batched like the first batch.
        batches = [dataset[i] for i in range(len(dataset))]
        if not batches:
            raise ValueError("Received an empty dataset: `dataset` yields no batches.")
        batches = [tuple(b) if isinstance(b, list) else b for b in batches]
        structure = "tuple" if isinstance(batches[0], tuple) else "array"
        if structure == "tuple":
            arrays = tuple(np.concatenate([np.asarray(p) for p in parts])
                           for parts in zip(*batches))
        else:
            arrays = (np.concatenate([np.asarray(b) for b in batches]),)
        first = batches[0][0] if structure == "tuple" else batches[0]
        batch_size = len(np.asarray(first))
    else:
        raise TypeError("The `dataset` argument must be a NumPy array, a list/tuple of NumPy "
                        "arrays or a `keras.utils.PyDataset`. "
                        f"Received: dataset={dataset!r} of type {type(dataset)}")
    if len(arrays[0]) == 0:
        raise ValueError("Received an empty dataset. Argument `dataset` must be a non-empty "
                         "NumPy array, list/tuple of NumPy arrays or dataset.")
    return arrays, structure, batch_size


def _split_sizes(left_size, right_size, total):
    """(left, right) sample counts from fractions or counts, checked as Keras checks them."""
    left_type, right_type = type(left_size), type(right_size)
    left_bad = left_size is not None and left_type not in (int, float)
    right_bad = right_size is not None and right_type not in (int, float)
    if left_bad and right_bad:
        raise TypeError("Invalid `left_size` and `right_size` types. Expected: int or float or "
                        f"None. Received: type(left_size)={left_type} and "
                        f"type(right_size)={right_type}")
    if left_bad:
        raise TypeError("Invalid `left_size` type. Expected: int or float or None. "
                        f"Received: type(left_size)={left_type}.")
    if right_bad:
        raise TypeError("Invalid `right_size` type. Expected: int or float or None. "
                        f"Received: type(right_size)={right_type}.")
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the split "
                         "sizes must be non-zero.")
    for name, size, kind in (("left_size", left_size, left_type),
                             ("right_size", right_size, right_type)):
        if (kind is int and not 0 < size < total) or (kind is float and not 0 < size < 1):
            raise ValueError(f"`{name}` should be either a positive integer smaller than "
                             f"{total}, or a float within the range `[0, 1]`. "
                             f"Received: {name}={size}")
    if left_type is float and right_type is float and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must "
                         "be less than or equal to 1.")
    left = round(left_size * total) if left_type is float else left_size
    right = round(right_size * total) if right_type is float else right_size
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError("The sum of `left_size` and `right_size` should be smaller than the "
                         f"{total}. Received: left_size + right_size = {left + right} and "
                         f"total_length = {total}")
    for size, side in ((left, "left"), (right, "right")):
        if size == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and "
                             f"`right_size`={right}. Resulting {side} side dataset split will "
                             "be empty. Adjust any of the aforementioned parameters")
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split samples into a left and a right dataset (e.g. train / test).

    Args:
        dataset: a NumPy array (samples along axis 0), a list or tuple of NumPy arrays of the
            same length (sample `i` is the tuple of their rows `i`), or a finite
            `keras.utils.PyDataset` (its batches are joined, and the splits keep its batch
            size).
        left_size: a float in `(0, 1)`, the fraction of the samples for the left split, or an
            int, their number; None for all the samples `right_size` leaves.
        right_size: the same for the right split, whose samples are the last ones. When both
            sizes are given and leave samples over, those in between are in neither split.
        shuffle: shuffle the samples before splitting.
        seed: int seed of the shuffle (the permutation is the one Keras draws with Python's
            `random.seed(seed); random.shuffle(...)`, without touching the global generator).

    Returns:
        `(left, right)`, two `ArrayDataset`s (`keras.utils.PyDataset`s). `fit(left)`,
        `evaluate(right)`, `predict(...)` take them directly (unbatched ones are read in
        batches of 32; `left.batch(64)` sets the batch size); `for sample in left` yields
        samples (`(x_i, y_i)` for a tuple or list of arrays), or batches after `.batch(n)`;
        `left.data` is the split's arrays (an array, or a tuple of arrays for a list/tuple).
    """
    if not isinstance(dataset, (tuple, list, np.ndarray, PyDataset)):
        raise TypeError("The `dataset` argument must be a NumPy array, a list/tuple of NumPy "
                        "arrays or a `keras.utils.PyDataset`. "
                        f"Received: dataset={dataset!r} of type {type(dataset)}")
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. "
                         "Received: left_size=None and right_size=None")
    arrays, structure, batch_size = _as_sample_arrays(dataset)
    total = len(arrays[0])
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.Random(seed).shuffle(order)
    left, right = _split_sizes(left_size, right_size, total)
    order = np.asarray(order, dtype=np.int64)

    def part(indices):
        taken = tuple(a[indices] for a in arrays)
        return ArrayDataset(taken if structure == "tuple" else taken[0], batch_size)

    return part(order[:left]), part(order[total - right:])
