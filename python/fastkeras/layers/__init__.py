"""Keras layers (`fastkeras.layers`)."""

from fastkeras.layers.core import Activation, Dense, Dropout, Flatten, Lambda, Reshape
from fastkeras.layers.input_layer import Input, InputLayer, KerasTensor
from fastkeras.layers.layer import Layer

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "KerasTensor",
           "Lambda", "Layer", "Reshape"]
