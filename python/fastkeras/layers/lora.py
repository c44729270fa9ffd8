"""LoRA (low-rank adaptation), Keras 3's `lora_rank` / `enable_lora()` of Dense, EinsumDense,
Embedding and Conv1D/2D/3D.

A layer with LoRA enabled freezes its main weight W (the kernel, or Embedding's table) and
adds two trainable float32 factors: A, shaped like W with its last axis replaced by the rank
r, and B, (r, W's last axis). The layer then computes with

    W + (lora_alpha / lora_rank) * (A @ B)

(`@` over A's last axis, so a conv kernel's A (*kernel_size, in, r) gives a kernel-shaped
product without reshaping). A starts from `he_uniform`, B from zeros, so a freshly adapted
layer computes exactly what it did before. As in Keras, saving writes the merged W in W's
place and no factors, so the files are those of the plain layer; loading such a file into a
layer with LoRA enabled sets W to the merged weight and both factors to zeros.
"""

from __future__ import annotations

import numpy as np

from fastkeras import initializers as initializers_mod
from fastkeras import ops
from fastkeras.backend.tape import no_grad
from fastkeras.layers.layer import _own_variables


def adapted_weight(name):
    """The property `name` of a layer with LoRA: the Variable itself (stored as `_<name>`)
    while LoRA is off, the merged tensor (which carries gradients to both factors) while it
    is on. Reading it before the layer is built is an AttributeError, as in Keras."""
    private = "_" + name

    def get(self):
        base = self.__dict__.get(private)
        if base is None or not self.built:
            raise AttributeError(f"You must build the layer before accessing `{name}`.")
        if self.__dict__.get("lora_enabled"):
            return self._lora_merged(base)
        return base

    def set(self, value):
        self.__dict__[private] = value

    return property(get, set, doc=f"The layer's `{name}` (with LoRA: W + alpha / r * A @ B).")


