"""Keras 3's config dicts for layers: {"module", "class_name", "config", "registered_name"}."""

from __future__ import annotations


def serialize_layer(layer) -> dict:
    return {"module": "keras.layers", "class_name": type(layer).__name__,
            "config": layer.get_config(), "registered_name": None}
