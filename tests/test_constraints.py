"""keras.constraints: each constraint's values, identifiers and configs against real Keras 3, and
constraints kept through training, saving and loading in both directions."""

import numpy as np
import pytest

import fastkeras as keras
from fastkeras import constraints

keras3 = pytest.importorskip("keras")

W = np.array([[3.0, -4.0, 0.5], [0.0, 0.1, -2.0], [1.5, 2.5, 0.0], [-0.3, 0.2, 7.0]], np.float32)

CASES = [
    ("MaxNorm", {}), ("MaxNorm", {"max_value": 2.5, "axis": 1}),
    ("MaxNorm", {"max_value": 3, "axis": [0, 1]}),
    ("MinMaxNorm", {}), ("MinMaxNorm", {"min_value": 0.5, "max_value": 3.0, "rate": 0.5}),
    ("MinMaxNorm", {"min_value": 1.0, "max_value": 2.0, "axis": 1}),
    ("NonNeg", {}), ("UnitNorm", {}), ("UnitNorm", {"axis": 1}),
]


@pytest.mark.parametrize("name, kwargs", CASES)
def test_values_and_config_match_keras(name, kwargs):
    ours = getattr(constraints, name)(**kwargs)
    theirs = getattr(keras3.constraints, name)(**kwargs)
    want = np.asarray(theirs(keras3.ops.convert_to_tensor(W)))
    got = ours(W)
    assert got.dtype == np.float32 and got.shape == W.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert ours.get_config() == theirs.get_config()
    assert constraints.serialize(ours) == keras3.saving.serialize_keras_object(theirs)


@pytest.mark.parametrize("identifier, cls", [
    ("max_norm", constraints.MaxNorm), ("MaxNorm", constraints.MaxNorm),
    ("min_max_norm", constraints.MinMaxNorm), ("non_neg", constraints.NonNeg),
    ("NonNeg", constraints.NonNeg), ("unit_norm", constraints.UnitNorm),
])
def test_get_by_name(identifier, cls):
    assert type(constraints.get(identifier)) is cls
    assert type(keras3.constraints.get(identifier)).__name__ == cls.__name__


def test_get_dicts_callables_and_errors():
    c = constraints.get({"class_name": "MaxNorm", "config": {"max_value": 3}})
    assert isinstance(c, constraints.MaxNorm) and c.get_config() == {"max_value": 3, "axis": 0}
    assert constraints.get(None) is None
    fn = np.abs
    assert constraints.get(fn) is fn
    mn = constraints.MaxNorm(1)
    assert constraints.get(mn) is mn
    for bad in ("foo", 5):
        with pytest.raises(ValueError) as ours:
            constraints.get(bad)
        with pytest.raises(ValueError) as theirs:
            keras3.constraints.get(bad)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="Unknown constraint: 'Nope'"):
        constraints.get({"class_name": "Nope", "config": {}})


LAYERS = [
    ("Dense", dict(units=3, kernel_constraint="max_norm", bias_constraint="non_neg")),
    ("Conv2D", dict(filters=2, kernel_size=3, kernel_constraint={"class_name": "UnitNorm",
                                                                 "config": {"axis": [0, 1, 2]}})),
    ("DepthwiseConv2D", dict(kernel_size=3, depthwise_constraint="non_neg")),
    ("SeparableConv2D", dict(filters=2, kernel_size=3, pointwise_constraint="max_norm")),
    ("LSTM", dict(units=4, recurrent_constraint="unit_norm", bias_constraint="non_neg")),
    ("Embedding", dict(input_dim=10, output_dim=3, embeddings_constraint="max_norm")),
    ("BatchNormalization", dict(gamma_constraint="non_neg", beta_constraint="max_norm")),
    ("LayerNormalization", dict(gamma_constraint="non_neg")),
    ("PReLU", dict(alpha_constraint="non_neg")),
]


@pytest.mark.parametrize("name, kwargs", LAYERS)
def test_layer_configs_write_constraints_as_keras(name, kwargs):
    ours = getattr(keras.layers, name)(**kwargs).get_config()
    theirs = getattr(keras3.layers, name)(**kwargs).get_config()
    keys = [k for k in theirs if k.endswith("_constraint")]
    assert keys
    for k in keys:
        assert ours[k] == theirs[k], k
    # and back: the layer rebuilt from our config has the same constraints
    again = getattr(keras.layers, name).from_config(ours).get_config()
    assert [again[k] for k in keys] == [ours[k] for k in keys]


def _constrained_model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu", kernel_constraint=constraints.MaxNorm(0.5)),
        keras.layers.Dense(1, kernel_constraint="non_neg"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    return model


def _check_constrained(model):
    k1 = model.layers[0].kernel.numpy()
    assert np.all(np.sqrt((k1 ** 2).sum(axis=0)) <= 0.5 + 1e-5)
    assert np.all(model.layers[1].kernel.numpy() >= 0)


def test_training_saving_and_loading_keep_constraints(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = (x @ rng.standard_normal((6, 1)) * 3).astype(np.float32)
    model = _constrained_model()
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    _check_constrained(model)
    for ext in (".keras", ".h5"):
        path = tmp_path / f"m{ext}"
        model.save(path)
        loaded = keras.models.load_model(path)
        assert isinstance(loaded.layers[0].kernel_constraint, constraints.MaxNorm)
        assert loaded.layers[0].kernel_constraint.max_value == 0.5
        assert isinstance(loaded.layers[1].kernel_constraint, constraints.NonNeg)
        loaded.fit(x, -y, epochs=2, batch_size=16, verbose=0)  # pushes weights negative
        _check_constrained(loaded)
    # Real Keras reads the constraints from our file, and we read them from its.
    theirs = keras3.saving.load_model(tmp_path / "m.keras")
    assert isinstance(theirs.layers[0].kernel_constraint, keras3.constraints.MaxNorm)
    assert theirs.layers[0].kernel_constraint.max_value == 0.5
    theirs.save(tmp_path / "k.keras")
    back = keras.models.load_model(tmp_path / "k.keras")
    assert isinstance(back.layers[1].kernel_constraint, constraints.NonNeg)


def test_custom_constraint_round_trip(tmp_path):
    @keras.saving.register_keras_serializable(package="Test")
    class Clip(constraints.Constraint):
        def __init__(self, limit=1.0):
            self.limit = limit

        def __call__(self, w):
            return np.clip(w, -self.limit, self.limit)

        def get_config(self):
            return {"limit": self.limit}

    layer = keras.layers.Dense(2, kernel_constraint=Clip(0.25))
    config = layer.get_config()["kernel_constraint"]
    assert config["class_name"] == "Clip" and config["registered_name"] == "Test>Clip"
    again = keras.layers.Dense.from_config(layer.get_config())
    assert isinstance(again.kernel_constraint, Clip) and again.kernel_constraint.limit == 0.25
