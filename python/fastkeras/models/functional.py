"""Functional models: `Model(inputs=..., outputs=...)` over the graph of layer calls that
KerasTensors recorded. Running the model replays those calls in order on real tensors."""

from __future__ import annotations

from fastkeras.layers.input_layer import InputLayer, KerasTensor
from fastkeras.models.model import Model


def _flatten(structure):
    if isinstance(structure, KerasTensor):
        return [structure]
    if isinstance(structure, dict):
        return [t for k in structure for t in _flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [t for item in structure for t in _flatten(item)]
    raise TypeError(f"Expected KerasTensors (from fastkeras.Input or a layer call), received "
                    f"{type(structure).__name__}: {structure!r}")


def _map(structure, fn):
    if isinstance(structure, KerasTensor):
        return fn(structure)
    if isinstance(structure, dict):
        return {k: _map(v, fn) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(v, fn) for v in structure)
    return structure


class Functional(Model):
    """A model defined by its symbolic inputs and outputs."""

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable)
        # One-element lists behave as the element itself (model(x) and predict give an array),
        # as the Keras notes' `Model(inputs=[input_], outputs=[output])` expects.
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
            inputs = inputs[0]
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
            outputs = outputs[0]
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = _flatten(inputs)
        self.outputs = _flatten(outputs)
        for t in self.inputs:
            if not isinstance(t._layer, InputLayer):
                raise ValueError(f"Model inputs must come from fastkeras.Input(); received "
                                 f"{t!r} produced by layer '{t._layer.name}'")
        self._nodes = self._trace()
        layers = []
        for t in self.inputs:
            layers.append(t._layer)
        for layer, _, _ in self._nodes:
            if all(layer is not l for l in layers):
                layers.append(layer)
        self._layers = layers
        for layer in layers:
            if all(layer is not t for t in self._tracked_layers):
                self._tracked_layers.append(layer)
        self.built = True
        self._build_input_shape = [t.shape for t in self.inputs] if len(self.inputs) > 1 \
            else self.inputs[0].shape
        self._output_shape = [t.shape for t in self.outputs] if len(self.outputs) > 1 \
            else self.outputs[0].shape

    def _trace(self):
        """The layer calls between inputs and outputs, each after the calls it depends on:
        (layer, call inputs, the call's output KerasTensors seen)."""
        input_ids = {id(t) for t in self.inputs}
        order, done, on_path = [], {}, set()

        def visit(t):
            if id(t) in input_ids:
                return
            if t._layer is None or isinstance(t._layer, InputLayer):
                raise ValueError(f"Graph disconnected: cannot obtain the value of {t!r}; it "
                                 "depends on an Input that is not in the model's `inputs`.")
            key = (id(t._layer), id(t._inputs))
            if key in done:
                done[key][2].append(t)
                return
            if key in on_path:
                raise ValueError("The layer graph has a cycle.")
            on_path.add(key)
            for parent in _flatten(t._inputs):
                visit(parent)
            on_path.discard(key)
            node = (t._layer, t._inputs, [t])
            done[key] = node
            order.append(node)

        for out in self.outputs:
            visit(out)
        return order

    @property
    def layers(self):
        return list(self._layers)

    @property
    def input_names(self):
        return [t._layer.name for t in self.inputs]

    @property
    def output_names(self):
        return [t._layer.name for t in self.outputs]

    def call(self, inputs, training=None):
        values = {}
        if isinstance(inputs, dict):
            # Keyed by the dict keys of `inputs=` if it was a dict, else by Input names.
            if isinstance(self._inputs_struct, dict):
                keyed = list(self._inputs_struct.items())
            else:
                keyed = [(t._layer.name, t) for t in self.inputs]
            missing = [key for key, _ in keyed if key not in inputs]
            if missing:
                raise ValueError(f"Model '{self.name}' is missing input(s) {missing}: it expects "
                                 f"{[key for key, _ in keyed]}, received keys {sorted(inputs)}")
            for key, t in keyed:
                values[id(t)] = inputs[key]
        else:
            flat = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            if len(flat) != len(self.inputs):
                raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} input(s), "
                                 f"received {len(flat)}")
            for t, v in zip(self.inputs, flat):
                values[id(t)] = v
        for layer, call_inputs, _ in self._nodes:
            args = _map(call_inputs, lambda t: values[id(t)])
            out = layer(args, training=training)
            # Record every output of this call under the KerasTensors it produced.
            for t in self._outputs_of(layer, call_inputs):
                values[id(t)] = out[t._index] if isinstance(out, (list, tuple)) else out
        return _map(self._outputs_struct, lambda t: values[id(t)])

    def _outputs_of(self, layer, call_inputs):
        for node_layer, node_inputs, outs in self._nodes:
            if node_layer is layer and node_inputs is call_inputs:
                return outs
        return []

    def _output_names_for(self, y_pred):
        if isinstance(self._outputs_struct, dict):
            return list(self._outputs_struct)
        return self.output_names
