"""Lookup and text layers: `StringLookup`, `IntegerLookup` (tokens <-> integer ids),
`TextVectorization` (raw strings -> token ids or bag-of-words vectors) and `Discretization`
(numbers -> bin ids). All run eagerly on numpy data; they hold no trainable state.

Index layout of a lookup vocabulary, as in Keras: in "int" mode the mask token (when set)
is index 0, then `num_oov_indices` out-of-vocabulary slots, then the learned tokens. In the
counting modes the mask token has no index (masked inputs are dropped). `adapt()` orders
tokens by count, most frequent first; equal counts are ordered by the token itself, largest
first (byte order for strings, numeric order for integers)."""

from __future__ import annotations

import collections
import itertools
import os
import re

import numpy as np

from fastkeras.backend.config import floatx
from fastkeras.backend.tape import Tensor
from fastkeras.layers.extra_layers import encode_categories, encoded_shape
from fastkeras.layers.hashing import as_hash_text, hash_buckets, normalize_salt
from fastkeras.layers.input_layer import KerasTensor, inferring_shapes
from fastkeras.layers.layer import _CALL_CONTEXT, Layer
from fastkeras.trainers.py_dataset import PyDataset

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_PUNCTUATION = re.compile(r"""[!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~']""")


def _value(x):
    return x.value if isinstance(x, Tensor) else x


def _to_str(x):
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def _string_array(x):
    """Any string input (array of str/bytes/object, list, scalar) as an object array of str."""
    arr = np.asarray(_value(x), dtype=object)
    flat = [_to_str(v) for v in arr.ravel()]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(arr.shape)


def _check_mode(owner, output_mode):
    if output_mode == "binary":
        output_mode = "multi_hot"
    if output_mode == "tf-idf":
        output_mode = "tf_idf"
    if output_mode not in _MODES:
        raise ValueError(f"{owner}: invalid value for argument `output_mode`; expected one of "
                         f"{list(_MODES)}. Received: output_mode={output_mode!r}")
    return output_mode


def _encode(ids, mode, depth):
    """ids (int64, -1 for dropped entries) as one_hot / multi_hot / count vectors (int64)."""
    mode = "count" if mode == "tf_idf" else mode
    return encode_categories(np.asarray(ids, np.int64), mode, depth, np.int64)


def _encoded_shape(input_shape, mode, depth):
    input_shape = tuple(input_shape)
    return input_shape if mode == "int" else encoded_shape(input_shape, mode, depth)


def _adapt_batches(data, steps):
    """The batches `adapt` reads from `data` (at most `steps`; the first item of a tuple
    batch), or None when `data` is one array. A PyDataset gives its `num_batches` batches (an
    endless one, whose `num_batches` is None, needs `steps`); any other object with
    `__len__` and `__getitem__` but no `__iter__` is read by index, batches 0 .. len - 1;
    other iterables are iterated."""
    if isinstance(data, (list, tuple, np.ndarray, Tensor, str, bytes)):
        return None
    if isinstance(data, PyDataset):
        if data.num_batches is None and steps is None:
            raise ValueError("adapt() on an endless PyDataset (num_batches=None) needs "
                             "`steps`, the number of batches to read.")
        source = iter(data)
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__") \
            and not hasattr(data, "__iter__"):
        source = (data[i] for i in range(len(data)))
    elif hasattr(data, "__iter__"):
        source = iter(data)
    else:
        return None
    return (b[0] if isinstance(b, tuple) else b for b in itertools.islice(source, steps))


def _feed(data, steps, update, to_array):
    """Passes `data` to `update` for `adapt`: batch by batch when it holds batches (see
    `_adapt_batches`), else at once, one token per row."""
    batches = _adapt_batches(data, steps)
    if batches is not None:
        for batch in batches:
            update(batch)
        return
    arr = to_array(data)
    update(arr[:, None] if arr.ndim == 1 else arr)


