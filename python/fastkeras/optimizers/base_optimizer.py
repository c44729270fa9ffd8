"""The optimizer base class: state variables, gradient clipping, weight decay, learning-rate
handling and the `apply` loop that calls one C++ update kernel per variable.

Numerics follow Keras 3: scalars that Keras computes as float32 tensors (learning rates, bias
corrections, clipping norms) are rounded to float32 here, and Python-float expressions Keras
evaluates in double (such as `1 - beta_1`) are evaluated in double and then rounded.
"""

from __future__ import annotations

import collections
import numbers
import re
import warnings

import numpy as np

from fastkeras.backend.tape import UPDATED_IN_PLACE, Tensor
from fastkeras.backend.variable import Variable
from fastkeras.optimizers import schedules as schedules_mod

_F32 = np.dtype(np.float32)

__all__ = ["BaseOptimizer", "IterationCounter", "Optimizer", "reset_names"]

_f32 = np.float32


def f32(x) -> float:
    """x rounded to float32, as a Python float."""
    return float(np.float32(x))


# --- automatic names ("adam", "adam_1", ...) ------------------------------------------------

_name_uids: collections.defaultdict = collections.defaultdict(int)


def _to_snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _auto_name(class_name: str) -> str:
    base = _to_snake_case(class_name)
    n = _name_uids[base]
    _name_uids[base] += 1
    return base if n == 0 else f"{base}_{n}"


def reset_names() -> None:
    """Restart the automatic optimizer names (the next Adam is "adam" again)."""
    _name_uids.clear()


# --- small helpers ------------------------------------------------------------------------------

def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _is_int(x) -> bool:
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, bool)


def _is_float(x) -> bool:
    return isinstance(x, (float, np.floating))


def _check_optional_number(value, arg: str, positive: bool = False):
    if value is None:
        return
    if not _is_real(value):
        raise ValueError(f"Argument `{arg}` must be a float or None. Received: {arg}={value!r}")
    if positive and value < 0:
        raise ValueError(f"Argument `{arg}` must be >= 0. Received: {arg}={value!r}")


class IterationCounter(Variable):
    """The optimizer's step counter: an int64 scalar Variable that also converts with `int()`."""

    __slots__ = ()

    def __int__(self):
        return int(self.value)

    def __index__(self):
        return int(self.value)

    def __eq__(self, other):
        if isinstance(other, (numbers.Integral, np.integer)):
            return int(self.value) == int(other)
        return NotImplemented

    __hash__ = Variable.__hash__


