"""keras.dtype_policies / keras.mixed_precision / keras.config.dtype_policy: the policy
objects and their configs as Keras's, layers' dtype_policy/compute_dtype/variable_dtype, and
a clear error for the precisions fastkeras does not compute in."""

import numpy as np
import pytest

import fastkeras as fk


@pytest.mark.parametrize("name", ["float32", "float64", "mixed_float16", "mixed_bfloat16",
                                  "float16", "bfloat16"])
def test_policies_match_keras(name):
    keras = pytest.importorskip("keras")
    theirs = keras.dtype_policies.DTypePolicy(name)
    ours = fk.dtype_policies.DTypePolicy(name)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == (
        theirs.name, theirs.compute_dtype, theirs.variable_dtype)
    assert fk.dtype_policies.serialize(ours) == keras.dtype_policies.serialize(theirs)
    assert fk.dtype_policies.deserialize(keras.dtype_policies.serialize(theirs)) == ours
    assert repr(ours) == repr(theirs)


def test_layer_dtype_attributes_and_global_policy():
    keras = pytest.importorskip("keras")
    ours, theirs = fk.layers.Dense(2), keras.layers.Dense(2)
    for attr in ("compute_dtype", "variable_dtype", "dtype"):
        assert getattr(ours, attr) == getattr(theirs, attr)
    assert ours.dtype_policy == fk.dtype_policies.DTypePolicy("float32")
    assert fk.config.dtype_policy().name == keras.config.dtype_policy().name == "float32"
    assert fk.mixed_precision.global_policy() == fk.mixed_precision.Policy("float32")
    layer = fk.layers.Dense(2, dtype=fk.dtype_policies.DTypePolicy("float64"))
    assert layer.compute_dtype == "float64"


def test_unsupported_precisions_raise_naming_the_policy():
    with pytest.raises(NotImplementedError, match="'mixed_float16'.*compute in float32"):
        fk.mixed_precision.set_global_policy("mixed_float16")
    with pytest.raises(NotImplementedError, match=r"Dense\(dtype='bfloat16'\)"):
        fk.layers.Dense(2, dtype="bfloat16")
    with pytest.raises(NotImplementedError, match="mixed_bfloat16"):
        fk.config.set_dtype_policy(fk.dtype_policies.DTypePolicy("mixed_bfloat16"))
    assert fk.config.dtype_policy().name == "float32"  # unchanged by the failed calls
    with pytest.raises(ValueError, match="Cannot convert 'float17'"):
        fk.dtype_policies.DTypePolicy("float17")


def test_float64_global_policy_reaches_new_layers():
    try:
        fk.config.set_dtype_policy("float64")
        assert fk.layers.Dense(2).compute_dtype == "float64"
    finally:
        fk.config.set_dtype_policy("float32")
    assert fk.layers.Dense(2).compute_dtype == "float32"
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(2)])
    assert model.predict(np.ones((1, 3), np.float32), verbose=0).dtype == np.float32
