"""`utils.clear_session()`: every automatic name (layers, operation nodes, optimizers, metrics)
counts from the start again, exactly where Keras 3's does."""

import pytest

import fastkeras as fk

keras3 = pytest.importorskip("keras")


def automatic_names(lib):
    """Names given by default, twice over, then once more after clear_session()."""
    def batch():
        a = lib.Input((3,))
        node = lib.ops.add(a, a)._keras_history[0] if lib is keras3 else lib.ops.add(a, a)._layer
        return [lib.layers.Dense(2).name, lib.layers.Conv2D(1, 3).name, node.name,
                lib.optimizers.Adam().name, lib.optimizers.SGD().name, lib.metrics.Mean().name,
                lib.metrics.SparseCategoricalAccuracy().name, lib.metrics.Precision().name,
                lib.metrics.AUC().name]
    first, second = batch(), batch()
    lib.utils.clear_session()
    return first, second, batch()


def test_clear_session_restarts_every_automatic_name_as_keras_does():
    keras3.utils.clear_session()
    theirs = automatic_names(keras3)
    fk.utils.clear_session()
    ours = automatic_names(fk)
    assert ours == theirs
    first, second, after = ours
    assert after == first
    assert second[0] == "dense_1" and second[7] == "precision_1"
