"""GroupQueryAttention, Keras 3's grouped-query attention layer: `num_query_heads` query heads
share `num_key_value_heads` key/value heads, each key/value head serving a group of
`num_query_heads // num_key_value_heads` consecutive query heads."""

from __future__ import annotations

import math

import numpy as np

from fastkeras import constraints as constraints_mod
from fastkeras import initializers as initializers_mod
from fastkeras import ops
from fastkeras import regularizers as regularizers_mod
from fastkeras.layers.activation_layers import Softmax
from fastkeras.layers.core import Dropout, _serialize
from fastkeras.layers.einsum_dense import EinsumDense
from fastkeras.layers.input_layer import inferring_shapes
from fastkeras.layers.layer import Layer, unique_name
from fastkeras.layers.multi_head_attention import (
    _LARGE_NEGATIVE,
    MultiHeadAttention,
    attend,
)

# Einsum letters: b batch, q query position, k key position, m features, u query heads,
# v key/value heads, g query heads per key/value head, h head channels.
_SCORES = "bqvgh,bkvh->bvgqk"
_COMBINE = "bvgqk,bkvh->bqvgh"


class GroupQueryAttention(Layer):
    """`GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads)(query, value)`.

    query (batch, T, dim) is projected into `num_query_heads` heads and value/key (batch, S,
    dim') into `num_key_value_heads` heads, all of `head_dim` channels. Query head `i` attends
    with key/value head `i // (num_query_heads // num_key_value_heads)`, by
    softmax(q k^T / sqrt(head_dim)); the heads' results are projected back to the query's last
    size. `num_key_value_heads=1` is multi-query attention, `num_key_value_heads ==
    num_query_heads` multi-head attention.

    Masks, all ANDed: `query_mask` (batch, T), `value_mask` and `key_mask` (batch, S) (taken
    from the inputs' own masks, e.g. Embedding(mask_zero=True), when not given), an
    `attention_mask` (batch, T, S), `use_causal_mask` and a symmetric `sliding_window` band.
    `use_gate=True` multiplies the heads' results by a sigmoid gate projected from the query.
    `dropout` drops attention weights in training. `return_attention_scores=True` also returns
    the (batch, num_query_heads, T, S) weights.
    """

    # Keras's class behind the exported name (its weights files use it for paths).
    _keras_class_name = "GroupedQueryAttention"

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0,
                 use_bias=True, sliding_window=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None,
                 **kwargs):
        for arg, value in (("head_dim", head_dim), ("num_query_heads", num_query_heads),
                           ("num_key_value_heads", num_key_value_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Received an invalid value for argument `{arg}`, expected a "
                                 f"positive integer. Received: {arg}={value!r}")
        if num_query_heads % num_key_value_heads != 0:
            raise ValueError("`num_query_heads` must be divisible by `num_key_value_heads`. "
                             f"Received: num_query_heads={num_query_heads}, "
                             f"num_key_value_heads={num_key_value_heads}")
        if flash_attention:
            raise ValueError("GroupQueryAttention: flash attention is not available here. "
                             f"Received: flash_attention={flash_attention!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ValueError("GroupQueryAttention: `dropout` must be a float in [0, 1]. "
                             f"Received: dropout={dropout!r}")
        if sliding_window is not None and (isinstance(sliding_window, bool) or not isinstance(
                sliding_window, int) or sliding_window <= 0):
            raise ValueError("`sliding_window` must be `None` or a positive integer. "
                             f"Received: sliding_window={sliding_window!r}")
        if kwargs.get("name") is None:  # Keras's class is GroupedQueryAttention
            kwargs["name"] = unique_name("grouped_query_attention")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.head_dim = head_dim
        self.num_query_heads = num_query_heads
        self.num_key_value_heads = num_key_value_heads
        self.num_repeats = num_query_heads // num_key_value_heads
        self.dropout = dropout
        self.use_bias = bool(use_bias)
        self.use_gate = bool(use_gate)
        self.sliding_window = sliding_window
        self.seed = seed
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        self._inverse_sqrt_head_dim = 1.0 / math.sqrt(float(head_dim))

    # MultiHeadAttention's mask merging reads the band width from here.
    _sliding_window = property(lambda self: self.sliding_window)

    # --- building ---------------------------------------------------------------------------
    def _dense(self, equation, output_shape, bias_axes, name, activation=None):
        """A projection sublayer, with its own copies of the initializers (so that the
        projections' draws differ)."""
        def fresh(init):
            return type(init).from_config(init.get_config())
        return EinsumDense(equation, output_shape=output_shape, activation=activation,
                           bias_axes=bias_axes if self.use_bias else None,
                           kernel_initializer=fresh(self.kernel_initializer),
                           bias_initializer=fresh(self.bias_initializer),
                           kernel_regularizer=self.kernel_regularizer,
                           bias_regularizer=self.bias_regularizer,
                           activity_regularizer=self.activity_regularizer,
                           kernel_constraint=self.kernel_constraint,
                           bias_constraint=self.bias_constraint, name=name, dtype=self.dtype)

    def _track(self, attr, layer):
        object.__setattr__(self, attr, layer)
        self._tracked_layers.append(layer)

    def build(self, query_shape, value_shape, key_shape=None):
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        for arg, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(f"GroupQueryAttention '{self.name}' expects `{arg}` of rank 3 "
                                 f"(batch, sequence, features). Received: {arg}_shape={shape}")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError("All dimensions of `value` and `key`, except the last one, must be "
                             f"equal. Received: value_shape={value_shape} and "
                             f"key_shape={key_shape}")
        self.feature_dim = query_shape[-1]
        uh = (None, self.num_query_heads, self.head_dim)
        vh = (None, self.num_key_value_heads, self.head_dim)
        # Attribute names and creation order give Keras's weight order and file paths.
        self._track("_query_dense", self._dense("bqm,muh->bquh", uh, "uh", "query"))
        self._query_dense.build(query_shape)
        self._track("_key_dense", self._dense("bkm,mvh->bkvh", vh, "vh", "key"))
        self._key_dense.build(key_shape)
        if self.use_gate:
            self._track("_gate_dense", self._dense("bqm,muh->bquh", uh, "uh", "gate",
                                                   activation="sigmoid"))
            self._gate_dense.build(query_shape)
        self._track("_value_dense", self._dense("bkm,mvh->bkvh", vh, "vh", "value"))
        self._value_dense.build(value_shape)
        self._track("_softmax", Softmax(axis=-1, dtype=self.dtype))
        self._track("_dropout_layer", Dropout(rate=self.dropout, seed=self.seed,
                                              dtype=self.dtype))
        self._track("_output_dense", self._dense("bquh,uhm->bqm", (None, self.feature_dim), "m",
                                                 "attention_output"))
        self._output_dense.build((None, None, self.num_query_heads, self.head_dim))
        self.built = True

    _attention_mask = MultiHeadAttention._attention_mask

    # --- the call -------------------------------------------------------------------------------
    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        if inferring_shapes():  # a symbolic call: Keras checks the shapes there
            self.compute_output_shape(query.shape, value.shape,
                                      None if key is None else key.shape)
        # As Keras: masks not given come from those the inputs carry.
        return attend(self, (self._query_dense, self._key_dense, self._value_dense,
                             self._output_dense, self._gate_dense if self.use_gate else None),
                      query, value, key, query_mask, value_mask, key_mask, attention_mask,
                      use_causal_mask, training, return_attention_scores)

    def _compute_attention(self, query, key, value, mask, training, return_scores):
        """query (B, T, U, H), key and value (B, S, V, H) -> (B, T, U, H) and the (B, U, T, S)
        weights. Query heads are grouped (B, T, V, G, H) so that each group meets its key/value
        head without copying keys and values G times."""
        b, t = query.shape[0], query.shape[1]
        s = key.shape[1]
        groups, kv_heads = self.num_repeats, self.num_key_value_heads
        q = ops.multiply(query, np.float32(self._inverse_sqrt_head_dim))
        q = ops.reshape(q, (b, t, kv_heads, groups, self.head_dim))
        scores = ops.reshape(ops.einsum(_SCORES, q, key), (b, self.num_query_heads, t, s))
        # Keras takes a fused kernel unless there is dropout or scores are wanted; there a row
        # with every key masked averages all values, while the explicit softmax gives it zero
        # weights. Both are reproduced.
        explicit = self.dropout > 0 or return_scores
        if mask is None:
            weights = self._softmax(scores)
        else:
            while mask.ndim < 4:
                mask = np.expand_dims(mask, -3)
            if explicit:
                weights = self._softmax(scores, mask=mask)
            else:
                weights = self._softmax(ops.add(scores, np.where(mask, np.float32(0),
                                                                 _LARGE_NEGATIVE)))
        dropped = self._dropout_layer(weights, training=training) if self.dropout > 0 \
            else weights
        dropped = ops.reshape(dropped, (b, kv_heads, groups, t, s))
        output = ops.reshape(ops.einsum(_COMBINE, dropped, value),
                             (b, t, self.num_query_heads, self.head_dim))
        return output, weights

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if value_shape is None:
            return query_shape
        value_shape = tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if query_shape[-1] != value_shape[-1]:
            raise ValueError("The last dimension of `query_shape` and `value_shape` must be "
                             f"equal, but are {query_shape[-1]}, {value_shape[-1]}. Received: "
                             f"query_shape={query_shape}, value_shape={value_shape}")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError("All dimensions of `value` and `key`, except the last one, must be "
                             f"equal. Received: value_shape={value_shape} and "
                             f"key_shape={key_shape}")
        return query_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "head_dim": self.head_dim,
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "sliding_window": self.sliding_window,
            "dropout": self.dropout,
            "kernel_initializer": _serialize(self.kernel_initializer),
            "bias_initializer": _serialize(self.bias_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
            "bias_regularizer": _serialize(self.bias_regularizer),
            "activity_regularizer": _serialize(self.activity_regularizer),
            "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
            "bias_constraint": constraints_mod.serialize(self.bias_constraint),
            "seed": self.seed,
        })
        return config
