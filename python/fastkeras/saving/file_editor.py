"""`keras.saving.KerasFileEditor`: inspect and edit the weights stored in a `.keras` or
`.weights.h5` file, then write them back out as a `.weights.h5` file.

The file's weights are held as a nested dict (`editor.weights_dict`): one key per object
path component, and at each object its arrays keyed by their position ('0', '1', ...), as
the `<path>/vars/<i>` datasets of the file hold them (see `weights_h5.py`). An object that
stores no arrays and has no children with arrays does not appear.

Differences from Keras 3.15's editor, all where Keras loses or misplaces data: an object that
holds both its own arrays and child objects (a nested model) keeps both, the root object's own
arrays sit at the top level of the dict (Keras files them under a 'vars' key and writes them
back one level too deep), and a bare object name is looked up by counting its occurrences
exactly (Keras's count can report a unique name as occurring more than once).
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile

import h5py
import numpy as np

from fastkeras.saving.files import atomic_path

_MAX_DATASET_BYTES = 1 << 32  # refuse to read a single array larger than 4 GiB
_MAX_RANK = 64

_WEIGHTS_TYPE_ERROR = ("Argument `weights` should be a dict where keys are weight names "
                       "(usually '0', '1', etc.) and values are NumPy arrays. "
                       "Received: type(weights)={}")


def _read_dataset(ds, where):
    """The array a dataset holds, after refusing links to other files, virtual datasets and
    shapes that are malformed or too large to load safely."""
    if ds.external:
        raise ValueError(f"Not allowed: H5 file Dataset with external links: {ds.external}")
    if ds.is_virtual:
        raise ValueError(f"Not allowed: H5 file with virtual Dataset at {where}")
    shape = ds.shape if ds.shape is not None else ()
    if any(d < 0 for d in shape):
        raise ValueError("Malformed HDF5 dataset shape encountered in .keras file; "
                         "negative dimension detected.")
    if len(shape) > _MAX_RANK:
        raise ValueError("Malformed HDF5 dataset shape encountered in .keras file; "
                         "tensor rank exceeds safety limit.")
    nbytes = math.prod(shape) * ds.dtype.itemsize
    if nbytes > _MAX_DATASET_BYTES:
        raise ValueError(f"HDF5 dataset too large to load safely ({nbytes} bytes; "
                         f"limit is {_MAX_DATASET_BYTES}).")
    return ds[()]


def _members(group):
    """(key, member) of an h5py group, refusing soft and external links."""
    for key in group:
        link = group.get(key, default=None, getclass=True, getlink=True)
        if link in (h5py.SoftLink, h5py.ExternalLink):
            raise ValueError(f"Not allowed: H5 file with {link.__name__}")
        yield key, group[key]


def _read_tree(group, metadata, path=""):
    """The nested weights dict of an h5py group; attributes of each object's `vars` group
    (its `name`) go to `metadata[path]`, paths written '/a/b' as Keras writes them."""
    out = {}
    if path == "" and len(group.attrs):
        metadata[path] = dict(group.attrs)
    for key, member in _members(group):
        where = f"{path}/{key}"
        if key == "vars" and isinstance(member, h5py.Group):
            if len(member.attrs):
                metadata[path] = dict(member.attrs)
            for name, ds in _members(member):
                if isinstance(ds, h5py.Dataset):
                    out[name] = _read_dataset(ds, f"{where}/{name}")
        elif isinstance(member, h5py.Group):
            if len(member) == 0:
                continue
            sub = _read_tree(member, metadata, where)
            if sub:
                out[key] = sub
        elif isinstance(member, h5py.Dataset):
            out[key] = _read_dataset(member, where)
    return out


def _write_tree(f, tree, path=""):
    arrays = {k: v for k, v in tree.items() if not isinstance(v, dict)}
    if arrays:
        group = f.create_group(f"{path}/vars" if path else "vars")
        for name, value in arrays.items():
            group.create_dataset(str(name), data=np.asarray(getattr(value, "value", value)))
    for name, value in tree.items():
        if isinstance(value, dict) and value:
            _write_tree(f, value, f"{path}/{name}" if path else name)


def weight_spec(model):
    """The nested dict of what `model` (a fastkeras model) would store: for each object path,
    its arrays' keys mapped to `(shape, dtype)` records with a `.shape` tuple."""
    from fastkeras.saving.weights_h5 import _is_optimizer, own_variables, walk
    spec = {}
    for path, obj in walk(model):
        if _is_optimizer(obj):
            store = {str(i): v for i, v in enumerate(own_variables(obj))}
        else:
            store = {}
            obj.save_own_variables(store)
        if not store:
            continue
        node = spec
        for part in path.split("/") if path else []:
            node = node.setdefault(part, {})
        for key in sorted(store, key=str):
            value = store[key]
            value = getattr(value, "value", value)
            node[str(key)] = _Spec(tuple(np.shape(value)), str(np.asarray(value).dtype))
    return spec


