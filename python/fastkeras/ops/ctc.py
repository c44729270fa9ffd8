"""Connectionist Temporal Classification (CTC) loss.

The negative log-likelihood of each label sequence under a per-frame class distribution, summed
over every alignment that collapses to it (repeats merged, blanks removed). The forward (alpha)
and backward (beta) variables are computed in log space with numpy, all samples of the batch at
once; the gradient with respect to the logits is the softmax minus the expected per-class
occupancy of the alignment states.
"""

from __future__ import annotations

import numpy as np

from fastkeras.backend.tape import Tensor, convert_to_tensor, grad_enabled, make_op

__all__ = ["ctc_loss"]

_NEG_INF = -np.inf


def _int_array(x, name):
    arr = np.asarray(x.value if isinstance(x, Tensor) else x)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"ctc_loss: `{name}` must hold integers. Received: {name}={arr!r}")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"ctc_loss: `{name}` must hold integers. Received: {name} of dtype "
                        f"{arr.dtype}")
    return arr.astype(np.int64)


def _log_softmax(x):
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _lse3(a, b, c):
    return np.logaddexp(np.logaddexp(a, b), c)


def _shift(x, k):
    """x moved k states to the right (k > 0) or left (k < 0) along the last axis, padded with
    -inf."""
    out = np.full_like(x, _NEG_INF)
    if k > 0:
        out[..., k:] = x[..., :-k]
    else:
        out[..., :k] = x[..., -k:]
    return out


def _check(target, logits, target_length, output_length, mask_index):
    if target.ndim != 2:
        raise ValueError("ctc_loss: `target` must have shape (batch_size, max_label_length). "
                         f"Received: target.shape={tuple(target.shape)}")
    if logits.ndim != 3:
        raise ValueError("ctc_loss: `output` must have shape (batch_size, max_time, "
                         f"num_classes). Received: output.shape={tuple(logits.shape)}")
    batch, time, classes = logits.shape
    if target.shape[0] != batch:
        raise ValueError("ctc_loss: `target` and `output` must have the same batch size. "
                         f"Received: target.shape={tuple(target.shape)}, "
                         f"output.shape={tuple(logits.shape)}")
    for name, arr in (("target_length", target_length), ("output_length", output_length)):
        if arr.shape != (batch,):
            raise ValueError(f"ctc_loss: `{name}` must have shape (batch_size,) = ({batch},). "
                             f"Received: {name}.shape={tuple(arr.shape)}")
    if isinstance(mask_index, bool) or not isinstance(mask_index, (int, np.integer)) \
            or not 0 <= mask_index < classes:
        raise ValueError(f"ctc_loss: `mask_index` must be an integer in [0, {classes}) "
                         f"(num_classes = {classes}). Received: mask_index={mask_index!r}")
    if np.any(target_length < 0) or np.any(target_length > target.shape[1]):
        raise ValueError(f"ctc_loss: every `target_length` must be in [0, {target.shape[1]}] "
                         f"(the padded label length). Received: target_length={target_length}")
    if np.any(output_length < 0) or np.any(output_length > time):
        raise ValueError(f"ctc_loss: every `output_length` must be in [0, {time}] (the number "
                         f"of frames). Received: output_length={output_length}")
    valid = np.arange(target.shape[1])[None, :] < target_length[:, None]
    bad = valid & ((target < 0) | (target >= classes))
    if np.any(bad):
        raise ValueError(f"ctc_loss: labels in `target` must be in [0, {classes}) "
                         f"(num_classes = {classes}). Received: target={target}")


