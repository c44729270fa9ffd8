"""Reuters newswires: 11,228 short news stories labelled with one of 46 topics, each a list
of word indices ranked by frequency (index 1 is the most common word).

`load_data(path="reuters.npz", ...)` and `get_word_index(path="reuters_word_index.json")`
use the first good copy among:

1. ``<cache>/<path>``, where ``<cache>`` is ``$FASTKERAS_DATASETS`` if set, else
   ``$FASTKERAS_HOME/datasets``, else ``~/.fastkeras/datasets`` (an absolute ``path`` is
   used as is);
2. Keras's own cache, ``~/.keras/datasets/<path>`` (``$KERAS_HOME`` honoured);
3. a download from the public mirror Keras uses, to ``<cache>/<path>``.

Copies are checked against the digest Keras publishes (SHA-256 for the archive, MD5 for the
word index); a mismatching copy is skipped with a warning. Downloads show a progress bar on
stderr and are verified before being moved into place. The archive holds one pool of
stories (``x``, ``y``) that `load_data` shuffles and splits.

The stories come from the Reuters-21578 collection.
"""

from __future__ import annotations

import json

import numpy as np

from fastkeras.datasets import _files, _sequences

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
URL = BASE_URL + "reuters.npz"
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_URL = BASE_URL + "reuters_word_index.json"
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"  # MD5, the only digest published

# Topic names, by label.
LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing",
    "money-supply", "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass",
    "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed",
    "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber",
    "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver",
    "wpi", "hog", "lead",
)


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3):
    """Loads the Reuters newswires, processed exactly as
    ``keras.datasets.reuters.load_data`` does.

    In order: all stories are shuffled with ``np.random.RandomState(seed)``; word indices are
    shifted up by ``index_from`` and each story is led by ``start_char`` (unless None); with
    ``maxlen``, stories of ``maxlen`` entries or more (the start mark included) are dropped;
    every index outside ``[skip_top, num_words)`` is replaced by ``oov_char`` (or removed
    when it is None; with ``num_words`` None the bound is the largest index present, so that
    word is replaced too); finally the first ``int(n * (1 - test_split))`` stories form the
    training set and the rest the test set.

    Args:
        path: file name in the cache (or an absolute path).
        num_words: keep the indices below this bound; None (or 0) keeps all but the largest.
        skip_top: indices below this are out of vocabulary too.
        maxlen: drop the stories with ``maxlen`` or more entries; None (or 0) keeps all.
        test_split: fraction of the stories in the test set, from 0 to 1.
        seed: seed of the shuffle.
        start_char: index put at the start of each story, or None for none.
        oov_char: index replacing the words cut by ``num_words``/``skip_top``, or None to
            remove them.
        index_from: added to every word index, leaving room for the marks below it.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: the x's are numpy object arrays of Python
        lists of indices, the y's integer arrays of topic labels (0-45, see
        `get_label_names`).

    Raises:
        DatasetNotFoundError: no local copy and the download failed.
        ValueError: a bad argument, named with its value.
    """
    func = "reuters.load_data"
    _sequences.check_sequence_args(func, num_words=num_words, skip_top=skip_top,
                                   maxlen=maxlen, seed=seed, start_char=start_char,
                                   oov_char=oov_char, index_from=index_from)
    _sequences.check_split(func, test_split, allow_one=True)

    file = _files.find_or_fetch(path, URL, FILE_HASH, title="Reuters")
    arrays = _files.load_npz(file)
    _sequences.require(arrays, ("x", "y"), file, "Reuters")

    rng = np.random.RandomState(seed)
    xs, labels = _sequences.shuffled(rng, arrays["x"], arrays["y"])
    xs = _sequences.reindex(xs, start_char, index_from)
    if maxlen:
        xs, labels = _sequences.shorter_than(maxlen, xs, labels)
    end = _sequences.vocabulary_end(xs, num_words)
    xs = _sequences.limit_vocabulary(xs, skip_top, end, oov_char)

    n_train = int(len(xs) * (1 - test_split))
    return ((_sequences.object_array(xs[:n_train]), np.array(labels[:n_train])),
            (_sequences.object_array(xs[n_train:]), np.array(labels[n_train:])))


def get_word_index(path="reuters_word_index.json"):
    """The Reuters vocabulary as a dict ``{word: index}``, index 1 being the most frequent
    word.

    The indices are those in the raw archive: a word appears in `load_data`'s sequences as
    ``index + index_from`` (3 by default). Files are looked for as described in the module
    docstring.
    """
    file = _files.find_or_fetch(path, WORD_INDEX_URL, WORD_INDEX_HASH,
                                title="Reuters word index")
    with open(file, encoding="utf-8") as f:
        return json.load(f)


def get_label_names():
    """The 46 topic names, as a tuple indexed by label."""
    return LABEL_NAMES
