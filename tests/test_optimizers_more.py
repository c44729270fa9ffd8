"""Lion, Ftrl, Lamb and Adafactor: steps, training, saving and configs against Keras 3."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import _core
from fastkeras.backend import Variable
from fastkeras.optimizers.base_optimizer import reset_names

NAMES = ["lion", "ftrl", "lamb", "adafactor"]
CLASSES = {"lion": "Lion", "ftrl": "Ftrl", "lamb": "Lamb", "adafactor": "Adafactor"}
SHAPES = [(3, 5), (7,), (2, 3, 4), (1,), ()]


def _keras():
    return pytest.importorskip("keras")


def problem(seed, shapes=SHAPES, steps=5):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(steps)]
    return init, grads


def run_fk(opt, init, grads):
    variables = [Variable(w, name=f"v{i}", path=f"model/v{i}") for i, w in enumerate(init)]
    for step in grads:
        opt.apply([g.copy() for g in step], variables)
    return [v.numpy() for v in variables], [np.asarray(v.numpy()) for v in opt.variables]


def run_keras(opt, init, grads):
    keras = _keras()
    variables = [keras.Variable(w, name=f"v{i}") for i, w in enumerate(init)]
    for step in grads:
        opt.apply([keras.ops.convert_to_tensor(g) for g in step], variables)
    to_np = keras.ops.convert_to_numpy
    return [to_np(v) for v in variables], [np.asarray(to_np(v)) for v in opt.variables]


def make(lib, name, kwargs):
    kwargs = dict(kwargs)
    if kwargs.get("learning_rate") == "schedule":
        kwargs["learning_rate"] = lib.optimizers.schedules.ExponentialDecay(
            0.02, decay_steps=2, decay_rate=0.5)
    return getattr(lib.optimizers, CLASSES[name])(**kwargs)


COMMON = [
    {},
    {"learning_rate": 0.01, "weight_decay": 0.05},
    {"learning_rate": "schedule"},
    {"learning_rate": 0.01, "clipnorm": 0.5},
    {"learning_rate": 0.01, "global_clipnorm": 1.0},
    {"learning_rate": 0.01, "clipvalue": 0.3},
    {"learning_rate": 0.01, "use_ema": True, "ema_momentum": 0.9},
    {"learning_rate": 0.01, "gradient_accumulation_steps": 2},
]
SPECIFIC = {
    "lion": [{"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9}, {"beta_1": 1.0}],
    "ftrl": [{"learning_rate": 0.1, "l1_regularization_strength": 0.01,
              "l2_regularization_strength": 0.02, "l2_shrinkage_regularization_strength": 0.03,
              "beta": 0.1},
             {"learning_rate": 0.05, "learning_rate_power": -0.7,
              "initial_accumulator_value": 0.5},
             {"learning_rate": 0.05, "learning_rate_power": 0.0}],
    "lamb": [{"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}],
    "adafactor": [{"learning_rate": 0.5, "clip_threshold": 0.1},
                  {"learning_rate": 0.05, "beta_2_decay": -0.5, "epsilon_2": 0.5,
                   "relative_step": False}],
}
CASES = [(n, kw) for n in NAMES for kw in COMMON + SPECIFIC[n]]


@pytest.mark.parametrize(("name", "kwargs"), CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_steps_match_keras(name, kwargs):
    keras = _keras()
    init, grads = problem(len(name) + len(kwargs))
    f_vars, f_state = run_fk(make(fk, name, kwargs), init, grads)
    k_vars, k_state = run_keras(make(keras, name, kwargs), init, grads)
    for f, k in zip(f_vars, k_vars):
        np.testing.assert_allclose(f, k, rtol=2e-6, atol=2e-7)
    assert [s.shape for s in f_state] == [s.shape for s in k_state]
    for f, k in zip(f_state[1:], k_state[1:]):  # the iteration counter's dtype differs
        np.testing.assert_allclose(f, k, rtol=2e-6, atol=2e-7)
    assert int(f_state[0]) == int(k_state[0])


def test_adafactor_zero_variable_and_zero_gradient_rows():
    keras = _keras()
    init = [np.zeros((4, 3), np.float32), np.zeros((5,), np.float32)]
    g = [np.ones((4, 3), np.float32), np.zeros((5,), np.float32)]
    g[0][1] = 0.0
    f_vars, _ = run_fk(fk.optimizers.Adafactor(), init, [g, g])
    k_vars, _ = run_keras(keras.optimizers.Adafactor(), init, [g, g])
    for f, k in zip(f_vars, k_vars):
        np.testing.assert_allclose(f, k, rtol=2e-6, atol=1e-9)


def test_lamb_zero_variable_uses_a_ratio_of_one():
    keras = _keras()
    init = [np.zeros((3, 2), np.float32)]
    _, grads = problem(3, shapes=[(3, 2)], steps=2)
    f_vars, _ = run_fk(fk.optimizers.Lamb(0.1), init, grads)
    k_vars, _ = run_keras(keras.optimizers.Lamb(0.1), init, grads)
    np.testing.assert_allclose(f_vars[0], k_vars[0], rtol=2e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_variable_names_and_order_follow_keras(name):
    keras = _keras()
    reset_names()
    shapes = [(3, 4), (4,), (2, 2, 3)]
    f_vars = [Variable(np.ones(s, np.float32), name=f"w{i}", path=f"w{i}")
              for i, s in enumerate(shapes)]
    k_vars = [keras.Variable(np.ones(s, np.float32), name=f"w{i}") for i, s in enumerate(shapes)]
    f_opt, k_opt = make(fk, name, {}), make(keras, name, {})
    f_opt.build(f_vars)
    k_opt.build(k_vars)
    assert [v.name for v in f_opt.variables] == [v.name for v in k_opt.variables]
    assert [tuple(v.shape) for v in f_opt.variables] == [tuple(v.shape) for v in k_opt.variables]
    for f, k in zip(f_opt.variables[1:], k_opt.variables[1:]):
        np.testing.assert_array_equal(np.asarray(f.numpy()), keras.ops.convert_to_numpy(k))
        assert np.asarray(f.numpy()).dtype == keras.ops.convert_to_numpy(k).dtype


CONFIG_KWARGS = {
    "lion": {"learning_rate": 0.003, "beta_1": 0.8, "beta_2": 0.95, "weight_decay": 0.01},
    "ftrl": {"learning_rate_power": -0.6, "initial_accumulator_value": 0.2,
             "l1_regularization_strength": 0.1, "l2_regularization_strength": 0.2,
             "l2_shrinkage_regularization_strength": 0.3, "beta": 0.4, "clipnorm": 1.0},
    "lamb": {"beta_1": 0.8, "beta_2": 0.9, "epsilon": 1e-5, "global_clipnorm": 2.0},
    "adafactor": {"beta_2_decay": -0.7, "epsilon_1": 1e-20, "epsilon_2": 1e-2,
                  "clip_threshold": 2.0, "relative_step": False, "use_ema": True,
                  "gradient_accumulation_steps": 3},
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("custom", [False, True])
def test_config_equals_keras_and_round_trips(name, custom):
    keras = _keras()
    kwargs = dict(CONFIG_KWARGS[name], name="opt") if custom else {"name": "opt"}
    f_cfg = make(fk, name, kwargs).get_config()
    k_cfg = make(keras, name, kwargs).get_config()
    assert f_cfg == pytest.approx(k_cfg)
    assert list(f_cfg) == list(k_cfg)
    again = type(make(fk, name, {})).from_config(f_cfg)
    assert again.get_config() == f_cfg
    ser = fk.optimizers.serialize(again)
    assert ser["class_name"] == CLASSES[name] and ser["module"] == "keras.optimizers"
    assert fk.optimizers.deserialize(ser).get_config() == f_cfg
    # Keras reads the config, and fastkeras reads Keras's. (Keras 3.15's `deserialize` and
    # `get` do not know "lamb" by name; its files still name the class by module.)
    k_read = keras.saving.deserialize_keras_object(ser)
    assert k_read.get_config() == pytest.approx(k_cfg)
    k_ser = keras.optimizers.serialize(make(keras, name, kwargs))
    assert fk.optimizers.deserialize(k_ser).get_config() == pytest.approx(f_cfg)


def test_schedule_config_round_trips():
    _keras()
    opt = make(fk, "lamb", {"learning_rate": "schedule"})
    cfg = opt.get_config()
    assert cfg["learning_rate"]["class_name"] == "ExponentialDecay"
    again = fk.optimizers.Lamb.from_config(cfg)
    assert again.learning_rate == pytest.approx(0.02)


@pytest.mark.parametrize("name", NAMES)
def test_string_identifiers(name):
    opt = fk.optimizers.get(name)
    assert type(opt).__name__ == CLASSES[name]
    assert fk.optimizers.get(CLASSES[name]).__class__ is type(opt)


@pytest.mark.parametrize(("cls", "kwargs", "match"), [
    ("Lion", {"beta_1": 0.0}, "beta_1=0.0"),
    ("Lion", {"beta_1": 1.5}, "beta_1=1.5"),
    ("Ftrl", {"initial_accumulator_value": -0.1}, "initial_accumulator_value=-0.1"),
    ("Ftrl", {"learning_rate_power": 0.5}, "learning_rate_power=0.5"),
    ("Ftrl", {"l1_regularization_strength": -1.0}, "l1_regularization_strength=-1.0"),
    ("Ftrl", {"l2_regularization_strength": -2.0}, "l2_regularization_strength=-2.0"),
    ("Ftrl", {"l2_shrinkage_regularization_strength": -3.0},
     "l2_shrinkage_regularization_strength=-3.0"),
    ("Lamb", {"learning_rate": "fast"}, "learning_rate='fast'"),
    ("Adafactor", {"clipnorm": 1.0, "clipvalue": 1.0}, "clipvalue=1.0"),
    ("Adafactor", {"gradient_accumulation_steps": 1}, "gradient_accumulation_steps=1"),
    ("Lion", {"bogus": 1}, "bogus"),
])
def test_argument_errors_name_the_argument_and_value(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(fk.optimizers, cls)(**kwargs)


def test_kernel_argument_errors():
    w = np.zeros((3, 4), np.float32)
    g = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="row_stats.*shape"):
        _core.adafactor_update(w, g, np.zeros(4, np.float32), np.zeros(4, np.float32),
                               np.zeros((3, 4), np.float32), 0.1, 1e-30, 1e-3, 0.5, 0.5, 1.0)
    with pytest.raises(ValueError, match="required"):
        _core.adafactor_update(w, g, None, None, np.zeros((3, 4), np.float32), 0.1, 1e-30,
                               1e-3, 0.5, 0.5, 1.0)
    with pytest.raises(ValueError, match="`m` must have the shape"):
        _core.lion_update(w, g, np.zeros(3, np.float32), 0.1, 0.9, 0.1, 0.99, 0.01)
    with pytest.raises(TypeError, match="lamb_update.*`v`"):
        _core.lamb_update(w, g, np.zeros((3, 4), np.float32), [0.0], 0.1, 0.1, 0.1, 0.1, 0.1,
                          1e-7)
    with pytest.raises(ValueError, match="shares memory"):
        _core.ftrl_update(w, g, w, np.zeros((3, 4), np.float32), 0.1, 0.5, 0.0, 0.0, 0.0)


# --- training with fit, and .keras files both ways ------------------------------------------

def model(lib):
    return lib.Sequential([
        lib.Input(shape=(6,)),
        lib.layers.Dense(8, activation="tanh"),
        lib.layers.Dense(3, activation="softmax"),
    ])


def data(n=48):
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, 6)).astype(np.float32), rng.integers(0, 3, n)


FIT_OPTIMIZERS = {
    "lion": {"learning_rate": 0.003},
    "ftrl": {"learning_rate": 0.2, "l1_regularization_strength": 0.001},
    "lamb": {"learning_rate": 0.02, "weight_decay": 0.01},
    "adafactor": {"learning_rate": 0.1},
}


def twins(name, kwargs=None):
    keras = _keras()
    keras.utils.set_random_seed(5)
    k_model = model(keras)
    f_model = model(fk)
    f_model.set_weights([keras.ops.convert_to_numpy(w) for w in k_model.weights])
    kw = FIT_OPTIMIZERS[name] if kwargs is None else kwargs
    # Keras 3.15 does not resolve the string "lamb"; its side gets the instance.
    k_opt = make(keras, name, kw) if kw or name == "lamb" else name
    f_opt = make(fk, name, kw) if kw else name
    k_model.compile(optimizer=k_opt, loss="sparse_categorical_crossentropy")
    f_model.compile(optimizer=f_opt, loss="sparse_categorical_crossentropy")
    return k_model, f_model


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("by_string", [False, True])
def test_fit_matches_keras_epoch_losses(name, by_string):
    x, y = data()
    k_model, f_model = twins(name, {} if by_string else None)
    k_hist = k_model.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0).history
    f_hist = f_model.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(f_hist["loss"], k_hist["loss"], rtol=1e-5)
    keras = _keras()
    for f, k in zip(f_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(f, keras.ops.convert_to_numpy(k), rtol=1e-4, atol=1e-6)


def _state(opt, keras=None):
    conv = keras.ops.convert_to_numpy if keras else (lambda v: v.numpy())
    return [np.asarray(conv(v)) for v in opt.variables]


@pytest.mark.parametrize("name", NAMES)
def test_fastkeras_file_loads_in_keras_and_trains_on_identically(tmp_path, name):
    keras = _keras()
    x, y = data()
    _, f_model = twins(name)
    f_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    path = tmp_path / "m.keras"
    f_model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_model = keras.models.load_model(path)
    assert type(k_model.optimizer).__name__ == CLASSES[name]
    assert k_model.optimizer.get_config() == pytest.approx(f_model.optimizer.get_config())
    for f, k in zip(_state(f_model.optimizer)[1:], _state(k_model.optimizer, keras)[1:]):
        np.testing.assert_allclose(f, k, rtol=1e-6, atol=1e-8)
    f_more = f_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    k_more = k_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(f_more["loss"], k_more["loss"], rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_keras_file_loads_in_fastkeras_and_trains_on_identically(tmp_path, name):
    keras = _keras()
    x, y = data()
    k_model, _ = twins(name)
    k_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    path = tmp_path / "m.keras"
    k_model.save(path)
    f_model = fk.models.load_model(path)
    assert type(f_model.optimizer).__name__ == CLASSES[name]
    assert int(f_model.optimizer.iterations) == 12
    for f, k in zip(_state(f_model.optimizer)[1:], _state(k_model.optimizer, keras)[1:]):
        np.testing.assert_allclose(f, k, rtol=1e-6, atol=1e-8)
    k_more = k_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    f_more = f_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(f_more["loss"], k_more["loss"], rtol=1e-5)