class Optimizer:
    """Base class of the optimizers (Keras 3's `keras.optimizers.Optimizer`).

    A subclass creates its state in `build(var_list)` (calling `super().build(var_list)` first
    and then `add_optimizer_variables`) and implements `update_step(gradient, variable,
    learning_rate)`, which updates `variable.value` (and its slots) in place. `gradient` is a
    C-contiguous float32 array of the variable's shape; `learning_rate` is a float.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                          stacklevel=2)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")

        if name is None:
            name = _auto_name(type(self).__name__)
        elif not isinstance(name, str):
            raise ValueError(f"Argument `name` must be a string. Received: name={name!r}")
        self.name = name

        _check_optional_number(weight_decay, "weight_decay")
        _check_optional_number(clipnorm, "clipnorm", positive=True)
        _check_optional_number(clipvalue, "clipvalue", positive=True)
        _check_optional_number(global_clipnorm, "global_clipnorm", positive=True)
        _check_optional_number(loss_scale_factor, "loss_scale_factor")
        if loss_scale_factor is not None and loss_scale_factor == 0:
            raise ValueError("Argument `loss_scale_factor` must not be 0. Received: "
                             f"loss_scale_factor={loss_scale_factor!r}")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}")
        if gradient_accumulation_steps is not None and (
                not _is_int(gradient_accumulation_steps) or gradient_accumulation_steps < 2):
            raise ValueError(
                "`gradient_accumulation_steps` must be an integer >= 2. Received: "
                f"gradient_accumulation_steps={gradient_accumulation_steps!r}")
        if use_ema:
            if not _is_real(ema_momentum) or not 0 <= ema_momentum <= 1:
                raise ValueError("`ema_momentum` must be in the range [0, 1]. Received: "
                                 f"ema_momentum={ema_momentum!r}")
            if ema_overwrite_frequency is not None and (
                    not _is_int(ema_overwrite_frequency) or ema_overwrite_frequency < 1):
                raise ValueError(
                    "`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                    f"ema_overwrite_frequency={ema_overwrite_frequency!r}")

        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps

        self.built = False
        self._variables: list[Variable] = []
        self._trainable_variables: list[Variable] = []
        self._trainable_variables_indices: dict[int, int] = {}
        self._step_cache_key = None
        self._plain_checked = None  # see _apply_from_training_loop
        self._step_cache = None

        self._iterations = IterationCounter(0, name="iteration", trainable=False,
                                            path=f"{self.name}/iteration", dtype="int64")
        self._track_variable(self._iterations)

        if isinstance(learning_rate, schedules_mod.LearningRateSchedule) or callable(learning_rate) and not isinstance(learning_rate, (Tensor, np.ndarray)):
            self._learning_rate = learning_rate
        else:
            if not _is_float(learning_rate):
                raise ValueError(
                    "Argument `learning_rate` should be float, or an instance of "
                    "LearningRateSchedule, or a callable (that takes in the current iteration "
                    "value and returns the corresponding learning rate value). Received "
                    f"instead: learning_rate={learning_rate!r}")
            self._learning_rate = Variable(np.float32(learning_rate), name="learning_rate",
                                           trainable=False, path=f"{self.name}/learning_rate")
            self._track_variable(self._learning_rate)

    # --- state ------------------------------------------------------------------------------

    def _track_variable(self, variable: Variable) -> None:
        self._variables.append(variable)

    def _untrack_variable(self, variable: Variable) -> None:
        self._variables = [v for v in self._variables if v is not variable]

    @property
    def variables(self) -> list:
        """The optimizer's state in Keras's order: the iteration counter, the learning rate
        (unless it is a schedule or callable), then the slot variables, created per model
        variable in the order of `build`'s list."""
        return self._variables[:]

    @property
    def iterations(self) -> IterationCounter:
        """Update steps taken so far (`int(opt.iterations)`). With gradient accumulation this
        counts completed (accumulated) updates, like Keras."""
        if self.gradient_accumulation_steps:
            counter = IterationCounter(int(self._iterations.value)
                                       // self.gradient_accumulation_steps,
                                       name="iteration", trainable=False,
                                       path=self._iterations.path, dtype="int64")
            return counter
        return self._iterations

    def _var_key(self, variable) -> int:
        return id(variable)

    def _get_variable_index(self, variable) -> int:
        return self._trainable_variables_indices[id(variable)]

    def build(self, variables) -> None:
        """Create the optimizer's state for `variables` (the model's trainable variables)."""
        variables = list(variables)
        for i, v in enumerate(variables):
            if not isinstance(v, Variable):
                raise TypeError(f"{type(self).__name__}.build: expected fastkeras Variables; "
                                f"item {i} is a {type(v).__name__}: {v!r}")
            if v.value.dtype != np.float32:
                raise TypeError(f"{type(self).__name__}: variable '{v.path}' has dtype "
                                f"{v.value.dtype}; optimizers update float32 variables only")
            if not v.value.flags.c_contiguous:
                raise ValueError(f"{type(self).__name__}: variable '{v.path}' is not "
                                 "C-contiguous")
        if self.use_ema:
            self._model_variables_moving_average = []
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = []
        # As Keras orders them (and so stores them): every moving average, then every
        # gradient accumulator.
        for i, variable in enumerate(variables):
            self._trainable_variables_indices[id(variable)] = i
            if self.use_ema:
                self._model_variables_moving_average.append(
                    self.add_variable_from_reference(variable, name="average"))
        if self.gradient_accumulation_steps:
            for variable in variables:
                self._accumulated_gradients.append(
                    self.add_variable_from_reference(variable, name="gradient_accumulator"))
        self._trainable_variables = variables[:]
        self.built = True

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="mean",
                     name=None) -> Variable:
        """A new non-trainable state variable, tracked in `variables`."""
        del aggregation  # accepted for Keras compatibility; there is one replica
        shape = tuple(int(d) for d in shape)
        dtype = np.dtype(dtype or "float32")
        if isinstance(initializer, str):
            key = initializer.lower()
            if key == "zeros":
                value = np.zeros(shape, dtype)
            elif key == "ones":
                value = np.ones(shape, dtype)
            else:
                raise ValueError(f"add_variable: unknown initializer '{initializer}' (use "
                                 "'zeros', 'ones', a number or a callable(shape, dtype))")
        elif _is_real(initializer):
            value = np.full(shape, initializer, dtype)
        elif callable(initializer):
            value = np.asarray(initializer(shape, dtype=str(dtype)), dtype=dtype)
        else:
            raise ValueError(f"add_variable: unusable initializer {initializer!r}")
        name = name or "variable"
        variable = Variable(value, name=name, trainable=False, path=f"{self.name}/{name}",
                            dtype=dtype)
        self._track_variable(variable)
        return variable

    def add_variable_from_reference(self, reference_variable, name=None,
                                    initializer="zeros") -> Variable:
        """A state variable shaped like `reference_variable`, named after its path
        (`dense/kernel` + "momentum" -> `dense_kernel_momentum`)."""
        name = name or "var"
        ref = getattr(reference_variable, "path", None) or str(reference_variable.name)
        name = ref.replace("/", "_").replace(":", "_") + "_" + name
        return self.add_variable(shape=reference_variable.shape, initializer=initializer,
                                 dtype=reference_variable.value.dtype, name=name)

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """Slot variables for each of `trainable_variables`. `name` is one slot name or a list;
        with a list the slots are created interleaved per variable (Keras's order) and a tuple
        of lists is returned."""
        names = [name] if isinstance(name, str) else list(name)
        if isinstance(initializer, (list, tuple)):
            inits = list(initializer)
        else:
            inits = [initializer] * len(names)
        if len(inits) != len(names):
            raise ValueError("The number of provided names must match the number of provided "
                             f"initializers. Received name={name!r}, initializer={initializer!r}")
        out = tuple([] for _ in names)
        for variable in trainable_variables:
            for i, (slot, init) in enumerate(zip(names, inits)):
                out[i].append(self.add_variable_from_reference(variable, name=slot,
                                                               initializer=init))
        return out[0] if isinstance(name, str) else out

    def _check_variables_are_known(self, variables) -> None:
        for v in variables:
            if id(v) not in self._trainable_variables_indices:
                raise ValueError(
                    f"Unknown variable: '{getattr(v, 'path', v)}'. This optimizer can only be "
                    "called for the variables it was originally built with. When working with "
                    "a new set of variables, you should recreate a new optimizer instance.")

    # --- learning rate -------------------------------------------------------------------------

    def _current_learning_rate(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, schedules_mod.LearningRateSchedule):
            value = lr(int(self._iterations.value))
        elif isinstance(lr, Variable):
            return float(lr.value)
        else:
            value = lr()
        if isinstance(value, Tensor):
            value = value.value
        return f32(value)

    @property
    def learning_rate(self):
        """As Keras: the learning-rate variable (`assign` sets it), or a schedule's value at
        `iterations`, or a callable's result."""
        if isinstance(self._learning_rate, Variable):
            return self._learning_rate
        return Tensor(np.asarray(self._current_learning_rate(), np.float32))  # a tensor, as Keras

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        previous = self._learning_rate if isinstance(self._learning_rate, Variable) else None
        if isinstance(learning_rate, schedules_mod.LearningRateSchedule) or callable(learning_rate) and not isinstance(learning_rate, (Tensor, np.ndarray)):
            self._learning_rate = learning_rate
        else:
            if isinstance(self._learning_rate, schedules_mod.LearningRateSchedule):
                raise TypeError(
                    "This optimizer was created with a `LearningRateSchedule` object as its "
                    "`learning_rate` constructor argument, hence its learning rate is not "
                    "settable. If you need the learning rate to be settable, you should "
                    "instantiate the optimizer with a float `learning_rate` argument.")
            value = learning_rate.value if isinstance(learning_rate, Tensor) else learning_rate
            if not _is_real(value) and not (isinstance(value, np.ndarray) and value.ndim == 0
                                            and value.dtype.kind in "iuf"):
                raise ValueError("Argument `learning_rate` should be a float, a "
                                 "LearningRateSchedule or a callable. Received: "
                                 f"learning_rate={learning_rate!r}")
            if isinstance(self._learning_rate, Variable):
                self._learning_rate.value[...] = np.float32(value)
            else:  # was a callable: back to a variable
                self._learning_rate = Variable(np.float32(value), name="learning_rate",
                                               trainable=False,
                                               path=f"{self.name}/learning_rate")
                self._variables.insert(1, self._learning_rate)
        if previous is not None and not isinstance(self._learning_rate, Variable):
            self._untrack_variable(previous)

    # --- applying gradients ------------------------------------------------------------------

    def assign(self, variable, value):
        """`variable.assign(value)` (Keras's hook for optimizer-side writes)."""
        variable.assign(value)

    def assign_add(self, variable, value):
        variable.assign_add(value)

    def assign_sub(self, variable, value):
        variable.assign_sub(value)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """One update computed on the given values instead of the optimizer's and the model's
        own (which are left as they were): returns (new trainable values, new optimizer
        values), as Keras's `stateless_apply`."""
        from fastkeras.layers.layer import swapped_values
        if not self.built:
            raise ValueError("To call `stateless_apply`, the optimizer must be built: call "
                             "`optimizer.build(trainable_variables)` first.")
        own = self.variables
        if len(optimizer_variables) != len(own):
            raise ValueError("Argument `optimizer_variables` must be a list of tensors "
                             "corresponding 1:1 to the optimizer's variables. Received list "
                             f"with length {len(optimizer_variables)}, but expected "
                             f"{len(own)} variables.")
        tracked = self._trainable_variables
        if len(trainable_variables) != len(tracked):
            raise ValueError("Argument `trainable_variables` must be a list of tensors "
                             "corresponding 1:1 to the variables the optimizer was built with. "
                             f"Received list with length {len(trainable_variables)}, but "
                             f"expected {len(tracked)} variables.")
        mapping = list(zip(own, optimizer_variables)) + list(zip(tracked, trainable_variables))
        with swapped_values(mapping):
            self.apply(grads)
            new_trainable = [np.array(v.value) for v in tracked]
            new_state = [np.array(v.value) for v in self.variables]
        return new_trainable, new_state

    def apply_gradients(self, grads_and_vars):
        """Apply `(gradient, variable)` pairs; returns the iteration counter."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self._iterations

    def _require_built_for_bare_grads(self):
        if not self.built:
            raise ValueError(
                "When passing `grads` without `variables`, the optimizer must already be "
                "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                "first.")

    def apply(self, grads, trainable_variables=None):
        """One update: `grads[i]` (an array, or None to skip) for `trainable_variables[i]`.

        Without `trainable_variables` the gradients must match the variables the optimizer was
        built with, one to one. The optimizer builds itself on the first call.
        """
        grads = list(grads)
        if len(grads) == 0:
            return
        if trainable_variables is None:
            self._require_built_for_bare_grads()
            if len(grads) != len(self._trainable_variables):
                raise ValueError(
                    "When passing `grads` as a list of gradient tensors, the gradients must "
                    f"match the optimizer's variables one-to-one. Received a list of "
                    f"{len(grads)} gradients, but the optimizer is tracking "
                    f"{len(self._trainable_variables)} trainable variables.")
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if len(grads) != len(trainable_variables):
                raise ValueError(f"Received {len(grads)} gradients for "
                                 f"{len(trainable_variables)} variables; they must match "
                                 "one-to-one.")
            if not self.built:
                self.build(trainable_variables)
            self._check_variables_are_known(trainable_variables)

        kept_grads, kept_vars, missing = [], [], []
        for g, v in zip(grads, trainable_variables):
            if g is None:
                missing.append(getattr(v, "path", getattr(v, "name", repr(v))))
            else:
                kept_grads.append(self._standardize_gradient(g, v))
                kept_vars.append(v)
        if not kept_grads:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                          "loss. If using `model.compile()`, did you forget to provide a "
                          "`loss` argument?", stacklevel=2)

        if any(v.overwrite_with_gradient for v in kept_vars):
            # As Keras: such a variable takes its gradient as its new value, and is left out
            # of the update rule (Keras's hook for float8 scaling factors).
            pairs = list(zip(kept_grads, kept_vars))
            for g, v in pairs:
                if v.overwrite_with_gradient:
                    v.assign(g)
            kept = [(g, v) for g, v in pairs if not v.overwrite_with_gradient]
            kept_grads, kept_vars = [g for g, _ in kept], [v for _, v in kept]

        if self.loss_scale_factor is not None:
            scale = _f32(self.loss_scale_factor)
            kept_grads = [g / scale for g in kept_grads]

        if kept_grads:
            self._backend_apply_gradients(kept_grads, kept_vars)

        # Variable constraints run after the update (as in Keras), on the raw array.
        for variable in kept_vars:
            constraint = getattr(variable, "constraint", None)
            if constraint is not None:
                variable.assign(constraint(variable.value))
        self._iterations.value += 1

    # --- the training loop's update ----------------------------------------------------------

    def _plain_step_possible(self) -> bool:
        """Whether an update needs nothing beyond weight decay and the update rule itself (no
        clipping, loss scaling, accumulation or moving averages)."""
        return not (self.clipnorm or self.clipvalue or self.global_clipnorm
                    or self.loss_scale_factor is not None or self.gradient_accumulation_steps
                    or self.use_ema)

    def _apply_plain(self, grads, variables) -> None:
        """`apply` for the training loop, which vouches for its inputs: every gradient is a
        C-contiguous float32 array of its variable's shape, the variables are the ones the
        optimizer was built on, none has a constraint, and `_plain_step_possible()` holds.
        Same arithmetic as `apply`, with less Python around it."""
        self._apply_weight_decay(variables)
        self._update_many(grads, variables, self._current_learning_rate())
        self._iterations.value += 1

    def _in_place_scales(self, variables):
        """{id(variable): alpha} for the variables whose whole update is
        `variable += alpha * gradient` this step, which ops may then apply as they compute the
        gradient (see backend.tape.in_place_update_scale); None when the update is anything
        else. Only plain SGD qualifies."""
        return

    def _apply_from_training_loop(self, grads, variables) -> None:
        """The training step's update: `_apply_plain` when the gradients and variables allow
        it (checked here, cheaply), else the general `apply`. Variables the backward pass
        already stepped (UPDATED_IN_PLACE, see `_in_place_scales`) are left out."""
        if any(g is UPDATED_IN_PLACE for g in grads):
            pairs = [(g, v) for g, v in zip(grads, variables) if g is not UPDATED_IN_PLACE]
            if all(g is None for g, _ in pairs):
                if pairs:
                    missing = [getattr(v, "path", getattr(v, "name", repr(v))) for _, v in pairs]
                    warnings.warn(f"Gradients do not exist for variables {missing} when "
                                  "minimizing the loss. If using `model.compile()`, did you "
                                  "forget to provide a `loss` argument?", stacklevel=2)
                self._iterations.value += 1
                return
            grads, variables = [p[0] for p in pairs], [p[1] for p in pairs]
        if self.built and self._plain_step_possible() and len(grads) == len(variables) \
                and grads:
            # The loop reuses its gradient buffers: the pairs checked last step (held here, so
            # their ids stay theirs) need no second look.
            last = self._plain_checked
            if last is not None and len(last) == len(grads) and all(
                    g is lg and v is lv for g, v, (lg, lv) in zip(grads, variables, last)):
                self._apply_plain(grads, variables)
                return
            index = self._trainable_variables_indices
            for g, v in zip(grads, variables):
                if not (type(g) is np.ndarray and g.dtype == _F32 and g.flags.c_contiguous
                        and g.shape == v.value.shape and id(v) in index
                        and getattr(v, "constraint", None) is None
                        and not v.overwrite_with_gradient):
                    break
            else:
                self._plain_checked = list(zip(grads, variables))
                self._apply_plain(grads, variables)
                return
        self._plain_checked = None
        self.apply(grads, variables)

    def _update_many(self, grads, variables, learning_rate) -> None:
        """update_step for each (gradient, variable); optimizers with a multi-variable kernel
        override it."""
        for grad, variable in zip(grads, variables):
            self.update_step(grad, variable, learning_rate)

    def _standardize_gradient(self, gradient, variable) -> np.ndarray:
        g = gradient.value if isinstance(gradient, Tensor) else gradient
        if not isinstance(g, np.ndarray):
            try:
                g = np.asarray(g, dtype=np.float32)
            except (TypeError, ValueError):
                raise TypeError(f"The gradient for variable '{variable.path}' must be an array "
                                f"of numbers. Received: {gradient!r}") from None
        if g.dtype != np.float32:
            if g.dtype.kind not in "biuf":
                raise TypeError(f"The gradient for variable '{variable.path}' must be numeric. "
                                f"Received dtype {g.dtype}")
            g = g.astype(np.float32)
        if g.shape != variable.value.shape:
            raise ValueError(f"The gradient for variable '{variable.path}' has shape {g.shape}, "
                             f"but the variable has shape {variable.value.shape}")
        if not g.flags.c_contiguous:
            g = np.ascontiguousarray(g)
        return g

    def _backend_apply_gradients(self, grads, trainable_variables):
        if self.gradient_accumulation_steps:
            steps = self.gradient_accumulation_steps
            is_update_step = (int(self._iterations.value) + 1) % steps == 0
            accumulators = [self._accumulated_gradients[self._get_variable_index(v)]
                            for v in trainable_variables]
            if is_update_step:
                grads = [np.asarray((g + acc.value) / _f32(steps))
                         for g, acc in zip(grads, accumulators)]
                grads = self._clip_gradients(grads)
                self._apply_weight_decay(trainable_variables)
                self._backend_update_step(grads, trainable_variables, self._current_learning_rate())
                for acc in self._accumulated_gradients:
                    acc.value[...] = 0
            else:
                for g, acc in zip(grads, accumulators):
                    np.add(acc.value, g, out=acc.value)
        else:
            grads = self._clip_gradients(grads)
            self._apply_weight_decay(trainable_variables)
            self._backend_update_step(grads, trainable_variables, self._current_learning_rate())

        if self.use_ema:
            self._update_model_variables_moving_average(self._trainable_variables)
            if (self.ema_overwrite_frequency
                    and (int(self.iterations) + 1) % self.ema_overwrite_frequency == 0):
                self._overwrite_model_variables_with_average_value(self._trainable_variables)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        for grad, variable in zip(grads, trainable_variables):
            self.update_step(grad, variable, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(f"{type(self).__name__} must implement "
                                  "`update_step(gradient, variable, learning_rate)`")

    def _step_scalars(self, learning_rate, compute):
        """Per-step scalars shared by every variable of one update, computed once."""
        key = (int(self._iterations.value), learning_rate)
        if self._step_cache_key != key:
            self._step_cache = compute()
            self._step_cache_key = key
        return self._step_cache

    # --- clipping and weight decay -------------------------------------------------------

    def _clip_gradients(self, grads):
        # numpy turns 0-d results into scalars; the kernels want arrays.
        return [g if g is None or isinstance(g, np.ndarray) else np.asarray(g)
                for g in self._clip_gradients_raw(grads)]

    def _clip_gradients_raw(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [self._clip_by_norm(g) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            v = _f32(self.clipvalue)
            return [np.clip(g, -v, v) for g in grads]
        return grads

    def _clip_by_norm(self, values: np.ndarray) -> np.ndarray:
        l2sum = _f32(_sum_squares(values))
        l2norm = np.sqrt(l2sum) if l2sum > 0 else l2sum
        clip = _f32(self.clipnorm)
        return (values * clip) / np.maximum(l2norm, clip)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempt variables from weight decay: those in `var_list`, and those whose name
        contains (as a regular expression) any string of `var_names`. Call before `build`."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the "
                             "optimizer is built.")
        self._exclude_from_weight_decay = {id(v) for v in (var_list or [])}
        if var_names:
            self._exclude_from_weight_decay_pattern = re.compile("|".join(set(var_names)))
        else:
            self._exclude_from_weight_decay_pattern = None
        self._exclude_from_weight_decay_cache = {}

    def _use_weight_decay(self, variable) -> bool:
        cache = self.__dict__.setdefault("_exclude_from_weight_decay_cache", {})
        key = id(variable)
        if key in cache:
            return cache[key]
        use = True
        if key in getattr(self, "_exclude_from_weight_decay", set()):
            use = False
        pattern = getattr(self, "_exclude_from_weight_decay_pattern", None)
        if use and pattern is not None and re.search(pattern, variable.name) is not None:
            use = False
        cache[key] = use
        return use

    def _apply_weight_decay(self, variables):
        # As Keras's torch backend decays: w *= 1 - weight_decay * learning_rate, the factor
        # computed in float32.
        if self.weight_decay is None:
            return
        from fastkeras import _core
        factor = float(_f32(1) - _f32(self.weight_decay) * _f32(self._current_learning_rate()))
        for variable in variables:
            if self._use_weight_decay(variable):
                _core.scale_weights(variable.value, factor)

    # --- moving averages of the weights (use_ema) -----------------------------------------

    def _update_model_variables_moving_average(self, trainable_variables):
        not_first_step = _f32(int(self.iterations) != 0)
        momentum = not_first_step * _f32(self.ema_momentum)
        for var, average in zip(trainable_variables, self._model_variables_moving_average):
            average.value[...] = momentum * average.value + (_f32(1) - momentum) * var.value

    def _overwrite_model_variables_with_average_value(self, trainable_variables):
        if len(trainable_variables) != len(self._model_variables_moving_average):
            raise ValueError(
                f"The length of model variables ({len(trainable_variables)}) to override does "
                "not match the length of model variables stored in the optimizer "
                f"({len(self._model_variables_moving_average)}). Please check if the "
                "optimizer was called on your model.")
        for var, average in zip(trainable_variables, self._model_variables_moving_average):
            var.value[...] = average.value

    def finalize_variable_values(self, var_list):
        """With `use_ema`, copy the moving averages into the model's variables."""
        if self.use_ema:
            self._overwrite_model_variables_with_average_value(list(var_list))

    def scale_loss(self, loss):
        """The loss multiplied by `loss_scale_factor` (when set)."""
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    # --- weights -----------------------------------------------------------------------------

    def get_weights(self) -> list:
        return [v.numpy() for v in self._variables]

    def _require_built_for_set_weights(self):
        if not self.built:
            raise ValueError("You are calling `set_weights()` on an optimizer that has not yet "
                             "been built. Please call `optimizer.build(trainable_variables)` to "
                             "create the optimizer weights before calling `set_weights()`.")

    def set_weights(self, weights):
        self._require_built_for_set_weights()
        weights = list(weights)
        if len(weights) != len(self._variables):
            raise ValueError(f"set_weights: the optimizer has {len(self._variables)} variables, "
                             f"received {len(weights)} arrays")
        for variable, weight in zip(self._variables, weights):
            weight = np.asarray(weight)
            if tuple(variable.shape) != tuple(weight.shape):
                raise ValueError(f"Optimizer variable '{variable.path}' has shape "
                                 f"{variable.shape} not compatible with provided weight shape "
                                 f"{weight.shape}.")
            variable.assign(weight)

    def save_own_variables(self, store):
        """Write the state (`variables`) into `store` under keys "0", "1", ... (Keras's
        layout)."""
        for i, variable in enumerate(self.variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store):
        """Read the state written by `save_own_variables` (skipped, with a warning, if the
        number of variables differs)."""
        variables = self.variables
        if len(store.keys()) != len(variables):
            msg = (f"Skipping variable loading for optimizer '{self.name}', because it has "
                   f"{len(variables)} variables whereas the saved optimizer has "
                   f"{len(store.keys())} variables. ")
            if not self.built:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        for i, variable in enumerate(variables):
            variable.assign(np.asarray(store[str(i)]))

    # --- config ------------------------------------------------------------------------------

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, schedules_mod.LearningRateSchedule):
            learning_rate = schedules_mod.serialize(lr)
        elif isinstance(lr, Variable):
            learning_rate = float(lr.value)
        else:
            learning_rate = lr
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_mod.deserialize(config["learning_rate"],
                                                                custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


BaseOptimizer = Optimizer


def _sum_squares(x: np.ndarray) -> float:
    from fastkeras import _core
    return _core.sum_squares(x)


def global_norm(value_list) -> np.float32:
    """sqrt of the sum of squares of every array (float32, like Keras)."""
    squares = np.array([_f32(_sum_squares(v)) for v in value_list if v is not None],
                       dtype=np.float32)
    return np.sqrt(squares.sum(dtype=np.float32))


def clip_by_global_norm(value_list, clip_norm):
    """Scale every array by clip_norm / max(global_norm, clip_norm) (Keras's formula, which
    also turns everything into NaN when the norm is not finite)."""
    use_norm = global_norm(value_list)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale_for_finite = _f32(clip_norm) * np.minimum(_f32(1.0) / use_norm,
                                                        _f32(1.0 / clip_norm))
        scale = scale_for_finite + (use_norm - use_norm)
    return [v * scale if v is not None else v for v in value_list]
