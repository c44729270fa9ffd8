"""ContrastLimitedAdaptiveHistogramEqualization against Keras 3, and the root-level scopes,
Operation and Function."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops

CLAHE = fk.layers.ContrastLimitedAdaptiveHistogramEqualization


def _both(x, **kwargs):
    keras = pytest.importorskip("keras")
    ours = np.asarray(CLAHE(**kwargs)(x))
    theirs = keras.ops.convert_to_numpy(
        keras.layers.ContrastLimitedAdaptiveHistogramEqualization(**kwargs)(x))
    return ours, theirs


@pytest.mark.parametrize("shape,kwargs", [
    # tiles of at least 64 pixels, so that the clip limit is not 0 bins
    ((2, 64, 64, 3), {"tile_grid_size": (4, 4)}),
    ((1, 37, 29, 2), {"tile_grid_size": (2, 2)}),
    ((1, 100, 90, 1), {}),
    ((2, 40, 47, 1), {"tile_grid_size": (3, 4), "clip_limit": 2.5}),
    ((2, 3, 39, 41), {"data_format": "channels_first", "clip_limit": 1.5,
                      "tile_grid_size": (2, 3)}),
    ((2, 11, 13, 2), {"clip_limit": 0.0, "tile_grid_size": (2, 3)}),
    ((33, 27, 3), {"tile_grid_size": (2, 2), "clip_limit": 8.0}),
])
def test_clahe_uint8_range_matches_keras(shape, kwargs):
    x = (np.random.default_rng(1).random(shape) * 255).astype("float32")
    ours, theirs = _both(x, **kwargs)
    assert ours.shape == theirs.shape == shape
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("shape,data_format", [
    ((2, 34, 29, 3), "channels_last"), ((3, 37, 36), "channels_first"),
    ((1, 2, 33, 40), "channels_first")])
def test_clahe_unit_range_matches_keras(shape, data_format):
    x = np.random.default_rng(2).random(shape).astype("float32")
    ours, theirs = _both(x, value_range=(0.0, 1.0), data_format=data_format,
                         tile_grid_size=(3, 3))
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=1e-5)
    assert ours.min() >= 0 and ours.max() <= 1


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float64"])
def test_clahe_dtypes_match_keras(dtype):
    x = np.random.default_rng(3).integers(0, 256, (2, 38, 42, 3)).astype(dtype)
    ours, theirs = _both(x, tile_grid_size=(3, 4), clip_limit=3.0)
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours.astype("float64"), theirs.astype("float64"), atol=1e-4)


def test_clahe_config_and_symbolic_use():
    keras = pytest.importorskip("keras")
    args = {"value_range": (0, 1), "clip_limit": 3.0, "tile_grid_size": (2, 4),
            "data_format": "channels_first", "name": "clahe"}
    ours = CLAHE(**args).get_config()
    theirs = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(**args).get_config()
    assert ours == theirs
    default = CLAHE().get_config()
    assert default["value_range"] == (0, 255) and default["clip_limit"] == 4.0
    assert default["tile_grid_size"] == (8, 8) and default["data_format"] == "channels_last"
    layer = CLAHE.from_config(ours)
    assert layer.tile_grid_size == (2, 4)
    inputs = fk.Input((3, 16, 16))
    outputs = layer(inputs)
    assert tuple(outputs.shape) == (None, 3, 16, 16)
    model = fk.Model(inputs, outputs)
    x = np.random.default_rng(4).random((2, 3, 16, 16)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(layer(x)))


def test_clahe_changes_contrast_and_keeps_constant_images():
    flat = np.full((1, 16, 16, 1), 100.0, "float32")
    out = np.asarray(CLAHE(tile_grid_size=(2, 2))(flat))
    assert np.all(np.isfinite(out))
    ramp = np.tile(np.linspace(100, 120, 16, dtype="float32"), (16, 1))[None, :, :, None]
    out = np.asarray(CLAHE(tile_grid_size=(1, 1), clip_limit=0)(ramp))
    assert out.max() - out.min() > 100  # the narrow range is spread out


# --- scopes --------------------------------------------------------------------------------

def test_stateless_scope_records_and_restores():
    v = fk.Variable(np.ones(3, "float32"))
    w = fk.Variable(np.zeros(2, "float32"))
    untouched = fk.Variable(np.full(2, 7.0, "float32"))
    with fk.StatelessScope(state_mapping=[(v, np.full(3, 2.0))]) as scope:
        np.testing.assert_array_equal(np.asarray(v.value), [2, 2, 2])
        v.assign(ops.multiply(v, 3.0))
        w.assign_add(np.ones(2, "float32"))
        w.assign_sub(np.full(2, 0.5, "float32"))
        np.testing.assert_array_equal(np.asarray(v.value), [6, 6, 6])
        np.testing.assert_array_equal(np.asarray(scope.get_current_value(w)), [0.5, 0.5])
    np.testing.assert_array_equal(v.value, [1, 1, 1])
    np.testing.assert_array_equal(w.value, [0, 0])
    np.testing.assert_array_equal(np.asarray(scope.get_current_value(v)), [6, 6, 6])
    np.testing.assert_array_equal(np.asarray(scope.get_current_value(w)), [0.5, 0.5])
    assert scope.get_current_value(untouched) is None
    with pytest.raises(ValueError):
        fk.StatelessScope([(v, np.ones(4))])
    with pytest.raises(ValueError):
        fk.StatelessScope([("not a variable", np.ones(3))])


def test_stateless_scope_model_weights_like_keras():
    keras = pytest.importorskip("keras")
    for lib in (fk, keras):
        layer = lib.layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros")
        layer.build((None, 3))
        mapping = [(layer.kernel, np.full((3, 2), 2.0, "float32"))]
        with lib.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
            out = lib.ops.convert_to_numpy(layer(np.ones((1, 3), "float32")))
            layer.bias.assign(np.ones(2, "float32"))
        np.testing.assert_array_equal(out, [[6.0, 6.0]])
        np.testing.assert_array_equal(lib.ops.convert_to_numpy(layer.kernel), np.ones((3, 2)))
        np.testing.assert_array_equal(lib.ops.convert_to_numpy(layer.bias), np.zeros(2))
        np.testing.assert_array_equal(
            lib.ops.convert_to_numpy(scope.get_current_value(layer.bias)), np.ones(2))
        assert scope.collect_losses and scope.initialize_variables


def test_stateless_scope_collects_losses():
    class Penalty(fk.layers.Layer):
        def call(self, x):
            self.add_loss(ops.sum(x))
            return x

    layer = Penalty()
    with fk.StatelessScope(collect_losses=True) as scope:
        layer(np.ones((2, 2), "float32"))
    assert len(scope.losses) == 1
    assert float(np.asarray(scope.losses[0])) == 4.0
    with fk.StatelessScope() as scope:
        layer(np.ones((2, 2), "float32"))
    assert scope.losses == []


def test_symbolic_and_remat_scopes():
    from fastkeras.backend.scopes import get_current_remat_mode, in_symbolic_scope
    assert not in_symbolic_scope()
    with fk.SymbolicScope() as scope:
        assert in_symbolic_scope() and isinstance(scope, fk.SymbolicScope)
    assert not in_symbolic_scope()
    with pytest.raises(ValueError):
        fk.RematScope(mode="sometimes")
    with fk.RematScope(mode="larger_than", output_size_threshold=10):
        assert get_current_remat_mode().output_size_threshold == 10
        layer = fk.layers.Dense(2)
        y = layer(np.ones((1, 3), "float32"))
    assert get_current_remat_mode() is None
    np.testing.assert_allclose(np.asarray(y), np.asarray(layer(np.ones((1, 3), "float32"))))

    def f(x):
        return ops.multiply(ops.sin(x), 2.0)

    x = fk.Variable(np.array([0.3, 1.2], "float32"))
    g = fk.remat(f)
    with fk.GradientTape() as tape:
        loss = ops.sum(g(x))
    grad = tape.gradient(loss, x)
    np.testing.assert_allclose(np.asarray(grad), 2 * np.cos([0.3, 1.2]), rtol=1e-6)


class _ScaleAdd(fk.Operation):
    def __init__(self, scale, name=None):
        super().__init__(name=name)
        self.scale = scale

    def call(self, x, y):
        return ops.add(ops.multiply(x, self.scale), y)


class _Split(fk.Operation):
    def call(self, x):
        return ops.sum(x, axis=-1), ops.multiply(x, 2.0)

    def compute_output_spec(self, x):
        return (fk.KerasTensor(x.shape[:-1], dtype=x.dtype),
                fk.KerasTensor(x.shape, dtype=x.dtype))


def test_operation_eager_and_symbolic():
    a, b = np.ones((2, 3), "float32"), np.full((2, 3), 0.5, "float32")
    np.testing.assert_allclose(np.asarray(_ScaleAdd(3.0)(a, b)), np.full((2, 3), 3.5))
    x, y = fk.Input((3,)), fk.Input((3,))
    z = _ScaleAdd(2.0, name="scale_add")(x, y)
    assert isinstance(z, fk.KerasTensor) and tuple(z.shape) == (None, 3)
    s, d = _Split()(z)
    assert tuple(s.shape) == (None,) and tuple(d.shape) == (None, 3)
    model = fk.Model([x, y], [s, d])
    out_s, out_d = model([a, b])
    np.testing.assert_allclose(np.asarray(out_s), [7.5, 7.5])
    np.testing.assert_allclose(np.asarray(out_d), np.full((2, 3), 5.0))
    with pytest.raises(NotImplementedError):
        fk.Operation()(a)


def test_function_matches_keras():
    keras = pytest.importorskip("keras")
    a = np.random.default_rng(5).random((4, 3)).astype("float32")
    b = np.random.default_rng(6).random((4, 3)).astype("float32")
    results = []
    for lib in (fk, keras):
        x, y = lib.KerasTensor((None, 3)), lib.KerasTensor((None, 3))
        z = lib.ops.add(lib.ops.multiply(x, 2.0), y)
        w = lib.ops.sum(z, axis=-1)
        fn = lib.Function([x, y], [z, w])
        assert isinstance(fn, lib.Operation)
        assert len(fn.operations) == 3
        outs = fn([a, b])
        assert isinstance(outs, list) and len(outs) == 2
        results.append([lib.ops.convert_to_numpy(o) for o in outs])
        single = lib.Function(x, lib.ops.exp(x))
        results[-1].append(lib.ops.convert_to_numpy(single(a)))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_function_from_intermediate_tensors_and_symbolic_call():
    x = fk.Input((4,))
    h = fk.layers.Dense(3, kernel_initializer="ones")(x)
    out = ops.multiply(h, 2.0)
    fn = fk.Function(h, out)  # starts mid-graph: the Dense layer is not run
    np.testing.assert_allclose(np.asarray(fn(np.ones((2, 3), "float32"))), np.full((2, 3), 2.0))
    inner = fk.Input((3,))
    res = fn(inner)
    assert isinstance(res, fk.KerasTensor) and tuple(res.shape) == (None, 3)
    model = fk.Model(inner, res)
    np.testing.assert_allclose(np.asarray(model(np.ones((1, 3), "float32"))), [[2.0] * 3])
    with pytest.raises(ValueError):
        fk.Function(x, np.ones(3))
