"""Shared plumbing for the dataset loaders: where files live, how they are fetched and
verified, and a reader for the IDX format the MNIST family ships in.

Nothing here is public API; the loaders in `fastkeras.datasets.*` are.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import pickle
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib

import numpy as np

# Environment variables, read at call time (so tests and users can change them at run time).
ENV_HOME = "FASTKERAS_HOME"          # root of fastkeras's per-user folder (default ~/.fastkeras)
ENV_DATASETS = "FASTKERAS_DATASETS"  # overrides the dataset cache folder itself

DOWNLOAD_TIMEOUT = 60.0  # seconds without data before a download is abandoned
_CHUNK = 1 << 16


class DatasetNotFoundError(FileNotFoundError):
    """A data set is neither cached, nor installed locally, nor downloadable right now."""


# --------------------------------------------------------------------------- locations

def fastkeras_home() -> str:
    """``$FASTKERAS_HOME``, else ``~/.fastkeras``."""
    home = os.environ.get(ENV_HOME)
    if home:
        return os.path.abspath(os.path.expanduser(home))
    return os.path.join(os.path.expanduser("~"), ".fastkeras")


def datasets_dir() -> str:
    """The dataset cache: ``$FASTKERAS_DATASETS``, else ``<fastkeras home>/datasets``."""
    override = os.environ.get(ENV_DATASETS)
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return os.path.join(fastkeras_home(), "datasets")


def keras_datasets_dir() -> str:
    """Where Keras itself caches data sets (``$KERAS_HOME/datasets`` or
    ``~/.keras/datasets``), read-only here: files a Keras install already downloaded are
    reused rather than fetched again."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(os.path.abspath(os.path.expanduser(home)), "datasets")


def writable_dir(path: str) -> str:
    """Creates ``path`` if needed and returns it; when that fails (read-only home, ...),
    falls back to the same relative layout under the system temp folder."""
    try:
        os.makedirs(path, exist_ok=True)
        if os.access(path, os.W_OK):
            return path
    except OSError:
        pass
    rel = os.path.relpath(path, os.path.dirname(fastkeras_home()))
    if rel.startswith(".."):
        rel = os.path.basename(path)
    fallback = os.path.join(tempfile.gettempdir(), rel)
    os.makedirs(fallback, exist_ok=True)
    return fallback


# --------------------------------------------------------------------------- hashing

def new_hasher(digest: str | None = None):
    """The hash object a known ``digest`` was made with: MD5 for a 32-hex-digit digest (the
    older hashes Keras publishes for a few files), SHA-256 otherwise."""
    if digest is not None and len(digest) == 32:
        return hashlib.md5(usedforsecurity=False)
    return hashlib.sha256()


def hash_name(digest: str | None) -> str:
    return "MD5" if digest is not None and len(digest) == 32 else "SHA-256"


def digest_of(path: str, like: str | None = None) -> str:
    """Hex digest of the file at ``path``, with the algorithm of digest ``like``
    (SHA-256 by default)."""
    h = new_hasher(like)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_of(path: str) -> str:
    return digest_of(path)


def file_matches(path: str, sha256: str | None) -> bool:
    """True if ``path`` is a regular file and (when a hash is given) its digest matches.
    A 32-digit hash is taken as MD5, anything else as SHA-256."""
    if not os.path.isfile(path):
        return False
    return sha256 is None or digest_of(path, sha256) == sha256.lower()


# --------------------------------------------------------------------------- progress

class ProgressBar:
    """Download progress on stderr.

    On a terminal it redraws one line in place, at most ~10 times a second. Otherwise
    (logs, CI) it writes a handful of lines: one per quarter of the file plus the total.
    """

    def __init__(self, label: str, total: int | None, stream=None):
        self.label = label
        self.total = total if total and total > 0 else None
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False
        self.done = 0
        self._last_draw = 0.0
        self._next_quarter = 1
        self._start = time.monotonic()
        if not self.tty:
            size = f" ({_human(self.total)})" if self.total else ""
            self._write(f"Downloading {label}{size}\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def update(self, n: int) -> None:
        self.done += n
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1:
                self._last_draw = now
                self._draw()
        elif self.total:
            while self._next_quarter < 4 and self.done * 4 >= self._next_quarter * self.total:
                self._write(f"  {self.label}: {25 * self._next_quarter}%\n")
                self._next_quarter += 1

    def _draw(self) -> None:
        if self.total:
            frac = min(1.0, self.done / self.total)
            filled = int(30 * frac)
            bar = "=" * filled + ">" * (filled < 30) + "." * max(0, 29 - filled)
            text = (f"\r{self.label} [{bar}] {_human(self.done)}/{_human(self.total)} "
                    f"{100 * frac:3.0f}%")
        else:
            text = f"\r{self.label} {_human(self.done)}"
        self._write(text)

    def close(self, ok: bool = True) -> None:
        secs = time.monotonic() - self._start
        if self.tty:
            self._draw()
            self._write("\n")
        if ok:
            self._write(f"  {self.label}: {_human(self.done)} in {secs:.1f}s\n"
                        if not self.tty else "")


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n}"


