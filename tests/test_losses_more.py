"""CategoricalFocalCrossentropy, Dice, Tversky, Circle and CategoricalGeneralizedCrossEntropy
against Keras 3: values under every reduction with and without sample weights, configs,
string identifiers, finite-difference gradients, training and .keras round trips, and
argument errors."""

import zlib

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import losses
from gradcheck import check_grads, leaf

keras = pytest.importorskip("keras")


def knp(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def d_onehot(rng, shape=(6, 4)):
    t = np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], shape[:-1])]
    p = rng.dirichlet(np.ones(shape[-1]), shape[:-1]).astype("float32")
    return t, p


def d_seg(rng, shape=(3, 5, 2)):
    return (rng.integers(0, 2, shape).astype("float32"),
            rng.uniform(0.05, 0.95, shape).astype("float32"))


def d_embed(rng, n=8, d=4):
    e = rng.normal(size=(n, d)).astype("float32")
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    return rng.integers(0, 3, n), e


def d_labels(rng, n=6, c=4):
    return rng.integers(0, c, n), rng.dirichlet(np.ones(c), n).astype("float32")


CASES = [
    ("CategoricalFocalCrossentropy", {}, d_onehot),
    ("CategoricalFocalCrossentropy", {"alpha": 0.5, "gamma": 1.0, "label_smoothing": 0.2},
     d_onehot),
    ("CategoricalFocalCrossentropy", {"from_logits": True},
     lambda r: (d_onehot(r)[0], r.normal(size=(6, 4)).astype("float32"))),
    ("CategoricalFocalCrossentropy", {"axis": 1},
     lambda r: tuple(np.moveaxis(a, -1, 1) for a in d_onehot(r, (3, 2, 4)))),
    ("CategoricalFocalCrossentropy", {}, lambda r: d_onehot(r, (2, 3, 5))),
    ("Dice", {}, d_seg),
    ("Dice", {"axis": (1, 2)}, d_seg),
    ("Dice", {"axis": -1}, d_seg),
    ("Tversky", {}, d_seg),
    ("Tversky", {"alpha": 0.3, "beta": 0.7, "axis": -1}, d_seg),
    ("Tversky", {"alpha": 0.8, "beta": 0.1, "axis": (1, 2)}, d_seg),
    ("Circle", {}, d_embed),
    ("Circle", {"gamma": 10.0, "margin": 0.25, "remove_diagonal": False}, d_embed),
    ("CategoricalGeneralizedCrossEntropy", {}, d_labels),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.8}, d_labels),
]

REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]


def _ids(c):
    return f"{c[0]}-{c[1]}"


