"""The losses and metrics of a model with several outputs, as `compile` describes them.

`compile(loss=..., loss_weights=..., metrics=...)` takes one value for every output, a list in
output order or a dict keyed by output name. `OutputLosses` resolves those against the model's
outputs on the first batch (when the output names and shapes are known), computes the weighted
total loss of a step and keeps Keras's per-output logs: `<output>_loss` (unweighted, averaged
over the epoch) and `<output>_<metric>`.
"""

from __future__ import annotations

import numpy as np

from fastkeras.backend.tape import Tensor


def flatten_outputs(structure):
    """The leaves of a model's output structure, in output order (dicts in insertion order)."""
    if isinstance(structure, dict):
        return [v for k in structure for v in flatten_outputs(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [v for item in structure for v in flatten_outputs(item)]
    return [structure]


def structure_values(structure):
    """Tensor values (numpy) for every leaf of an output structure, keeping its shape."""
    if isinstance(structure, Tensor):
        return structure.value
    if isinstance(structure, dict):
        return {k: structure_values(v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [structure_values(v) for v in structure]
    return structure


class MaskedValues(np.ndarray):
    """An output's values (a view, no copy) that keep the Keras mask the output carried, so the
    metrics updated after the step skip masked entries as Keras's do. Arrays computed from it
    do not inherit the mask."""

    _keras_mask = None


def metric_values(structure):
    """Like `structure_values`, but an output carrying a mask gives a `MaskedValues` view."""
    if isinstance(structure, Tensor):
        mask = structure._keras_mask
        if mask is None:
            return structure.value
        view = structure.value.view(MaskedValues)
        view._keras_mask = np.asarray(getattr(mask, "value", mask))
        return view
    if isinstance(structure, dict):
        return {k: metric_values(v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [metric_values(v) for v in structure]
    return structure


class LossMean:
    """Running mean of one output's (unweighted) loss, weighted by batch size."""

    def __init__(self, name):
        self.name = name
        self.total = 0.0
        self.count = 0

    def update(self, value, n):
        self.total += value * n
        self.count += n

    def result(self):
        return self.total / self.count if self.count else 0.0

    def reset_state(self):
        self.total = 0.0
        self.count = 0


def _is_single_spec(spec):
    return not isinstance(spec, (list, tuple, dict))


def _unique(key, used):
    """`key`, or `key_1`, `key_2`... when taken (Keras's rule for colliding metric names)."""
    out, k = key, 0
    while out in used:
        k += 1
        out = f"{key}_{k}"
    used.add(out)
    return out


def keras_metric_names(plain, weighted):
    """The log names Keras's CompileMetrics gives the compiled metrics, from their (output-
    prefixed) names: `plain` names in order, a repeat getting `_1`, `_2`...; then each weighted
    metric as `(name, weighted_name)`: its name when still free, else its `weighted_` name
    (numbered the same way when repeated). Returns (plain names, weighted names)."""
    counters = {}

    def unique(name):
        if name not in counters:
            counters[name] = 1
            return name
        index = counters[name]
        counters[name] += 1
        return f"{name}_{index}"

    out_plain = [unique(name) for name in plain]
    out_weighted = []
    for name, weighted_name in weighted:
        if name not in counters:
            counters[name] = 1
            out_weighted.append(name)
        else:
            out_weighted.append(unique(weighted_name))
    return out_plain, out_weighted


def set_metric_names(metrics, weighted_metrics, prefixes=None):
    """Names the compiled metrics as Keras logs them (see `keras_metric_names`), from each
    metric's own name before compile (`_compile_base_name`, kept so naming again is stable).
    `prefixes[i]` is the output-name prefix of metric i (plain then weighted), or ''."""
    both = list(metrics) + list(weighted_metrics)
    if prefixes is None:
        prefixes = [""] * len(both)
    bases = [m.__dict__.setdefault("_compile_base_name", m.name) for m in both]
    n = len(metrics)
    plain = [p + b for p, b in zip(prefixes[:n], bases[:n])]
    weighted = [(p + b, f"{p}weighted_{b}") for p, b in zip(prefixes[n:], bases[n:])]
    names_p, names_w = keras_metric_names(plain, weighted)
    seen = set()
    for m, name in zip(both, names_p + names_w):
        if id(m) not in seen:  # an object listed twice keeps its first name
            seen.add(id(m))
            m.name = name


class OutputLosses:
    """Callable as a model loss: `(y, y_pred, sample_weight) -> total loss Tensor`."""

    def __init__(self, loss, loss_weights, metrics, weighted_metrics):
        self.loss_spec = loss
        self.loss_weights_spec = loss_weights
        self.metrics_spec = metrics
        self.weighted_metrics_spec = weighted_metrics
        # A subclassed model's outputs have no names: Keras then logs each output's loss by
        # the loss's name ('mse_loss') and its metrics unprefixed ('mae', then 'mae_1').
        self.name_by_loss = False
        self.built = False

    # --- resolving the compile arguments against the outputs ------------------------------
    def _per_output(self, spec, what, names, single_ok=True):
        """One entry per output from a value, a list in output order or a dict by name."""
        n = len(names)
        if isinstance(spec, dict):
            unknown = [k for k in spec if k not in names]
            if unknown:
                raise ValueError(f"Unknown output name(s) {unknown} in `{what}`: the model's "
                                 f"outputs are {names}. Received: {what}={spec!r}")
            return [spec.get(name) for name in names]
        if isinstance(spec, (list, tuple)):
            if len(spec) != n:
                raise ValueError(f"`{what}` should have one entry per model output ({n}: "
                                 f"{names}), or be a dict keyed by output name. Received "
                                 f"{len(spec)} entries: {what}={spec!r}")
            return list(spec)
        if not single_ok:
            raise ValueError(f"`{what}` for a model with {n} outputs {names} should be a list "
                             f"(one entry per output) or a dict keyed by output name. "
                             f"Received: {what}={spec!r}")
        return [spec] * n

    def build(self, names, y, y_pred):
        from fastkeras import losses as losses_mod
        from fastkeras import metrics as metrics_mod
        self.names = list(names)
        n = len(self.names)
        if isinstance(self.loss_spec, dict) and not isinstance(y_pred, dict) and \
                set(self.loss_spec) != set(self.names):
            # As Keras: for outputs in a list, a loss dict names every output.
            raise ValueError(f"Expected keys {self.names} in loss dict, but found "
                             f"loss.keys()={list(self.loss_spec)}")
        self.losses = []
        for spec in self._per_output(self.loss_spec, "loss", self.names):
            fn = losses_mod.get(spec) if spec is not None else None
            if fn is not None and not isinstance(fn, losses_mod.Loss):
                fn = losses_mod.LossFunctionWrapper(fn, name=getattr(fn, "__name__", None))
            self.losses.append(fn)
        if all(fn is None for fn in self.losses):
            raise ValueError(f"`loss` gives no loss for any of the model's outputs {self.names}. "
                             f"Received: loss={self.loss_spec!r}")
        weights = self.loss_weights_spec
        if weights is None:
            self.weights = [1.0] * n
        else:
            self.weights = [1.0 if w is None else float(w)
                            for w in self._per_output(weights, "loss_weights", self.names)]
        # Per-output losses are logged when more than one output has a loss (as Keras).
        several = sum(fn is not None for fn in self.losses) > 1
        loss_specs = self._per_output(self.loss_spec, "loss", self.names)
        used = {"loss"}
        self.loss_trackers = []
        for name, fn, spec in zip(self.names, self.losses, loss_specs):
            if fn is None or not several:
                self.loss_trackers.append(None)
                continue
            if self.name_by_loss:
                label = spec if isinstance(spec, str) else getattr(fn, "name", None) or name
                key = _unique(f"{label}_loss", used)
            else:
                key = f"{name}_loss"
            self.loss_trackers.append(LossMean(key))
        ys = self.split_targets(y)
        preds = flatten_outputs(y_pred)

        def resolve(spec, what):
            out = []  # (output index, metric)
            if spec is None:
                return out
            per_output = self._per_output(spec, what, self.names, single_ok=False)
            for i, entry in enumerate(per_output):
                entries = [] if entry is None else (
                    [entry] if _is_single_spec(entry) else list(entry))
                for s in entries:
                    m = metrics_mod.get_compile_metric(s, np.shape(ys[i]),
                                                       tuple(preds[i].shape))
                    if m is not None:
                        out.append((i, m))
            return out

        self.metrics = resolve(self.metrics_spec, "metrics")
        self.weighted_metrics = resolve(self.weighted_metrics_spec, "weighted_metrics")
        # Names are made from each metric's own name: a metric object compiled again (a
        # recompile that keeps the metrics) is not prefixed twice.
        pairs = self.metrics + self.weighted_metrics
        prefixes = ["" if self.name_by_loss else f"{self.names[i]}_" for i, _ in pairs]
        set_metric_names([m for _, m in self.metrics], [m for _, m in self.weighted_metrics],
                         prefixes)
        if self.name_by_loss:
            for _, m in pairs:  # nor clash with a per-output loss's name
                if m.name in used:
                    m.name = _unique(m.name, used)
        self.built = True

    @property
    def ordered_loss_trackers(self):
        """The per-output loss trackers in Keras's order: that of the `loss` dict's keys when
        the losses were given as a dict, else the outputs' order."""
        pairs = [(name, t) for name, t in zip(self.names, self.loss_trackers) if t is not None]
        if isinstance(self.loss_spec, dict):
            order = {key: i for i, key in enumerate(self.loss_spec)}
            pairs.sort(key=lambda pair: order.get(pair[0], len(order)))
        return [t for _, t in pairs]

    @property
    def all_metrics(self):
        """Loss trackers then the metrics: what the model logs besides `loss`."""
        return (self.ordered_loss_trackers + [m for _, m in self.metrics]
                + [m for _, m in self.weighted_metrics])

    # --- per step ----------------------------------------------------------------------------
    def split_targets(self, y):
        """y as a list in output order, from a list/tuple or a dict keyed by output name."""
        n = len(self.names)
        if n == 1 and not isinstance(y, (list, tuple, dict)):
            return [y]
        if isinstance(y, dict):
            missing = [name for name, fn in zip(self.names, self.losses)
                       if fn is not None and name not in y]
            if missing:
                raise ValueError(f"Missing target(s) for output(s) {missing}: `y` is a dict with "
                                 f"keys {sorted(y)}; the model's outputs are {self.names}.")
            return [y.get(name) for name in self.names]
        if isinstance(y, (list, tuple)):
            if len(y) != n:
                matched = self._targets_of_lossy_outputs(list(y))
                if matched is not None:
                    return matched
                raise ValueError(f"The model has {n} outputs {self.names}, but `y` holds "
                                 f"{len(y)} arrays. Pass one target per output (a list in "
                                 "output order, or a dict keyed by output name).")
            return list(y)
        if y is None:
            raise ValueError(f"The model has {n} outputs {self.names}: `y` is required.")
        matched = self._targets_of_lossy_outputs([y])
        if matched is not None:
            return matched
        raise ValueError(f"The model has {n} outputs {self.names}, but `y` is a single array "
                         f"of shape {np.shape(y)}. Pass one target per output (a list in "
                         "output order, or a dict keyed by output name).")

    def _targets_of_lossy_outputs(self, flat):
        """As Keras, when the loss leaves some outputs out (`loss=[fn, None]`): targets for
        just the outputs that have a loss, in order (None for the others); None when their
        number differs."""
        lossy = [i for i, fn in enumerate(getattr(self, "losses", ())) if fn is not None]
        if not lossy or len(flat) != len(lossy):
            return None
        out = [None] * len(self.names)
        for i, target in zip(lossy, flat):
            out[i] = target
        return out

    def _split_weights(self, sample_weight):
        if sample_weight is None or not isinstance(sample_weight, (list, tuple, dict)):
            return [sample_weight] * len(self.names)
        if isinstance(sample_weight, dict):
            return [sample_weight.get(name) for name in self.names]
        return self._per_output(sample_weight, "sample_weight", self.names)

    def __call__(self, y, y_pred, sample_weight=None):
        ys = self.split_targets(y)
        preds = flatten_outputs(y_pred)
        weights = self._split_weights(sample_weight)
        n = preds[0].shape[0]
        total = None
        for i, fn in enumerate(self.losses):
            if fn is None:
                continue
            try:
                value = fn(ys[i], preds[i], sample_weight=weights[i])
            except ValueError as e:
                raise ValueError(f"{e} (model output '{self.names[i]}' with shape "
                                 f"{(None,) + tuple(preds[i].shape[1:])})") from e
            if self.loss_trackers[i] is not None:
                self.loss_trackers[i].update(float(value.value), n)
            if self.weights[i] != 1.0:
                value = value * self.weights[i]
            total = value if total is None else total + value
        return total

    def update_metrics(self, y, y_pred_values, sample_weight):
        ys = self.split_targets(y)
        preds = flatten_outputs(y_pred_values)
        for i, m in self.metrics:
            m.update_state(ys[i], preds[i])
        if self.weighted_metrics:
            weights = self._split_weights(sample_weight)
            for i, m in self.weighted_metrics:
                m.update_state(ys[i], preds[i], sample_weight=weights[i])

    def ordered_names(self, log_keys):
        """Keras's order for `evaluate`'s list: loss, per-output losses, then the rest sorted."""
        head = ["loss"] + [t.name for t in self.ordered_loss_trackers]
        return head + sorted(k for k in log_keys if k not in head)


class CompileMetrics:
    """The metrics given to `compile` as one entry of `model.metrics`, named
    "compile_metrics" as in Keras 3: `metrics` are the metric objects they resolved to (after
    the first batch, when the shapes are known), `result()` the dict of their results,
    `update_state(y, y_pred, sample_weight)` updates them all."""

    name = "compile_metrics"

    def __init__(self, model):
        self._model = model

    @property
    def metrics(self) -> list:
        return self._model._compiled_metric_list()

    @property
    def built(self) -> bool:
        return self._model._metrics is not None

    @property
    def variables(self) -> list:
        return [v for m in self.metrics for v in getattr(m, "variables", [])]

    def update_state(self, y_true, y_pred, sample_weight=None):
        model = self._model
        values = metric_values(y_pred)
        if model._metrics is None:
            model._resolve_metrics(y_true, values)
        model._update_metrics(y_true, values, sample_weight)

    def result(self) -> dict:
        return {m.name: m.result() for m in self.metrics}

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()

    def __repr__(self):
        return f"<CompileMetrics name={self.name}, metrics={[m.name for m in self.metrics]}>"
