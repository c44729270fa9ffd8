"""Model: a Layer with compile / fit / evaluate / predict. One training loop serves every
kind of model (Sequential, subclassed): forward records the tape, the loss starts the
gradient, backward replays it, the optimizer updates in place."""

from __future__ import annotations

import inspect
import itertools
import warnings

import numpy as np

from fastkeras.backend import random as fk_random
from fastkeras.backend.tape import GradientTape, Tensor, convert_to_tensor, gradients, no_grad
from fastkeras.callbacks.callback import CallbackList, flat_callbacks, overrides
from fastkeras.callbacks.history import History
from fastkeras.callbacks.progbar_logger import ProgbarLogger
from fastkeras.layers.layer import Layer
from fastkeras.models.compile_utils import flatten_outputs as _leaves
from fastkeras.models.compile_utils import metric_values, set_metric_names
from fastkeras.trainers import data as data_mod
from fastkeras.trainers import py_dataset
from fastkeras.trainers.dense_chain import DenseChain


def _single_entry(spec):
    """A one-entry list/tuple/dict given for a one-output model: the entry."""
    if isinstance(spec, (list, tuple, dict)) and len(spec) == 1:
        return next(iter(spec.values())) if isinstance(spec, dict) else spec[0]
    return spec


def _refuse_empty(batches, method):
    if batches.n == 0:  # (Keras raises too)
        raise ValueError(f"`{method}` received no data: the arrays passed hold 0 samples. "
                         "Pass at least one sample.")


def _flat_metric_specs(spec) -> list:
    """A single-output model's metrics as one list: a dict's values and nested lists, in
    order."""
    if spec is None:
        return []
    items = spec.values() if isinstance(spec, dict) else spec
    flat = []
    for item in items:
        if isinstance(item, (list, tuple, dict)):
            flat.extend(_flat_metric_specs(item))
        else:
            flat.append(item)
    return flat


def _output_values(structure, copy=False):
    """numpy values of an output structure, keeping its containers (a tuple stays a tuple, as
    Keras's predict returns it)."""
    if isinstance(structure, dict):
        return {k: _output_values(v, copy) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_output_values(v, copy) for v in structure)
    value = structure.value if isinstance(structure, Tensor) else structure
    return value.copy() if copy and isinstance(value, np.ndarray) else value


