"""Functional models: `Model(inputs=..., outputs=...)` over the graph of layer calls that
KerasTensors recorded. Running the model replays those calls in order on real tensors."""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from fastkeras.layers.input_layer import InputLayer, KerasTensor, flat_outputs, sorted_keys
from fastkeras.layers.layer import Layer
from fastkeras.models.model import Model
from fastkeras.ops.symbolic import Operation


def _flatten(structure):
    if isinstance(structure, KerasTensor):
        return [structure]
    if isinstance(structure, dict):  # in sorted key order, as Keras flattens dicts
        return [t for k in sorted_keys(structure) for t in _flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [t for item in structure for t in _flatten(item)]
    raise TypeError(f"Expected KerasTensors (from fastkeras.Input or a layer call), received "
                    f"{type(structure).__name__}: {structure!r}")


def _tensors_in(structure):
    """The KerasTensors in a call's arguments (constants such as the 2.0 of `x * 2.0` skipped)."""
    if isinstance(structure, KerasTensor):
        return [structure]
    if isinstance(structure, dict):
        return [t for k in sorted_keys(structure) for t in _tensors_in(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [t for item in structure for t in _tensors_in(item)]
    return []


def _is_operation(obj):
    return isinstance(obj, Operation)


def _map(structure, fn):
    if isinstance(structure, KerasTensor):
        return fn(structure)
    if isinstance(structure, dict):
        return {k: _map(v, fn) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(v, fn) for v in structure)
    return structure


def _tensor_argument(value):
    """Whether a call keyword argument holds KerasTensors (only those are replayed/saved)."""
    if isinstance(value, KerasTensor):
        return True
    if isinstance(value, dict):
        return any(_tensor_argument(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_tensor_argument(v) for v in value)
    return False


_MODEL_CLASSES = ("Functional", "Model", "Sequential")


class _NotYet(Exception):
    """A call whose inputs are not made yet (from_config retries it later)."""


def _node_key(t):
    return id(t._node)


def _json_shape(shape):
    if isinstance(shape, dict):
        return {k: _json_shape(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return [_json_shape(s) for s in shape]
    return [None if d is None else int(d) for d in shape]



def _parents(t):
    """The KerasTensors a symbolic tensor's call read (inputs, then tensor arguments)."""
    node = getattr(t, "_node", None)
    return node.parent_tensors() if node is not None else _tensors_in(t._inputs)

def _as_given(struct, was_list):
    """A model's inputs or outputs in the constructor's structure: the one tensor of a
    one-element list back in its list."""
    return [struct] if was_list and not isinstance(struct, (list, tuple, dict)) else struct


def _fit_input_rank(value, ref):
    """An input of one axis fewer or more than its Input's, where that axis is a last axis of
    size 1, given that axis or relieved of it (Keras's rank adjustment: 1-D data for
    `Input((1,))`, (N, 28, 28) images for `Input((28, 28, 1))`); any other rank mismatch is an
    error naming both shapes."""
    if value is None or not hasattr(ref, "shape"):
        return value
    shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
    rank, want = len(shape), len(ref.shape)
    if rank == want:
        return value
    from fastkeras import ops
    if rank == want + 1 and shape[-1] == 1:
        return ops.squeeze(value, axis=-1)
    if rank == want - 1 and ref.shape[-1] == 1:
        return ops.expand_dims(value, axis=-1)
    raise ValueError(f"Invalid input shape for input {ref.name!r}. Expected shape "
                     f"{tuple(ref.shape)}, but input has incompatible shape {shape}")


def _from_intermediate_inputs(inputs, outputs):
    """As Keras: a model whose inputs include intermediate tensors (a layer's output) starts
    from new Inputs standing for them; the layers between are called again on those (sharing
    their weights), giving the outputs the model computes. Returns (inputs, outputs)."""
    from types import SimpleNamespace

    from fastkeras.layers.input_layer import Input
    flat = _flatten(inputs)
    fresh = {id(t): (t if isinstance(t._layer, InputLayer) else
                     Input(batch_shape=t.shape, dtype=t.dtype)) for t in flat}
    graph = SimpleNamespace(inputs=flat, outputs=_flatten(outputs))
    graph._nodes = Functional._trace(graph)
    graph._inputs_struct, graph._outputs_struct, graph.name = inputs, outputs, "model"
    new_outputs = Functional.call(graph, [fresh[id(t)] for t in flat])
    return _map(inputs, lambda t: fresh[id(t)]), new_outputs


def _functional_like_constructor(cls) -> bool:
    """Whether cls's constructor takes a functional model's arguments (Keras's test: the same
    named arguments as Functional's, or *args and **kwargs)."""
    spec = inspect.getfullargspec(cls.__init__)
    if spec.args[1:] in (["inputs", "outputs", "name"], ["inputs", "outputs", "name",
                                                          "trainable"]):
        return True
    return spec.varargs is not None and spec.varkw is not None


class Functional(Model):
    """A model defined by its symbolic inputs and outputs."""

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable)
        # One-element lists behave as the element itself (model(x) and predict give an array),
        # as the Keras notes' `Model(inputs=[input_], outputs=[output])` expects.
        # Keras's config keeps the difference (`[["a", 0, 0]]` against `["a", 0, 0]`).
        self._single_as_list = (isinstance(inputs, (list, tuple)),
                                isinstance(outputs, (list, tuple)))
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
            inputs = inputs[0]
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
            outputs = outputs[0]
        # As Keras: dicts of inputs/outputs are taken in sorted key order (model.outputs,
        # output_names, the layers' order and so the weights', predict's keys).
        # (The order given is kept for one check: Keras refuses a list for a dict of inputs
        # whose keys were not given sorted.)
        self._input_keys_given = list(inputs) if isinstance(inputs, dict) else None
        if isinstance(inputs, dict):
            inputs = {k: inputs[k] for k in sorted_keys(inputs)}
        if isinstance(outputs, dict):
            outputs = {k: outputs[k] for k in sorted_keys(outputs)}
        if any(isinstance(t, KerasTensor) and not isinstance(t._layer, InputLayer)
               for t in _flatten(inputs)):
            inputs, outputs = _from_intermediate_inputs(inputs, outputs)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = _flatten(inputs)
        self.outputs = _flatten(outputs)
        for t in self.inputs:
            if not isinstance(t, KerasTensor):
                raise ValueError(f"Model inputs must be symbolic tensors from fastkeras.Input(); "
                                 f"received {t!r}")
        self._nodes = self._trace()
        layers = self._layers_by_depth()
        names = {}
        for layer in layers:
            if layer.name in names:
                raise ValueError(f"All layer names in a model should be unique: model "
                                 f"'{name or 'model'}' has two layers named '{layer.name}' "
                                 f"({type(names[layer.name]).__name__} and "
                                 f"{type(layer).__name__}). Pass distinct `name=` arguments.")
            names[layer.name] = layer
        self._layers = layers  # layers and operations, in graph order
        for layer in layers:
            if _is_operation(layer):
                continue
            if all(layer is not t for t in self._tracked_layers):
                self._tracked_layers.append(layer)
        self.built = True
        self._build_input_shape = [t.shape for t in self.inputs] if len(self.inputs) > 1 \
            else self.inputs[0].shape
        self._output_shape = [t.shape for t in self.outputs] if len(self.outputs) > 1 \
            else self.outputs[0].shape

    @property
    def input_spec(self):
        """As Keras: each Input's shape (any batch size; a trailing axis of size 1 may be
        left off or added), named by its Input layer or its `inputs=` dict key, so a call on
        data of another shape fails naming the model and the input. One set explicitly wins.
        (Made once: every call of the model reads it.)"""
        if "_manual_input_spec" in self.__dict__ or "_inputs_struct" not in self.__dict__:
            return self.__dict__.get("_manual_input_spec")
        if "_derived_input_spec" not in self.__dict__:
            self.__dict__["_derived_input_spec"] = self._specs_of_inputs()
        return self.__dict__["_derived_input_spec"]

    @input_spec.setter
    def input_spec(self, value):
        self.__dict__["_manual_input_spec"] = value

    def _specs_of_inputs(self):
        from fastkeras.layers.input_spec import InputSpec

        def spec(t, name):
            shape = tuple(t.shape)
            return InputSpec(shape=(None,) + shape[1:] if shape else shape, name=name,
                             allow_last_axis_squeeze=True)

        struct = self._inputs_struct
        if isinstance(struct, dict):
            if not all(isinstance(t, KerasTensor) for t in struct.values()):
                return None  # a nested structure: not checked, as in Keras
            return [spec(struct[k], k) for k in sorted_keys(struct)]
        return [spec(t, t._layer.name) for t in self.inputs]

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
            key = id(t._node)
            if key in done:
                done[key][2].append(t)
                return
            if key in on_path:
                raise ValueError("The layer graph has a cycle.")
            on_path.add(key)
            for parent in _parents(t):
                visit(parent)
            on_path.discard(key)
            node = (t._layer, t._node, [t])
            done[key] = node
            order.append(node)

        for out in self.outputs:
            visit(out)
        return order

    def _layers_by_depth(self):
        """The model's layers in Keras's order: deepest first (inputs side), layers at the same
        depth in the order a depth-first walk from the outputs first reached them."""
        first_seen, finished, post_order = {}, set(), []
        input_ids = {id(t) for t in self.inputs}

        def walk(t):
            key = _node_key(t)
            if key in finished:
                return
            first_seen.setdefault(id(t._layer), (len(first_seen), t._layer))
            if id(t) not in input_ids:
                for parent in _parents(t):
                    walk(parent)
            finished.add(key)
            post_order.append(t)

        for out in self.outputs:
            walk(out)
        node_depth, layer_depth = {}, {}
        for t in reversed(post_order):
            key = _node_key(t)
            depth = max(node_depth.get(key, 0), layer_depth.get(id(t._layer), 0))
            node_depth[key] = depth
            layer_depth[id(t._layer)] = depth
            if id(t) not in input_ids:
                for parent in _parents(t):
                    pkey = _node_key(parent)
                    node_depth[pkey] = max(node_depth.get(pkey, 0), depth + 1)
        for t in self.inputs:  # an input nothing depends on still belongs to the model
            if id(t._layer) not in layer_depth:
                layer_depth[id(t._layer)] = 0
                first_seen[id(t._layer)] = (-1, t._layer)
        ranked = sorted(first_seen.values(),
                        key=lambda e: (-layer_depth[id(e[1])], e[0]))
        return [layer for _, layer in ranked]

    @property
    def input(self):
        """The inputs as given to the constructor (one tensor, a list or a dict), as Keras's: a
        one-element list stays a list here, though calls take and give the element itself."""
        return _as_given(self._inputs_struct, self._single_as_list[0])

    @property
    def output(self):
        """The outputs as given to the constructor (one tensor, a list or a dict)."""
        return _as_given(self._outputs_struct, self._single_as_list[1])

    # --- config ----------------------------------------------------------------------------
    def _node_indices(self):
        """Each layer call's index among the calls of that layer inside this model (Keras's
        node_index; a nested model's own definition is its node 0)."""
        out = {}
        for layer in self._layers:
            if isinstance(layer, InputLayer):
                out[id(layer.output._node)] = 0
        in_model = {id(node) for _, node, _ in self._nodes}
        for layer in self._layers:
            n = 1 if isinstance(layer, Functional) else 0
            for node in layer._inbound_nodes:  # in the order the calls were made
                key = id(node)
                if key in in_model and key not in out:
                    out[key] = n
                    n += 1
        return out

    def _call_nodes(self, layer, node_index):
        """This model's calls (Nodes) of `layer`, by node index."""
        return sorted((node for l, node, _ in self._nodes if l is layer),
                      key=lambda node: node_index[id(node)])

    def _calls_of(self, layer, node_index):
        """The inputs of this model's calls of `layer`, by node index."""
        return [node.inputs for node in self._call_nodes(layer, node_index)]

    def get_config(self):
        from fastkeras.ops.symbolic import serialize_arg
        from fastkeras.saving.serialization import serialize_layer
        if not _functional_like_constructor(type(self)):
            # A subclass that builds its graph in its own __init__ (keras.io's
            # `MnistModel(keras.Model)`): as Keras, its config is a plain model's (name,
            # trainable, dtype), which its constructor takes back.
            return Layer.get_config(self)
        node_index = self._node_indices()

        def history(t):
            return [t._layer.name, node_index[_node_key(t)], t._index]

        def tensor_config(t):
            # Inside call arguments Keras 3 writes a nested model's call by its plain call
            # index (first call 0), not the node index of input_layers/output_layers.
            ref = history(t)
            if isinstance(t._layer, Functional):
                ref[1] -= 1
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(t.shape), "dtype": t.dtype, "keras_history": ref}}

        layers = []
        for layer in self._layers:
            if _is_operation(layer):
                layers.append(self._operation_config(layer, node_index, tensor_config))
                continue
            spec = serialize_layer(layer)
            if isinstance(layer, Model):
                spec["module"] = "keras.src.models.functional" if isinstance(layer, Functional) \
                    else "keras"
                spec["registered_name"] = type(layer).__name__ if isinstance(layer, Functional) \
                    else None
            if not isinstance(layer, InputLayer) and layer._build_input_shape is not None:
                shape = layer._build_input_shape
                spec["build_config"] = {"shapes_dict": _json_shape(shape)} \
                    if isinstance(shape, dict) else {"input_shape": _json_shape(shape)}
            spec["name"] = layer.name
            spec["inbound_nodes"] = [
                {"args": [_map(node.inputs, tensor_config)] + [_map(a, tensor_config)
                                                                for a in node.args],
                 "kwargs": {k: _map(v, tensor_config) if _tensor_argument(v)
                            else serialize_arg(v) for k, v in node.kwargs.items()}}
                for node in self._call_nodes(layer, node_index)]
            layers.append(spec)

        def refs(structure, as_list):
            if isinstance(structure, KerasTensor):
                return [history(structure)] if as_list else history(structure)
            return _map(structure, history)

        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": refs(self._inputs_struct, self._single_as_list[0]),
                "output_layers": refs(self._outputs_struct, self._single_as_list[1])}

    def _operation_config(self, op, node_index, tensor_config):
        """An operation's entry, as Keras writes it: its Keras module and class, its static
        arguments as config, and per call the positional and keyword arguments."""
        from fastkeras.ops.symbolic import serialize_arg

        def arg(v):
            return tensor_config(v) if isinstance(v, KerasTensor) else serialize_arg(v)

        def args_of(value):
            if isinstance(value, KerasTensor):
                return tensor_config(value)
            if isinstance(value, (list, tuple)) and any(isinstance(v, KerasTensor)
                                                        for v in value):
                return [arg(v) for v in value]
            return serialize_arg(value)

        name = type(op).__name__
        return {"module": f"keras.src.ops.{op._module}", "class_name": name,
                "config": op.get_config(), "registered_name": name, "name": op.name,
                "inbound_nodes": [
                    {"args": [args_of(a) for a in node.inputs],
                     "kwargs": {k: args_of(v) for k, v in node.kwargs.items()}}
                    for node in self._call_nodes(op, node_index)]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuilds the model from `get_config()` (ours or Keras 3's): creates every layer, then
        replays the recorded calls in an order where each call's inputs already exist."""
        graph_config = all(k in config for k in ("name", "layers", "input_layers",
                                                 "output_layers"))
        if not (graph_config and (cls in (Functional, Model) or _functional_like_constructor(cls))):
            # As Keras: a subclass with its own constructor is made by that constructor
            try:
                return cls(**config)
            except TypeError as e:
                raise TypeError(
                    "Unable to revive model from config. When overriding the `get_config()` "
                    "method, make sure that the returned config contains all items used as "
                    f"arguments in the constructor to {cls}, which is the default behavior. "
                    "You can override this default behavior by defining a `from_config(cls, "
                    f"config)` class method to specify how to create an instance of "
                    f"{cls.__name__} from its config.\n\nReceived config={config}\n\n"
                    f"Error encountered during deserialization: {e}") from e
        from fastkeras.ops.symbolic import deserialize_arg, operation_from_config
        from fastkeras.saving import saving_api
        layers, pending = {}, []
        for spec in config.get("layers", []):
            op = operation_from_config(spec)
            if op is not None:
                layer = op
            elif spec.get("class_name") in _MODEL_CLASSES:
                layer = saving_api.model_from_config(spec, custom_objects)
            else:
                layer = saving_api.deserialize_layer(spec, custom_objects)
            name = spec.get("name") or spec.get("config", {}).get("name") or layer.name
            layers[name] = layer
            start = 1 if isinstance(layer, Functional) else 0
            for i, node in enumerate(spec.get("inbound_nodes", [])):
                # (the config's name: a layer whose own config has no name gets a fresh one)
                pending.append((name, layer, start + i, node))
        made = {}  # (layer name, node index) -> the call's output KerasTensors
        for name, layer in layers.items():
            if isinstance(layer, InputLayer):
                made[(name, 0)] = [layer.output]

        def tensor(ref, where, call_index=False):
            name, node, index = ref[0], ref[1], ref[2] if len(ref) > 2 else 0
            if call_index and isinstance(layers.get(name), Functional):
                # Inside call arguments Keras 3 counts a nested model's calls from 0; its node
                # indices (input_layers, output_layers) count its own definition as node 0.
                node += 1
            outs = made.get((name, node))
            if outs is None:
                raise _NotYet
            if index >= len(outs):
                raise ValueError(f"{where}: layer '{name}' call {node} has {len(outs)} "
                                 f"output(s), the config asks for output {index}")
            return outs[index]

        def resolve(obj, where):
            if isinstance(obj, dict) and obj.get("class_name") == "__keras_tensor__":
                return tensor(obj["config"]["keras_history"], where, call_index=True)
            if isinstance(obj, dict):
                return {k: resolve(v, where) for k, v in obj.items()}
            if isinstance(obj, list) and len(obj) == 3 and isinstance(obj[0], str) \
                    and isinstance(obj[1], int):  # legacy [name, node, index, kwargs] refs
                return tensor(obj, where)
            if isinstance(obj, list) and len(obj) == 4 and isinstance(obj[0], str) \
                    and isinstance(obj[1], int):
                return tensor(obj[:3], where)
            if isinstance(obj, list):
                return [resolve(v, where) for v in obj]
            return obj

        while pending:
            progressed, still = False, []
            for key, layer, index, node in pending:
                where = f"layer '{key}'"
                try:
                    if _is_operation(layer):
                        args = [deserialize_arg(resolve(a, where),
                                               index=i == 1 and type(layer).__name__ == "GetItem")
                                for i, a in enumerate(node.get("args", []))]
                        kwargs = {k: deserialize_arg(resolve(v, where))
                                  for k, v in node.get("kwargs", {}).items()}
                    elif isinstance(node, dict):
                        args = resolve(node.get("args", []), where)
                        kwargs = resolve(node.get("kwargs", {}), where)
                    else:  # legacy tf.keras node: a list of [name, node, index, kwargs]
                        refs = [resolve(ref, where) for ref in node]
                        args, kwargs = [refs[0] if len(refs) == 1 else refs], {}
                except _NotYet:
                    still.append((key, layer, index, node))
                    continue
                out = layer(*args, **kwargs)
                made[(key, index)] = flat_outputs(out)
                progressed = True
            if not progressed:
                names = sorted({key for key, _, _, _ in still})
                raise ValueError(f"Cannot rebuild model '{config.get('name')}': the calls of "
                                 f"layer(s) {names} depend on layers missing from the config.")
            pending = still

        def structure(refs, what):
            if isinstance(refs, dict):
                return {k: structure(v, what) for k, v in refs.items()}
            if isinstance(refs, list) and refs and isinstance(refs[0], str):
                return tensor(refs, what)
            if isinstance(refs, list):
                return [structure(r, what) for r in refs]
            raise ValueError(f"Bad `{what}` in model config: {refs!r}")

        try:
            inputs = structure(config["input_layers"], "input_layers")
            outputs = structure(config["output_layers"], "output_layers")
        except _NotYet:
            raise ValueError(f"Cannot rebuild model '{config.get('name')}': its inputs or "
                             "outputs name layers missing from the config.") from None
        model = cls(inputs=inputs, outputs=outputs, name=config.get("name"),
                    trainable=config.get("trainable", True))
        # Saved weights follow the config's layer order: keep it.
        order = {id(layer): i for i, layer in enumerate(layers.values())}
        if {id(l) for l in model._layers} <= set(order):
            model._layers.sort(key=lambda l: order[id(l)])
        return model

    def _summary_layers(self):
        return list(self._layers)

    def _summary_connections(self):
        """Keras's "Connected to" column: the inputs of each of a layer's calls in this
        model, as `layer_name[node_index][tensor_index]`; None for a plain chain (one input,
        each layer called once on one tensor, each output read once), which Keras lays out
        as a sequence."""
        node_index = self._node_indices()
        connections, reads = {}, {}
        chain = sum(isinstance(layer, InputLayer) for layer in self._layers) == 1
        for layer in self._layers:
            sources, nodes = [], self._call_nodes(layer, node_index)
            for node in nodes:  # inputs, then e.g. states
                parents = node.parent_tensors()
                sources.extend(f"{t._layer.name}[{node_index[_node_key(t)]}][{t._index}]"
                               for t in parents)
                for t in parents:
                    reads[id(t._layer)] = reads.get(id(t._layer), 0) + 1
                chain = chain and len(parents) == 1
            if not isinstance(layer, InputLayer) and len(nodes) != 1:
                chain = False
            connections[id(layer)] = sources
        if chain and all(n == 1 for n in reads.values()):
            return None
        return connections

    @property
    def layers(self):
        return [layer for layer in self._layers if not _is_operation(layer)]

    @property
    def operations(self):
        """The layers and the ops (`ops.relu(x)`, `x * 2`) of the graph, in graph order, as
        Keras's `Model.operations`."""
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
            if isinstance(self._inputs_struct, dict):
                self._check_unkeyed_inputs(inputs)
            flat = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            if len(flat) != len(self.inputs):
                raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} input(s), "
                                 f"received {len(flat)}")
            for t, v in zip(self.inputs, flat):
                values[id(t)] = v
        for t in self.inputs:
            values[id(t)] = _fit_input_rank(values[id(t)], t)
        for layer, node, outs in self._nodes:
            if isinstance(layer, Operation):  # an operation takes its own arguments
                out = layer(*_map(node.inputs, lambda t: values[id(t)]),
                            **_map(node.kwargs, lambda t: values[id(t)]))
            else:
                args = _map(node.inputs, lambda t: values[id(t)])
                # The call's positional and keyword arguments (an RNN's initial_state, an
                # explicit mask, Attention's use_causal_mask) are replayed as well. A training
                # flag given in the call holds when the model is called without one (Keras).
                kwargs = {k: _map(v, lambda t: values[id(t)]) for k, v in node.kwargs.items()
                          if k != "training"}
                extra = [_map(a, lambda t: values[id(t)]) for a in node.args]
                flag = node.kwargs.get("training") if training is None else training
                out = layer(args, *extra, training=flag, **kwargs)
            # Record every output of this call under the KerasTensors it produced.
            flat = flat_outputs(out)
            for t in outs:
                values[id(t)] = flat[t._index]
        return _map(self._outputs_struct, lambda t: values[id(t)])

    def _check_unkeyed_inputs(self, inputs):
        """As Keras, for a model of dict inputs given a list (or one tensor): taken in sorted
        key order with a warning when the keys were given sorted, else a ValueError."""
        given = getattr(self, "_input_keys_given", None) or list(self._inputs_struct)
        expected = {k: self._inputs_struct[k]._layer.name for k in given}
        received = [f"Tensor(shape={tuple(np.shape(v))})" for v in
                    (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
        if not isinstance(inputs, (list, tuple)):
            received = received[0]
        elif isinstance(inputs, tuple):
            received = tuple(received)
        message = ("The structure of `inputs` doesn't match the expected structure.\n"
                   f"Expected: {expected}\nReceived: inputs={received}")
        if given != sorted(given):
            raise ValueError(message)
        warnings.warn(message, stacklevel=3)

    def _output_names_for(self, y_pred):
        if isinstance(self._outputs_struct, dict):
            return list(self._outputs_struct)
        return self.output_names
