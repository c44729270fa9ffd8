"""`pad_sequences`: a list of variable-length sequences as one padded numpy array."""

from __future__ import annotations

import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pads (and truncates) `sequences` to one length, as Keras's `pad_sequences`.

    Returns an array of shape `(len(sequences), maxlen) + sample_shape`, where `maxlen`
    defaults to the longest sequence and `sample_shape` is the shape of the elements of the
    first non-empty sequence (`()` for sequences of numbers). Shorter sequences are filled
    with `value` before ("pre") or after ("post") their items; longer ones lose items from
    the start ("pre") or the end ("post"). For strings use `dtype=object` (or a numpy string
    dtype) with a string `value`.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    lengths = []
    sample_shape = ()
    shape_known = False
    for seq in sequences:
        try:
            n = len(seq)
        except TypeError as e:
            raise ValueError("`sequences` must be a list of iterables. Found non-iterable: "
                             f"{seq}") from e
        lengths.append(n)
        if not shape_known and n:
            sample_shape = np.asarray(seq).shape[1:]
            shape_known = True
    if maxlen is None:
        maxlen = np.max(lengths)
    string_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not string_dtype:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}\nYou should set `dtype=object` for variable length "
                         "strings.")
    out = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    for i, seq in enumerate(sequences):
        if not len(seq):
            continue
        if truncating == "pre":
            kept = seq[-maxlen:]
        elif truncating == "post":
            kept = seq[:maxlen]
        else:
            raise ValueError(f'Truncating type "{truncating}" not understood: expected "pre" '
                             f'or "post". Received: truncating={truncating!r}')
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"Shape of sample {kept.shape[1:]} of sequence at position {i} "
                             f"is different from expected shape {sample_shape}")
        if padding == "post":
            out[i, :len(kept)] = kept
        elif padding == "pre":
            out[i, -len(kept):] = kept
        else:
            raise ValueError(f'Padding type "{padding}" not understood: expected "pre" or '
                             f'"post". Received: padding={padding!r}')
    return out
