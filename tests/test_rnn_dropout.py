"""Dropout in the recurrent layers as Keras 3 draws it: masks fixed over the timesteps of a
batch; LSTM and GRU with recurrent_dropout > 0 use a separate mask per gate for the inputs and
for the state, otherwise one input mask serves every gate; kept units are scaled by
1 / (1 - rate); a rate of 1 drops everything (no division by zero)."""

import numpy as np
import pytest

from fastkeras import layers, ops


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def record_masks(cell):
    """Wraps the cell's mask makers so the test sees the masks a call used."""
    seen = {}
    for name in ("input_dropout_mask", "recurrent_dropout_mask"):
        make = getattr(cell, name)

        def wrapper(*args, _make=make, _name=name):
            seen[_name] = _make(*args)
            return seen[_name]
        setattr(cell, name, wrapper)
    return seen


def lstm_reference(x, w, r, b, in_masks, rec_masks):
    """Keras's per-gate LSTM step (implementation 1) in float64."""
    B, T, _ = x.shape
    U = r.shape[0]
    h, c = np.zeros((B, U)), np.zeros((B, U))
    outs = []
    for t in range(T):
        z = [(x[:, t] * in_masks[k]) @ w[:, k * U:(k + 1) * U] + b[k * U:(k + 1) * U]
             + (h * rec_masks[k]) @ r[:, k * U:(k + 1) * U] for k in range(4)]
        c = sigmoid(z[1]) * c + sigmoid(z[0]) * np.tanh(z[2])
        h = sigmoid(z[3]) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1)


def gru_reference(x, w, r, b, in_masks, rec_masks, reset_after):
    B, T, _ = x.shape
    U = r.shape[0]
    bi, br = (b[0], b[1]) if reset_after else (b, np.zeros_like(b))
    h = np.zeros((B, U))
    outs = []
    for t in range(T):
        xs = [(x[:, t] * in_masks[k]) @ w[:, k * U:(k + 1) * U] + bi[k * U:(k + 1) * U]
              for k in range(3)]
        hs = [h * rec_masks[k] for k in range(3)]
        z = sigmoid(xs[0] + hs[0] @ r[:, :U] + br[:U])
        rg = sigmoid(xs[1] + hs[1] @ r[:, U:2 * U] + br[U:2 * U])
        if reset_after:
            hh = np.tanh(xs[2] + rg * (hs[2] @ r[:, 2 * U:] + br[2 * U:]))
        else:
            hh = np.tanh(xs[2] + (rg * hs[2]) @ r[:, 2 * U:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1)


@pytest.mark.parametrize("via_ops", [False, True], ids=["kernel", "ops"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_before"])
def test_training_call_uses_one_mask_per_gate(kind, via_ops, rng):
    x = rng.normal(size=(5, 4, 3)).astype(np.float32)
    # The same activations given as new functions run the cell's steps as ops, not in the
    # recurrent kernel: both apply the masks the same way.
    acts = {"activation": lambda t: ops.tanh(t), "recurrent_activation": lambda t: ops.sigmoid(t)} \
        if via_ops else {}
    if kind == "lstm":
        layer = layers.LSTM(6, dropout=0.3, recurrent_dropout=0.4, return_sequences=True,
                            seed=11, **acts)
    else:
        layer = layers.GRU(6, dropout=0.3, recurrent_dropout=0.4, return_sequences=True,
                           reset_after=kind == "gru", seed=11, **acts)
    layer(x)
    assert layer.cell.in_kernel is not via_ops
    gates = 4 if kind == "lstm" else 3
    seen = record_masks(layer.cell)
    out = layer(x, training=True).value
    in_mask, rec_mask = seen["input_dropout_mask"], seen["recurrent_dropout_mask"]
    assert in_mask.shape == (5, gates * 3) and rec_mask.shape == (5, gates * 6)
    in_masks = np.split(in_mask.astype(np.float64), gates, axis=1)
    rec_masks = np.split(rec_mask.astype(np.float64), gates, axis=1)
    # Different gates get different masks.
    assert not all(np.array_equal(in_masks[0], m) for m in in_masks[1:])
    assert not all(np.array_equal(rec_masks[0], m) for m in rec_masks[1:])
    w, r, b = (v.numpy().astype(np.float64) for v in layer.weights)
    if kind == "lstm":
        expected = lstm_reference(x.astype(np.float64), w, r, b, in_masks, rec_masks)
    else:
        expected = gru_reference(x.astype(np.float64), w, r, b, in_masks, rec_masks,
                                 reset_after=kind == "gru")
    np.testing.assert_allclose(out, expected, atol=2e-5)


def test_per_gate_masks_keep_the_expected_fraction(rng):
    cell = layers.LSTM(50, dropout=0.25, recurrent_dropout=0.4, seed=5).cell
    in_mask = cell.input_dropout_mask(400, 30)
    rec_mask = cell.recurrent_dropout_mask(400)
    for mask, rate, width in ((in_mask, 0.25, 30), (rec_mask, 0.4, 50)):
        assert set(np.unique(mask)) <= {0.0, np.float32(1 / (1 - rate))}
        for gate in np.split(mask, 4, axis=1):
            assert gate.shape == (400, width)
            assert abs((gate > 0).mean() - (1 - rate)) < 0.02
        # Independent draws: two gates agree on about p^2 + q^2 of the entries, not all.
        a, b = np.split(mask, 4, axis=1)[:2]
        agree = ((a > 0) == (b > 0)).mean()
        assert abs(agree - ((1 - rate) ** 2 + rate ** 2)) < 0.02


def test_input_dropout_alone_shares_one_mask_across_gates():
    # Keras's fused LSTM/GRU path (recurrent_dropout == 0) draws one input mask.
    for layer in (layers.LSTM(3, dropout=0.5, seed=1), layers.GRU(3, dropout=0.5, seed=1),
                  layers.SimpleRNN(3, dropout=0.5, recurrent_dropout=0.5, seed=1)):
        assert not layer.cell.dropout_mask_per_gate
        assert layer.cell.input_dropout_mask(2, 4).shape == (2, 1, 4)
    assert layers.SimpleRNN(3, recurrent_dropout=0.5).cell.recurrent_dropout_mask(2).shape \
        == (2, 3)


def test_same_seed_same_masks_and_rate_one_drops_everything(rng):
    x = rng.normal(size=(3, 4, 2)).astype(np.float32)
    a = layers.GRU(4, dropout=0.5, recurrent_dropout=0.5, seed=7)
    b = layers.GRU(4, dropout=0.5, recurrent_dropout=0.5, seed=7)
    a(x)
    b(x)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a(x, training=True).value, b(x, training=True).value)
    # As Keras's fused path: input dropout at rate 1 feeds the layer zeros.
    full = layers.LSTM(4, dropout=1.0)
    full(x)
    np.testing.assert_allclose(full(x, training=True).value, full(np.zeros_like(x)).value,
                               atol=1e-7)
    both = layers.LSTM(4, dropout=1.0, recurrent_dropout=1.0)
    both(x)
    out = both(x, training=True).value
    assert np.isfinite(out).all()
