"""Arithmetic on integer tensors keeps Keras's integer dtypes (int32 + int32 is int32, a
Python int takes the tensor's width, int32 with int64 as Keras promotes it), and a Python
float or a float tensor gives floats, compared with real Keras."""

import numpy as np
import pytest

import fastkeras as fk

OPS = ["add", "subtract", "multiply", "maximum", "minimum", "power"]
LEFT = [np.array([1, 2], "int32"), np.array([1, 2], "uint8"), np.array([True, False])]
RIGHT = [np.array([3, 4], "int32"), 2, 2.0, np.array([1], "int64"), np.array([True, False]),
         np.array([1], "uint8"), np.array([1, 2], "int8"), np.array([0.5, 2.0], "float32")]


@pytest.mark.parametrize("op", OPS)
def test_integer_arithmetic_dtypes_match_keras(op):
    keras = pytest.importorskip("keras")
    for x in LEFT:
        for y in RIGHT:
            if op in ("subtract", "power") and x.dtype == bool and (
                    isinstance(y, np.ndarray) and y.dtype == bool):
                continue  # Keras (PyTorch) refuses bool - bool and bool ** bool
            want = getattr(keras.ops, op)(x, y)
            got = getattr(fk.ops, op)(x, y)
            assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (x.dtype, y)
            np.testing.assert_allclose(got.value, np.asarray(want), err_msg=f"{x.dtype} {y}")


def test_integer_results_are_constants_and_operators_follow():
    a = fk.ops.convert_to_tensor(np.array([3, 5], "int32"))
    assert (a + 1).dtype == np.int32 and (a * a).dtype == np.int32
    assert (a + 0.5).dtype == np.float32
    x = fk.Input((2,), dtype="int32")
    assert (x + 1).dtype == "int32"


def test_where_keeps_keras_dtypes():
    keras = pytest.importorskip("keras")
    cond = np.array([True, False])
    for x in (np.array([1, 2], "int32"), np.array([1, 2], "uint8"),
              np.array([1.0, 2.0], "float32"), 3, np.array([True, False])):
        for y in (np.array([5, 6], "int32"), 0, 0.5, np.array([5, 6], "uint8"),
                  np.array([1, 1], "int64")):
            want = keras.ops.where(cond, x, y)
            got = fk.ops.where(cond, x, y)
            assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (x, y)
            np.testing.assert_array_equal(got.value, np.asarray(want))
