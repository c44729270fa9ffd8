"""A training step without the tape for models that are a chain of Flatten and Dense layers.

The general step (Model._train_step) runs the layers, records every op on the tape, walks it
backwards and hands the gradients to the optimizer. For the commonest Keras model, a Sequential
MLP, that bookkeeping costs about as much Python time per batch as the kernels spend on the
math. `DenseChain` makes the same kernel calls, in the same order and with the same arguments,
straight from the layers' weights: the forward GEMMs (bias and relu fused), the loss's own
prepared evaluation with the reduction's coefficients, one `dense_backward` per layer (stepping
plain SGD in place exactly as the tape does), then the optimizer's training-loop update. The
results are bit-for-bit those of the general step (tests/test_dense_chain.py compares them).

Anything the chain does not cover (other layers, regularizers, constraints, frozen layers,
sample weights, masks, several outputs, a loss that does not differentiate with respect to the
last Dense layer's output, ...) is refused up front and the general step runs instead.
"""

from __future__ import annotations

import math

import numpy as np

from fastkeras import _core
from fastkeras import activations as activations_mod
from fastkeras import losses as losses_mod
from fastkeras.backend.tape import UPDATED_IN_PLACE, Tensor, no_grad

_F32 = np.dtype(np.float32)

# Set to False to send every step through the general path (tests compare the two).
enabled = True


class _DenseStage:
    __slots__ = ("layer", "kernel", "bias", "relu")

    def __init__(self, layer):
        self.layer = layer
        self.kernel = layer.kernel
        self.bias = layer.bias if layer.use_bias else None
        self.relu = layer.activation is activations_mod.relu


