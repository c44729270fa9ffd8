"""A training step without the tape for models that are a chain of Flatten and Dense layers.

The general step (Model._train_step) runs the layers, records every op on the tape, walks it
backwards and hands the gradients to the optimizer. For the commonest Keras model, a Sequential
MLP, that bookkeeping costs about as much Python time per batch as the kernels spend on the
math. `DenseChain` makes the same kernel calls, in the same order and with the same arguments,
straight from the layers' weights: the forward GEMMs (bias and relu fused), any other
activation through its own op (whose recorded backward then gives its gradient), the loss's own
prepared evaluation with the reduction's coefficients, one `dense_backward` per layer (stepping
plain SGD in place exactly as the tape does), then the optimizer's training-loop update. The
results are bit-for-bit those of the general step (tests/test_dense_chain.py compares them).

Anything the chain does not cover (other layers, regularizers, constraints, frozen layers,
sample weights, masks, several outputs, an activation made of several ops, a loss that is not
differentiated with respect to the last layer's output or logits, ...) is refused and the
general step runs instead.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from fastkeras import _core
from fastkeras import activations as activations_mod
from fastkeras import losses as losses_mod
from fastkeras.backend.tape import GradientTape, Tensor, no_grad
from fastkeras.ops.nn import dense_backward_step

_F32 = np.dtype(np.float32)

# Set to False to send every step through the general path (tests compare the two).
enabled = True


class _DenseStage:
    __slots__ = ("act", "bias", "kernel", "relu")

    def __init__(self, layer):
        self.kernel = layer.kernel
        self.bias = layer.bias if layer.use_bias else None
        self.relu = layer.activation is activations_mod.relu  # fused into the GEMM
        linear = self.relu or layer.activation is activations_mod.linear
        self.act = None if linear else layer.activation


class _Pass:
    """One forward pass: each layer's input and GEMM output, its activation op, the tensors the
    loss may differentiate (the last GEMM output `source`, the model output `y_pred`)."""

    __slots__ = ("activated", "inputs", "outputs", "source", "y_pred")


class DenseChain:
    """One model's tape-free step; build it with `DenseChain.plan(model, variables)`."""

    def __init__(self, model, stages, variables, features, flatten_first):
        self.model = model
        self.stages = stages
        self.variables = variables
        self.features = features            # inputs of the first Dense layer
        self.flatten_first = flatten_first  # a Flatten comes before the first Dense layer
        self.usable = True                  # cleared if an activation or the loss does not fit
        self._grads = None

    # --- which models --------------------------------------------------------------------
    @classmethod
    def plan(cls, model, variables, training=True, with_loss=True):
        """The chain for `model` training `variables` (training=False: evaluating it; and
        with_loss=False: only predicting), or None when the general step is needed."""
        from fastkeras.layers.core import Dense, Flatten
        from fastkeras.models.sequential import Sequential

        if not enabled or type(model) is not Sequential or not model.built:
            return None
        if with_loss:
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

    def _forward(self, x, record):
        """The layers on x; with record, each activation op keeps its backward. None when an
        activation is not one op on the GEMM output (the general step handles those)."""
        f = _Pass()
        f.inputs, f.outputs, f.activated = [], [], []
        h = x
        for s in self.stages:
            w = s.kernel.value
            out = np.empty((h.shape[0], w.shape[1]), dtype=np.float32)
            _core.gemm(h, w, out, False, False, 1.0, 0.0,
                       None if s.bias is None else s.bias.value, "relu" if s.relu else None)
            f.inputs.append(h)
            f.outputs.append(out)
            z = Tensor(out, requires_grad=record)
            a = z
            if s.act is not None:
                with GradientTape() if record else no_grad():
                    a = s.act(z)
                if not isinstance(a, Tensor) or (record and (
                        a._backward is None or len(a._parents) != 1 or a._parents[0] is not z)) \
                        or a.value.dtype != _F32 or not a.value.flags.c_contiguous:
                    self.usable = False
                    return None
            f.activated.append(a)
            f.source = z
            h = a.value
        f.y_pred = f.activated[-1]
        return f

    def _loss(self, y, f, want_grad):
        """(loss, d loss / d source, which source), or None to use the general path. The
        gradient is taken with respect to the last GEMM output (the logits a softmax/sigmoid
        output carries, or a linear/relu output) or the model output after its activation."""
        fn = self.model._loss_fn
        y_pred = f.y_pred
        if y is None or type(y) is not np.ndarray or y_pred._keras_mask is not None:
            return None
        try:
            prep = fn._prepare(y, y_pred)
        except (ValueError, TypeError):
            return None  # the general path raises the error with the model's context
        if prep.source is not f.source and prep.source is not y_pred or prep.mask is not None:
            self.usable = False
            return None
        plan = losses_mod._plan(prep.shape, None, None, fn.reduction)
        if not plan.reduces:
            self.usable = False
            return None
        values, grad = prep.run(plan.coef if want_grad else None)
        return float(plan.apply(values)), grad, prep.source

    def _forward_and_loss(self, x, y, sample_weight, training):
        """(forward pass, (loss, d loss / d source, source)) for one batch, or None when the
        general step is needed; training records the activations' backward and the gradient."""
        if sample_weight is not None or not self.usable:
            return None
        xv = self._inputs(x)
        if xv is None:
            return None
        f = self._forward(xv, training)
        if f is None:
            return None
        result = self._loss(y, f, training)
        return None if result is None else (f, result)

    def train_step(self, x, y, sample_weight):
        """(loss, y_pred values) after one update, or None: nothing was changed, use the
        general step."""
        step = self._forward_and_loss(x, y, sample_weight, True)
        if step is None:
            return None
        f, (loss, g, wrt) = step
        optimizer = self.model.optimizer
        scaled = optimizer.scale_loss(g)  # the scaled loss's gradient (see Model._train_step)
        if scaled is not g:
            g = np.ascontiguousarray(getattr(scaled, "value", scaled), dtype=np.float32)
        variables = self.variables
        scales = optimizer._in_place_scales(variables)
        step_grads = [None] * len(variables)
        slot = len(variables)
        last = len(self.stages) - 1
        for i in range(last, -1, -1):
            s = self.stages[i]
            a = f.activated[i]
            # Through the activation op to the GEMM output, unless the loss already gave the
            # gradient there (the logits behind a softmax/sigmoid output).
            if s.act is not None and (i < last or wrt is a):
                g = a._backward(g, (True,))[0]
            w = s.kernel.value
            b = None if s.bias is None else s.bias.value
            n = 1 if b is None else 2
            slot -= n
            dx, dw, db = dense_backward_step(
                f.inputs[i], w, b, f.outputs[i], g, s.relu, i > 0,
                None if scales is None else scales.get(id(s.kernel)),
                None if scales is None or b is None else scales.get(id(s.bias)),
                functools.partial(self._grad_buffers, slot, n))
            step_grads[slot:slot + n] = (dw, db)[:n]
            g = dx
        optimizer._apply_from_training_loop(step_grads, variables)
        return loss, f.y_pred.value

    def _grad_buffers(self, slot, n):
        """The (kernel, bias or None) gradient arrays of the layer whose variables start at
        `slot`: made once, on the first step that is not a plain in-place SGD step."""
        if self._grads is None:
            self._grads = [np.empty_like(v.value) for v in self.variables]
        return self._grads[slot], self._grads[slot + 1] if n == 2 else None

    def test_step(self, x, y, sample_weight):
        """(loss, y_pred values) without training, or None to use the general step."""
        step = self._forward_and_loss(x, y, sample_weight, False)
        if step is None:
            return None
        f, (loss, _, _) = step
        return loss, f.y_pred.value

    def predict_step(self, x):
        """The model's output values for x, or None to use the general forward."""
        xv = self._inputs(x)
        if xv is None or not self.usable:
            return None
        f = self._forward(xv, False)
        return None if f is None else f.y_pred.value
