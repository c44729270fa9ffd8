"""Atomic file writes: data goes to a temporary file beside the target, which replaces the
target only once complete, so a crash mid-save leaves the previous file intact."""

from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(filepath, overwrite=True):
    """Yields a temporary path to write; on success it is renamed onto `filepath`."""
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} already exists and overwrite=False")
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(filepath) + "-", dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
