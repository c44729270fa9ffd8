"""The Hashing layer, and the string hashes it and the lookup layers' out-of-vocabulary
buckets use, as Keras computes them through TensorFlow: FarmHash Fingerprint64 of each
value's UTF-8 text (the C++ kernel) modulo the bucket count, or with a salt the keyed
SipHash-2-4 of it."""

from __future__ import annotations

import numpy as np

from fastkeras import _core
from fastkeras.backend.tape import Tensor
from fastkeras.layers.extra_layers import encode_categories, encoded_shape
from fastkeras.layers.layer import Layer

_MASK64 = (1 << 64) - 1


def _rotl(v, r):
    return ((v << r) | (v >> (64 - r))) & _MASK64


def siphash24(k0: int, k1: int, data: bytes) -> int:
    """SipHash-2-4 of `data` under the 128-bit key (k0, k1) (Aumasson and Bernstein)."""
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261,
         k1 ^ 0x7465646279746573]

    def rounds(n):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & _MASK64
            v[1] = _rotl(v[1], 13) ^ v[0]
            v[0] = _rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & _MASK64
            v[3] = _rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & _MASK64
            v[3] = _rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & _MASK64
            v[1] = _rotl(v[1], 17) ^ v[2]
            v[2] = _rotl(v[2], 32)

    whole = len(data) - len(data) % 8
    for i in range(0, whole, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    last = int.from_bytes(data[whole:], "little") | ((len(data) & 0xFF) << 56)
    v[3] ^= last
    rounds(2)
    v[0] ^= last
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def normalize_salt(salt, owner):
    """Keras's salt forms: None, an int (used for both key halves) or two ints."""
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in salt):
        return [int(s) for s in salt]
    if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
        return [int(salt), int(salt)]
    raise ValueError(f"The `salt` argument for `{owner}` can only be a tuple of size 2 "
                     f"integers, or a single integer. Received: salt={salt!r}.")


def as_hash_text(values: np.ndarray) -> list:
    """Each value as the text TensorFlow hashes: strings as they are, floats truncated to
    integers, integers in decimal, booleans as "true"/"false"."""
    flat = values.reshape(-1)
    if flat.dtype.kind == "f":
        flat = flat.astype(np.int64)
    if flat.dtype.kind == "b":
        return ["true" if v else "false" for v in flat]
    if flat.dtype.kind in "iu":
        return [str(int(v)) for v in flat]
    return [v if isinstance(v, (str, bytes)) else str(v) for v in flat.tolist()]


def hash_buckets(texts: list, num_buckets: int, salt=None) -> np.ndarray:
    """The bucket in [0, num_buckets) of each str/bytes item: Fingerprint64 % num_buckets, or
    with a salt (two 64-bit key halves) SipHash-2-4 % num_buckets."""
    if salt is None:
        return _core.fingerprint64(texts, int(num_buckets))
    k0, k1 = (s & _MASK64 for s in salt)
    return np.array([siphash24(k0, k1, t.encode("utf-8") if isinstance(t, str) else t)
                     % num_buckets for t in texts], np.int64)


class Hashing(Layer):
    """Hashes strings or integers into `num_bins` bins, as Keras's Hashing layer: the bin of
    a value is the FarmHash Fingerprint64 of its text modulo the bin count (with `salt`, the
    keyed SipHash-2-4 of it). With `mask_value`, values equal to it go to bin 0 and the others
    to bins 1..num_bins-1. `output_mode` "int" (int64 bins, the input's shape), or "one_hot",
    "multi_hot", "count" (float32 vectors of num_bins, the last axis being a sample)."""

    _MODES = ("int", "one_hot", "multi_hot", "count")

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else "float32"
        super().__init__(**kwargs)
        if num_bins is None or isinstance(num_bins, bool) or not isinstance(
                num_bins, (int, np.integer)) or num_bins <= 0:
            raise ValueError(f"The `num_bins` for `Hashing` cannot be `None` or non-positive "
                             f"values. Received: num_bins={num_bins!r}.")
        if output_mode not in self._MODES:
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of "
                             f"{self._MODES}. Received: output_mode={output_mode!r}")
        if output_mode == "int" and self.dtype not in ("int32", "int64"):
            raise ValueError(f'When `output_mode="int"`, `dtype` should be an integer type, '
                             f"'int32' or 'int64'. Received: dtype={self.dtype}")
        if sparse:
            raise ValueError(f"Hashing: sparse outputs are not supported. Received: "
                             f"sparse={sparse!r}")
        self.num_bins = int(num_bins)
        self.mask_value = mask_value
        self.salt = normalize_salt(salt, "Hashing")
        self.strong_hash = self.salt is not None
        self.output_mode = output_mode
        self.sparse = False

    def _bins(self, values: np.ndarray) -> np.ndarray:
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mask = values == self.mask_value
        out = hash_buckets(as_hash_text(values), bins, self.salt).reshape(values.shape)
        if mask is not None:
            out = np.where(mask, 0, out + 1)
        return out.astype(np.int64)

    def call(self, inputs):
        values = inputs.value if isinstance(inputs, Tensor) else np.asarray(inputs)
        values = np.asarray(values)
        bins = self._bins(values)
        if self.output_mode == "int":
            return Tensor(bins.astype(self.dtype))
        return Tensor(encode_categories(bins, self.output_mode, self.num_bins, self.dtype))

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return encoded_shape(input_shape, self.output_mode, self.num_bins)

    def get_config(self):
        config = super().get_config()
        config.update({"num_bins": self.num_bins, "salt": self.salt,
                       "mask_value": self.mask_value, "output_mode": self.output_mode,
                       "sparse": self.sparse})
        return config
