"""IMDB movie reviews: 50,000 reviews (25,000 train, 25,000 test) labelled positive (1) or
negative (0), each a list of word indices ranked by frequency (index 1 is the most common
word of the training set).

`load_data(path="imdb.npz", ...)` and `get_word_index(path="imdb_word_index.json")` use the
first good copy among:

1. ``<cache>/<path>``, where ``<cache>`` is ``$FASTKERAS_DATASETS`` if set, else
   ``$FASTKERAS_HOME/datasets``, else ``~/.fastkeras/datasets`` (an absolute ``path`` is
   used as is);
2. Keras's own cache, ``~/.keras/datasets/<path>`` (``$KERAS_HOME`` honoured);
3. a download from the public mirror Keras uses, to ``<cache>/<path>``.

Copies are checked against the digest Keras publishes (SHA-256 for the archive, MD5 for the
word index); a mismatching copy is skipped with a warning. Downloads show a progress bar on
stderr and are verified before being moved into place. The ragged sequences are stored as
pickled object arrays; they are read with an unpickler that only rebuilds numpy arrays.

The reviews come from Maas et al., "Learning Word Vectors for Sentiment Analysis" (2011).
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from fastkeras.datasets import _files, _sequences

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
URL = BASE_URL + "imdb.npz"
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_URL = BASE_URL + "imdb_word_index.json"
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"  # MD5, the only digest published
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, **kwargs):
    """Loads the IMDB reviews, processed exactly as ``keras.datasets.imdb.load_data`` does.

    In order: each split is shuffled with ``np.random.RandomState(seed)`` (train first, then
    test, from the same generator); word indices are shifted up by ``index_from`` and each
    review is led by ``start_char`` (unless None); with ``maxlen``, reviews of ``maxlen``
    entries or more (the start mark included) are dropped; finally every index outside
    ``[skip_top, num_words)`` is replaced by ``oov_char`` (or removed when it is None). When
    ``num_words`` is None, the bound is the largest index present, which therefore becomes
    ``oov_char`` too.

    Args:
        path: file name in the cache (or an absolute path).
        num_words: keep the indices below this bound; None (or 0) keeps all but the largest.
        skip_top: indices below this are out of vocabulary too (this includes
            ``start_char`` when it is smaller).
        maxlen: drop the reviews with ``maxlen`` or more entries; None (or 0) keeps all.
        seed: seed of the shuffle.
        start_char: index put at the start of each review, or None for none.
        oov_char: index that replaces the words cut by ``num_words``/``skip_top``, or None
            to remove them.
        index_from: added to every word index, leaving room for the marks below it.
        **kwargs: accepted for signature compatibility and ignored (with a warning).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: the x's are numpy object arrays of Python
        lists of indices, the y's integer arrays of 0/1 labels.

    Raises:
        DatasetNotFoundError: no local copy and the download failed.
        ValueError: a bad argument (named with its value), or no review is left in one split
            after the ``maxlen`` filter.
    """
    func = "imdb.load_data"
    _sequences.check_sequence_args(func, num_words=num_words, skip_top=skip_top,
                                   maxlen=maxlen, seed=seed, start_char=start_char,
                                   oov_char=oov_char, index_from=index_from)
    if kwargs:
        warnings.warn(f"{func}: ignoring unsupported arguments {sorted(kwargs)}",
                      stacklevel=2)

    file = _files.find_or_fetch(path, URL, FILE_HASH, title="IMDB")
    arrays = _files.load_npz(file)
    _sequences.require(arrays, _KEYS, file, "IMDB")

    rng = np.random.RandomState(seed)
    x_train, y_train = _sequences.shuffled(rng, arrays["x_train"], arrays["y_train"])
    x_test, y_test = _sequences.shuffled(rng, arrays["x_test"], arrays["y_test"])

    x_train = _sequences.reindex(x_train, start_char, index_from)
    x_test = _sequences.reindex(x_test, start_char, index_from)

    if maxlen:
        x_train, y_train = _sequences.shorter_than(maxlen, x_train, y_train)
        x_test, y_test = _sequences.shorter_than(maxlen, x_test, y_test)
        empty = [name for name, xs in (("train", x_train), ("test", x_test)) if not xs]
        if empty:
            raise ValueError(f"{func}: no {' or '.join(empty)} review is shorter than "
                             f"maxlen={maxlen}; pass a larger `maxlen`.")

    n_train = len(x_train)
    both = x_train + x_test
    labels = np.concatenate([y_train, y_test])
    end = _sequences.vocabulary_end(both, num_words)
    both = _sequences.limit_vocabulary(both, skip_top, end, oov_char)

    return ((_sequences.object_array(both[:n_train]), labels[:n_train]),
            (_sequences.object_array(both[n_train:]), labels[n_train:]))


def get_word_index(path="imdb_word_index.json"):
    """The IMDB vocabulary as a dict ``{word: index}``, index 1 being the most frequent word.

    The indices are those in the raw archive: a word appears in `load_data`'s sequences as
    ``index + index_from`` (3 by default). Files are looked for as described in the module
    docstring.
    """
    file = _files.find_or_fetch(path, WORD_INDEX_URL, WORD_INDEX_HASH, title="IMDB word index")
    with open(file, encoding="utf-8") as f:
        return json.load(f)
