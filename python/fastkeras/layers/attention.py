"""Dot-product (Luong-style) and additive (Bahdanau-style) attention, Keras 3's `Attention`."""

from __future__ import annotations

import numpy as np

from fastkeras import ops
from fastkeras.backend import random as fk_random
from fastkeras.layers.layer import Layer, carried_masks


def _mask_array(mask):
    return None if mask is None else np.asarray(getattr(mask, "value", mask), dtype=bool)


class Attention(Layer):
    """`Attention()([query, value])` or `([query, value, key])`, inputs (batch, T, dim):
    scores = query . key^T (score_mode "dot", times a learned `scale` when use_scale) or
    sum(tanh(query + key)) (score_mode "concat", times a learned concat_score_weight),
    softmax over the value steps, then the weighted sum of the values.

    Masks ([query_mask, value_mask], or those the inputs carry): value steps whose mask is
    False get no weight; output steps whose query mask is False are zero; `use_causal_mask`
    keeps each query step from attending to later steps. `return_attention_scores=True`
    returns (output, weights); `dropout` drops weights while training.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale = use_scale
        self.score_mode = score_mode
        self.dropout = dropout
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        if self.score_mode not in ["dot", "concat"]:
            raise ValueError("Invalid value for argument score_mode. Expected one of {'dot', "
                             f"'concat'}}. Received: score_mode={score_mode}")
        self.supports_masking = True
        self.scale = None
        self.concat_score_weight = None

    def _validate_inputs(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, list):
            raise ValueError(f"{name} layer must be called on a list of inputs, namely "
                             f"[query, value] or [query, value, key]. Received: inputs={inputs}.")
        if len(inputs) < 2 or len(inputs) > 3:
            raise ValueError(f"{name} layer accepts inputs list of length 2 or 3, namely "
                             f"[query, value] or [query, value, key]. Received length: "
                             f"{len(inputs)}.")
        if mask is not None:
            if not isinstance(mask, list):
                raise ValueError(f"{name} layer mask must be a list, namely [query_mask, "
                                 f"value_mask]. Received: mask={mask}.")
            if len(mask) < 2 or len(mask) > 3:
                raise ValueError(f"{name} layer accepts mask list of length 2 or 3. "
                                 f"Received: inputs={inputs}, mask={mask}.")

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones",
                                         trainable=True)
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(),
                                                       initializer="ones", trainable=True)
        super().build(input_shape)

    def _masks(self, inputs, mask):
        """The explicit masks, else those the input tensors carry (Embedding(mask_zero))."""
        if mask is None:
            mask = carried_masks(inputs)
        self._validate_inputs(inputs, mask)
        return mask

    def _scores(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
            return scores if self.scale is None else ops.multiply(scores, self.scale)
        summed = ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3))
        if self.scale is not None:
            summed = ops.multiply(self.scale, summed)
        return ops.multiply(self.concat_score_weight, ops.sum(ops.tanh(summed), axis=-1))

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        mask = self._masks(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask = _mask_array(mask[0]) if mask else None
        v_mask = _mask_array(mask[1]) if mask else None
        scores = self._scores(q, k)
        tq, tv = scores.shape[-2], scores.shape[-1]
        keep = None if v_mask is None else np.expand_dims(v_mask, -2)  # (batch, 1, Tv)
        if use_causal_mask:
            causal = np.tril(np.ones((1, tq, tv), bool))
            keep = causal if keep is None else keep & causal
        if keep is not None:
            # As Keras: padded steps lose 1e9, so the softmax gives them no weight.
            scores = ops.subtract(scores, np.float32(1.0e9) * (~keep).astype(np.float32))
        weights = ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            gen = self._rng if self._rng is not None else fk_random.generator()
            drop = gen.random(weights.shape, dtype=np.float32) >= self.dropout
            weights = ops.multiply(weights, drop / np.float32(1 - self.dropout))
        output = ops.matmul(weights, v)
        if q_mask is not None:
            output = ops.multiply(output, q_mask[..., None].astype(np.float32))
        return (output, weights) if return_attention_scores else output

    def compute_mask(self, inputs, mask=None):
        mask = self._masks(inputs, mask)
        if mask is None or mask[0] is None:
            return None
        return mask[0]

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], input_shape[1][-1])

    def get_config(self):
        config = super().get_config()
        config.update({"use_scale": self.use_scale, "score_mode": self.score_mode,
                       "dropout": self.dropout, "seed": self.seed})
        return config