def _ctc_forward_backward(logits, target, target_length, output_length, blank, want_grad):
    """Per-sample losses (float64) and, when asked, d(loss)/d(logits) per sample."""
    batch, time, _ = logits.shape
    max_label = target.shape[1]
    states = 2 * max_label + 1
    logp = _log_softmax(logits)

    # Extended label sequence: blank, l1, blank, l2, ..., blank.
    ext = np.full((batch, states), blank, dtype=np.int64)
    ext[:, 1::2] = np.where(np.arange(max_label)[None, :] < target_length[:, None], target, blank)
    n_states = 2 * target_length + 1
    live = np.arange(states)[None, :] < n_states[:, None]
    # A label state may be entered from two states back when that holds a different label.
    skip = np.zeros((batch, states), dtype=bool)
    skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]
    skip_in = np.where(skip, 0.0, _NEG_INF)

    emit = np.take_along_axis(logp, np.broadcast_to(ext[:, None, :], (batch, time, states)),
                              axis=2)
    emit = np.where(live[:, None, :], emit, _NEG_INF)

    alpha = np.full((batch, time, states), _NEG_INF)
    if time:
        alpha[:, 0, 0] = emit[:, 0, 0]
        if states > 1:
            alpha[:, 0, 1] = emit[:, 0, 1]
    for t in range(1, time):
        prev = alpha[:, t - 1]
        alpha[:, t] = _lse3(prev, _shift(prev, 1), _shift(prev, 2) + skip_in) + emit[:, t]

    rows = np.arange(batch)
    last_t = np.maximum(output_length - 1, 0)
    at_end = alpha[rows, last_t] if time else np.full((batch, states), _NEG_INF)
    final = at_end[rows, n_states - 1]
    before = np.where(target_length > 0, at_end[rows, np.maximum(n_states - 2, 0)], _NEG_INF)
    log_z = np.logaddexp(final, before)
    # No frames: only the empty label sequence is possible (with probability one).
    log_z = np.where(output_length == 0, np.where(target_length == 0, 0.0, _NEG_INF), log_z)
    loss = -log_z
    if not want_grad:
        return loss, None

    # beta[t, s]: log-probability of emitting frames t.. of the sample from state s at t
    # (including frame t's emission) and ending in one of the two final states.
    end_states = np.full((batch, states), _NEG_INF)
    end_states[rows, n_states - 1] = 0.0
    has_label = target_length > 0
    end_states[rows[has_label], n_states[has_label] - 2] = 0.0
    skip_out = _shift(skip_in, -2)  # leaving s for s + 2
    beta = np.full((batch, time, states), _NEG_INF)
    nxt = np.full((batch, states), _NEG_INF)
    for t in range(time - 1, -1, -1):
        rec = _lse3(nxt, _shift(nxt, -1), _shift(nxt, -2) + skip_out)
        start = (t == output_length - 1)[:, None]
        rec = np.where(start, end_states, rec)
        rec = np.where((t < output_length)[:, None], rec + emit[:, t], _NEG_INF)
        beta[:, t] = rec
        nxt = rec

    finite = np.isfinite(log_z)
    with np.errstate(invalid="ignore", over="ignore"):
        post = np.exp(alpha + beta - emit - np.where(finite, log_z, 0.0)[:, None, None])
    post = np.where(np.isfinite(post), post, 0.0)
    occupancy = np.zeros_like(logp)
    t_idx = np.broadcast_to(np.arange(time)[None, :, None], post.shape)
    b_idx = np.broadcast_to(rows[:, None, None], post.shape)
    c_idx = np.broadcast_to(ext[:, None, :], post.shape)
    np.add.at(occupancy, (b_idx, t_idx, c_idx), post)
    grad = np.exp(logp) - occupancy
    in_time = np.arange(time)[None, :, None] < output_length[:, None, None]
    grad = np.where(in_time & finite[:, None, None], grad, 0.0)
    return loss, grad


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """CTC loss of each sample, as Keras 3's `keras.ops.ctc_loss` computes it.

    Args:
        target: integer labels of shape (batch_size, max_label_length); entries past a
            sample's `target_length` are ignored.
        output: unnormalised scores of shape (batch_size, max_time, num_classes); a log-softmax
            over the classes is applied first.
        target_length: (batch_size,) number of labels of each sample.
        output_length: (batch_size,) number of frames of each sample (frames after it are
            ignored and get no gradient).
        mask_index: the blank class. Defaults to 0.

    Returns:
        A (batch_size,) tensor of negative log-likelihoods (`inf` where the labels cannot be
        aligned to the frames, e.g. too many labels for the frames available).
    """
    out_t = output if isinstance(output, Tensor) else convert_to_tensor(output)
    out_val = np.asarray(out_t.value)
    if out_val.dtype.kind not in "fiub":
        raise TypeError(f"ctc_loss: `output` must be numeric. Received: output of dtype "
                        f"{out_val.dtype}")
    tgt = _int_array(target, "target")
    t_len = _int_array(target_length, "target_length")
    o_len = _int_array(output_length, "output_length")
    _check(tgt, out_val, t_len, o_len, mask_index)
    out_dtype = np.float64 if out_val.dtype == np.float64 else np.float32
    logits = out_val.astype(np.float64)
    blank = int(mask_index)

    want_grad = grad_enabled() and out_t.requires_grad
    loss, grad = _ctc_forward_backward(logits, tgt, t_len, o_len, blank, want_grad)

    def backward(g, needs):
        if grad is None:
            return (None,)
        g = np.asarray(g, dtype=np.float64).reshape(-1)
        return ((grad * g[:, None, None]).astype(out_dtype),)

    return make_op(loss.astype(out_dtype), (out_t,), backward)
