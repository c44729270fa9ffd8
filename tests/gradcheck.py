"""Finite-difference gradient checks shared by the test modules: tape gradients of
sum(fn() * w) for a random w, against central differences on each leaf's storage."""

import numpy as np

from fastkeras import ops
from fastkeras.backend import GradientTape, Tensor, gradients, no_grad


def leaf(a, dtype=np.float64):
    """A float64 (by default) tensor that gradients flow to."""
    return Tensor(np.array(a, dtype=dtype), requires_grad=True)


def away_from(rng, shape, kinks=(0.0,), margin=0.05, low=-2.0, high=2.0):
    """Uniform samples kept at least `margin` away from every kink point."""
    out = rng.uniform(low, high, size=shape)
    for _ in range(100):
        bad = np.zeros(out.shape, bool)
        for k in kinks:
            bad |= np.abs(out - k) < margin
        if not bad.any():
            return out
        out[bad] = rng.uniform(low, high, size=int(bad.sum()))
    raise RuntimeError("could not sample away from kinks")


def numeric_grads(loss_fn, leaves, eps):
    """Central differences of loss_fn() w.r.t. each leaf's storage (perturbed in place)."""
    result = []
    for lf in leaves:
        v = lf.value
        g = np.zeros(v.shape, np.float64)
        for idx in np.ndindex(*v.shape):
            orig = v[idx].copy()
            v[idx] = orig + eps
            fp = float(np.asarray(loss_fn().value, np.float64))
            v[idx] = orig - eps
            fm = float(np.asarray(loss_fn().value, np.float64))
            v[idx] = orig
            g[idx] = (fp - fm) / (2 * eps)
        result.append(g)
    return result


def check_grads(fn, leaves, rng, eps=1e-6, rtol=1e-5, atol=1e-7):
    """Compares tape gradients of sum(fn() * w) with finite differences, for every leaf."""
    with no_grad():
        probe = fn()
    w = Tensor(rng.standard_normal(probe.shape).astype(probe.dtype))

    def loss_fn():
        return ops.sum(ops.multiply(fn(), w))

    with GradientTape():
        loss = loss_fn()
    analytic = [None if g is None else np.array(g, np.float64) for g in gradients(loss, leaves)]
    numeric = numeric_grads(loss_fn, leaves, eps)
    for i, (a, n, lf) in enumerate(zip(analytic, numeric, leaves)):
        assert a is not None, f"no gradient for leaf {i}"
        assert a.shape == lf.shape, f"leaf {i}: gradient shape {a.shape} != {lf.shape}"
        np.testing.assert_allclose(a, n, rtol=rtol, atol=atol, err_msg=f"leaf {i}")
    return analytic