class _Spec:
    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


def _shape(value):
    return tuple(np.shape(value)) if not hasattr(value, "shape") else tuple(value.shape)


class KerasFileEditor:
    """Inspects, edits and resaves the weights of a Keras file.

    Useful to adapt a saved weights file to a model whose architecture has changed.

    Args:
        filepath: a local `.keras` or `.weights.h5` file.

    ```python
    editor = KerasFileEditor("my_model.weights.h5")
    editor.summary()
    editor.delete_object("layers/dense_2")
    editor.add_object("layers/einsum_dense", weights={"0": kernel, "1": bias})
    editor.resave_weights("edited_model.weights.h5")
    ```
    """

    def __init__(self, filepath):
        filepath = os.fspath(filepath)
        self.filepath = filepath
        self.metadata = None
        self.config = None
        self.model = None
        self.object_metadata = {}
        if filepath.endswith(".keras"):
            with zipfile.ZipFile(filepath, "r") as z:
                weights_bytes = z.read("model.weights.h5")
                self.config = json.loads(z.read("config.json"))
                self.metadata = json.loads(z.read("metadata.json"))
            with h5py.File(io.BytesIO(weights_bytes), "r") as f:
                self.weights_dict = _read_tree(f, self.object_metadata)
        elif filepath.endswith(".weights.h5"):
            with h5py.File(filepath, "r") as f:
                self.weights_dict = _read_tree(f, self.object_metadata)
        else:
            raise ValueError("Invalid filename: expected a `.keras` `.weights.h5` extension. "
                             f"Received: filepath={filepath}")
        print(f"Keras model file '{self.filepath}'")
        if self.metadata is not None:
            print(f"Saved with Keras {self.metadata.get('keras_version')} - "
                  f"date: {self.metadata.get('date_saved')}")

    # --- display ---------------------------------------------------------------------------

    def summary(self):
        """Prints the weight structure of the opened file."""
        self.weights_summary()

    def weights_summary(self):
        """Prints the tree of objects and weights (shape and dtype) in the file."""
        print("Weights structure")
        self._print_tree(self.weights_dict, prefix="  ", first=[True])

    def _print_tree(self, tree, prefix, first):
        items = list(tree.items())
        for i, (key, value) in enumerate(items):
            last = i == len(items) - 1
            if first[0]:
                first[0] = False
                connector = "> "
            else:
                connector = "└─ " if last else "├─ "
            if isinstance(value, dict):
                print(f"{prefix}{connector}{key}")
                self._print_tree(value, prefix + ("    " if last else "│   "), first)
            elif hasattr(value, "shape"):
                print(f"{prefix}{connector}{key}: shape={value.shape}, dtype={value.dtype}")
            else:
                print(f"{prefix}{connector}{key}: {value}")

    # --- comparison ------------------------------------------------------------------------

    def compare(self, reference_model):
        """Lists the differences between the file and `reference_model`'s weights.

        Returns:
            a dict with 'status' ('success' or 'error'), 'error_count' (mismatches found) and
            'match_count' (weights whose shape matches).
        """
        print("Running comparison")
        ref = weight_spec(reference_model)
        checked = set()

        # The counts follow Keras's arithmetic: a nested object's walk starts from the counts
        # so far and its result is added to them, so totals over several objects exceed the
        # number of weights (Keras reports 50 matches for a model with 22 weights); a clean
        # comparison is still error_count 0.
        def walk(target, source, path, target_name, source_name, errors, matches):
            for key, value in source.items():
                where = f"{path}/{key}"
                if where in checked:
                    continue
                if key not in target:
                    errors += 1
                    checked.add(where)
                    if isinstance(value, dict):
                        print(f"...Object {where} present in {source_name}, "
                              f"missing from {target_name}")
                        print(f"    In {source_name}, {where} contains the following keys: "
                              f"{list(value.keys())}")
                    else:
                        print(f"...Weight {where} present in {source_name}, "
                              f"missing from {target_name}")
                elif isinstance(value, dict) and isinstance(target[key], dict):
                    e, m = walk(target[key], value, where, target_name, source_name,
                                errors, matches)
                    errors += e
                    matches += m
                elif isinstance(value, dict) or isinstance(target[key], dict):
                    errors += 1
                    checked.add(where)
                    kind = "an object" if isinstance(value, dict) else "a weight"
                    print(f"...{where} is {kind} in {source_name} but not in {target_name}")
                elif _shape(target[key]) != _shape(value):
                    errors += 1
                    checked.add(where)
                    print(f"...Weight shape mismatch for {where}\n"
                          f"    In {source_name}: shape={_shape(value)}\n"
                          f"    In {target_name}: shape={_shape(target[key])}")
                else:
                    matches += 1
            return errors, matches

        error_count, match_count = walk(self.weights_dict, ref, "", "saved file",
                                        "reference model", 0, 0)
        extra, _ = walk(ref, self.weights_dict, "", "reference model", "saved file", 0, 0)
        error_count += extra
        print("─────────────────────")
        if error_count == 0:
            status = "success"
            print("Comparison successful: saved file is compatible with the reference model")
            print(f"    Found {match_count} matching weight{'' if match_count == 1 else 's'}")
        else:
            status = "error"
            print(f"Found {error_count} error{'' if error_count == 1 else 's'}: "
                  "saved file is not compatible with the reference model")
        return {"status": status, "error_count": error_count, "match_count": match_count}

    # --- editing ---------------------------------------------------------------------------

    def _locate(self, object_name):
        """(parent dict, key) of the object `object_name` names: a full path ('layers/dense')
        or a name occurring exactly once anywhere in the tree."""
        if "/" in object_name:
            parts = object_name.split("/")
            node = self.weights_dict
            for part in parts:
                if not isinstance(node, dict) or part not in node:
                    raise ValueError(f"Path '{object_name}' not found in model.")
                parent, node = node, node[part]
            return parent, parts[-1]
        found = []

        def search(d):
            for key, value in d.items():
                if key == object_name:
                    found.append(d)
                if isinstance(value, dict):
                    search(value)

        search(self.weights_dict)
        if len(found) > 1:
            raise ValueError(f"Name '{object_name}' occurs more than once in the model; "
                             "try passing a complete path")
        if not found:
            raise ValueError(f"Source name '{object_name}' does not appear in the model. "
                             "Use `editor.weights_summary()` to list all objects.")
        return found[0], object_name

    def rename_object(self, object_name, new_name):
        """Renames an object (a layer), named by its name ('dense_2') or path
        ('layers/dense_2'); `new_name` is a leaf name, not a path."""
        if "/" in new_name:
            raise ValueError("Argument `target_name` should be a leaf name, not a full path "
                             f"name. Received: target_name='{new_name}'")
        parent, key = self._locate(object_name)
        parent[new_name] = parent.pop(key)

    def delete_object(self, object_name):
        """Removes an object (a layer), named by its name or its path."""
        parent, key = self._locate(object_name)
        del parent[key]

    def add_object(self, object_path, weights):
        """Adds an object at `object_path` (e.g. 'layers/dense_2') holding `weights`, a dict of
        weight name ('0', '1', ...) to array."""
        if not isinstance(weights, dict):
            raise ValueError(_WEIGHTS_TYPE_ERROR.format(type(weights)))
        node = self.weights_dict
        parts = object_path.split("/")
        for part in parts[:-1]:
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"Path '{'/'.join(parts[:-1])}' not found in model.")
            node = node[part]
        if not isinstance(node, dict):
            raise ValueError(f"Path '{'/'.join(parts[:-1])}' not found in model.")
        node[parts[-1]] = weights

    def delete_weight(self, object_name, weight_name):
        """Removes the weight `weight_name` ('0') from an object named by name or path."""
        parent, key = self._locate(object_name)
        target = parent[key]
        if not isinstance(target, dict) or weight_name not in target:
            found = list(target.keys()) if isinstance(target, dict) else []
            raise ValueError(f"Weight {weight_name} not found in object {object_name}. "
                             f"Weights found: {found}")
        del target[weight_name]

    def add_weights(self, object_name, weights):
        """Adds (or replaces) weights, a dict of name to array, in an existing object."""
        if not isinstance(weights, dict):
            raise ValueError(_WEIGHTS_TYPE_ERROR.format(type(weights)))
        parent, key = self._locate(object_name)
        if not isinstance(parent[key], dict):
            raise ValueError(f"'{object_name}' is a weight, not an object: weights can only "
                             "be added to an object.")
        parent[key].update(weights)

    # --- writing ---------------------------------------------------------------------------

    def save(self, filepath):
        """Writes the (edited) weights to `filepath`, a `.weights.h5` file. The file is
        written beside the target and moved into place once complete."""
        filepath = os.fspath(filepath)
        if not str(filepath).endswith(".weights.h5"):
            raise ValueError("Invalid `filepath` argument: expected a `.weights.h5` extension. "
                             f"Received: filepath={filepath}")
        with atomic_path(filepath) as tmp, h5py.File(tmp, "w") as f:
            _write_tree(f, self.weights_dict)

    def resave_weights(self, filepath):
        """Same as `save`."""
        self.save(filepath)
