"""Data that `fit`, `evaluate` and `predict` read batch by batch: a `PyDataset` (Keras's
`keras.utils.PyDataset`, also `Sequence`) or a Python generator.

Each batch is `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`, as in Keras.
"""

from __future__ import annotations

import random
import types
import warnings


class PyDataset:
    """Base class for datasets that hand out whole batches: implement `__getitem__(index)`
    (batch `index`) and `__len__` (the number of batches per epoch), or `num_batches` (None for
    an endless dataset); `on_epoch_begin`/`on_epoch_end` run around every epoch (e.g. to
    reshuffle). `workers`, `use_multiprocessing` and `max_queue_size` are kept for
    compatibility; batches are read in the training thread."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self):
        if not hasattr(self, "_workers"):
            self._workers, self._use_multiprocessing, self._max_queue_size = 1, False, 10
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in "
                          "its constructor. `**kwargs` can include `workers`, "
                          "`use_multiprocessing`, `max_queue_size`.", stacklevel=3)

    workers = property(lambda self: self._workers,
                       lambda self, v: setattr(self, "_workers", v))
    use_multiprocessing = property(lambda self: self._use_multiprocessing,
                                   lambda self, v: setattr(self, "_use_multiprocessing", v))
    max_queue_size = property(lambda self: self._max_queue_size,
                              lambda self, v: setattr(self, "_max_queue_size", v))

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement `__getitem__(index)`, "
                                  "returning batch `index`.")

    @property
    def num_batches(self):
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must implement `__len__` or the "
                                  "`num_batches` property (None for an endless dataset).")

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


Sequence = PyDataset


def is_batch_source(x) -> bool:
    """Whether `x` hands out batches itself (a PyDataset or a generator)."""
    return isinstance(x, (PyDataset, types.GeneratorType))


def unpack_batch(batch, what):
    """(x, y, sample_weight) of one batch."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if not 1 <= len(batch) <= 3:
        raise ValueError(f"Each batch of {what} must be x, (x,), (x, y) or (x, y, "
                         f"sample_weight); received a tuple of {len(batch)} elements.")
    return tuple(batch) + (None,) * (3 - len(batch))


class DatasetBatches:
    """A PyDataset's batches for one epoch per iteration (in a shuffled order when asked),
    with its epoch hooks."""

    def __init__(self, dataset, convert, shuffle=False, rng=None):
        dataset._warn_if_super_not_called()
        self.convert = convert
        self.dataset = dataset
        self.steps = dataset.num_batches
        # A dataset with `_keeps_batch_order = True` (a windowed time series, a split) is read
        # in its own order, as Keras reads a tf.data.Dataset whatever `shuffle` says.
        self.shuffle = (bool(shuffle) and self.steps is not None
                        and not getattr(dataset, "_keeps_batch_order", False))
        if shuffle and self.steps is None:
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` was "
                          "provided as an infinite PyDataset. The PyDataset is expected to "
                          "already be shuffled.", stacklevel=3)
        self.rng = rng

    def __iter__(self):
        self.dataset.on_epoch_begin()
        if self.steps is None:
            index = 0
            while True:
                yield self.convert(unpack_batch(self.dataset[index], "a PyDataset"))
                index += 1
        order = range(self.steps)
        if self.shuffle:  # as Keras: Python's `random` (which set_random_seed seeds) orders them
            order = list(order)
            random.shuffle(order)
        for index in order:
            yield self.convert(unpack_batch(self.dataset[int(index)], "a PyDataset"))

    def peek(self):
        """Reads the first batch of an epoch order of its own (drawing that order, as Keras
        does when it reads one batch to build the model's loss and metrics)."""
        if self.steps is None or self.steps < 1:
            return
        first = 0
        if self.shuffle:
            order = list(range(self.steps))
            random.shuffle(order)
            first = order[0]
        unpack_batch(self.dataset[first], "a PyDataset")

    def end_epoch(self):
        self.dataset.on_epoch_end()


class GeneratorBatches:
    """A generator's batches: every epoch continues where the last one stopped (a generator
    cannot restart), so an endless generator is read `steps_per_epoch` batches at a time."""

    def __init__(self, generator, convert, shuffle=False):
        self._it = generator
        self.convert = convert
        try:
            first = next(generator)
        except StopIteration:
            raise ValueError("The generator passed as `x` yields no data.") from None
        if not isinstance(first, tuple):
            raise ValueError("When passing a Python generator to a model, the generator must "
                             "return a tuple, either (input,) or (inputs, targets) or (inputs, "
                             f"targets, sample_weights). Received: {type(first).__name__}")
        self._pending = [first]
        self.steps = None
        if shuffle:
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` "
                          "was provided as a generator. The generator is expected to yield "
                          "already-shuffled data.", stacklevel=3)

    def __iter__(self):
        while True:
            if self._pending:
                batch = self._pending.pop()
            else:
                try:
                    batch = next(self._it)
                except StopIteration:
                    return
            yield self.convert(unpack_batch(batch, "a generator"))

    def end_epoch(self):
        pass


def batch_source(x, y, sample_weight, class_weight, shuffle, rng, to_arrays,
                 weights_from_labels, what="x"):
    """The batches of a PyDataset or generator `x` as numpy (x, y, sample_weight), with class
    weights folded into the sample weights; checks the arguments such data leaves unused (as
    Keras does)."""
    kind = "PyDataset" if isinstance(x, PyDataset) else "generator"
    for name, value, desc in (("y", y, "the targets"),
                              ("sample_weight", sample_weight, "the sample weights")):
        if value is not None:
            raise ValueError(f"When providing `{what}` as a {kind}, `{name}` should not be "
                             f"passed. Instead, {desc} should be included as part of the "
                             f"{kind}.")
    if class_weight is not None and kind == "generator":
        raise ValueError("Argument `class_weight` is not supported for Python generator "
                         f"inputs. Received: class_weight={class_weight}")

    def convert(batch):
        bx, by, bsw = (to_arrays(v) for v in batch)
        if class_weight is not None and by is not None:
            if bsw is not None:
                raise ValueError("You cannot use `class_weight` and `sample_weight` at the same "
                                 "time (this PyDataset's batches carry sample weights).")
            bsw = weights_from_labels(by, class_weight)
        return bx, by, bsw

    if kind == "PyDataset":
        return DatasetBatches(x, convert, shuffle=shuffle, rng=rng)
    return GeneratorBatches(x, convert, shuffle=shuffle)
