"""Embedding's backward: per-id sums scattered into the table-shaped gradient buffer the
variable reuses across training steps, clearing only the rows the previous step wrote."""

import numpy as np

import fastkeras as keras
from fastkeras import layers
from fastkeras.backend.tape import GradientTape, gradients


def scatter_reference(ids, g, shape):
    expected = np.zeros(shape, np.float64)
    np.add.at(expected, ids.ravel(), g.reshape(-1, shape[1]).astype(np.float64))
    return expected


def grad_in_training_step(emb, ids, g):
    with GradientTape():
        loss = keras.ops.sum(emb(ids) * g)
    return gradients(loss, emb.weights, reuse_buffers=True)[0]


def test_reused_buffer_holds_only_this_steps_rows(rng):
    emb = layers.Embedding(50, 4)
    emb.build(None)
    steps = [np.array([[3, 3, 7], [49, 0, 3]]), np.array([[1, 2, 2], [2, 40, 41]]),
             np.array([[5]]), np.zeros((0, 3), np.int64)]
    buffers = []
    for ids in steps:
        g = rng.normal(size=ids.shape + (4,)).astype(np.float32)
        got = grad_in_training_step(emb, ids, g)
        buffers.append(got)
        np.testing.assert_allclose(got, scatter_reference(ids, g, (50, 4)), atol=1e-5)
    assert all(b is buffers[0] for b in buffers)  # one table-sized buffer for every step


def test_many_repeats_of_an_id_sum_in_order(rng):
    emb = layers.Embedding(8, 3)
    ids = rng.integers(0, 3, size=(64, 20))
    g = rng.normal(size=ids.shape + (3,)).astype(np.float32)
    got = grad_in_training_step(emb, ids, g)
    np.testing.assert_allclose(got, scatter_reference(ids, g, (8, 3)), rtol=1e-5, atol=1e-5)


def test_finite_differences_through_a_recurrent_model(rng):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((5,)), layers.Embedding(9, 3),
                              layers.SimpleRNN(2), layers.Dense(1)])
    ids = rng.integers(0, 9, size=(4, 5))
    ids[0, :3] = 4  # repeated ids add up
    emb = model.layers[0].embeddings
    with GradientTape():
        loss = keras.ops.sum(model(ids))
    (analytic,) = gradients(loss, [emb])
    eps = 1e-3
    numeric = np.zeros(emb.shape)
    base = emb.numpy()
    for idx in np.ndindex(*emb.shape):
        for sign in (1, -1):
            w = base.copy()
            w[idx] += sign * eps
            emb.assign(w)
            numeric[idx] += sign * float(np.sum(model(ids).value)) / (2 * eps)
    emb.assign(base)
    np.testing.assert_allclose(analytic, numeric, atol=1e-3, rtol=1e-3)