# --------------------------------------------------------------------------- download

def download(url: str, dest: str, sha256: str | None = None, *, label: str | None = None,
             timeout: float = DOWNLOAD_TIMEOUT, progress: bool = True) -> str:
    """Fetches ``url`` into ``dest`` and returns ``dest``.

    The data goes to a temporary file beside ``dest``; it is checked against ``sha256``
    (when given) and only then renamed into place, so an interrupted or corrupt transfer
    never leaves a file at ``dest``.

    ``sha256`` may also be a 32-digit MD5 digest (a few Keras files are only published with
    one); the algorithm follows from its length.

    Raises:
        ValueError: the downloaded bytes do not match ``sha256``.
        OSError / urllib.error.URLError: the transfer failed (no network, HTTP error, ...).
    """
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(dest) + ".", suffix=".part",
                               dir=folder)
    bar = None
    ok = False
    try:
        hasher = new_hasher(sha256)
        request = urllib.request.Request(url, headers={"User-Agent": "fastkeras"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if progress:
                bar = ProgressBar(label or os.path.basename(dest), total)
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                hasher.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if total is not None and bar is not None and bar.done != total:
                raise OSError(f"incomplete download of {url}: got {bar.done} of {total} bytes")
        digest = hasher.hexdigest()
        if sha256 is not None and digest != sha256.lower():
            raise ValueError(f"Checksum mismatch for {url}: expected {hash_name(sha256)} "
                             f"{sha256.lower()}, "
                             f"got {digest}. The download was discarded; nothing was written "
                             f"to {dest}.")
        os.replace(tmp, dest)
        ok = True
        return dest
    except http.client.HTTPException as exc:  # e.g. IncompleteRead: report as an I/O error
        raise OSError(f"download of {url} failed: {exc!r}") from exc
    finally:
        if bar is not None:
            bar.close(ok)
        if not ok:
            try:
                os.unlink(tmp)
            except OSError:
                pass


# --------------------------------------------------------------------------- IDX reader

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _decompress_if_gzip(raw: bytes, path: str) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from exc


def parse_idx(data: bytes, path: str = "<bytes>") -> np.ndarray:
    """Decodes uncompressed IDX bytes; ``path`` only names the source in errors."""
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file (only {len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number "
                         f"0x{int.from_bytes(data[:4], 'big'):08x})")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (unknown element type 0x{code:02x})")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header (needs {header} bytes, file has "
                         f"{len(data)})")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual < expected:
        raise ValueError(f"{path}: truncated IDX data: header says shape {shape} "
                         f"({expected} bytes) but only {actual} bytes follow")
    if actual > expected:
        raise ValueError(f"{path}: {actual - expected} unexpected bytes after the IDX data of "
                         f"shape {shape}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str) -> np.ndarray:
    """Reads an IDX file (the MNIST format), gzip-compressed or plain (detected from the
    content, not the name).

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then one big-endian
    uint32 per dimension; the values follow, big-endian, in C order.

    Returns a writable, native-byte-order array of the stored shape.

    Raises:
        ValueError: naming ``path``, if the magic number, type code or size is wrong (a
            truncated file, trailing data, broken gzip stream, or not an IDX file at all).
    """
    with open(path, "rb") as f:
        raw = f.read()
    return parse_idx(_decompress_if_gzip(raw, path), path)


def read_idx_verified(path: str, archive_sha256: str | None = None,
                      payload_sha256: str | None = None) -> np.ndarray | None:
    """Like `read_idx`, but first checks the file against known checksums.

    The file passes if its own SHA-256 equals ``archive_sha256`` or, failing that, if the
    SHA-256 of its decompressed content equals ``payload_sha256`` (so a re-compressed or an
    uncompressed copy of the same data is accepted). With both hashes None nothing is
    checked. Returns None when the checksums do not match.
    """
    with open(path, "rb") as f:
        raw = f.read()
    ok = archive_sha256 is None and payload_sha256 is None
    if not ok and archive_sha256 is not None:
        ok = hashlib.sha256(raw).hexdigest() == archive_sha256.lower()
    if not ok and payload_sha256 is None:
        return None
    try:
        payload = _decompress_if_gzip(raw, path)
    except ValueError:
        if ok:
            raise
        return None
    if not ok and hashlib.sha256(payload).hexdigest() != payload_sha256.lower():
        return None
    return parse_idx(payload, path)


def describe_download_error(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{exc.reason}"
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- single files

def local_candidates(fname: str, keras_names: tuple[str, ...] = ()) -> list[str]:
    """Where a one-file data set named ``fname`` may already be: the fastkeras cache, then
    Keras's cache (under ``fname`` and any older names in ``keras_names``). An absolute
    ``fname`` is the only candidate."""
    if os.path.isabs(fname):
        return [fname]
    keras_dir = keras_datasets_dir()
    paths = [os.path.join(datasets_dir(), fname)]
    for name in (fname, *keras_names):
        path = os.path.join(keras_dir, name)
        if path not in paths:
            paths.append(path)
    return paths


def find_or_fetch(fname: str, url: str, file_hash: str | None, *, title: str,
                  keras_names: tuple[str, ...] = (), stacklevel: int = 3) -> str:
    """Path of a verified copy of a one-file data set, downloading it when needed.

    The paths of `local_candidates` are tried in order; a copy whose digest differs from
    ``file_hash`` is skipped with a warning. With none left, ``url`` is downloaded (verified,
    then moved into place) to ``<fastkeras cache>/<fname>`` (or to ``fname`` if absolute).

    Raises:
        DatasetNotFoundError: no good local copy and the download failed; the message names
            the file, the URL and where the file was looked for.
        ValueError: the download arrived but failed its checksum (nothing was written).
    """
    candidates = local_candidates(fname, keras_names)
    for path in candidates:
        if not os.path.isfile(path):
            continue
        if file_hash is None or digest_of(path, file_hash) == file_hash.lower():
            return path
        warnings.warn(f"Ignoring {path}: its checksum does not match the {title} release "
                      f"({hash_name(file_hash)} {file_hash})", stacklevel=stacklevel)
    if os.path.isabs(fname):
        dest = fname
    else:
        dest = os.path.join(writable_dir(datasets_dir()), fname)
    try:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        download(url, dest, file_hash, label=os.path.basename(dest))
    except ValueError:
        raise
    except OSError as exc:
        raise DatasetNotFoundError(
            f"{title} file {os.path.basename(fname)!r} is not available locally and the "
            f"download from {url} failed ({describe_download_error(exc)}).\n"
            f"Looked for: {', '.join(candidates)}.\n"
            f"Save {url} as {candidates[0]}, or set FASTKERAS_DATASETS to a folder that "
            f"holds {os.path.basename(fname)}.") from None
    return dest


# --------------------------------------------------------------------------- pickles

# The only globals a pickled numpy array (of numbers, or of Python lists and ints) needs;
# both numpy 1 ("numpy.core") and numpy 2 ("numpy._core") spellings are listed.
_PICKLE_GLOBALS = frozenset(
    [("numpy", "ndarray"), ("numpy", "dtype")]
    + [(f"numpy.{core}.{mod}", name)
       for core in ("core", "_core")
       for mod, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"),
                         ("numeric", "_frombuffer"))])


class SafeUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, numbers, strings and containers, and refuses everything
    else, so a tampered data file cannot run code while it is read."""

    def find_class(self, module, name):
        if (module, name) in _PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from a data set file (only numpy arrays are "
            f"expected); the file is corrupt or has been tampered with")


def unpickle(fileobj, *, encoding: str = "ASCII"):
    """Reads one pickle from ``fileobj`` with `SafeUnpickler`."""
    return SafeUnpickler(fileobj, encoding=encoding).load()


def load_npz(path: str) -> dict[str, np.ndarray]:
    """Every array of a ``.npz`` archive, by name.

    Numeric arrays are read with pickling disabled; object arrays (ragged sequences) are
    read with `SafeUnpickler`.

    Raises:
        ValueError: naming ``path``, if it is not a readable ``.npz`` archive.
    """
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not member.endswith(".npy"):
                    continue
                key = member[:-4]
                with archive.open(member) as f:
                    major, _ = np.lib.format.read_magic(f)
                    if major == 1:
                        dtype = np.lib.format.read_array_header_1_0(f)[2]
                    elif major in (2, 3):
                        # 3.0 only changes the header's text encoding, not its layout
                        dtype = np.lib.format.read_array_header_2_0(f)[2]
                    else:
                        raise ValueError(f"unsupported .npy format version {major}")
                    if dtype.hasobject:
                        arrays[key] = unpickle(f, encoding="latin1")
                        continue
                with archive.open(member) as f:
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError,
            zlib.error) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from exc
    return arrays