class _IndexLookup(Layer):
    """Shared machinery of StringLookup and IntegerLookup (not public)."""

    _is_string = True
    _config_kwargs = ("vocabulary_size", "has_input_vocabulary")  # read from **kwargs

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype,
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 sparse=False, pad_to_max_tokens=False, oov_method="floormod", salt=None,
                 name=None, **kwargs):
        owner = type(self).__name__
        if max_tokens is not None and (isinstance(max_tokens, bool) or max_tokens <= 1):
            raise ValueError(f"{owner}: if set, `max_tokens` must be greater than 1. "
                             f"Received: max_tokens={max_tokens!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{owner}: `pad_to_max_tokens=True` needs `max_tokens`. "
                             f"Received: max_tokens={max_tokens!r}")
        if not isinstance(num_oov_indices, (int, np.integer)) or num_oov_indices < 0:
            raise ValueError(f"{owner}: `num_oov_indices` must be an integer >= 0. "
                             f"Received: num_oov_indices={num_oov_indices!r}")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{owner}: invalid value for argument `oov_method`; expected "
                             f"'floormod' or 'farmhash'. Received: oov_method={oov_method!r}")
        output_mode = _check_mode(owner, output_mode)
        if sparse:
            raise ValueError(f"{owner}: sparse outputs are not supported. "
                             f"Received: sparse={sparse!r}")
        if invert and output_mode != "int":
            raise ValueError(f"{owner}: `invert=True` needs output_mode='int'. "
                             f"Received: output_mode={output_mode!r}")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{owner}: `idf_weights` is only used when output_mode is "
                             f"'tf_idf'. Received: output_mode={output_mode!r}")
        self._has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        frozen = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = self._token(mask_token) if mask_token is not None else None
        self.oov_token = self._token(oov_token) if oov_token is not None else None
        self.vocabulary_dtype = vocabulary_dtype
        self.invert = bool(invert)
        self.output_mode = output_mode
        self.sparse = False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.oov_method = oov_method
        if salt is not None and vocabulary_dtype != "string" and oov_method != "farmhash":
            raise ValueError(f"`salt` can only be used when `oov_method='farmhash'`. "
                             f"Received: oov_method={oov_method!r}")
        self.salt = normalize_salt(salt, "IndexLookup")
        # As Keras, a vocabulary given as a file's path is not kept for the config: its words
        # are saved with the layer's assets (vocabulary.txt), so a saved model does not need
        # the file.
        self.input_vocabulary = None if isinstance(vocabulary, (str, os.PathLike)) \
            else vocabulary
        self.input_idf_weights = idf_weights
        self._tokens = []              # learned / given tokens, in index order
        self._index = {}
        self.idf_weights = None
        self._frozen_vocab_size = frozen
        self._counts = collections.Counter()
        self._doc_counts = collections.Counter()
        self._num_documents = 0
        if output_mode == "tf_idf" and self._has_input_vocabulary and idf_weights is None:
            raise ValueError(f"{owner}: with output_mode='tf_idf' and a `vocabulary`, pass "
                             "`idf_weights` too. Received: idf_weights=None")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        self.built = True

    # --- tokens ----------------------------------------------------------------------------
    def _token(self, value):
        return _to_str(value) if self._is_string else int(value)

    def _tokens_of(self, data):
        if self._is_string:
            return _string_array(data)
        arr = np.asarray(_value(data))
        if arr.dtype.kind not in "iub":
            if arr.dtype.kind == "f" and np.all(np.trunc(arr) == arr):
                arr = arr.astype(np.int64)
            else:
                raise ValueError(f"{type(self).__name__}: inputs must be integers. "
                                 f"Received an array of dtype {arr.dtype}")
        return arr.astype(np.int64)

    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    # --- vocabulary ------------------------------------------------------------------------
    def vocabulary_size(self):
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True):
        special = [self.mask_token] * self._oov_start_index() + \
                  [self.oov_token] * self.num_oov_indices
        return (special if include_special_tokens else []) + list(self._tokens)

    def set_vocabulary(self, vocabulary, idf_weights=None):
        owner = type(self).__name__
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{owner}: `idf_weights` must be set when output_mode is "
                             "'tf_idf'. Received: idf_weights=None")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"{owner}: `idf_weights` is only used when output_mode is "
                             f"'tf_idf'. Received: output_mode={self.output_mode!r}")
        if isinstance(vocabulary, (str, os.PathLike)):
            if not os.path.isfile(vocabulary):
                raise ValueError(f"{owner}: vocabulary file {os.fspath(vocabulary)} does not "
                                 "exist.")
            if self.output_mode == "tf_idf":
                raise ValueError(f"{owner}: output_mode 'tf_idf' does not support loading a "
                                 "vocabulary from file.")
            with open(vocabulary, encoding="utf-8") as f:
                lines = f.read().splitlines()
            while lines and lines[-1] == "":
                lines.pop()
            vocabulary = lines
        values = np.asarray(_value(vocabulary), dtype=object).ravel().tolist()
        if not values:
            raise ValueError(f"{owner}: cannot set an empty vocabulary. "
                             f"Received: vocabulary={vocabulary!r}")
        tokens = [self._token(v) for v in values]
        start = self._token_start_index()
        special = [self.mask_token] * self._oov_start_index() + \
                  [self.oov_token] * self.num_oov_indices
        if tokens[:start] == special:
            tokens = tokens[start:]
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(f"{owner}: the vocabulary has repeated tokens: {repeated}. "
                             f"Received: vocabulary={vocabulary!r}")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(f"{owner}: found the mask token {self.mask_token!r} inside the "
                             "vocabulary. Leave the mask and OOV tokens out, or put them first "
                             f"in this order: {special}")
        if self.invert and self.oov_token is not None and self.oov_token in tokens:
            raise ValueError(f"{owner}: found the OOV token {self.oov_token!r} inside the "
                             "vocabulary. Leave the mask and OOV tokens out, or put them first "
                             f"in this order: {special}")
        size = start + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(f"{owner}: the vocabulary has {size} entries with its special "
                             f"tokens, more than max_tokens={self.max_tokens}")
        if self.output_mode == "tf_idf":
            weights = np.asarray(_value(idf_weights), np.float32).ravel()
            if weights.size not in (len(tokens), len(values)):
                raise ValueError(f"{owner}: `idf_weights` must be as long as the vocabulary "
                                 f"({len(tokens)}). Received {weights.size} weights")
            if weights.size == len(tokens):
                weights = np.concatenate([np.full(start, weights.mean(), np.float32), weights])
            self.idf_weights = self._pad_idf(weights)
        self._set_tokens(tokens)

    def _pad_idf(self, weights):
        if self.pad_to_max_tokens and self.max_tokens is not None:
            weights = np.pad(weights, (0, self.max_tokens - weights.size))
        return weights.astype(np.float32)

    def _set_tokens(self, tokens):
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index = {t: i + start for i, t in enumerate(self._tokens)}
        self._frozen_vocab_size = self.vocabulary_size()

    # --- adapt -----------------------------------------------------------------------------
    def adapt(self, data, steps=None):
        """Learns the vocabulary from `data`: an array, a list of tokens, an iterable of
        batches or a PyDataset (at most `steps` batches of them)."""
        self.reset_state()
        _feed(data, steps, self.update_state, self._tokens_of)
        self.finalize_state()

    def reset_state(self):
        self._counts = collections.Counter()
        self._doc_counts = collections.Counter()
        self._num_documents = 0

    def update_state(self, data):
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}': its vocabulary was set with "
                             "the `vocabulary` argument or `set_vocabulary()`.")
        rows = data if isinstance(data, list) and data and isinstance(data[0], list) else None
        if rows is None:  # an array: a rank-1 batch is one document
            arr = self._tokens_of(data)
            if arr.ndim == 0:
                arr = arr[None]
            if arr.ndim == 1:
                arr = arr[None]
            rows = [r.ravel().tolist() for r in arr]
        for row in rows:
            self._counts.update(row)
            if self.output_mode == "tf_idf":
                self._doc_counts.update(set(row))
        self._num_documents += len(rows)

    def finalize_state(self):
        if self._has_input_vocabulary or not self._counts:
            return
        counts = self._counts
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(special, None)
        if self._is_string:
            key = lambda t: (counts[t], t.encode("utf-8"))
        else:
            key = lambda t: (counts[t], t)
        tokens = sorted(counts, key=key, reverse=True)
        if self.max_tokens:
            tokens = tokens[:self.max_tokens - self._token_start_index()]
        if self.output_mode == "tf_idf":
            docs = np.array([self._doc_counts[t] for t in tokens], np.float64)
            idf = np.log(1 + self._num_documents / (1 + docs)).astype(np.float32)
            idf = np.concatenate([np.full(self._token_start_index(), idf.mean(), np.float32),
                                  idf])
            self.idf_weights = self._pad_idf(idf)
        self._set_tokens(tokens)
        self.reset_state()

    # --- call ------------------------------------------------------------------------------
    def _depth(self):
        if self.pad_to_max_tokens:
            return self.max_tokens
        if self._tokens:
            return self.vocabulary_size()
        if self._frozen_vocab_size is None:
            raise RuntimeError(f"Layer '{self.name}': with output_mode={self.output_mode!r} and "
                               "pad_to_max_tokens=False, set the vocabulary (`vocabulary`, "
                               "`set_vocabulary()` or `adapt()`) before calling the layer.")
        return self._frozen_vocab_size  # from a config, before the vocabulary file is read

    def _lookup(self, tokens):
        flat = tokens.ravel().tolist()
        start = self._oov_start_index()
        if self.invert:
            by_index = dict(enumerate(self.get_vocabulary()))
            if self.mask_token is not None:
                by_index[0] = self.mask_token
            out = [by_index.get(int(i), self.oov_token) for i in flat]
            if self._is_string:
                arr = np.empty(len(out), dtype=object)
                arr[:] = out
                return arr.reshape(tokens.shape)
            return np.asarray(out, np.int64).reshape(tokens.shape)
        mask_value = 0 if self.output_mode == "int" else -1
        n_oov = self.num_oov_indices
        out = np.empty(len(flat), np.int64)
        missing, hashed = [], []
        for k, t in enumerate(flat):
            if self.mask_token is not None and t == self.mask_token:
                out[k] = mask_value
                continue
            i = self._index.get(t)
            if i is not None:
                out[k] = i
            elif n_oov == 1:
                out[k] = start
            elif n_oov == 0:
                missing.append(t)
            elif self._is_string or self.oov_method == "farmhash":
                hashed.append(k)  # hashed below, all at once
            else:
                out[k] = start + t % n_oov
        if hashed:  # Keras's buckets: the hash of the token's text, modulo num_oov_indices
            out[hashed] = start + hash_buckets(as_hash_text(np.asarray(flat)[hashed]), n_oov,
                                               self.salt)
        if missing and not inferring_shapes():  # the shape probes' made-up values may miss
            raise ValueError(f"Layer '{self.name}': when num_oov_indices=0 every input must be "
                             f"in the vocabulary; found out-of-vocabulary values {missing[:10]}. "
                             "Consider setting `num_oov_indices=1`.")
        return out.reshape(tokens.shape)

    def call(self, inputs):
        if self.invert:
            tokens = np.asarray(_value(inputs)).astype(np.int64)
        else:
            tokens = self._tokens_of(inputs)
        ids = self._lookup(tokens)
        if self.output_mode == "int":
            if self.invert and self._is_string:
                return ids
            return Tensor(ids)
        return Tensor(self._encoded(ids))

    def _encoded(self, ids, depth=None):
        out = _encode(ids, self.output_mode, self._depth() if depth is None else depth)
        if self.output_mode != "tf_idf":
            return out
        if self.idf_weights is None:
            # A layer rebuilt from its config gets its weights when the saved file's assets
            # are read, after the symbolic calls that rebuild the model (whose shape probes
            # need no weights).
            if inferring_shapes():
                return out.astype(np.float32)
            raise ValueError(f"Layer '{self.name}': when output_mode is 'tf_idf', the idf "
                             "weights must be set before calling the layer (`adapt()`, or "
                             "`vocabulary` with `idf_weights`).")
        return out.astype(np.float32) * self.idf_weights

    def compute_output_shape(self, input_shape):
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        return _encoded_shape(input_shape, self.output_mode, depth)

    # --- config and saving -----------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        vocab = self.input_vocabulary
        if vocab is not None:
            vocab = [self._token(v) for v in np.asarray(_value(vocab), object).ravel()]
        idf = self.input_idf_weights
        config.update({
            "invert": self.invert, "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
            "mask_token": self.mask_token, "output_mode": self.output_mode,
            "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary_dtype": self.vocabulary_dtype,
            "idf_weights": None if idf is None else np.asarray(_value(idf)).tolist(),
            "vocabulary": vocab, "vocabulary_size": self._frozen_vocab_size,
            "oov_method": self.oov_method, "salt": self.salt,
        })
        return config

    def save_assets(self, dir_path):
        """Writes an adapted vocabulary, or one read from a file, as `vocabulary.txt` (one
        token a line, special tokens included), the file Keras writes, and the idf weights as
        `idf_weights.npy`; a vocabulary given as a list lives in the config."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(str(t) for t in self.get_vocabulary()))
        if self.idf_weights is not None:
            np.save(os.path.join(dir_path, "idf_weights.npy"), self.idf_weights)

    def load_assets(self, dir_path):
        if self.input_vocabulary is not None:
            return
        path = os.path.join(dir_path, "vocabulary.txt")
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        if not lines:
            return
        values = lines if self._is_string else [int(v) for v in lines]
        idf = None
        if self.output_mode == "tf_idf":
            idf_path = os.path.join(dir_path, "idf_weights.npy")
            if not os.path.exists(idf_path):
                return  # saved before it had a vocabulary and weights
            # One weight per vocabulary entry, special tokens included (then the zeros that
            # pad_to_max_tokens adds, which set_vocabulary adds back).
            idf = np.load(idf_path)[:len(values)]
        has_input = self._has_input_vocabulary
        self.set_vocabulary(values, idf)
        self._has_input_vocabulary = has_input


class StringLookup(_IndexLookup):
    """Maps strings to integer ids from a vocabulary (`invert=True`: ids back to strings).

    Unknown strings take the OOV index (1 with `mask_token` set in "int" mode, else 0);
    `num_oov_indices` > 1 spreads them over several OOV indices by a hash of the string.
    `output_mode` "one_hot" / "multi_hot" / "count" (int64) and "tf_idf" (float32) encode
    the ids as vectors of `vocabulary_size()` (or `max_tokens` with `pad_to_max_tokens`)."""

    _is_string = True

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None, salt=None,
                 **kwargs):
        kwargs.pop("vocabulary_dtype", None)
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary_dtype="string",
                         vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, name=name, salt=salt, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["vocabulary_dtype"]
        config["encoding"] = self.encoding
        return config


class IntegerLookup(_IndexLookup):
    """Maps integers to contiguous ids from a vocabulary (`invert=True`: ids back to the
    integers). The OOV token defaults to -1; with `num_oov_indices` > 1 an unknown value v
    goes to OOV index `v % num_oov_indices` (oov_method="floormod"). Output modes as in
    StringLookup."""

    _is_string = False

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":  # as Keras
            raise ValueError("Only `vocabulary_dtype='int64'` is supported at this time. "
                             f"Received: vocabulary_dtype={vocabulary_dtype}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token,
                         vocabulary_dtype=vocabulary_dtype, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         sparse=sparse, pad_to_max_tokens=pad_to_max_tokens,
                         oov_method=oov_method, salt=salt, name=name, **kwargs)


# --- TextVectorization -----------------------------------------------------------------------

def _ngrams(tokens, widths):
    out = []
    for n in widths:
        out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out


class _ProbeOutput:
    """What a shape probe of TextVectorization hands the shape inference: the declared
    shape (the probe's batch size first) and dtype."""

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)


