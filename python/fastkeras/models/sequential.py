"""Sequential: a plain stack of layers, each with one input and one output."""

from __future__ import annotations

from fastkeras.layers.input_layer import InputLayer, KerasTensor, _fmt, symbolic_call
from fastkeras.layers.layer import Layer, dtype_policy_config, unique_name
from fastkeras.models.model import Model


class Sequential(Model):
    """`Sequential([Flatten(input_shape=[28, 28]), Dense(300, activation="relu"), ...])`,
    or built up with `.add()`. The input shape comes from an `Input(...)` first, an
    `input_shape=` on the first layer, or the first data the model sees."""

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._layers = []
        self._input_layer = None
        self._graph = None  # ([input tensor], [output tensor]) once built
        if layers is not None:
            if isinstance(layers, Layer):
                layers = [layers]
            for layer in layers:
                self.add(layer, rebuild=False)
            self._maybe_rebuild()

    def add(self, layer, rebuild=True):
        if isinstance(layer, KerasTensor) and isinstance(layer._layer, InputLayer):
            layer = layer._layer
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `fastkeras.layers.Layer` can be added to a "
                             f"Sequential model. Received: {layer!r} (of type {type(layer)})")
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("An Input can only be the first entry of a Sequential model.")
            self._input_layer = layer
        else:
            if any(layer.name == other.name for other in self._layers):
                raise ValueError(f"All layers added to a Sequential model should have unique "
                                 f"names. Name '{layer.name}' is already the name of a layer in "
                                 "this model. Update the `name` argument to pass a unique name.")
            if not self._layers and self._input_layer is None and layer._input_shape_arg:
                self._input_layer = InputLayer(batch_shape=layer._input_shape_arg)
            self._layers.append(layer)
            self._tracked_layers.append(layer)
        self.built = False
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self._tracked_layers.remove(layer)
        self.built = False
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        if self._input_layer is not None and self._layers:
            self.build(self._input_layer.batch_shape)
        elif len(self._layers) > 1 and isinstance(self._layers[0], Model) and \
                self._layers[0].built:
            # As Keras: a built model first (a pretrained base) gives the input shape.
            try:
                shape = self._layers[0].input_shape
            except (AttributeError, ValueError):
                return
            if isinstance(shape, tuple):
                self.build(shape)

    @property
    def layers(self):
        return list(self._layers)

    @property
    def inputs(self):
        """[the Input's symbolic tensor] once the model is built (as Keras's Sequential)."""
        return self._built_graph("inputs")[0]

    @property
    def outputs(self):
        """[the last layer's symbolic output] once the model is built."""
        return self._built_graph("outputs")[1]

    @property
    def input(self):
        """The input of its first call inside another model (Keras's layer attribute), else
        that of its own graph (`inputs[0]`)."""
        if self._inbound_nodes:
            return Layer.input.fget(self)
        return self._built_graph("input")[0][0]

    @property
    def output(self):
        """The output of its first call inside another model, else its own graph's."""
        if self._inbound_nodes:
            return Layer.output.fget(self)
        outputs = self._built_graph("output")[1]
        return outputs[0] if len(outputs) == 1 else outputs

    def _built_graph(self, what):
        if not self.built or self._graph is None:
            raise AttributeError(f"Sequential model '{self.name}' has no {what} yet: it is "
                                 "built when it knows its input shape (an `Input(...)` first, "
                                 "`build(input_shape)`, or the first data it sees).")
        return self._graph

    @property
    def input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        return super().input_shape

    @property
    def output_shape(self):
        if not self._layers or self._layers[-1]._output_shape is None:
            raise AttributeError(f"Sequential model '{self.name}' has not been built yet.")
        return self._layers[-1]._output_shape

    def build(self, input_shape=None):
        if not self._layers and self._input_layer is None:
            raise ValueError(f"Sequential model {self.name} cannot be built because it has no "
                             "layers. Call `model.add(layer)`.")
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError("You must provide an `input_shape` argument.")
            input_shape = self._input_layer.batch_shape
        input_shape = tuple(input_shape)
        if self._input_layer is None:
            # As Keras: built from data, the model keeps that data's batch size in its shapes.
            self._input_layer = InputLayer(batch_shape=input_shape)
        # Calling every layer on the Input's symbolic tensor builds it (on probe batches),
        # records its symbolic input and output shapes, and gives `inputs`/`outputs` and each
        # layer's `input`/`output` as Keras's Sequential has them.
        x = inputs = self._input_layer.output
        for layer in self._layers:
            try:
                x = symbolic_call(layer, x, (), {})
            except ValueError as e:
                raise ValueError(f"Sequential model '{self.name}': layer '{layer.name}' "
                                 f"({type(layer).__name__}) failed on input shape "
                                 f"{_fmt(x.shape)}: {e.__cause__ or e}") from e
            if isinstance(x, list) and layer is not self._layers[-1]:
                raise ValueError(f"Sequential model '{self.name}': layer '{layer.name}' "
                                 f"({type(layer).__name__}) returns {len(x)} tensors; every "
                                 "layer of a Sequential model but the last must return one. "
                                 "Use the functional API for this model.")
        self._graph = ([inputs], x if isinstance(x, list) else [x])
        self._build_input_shape = tuple(self._input_layer.batch_shape)
        self._output_shape = self._layers[-1]._output_shape if self._layers else None
        self.built = True
        # Keras builds a Sequential into an inner functional model, which takes the next
        # automatic "functional" name: taking it too keeps later models' names as Keras's.
        unique_name("functional")

    def call(self, inputs, training=None):
        from fastkeras.layers.conv2d import fused_conv_pool
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1 \
                and not isinstance(inputs[0], (list, tuple, dict)):
            inputs = inputs[0]  # one input given as [x] or (x,): as Keras, the input itself
        x = inputs
        if isinstance(x, dict):
            raise ValueError(f"Sequential model '{self.name}' takes one input tensor; "
                             f"received a dict with keys {sorted(map(str, x))}. Pass the "
                             "array itself (a dict of inputs needs a functional model).")
        if self._graph is not None and not isinstance(x, (list, tuple)):
            from fastkeras.models.functional import _fit_input_rank
            x = _fit_input_rank(x, self._graph[0][0])  # as Keras's inner functional model
        layers, i = self._layers, 0
        while i < len(layers):
            # Conv2D(relu) + MaxPooling2D(2) on the input data runs as one op when it can.
            if i + 1 < len(layers):
                fused = fused_conv_pool(layers[i], layers[i + 1], x)
                if fused is not None:
                    x, i = fused, i + 2
                    continue
            x = layers[i](x, training=training)
            i += 1
        return x

    def get_config(self):
        from fastkeras.saving.serialization import serialize_layer
        layers = []
        if self._input_layer is not None:
            layers.append(serialize_layer(self._input_layer))
        layers.extend(serialize_layer(layer) for layer in self._layers)
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": dtype_policy_config(self.dtype),
                  "layers": layers}
        if self._input_layer is not None:
            config["build_input_shape"] = list(self._input_layer.batch_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model `get_config` describes (also Keras's own Sequential configs)."""
        from fastkeras.saving.serialization import deserialize_layer
        if not isinstance(config, dict) or "layers" not in config:
            raise ValueError("A Sequential model configuration must be a dict with a 'layers' "
                             f"list. Received: config={config!r:.300}")
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for spec in config["layers"]:
            model.add(deserialize_layer(spec, custom_objects), rebuild=False)
        shape = config.get("build_input_shape")
        if model._input_layer is None and isinstance(shape, (list, tuple)) and shape:
            model._input_layer = InputLayer(batch_shape=tuple(shape))
        model._maybe_rebuild()
        return model
