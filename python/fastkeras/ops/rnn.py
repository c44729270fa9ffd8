"""The recurrent op: a whole SimpleRNN/LSTM/GRU layer over all timesteps as one C++ call
forward and one backward, plus the small ops the sequence layers use (gather, flip)."""

from __future__ import annotations

import math
import weakref

import numpy as np

from fastkeras import _core
from fastkeras.backend.tape import (
    Tensor,
    convert_to_tensor,
    make_op,
    weight_gradient_buffer,
)

__all__ = ["RnnWorkspace", "embedding_lookup", "flip_time", "rnn"]

GATES = {"simple": 1, "lstm": 4, "gru": 3, "gru_reset_after": 3}


class RnnWorkspace:
    """The buffers one recurrent layer needs for every timestep (gates, saved states, gate
    gradients), kept across batches. Each is a flat array that only grows, so a smaller last
    batch reuses it too. While a recorded forward pass still waits for its backward (its graph
    is alive), a second forward gets fresh arrays instead of overwriting them."""

    def __init__(self):
        self._flat = {}
        self._holder = None

    def _view(self, key, shape):
        n = math.prod(shape)  # (np.prod on a tuple costs microseconds a call)
        buf = self._flat.get(key)
        if buf is None or buf.size < n:
            buf = np.empty(max(n, 1), np.float32)
            self._flat[key] = buf
        return buf[:n].reshape(shape)

    def forward_buffers(self, shapes: dict) -> tuple[dict, bool]:
        """Arrays for a forward pass and whether they are the shared (reused) ones."""
        holder = self._holder() if self._holder is not None else None
        if holder is not None:
            return {k: np.empty(s, np.float32) for k, s in shapes.items()}, False
        return {k: self._view(k, s) for k, s in shapes.items()}, True

    def hold(self, tensor: Tensor) -> None:
        """The shared forward buffers belong to `tensor`'s graph until it is freed."""
        self._holder = weakref.ref(tensor)

    def scratch(self, key, shape) -> np.ndarray:
        """A buffer used only inside one kernel call (the backward's gate gradients)."""
        return self._view("scratch_" + key, shape)


class _Parts:
    """The gradient reaching a multi-output op: one array per output, summed per output when
    several consumers send gradients."""

    __slots__ = ("parts",)

    def __init__(self, parts: dict):
        self.parts = parts

    def __add__(self, other):
        out = dict(self.parts)
        for k, v in other.parts.items():
            out[k] = v if k not in out else out[k] + v
        return _Parts(out)

    __radd__ = __add__


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _part(joint, key, value):
    return make_op(value, (joint,), lambda g, needs: (_Parts({key: g}),))