def _per_sample_count(cls_name, kwargs, t):
    if cls_name in ("Dice", "Tversky") and kwargs.get("axis") is None:
        return None  # one value for the whole batch
    return np.shape(t)[0]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_values_match_keras(case, reduction):
    name, kwargs, make = case
    rng = np.random.default_rng(zlib.crc32(_ids(case).encode()))
    t, p = make(rng)
    ours = getattr(losses, name)(reduction=reduction, **kwargs)
    ref = getattr(keras.losses, name)(reduction=reduction, **kwargs)
    np.testing.assert_allclose(np.asarray(ours(t, p)), knp(ref(t, p)), rtol=1e-5, atol=1e-6)
    n = _per_sample_count(name, kwargs, t)
    if n is not None:
        values_shape = np.shape(knp(getattr(keras.losses, name)(reduction="none", **kwargs)(t, p)))
        sw = rng.uniform(0, 2, values_shape).astype("float32")
        np.testing.assert_allclose(np.asarray(ours(t, p, sample_weight=sw)),
                                   knp(ref(t, p, sample_weight=sw)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_function_forms_match_keras(case):
    name, kwargs, make = case
    fn = {"CategoricalFocalCrossentropy": "categorical_focal_crossentropy", "Dice": "dice",
          "Tversky": "tversky", "Circle": "circle",
          "CategoricalGeneralizedCrossEntropy": "categorical_generalized_cross_entropy"}[name]
    rng = np.random.default_rng(1)
    t, p = make(rng)
    kw = dict(kwargs)
    if fn == "categorical_generalized_cross_entropy":
        kw.setdefault("q", 0.5)
    out = getattr(losses, fn)(t, p, **kw)
    assert isinstance(out, fk.backend.Tensor)
    kt, kp = keras.ops.convert_to_tensor(t), keras.ops.convert_to_tensor(p)
    np.testing.assert_allclose(np.asarray(out), knp(getattr(keras.losses, fn)(kt, kp, **kw)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_config_matches_keras_and_round_trips(case):
    name, kwargs, _ = case
    ours = getattr(losses, name)(name="l", **kwargs)
    ref = getattr(keras.losses, name)(name="l", **kwargs)
    assert ours.get_config() == ref.get_config()
    again = losses.deserialize(losses.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()
    assert getattr(losses, name)().name == getattr(keras.losses, name)().name


def test_string_identifiers():
    for key in ("CategoricalFocalCrossentropy", "Dice", "Tversky", "Circle",
                "CategoricalGeneralizedCrossEntropy"):
        assert type(losses.get(key)).__name__ == key
    for key in ("categorical_focal_crossentropy", "dice", "tversky", "circle"):
        assert losses.get(key) is getattr(losses, key)
        assert getattr(keras.losses, key).__name__ == key
    assert losses.get({"class_name": "Tversky", "config": {"alpha": 0.2, "beta": 0.8}}).alpha \
        == 0.2


# ----------------------------------------------------------------------------- gradients

GRAD_CASES = [
    ("categorical_focal_crossentropy", {}, d_onehot),
    ("categorical_focal_crossentropy", {"alpha": 0.4, "gamma": 1.5, "label_smoothing": 0.1},
     d_onehot),
    ("categorical_focal_crossentropy", {"from_logits": True},
     lambda r: (d_onehot(r)[0], r.normal(size=(6, 4)))),
    ("dice", {}, d_seg),
    ("dice", {"axis": -1}, d_seg),
    ("tversky", {"alpha": 0.3, "beta": 0.7, "axis": (1, 2)}, d_seg),
    ("circle", {"gamma": 4.0}, d_embed),
    ("circle", {"gamma": 2.0, "remove_diagonal": False}, d_embed),
    ("categorical_generalized_cross_entropy", {"q": 0.5}, d_labels),
]


@pytest.mark.parametrize("fn, kwargs, make", GRAD_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in GRAD_CASES])
def test_function_gradients_match_finite_differences(fn, kwargs, make):
    rng = np.random.default_rng(11)
    t, p = make(rng)
    x = leaf(p)
    check_grads(lambda: getattr(losses, fn)(t, x, **kwargs), [x], rng, eps=1e-6, rtol=1e-4,
                atol=1e-7)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
@pytest.mark.parametrize("name, kwargs, make", [
    ("CategoricalFocalCrossentropy", {}, d_onehot),
    ("Dice", {"axis": (1, 2)}, d_seg),
    ("Tversky", {}, d_seg),
    ("Circle", {"gamma": 4.0}, d_embed),
    ("CategoricalGeneralizedCrossEntropy", {}, d_labels),
])
def test_class_gradients_with_weights(name, kwargs, make, reduction):
    rng = np.random.default_rng(12)
    t, p = make(rng)
    x = leaf(p)
    loss = getattr(losses, name)(reduction=reduction, **kwargs)
    sw = None
    if name != "Tversky":  # Tversky (axis=None) gives one value for the whole batch
        sw = rng.uniform(0.5, 2.0, np.shape(t)[0])
    # the loss classes reduce in float32, so the differences use a larger step
    check_grads(lambda: loss(t, x, sample_weight=sw), [x], rng, eps=1e-3, rtol=2e-2,
                atol=2e-3)


# ----------------------------------------------------------------------------- errors

def test_argument_errors():
    with pytest.raises(ValueError, match="q must be in the interval"):
        losses.CategoricalGeneralizedCrossEntropy(q=1.5)
    with pytest.raises(ValueError, match="q=0"):
        losses.CategoricalGeneralizedCrossEntropy(q=0)
    with pytest.raises(ValueError, match="axis=True"):
        losses.categorical_focal_crossentropy(np.eye(3), np.eye(3), axis=True)
    with pytest.raises(ValueError, match="label_smoothing=1.5"):
        losses.categorical_focal_crossentropy(np.eye(3), np.eye(3), label_smoothing=1.5)
    with pytest.raises(ValueError, match="incompatible"):
        losses.CategoricalFocalCrossentropy()(np.eye(3), np.ones((3, 4)) / 4)
    with pytest.raises(ValueError, match="reduction='avg'"):
        losses.Dice(reduction="avg")
    with pytest.raises(ValueError, match="y_pred.shape"):
        losses.circle(np.zeros(3), np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="y_true.shape"):
        losses.categorical_generalized_cross_entropy(np.zeros((3, 4)), np.ones((3, 4)) / 4, 0.5)
    with pytest.warns(SyntaxWarning, match="num_classes > 1"):
        losses.categorical_focal_crossentropy(np.ones((3, 1)), np.ones((3, 1)))


# ----------------------------------------------------------------------------- training

@pytest.mark.parametrize("loss", ["categorical_focal_crossentropy", "CategoricalFocalCrossentropy",
                                  "dice", "Tversky",
                                  losses.Tversky(alpha=0.7, beta=0.3, axis=-1),
                                  losses.CategoricalFocalCrossentropy(alpha=0.5, gamma=1.0)])
def test_compile_fit_save_and_load(tmp_path, loss):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = np.eye(3, dtype="float32")[np.argmax(x[:, :3], axis=1)]
    model = fk.Sequential([fk.Input(shape=(5,)), fk.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=fk.optimizers.Adam(0.05), loss=loss)
    first = model.evaluate(x, y, verbose=0)
    hist = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert model.evaluate(x, y, verbose=0) < first
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = fk.models.load_model(path)
    if isinstance(loss, losses.Loss):
        assert type(loaded.loss) is type(loss) and loaded.loss.get_config() == loss.get_config()
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-6)
    loaded.fit(x, y, epochs=1, batch_size=32, verbose=0)


def test_generalized_cross_entropy_trains_with_sparse_labels(tmp_path):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = np.argmax(x[:, :3], axis=1)
    model = fk.Sequential([fk.Input(shape=(5,)), fk.layers.Dense(3, activation="softmax")])
    loss = losses.CategoricalGeneralizedCrossEntropy(q=0.7)
    model.compile(optimizer=fk.optimizers.Adam(0.05), loss=loss)
    hist = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = fk.models.load_model(path)
    assert isinstance(loaded.loss, losses.CategoricalGeneralizedCrossEntropy)
    assert loaded.loss.q == 0.7


def test_circle_trains_embeddings():
    rng = np.random.default_rng(10)
    labels = rng.integers(0, 3, 48)
    x = (np.eye(3)[labels] + 0.3 * rng.normal(size=(48, 3))).astype("float32")
    model = fk.Sequential([fk.Input(shape=(3,)), fk.layers.Dense(4),
                           fk.layers.UnitNormalization()])
    model.compile(optimizer=fk.optimizers.Adam(0.02), loss=losses.Circle(gamma=16.0))
    hist = model.fit(x, labels, epochs=5, batch_size=48, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
