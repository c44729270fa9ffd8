"""Loading and splitting the regression tables (Boston and California housing)."""

from __future__ import annotations

import numpy as np

from fastkeras.datasets import _files, _sequences


def read_xy(file: str, title: str):
    """The ``x`` and ``y`` arrays of a numeric ``.npz`` archive."""
    try:
        with np.load(file, allow_pickle=False) as data:
            absent = [k for k in ("x", "y") if k not in data.files]
            if absent:
                raise ValueError(f"{file}: not a {title} archive (missing arrays {absent})")
            return np.array(data["x"]), np.array(data["y"])
    except (OSError, ValueError) as exc:
        if str(file) in str(exc):
            raise
        raise ValueError(f"{file}: not a readable {title} archive ({exc})") from exc


def shuffle_split(x, y, test_split, seed):
    """Rows shuffled by ``np.random.RandomState(seed)``, then the first
    ``int(n * (1 - test_split))`` as training data and the rest as test data."""
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def load(func, file_args, test_split, seed, rows=None):
    """Checks ``test_split``/``seed``, finds the file (``file_args`` for
    `_files.find_or_fetch`), keeps the first ``rows`` rows if given, shuffles and splits."""
    _sequences.check_split(func, test_split, allow_one=False)
    _sequences.check_int(func, "seed", seed, optional=True)
    path, url, file_hash, title = file_args
    file = _files.find_or_fetch(path, url, file_hash, title=title, stacklevel=4)
    x, y = read_xy(file, title)
    if rows is not None:
        x, y = x[:rows], y[:rows]
    return shuffle_split(x, y, test_split, seed)