class TextVectorization(Layer):
    """Raw strings -> standardized -> split into tokens -> (ngrams) -> ids of a vocabulary.

    "int" mode gives (batch, length) int64 ids padded with 0 (the mask token "") to the
    longest sample, or cut / padded to `output_sequence_length`; index 1 is "[UNK]". The
    other modes give one vector per sample (see StringLookup). Inputs are (batch,) or
    (batch, 1) strings.

    A `standardize` callable receives what Keras hands it on its non-TensorFlow backends: a
    NumPy array of unicode strings (dtype '<U...', for `np.char` / `np.strings` functions)
    shaped as the inputs, and returns strings of that shape. A `split` callable receives the
    standardized strings as a rank-1 unicode array (the last axis of (batch, 1) inputs
    squeezed out) and returns one sequence of tokens per string.

    Called on symbolic inputs, the layer declares Keras's output shape and dtype (those of
    `compute_output_spec`): (batch, output_sequence_length) in "int" mode, so (None, None)
    without a fixed length, and int64; in the counting modes float32 and (batch, depth), the
    shape the call returns (for split (batch, 1) inputs Keras declares (None, 1, depth))."""

    _config_kwargs = ("vocabulary_size", "has_input_vocabulary")  # read from **kwargs

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int", output_sequence_length=None,
                 pad_to_max_tokens=False, vocabulary=None, idf_weights=None, sparse=False,
                 ragged=False, encoding="utf-8", name=None, **kwargs):
        owner = "TextVectorization"
        if sparse:
            raise ValueError(f"{owner}: `sparse=True` is not supported (Keras supports it only "
                             f"with the TensorFlow backend). Received: sparse={sparse!r}")
        if ragged:
            raise ValueError(f"{owner}: `ragged=True` is not supported (Keras supports it only "
                             f"with the TensorFlow backend). Received: ragged={ragged!r}")
        if not (standardize is None or callable(standardize) or standardize in (
                "lower_and_strip_punctuation", "lower", "strip_punctuation")):
            raise ValueError(f"{owner}: invalid value for argument `standardize`; expected "
                             "'lower_and_strip_punctuation', 'lower', 'strip_punctuation', None "
                             f"or a callable. Received: standardize={standardize!r}")
        if not (split is None or callable(split) or split in ("whitespace", "character")):
            raise ValueError(f"{owner}: invalid value for argument `split`; expected "
                             "'whitespace', 'character', None or a callable. "
                             f"Received: split={split!r}")
        output_mode = _check_mode(owner, output_mode)
        # (a config's list is made a tuple by from_config; a list given here is an error)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool))
                or (isinstance(ngrams, tuple) and all(isinstance(n, int) for n in ngrams))):
            raise ValueError(f"{owner}: `ngrams` must be None, an integer, or a tuple of "
                             f"integers. Received: ngrams={ngrams!r}")
        if output_mode == "int" and not (output_sequence_length is None or isinstance(
                output_sequence_length, int)):
            raise ValueError(f"{owner}: `output_sequence_length` must be None or an integer "
                             "when output_mode is 'int'. "
                             f"Received: output_sequence_length={output_sequence_length!r}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(f"{owner}: `output_sequence_length` must not be set when "
                             f"output_mode is not 'int'. Received: output_mode={output_mode!r},"
                             f" output_sequence_length={output_sequence_length!r}")
        has_input = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        frozen = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
            has_input_vocabulary=has_input, vocabulary_size=frozen, name=f"{self.name}_lookup")
        self.built = True

    # Keras tracks the inner lookup privately; it is not a sub-layer in saved files.
    def __setattr__(self, key, value):
        if key == "_lookup_layer":
            object.__setattr__(self, key, value)
        else:
            super().__setattr__(key, value)

    def _preprocess(self, inputs):
        texts = _string_array(inputs)
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            texts = np.vectorize(str.lower, otypes=[object])(texts) if texts.size else texts
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            texts = np.vectorize(lambda s: _PUNCTUATION.sub("", s), otypes=[object])(texts) \
                if texts.size else texts
        if callable(self._standardize):
            texts = _string_array(self._standardize(texts.astype(np.str_)))
        if self._split is None:
            docs = texts
            if self._ngrams is not None:
                raise ValueError("TextVectorization: `ngrams` needs `split`. "
                                 f"Received: split=None, ngrams={self._ngrams_arg!r}")
            return docs, False
        if texts.ndim > 1:
            if texts.shape[-1] != 1:
                raise ValueError("TextVectorization: to split strings the input must have "
                                 "rank 1 or a last dimension of 1. Received: inputs.shape="
                                 f"{texts.shape}")
            texts = texts[..., 0]
        if texts.ndim == 0:
            texts = texts[None]
        if self._split == "whitespace":
            rows = [t.split() for t in texts.tolist()]
        elif self._split == "character":
            rows = [list(t) for t in texts.tolist()]
        else:
            split = self._split(texts.astype(np.str_))
            rows = [[_to_str(w) for w in np.asarray(_value(r), object).ravel()] for r in split]
        if self._ngrams is not None:
            rows = [_ngrams(r, self._ngrams) for r in rows]
        return rows, True

    def adapt(self, data, batch_size=None, steps=None):
        """Learns the vocabulary from strings: an array, a list, an iterable of batches or a
        PyDataset (at most `steps` batches of them)."""
        lookup = self._lookup_layer
        lookup.reset_state()
        _feed(data, steps, self.update_state, _string_array)
        lookup.finalize_state()

    def update_state(self, data):
        docs, split = self._preprocess(data)
        if split:
            self._lookup_layer.update_state(docs if docs else [[]])
        else:
            self._lookup_layer.update_state(docs)

    def finalize_state(self):
        self._lookup_layer.finalize_state()

    def reset_state(self):
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def call(self, inputs):
        docs, split = self._preprocess(inputs)
        lookup = self._lookup_layer
        length = self._output_sequence_length
        if not split:
            out = lookup.call(docs)
            if self._output_mode != "int" or length is None:
                return out
            # As Keras, the ids' last axis is cut or padded (with 0) to output_sequence_length.
            ids = np.asarray(out.value)
            ids = (ids.reshape(-1, 1) if ids.ndim < 2 else ids)[..., :length]
            pad = [(0, 0)] * (ids.ndim - 1) + [(0, length - ids.shape[-1])]
            return Tensor(np.pad(ids, pad))
        if self._output_mode != "int":
            depth = self._depth()
            out = []
            for row in docs:
                ids = lookup._lookup(_string_array(row).reshape(-1))
                out.append(lookup._encoded(ids, depth) if ids.size else
                           np.zeros(depth, np.float32 if self._output_mode == "tf_idf"
                                    else np.int64))
            dtype = np.float32 if self._output_mode == "tf_idf" else np.int64
            return Tensor(np.stack(out).astype(dtype) if out else np.zeros((0, depth), dtype))
        ids = [lookup._lookup(_string_array(row).reshape(-1)) for row in docs]
        if length is None:
            length = max((len(r) for r in ids), default=0)
        out = np.zeros((len(ids), length), np.int64)
        for k, r in enumerate(ids):
            r = r[:length]
            out[k, :len(r)] = r
        return Tensor(out)

    def _depth(self):
        """The length of the vectors of the counting modes. A layer whose vocabulary is not
        set yet has none, which Keras allows on symbolic inputs (the depth is declared None):
        the shape probes then use the current vocabulary size."""
        lookup = self._lookup_layer
        if inferring_shapes() and not lookup.pad_to_max_tokens and not lookup._tokens \
                and lookup._frozen_vocab_size is None:
            return lookup.vocabulary_size()
        return lookup._depth()

    def __call__(self, inputs, *args, **kwargs):
        # Symbolic calls infer the output from probe calls on made-up words, whose output
        # would fix the sequence length to the probe's; Keras declares the symbolic output
        # by compute_output_shape instead (a free length in "int" mode without
        # output_sequence_length) with dtype int64 in "int" mode, else float32. A probe call
        # made for this layer itself (not from inside another layer's call) reports those.
        own_probe = inferring_shapes() and not _CALL_CONTEXT.active
        outputs = super().__call__(inputs, *args, **kwargs)
        if own_probe and isinstance(outputs, Tensor):
            spec = self.compute_output_spec(KerasTensor(np.shape(_value(inputs))))
            return _ProbeOutput(spec.shape, spec.dtype)
        return outputs

    def compute_output_spec(self, inputs, *args, **kwargs):
        dtype = "int64" if self._output_mode == "int" else floatx()
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype=dtype)

    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        if self._split is None:
            if len(input_shape) <= 1:
                input_shape = tuple(input_shape) + (1,)
        else:
            # each string (a trailing axis of one is the string itself) becomes a row of
            # tokens: the shape the call returns (Keras's declared shape keeps that axis)
            base = tuple(input_shape)
            if len(base) > 1 and base[-1] == 1:
                base = base[:-1]
            input_shape = base + (None,)
        return self._lookup_layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()  # name, trainable and dtype, as Keras's
        lookup = self._lookup_layer
        lookup_config = lookup.get_config()
        config.update({
            "max_tokens": lookup.max_tokens, "standardize": self._standardize,
            "split": self._split, "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": lookup.pad_to_max_tokens, "sparse": False, "ragged": False,
            "vocabulary": lookup_config["vocabulary"], "idf_weights": lookup_config["idf_weights"],
            "encoding": self._encoding, "vocabulary_size": self.vocabulary_size(),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        # custom `standardize`/`split` functions come back from their saved form (found in
        # custom_objects or the registry), as Keras's from_config does
        from fastkeras.saving import deserialize_keras_object
        for key in ("standardize", "split"):
            if isinstance(config.get(key), dict):
                config[key] = deserialize_keras_object(config[key])
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)

    def save_assets(self, dir_path):
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path):
        self._lookup_layer.load_assets(dir_path)


