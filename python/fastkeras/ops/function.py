"""Keras 3's `keras.Operation` (the base class of user-defined ops) and `keras.Function` (a
callable graph of operations between KerasTensors).

An Operation subclass defines `call` (the eager computation) and optionally
`compute_output_spec` (the output KerasTensor(s) for given KerasTensor inputs). Called on
arrays it runs `call`; called on KerasTensors it records a node in the graph, so it can be
used in functional models and Functions. Without `compute_output_spec` the output spec is
found by running `call` on two probe batches inside a StatelessScope and SymbolicScope (a
dimension that follows the batch size is None).

A Function is run by the same graph walk as a Functional model (`Functional._trace` and
`Functional.call`), without being a model: it has no weights of its own to track.
"""

from __future__ import annotations

import numpy as np

from fastkeras.layers.input_layer import KerasTensor, Node
from fastkeras.ops import symbolic as _symbolic


def _flatten(structure):
    if isinstance(structure, dict):
        return [v for value in structure.values() for v in _flatten(value)]
    if isinstance(structure, (list, tuple)):
        return [v for value in structure for v in _flatten(value)]
    return [structure]


def _any_symbolic(args, kwargs):
    return any(type(v) is KerasTensor for v in _flatten(list(args)) + _flatten(kwargs))


def _map(structure, fn):
    if isinstance(structure, dict):
        return {k: _map(v, fn) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(v, fn) for v in structure)
    return fn(structure)


class Operation(_symbolic.Operation):
    """Base class of a user-defined operation: override `call(*args, **kwargs)` and, if
    wanted, `compute_output_spec(*args, **kwargs)` (returning KerasTensor(s))."""

    def __init__(self, name=None):
        super().__init__(name=name)

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Operation {type(self).__name__} does not define call()")

    def __call__(self, *args, **kwargs):
        if _any_symbolic(args, kwargs):
            return self.symbolic_call(*args, **kwargs)
        return self.call(*args, **kwargs)

    def _probe_outputs(self, args, kwargs):
        """The outputs of `call` on probe arrays standing for the KerasTensors, with the
        unknown dimensions set to 2 and to 3."""
        from fastkeras.backend.scopes import StatelessScope, SymbolicScope
        from fastkeras.backend.tape import no_grad
        results = []
        for size in (2, 3):
            def probe(x, size=size):
                if type(x) is KerasTensor:
                    return np.ones(tuple(size if d is None else d for d in x.shape),
                                   dtype=np.dtype(x.dtype))
                return x
            with no_grad(), np.errstate(all="ignore"), StatelessScope(), SymbolicScope():
                results.append(self.call(*_map(list(args), probe), **_map(kwargs, probe)))
        return results

    def compute_output_spec(self, *args, **kwargs):
        """The output KerasTensor(s) (shape and dtype) for these (KerasTensor) inputs."""
        first, second = self._probe_outputs(args, kwargs)

        def spec(a, b):
            a, b = np.asarray(getattr(a, "value", a)), np.asarray(getattr(b, "value", b))
            if a.ndim != b.ndim:
                shape = (None,) * a.ndim
            else:
                shape = tuple(None if da != db else int(da) for da, db in zip(a.shape, b.shape))
            return KerasTensor(shape, dtype=str(a.dtype))

        if isinstance(first, (list, tuple)):
            return type(first)(spec(a, b) for a, b in zip(first, second))
        if isinstance(first, dict):
            return {k: spec(first[k], second[k]) for k in first}
        return spec(first, second)

    def symbolic_call(self, *args, **kwargs):
        """Records this call as a graph node; returns its output KerasTensor(s)."""
        specs = self.compute_output_spec(*args, **kwargs)
        node = Node(self, list(args), dict(kwargs))
        self._inbound_nodes.append(node)
        counter = iter(range(1 << 30))

        def output(s):
            return KerasTensor(s.shape, dtype=s.dtype, name=self.name, layer=self,
                               inputs=[list(args), dict(kwargs)], index=next(counter),
                               node=node)

        outputs = _map(specs, output)
        node.outputs = outputs
        self._output_shape = _map(outputs, lambda t: t.shape)
        return outputs

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Function(Operation):
    """A graph of operations (and layers) from `inputs` to `outputs`, both KerasTensors (or
    nested lists/dicts of them), callable on arrays: `Function(inputs, outputs)(x)` gives the
    outputs' values for input values x (in the structure of `inputs`, or a flat list)."""

    def __init__(self, inputs, outputs, name=None):
        super().__init__(name=name)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = _flatten(inputs)
        self.outputs = _flatten(outputs)
        for t in self.inputs + self.outputs:
            if type(t) is not KerasTensor:
                raise ValueError("All `inputs` and `outputs` of a Function must be KerasTensors."
                                 f" Received: {t!r}")
        from fastkeras.models.functional import Functional
        self._nodes = Functional._trace(self)

    @property
    def operations(self):
        """The operations and layers of the graph, each once, in execution order."""
        seen, ops = set(), []
        for op, _, _ in self._nodes:
            if id(op) not in seen:
                seen.add(id(op))
                ops.append(op)
        return ops

    def call(self, inputs, training=None):
        from fastkeras.models.functional import Functional
        if not isinstance(inputs, dict):
            flat = _flatten(inputs)
            inputs = flat if len(flat) != 1 else flat[0]
            if len(flat) != len(self.inputs):
                raise ValueError(f"Function '{self.name}' expects {len(self.inputs)} "
                                 f"input(s), received {len(flat)}")
        return Functional.call(self, inputs, training=training)

    def compute_output_spec(self, inputs, training=None):
        return super().compute_output_spec(inputs)

    def get_config(self):
        raise NotImplementedError("Function objects are not serializable")
