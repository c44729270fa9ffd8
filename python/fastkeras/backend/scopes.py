"""Keras 3's root-level scopes: `StatelessScope`, `SymbolicScope`, `RematScope` and `remat`.

fastkeras variables are plain numpy arrays that ops read directly, so a StatelessScope is
realised by swapping values: on entry the variables of `state_mapping` take the given values;
every variable assigned inside the scope (through `assign`, `assign_add`, `assign_sub`) is
noted with its value from before its first change; on exit the values the variables reached
become the scope's record (`get_current_value`) and the variables get their old values back.
Reads inside the scope therefore see the mapped and updated values, as in Keras, and nothing
is changed afterwards. (Writes that bypass `assign`, such as the optimizers' in-place C++
updates, are only undone for the variables named in `state_mapping`.)

Rematerialisation only trades memory for recomputation; every result is the same, so
`remat(f)` is `f` here and `RematScope` just records its settings.
"""

from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

from fastkeras.backend import variable as variable_mod
from fastkeras.backend.tape import Tensor
from fastkeras.backend.variable import Variable

# the active StatelessScopes, innermost last (kept where Variable and Layer consult it)
_STATELESS = variable_mod.STATELESS_SCOPES
_SYMBOLIC: list = []
_REMAT: list = []


# --- StatelessScope --------------------------------------------------------------------------

class StatelessScope:
    """Within it, no Keras variable is changed for good.

    Args:
        state_mapping: a list of `(variable, value)` pairs: the values the variables hold
            inside the scope (cast to the variable's dtype; shapes must match).
        collect_losses: whether losses added by layers (`add_loss`) inside the scope are
            collected in `scope.losses` (otherwise they are dropped, as in Keras).
        initialize_variables: accepted for compatibility (fastkeras variables are always
            initialised when created).

    After the scope, `scope.get_current_value(variable)` gives the value a variable had at
    the end of it (for variables mapped or assigned in it; None for others).
    """

    def __init__(self, state_mapping=None, collect_losses=False, initialize_variables=True):
        self.collect_losses = collect_losses
        self.initialize_variables = initialize_variables
        self.losses = []
        self.state_mapping = {}
        self._variables = {}  # id -> variable, for the ids in state_mapping
        self._saved = {}      # id -> (variable, value before the scope touched it)
        for k, v in state_mapping or ():
            if not isinstance(k, Variable):
                raise ValueError("Invalid reference variable in StatelessScope: all keys in "
                                 "argument `mapping` must be Variable instances. Received "
                                 f"instead: {k}")
            value = np.asarray(v.value if isinstance(v, Tensor) else v, dtype=k.value.dtype)
            if value.shape != k.value.shape:
                raise ValueError("Invalid variable value in StatelessScope: all values in "
                                 "argument `mapping` must be tensors with a shape that matches "
                                 f"the corresponding variable shape. For variable {k.path}, "
                                 f"received invalid value with shape {value.shape} (expected "
                                 f"{k.value.shape}).")
            self.state_mapping[id(k)] = Tensor(np.array(value, copy=True))
            self._variables[id(k)] = k

    def _touch(self, variable):
        """Remembers the variable's value before the scope's first change to it."""
        if id(variable) not in self._saved:
            self._saved[id(variable)] = (variable, np.array(variable.value, copy=True))
            self._variables[id(variable)] = variable

    def __enter__(self):
        for key, value in self.state_mapping.items():
            variable = self._variables[key]
            self._touch(variable)
            variable._assign_value(value.value)
        _STATELESS.append(self)
        return self

    def __exit__(self, *exc):
        del _STATELESS[next(i for i in range(len(_STATELESS) - 1, -1, -1)
                            if _STATELESS[i] is self)]
        for key, (variable, old) in self._saved.items():
            self.state_mapping[key] = Tensor(np.array(variable.value, copy=True))
            variable._assign_value(old)
        self._saved = {}
        return False

    def add_loss(self, loss):
        self.losses.append(loss)

    def add_update(self, update):
        """Records `(variable, value)` as the variable's value in the scope."""
        variable, value = update
        self._touch(variable)
        variable._assign_value(np.asarray(getattr(value, "value", value)))

    def get_current_value(self, variable):
        """The variable's value in the scope (after it, its value at the scope's end)."""
        if id(variable) in self._saved:  # still inside the scope
            return Tensor(np.array(variable.value, copy=True))
        return self.state_mapping.get(id(variable))


def in_stateless_scope() -> bool:
    return bool(_STATELESS)


def get_stateless_scope():
    return _STATELESS[-1] if _STATELESS else None


# --- SymbolicScope ---------------------------------------------------------------------------

class SymbolicScope:
    """Marks the symbolic stage (shape inference); `in_symbolic_scope()` tells whether one
    is active. fastkeras enters one while it infers an Operation's output spec."""

    def __enter__(self):
        _SYMBOLIC.append(self)
        return self

    def __exit__(self, *exc):
        _SYMBOLIC.remove(self)
        return False


def in_symbolic_scope() -> bool:
    return bool(_SYMBOLIC)


def get_symbolic_scope():
    return _SYMBOLIC[-1] if _SYMBOLIC else None


# --- rematerialisation -----------------------------------------------------------------------

_REMAT_MODES = ("full", "activations", "larger_than", "list_of_layers", None)
RematMode = namedtuple("RematMode", ["mode", "output_size_threshold", "layer_names"])


class RematScope:
    """Keras's rematerialisation (gradient checkpointing) settings for the layers called in
    it: mode "full", "activations", "larger_than" (with `output_size_threshold`),
    "list_of_layers" (with `layer_names`) or None. Rematerialising changes memory use only,
    never results, so fastkeras computes as usual; `get_current_remat_mode()` reports the
    innermost scope's settings."""

    def __init__(self, mode="full", output_size_threshold=1024, layer_names=None):
        if mode not in _REMAT_MODES:
            raise ValueError(f"Invalid mode '{mode}'. Supported modes are: 'full', "
                             "'activations', 'larger_than', 'list_of_layers', or  None.")
        self.mode = mode
        self.output_size_threshold = output_size_threshold
        self.layer_names = layer_names or []

    def __enter__(self):
        _REMAT.append(self)
        return self

    def __exit__(self, *exc):
        _REMAT.remove(self)
        return False


def get_current_remat_mode():
    if not _REMAT:
        return None
    scope = _REMAT[-1]
    return RematMode(scope.mode, scope.output_size_threshold, scope.layer_names)


def remat(f):
    """Keras's `remat(f)`: f with its intermediate results recomputed in the backward pass
    instead of stored. The values and gradients are f's own, so f is called as it is."""

    @functools.wraps(f)
    def rematerialized(*args, **kwargs):
        return f(*args, **kwargs)

    return rematerialized