def _concatenated(batches):
    """The per-batch outputs of predict joined along the batch axis, leaf by leaf."""
    first = batches[0]
    if isinstance(first, dict):
        return {k: _concatenated([b[k] for b in batches]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concatenated([b[i] for b in batches]) for i in range(len(first)))
    return np.concatenate(batches) if len(batches) > 1 else np.array(first)


def _functional_arguments(args, kwargs) -> bool:
    """Whether Model(...) was given a functional model's inputs and outputs (Keras's test)."""
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or (
        "inputs" in kwargs and "outputs" in kwargs)


def _with_functional_base(cls, functional):
    """Replaces Model by `functional` among the bases of cls and of its ancestors (in place)."""
    if cls is Model:
        return functional
    if cls is object or not issubclass(cls, Model):
        return cls
    bases = tuple(_with_functional_base(b, functional) for b in cls.__bases__)
    if bases != cls.__bases__:
        cls.__bases__ = bases
    return cls


class Model(Layer):
    """Group layers into an object with training and inference features.

    Subclass it and define `call(self, inputs, training=None)`, or use `Sequential`.
    """

    _records_auto_config = False  # as Keras: no automatic config from __init__'s arguments

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_arguments(args, kwargs):
            from fastkeras.models.functional import Functional
            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if _functional_arguments(args, kwargs):
            from fastkeras.models.functional import Functional
            if not isinstance(self, Functional):
                # A subclass given inputs and outputs, `CustomModel(inputs, outputs)` (keras.io's
                # guide to customizing fit): as Keras does, the class's Model base becomes
                # Functional, so it is a functional model with the subclass's methods.
                _with_functional_base(type(self), Functional)
                Functional.__init__(self, *args, **kwargs)
                return
        super().__init__(**{k: v for k, v in kwargs.items() if k in ("name", "trainable", "dtype")})
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metrics = []
        self._weighted_metrics = []
        self._in_fit = False
        self._initial_epoch = None  # set by BackupAndRestore when it resumes a run
        self._penalties_on = None  # fit decides once per epoch; None: check every call
        self._multi = None  # OutputLosses when the model has several outputs
        self._loss_tracker = None  # compile's Mean "loss" and CompileMetrics, as Keras 3's
        self._compile_metrics = None
        # compile's execution settings, kept for Keras's API: everything runs eagerly here
        # (there is no graph compiler), `steps_per_execution` groups the batch callbacks.
        self._run_eagerly = False
        self._jit_compile = None
        self.steps_per_execution = 1
        self.train_function = None
        self.test_function = None
        self.predict_function = None

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """`Model.from_config` on a functional config (layers, input_layers, output_layers)
        rebuilds the graph, as in Keras; other configs go to the class's constructor."""
        if cls is Model and "layers" in config and "input_layers" in config:
            from fastkeras.models.functional import Functional
            return Functional.from_config(config, custom_objects=custom_objects)
        return super().from_config(config)

    # --- compile ---------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        from fastkeras import losses as losses_mod
        from fastkeras import optimizers as optimizers_mod
        for arg, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple, dict)):
                raise ValueError(f"Expected `{arg}` argument to be a list, tuple, or dict. "
                                 f"Received instead: {arg}={value!r} of type "
                                 f"{type(value).__name__}")
        self.optimizer = optimizers_mod.get(optimizer)
        given = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                 "weighted_metrics": weighted_metrics}
        previous = getattr(self, "_compile_specs", None) or {}
        # As Keras: compiling again without a loss (or without metrics) keeps the ones the
        # model was compiled with before.
        if loss is None and previous.get("loss") is not None:
            loss, loss_weights = previous["loss"], previous["loss_weights"]
        if metrics is None and weighted_metrics is None:
            metrics, weighted_metrics = previous.get("metrics"), previous.get("weighted_metrics")
        self._compile_specs = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                               "weighted_metrics": weighted_metrics}
        self.loss = loss
        self._loss_fn = None
        self._multi = None
        n_outputs = self._known_output_count()
        if n_outputs == 1:  # one output: a one-entry list or dict is the entry itself
            loss, loss_weights = _single_entry(loss), _single_entry(loss_weights)
        if loss is not None and (n_outputs is not None and n_outputs > 1
                                 or isinstance(loss, (list, tuple, dict))):
            from fastkeras.models.compile_utils import OutputLosses
            self._multi = OutputLosses(loss, loss_weights, metrics, weighted_metrics)
            self._loss_fn = self._multi
        elif loss is not None:
            fn = losses_mod.get(loss)
            if not isinstance(fn, losses_mod.Loss):  # a plain function: reduce it like Keras
                fn = losses_mod.LossFunctionWrapper(fn, name=getattr(fn, "__name__", None))
            self._loss_fn = fn
        self._loss_weight = 1.0 if loss_weights is None or self._multi is not None else float(
            loss_weights[0] if isinstance(loss_weights, (list, tuple)) else loss_weights)
        # One output: metrics given per output (a dict, nested lists) all apply to it, as Keras.
        self._metric_specs = _flat_metric_specs(metrics)
        self._weighted_metric_specs = _flat_metric_specs(weighted_metrics)
        self._metrics = None  # resolved on the first batch, when the shapes are known
        self._weighted_metrics = None
        from fastkeras.metrics import Mean
        from fastkeras.models.compile_utils import CompileMetrics
        self._loss_tracker = Mean(name="loss")
        self._compile_metrics = None if metrics is None and weighted_metrics is None else \
            CompileMetrics(self)
        if isinstance(steps_per_execution, bool) or not isinstance(
                steps_per_execution, (int, np.integer)) or steps_per_execution < 1:
            raise ValueError("Argument `steps_per_execution` must be a positive integer. "
                             f"Received: steps_per_execution={steps_per_execution!r}")
        self.steps_per_execution = int(steps_per_execution)
        self.run_eagerly = run_eagerly
        if jit_compile is True and run_eagerly:
            warnings.warn("If `run_eagerly` is True, then `jit_compile` cannot also be True. "
                          "Disabling `jit_compile`.", stacklevel=2)
        if run_eagerly:  # ("auto" gives way without a word)
            jit_compile = False
        self._jit_compile = None if jit_compile == "auto" else bool(jit_compile)
        self.train_function = self.test_function = self.predict_function = None
        self.compiled = True
        self._compile_config = {"optimizer": optimizer, "loss": given["loss"],
                                "metrics": given["metrics"],
                                "loss_weights": given["loss_weights"],
                                "weighted_metrics": given["weighted_metrics"]}

    @property
    def run_eagerly(self):
        """Accepted for Keras's API: every step runs eagerly (there is no graph to compile)."""
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value):
        self._run_eagerly = bool(value)

    @property
    def jit_compile(self):
        """Accepted for Keras's API ("auto" resolves to False, as on Keras's PyTorch backend);
        the C++ kernels run either way."""
        return bool(self._jit_compile)

    @jit_compile.setter
    def jit_compile(self, value):
        self._jit_compile = bool(value)

    def make_train_function(self, force=False):
        """`train_function(data)`: one `train_step` on `data`, a batch or a one-batch list
        (as Keras's PyTorch backend builds it)."""
        if self.train_function is None or force:
            self.train_function = lambda data: self.train_step(_first_batch(data))
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is None or force:
            self.test_function = lambda data: self.test_step(_first_batch(data))
        return self.test_function

    def make_predict_function(self, force=False):
        if self.predict_function is None or force:
            self.predict_function = lambda data: self.predict_step(_first_batch(data))
        return self.predict_function

    def compile_from_config(self, config):
        """Compiles the model from `get_compile_config()`'s dict (what a saved model's
        compile_config holds); builds the optimizer when the model is built."""
        from fastkeras.saving.saving_api import compile_from_config
        compile_from_config(self, config)

    def export(self, filepath, format="tf_saved_model", **kwargs):
        raise NotImplementedError(
            f"Model.export(format={format!r}) needs TensorFlow or ONNX tooling, which this "
            "library does not use. Save the model with `model.save('model.keras')` (Keras's "
            "own format, loadable by Keras 3 and exportable there).")

    def get_state_tree(self, value_format="backend_tensor"):
        """The model's variables as nested dicts keyed by their paths: trainable,
        non-trainable, optimizer and metric variables (as Keras's `get_state_tree`)."""
        if value_format not in ("backend_tensor", "numpy_array"):
            raise ValueError("Invalid `value_format` argument. Expected one of "
                             "{'numpy_array', 'backend_tensor'}. Received: "
                             f"value_format={value_format}")
        optimizer = self.optimizer.variables if self.optimizer is not None else []
        return {"trainable_variables": _nested_by_path(self.trainable_variables),
                "non_trainable_variables": _nested_by_path(self.non_trainable_variables),
                "optimizer_variables": _nested_by_path(optimizer),
                "metrics_variables": _nested_by_path(self.metrics_variables)}

    def set_state_tree(self, state_tree):
        """Assigns the values of a `get_state_tree()`-shaped dict to the model's variables."""
        groups = {"trainable_variables": lambda: self.trainable_variables,
                  "non_trainable_variables": lambda: self.non_trainable_variables,
                  "optimizer_variables": lambda: self.optimizer.variables,
                  "metrics_variables": lambda: self.metrics_variables}
        for key, tree in state_tree.items():
            if key not in groups:
                raise ValueError(f"Unknown variable name: {key}")
            values = _flatten_paths(tree)
            for v in groups[key]():
                if v.path in values:
                    v.assign(np.asarray(values[v.path]))

    def _known_output_count(self):
        """How many outputs the model has, when known before it runs (None: not yet)."""
        outputs = getattr(self, "outputs", None)
        return len(outputs) if isinstance(outputs, list) else None

    def _output_names_for(self, y_pred):
        return [f"output_{i + 1}" for i in range(len(_leaves(y_pred)))]

    def _resolve_metrics(self, y, y_pred):
        from fastkeras import metrics as metrics_mod

        if self._multi is None and isinstance(y_pred, (list, tuple, dict)) \
                and self._loss_fn is not None:
            # A subclassed model whose call returns several outputs: one loss for each.
            from fastkeras.models.compile_utils import OutputLosses
            spec = self._compile_specs
            self._multi = OutputLosses(spec["loss"], spec["loss_weights"], spec["metrics"],
                                       spec["weighted_metrics"])
            self._loss_fn = self._multi
            self._loss_weight = 1.0
        if self._multi is not None:
            # outputs without names (a subclassed model's) are logged as Keras logs them
            self._multi.name_by_loss = type(self)._output_names_for is Model._output_names_for
            self._multi.build(self._output_names_for(y_pred), y, y_pred)
            self._metrics = self._multi.all_metrics
            self._weighted_metrics = []
            return

        def resolve(spec):
            return metrics_mod.get_compile_metric(spec, np.shape(y), tuple(y_pred.shape))

        self._metrics = [resolve(s) for s in self._metric_specs]
        self._weighted_metrics = [resolve(s) for s in self._weighted_metric_specs]
        # Keras's log names: a repeated name gets `_1`, `_2`..., a weighted metric sharing a
        # plain one's name becomes `weighted_<name>`.
        set_metric_names(self._metrics, self._weighted_metrics)

    @property
    def metrics(self):
        """As Keras 3: the loss tracker ("loss") and the compiled metrics ("compile_metrics",
        whose `metrics` are the individual ones) once compiled, a multi-output model's
        per-output loss trackers, then the metrics held as the model's attributes."""
        out = []
        if self.compiled and self._loss_tracker is not None:
            out.append(self._loss_tracker)
            if self._compile_metrics is not None:
                out.append(self._compile_metrics)
            out.extend(self._output_loss_trackers())
        out.extend(self._attribute_metrics())
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def _compiled_metric_list(self):
        """The metric objects compile's `metrics` and `weighted_metrics` resolved to."""
        if self._multi is not None:
            if not getattr(self._multi, "built", False):
                return []
            return [m for _, m in self._multi.metrics + self._multi.weighted_metrics]
        return list(self._metrics or []) + list(self._weighted_metrics or [])

    def _output_loss_trackers(self):
        if self._multi is None or not getattr(self._multi, "built", False):
            return []
        return self._multi.ordered_loss_trackers

    # Where compile keeps its own metric objects: `metrics` lists them first, by their roles.
    _COMPILE_STATE = frozenset(("_loss_tracker", "_compile_metrics", "_metrics",
                                "_weighted_metrics", "_metric_specs", "_weighted_metric_specs",
                                "_compile_specs", "_compile_config", "_multi", "loss"))

    def _attribute_metrics(self):
        """As Keras: the metrics the model holds in its attributes (private ones, lists and
        dicts too), then those of its layers, but not those of nested models, which belong to
        their own compile."""
        from fastkeras.layers.layer import add_held_metrics
        out = []
        add_held_metrics(self, out, skip=self._COMPILE_STATE)
        seen = {id(self)}

        def visit(layer):
            for sub in layer._tracked_layers:
                if id(sub) in seen or isinstance(sub, Model):
                    continue
                seen.add(id(sub))
                add_held_metrics(sub, out)
                visit(sub)
        visit(self)
        return out

    def _metric_leaves(self):
        """`metrics` with the compiled-metrics container opened: every metric object."""
        from fastkeras.models.compile_utils import CompileMetrics
        out = []
        for m in self.metrics:
            out.extend(m.metrics if isinstance(m, CompileMetrics) else [m])
        return out

    # --- one step --------------------------------------------------------------------------
    def _check_compiled(self, step_method=None):
        # A model whose own train_step/test_step computes the loss needs only an optimizer.
        if self.compiled and step_method is not None and _overrides(self, step_method):
            return
        if not self.compiled:  # (a ValueError, as Keras raises)
            raise ValueError("You must call `compile()` before using the model: training and "
                             "evaluating need a loss and an optimizer.")

    # Keras's public step API, for subclassed models that customize `fit`/`evaluate`: override
    # train_step(data) / test_step(data) with `fastkeras.GradientTape` (tf-style), and return a
    # dict of logs. `data` is (x,), (x, y) or (x, y, sample_weight).
    def train_step(self, data):
        x, y, sample_weight = _unpack(data)
        if self._metrics is None:
            self._resolve_metrics(y, self._peek_output(x))
        loss, y_pred = self._train_step(x, y, sample_weight)
        self._update_metrics(y, y_pred, sample_weight)
        return self._logs(self._track_loss(loss, x))

    def test_step(self, data):
        x, y, sample_weight = _unpack(data)
        if self._metrics is None:
            self._resolve_metrics(y, self._peek_output(x))
        loss, y_pred = self._test_step(x, y, sample_weight)
        self._update_metrics(y, y_pred, sample_weight)
        return self._logs(self._track_loss(loss, x))

    def _track_loss(self, loss, x):
        """Adds a batch's loss to the "loss" tracker (weighted by the batch size, as Keras);
        returns the running mean."""
        self._loss_tracker.update_state(loss, sample_weight=data_mod.num_samples(x))
        return float(self._loss_tracker.result())

    def _build_optimizer(self):
        """As Keras's fit, evaluate, train_on_batch and test_on_batch do once the model is
        built: its optimizer is built on all trainable variables, even when a custom
        `train_step` steps other optimizers, so summaries and files hold its state."""
        opt = self.optimizer
        if opt is not None and self.built and not getattr(opt, "built", True) \
                and hasattr(opt, "build"):
            opt.build(self.trainable_variables)

    def _loop_call(self, x, training):
        """The model on a batch as Keras's loops call it: with `training` only when its `call`
        takes the flag (otherwise its layers see none, or their own defaults)."""
        return self(x, training=training) if self._call_has_training else self(x)

    def predict_step(self, data):
        x, _, _ = _unpack(data)
        return self._loop_call(x, False)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of (y, y_pred) plus the regularization penalties, as a tensor."""
        return self._compute_loss(y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics with (y, y_pred); returns `get_metrics_result()`."""
        if self._metrics is None:
            self._resolve_metrics(y, metric_values(y_pred))
        self._update_metrics(y, metric_values(y_pred), sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        """Every metric's result by name (the compiled metrics' one by one), as Keras."""
        out = {}
        for m in self.metrics:
            result = m.result()
            if isinstance(result, dict):
                out.update({k: _log_value(v) for k, v in result.items()})
            else:
                out[m.name] = _log_value(result)
        return out

    def _compute_loss(self, y, y_pred, sample_weight):
        if self._loss_fn is None:
            # compiled without a loss: the losses the layers add (add_loss, regularizers) are
            # the loss, as in Keras
            added = self.losses
            if not added:
                raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
            loss = added[0]
            for penalty in added[1:]:
                loss = loss + penalty
            return loss
        if y is None:
            raise ValueError("The model was compiled with a loss, which needs targets, but it "
                             "received no `y` (fit/evaluate called with x alone, or "
                             "validation_data without y_val). Pass `y`, or compile without a "
                             "loss when the model adds its own (add_loss).")
        try:
            loss = self._loss_fn(y, y_pred, sample_weight=sample_weight)
        except ValueError as e:
            if self._multi is not None:
                raise
            out_name = self.layers[-1].name if getattr(self, "layers", None) else self.name
            raise ValueError(f"{e} (model output '{out_name}' with shape "
                             f"{(None,) + tuple(y_pred.shape[1:])})") from e
        if self._loss_weight != 1.0:
            loss = loss * self._loss_weight
        penalties = self._penalties_on
        if penalties is None:
            penalties = self._any_penalties()
        if penalties:
            for penalty in self.losses:
                loss = loss + penalty
        return loss

    def _any_penalties(self) -> bool:
        """Whether weight or activity regularizers, or losses layers add in their calls
        (`add_loss`), add to the loss."""
        return any(v.regularizer is not None for v in self.weights) or any(
            getattr(layer, "activity_regularizer", None) is not None
            or getattr(layer, "_uses_add_loss", False) for layer in self._all_layers())

    def _update_metrics(self, y, y_pred_value, sample_weight):
        if self._multi is not None:
            self._multi.update_metrics(y, y_pred_value, sample_weight)
            return
        for m in self._metrics:
            m.update_state(y, y_pred_value)
        for m in self._weighted_metrics:
            m.update_state(y, y_pred_value, sample_weight=sample_weight)

    def _step_loss(self, x, y, y_pred, sample_weight, training):
        """The step's loss: the compiled one, or a subclass's own `compute_loss` (called with
        `training` when it takes it, as Keras does for overrides written before Keras 3.3)."""
        if not _overrides(self, "compute_loss"):
            return self._compute_loss(y, y_pred, sample_weight)
        fn = self.compute_loss
        if _compute_loss_takes_training(type(self)):
            loss = fn(x, y, y_pred, sample_weight, training=training)
        else:
            loss = fn(x, y, y_pred, sample_weight)
        return loss if isinstance(loss, Tensor) else convert_to_tensor(loss)

    def _train_step(self, x, y, sample_weight, variables=None):
        with GradientTape():
            y_pred = self._loop_call(x, True)
            loss = self._step_loss(x, y, y_pred, sample_weight, training=True)
            # as Keras: the gradients are those of the scaled loss (loss_scale_factor, a
            # LossScaleOptimizer's dynamic scale), which the optimizer divides out again
            scaled = self.optimizer.scale_loss(loss)
        if np.ndim(loss.value):
            raise ValueError(f"The loss to train on must be a scalar; it has shape "
                             f"{tuple(np.shape(loss.value))} (a loss with reduction='none' "
                             "gives one value per sample). Use a reducing `reduction` "
                             "such as 'sum_over_batch_size' for training.")
        if variables is None:
            variables = self.trainable_weights
        if not variables:  # as Keras: the step computes the loss and updates nothing
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
            return float(loss.value), metric_values(y_pred)
        grads = gradients(scaled, variables, reuse_buffers=True,
                          in_place_updates=self.optimizer._in_place_scales(variables))
        # also applies variable constraints, as Keras
        self.optimizer._apply_from_training_loop(grads, variables)
        return float(loss.value), metric_values(y_pred)

    def _test_step(self, x, y, sample_weight):
        with no_grad():
            y_pred = self._loop_call(x, False)
            loss = self._step_loss(x, y, y_pred, sample_weight, training=False)
        # as Keras's "loss" tracker: a loss of one value per sample (reduction='none') is
        # logged as their mean
        value = loss.value if not np.ndim(loss.value) else np.mean(loss.value, dtype=np.float32)
        return float(value), metric_values(y_pred)

    # --- loops -----------------------------------------------------------------------------
    def _make_callbacks(self, callbacks, verbose, epochs, steps, add_history):
        cbs = flat_callbacks(callbacks)
        history = None
        if add_history:
            history = next((c for c in cbs if isinstance(c, History)), None)
            if history is None:
                history = History()
                cbs.append(history)
        if self._verbose(verbose) and not any(isinstance(c, ProgbarLogger) for c in cbs):
            cbs.append(ProgbarLogger())  # last, as Keras: it prints what the others logged
        cl = CallbackList(cbs, model=self, verbose=verbose, epochs=epochs, steps=steps)
        return cl, history

    @staticmethod
    def _verbose(verbose):
        """`verbose` as a number (Keras's "auto" is 1); raises on anything else."""
        if verbose == "auto":
            return 1
        if verbose not in (0, 1, 2, True, False):
            raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
        return int(verbose)

    def _logs(self, loss_mean, prefix=""):
        logs = {"loss": loss_mean}
        for m in self._metric_leaves():
            if m is not self._loss_tracker:
                logs[m.name] = _log_value(m.result())
        return {prefix + k: v for k, v in sorted(logs.items())}

    def _loop_logs(self, loss_sum, seen):
        """The logs of a fit/evaluate loop so far: the size-weighted mean loss, which is also
        what the "loss" tracker holds (set here rather than updated every batch)."""
        self._loss_tracker.total.assign(loss_sum)
        self._loss_tracker.count.assign(seen)
        return self._logs(float(np.float32(loss_sum) / np.float32(seen)))

    def reset_metrics(self):
        """Resets the state of every metric the model tracks (Keras's `reset_metrics`)."""
        for m in self.metrics:
            m.reset_state()

    def _reset_metrics(self):
        self.reset_metrics()  # the loops call it, so an override of reset_metrics is honoured

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        self._check_compiled("train_step")
        self._verbose(verbose)  # checked here; the callbacks' params keep it as given
        if steps_per_epoch is not None and not isinstance(steps_per_epoch, bool) and \
                isinstance(steps_per_epoch, (int, np.integer)) and steps_per_epoch < 0:
            raise ValueError("`steps_per_epoch` must be a positive integer (None or 0: the "
                             f"whole data). Received: steps_per_epoch={steps_per_epoch}")
        # as Keras: 0 means no limit (the whole data each epoch), like None
        epochs, steps_per_epoch = _debug_caps(epochs, steps_per_epoch or None)
        if py_dataset.is_batch_source(x):  # a PyDataset or a generator hands out batches
            if validation_split:
                raise ValueError("`validation_split` is only supported for Tensors or NumPy "
                                 f"arrays. Found: x={type(x).__name__}")
            source = _source(x, y, sample_weight, class_weight, shuffle)
            if (self._metrics is None or not self.built) and hasattr(source, "peek"):
                # As Keras: the first fit after compile reads one batch to set up the loss and
                # metrics, from an epoch of its own (a shuffled PyDataset draws that order too)
                source.peek()
            source.reset()  # as Keras's epoch iterator: one on_epoch_end before epoch 1
            return self._fit_loop(
                source, epochs, verbose,
                callbacks, validation_data, initial_epoch, steps_per_epoch, validation_steps,
                validation_batch_size or batch_size, validation_freq)
        x, y = data_mod.to_arrays(x), data_mod.to_arrays(y)
        sample_weight = data_mod.to_arrays(sample_weight)
        if x is None:
            raise ValueError("`fit` needs training data: pass `x` (and `y`).")
        if validation_data is None and validation_split:
            (x, y, sample_weight), (vx, vy, vsw) = data_mod.train_validation_split(
                (x, y, sample_weight), validation_split)
            validation_data = (vx, vy, vsw)
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError(data_mod.CLASS_AND_SAMPLE_WEIGHT)
            sample_weight = data_mod.class_weight_to_sample_weight(y, class_weight)
        batches = data_mod.BatchIterator(x, y, sample_weight, 32 if batch_size is None else batch_size,
                                         shuffle=bool(shuffle),
                                         rng=fk_random.generator())
        _refuse_empty(batches, "fit")
        return self._fit_loop(batches, epochs, verbose, callbacks, validation_data,
                              initial_epoch, steps_per_epoch, validation_steps,
                              validation_batch_size or batch_size, validation_freq)

    def _fit_loop(self, batches, epochs, verbose, callbacks, validation_data, initial_epoch,
                  steps_per_epoch, validation_steps, validation_batch_size, validation_freq):
        """The epochs of `fit` over `batches` (a BatchIterator over arrays, or the batches of a
        PyDataset or generator, whose `steps` may be None: as many as it gives)."""
        if validation_data is not None and not py_dataset.is_batch_source(validation_data):
            # As Keras unpacks it: (x,), (x, y) or (x, y, sample_weight); anything else is x.
            if not isinstance(validation_data, (tuple, list)):
                validation_data = (validation_data,)
            if len(validation_data) not in (1, 2, 3):
                raise ValueError("`validation_data` should be x_val, (x_val,), (x_val, y_val) "
                                 "or (x_val, y_val, val_sample_weight). Received: "
                                 f"{type(validation_data).__name__} of length "
                                 f"{len(validation_data)}")
            validation_data = tuple(validation_data) + (None,) * (3 - len(validation_data))
        steps = batches.steps if steps_per_epoch is None else \
            steps_per_epoch if batches.steps is None else min(batches.steps, steps_per_epoch)
        source = not isinstance(batches, data_mod.BatchIterator)
        # (a History passed in keeps what earlier fits recorded, as Keras's does)
        cbs, history = self._make_callbacks(callbacks, verbose, epochs, steps, True)
        # Per-batch logs cost a metric evaluation per step: build them only for callbacks that
        # look at them (a live progress bar, custom callbacks).
        batch_logs_wanted = any(
            getattr(cb, "wants_batch_logs",
                    overrides(cb, "on_train_batch_end") or overrides(cb, "on_batch_end"))
            for cb in cbs.callbacks)
        self.stop_training = False
        self._in_fit = True
        self._build_from_first_batch(batches, _overrides(self, "train_step"))
        self._build_optimizer()
        cbs.on_train_begin()
        # A callback restoring an interrupted run (BackupAndRestore) sets where to resume.
        initial_epoch = getattr(self, "_initial_epoch", None) or initial_epoch
        self._initial_epoch = None
        training_logs = {}
        custom = _overrides(self, "train_step")
        stepper = None if steps_per_epoch is None else _StepsPerEpoch(batches, steps_per_epoch)
        val_source = None  # a PyDataset or generator given as validation_data, read as Keras
        try:
            for epoch in range(initial_epoch, epochs):
                self._reset_metrics()
                cbs.on_epoch_begin(epoch)
                loss_sum, seen = 0.0, 0
                variables = self.trainable_weights if self.built else None
                self._penalties_on = self._any_penalties() if self.built else None
                chain = None if custom else DenseChain.plan(self, variables)
                epoch_batches = (stepper.epoch() if stepper is not None else batches
                                 if steps is None else itertools.islice(batches, steps))
                custom_logs = {}
                group = self.steps_per_execution  # batch callbacks run once per group
                open_group = None
                for step, (bx, by, bsw) in enumerate(epoch_batches):
                    if step % group == 0:
                        cbs.on_train_batch_begin(step)
                        open_group = step
                    closes = (step + 1) % group == 0
                    if custom:  # the model's own train_step: its returned dict is the logs
                        custom_logs = _custom_logs(self.train_step(_pack(bx, by, bsw)))
                        seen += 1
                        if closes:
                            cbs.on_train_batch_end(step, custom_logs)
                            open_group = None
                            if self.stop_training:
                                break
                        continue
                    if self._metrics is None:
                        self._resolve_metrics(by, self._peek_output(bx))
                    out = None if chain is None else chain.train_step(bx, by, bsw)
                    if out is None:
                        out = self._train_step(bx, by, bsw, variables)
                    loss, y_pred = out
                    if variables is None:
                        variables = self.trainable_weights
                        self._penalties_on = self._any_penalties()
                        chain = DenseChain.plan(self, variables)
                    n = len(bx) if isinstance(bx, np.ndarray) else data_mod.num_samples(bx)
                    loss_sum = _add_batch_loss(loss_sum, loss, n)
                    seen += n
                    self._update_metrics(by, y_pred, bsw)
                    if not closes:
                        continue
                    batch_logs = self._loop_logs(loss_sum, seen) if batch_logs_wanted else None
                    cbs.on_train_batch_end(step, batch_logs)
                    open_group = None
                    if self.stop_training:
                        break
                if open_group is not None:  # a last, shorter group (Keras numbers it whole)
                    cbs.on_train_batch_end(
                        open_group + group - 1, custom_logs if custom else
                        self._loop_logs(loss_sum, seen) if batch_logs_wanted else None)
                if source:
                    batches.end_epoch()
                    if not seen:
                        warnings.warn(py_dataset.RAN_OUT_OF_DATA, stacklevel=2)
                        break
                logs = custom_logs if custom else self._loop_logs(loss_sum, seen) if seen else {}
                epoch_logs = dict(logs)
                if validation_data is not None and _should_validate(epoch, validation_freq):
                    if py_dataset.is_batch_source(validation_data):
                        if val_source is None:  # as Keras: one source for the whole fit
                            val_source = _source(validation_data, None, None, None, False)
                        vx, vy, vsw = val_source, None, None
                    else:
                        vx, vy, vsw = validation_data
                    val = self.evaluate(vx, vy, batch_size=validation_batch_size or 32,
                                        sample_weight=vsw, verbose=0, return_dict=True,
                                        steps=validation_steps, _callbacks=cbs)
                    epoch_logs.update({"val_" + k: v for k, v in val.items()})
                self._build_optimizer()
                cbs.on_epoch_end(epoch, epoch_logs)
                training_logs = epoch_logs
                if self.stop_training:
                    break
        finally:
            self._in_fit = False
            self._penalties_on = None
        if epochs > 0 and self.optimizer is not None:
            # With use_ema, the moving averages become the weights (Keras does this too).
            self.optimizer.finalize_variable_values(self.trainable_weights)
        cbs.on_train_end(training_logs)
        history.params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        return history

    def _build_from_first_batch(self, batches, custom):
        """As Keras's fit and evaluate do before their callbacks' `on_*_begin`: an unbuilt model
        is built, and the compiled loss and metrics set up, from the first batch's shapes, so
        callbacks starting the run see the model's weights. (Batches that cannot be read
        outside an epoch, a PyDataset not peeked at, leave this to the first step.)"""
        if self.built and (custom or self._metrics is not None):
            return
        first = batches.first_batch()
        if first is None:
            return
        bx, by, _ = first
        if custom or self._metrics is not None:
            try:
                self._peek_output(bx)
            except NotImplementedError:
                # A model with its own train/test step and no `call` (keras.io's VAE): Keras
                # cannot build it either; its step runs the sub-models it holds.
                pass
        else:
            self._resolve_metrics(by, self._peek_output(bx))

    def _peek_output(self, bx):
        """The model's output for a batch, to set up the metrics; the state the call changes
        (counters, metric totals in layers) is restored, so training sees it unchanged."""
        from fastkeras.layers.input_layer import undo_state_changes
        with no_grad(), undo_state_changes(self):
            return self._loop_call(bx, False)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, _callbacks=None, **kwargs):
        self._check_compiled("test_step")
        custom = _overrides(self, "test_step")
        self._verbose(verbose)  # checked here; the callbacks' params keep it as given
        if _callbacks is None:  # (validation inside fit keeps fit's caps)
            steps = _debug_caps(None, steps)[1]
        if py_dataset.is_batch_source(x):
            batches = _source(x, y, sample_weight, None, False)
            if (self._metrics is None or not self.built) and hasattr(batches, "peek"):
                batches.peek()  # as fit: one batch read ahead to build the model and metrics
            batches.reset()
        else:
            x, y = data_mod.to_arrays(x), data_mod.to_arrays(y)
            sample_weight = data_mod.to_arrays(sample_weight)
            batches = data_mod.BatchIterator(x, y, sample_weight, batch_size or 32)
            _refuse_empty(batches, "evaluate")
        n_steps = batches.steps if steps is None else \
            steps if batches.steps is None else min(steps, batches.steps)
        if _callbacks is not None:
            cbs = _callbacks
        else:
            cbs, _ = self._make_callbacks(callbacks, verbose, 1, n_steps, False)
        # Evaluation keeps its own metric state: fit's running training metrics are saved.
        tracked = self._metrics is not None or custom
        leaves = self._metric_leaves()
        saved = [m.__dict__.copy() for m in leaves] if tracked else None
        if tracked:
            self._reset_metrics()
        self.stop_evaluating = False
        # Per-batch logs only for callbacks that read them (a live bar, custom callbacks).
        batch_logs_wanted = any(
            cb.wants_batch_logs if isinstance(cb, ProgbarLogger)
            else overrides(cb, "on_test_batch_end") for cb in cbs.callbacks)
        self._build_from_first_batch(batches, custom)
        cbs.on_test_begin()
        loss_sum, seen, logs = 0.0, 0, {}
        chain = None if custom else DenseChain.plan(self, None, training=False)
        custom_logs = {}
        ran = 0
        for step, (bx, by, bsw) in enumerate(
                batches if n_steps is None else itertools.islice(batches, n_steps)):
            ran = step + 1
            cbs.on_test_batch_begin(step)
            if custom:  # the model's own test_step: its returned dict is the logs
                custom_logs = _custom_logs(self.test_step(_pack(bx, by, bsw)))
                seen += 1
                cbs.on_test_batch_end(step, custom_logs)
                if self.stop_evaluating:
                    break
                continue
            if self._metrics is None:
                self._resolve_metrics(by, self._peek_output(bx))
            out = None if chain is None else chain.test_step(bx, by, bsw)
            loss, y_pred = self._test_step(bx, by, bsw) if out is None else out
            n = data_mod.num_samples(bx)
            loss_sum = _add_batch_loss(loss_sum, loss, n)
            seen += n
            self._update_metrics(by, y_pred, bsw)
            logs = self._loop_logs(loss_sum, seen) if batch_logs_wanted else None
            cbs.on_test_batch_end(step, logs)
            if self.stop_evaluating:
                break
        _warn_if_short(steps, ran, self.stop_evaluating)
        if not isinstance(batches, data_mod.BatchIterator):
            batches.end_epoch()
        logs = custom_logs if custom else self._loop_logs(loss_sum, seen) if seen else {}
        self._build_optimizer()
        cbs.on_test_end(logs)
        if saved is not None and _callbacks is not None:
            for m, state in zip(leaves, saved):
                m.__dict__.update(state)
        if return_dict:
            return logs
        if custom:
            values = list(logs.values())
            return values[0] if len(values) == 1 else values
        return self._logs_as_list(logs)

    def _logs_as_list(self, logs):
        if self._multi is not None:
            values = [logs[k] for k in self._multi.ordered_names(logs)]
        else:
            # Keras's order: the metrics' names in `metrics` order, then any other logs sorted.
            names = [m.name for m in self._metric_leaves()]
            values = [logs[n] for n in names if n in logs]
            values += [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values  # a lone loss as a number, as Keras

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        self._verbose(verbose)  # checked here; the callbacks' params keep it as given
        steps = _debug_caps(None, steps)[1]
        source = py_dataset.is_batch_source(x)
        if not source:
            x = data_mod.to_arrays(x)
        custom = _overrides(self, "predict_step")
        chain = None if custom else DenseChain.plan(self, None, training=False,
                                                    with_loss=False)
        if (not custom and not verbose and not callbacks and steps is None
                and isinstance(x, np.ndarray)
                and 0 < len(x) <= (batch_size or 32)):
            # One batch, nobody watching: skip the batching and callback machinery.
            out = None if chain is None else chain.predict_step(x)
            if out is not None:
                return out
            with no_grad():
                out = self._loop_call(x, False)
            return _output_values(out, copy=True)
        batches = _source(x, None, None, None, False) if source else \
            data_mod.BatchIterator(x, None, None, batch_size or 32)
        n_steps = batches.steps if steps is None else \
            steps if batches.steps is None else min(steps, batches.steps)
        cbs, _ = self._make_callbacks(callbacks, verbose, 1, n_steps, False)
        self.stop_predicting = False
        cbs.on_predict_begin()
        outputs, ran = [], 0
        with no_grad():
            for step, (bx, _, _) in enumerate(
                    batches if n_steps is None else itertools.islice(batches, n_steps)):
                ran = step + 1
                cbs.on_predict_batch_begin(step)
                out = None if chain is None else chain.predict_step(bx)
                if out is None:
                    out = self.predict_step(_pack(bx, None, None)) if custom else \
                        self._loop_call(bx, False)
                    out = _output_values(out)
                outputs.append(out)
                cbs.on_predict_batch_end(step, {"outputs": outputs[-1]})
                if self.stop_predicting:
                    break
        _warn_if_short(steps, ran, self.stop_predicting)
        if source:
            batches.end_epoch()
        cbs.on_predict_end()
        if not outputs:
            raise ValueError("Unexpected result of `predict`: no batches were processed "
                             "(the input is empty).")
        return _concatenated(outputs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        self._check_compiled("train_step")
        x, y = data_mod.to_arrays(x), data_mod.to_arrays(y)
        sample_weight = data_mod.to_arrays(sample_weight)
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("Arguments `sample_weight` and `class_weight` cannot be "
                                 f"specified at the same time. Received: sample_weight="
                                 f"{sample_weight}, class_weight={class_weight}")
            sample_weight = data_mod.class_weight_to_sample_weight(y, class_weight)
        if _overrides(self, "train_step"):  # the model's own step, as fit runs it
            self._reset_metrics()
            return self._custom_batch_result(self.train_step(_pack(x, y, sample_weight)),
                                             return_dict)
        if self._metrics is None:
            self._resolve_metrics(y, self._peek_output(x))
        self._reset_metrics()
        loss, y_pred = self._train_step(x, y, sample_weight)
        self._update_metrics(y, y_pred, sample_weight)
        return self._single_batch_result(self._track_loss(loss, x), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._check_compiled("test_step")
        x, y = data_mod.to_arrays(x), data_mod.to_arrays(y)
        sample_weight = data_mod.to_arrays(sample_weight)
        if _overrides(self, "test_step"):
            self._reset_metrics()
            return self._custom_batch_result(self.test_step(_pack(x, y, sample_weight)),
                                             return_dict)
        if self._metrics is None:
            self._resolve_metrics(y, self._peek_output(x))
        self._reset_metrics()
        loss, y_pred = self._test_step(x, y, sample_weight)
        self._update_metrics(y, y_pred, sample_weight)
        return self._single_batch_result(self._track_loss(loss, x), return_dict)

    def _custom_batch_result(self, logs, return_dict):
        self._build_optimizer()
        logs = _custom_logs(logs)
        return logs if return_dict else self._logs_as_list(logs)

    def _single_batch_result(self, loss, return_dict):
        self._build_optimizer()
        logs = self._logs(loss)
        if return_dict:
            return logs
        return self._logs_as_list(logs)

    def predict_on_batch(self, x):
        with no_grad():
            out = self._loop_call(data_mod.to_arrays(x), False)
        return _output_values(out, copy=True)

    # --- inspection --------------------------------------------------------------------------
    @property
    def layers(self):
        """A subclassed model's layers: those held as attributes, in lists or in dicts."""
        return list(self._tracked_layers)

    def get_layer(self, name=None, index=None):
        """A layer by `name` or by `index` (position in `model.layers`)."""
        layers = getattr(self, "layers", None)
        if layers is None:
            layers = [l for l in self._tracked_layers]
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        if index is not None:
            # as Keras: any integer type; a negative index past the start is list indexing's
            # IndexError, a non-integer its TypeError
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[l.name for l in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def _summary_layers(self):
        return list(getattr(self, "layers", []))

    def _summary_connections(self):
        """{id(layer): its inputs' names} for the "Connected to" column; None when the model
        is laid out as a sequence (Sequential and subclassed models)."""
        return

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints Keras's table of the layers (name and type, output shape, parameters; the
        inputs of each layer for graph models that are not a plain chain), then the parameter
        counts. `line_length`, `positions` (the columns' right edges as fractions of the
        width), `expand_nested` (the layers of nested models too), `show_trainable` (a
        Trainable column) and `layer_range` (two regular expressions matching the first and
        last layer shown) as in Keras; `print_fn` receives the text instead of stdout."""
        from fastkeras.models.summary import format_summary
        from fastkeras.utils import io_utils
        # (an unbuilt model is listed as Keras lists it: "?" shapes, "0 (unbuilt)" params)
        opt_params = 0
        if self.optimizer is not None and getattr(self.optimizer, "built", False):
            opt_params = int(sum(int(np.prod(v.shape)) for v in self.optimizer.variables))
        text = format_summary(self, self._summary_layers(), self._summary_connections(),
                              line_length=line_length, positions=positions,
                              expand_nested=expand_nested, show_trainable=show_trainable,
                              layer_range=layer_range, optimizer_params=opt_params)
        if print_fn is None:
            io_utils.print_msg(text)
        else:
            print_fn(text + "\n")  # Keras hands over the text with its final newline

    def get_compile_config(self):
        """The compile arguments as Keras serializes them (optimizer config, loss and metric
        names or configs), or None before `compile`."""
        from fastkeras.saving.model_files import compile_spec
        return compile_spec(self)

    # --- files -----------------------------------------------------------------------------------
    def to_json(self, **kwargs):
        """The model's architecture as Keras's JSON (`keras.models.model_from_json` reads it);
        `kwargs` go to `json.dumps`."""
        from fastkeras.models.cloning import model_to_json
        return model_to_json(self, **kwargs)

    def __reduce_ex__(self, protocol):
        # As Keras: a built model pickles as its .keras file, an unbuilt one as its objects.
        if not self.built:
            return super().__reduce_ex__(protocol)
        from fastkeras.saving import pickling
        return (pickling.model_from_bytes, (pickling.model_to_bytes(self),))

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves architecture, weights and compile configuration: `.keras` (Keras 3's zip) or
        `.h5` (legacy HDF5). The write is atomic."""
        from fastkeras.saving import model_files
        include_optimizer = kwargs.pop("include_optimizer", True)
        save_format = kwargs.pop("save_format", None)
        if save_format:  # Keras 3: deprecated, taken from the path's extension
            if str(filepath).endswith((".h5", ".hdf5", ".keras")):
                warnings.warn("The `save_format` argument is deprecated in Keras 3. We "
                              "recommend removing this argument as it can be inferred from "
                              f"the file path. Received: save_format={save_format}",
                              stacklevel=2)
            else:
                raise ValueError("The `save_format` argument is deprecated in Keras 3. Please "
                                 "remove this argument and pass a file path with either "
                                 f"`.keras` or `.h5` extension.Received: save_format="
                                 f"{save_format}")
        if kwargs:
            raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
        model_files.save_model(self, filepath, overwrite=overwrite,
                               include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        from fastkeras.saving import weights_h5
        weights_h5.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        from fastkeras.saving import weights_h5
        weights_h5.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)


def _first_batch(data):
    """The batch a train/test/predict function was handed: `[batch]` as Keras's iterators
    give it, or the batch itself."""
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], (tuple, list)):
        return data[0]
    return data


def _nested_by_path(variables):
    out = {}
    seen = set()
    for v in variables:
        if v.path in seen:
            raise ValueError(f"The following variable path is found twice in the model: "
                             f"'{v.path}'. `get_state_tree()` can only be called when all "
                             "variable paths are unique: give your layers unique names.")
        seen.add(v.path)
        parts = v.path.split("/")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = v.value
    return out


def _flatten_paths(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_flatten_paths(value, path))
        else:
            out[path] = value
    return out


def _warn_if_short(steps, ran, stopped):
    """Keras's warning when the data ends before the `steps` asked of evaluate or predict."""
    if steps is not None and ran < steps and not stopped:
        warnings.warn(py_dataset.RAN_OUT_OF_DATA, stacklevel=3)


class _StepsPerEpoch:
    """Epochs of `steps_per_epoch` batches as Keras runs them: one pass over the data spans
    epochs (an epoch takes the next batches where the last one stopped) and an epoch that
    reaches the end of the data stops there, with a warning; the next starts a new pass."""

    def __init__(self, batches, steps):
        self.batches, self.steps = batches, steps
        self.total = batches.steps  # None: a generator, as long as it lasts
        self.iterator, self.seen = None, 0

    def epoch(self):
        if self.iterator is None:
            self.iterator, self.seen = iter(self.batches), 0
        for _ in range(self.steps):
            if self.total and self.seen >= self.total:
                warnings.warn(py_dataset.RAN_OUT_OF_DATA, stacklevel=3)
                break
            try:
                batch = next(self.iterator)
            except StopIteration:
                self.iterator = None  # the next epoch starts a new pass
                break
            self.seen += 1
            yield batch
        if self.total and self.seen >= self.total:
            self.iterator = None


_TAKES_TRAINING: dict = {}


def _compute_loss_takes_training(cls) -> bool:
    """Whether `cls.compute_loss` has Keras 3.3's `training` argument (cached per class, as
    it is asked every step)."""
    if cls not in _TAKES_TRAINING:
        _TAKES_TRAINING[cls] = "training" in inspect.signature(cls.compute_loss).parameters
    return _TAKES_TRAINING[cls]


def _add_batch_loss(total, loss, n):
    """The running total of batch losses weighted by batch size, in float32 as Keras's loss
    tracker (a Mean metric) sums it, so the logged mean has Keras's rounding."""
    return np.float32(np.float32(total) + np.float32(np.float32(loss) * np.float32(n)))


def _overrides(model, name):
    return getattr(type(model), name) is not getattr(Model, name)


def _pack(x, y, sample_weight):
    """A step's data as Keras packs it: x alone (a list/tuple of inputs as (x,)) without
    targets, else (x, y) or (x, y, sample_weight)."""
    if y is None and sample_weight is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def _unpack(data):
    """(x, y, sample_weight) of a step's data: x, (x,), (x, y) or (x, y, sample_weight)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    return tuple(data) + (None,) * (3 - len(data))


def _debug_caps(epochs, steps):
    """Epochs and steps capped by keras.config.set_max_epochs/set_max_steps_per_epoch."""
    from fastkeras import config
    cap = config.max_epochs()
    if epochs is not None and cap and cap < epochs:
        warnings.warn(f"Limiting epochs to {cap}", stacklevel=3)
        epochs = cap
    cap = config.max_steps_per_epoch()
    if cap and (not steps or cap < steps):
        warnings.warn(f"Limiting steps_per_epoch to {cap}", stacklevel=3)
        steps = cap
    return epochs, steps


def _should_validate(epoch, validation_freq) -> bool:
    """Keras's rule: every `validation_freq` epochs, or at the (1-based) epochs it lists."""
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    if isinstance(validation_freq, list):
        return epoch + 1 in validation_freq
    raise ValueError("Expected `validation_freq` to be a list or int. Received: "
                     f"validation_freq={validation_freq} of the type {type(validation_freq)}.")


def _custom_logs(logs):
    """A custom step's returned logs as floats (or arrays), Keras's way of logging them."""
    if not isinstance(logs, dict):
        raise TypeError("A custom `train_step`/`test_step` must return a dict of logs "
                        f"(name -> value). Received: {type(logs).__name__}")
    out = {}
    for k, v in sorted(logs.items()):  # as Keras: sorted, nested dicts flattened in place
        if isinstance(v, dict):  # a metric returning several values, or compile_metrics
            out.update(_custom_logs(v))
        else:
            out[k] = _log_value(v)
    return out


def _log_value(result):
    """A metric's result as logs hold it: a float, or (a metric with one value per class or
    threshold, such as F1Score(average=None)) a numpy array, as Keras logs it."""
    value = np.asarray(result.value if isinstance(result, Tensor) else result)
    return float(value) if value.ndim == 0 else value.astype(np.float32)


def _source(x, y, sample_weight, class_weight, shuffle):
    """The numpy batches of a PyDataset or generator `x`."""
    return py_dataset.batch_source(x, y, sample_weight, class_weight, shuffle,
                                   fk_random.generator(), data_mod.to_arrays,
                                   data_mod.class_weight_to_sample_weight)
