"""fastkeras.random (Keras 3's keras.random): Keras's signatures, shapes and dtypes, the
distributions' moments and ranges, and seeding: int seeds, SeedGenerator, and the global
seed that fastkeras.utils.set_random_seed sets."""

import inspect

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops
from fastkeras import random as fr
from gradcheck import check_grads, leaf

N = 200_000


def test_exposed_as_fastkeras_random():
    assert fk.random is fr
    import fastkeras.random
    assert fastkeras.random.SeedGenerator is fr.SeedGenerator


@pytest.mark.parametrize("name", fr.__all__)
def test_signatures_match_keras(name):
    keras3 = pytest.importorskip("keras")
    ours = inspect.signature(getattr(fr, name)).parameters
    theirs = inspect.signature(getattr(keras3.random, name)).parameters
    assert list(ours) == list(theirs)
    assert [p.default for p in ours.values()] == [p.default for p in theirs.values()]


DRAWS = {
    "normal": lambda seed, **kw: fr.normal((3, 5), seed=seed, **kw),
    "uniform": lambda seed, **kw: fr.uniform((3, 5), seed=seed, **kw),
    "truncated_normal": lambda seed, **kw: fr.truncated_normal((3, 5), seed=seed, **kw),
    "randint": lambda seed, **kw: fr.randint((3, 5), 0, 10, seed=seed, **kw),
    "gamma": lambda seed, **kw: fr.gamma((3, 5), 2.0, seed=seed, **kw),
    "binomial": lambda seed, **kw: fr.binomial((3, 5), 10, 0.3, seed=seed, **kw),
    "beta": lambda seed, **kw: fr.beta((3, 5), 2.0, 3.0, seed=seed, **kw),
    "categorical": lambda seed, **kw: fr.categorical(np.zeros((3, 4)), 5, seed=seed, **kw),
    "shuffle": lambda seed, **kw: fr.shuffle(np.arange(30).reshape(15, 2), seed=seed, **kw),
    "dropout": lambda seed, **kw: fr.dropout(np.ones((3, 5), np.float32), 0.5, seed=seed, **kw),
}
KERAS_DRAWS = {
    "normal": lambda k: k.random.normal((3, 5)),
    "uniform": lambda k: k.random.uniform((3, 5)),
    "truncated_normal": lambda k: k.random.truncated_normal((3, 5)),
    "randint": lambda k: k.random.randint((3, 5), 0, 10),
    "gamma": lambda k: k.random.gamma((3, 5), 2.0),
    "binomial": lambda k: k.random.binomial((3, 5), 10, 0.3),
    "beta": lambda k: k.random.beta((3, 5), 2.0, 3.0),
    "categorical": lambda k: k.random.categorical(np.zeros((3, 4), np.float32), 5),
    "shuffle": lambda k: k.random.shuffle(np.arange(30).reshape(15, 2)),
    "dropout": lambda k: k.random.dropout(k.ops.ones((3, 5)), 0.5),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_shapes_and_dtypes_match_keras(name):
    keras3 = pytest.importorskip("keras")
    ours = DRAWS[name](None)
    theirs = keras3.ops.convert_to_numpy(KERAS_DRAWS[name](keras3))
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_int_seed_gives_the_same_values_every_call(name):
    a, b = DRAWS[name](42).numpy(), DRAWS[name](42).numpy()
    np.testing.assert_array_equal(a, b)
    c = DRAWS[name](43).numpy()
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_seed_generator_advances_and_replays(name):
    gen = fr.SeedGenerator(7)
    first, second = DRAWS[name](gen).numpy(), DRAWS[name](gen).numpy()
    assert not np.array_equal(first, second)
    again = fr.SeedGenerator(7)
    np.testing.assert_array_equal(DRAWS[name](again).numpy(), first)
    np.testing.assert_array_equal(DRAWS[name](again).numpy(), second)
    # a generator's first draw is the int seed's draw, as in Keras ([seed, 0] states)
    np.testing.assert_array_equal(DRAWS[name](7).numpy(), first)


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_set_random_seed_makes_unseeded_draws_reproducible(name):
    fk.utils.set_random_seed(123)
    a1, a2 = DRAWS[name](None).numpy(), DRAWS[name](None).numpy()
    g = DRAWS[name](fr.SeedGenerator()).numpy()
    fk.utils.set_random_seed(123)
    np.testing.assert_array_equal(DRAWS[name](None).numpy(), a1)
    np.testing.assert_array_equal(DRAWS[name](None).numpy(), a2)
    np.testing.assert_array_equal(DRAWS[name](fr.SeedGenerator()).numpy(), g)
    assert not np.array_equal(a1, a2) or name == "categorical"


def test_seed_generator_state_and_config():
    keras3 = pytest.importorskip("keras")
    gen = fr.SeedGenerator(5, name="sg")
    np.testing.assert_array_equal(gen.state.numpy(), [5, 0])
    np.testing.assert_array_equal(gen.next(), [5, 0])
    np.testing.assert_array_equal(gen.state.numpy(), [5, 1])
    assert gen.get_config() == {"seed": 5, "name": "sg"}
    theirs = keras3.random.SeedGenerator(5, name="sg")
    assert theirs.get_config() == gen.get_config()
    np.testing.assert_array_equal(keras3.ops.convert_to_numpy(theirs.next()), [5, 0])
    clone = fr.SeedGenerator.from_config(gen.get_config())
    np.testing.assert_array_equal(fr.normal((4,), seed=clone).numpy(),
                                  fr.normal((4,), seed=fr.SeedGenerator(5)).numpy())
    assert fr.SeedGenerator().get_config()["seed"] is None


@pytest.mark.parametrize("bad", [1.5, "3", [1, 2, 3], np.zeros(2)])
def test_invalid_seeds_are_refused_like_keras(bad):
    keras3 = pytest.importorskip("keras")
    with pytest.raises(ValueError):
        fr.normal((2,), seed=bad)
    with pytest.raises(ValueError):
        keras3.random.normal((2,), seed=bad)


def test_seed_generator_refuses_non_int_seed():
    with pytest.raises(ValueError, match="integer"):
        fr.SeedGenerator(1.5)


def test_dtype_errors_like_keras():
    keras3 = pytest.importorskip("keras")
    with pytest.raises(ValueError):
        fr.uniform((2,), dtype="int32")
    with pytest.raises(ValueError):
        keras3.random.uniform((2,), dtype="int32")
    with pytest.raises(ValueError):
        fr.randint((2,), 0, 3, dtype="float32")
    assert fr.normal((2,), dtype="float64").dtype == np.float64
    assert fr.randint((2,), 0, 3, dtype="int64").dtype == np.int64
    assert fr.uniform(4).shape == (4,)


# ---------------------------------------------------------------------------------------------
# distributions

def test_normal_moments():
    x = fr.normal((N,), mean=2.0, stddev=3.0, seed=1).numpy().astype(np.float64)
    assert abs(x.mean() - 2.0) < 0.05 and abs(x.std() - 3.0) < 0.05
    skew = np.mean(((x - x.mean()) / x.std()) ** 3)
    assert abs(skew) < 0.03


def test_normal_broadcasts_tensor_parameters():
    x = fr.normal((N // 10, 2), mean=np.array([0.0, 10.0]), stddev=np.array([1.0, 0.1]),
                  seed=2).numpy()
    np.testing.assert_allclose(x.mean(0), [0.0, 10.0], atol=0.03)
    np.testing.assert_allclose(x.std(0), [1.0, 0.1], rtol=0.03)


def test_uniform_range_and_moments():
    x = fr.uniform((N,), minval=-1.0, maxval=3.0, seed=3).numpy()
    assert x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() < 3.0
    assert abs(x.mean() - 1.0) < 0.02 and abs(x.var() - 16 / 12) < 0.02
    near_top = fr.uniform((N,), minval=0.0, maxval=1.0, seed=4).numpy()
    assert near_top.max() < 1.0


def test_truncated_normal_within_two_stddevs():
    x = fr.truncated_normal((N,), mean=1.0, stddev=2.0, seed=5).numpy().astype(np.float64)
    assert x.min() >= 1.0 - 4.0 and x.max() <= 1.0 + 4.0
    # the std of a standard normal truncated to [-2, 2]
    assert abs(x.std() / 2.0 - 0.8796) < 0.01 and abs(x.mean() - 1.0) < 0.03


def test_randint_range_and_uniformity():
    x = fr.randint((N,), -3, 4, seed=6).numpy()
    assert x.dtype == np.int32 and x.min() == -3 and x.max() == 3
    counts = np.bincount(x + 3)
    np.testing.assert_allclose(counts / N, 1 / 7, atol=0.005)


def test_shuffle_permutes_along_axis_and_is_differentiable():
    x = np.arange(24).reshape(4, 6)
    s = fr.shuffle(x, axis=1, seed=7).numpy()
    np.testing.assert_array_equal(np.sort(s, axis=1), x)
    assert (s[:, :1] - s[0, 0] == x[:, :1] - x[0, 0]).all()  # whole columns move together
    assert s.dtype == x.dtype
    lf = leaf(np.random.default_rng(0).normal(size=(5, 3)))
    check_grads(lambda: fr.shuffle(lf, seed=3), [lf], np.random.default_rng(1))


def test_dropout_rate_scaling_and_noise_shape():
    x = np.ones((400, 500), np.float32)
    y = fr.dropout(x, 0.3, seed=8).numpy()
    assert y.dtype == np.float32
    assert abs((y == 0).mean() - 0.3) < 0.005
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.7], rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.01
    shared = fr.dropout(x, 0.5, noise_shape=(None, 1), seed=9).numpy()
    assert (shared == shared[:, :1]).all()
    assert 0.4 < (shared[:, 0] == 0).mean() < 0.6
    np.testing.assert_array_equal(fr.dropout(x[:3], 0.0).numpy(), x[:3])
    np.testing.assert_array_equal(fr.dropout(x[:3], 1.0).numpy(), 0 * x[:3])
    with pytest.raises(ValueError):
        fr.dropout(x, 1.5)


def test_dropout_gradient_is_the_mask():
    lf = leaf(np.random.default_rng(0).normal(size=(4, 6)))
    check_grads(lambda: fr.dropout(lf, 0.4, seed=11), [lf], np.random.default_rng(2))
    with fk.backend.GradientTape():
        loss = ops.sum(fr.dropout(lf, 0.4, seed=11))
    (g,) = fk.backend.gradients(loss, [lf])
    np.testing.assert_allclose(g, fr.dropout(np.ones((4, 6)), 0.4, seed=11).numpy(), rtol=1e-6)


def test_categorical_frequencies_follow_softmax():
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]]) + 1e-12)
    logits[1, 2] = -np.inf
    x = fr.categorical(logits, N // 4, seed=12).numpy()
    assert x.shape == (2, N // 4) and x.dtype == np.int32
    np.testing.assert_allclose(np.bincount(x[0], minlength=3) / x.shape[1], [0.1, 0.2, 0.7],
                               atol=0.01)
    np.testing.assert_allclose(np.bincount(x[1], minlength=3) / x.shape[1], [0.5, 0.5, 0.0],
                               atol=0.01)
    assert fr.categorical(logits, 3, dtype="int64").dtype == np.int64
    with pytest.raises(ValueError):
        fr.categorical(np.zeros(3), 2)


def test_gamma_binomial_beta_moments():
    g = fr.gamma((N,), 2.5, seed=13).numpy().astype(np.float64)
    assert g.min() > 0 and abs(g.mean() - 2.5) < 0.03 and abs(g.var() - 2.5) < 0.08
    b = fr.binomial((N,), 12, 0.25, seed=14).numpy()
    assert b.dtype == np.float32 and b.min() >= 0 and b.max() <= 12
    assert (b == np.round(b)).all()
    assert abs(b.mean() - 3.0) < 0.03 and abs(b.var() - 12 * 0.25 * 0.75) < 0.05
    be = fr.beta((N,), 2.0, 5.0, seed=15).numpy().astype(np.float64)
    assert be.min() >= 0 and be.max() <= 1
    assert abs(be.mean() - 2 / 7) < 0.005
    assert abs(be.var() - 2 * 5 / (49 * 8)) < 0.002
