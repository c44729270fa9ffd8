"""Embedding: integer ids to dense vectors, optionally masking id 0."""

from __future__ import annotations

import numpy as np

from fastkeras import constraints as constraints_mod
from fastkeras import initializers as initializers_mod
from fastkeras import regularizers as regularizers_mod
from fastkeras.layers.core import _check_positive_int
from fastkeras.layers.layer import Layer
from fastkeras.layers.lora import LoRA, adapted_weight
from fastkeras.ops import rnn as rnn_ops


class Embedding(LoRA, Layer):
    """Looks up row `i` of an (input_dim, output_dim) table for every integer id `i`.

    Args:
        input_dim: vocabulary size (largest id + 1).
        output_dim: size of each vector.
        embeddings_initializer: initializer of the table ("uniform", within +-0.05).
        embeddings_regularizer, embeddings_constraint: optional.
        mask_zero: id 0 is padding: the layer outputs a mask (ids != 0) that recurrent layers
            use to skip those timesteps.
        lora_rank: build with LoRA of this rank: the table is frozen and the layer looks ids
            up in embeddings + lora_embeddings_a @ lora_embeddings_b (see `enable_lora`); as
            in Keras, the build then uses lora_alpha = lora_rank.

    Input shape: (batch, ...) integer ids. Output shape: (batch, ..., output_dim).

    >>> Embedding(10, 4)(np.array([[1, 2, 0]])).shape
    (1, 3, 4)
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        if quantization_config is not None:
            raise ValueError("Embedding: quantized embeddings are not supported; "
                             f"`quantization_config` must be None. Received: "
                             f"quantization_config={quantization_config!r}")
        super().__init__(**kwargs)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.input_dim = _check_positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = _check_positive_int(output_dim, "output_dim", "Embedding")
        if isinstance(embeddings_initializer, str) and embeddings_initializer in ("uniform",
                                                                                 "normal"):
            embeddings_initializer = "random_" + embeddings_initializer  # Keras's aliases
        self.embeddings_initializer = initializers_mod.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers_mod.get(embeddings_regularizer)
        self.embeddings_constraint = constraints_mod.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self._set_lora_arguments(lora_rank, lora_alpha)
        self._embeddings = None
        self._initial_weights = weights

    _lora_weight = "embeddings"
    _lora_constraint = "embeddings_constraint"
    _lora_regularizer = "embeddings_regularizer"
    _lora_build_keeps_alpha = False  # Keras's Embedding enables build-time LoRA with alpha = rank
    embeddings = adapted_weight("embeddings")

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(name="embeddings",
                                          shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        super().build(input_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None
        self._build_lora()

    def _ids(self, inputs):
        v = np.asarray(inputs.value if hasattr(inputs, "value") else inputs)
        if v.dtype.kind == "f":
            ids = v.astype(np.int64)
            if not np.array_equal(ids, v):
                raise ValueError(f"Embedding '{self.name}' expects integer ids; received "
                                 f"non-integer values such as {v[ids != v].flat[0]!r}")
        elif v.dtype.kind in "iub":
            ids = v.astype(np.int64, copy=False)
        else:
            raise ValueError(f"Embedding '{self.name}' expects integer ids. Received inputs of "
                             f"dtype {v.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            bad = ids.min() if ids.min() < 0 else ids.max()
            raise ValueError(f"Embedding '{self.name}': ids must be in [0, input_dim="
                             f"{self.input_dim}). Received id {int(bad)}")
        return ids

    def call(self, inputs):
        return rnn_ops.embedding_lookup(self.embeddings, self._ids(inputs))

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        v = np.asarray(inputs.value if hasattr(inputs, "value") else inputs)
        return v != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": initializers_mod.serialize(self.embeddings_initializer),
            "embeddings_regularizer": None if self.embeddings_regularizer is None
            else regularizers_mod.serialize(self.embeddings_regularizer),
            "activity_regularizer": None if self.activity_regularizer is None
            else regularizers_mod.serialize(self.activity_regularizer),
            "embeddings_constraint": constraints_mod.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            "quantization_config": None,
        })
        return self._lora_config(config)


class ReversibleEmbedding(Embedding):
    """An Embedding that also maps vectors back to scores over the vocabulary:
    `layer(ids)` embeds as Embedding does; `layer(vectors, reverse=True)` returns
    vectors @ embeddings^T (with `tie_weights`, the default) or vectors @ reverse_embeddings
    (an (output_dim, input_dim) table of its own otherwise), optionally soft-capped as
    `tanh(logits / logit_soft_cap) * logit_soft_cap`."""

    def __init__(self, input_dim, output_dim, tie_weights=True,
                 embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer,
                         embeddings_constraint=embeddings_constraint, mask_zero=mask_zero,
                         **kwargs)
        self.tie_weights = bool(tie_weights)
        if reverse_dtype is not None and str(np.dtype(reverse_dtype)) not in (
                "float32", "float64"):
            raise ValueError(f"ReversibleEmbedding: `reverse_dtype` must be a float dtype. "
                             f"Received: reverse_dtype={reverse_dtype!r}")
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = logit_soft_cap
        self.reverse_embeddings = None

    def build(self, input_shape=None):
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                name="reverse_embeddings", shape=(self.output_dim, self.input_dim),
                initializer=self.embeddings_initializer)

    def call(self, inputs, reverse=False):
        if not reverse:
            out = super().call(inputs)
            if self.mask_zero:
                out._keras_mask = super().compute_mask(inputs)
            return out
        from fastkeras import ops
        kernel = ops.transpose(self.embeddings) if self.tie_weights else self.reverse_embeddings
        if inputs.shape[-1] != self.output_dim:
            raise ValueError(f"ReversibleEmbedding '{self.name}': with reverse=True the last "
                             f"axis of the inputs must be output_dim={self.output_dim}. "
                             f"Received inputs of shape {tuple(inputs.shape)}")
        logits = ops.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            cap = self.logit_soft_cap
            logits = ops.multiply(ops.tanh(ops.divide(logits, cap)), cap)
        return logits

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                       "logit_soft_cap": self.logit_soft_cap})
        return config