class LoRA:
    """The LoRA half of a layer (a mixin placed before `Layer` in its bases). The class says
    which weight is adapted (`_lora_weight`, also exposed through `adapted_weight`) and which
    of its arguments are that weight's constraint and regularizer; `__init__` calls
    `_set_lora_arguments`, `build` ends with `_build_lora`.

    A subclass whose Keras counterpart has no LoRA (Conv2DTranspose under Conv2D) sets
    `_lora_supported = False`, skips `_set_lora_arguments` and hides `enable_lora` with
    `Absent()`: its instances then have no lora_* attributes, and the rest of the mixin (which
    looks the attributes up in the instance's own dict) leaves it a plain layer."""

    _lora_weight = "kernel"
    _lora_constraint = "kernel_constraint"
    _lora_regularizer = "kernel_regularizer"
    # Keras's Dense and Embedding enable LoRA at build with alpha = rank, whatever `lora_alpha`
    # the constructor got; EinsumDense and the convolutions keep the given alpha.
    _lora_build_keeps_alpha = True
    _lora_supported = True

    def _set_lora_arguments(self, lora_rank, lora_alpha):
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False

    def _build_lora(self):
        if self.__dict__.get("lora_rank"):
            if self._lora_build_keeps_alpha:
                self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)
            else:
                self.enable_lora(self.lora_rank)

    def _lora_factors(self):
        name = self._lora_weight
        return self.__dict__[f"lora_{name}_a"], self.__dict__[f"lora_{name}_b"]

    def _lora_merged(self, base):
        a, b = self._lora_factors()
        delta = ops.multiply(ops.matmul(a, b), self.lora_alpha / self.lora_rank)
        merged = ops.add(base, delta)
        if merged.dtype != np.dtype(self.compute_dtype):
            merged = ops.cast(merged, self.compute_dtype)
        return merged

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform",
                    b_initializer="zeros"):
        """Freezes the layer's weight and adds the trainable factors `lora_<weight>_a`
        (W's shape with the last axis `rank`) and `lora_<weight>_b` (rank, W's last axis),
        initialized by `a_initializer` and `b_initializer`; the layer then computes with
        W + (lora_alpha / rank) * A @ B (lora_alpha defaults to rank). Only once per layer,
        after it is built, and not with a constraint on the weight."""
        name = self._lora_weight
        if getattr(self, self._lora_constraint):
            what = "embedding" if name == "embeddings" else name
            raise ValueError(f"Lora is incompatible with {what} constraints. In order to enable "
                             f"lora on this layer, remove the `{self._lora_constraint}` "
                             "argument.")
        if not self.built:
            raise ValueError("Cannot enable lora on a layer that isn't yet built.")
        if self.lora_enabled:
            raise ValueError("lora is already enabled. This can only be done once per layer.")
        base = self.__dict__["_" + name]
        a_init = initializers_mod.get(a_initializer)
        b_init = initializers_mod.get(b_initializer)
        regularizer = getattr(self, self._lora_regularizer)
        shape = tuple(base.shape)
        factors = []
        for suffix, factor_shape, init in (("a", shape[:-1] + (rank,), a_init),
                                           ("b", (rank, shape[-1]), b_init)):
            v = self.add_weight(name=f"lora_{name}_{suffix}", shape=factor_shape,
                                initializer=init, dtype="float32", regularizer=regularizer)
            if self.path:  # made after the build: named under the layer's path, as Keras does
                v.path = f"{self.path}/{v.name}"
            factors.append(v)
        setattr(self, f"lora_{name}_a", factors[0])
        setattr(self, f"lora_{name}_b", factors[1])
        base.trainable = False
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def _lora_config(self, config):
        """Adds `lora_rank` and `lora_alpha` to a config when the layer has a rank (Keras
        writes them only then)."""
        if self.__dict__.get("lora_rank"):
            config["lora_rank"] = self.lora_rank
            config["lora_alpha"] = self.lora_alpha
        return config

    @property
    def _stores_variables_as_layer(self):
        """True while LoRA is off: the layer's file entry is then exactly its own variables in
        the base Layer's order, so a loader may check and assign them as it does for a layer
        that does not override `load_own_variables` (only a layer with LoRA on needs its own
        `load_own_variables`)."""
        return not self.__dict__.get("lora_enabled")

    def _lora_stored_variables(self):
        """The variables a file stores for this layer: its own, without the LoRA factors."""
        factors = [id(v) for v in self._lora_factors()]
        return [v for v in _own_variables(self) if id(v) not in factors]

    def save_own_variables(self, store):
        """As Keras: with LoRA on, the merged weight in the frozen weight's place and no
        factors (the file is that of the plain layer); otherwise every own variable."""
        if not self.built:
            return
        if not self.__dict__.get("lora_enabled"):
            super().save_own_variables(store)
            return
        base = self.__dict__["_" + self._lora_weight]
        with no_grad():
            merged = self._lora_merged(base).value
        for i, v in enumerate(self._lora_stored_variables()):
            store[str(i)] = merged if v is base else v

    def load_own_variables(self, store):
        """Reads what `save_own_variables` wrote. With LoRA on, the stored weight (the merged
        one) goes to the frozen weight and both factors are reset to zeros, as Keras does."""
        if not self.__dict__.get("lora_enabled"):
            super().load_own_variables(store)
            return
        if not self.built:
            return
        targets = self._lora_stored_variables()
        if len(store.keys()) != len(targets):
            raise ValueError(f"Layer '{self.name}' expected {len(targets)} variables, but "
                             f"received {len(store.keys())} variables during loading. "
                             f"Expected: {[v.name for v in targets]}")
        arrays = [np.asarray(store[str(i)]) for i in range(len(targets))]
        for v, arr in zip(targets, arrays):
            if tuple(arr.shape) != tuple(v.shape):
                raise ValueError(f"Layer '{self.name}': weight '{v.name}' has shape "
                                 f"{tuple(v.shape)}, but the file stores shape "
                                 f"{tuple(arr.shape)}")
        for v, arr in zip(targets, arrays):
            v.assign(arr)
        for v in self._lora_factors():
            v.assign(np.zeros(v.shape, v.dtype))


class Absent:
    """A class attribute that reads as missing (AttributeError, so `hasattr` is False): hides
    a member a subclass inherits but its Keras counterpart lacks."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        raise AttributeError(f"'{(owner or type(obj)).__name__}' object has no attribute "
                             f"'{self.name}'")


def lora_arguments_rejected(layer, kwargs, lora_rank, lora_alpha):
    """For a layer without LoRA built on one with it: the LoRA arguments it was given go back
    into `kwargs`, which `Layer.__init__` then rejects as unknown arguments."""
    if not layer._lora_supported:
        kwargs.update({k: v for k, v in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha))
                       if v is not None})
    return kwargs
