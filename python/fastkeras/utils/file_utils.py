"""`get_file`: a file from a URL (or a local path), cached under `~/.keras/datasets`,
optionally checked against a known hash and unpacked from a tar or zip archive.

A download is written to a temporary file beside its destination and renamed into place only
once it is complete (and matches `file_hash` when one is given), so an interrupted or failed
transfer never leaves a partial file in the cache.
"""

from __future__ import annotations

import hashlib
import http.client
import inspect
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
import zipfile

from fastkeras.utils import io_utils

_CHUNK = 1 << 16
_HASH_ALGORITHMS = ("auto", "sha256", "md5")
_ARCHIVE_TYPES = ("tar", "zip")
_URL_SCHEMES = ("http", "https", "ftp", "file")


def keras_home():
    """`$KERAS_HOME`, else `~/.keras` (`/tmp/.keras` when the home folder is read-only)."""
    home = os.environ.get("KERAS_HOME")
    if home:
        return home
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def _writable_folder(path):
    """`path`, created if needed; the `.keras` folder of the temp directory when `path`
    cannot be created or written to."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        pass
    if os.path.isdir(path) and os.access(path, os.W_OK):
        return path
    return os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")


# --- hashes ---------------------------------------------------------------------------------

def _hasher(algorithm, file_hash=None):
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None
                                 and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()


def hash_file(fpath, algorithm="sha256", chunk_size=65535):
    """Hex digest of the file at `fpath` ("sha256", "md5", "auto" (= sha256 here) or a
    hashlib object)."""
    hasher = _hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            hasher.update(block)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
    """Whether the file at `fpath` has digest `file_hash` ("auto": SHA-256 for a 64-digit
    hash, MD5 otherwise)."""
    digest = hash_file(fpath, _hasher(algorithm, file_hash), chunk_size)
    return digest == str(file_hash).lower()


# --- archives -------------------------------------------------------------------------------

def _inside(base, name):
    """Whether `name` (relative to `base`) resolves to a path inside the folder `base`."""
    target = os.path.realpath(os.path.join(base, name))
    try:
        return os.path.commonpath([target, base]) == base
    except ValueError:
        return False


def _skip_warning(name):
    warnings.warn(f"Skipping an archive member that would be written outside the extraction "
                  f"folder: {name!r}", stacklevel=4)


def _safe_tar_members(archive, base):
    for member in archive:
        ok = _inside(base, member.name)
        if ok and member.issym():
            link_dir = os.path.dirname(os.path.realpath(os.path.join(base, member.name)))
            ok = _inside(base, os.path.join(link_dir, member.linkname))
        elif ok and member.islnk():
            ok = _inside(base, member.linkname)
        if ok:
            yield member
        else:
            _skip_warning(member.name)


def _safe_zip_members(archive, base):
    for member in archive.infolist():
        if _inside(base, member.filename):
            yield member
        else:
            _skip_warning(member.filename)


def extract_archive(file_path, path=".", archive_format="auto"):
    """Unpacks the tar (plain, gz, bz2, xz) or zip archive `file_path` into the folder `path`,
    skipping members that would land outside it.

    Args:
        archive_format: "auto" (try tar, then zip), "tar", "zip", a list of these, or None
            (extract nothing).

    Returns:
        True if the file was one of the formats tried and was extracted, False otherwise.
    """
    if archive_format is None:
        return False
    formats = list(_ARCHIVE_TYPES) if archive_format == "auto" else archive_format
    if isinstance(formats, str):
        formats = [formats]
    for kind in formats:
        if kind not in _ARCHIVE_TYPES:
            raise NotImplementedError('`archive_format` must be "auto", "tar", "zip", a list of '
                                      f"these, or None. Received: archive_format="
                                      f"{archive_format!r}")
    file_path, path = os.fspath(file_path), os.fspath(path)
    for kind in formats:
        if kind == "tar" and tarfile.is_tarfile(file_path):
            opener = tarfile.open
        elif kind == "zip" and zipfile.is_zipfile(file_path):
            opener = zipfile.ZipFile
        else:
            continue
        with opener(file_path) as archive:
            try:
                os.makedirs(path, exist_ok=True)
                base = os.path.realpath(path)
                if kind == "zip":
                    archive.extractall(path, members=_safe_zip_members(archive, base))
                else:
                    extra = {}
                    if sys.version_info < (3, 14) and \
                            "filter" in inspect.signature(archive.extractall).parameters:
                        extra["filter"] = "data"
                    archive.extractall(path, members=_safe_tar_members(archive, base), **extra)
            except (tarfile.TarError, zipfile.BadZipFile, RuntimeError, OSError,
                    KeyboardInterrupt):
                # no half-extracted folder is left behind
                if os.path.isfile(path):
                    os.remove(path)
                elif os.path.isdir(path):
                    shutil.rmtree(path)
                raise
        return True
    return False


# --- download -------------------------------------------------------------------------------

class _Progress:
    """A byte-count progress bar over `keras.utils.Progbar`."""

    def __init__(self, total):
        from fastkeras.callbacks.progbar_logger import Progbar
        self.bar = Progbar(total)
        self.total = total
        self.done = 0

    def add(self, n):
        self.done += n
        if self.total is None or self.done < self.total:
            self.bar.update(self.done, finalize=False)

    def close(self):
        self.bar.update(self.done, finalize=True)


def _copy_stream(source, out, total, origin):
    progress = _Progress(total)
    while True:
        try:
            block = source.read(_CHUNK)
        except http.client.IncompleteRead as exc:
            progress.done += len(exc.partial)
            break
        if not block:
            break
        out.write(block)
        progress.add(len(block))
    if total is not None and progress.done != total:
        raise OSError(f"URL fetch failure on {origin}: the transfer stopped after "
                      f"{progress.done} of {total} bytes")
    progress.close()


def _is_url(origin):
    scheme = urllib.parse.urlsplit(origin).scheme.lower()
    return scheme in _URL_SCHEMES


def _fetch(origin, target, file_hash, hash_algorithm):
    """Copies `origin` (a URL or a local path) to `target` through a temporary file, checked
    against `file_hash` (when given) before it is renamed to `target`."""
    if not _is_url(origin) and not os.path.isfile(origin):
        raise ValueError("`origin` must be an http, https, ftp or file URL, or the path of an "
                         f"existing file. Received: origin={origin!r}")
    # a fresh hidden file beside the target (created with the usual permissions, unlike
    # tempfile.mkstemp's owner-only ones, since it becomes the cached file)
    part = os.path.join(os.path.dirname(target),
                        f".{os.path.basename(target)}.{uuid.uuid4().hex[:12]}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            if _is_url(origin):
                try:
                    with urllib.request.urlopen(origin) as response:
                        length = response.headers.get("Content-Length")
                        total = int(length) if length and length.isdigit() else None
                        _copy_stream(response, out, total, origin)
                except urllib.error.HTTPError as exc:
                    raise OSError(f"URL fetch failure on {origin}: {exc.code} -- "
                                  f"{exc.reason}") from exc
                except urllib.error.URLError as exc:
                    raise OSError(f"URL fetch failure on {origin}: {exc.errno} -- "
                                  f"{exc.reason}") from exc
                except http.client.HTTPException as exc:
                    raise OSError(f"URL fetch failure on {origin}: {exc!r}") from exc
                except OSError as exc:  # e.g. a connection reset or timeout mid-transfer
                    if origin in str(exc):
                        raise
                    raise OSError(f"URL fetch failure on {origin}: {exc!r}") from exc
            else:
                with open(origin, "rb") as source:
                    _copy_stream(source, out, os.fstat(source.fileno()).st_size, origin)
        if file_hash is not None and not validate_file(part, file_hash, hash_algorithm):
            algorithm = hash_algorithm
            if algorithm == "auto":
                algorithm = "sha256" if len(file_hash) == 64 else "md5"
            raise ValueError(f"Incomplete or corrupted file detected: the {algorithm} hash "
                             f"of the file downloaded from {origin} does not match the "
                             f"provided value file_hash={file_hash!r}. The download was "
                             f"discarded.")
        os.replace(part, target)
    except BaseException:
        try:
            os.remove(part)
        except OSError:
            pass
        raise


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """Downloads a file from a URL unless it is already in the cache, and returns its path.

    The file is saved as `<cache_dir>/<cache_subdir>/<fname>`, by default
    `~/.keras/datasets/<fname>` (`$KERAS_HOME/datasets` when set). A cached copy is reused;
    with `file_hash` it is first checked and downloaded again if it does not match.

    Args:
        fname: the local file name (no folders); by default the last part of the URL's path.
            With `extract=True`, a name without an extension names the extraction folder.
        origin: the URL (http, https, ftp or file), or the path of a local file to copy.
        untar: deprecated, `extract=True` limited to tar archives.
        md5_hash: deprecated, `file_hash` with `hash_algorithm="md5"`.
        file_hash: the expected SHA-256 or MD5 hex digest of the file.
        cache_subdir: the folder under `cache_dir` (an absolute path is used as it is).
        hash_algorithm: "sha256", "md5" or "auto" (SHA-256 for a 64-digit `file_hash`, MD5
            otherwise).
        extract: unpack the file as a tar or zip archive.
        archive_format: "auto" (tar or zip), "tar", "zip", a list of these, or None.
        cache_dir: the cache's root folder (default `$KERAS_HOME` or `~/.keras`).
        force_download: download again even if the file is cached.

    Returns:
        The path of the file, or with `extract=True` the path of the folder it was unpacked
        into: `<fname>` without its extensions plus "_extracted" when `fname` has an
        extension (the archive is kept as `<fname>`), else `<fname>` itself (the archive is
        kept as `<fname>_archive`).

    Raises:
        ValueError: missing `origin`, a `fname` holding folders, or a download that does not
            match `file_hash` (nothing is written then).
        OSError: the download failed; the message names the URL.
    """
    if origin is None:
        raise ValueError('`get_file` needs the "origin" argument, the URL of the file to '
                         f"download. Received: origin={origin!r}")
    if isinstance(origin, os.PathLike):
        origin = os.fspath(origin)
    if not isinstance(origin, str) or not origin:
        raise ValueError("`origin` must be a URL or a file path (a non-empty string). "
                         f"Received: origin={origin!r}")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    if hash_algorithm not in _HASH_ALGORITHMS:
        raise ValueError(f"`hash_algorithm` must be one of {_HASH_ALGORITHMS}. "
                         f"Received: hash_algorithm={hash_algorithm!r}")
    if file_hash is not None:
        file_hash = str(file_hash)
    if cache_dir is None:
        cache_dir = keras_home()
    datadir = os.path.join(_writable_folder(os.path.expanduser(os.fspath(cache_dir))),
                           os.fspath(cache_subdir))
    os.makedirs(datadir, exist_ok=True)

    named = bool(fname)
    fname = os.fspath(fname) if fname else ""
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path) if _is_url(origin) \
            else os.path.basename(origin)
        if not fname:
            raise ValueError(f"Can't tell the file name from origin={origin!r}; pass the "
                             "`fname` argument.")
    elif os.sep in fname or (os.altsep and os.altsep in fname):
        raise ValueError("`fname` must be a file name, not a path; use `cache_dir` (and "
                         f"`cache_subdir`) to choose the folder. Received: fname={fname!r}")

    unpack = bool(extract or untar)
    if unpack:
        if named and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, fname[:fname.find(".")] + "_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, fname + "_archive")
    else:
        target = os.path.join(datadir, fname)

    download = True
    if not force_download and os.path.exists(target):
        download = False
        if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
            io_utils.print_msg("A local file was found, but it seems to be incomplete or "
                               f"outdated because the {hash_algorithm} file hash does not "
                               f"match the original value of {file_hash} so we will "
                               "re-download the data.")
            download = True
    if download:
        io_utils.print_msg(f"Downloading data from {origin}")
        _fetch(origin, target, file_hash, hash_algorithm)

    if unpack:
        if untar:
            archive_format = "tar"
        if not extract_archive(target, extraction_dir, archive_format):
            warnings.warn(f"Could not extract {target} as a {archive_format!r} archive.",
                          stacklevel=2)
        return extraction_dir
    return target