# --- Discretization --------------------------------------------------------------------------

class Discretization(Layer):
    """Buckets numbers by `bin_boundaries` (sorted): value v goes to the number of boundaries
    <= v, so bins are [-inf, b0), [b0, b1), ..., [b_last, inf). Or give `num_bins` and call
    `adapt(data)` to place the boundaries at quantiles of the data. "int" gives int32 bin
    ids; "one_hot" / "multi_hot" / "count" give vectors of `len(boundaries) + 1` in the
    layer's dtype (float32 unless given)."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None, **kwargs):
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError("Discretization: invalid value for argument `output_mode`; "
                             "expected one of 'int', 'one_hot', 'multi_hot', 'count'. "
                             f"Received: output_mode={output_mode!r}")
        if sparse:
            raise ValueError("Discretization: sparse outputs are not supported. "
                             f"Received: sparse={sparse!r}")
        if num_bins is not None and num_bins < 0:
            raise ValueError("Discretization: `num_bins` must be >= 0. "
                             f"Received: num_bins={num_bins!r}")
        if num_bins is not None and bin_boundaries is not None \
                and len(bin_boundaries) != num_bins - 1:
                raise ValueError("Discretization: pass `num_bins` or `bin_boundaries`, not "
                                 f"both. Received: num_bins={num_bins!r}, "
                                 f"bin_boundaries={bin_boundaries!r}")
        if isinstance(dtype, dict):  # a serialized dtype policy
            dtype = dtype.get("config", {}).get("name")
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.bin_boundaries = None if bin_boundaries is None else list(bin_boundaries)
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.output_mode = output_mode
        self.sparse = False
        self._data = []
        self.built = True

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def adapt(self, data, steps=None):
        """Sets `bin_boundaries` to `num_bins - 1` quantiles of `data` (an array, an iterable
        of batches or a PyDataset), interpolated between neighbouring sorted values."""
        if self.num_bins is None:
            raise ValueError("Discretization.adapt needs `num_bins` set in the constructor. "
                             "Received: num_bins=None")
        batches = _adapt_batches(data, steps)
        values = [np.asarray(_value(b), np.float64).ravel()
                  for b in ([data] if batches is None else batches)]
        values = np.sort(np.concatenate(values)) if values else np.zeros(0)
        if not values.size:
            raise ValueError("Discretization.adapt received no data.")
        # quantile q of n sorted values: linear interpolation on the cumulative weights, the
        # value at cumulative weight w being the k-th value when k + 1 >= w
        cum = np.arange(1, values.size + 1, dtype=np.float64)
        qs = np.linspace(0, values.size, self.num_bins + 1)[1:-1]
        self.bin_boundaries = np.interp(qs, cum, values).astype(np.float32).tolist()

    def call(self, inputs):
        x = np.asarray(_value(inputs))
        if self.bin_boundaries is None:
            raise ValueError(f"Layer '{self.name}': set `bin_boundaries` or call adapt() "
                             "before calling the layer.")
        bins = np.asarray(self.bin_boundaries, np.float64)
        ids = np.searchsorted(bins, x.astype(np.float64), side="right").astype(np.int64)
        if self.output_mode == "int":  # int32 whatever the layer's dtype, as in Keras
            return Tensor(ids.astype(np.int32))
        out = _encode(ids, self.output_mode, len(self.bin_boundaries) + 1)
        return Tensor(out.astype(np.dtype(self.dtype)))

    def compute_output_shape(self, input_shape):
        depth = (len(self.bin_boundaries) + 1 if self.bin_boundaries is not None
                 else self.num_bins)
        return _encoded_shape(input_shape, self.output_mode, depth)

    def get_config(self):
        config = super().get_config()
        config.pop("trainable", None)  # Keras's Discretization neither writes nor takes it
        config.update({"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                       "epsilon": self.epsilon, "output_mode": self.output_mode,
                       "sparse": self.sparse,
                       "dtype": self.dtype})  # the dtype's name, as Keras writes it here
        return config