def rnn(x, cell, kernel, recurrent_kernel, bias=None, initial_state=(), mask=None,
        input_mask=None, recurrent_mask=None, activation="tanh", recurrent_activation="sigmoid",
        go_backwards=False, zero_output_for_mask=False, return_sequences=True,
        workspace: RnnWorkspace | None = None):
    """Runs a recurrent layer over x (batch, steps, features).

    cell: "simple", "lstm", "gru" or "gru_reset_after" (whose bias is (2, 3*units): input and
    recurrent biases). initial_state: () or [h] (or [h, c] for LSTM). mask: (batch, steps)
    booleans, masked steps keep the state. input_mask: (batch, G*features), one multiplier
    per gate on the input entering that gate (per-gate input dropout; a mask shared by the
    gates is cheaper applied to x). recurrent_mask: (batch, G*units), one multiplier per gate
    on the state entering that gate's recurrent product (recurrent dropout).

    Returns (outputs, last_output, h, c): outputs is (batch, steps, units) in processing order
    (None unless return_sequences), last_output the output of the final step, h/c the final
    states (c None unless LSTM).
    """
    x = convert_to_tensor(x)
    xv = _f32(x.value)
    if xv.ndim != 3:
        raise ValueError(f"rnn: expected a 3-D input (batch, timesteps, features), received "
                         f"shape {xv.shape}")
    B, T, I = xv.shape
    U = recurrent_kernel.shape[0]
    G = GATES[cell]
    w, r = _f32(kernel.value), _f32(recurrent_kernel.value)
    bv = rbv = None
    if bias is not None:
        bfull = _f32(bias.value)
        if cell == "gru_reset_after":
            bv, rbv = bfull[0], bfull[1]
        else:
            bv = bfull
    states = [convert_to_tensor(s) for s in (initial_state or ())]
    h0v = _f32(states[0].value) if len(states) > 0 else None
    c0v = _f32(states[1].value) if len(states) > 1 and cell == "lstm" else None
    maskv = None
    if mask is not None:
        m = mask.value if isinstance(mask, Tensor) else mask
        maskv = _f32(np.asarray(m).reshape(B, T) != 0)
    rmv = None if recurrent_mask is None else _f32(recurrent_mask)
    imv = None if input_mask is None else _f32(input_mask)

    ws = workspace if workspace is not None else RnnWorkspace()
    shapes = {"gates": (B, T, G * U), "xh": (B, T, I + U + 1), "state": (B, T, U)}
    bufs, shared = ws.forward_buffers(shapes)
    # Without return_sequences only the last output is written.
    common = dict(cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                  x=xv, w=w, r=r, b=bv, rb=rbv, h0=h0v, c0=c0v, mask=maskv, in_mask=imv,
                  rec_mask=rmv,
                  reverse=bool(go_backwards), zero_masked_outputs=bool(zero_output_for_mask),
                  gates=bufs["gates"], xh=bufs["xh"], state=bufs["state"])

    def forward():
        """Runs the layer, filling the workspace; returns (y, y_last, h_last, c_last)."""
        y = np.empty((B, T, U), np.float32) if return_sequences else None
        y_last = None if return_sequences else np.zeros((B, U), np.float32)
        h_last = np.empty((B, U), np.float32)
        c_last = np.empty((B, U), np.float32) if cell == "lstm" else None
        _core.rnn_forward(y=y, y_last=y_last, h_last=h_last, c_last=c_last, **common)
        return y, y_last, h_last, c_last

    y, y_last, h_last, c_last = forward()

    parents = (x, kernel, recurrent_kernel, bias,
               states[0] if len(states) > 0 else None,
               states[1] if len(states) > 1 else None)

    # SimpleRNN/LSTM gate gradients are written over the gates (one large array instead of two);
    # a second backward pass over this graph first runs the forward again to restore them.
    in_place = cell in ("simple", "lstm")
    gates_spent = False

    def backward(g, needs):
        nonlocal gates_spent
        parts = g.parts
        if gates_spent:
            forward()  # the same values again; only the workspace is wanted
        dx = np.empty_like(xv) if needs[0] else None
        dw = weight_gradient_buffer(kernel) if needs[1] else None
        dr = weight_gradient_buffer(recurrent_kernel) if needs[2] else None
        db = drb = dbias = None
        if bias is not None and needs[3]:
            dbias = weight_gradient_buffer(bias)
            db, drb = (dbias[0], dbias[1]) if cell == "gru_reset_after" else (dbias, None)
        dh0 = np.empty((B, U), np.float32) if needs[4] else None
        dc0 = np.empty((B, U), np.float32) if needs[5] and cell == "lstm" else None
        dgates = common["gates"] if in_place else ws.scratch("dgates", (B, T, G * U))
        gates_spent = in_place
        dgates_rec = ws.scratch("dgates_rec", (B, T, G * U)) if cell == "gru_reset_after" \
            else None

        def opt(key):
            v = parts.get(key)
            return None if v is None else _f32(v)

        _core.rnn_backward(dy=opt("y"), dy_last=opt("y_last"), dh_last=opt("h"),
                           dc_last=opt("c"), dx=dx, dw=dw, dr=dr, db=db, drb=drb, dh0=dh0,
                           dc0=dc0, dgates=dgates, dgates_rec=dgates_rec, **common)
        if needs[5] and cell != "lstm":
            dc0 = np.zeros((B, U), np.float32)
        return dx, dw, dr, dbias, dh0, dc0

    joint = make_op(np.zeros((), np.float32), parents, backward)
    if shared and joint._backward is not None:
        ws.hold(joint)
    outputs = _part(joint, "y", y) if return_sequences else None
    if y_last is None:
        y_last = np.ascontiguousarray(y[:, -1]) if T else np.zeros((B, U), np.float32)
    last = _part(joint, "y_last", y_last)
    h = _part(joint, "h", h_last)
    c = _part(joint, "c", c_last) if c_last is not None else None
    return outputs, last, h, c


# The rows each embedding table's reused gradient buffer holds from the last backward pass:
# the next pass clears only those rows instead of the whole table.
# id(table variable) -> (weak reference to it, its gradient buffer, the rows last written).
# (Keyed by identity: tensors compare element by element, so they cannot be weak-dict keys.)
_rows_written: dict = {}


def _sum_rows_by_id(ids: np.ndarray, grads: np.ndarray):
    """(unique ids, the sum of the gradient rows of each): a stable sort groups equal ids, so
    every row's contributions add up in their original order, as a sequential scatter would."""
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    return sorted_ids[starts], np.add.reduceat(grads[order], starts, axis=0)


def embedding_lookup(embeddings, indices: np.ndarray):
    """embeddings[indices] with a gradient that scatters back into the table's rows.

    The gradient is the table-shaped buffer the variable reuses across training steps; a step
    costs O(ids * dim + rows touched), not O(table): only the rows written by the previous
    step are cleared before this step's per-id sums are written."""
    table = embeddings.value
    flat = indices.reshape(-1)
    out = table[flat].reshape(indices.shape + (table.shape[1],))

    def backward(g, needs):
        grad = weight_gradient_buffer(embeddings)
        entry = _rows_written.get(id(embeddings))
        last = entry[1:] if entry is not None and entry[0]() is embeddings else None
        if last is not None and last[0] is grad:
            grad[last[1]] = 0.0
        else:  # a fresh array (or one this op has not written before)
            grad.fill(0.0)
        rows = np.zeros(0, np.int64)
        if flat.size:
            rows, sums = _sum_rows_by_id(flat, np.asarray(g, np.float32).reshape(-1, table.shape[1]))
            grad[rows] = sums
        key = id(embeddings)
        _rows_written[key] = (weakref.ref(embeddings, lambda _, k=key: _rows_written.pop(k, None)),
                              grad, rows)
        return (grad,)

    return make_op(out, (embeddings,), backward)


def flip_time(x):
    """x reversed along axis 1 (the time axis), as a new contiguous array."""
    x = convert_to_tensor(x)
    out = np.ascontiguousarray(x.value[:, ::-1])
    return make_op(out, (x,), lambda g, needs: (np.ascontiguousarray(g[:, ::-1]),))
