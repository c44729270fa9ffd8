"""Keras 3's op namespaces (`ops.nn`, `ops.numpy`, `ops.core`, `ops.image`, `ops.linalg`) and
the root-level aliases (`Loss`, `Metric`, `version`, `name_scope`, `device`, ...) in
fastkeras."""

import importlib

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import ops


def _public(module):
    return sorted(n for n in dir(module) if not n.startswith("_"))


@pytest.mark.parametrize("namespace", ["nn", "numpy", "image", "linalg"])
def test_every_keras_name_exists_and_is_callable(namespace):
    keras3 = pytest.importorskip("keras")
    ours = getattr(ops, namespace)
    for name in _public(getattr(keras3.ops, namespace)):
        assert callable(getattr(ours, name, None)), f"ops.{namespace}.{name}"


def test_core_namespace_has_keras_core_ops():
    keras3 = pytest.importorskip("keras")
    # Keras 3 has no public keras.ops.core module: its core ops are those of keras.src.ops.core
    # exported as keras.ops.<name>.
    core = [n for n in _public(keras3.ops)
            if getattr(getattr(keras3.ops, n), "__module__", None) == "keras.src.ops.core"]
    assert len(core) > 15
    for name in core:
        assert callable(getattr(ops.core, name, None)), f"ops.core.{name}"
    assert sorted(ops.core.__all__) == sorted(core)


def test_namespace_functions_are_the_package_functions():
    keras3 = pytest.importorskip("keras")
    for namespace in ("nn", "numpy", "core"):
        module = getattr(ops, namespace)
        names = module.__all__ if namespace != "nn" else _public(keras3.ops.nn)
        for name in names:
            assert getattr(module, name) is getattr(ops, name), f"{namespace}.{name}"
    # nn.py's own helpers are still there and work
    assert callable(ops.nn.dense) and callable(ops.nn.tanh)
    np.testing.assert_allclose(ops.nn.relu(np.float32([-1.0, 2.0])).numpy(), [0.0, 2.0])


def test_numpy_namespace_imports():
    import fastkeras.ops.numpy as fnp
    from fastkeras.ops.numpy import sum as np_sum

    assert fnp is ops.numpy and np_sum is ops.sum
    assert importlib.import_module("fastkeras.ops.core") is ops.core
    from fastkeras.ops.core import custom_gradient, stop_gradient
    assert custom_gradient is ops.custom_gradient and stop_gradient is ops.stop_gradient
    np.testing.assert_allclose(fnp.sum(np.ones((2, 3), np.float32), axis=1).numpy(), [3.0, 3.0])
    # the module name does not shadow numpy for the ops package itself
    assert "numpy" not in ops.__all__ and "core" not in ops.__all__
    from fastkeras.ops import math as ops_math
    assert ops_math.np is np


def test_graph_nodes_through_namespaces():
    fk.utils.clear_session()
    inp = fk.Input((4,))
    out = ops.nn.relu(ops.numpy.add(inp, 1.0))
    model = fk.Model(inp, out)
    x = np.float32([[-3.0, -0.5, 0.0, 2.0]])
    np.testing.assert_allclose(model.predict(x, verbose=0), np.maximum(x + 1.0, 0.0))


def test_root_aliases():
    keras3 = pytest.importorskip("keras")
    assert fk.Loss is fk.losses.Loss and fk.Metric is fk.metrics.Metric
    assert fk.Optimizer is fk.optimizers.Optimizer
    assert fk.Initializer is fk.initializers.Initializer
    assert fk.Regularizer is fk.regularizers.Regularizer
    assert fk.InputSpec is fk.layers.InputSpec
    assert isinstance(fk.Input((3,)), fk.KerasTensor)
    assert fk.version() == fk.__version__ and isinstance(fk.version(), str)
    for name in ("Loss", "Metric", "Optimizer", "Initializer", "Regularizer", "InputSpec",
                 "KerasTensor", "version", "name_scope", "device"):
        assert hasattr(keras3, name) and hasattr(fk, name), name
    assert issubclass(fk.losses.MeanSquaredError, fk.Loss)
    assert issubclass(fk.metrics.Mean, fk.Metric)


def test_name_scope_and_device():
    with fk.name_scope("outer") as outer:
        assert outer.name == "outer"
        with fk.name_scope("inner"):
            assert fk.name_scope.current() == "outer/inner"
            layer = fk.layers.Dense(2)
            assert layer(np.ones((1, 3), np.float32)).shape == (1, 2)
        assert fk.name_scope.current() == "outer"
    assert fk.name_scope.current() == ""
    with pytest.raises(ValueError, match="name"):
        fk.name_scope(3)
    for name in ("cpu", "CPU", "cpu:0", "/device:CPU:0", "/cpu:0"):
        with fk.device(name) as d:
            assert d == "cpu"
            assert ops.add(1.0, 2.0).numpy() == 3.0
    for bad in ("gpu", "cuda:0", "tpu", "nowhere", None):
        with pytest.raises(ValueError, match="device_name") as info:
            fk.device(bad)
        assert repr(bad) in str(info.value)
