"""Reading the CIFAR archives: a tar.gz of pickled batches, each a dict holding ``data``
(one row of 3072 bytes per image: 1024 red, 1024 green, then 1024 blue values, rows of the
image first) and the label lists.

Batches are read straight from the archive (nothing is extracted), or from a folder a
previous extraction left, such as Keras's own cache.
"""

from __future__ import annotations

import os
import pickle
import tarfile
import warnings
import zlib
from dataclasses import dataclass

import numpy as np

from fastkeras.datasets import _files


@dataclass(frozen=True)
class Archive:
    title: str         # "CIFAR-10"
    url: str
    file_hash: str     # SHA-256 of the archive
    archive: str       # file name in the fastkeras cache: "cifar-10-python.tar.gz"
    inner: str         # top folder inside the archive: "cifar-10-batches-py"
    keras_target: str  # Keras 3's cache name: "<keras_target>_archive" and "<keras_target>/"
    members: tuple     # batch file names inside ``inner``


def parse_batch(fileobj, label_key: str, where: str):
    """``(data, labels)`` of one pickled batch: ``data`` reshaped to ``(n, 3, 32, 32)``,
    ``labels`` as stored (a list)."""
    try:
        batch = _files.unpickle(fileobj, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, zlib.error, OSError) as exc:
        raise ValueError(f"{where}: not a readable CIFAR batch ({exc})") from exc
    if not isinstance(batch, dict):
        raise ValueError(f"{where}: not a CIFAR batch (a {type(batch).__name__}, not a dict)")
    batch = {k.decode("utf-8") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise ValueError(f"{where}: not a CIFAR batch with {label_key!r} (keys: "
                         f"{sorted(batch)})")
    data = np.asarray(batch["data"])
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{where}: image data of shape {data.shape}, expected (n, 3072)")
    labels = batch[label_key]
    if len(labels) != data.shape[0]:
        raise ValueError(f"{where}: {data.shape[0]} images but {len(labels)} labels")
    return data.reshape(data.shape[0], 3, 32, 32), labels


def read_folder(folder: str, spec: Archive, label_key: str):
    """The batches from an extracted ``<inner>`` folder, or None if any file is absent."""
    paths = [os.path.join(folder, name) for name in spec.members]
    if not all(os.path.isfile(p) for p in paths):
        return None
    out = {}
    for name, path in zip(spec.members, paths):
        with open(path, "rb") as f:
            out[name] = parse_batch(f, label_key, path)
    return out


def read_tar(path: str, spec: Archive, label_key: str):
    """The batches from the (compressed) tar archive at ``path``, in one pass."""
    wanted = {f"{spec.inner}/{name}": name for name in spec.members}
    out = {}
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                name = member.name
                while name.startswith("./"):
                    name = name[2:]
                if name not in wanted or not member.isfile():
                    continue
                f = tar.extractfile(member)
                out[wanted[name]] = parse_batch(f, label_key, f"{path}:{name}")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(f"{path}: not a readable tar archive ({exc})") from exc
    absent = [f"{spec.inner}/{n}" for n in spec.members if n not in out]
    if absent:
        raise ValueError(f"{path}: the archive lacks {', '.join(absent)}")
    return out


def places(spec: Archive):
    """Where a copy may already be, in the order they are tried: (kind, path) pairs."""
    cache = _files.datasets_dir()
    keras = _files.keras_datasets_dir()
    return [
        ("archive", os.path.join(cache, spec.archive)),
        ("folder", os.path.join(cache, spec.inner)),
        ("folder", os.path.join(keras, spec.keras_target, spec.inner)),   # Keras 3
        ("archive", os.path.join(keras, spec.keras_target + "_archive")),  # Keras 3
        ("folder", os.path.join(keras, spec.inner)),                       # Keras 2
        ("archive", os.path.join(keras, spec.inner + ".tar.gz")),          # Keras 2
    ]


def load_batches(spec: Archive, label_key: str) -> dict:
    """Every batch of ``spec`` as ``{member name: (data, labels)}``, from the first usable
    copy in `places`, else from a download into the fastkeras cache.

    Archives must match the published SHA-256 (others are skipped with a warning); extracted
    folders are used when they hold every batch file.
    """
    for kind, path in places(spec):
        try:
            if kind == "folder":
                if os.path.isdir(path):
                    found = read_folder(path, spec, label_key)
                    if found is not None:
                        return found
                continue
            if not os.path.isfile(path):
                continue
            if not _files.file_matches(path, spec.file_hash):
                warnings.warn(f"Ignoring {path}: its checksum does not match the {spec.title} "
                              f"release (SHA-256 {spec.file_hash})", stacklevel=4)
                continue
            return read_tar(path, spec, label_key)
        except (OSError, ValueError) as exc:
            warnings.warn(f"Ignoring unreadable {spec.title} copy {path}: {exc}", stacklevel=4)

    dest = os.path.join(_files.writable_dir(_files.datasets_dir()), spec.archive)
    try:
        _files.download(spec.url, dest, spec.file_hash, label=spec.archive)
    except ValueError:
        raise
    except OSError as exc:
        looked = ", ".join(path for _, path in places(spec))
        raise _files.DatasetNotFoundError(
            f"{spec.title} archive {spec.archive!r} is not available locally and the download "
            f"from {spec.url} failed ({_files.describe_download_error(exc)}).\n"
            f"Looked for: {looked}.\n"
            f"Save {spec.url} as {places(spec)[0][1]}, or set FASTKERAS_DATASETS to a folder "
            f"that holds {spec.archive}.") from None
    return read_tar(dest, spec, label_key)


def to_image_layout(x: np.ndarray) -> np.ndarray:
    """``(n, 3, 32, 32)`` images in the configured image data format (a transposed view to
    ``(n, 32, 32, 3)`` for channels_last, the default)."""
    from fastkeras.backend.config import image_data_format

    if image_data_format() == "channels_last":
        return x.transpose(0, 2, 3, 1)
    return x
