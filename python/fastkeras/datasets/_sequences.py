"""Steps shared by the word-sequence data sets (IMDB, Reuters): argument checks, shuffling,
re-indexing, length and vocabulary filtering.

Every step works on plain Python lists, element by element, so the numbers keep the type
they had in the archive and the result matches Keras's loaders value for value.
"""

from __future__ import annotations

import numbers

import numpy as np


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(func: str, name: str, value, *, optional: bool = False, minimum: int | None = 0):
    """Raises TypeError/ValueError naming ``func``, ``name`` and ``value`` unless ``value`` is
    an integer (or None when ``optional``) no smaller than ``minimum``."""
    if value is None and optional:
        return
    if not _is_int(value):
        kind = "an integer or None" if optional else "an integer"
        raise TypeError(f"{func}: `{name}` must be {kind}. Received: {name}={value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{func}: `{name}` must be >= {minimum}. Received: {name}={value!r}")


def check_split(func: str, test_split, *, allow_one: bool) -> None:
    """``test_split`` must be a number in [0, 1) (or [0, 1] when ``allow_one``)."""
    ok = isinstance(test_split, numbers.Real) and not isinstance(test_split, bool)
    if ok:
        ok = 0 <= test_split <= 1 if allow_one else 0 <= test_split < 1
    if not ok:
        bound = "1 inclusive" if allow_one else "1, exclusive of 1"
        raise ValueError(f"{func}: `test_split` must be a fraction between 0 and {bound}. "
                         f"Received: test_split={test_split!r}")


def check_sequence_args(func, *, num_words, skip_top, maxlen, seed, start_char, oov_char,
                        index_from) -> None:
    check_int(func, "num_words", num_words, optional=True)
    check_int(func, "skip_top", skip_top)
    check_int(func, "maxlen", maxlen, optional=True)
    check_int(func, "seed", seed, optional=True, minimum=0)
    check_int(func, "start_char", start_char, optional=True, minimum=None)
    check_int(func, "oov_char", oov_char, optional=True, minimum=None)
    check_int(func, "index_from", index_from, minimum=0)


def shuffled(rng: np.random.RandomState, x: np.ndarray, y: np.ndarray):
    """``x`` and ``y`` reordered by one permutation drawn from ``rng``."""
    order = np.arange(len(x))
    rng.shuffle(order)
    return x[order], y[order]


def reindex(seqs, start_char, index_from) -> list[list]:
    """Each sequence as a new list: words shifted up by ``index_from``, led by
    ``start_char`` unless it is None."""
    if start_char is None:
        if not index_from:
            return [list(s) for s in seqs]
        return [[w + index_from for w in s] for s in seqs]
    out = []
    for s in seqs:
        row = [start_char]
        row.extend(w + index_from for w in s)
        out.append(row)
    return out


def shorter_than(maxlen: int, seqs, labels):
    """The (sequence, label) pairs whose sequence has fewer than ``maxlen`` entries, as two
    lists."""
    kept_x, kept_y = [], []
    for s, label in zip(seqs, labels):
        if len(s) < maxlen:
            kept_x.append(s)
            kept_y.append(label)
    return kept_x, kept_y


def vocabulary_end(seqs, num_words) -> int:
    """The first index past the kept vocabulary: ``num_words``, or when that is None/0 the
    largest index present (so, as in Keras, that one word itself counts as out of
    vocabulary)."""
    if num_words:
        return num_words
    return max((max(s) for s in seqs if len(s)), default=0)


def limit_vocabulary(seqs, skip_top: int, end: int, oov_char):
    """Words outside ``[skip_top, end)`` become ``oov_char``, or are dropped when it is
    None."""
    if oov_char is None:
        return [[w for w in s if skip_top <= w < end] for s in seqs]
    return [[w if skip_top <= w < end else oov_char for w in s] for s in seqs]


def object_array(seqs) -> np.ndarray:
    """Sequences as a numpy object array (2-D when they all have the same length, as numpy
    builds it)."""
    return np.array(seqs, dtype="object")


def require(arrays: dict, keys, path: str, title: str) -> None:
    absent = [k for k in keys if k not in arrays]
    if absent:
        raise ValueError(f"{path}: not the {title} archive (missing arrays {absent}; found "
                         f"{sorted(arrays)})")