class DenseChain:
    """One model's tape-free step; build it with `DenseChain.plan(model, variables)`."""

    def __init__(self, model, stages, variables, features, flatten_first):
        self.model = model
        self.stages = stages
        self.variables = variables
        self.features = features            # inputs of the first Dense layer
        self.flatten_first = flatten_first  # a Flatten comes before the first Dense layer
        last = stages[-1].layer.activation
        self.head = None if last in (activations_mod.linear, activations_mod.relu) else last
        self.usable = True                  # cleared if the loss turns out not to fit
        self._grads = None

    # --- which models --------------------------------------------------------------------
    @classmethod
    def plan(cls, model, variables, training=True):
        """The chain for `model` training `variables` (with training=False: evaluating it),
        or None when the general step is needed."""
        from fastkeras.layers.core import Dense, Flatten
        from fastkeras.models.sequential import Sequential

        if not enabled or type(model) is not Sequential or not model.built:
            return None
        if model._multi is not None or model._loss_weight != 1.0:
            return None
        loss_fn = model._loss_fn
        if not isinstance(loss_fn, losses_mod.Loss) or \
                type(loss_fn).__call__ is not losses_mod.Loss.__call__:
            return None
        if model._any_penalties():
            return None
        stages, flatten_first, seen_dense = [], False, False
        for layer in model.layers:
            kind = type(layer)
            if kind is Flatten and layer.data_format == "channels_last":
                flatten_first = flatten_first or not seen_dense
                continue
            if kind is not Dense or not layer.built or (training and not layer.trainable):
                return None
            if getattr(layer, "dtype", "float32") not in ("float32", None):
                return None
            if layer.activity_regularizer is not None:
                return None
            stage = _DenseStage(layer)
            for v in (stage.kernel, stage.bias):
                if v is not None and (getattr(v, "constraint", None) is not None
                                      or v.value.dtype != _F32 or not v.value.flags.c_contiguous):
                    return None
            stages.append(stage)
            seen_dense = True
        if not stages:
            return None
        # a softmax/sigmoid/... output only on the last layer; relu anywhere (fused)
        for s in stages[:-1]:
            if s.layer.activation not in (activations_mod.relu, activations_mod.linear):
                return None
        expected = [v for s in stages for v in (s.kernel, s.bias) if v is not None]
        if training and (variables is None or len(variables) != len(expected) or any(
                a is not b for a, b in zip(variables, expected))):
            return None
        return cls(model, stages, variables, stages[0].kernel.value.shape[0], flatten_first)

    # --- the step ------------------------------------------------------------------------
    def _inputs(self, x):
        """x as the first Dense layer's (batch, features) float32 input, or None."""
        if type(x) is not np.ndarray or x.ndim < 2 or not x.flags.c_contiguous:
            return None
        if x.ndim > 2:
            if not self.flatten_first:
                return None
            x = x.reshape(x.shape[0], math.prod(x.shape[1:]))
        if x.shape[1] != self.features or x.shape[0] == 0:
            return None
        if x.dtype != _F32:
            if x.dtype.kind not in "biuf":
                return None
            x = x.astype(np.float32)
        return x

    def _forward(self, x):
        acts = [x]
        h = x
        for s in self.stages:
            w = s.kernel.value
            out = np.empty((h.shape[0], w.shape[1]), dtype=np.float32)
            _core.gemm(h, w, out, False, False, 1.0, 0.0,
                       None if s.bias is None else s.bias.value, "relu" if s.relu else None)
            acts.append(out)
            h = out
        source = Tensor(h)
        if self.head is None:
            return acts, source, source
        with no_grad():
            y_pred = self.head(source)
        return acts, source, y_pred

    def _loss(self, y, y_pred, source, want_grad):
        """(loss, d loss / d last Dense output or None), or None to use the general path."""
        fn = self.model._loss_fn
        if y is None or type(y) is not np.ndarray or not isinstance(y_pred, Tensor) \
                or y_pred._keras_mask is not None:
            return None
        try:
            prep = fn._prepare(y, y_pred)
        except (ValueError, TypeError):
            return None  # the general path raises the error with the model's context
        if prep.source is not source or prep.mask is not None:
            self.usable = False
            return None
        plan = losses_mod._plan(prep.shape, None, None, fn.reduction)
        if not plan.reduces:
            self.usable = False
            return None
        values, grad = prep.run(plan.coef if want_grad else None)
        return float(plan.apply(values)), grad

    def train_step(self, x, y, sample_weight):
        """(loss, y_pred values) after one update, or None: nothing was changed, use the
        general step."""
        if sample_weight is not None or not self.usable:
            return None
        xv = self._inputs(x)
        if xv is None:
            return None
        acts, source, y_pred = self._forward(xv)
        result = self._loss(y, y_pred, source, True)
        if result is None:
            return None
        loss, g = result
        g = np.ascontiguousarray(g, dtype=np.float32)  # as the Dense op's backward takes it
        optimizer = self.model.optimizer
        variables = self.variables
        scales = optimizer._in_place_scales(variables)
        grads = self._grads
        step_grads = [None] * len(variables)
        slot = len(variables)
        for i in range(len(self.stages) - 1, -1, -1):
            s = self.stages[i]
            x_in, y_out = acts[i], acts[i + 1]
            w = s.kernel.value
            b = None if s.bias is None else s.bias.value
            slot -= 1 if b is None else 2
            dx = np.empty_like(x_in) if i > 0 else None
            alpha = None if scales is None else scales.get(id(s.kernel))
            if alpha is not None and (b is None or scales.get(id(s.bias)) == alpha):
                # plain SGD: the kernel and bias step in place as their gradient is computed
                _core.dense_backward(x_in, w, y_out, g, s.relu, dx, w, b, 1.0, alpha)
                marks = [UPDATED_IN_PLACE] * (1 if b is None else 2)
            else:
                if grads is None:
                    grads = self._grads = [np.empty_like(v.value) for v in variables]
                marks = grads[slot:slot + (1 if b is None else 2)]
                _core.dense_backward(x_in, w, y_out, g, s.relu, dx, marks[0],
                                     None if b is None else marks[1])
            step_grads[slot:slot + len(marks)] = marks
            g = dx
        optimizer._apply_from_training_loop(step_grads, variables)
        return loss, y_pred.value

    def test_step(self, x, y, sample_weight):
        """(loss, y_pred values) without training, or None to use the general step."""
        if sample_weight is not None or not self.usable:
            return None
        xv = self._inputs(x)
        if xv is None:
            return None
        _, source, y_pred = self._forward(xv)
        result = self._loss(y, y_pred, source, False)
        if result is None:
            return None
        return result[0], y_pred.value
