"""`keras.preprocessing.sequence`: padding sequences to a common length."""

from fastkeras.utils.sequence_utils import pad_sequences

__all__ = ["pad_sequences"]
