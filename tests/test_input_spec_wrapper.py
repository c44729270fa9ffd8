"""`keras.layers.InputSpec` (checked on every call, eager and symbolic, with Keras's messages)
and the `keras.layers.Wrapper` base class for user-written wrappers."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.layers import InputSpec


def spec_layer(lib, spec):
    class Checked(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = spec(lib)

        def call(self, inputs):
            return inputs

    return Checked(name="checked")


SPECS = {
    "ndim": (lambda lib: lib.layers.InputSpec(ndim=3), (2, 4)),
    "min_ndim": (lambda lib: lib.layers.InputSpec(min_ndim=3), (2, 4)),
    "max_ndim": (lambda lib: lib.layers.InputSpec(max_ndim=2), (2, 4, 1)),
    "axes": (lambda lib: lib.layers.InputSpec(axes={-1: 5}), (2, 4)),
    "shape": (lambda lib: lib.layers.InputSpec(shape=(None, 3, 4)), (2, 3, 5)),
    "dtype": (lambda lib: lib.layers.InputSpec(dtype="int32"), (2, 3)),
}


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_a_failing_spec_raises_what_keras_raises(kind):
    keras = pytest.importorskip("keras")
    spec, shape = SPECS[kind]
    x = np.zeros(shape, np.float32)
    with pytest.raises(ValueError) as theirs:
        spec_layer(keras, spec)(x)
    with pytest.raises(ValueError) as ours:
        spec_layer(fk, spec)(x)
    assert "is incompatible with the layer" in str(ours.value)
    want = str(theirs.value).split("is incompatible with the layer:")[1].split("Full shape")[0]
    want = want.replace("torch.float32", "float32").strip()
    assert want.split(",")[0].split(" found")[0] in str(ours.value)


def test_passing_specs_and_the_symbolic_check():
    layer = spec_layer(fk, lambda lib: InputSpec(ndim=3, axes={-1: 4}))
    assert tuple(layer(np.zeros((2, 5, 4), np.float32)).shape) == (2, 5, 4)
    # A model definition fails at the layer, before any data.
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer(fk.Input((4,)))
    out = layer(fk.Input((None, 4)))  # a free axis is not checked
    assert out.shape == (None, None, 4)
    squeeze = spec_layer(fk, lambda lib: InputSpec(shape=(None, 3, 1),
                                                   allow_last_axis_squeeze=True))
    squeeze(np.zeros((2, 3), np.float32))


def test_named_specs_pick_inputs_from_a_dict():
    class Pair(fk.layers.Layer):
        def __init__(self):
            super().__init__()
            self.input_spec = [InputSpec(ndim=2, name="a"), InputSpec(ndim=3, name="b")]

        def call(self, inputs):
            return inputs["a"]

    Pair()({"b": np.zeros((1, 2, 2), np.float32), "a": np.zeros((1, 2), np.float32)})
    with pytest.raises(ValueError, match='Missing data for input "b"'):
        Pair()({"a": np.zeros((1, 2), np.float32)})
    with pytest.raises(ValueError, match="expects 2 input"):
        Pair()([np.zeros((1, 2), np.float32)])


def test_spec_config_and_errors():
    spec = InputSpec(dtype="float32", shape=(None, 4), axes={1: 4})
    assert InputSpec.from_config(spec.get_config()).get_config() == spec.get_config()
    assert repr(InputSpec(ndim=2)) == "InputSpec(ndim=2)"
    with pytest.raises(TypeError, match="axes"):
        InputSpec(axes={"last": 2})
    with pytest.raises(ValueError, match="greater than the maximum"):
        InputSpec(ndim=2, axes={3: 1})


class Scaled(fk.layers.Wrapper):
    """A user's wrapper: the wrapped layer's output times a factor."""

    def __init__(self, layer, factor=2.0, **kwargs):
        super().__init__(layer, **kwargs)
        self.factor = factor

    def call(self, inputs):
        return self.layer(inputs) * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_a_user_wrapper_builds_trains_and_saves(tmp_path, rng):
    model = fk.Sequential([fk.Input((3,)), Scaled(fk.layers.Dense(2), factor=3.0)])
    wrapper = model.layers[0]
    assert wrapper.layer.built and len(wrapper.weights) == 2
    x = rng.normal(size=(5, 3)).astype(np.float32)
    dense_out = x @ wrapper.layer.kernel.value + wrapper.layer.bias.value
    np.testing.assert_allclose(model.predict(x, verbose=0), 3 * dense_out, rtol=1e-5)
    model.save(tmp_path / "w.keras")
    again = fk.models.load_model(tmp_path / "w.keras", custom_objects={"Scaled": Scaled})
    assert again.layers[0].factor == 3.0
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert isinstance(fk.layers.TimeDistributed(fk.layers.Dense(2)), fk.layers.Wrapper)
    with pytest.raises(ValueError, match="Received: layer=3"):
        Scaled(3)


def test_input_with_an_existing_tensor():
    base = fk.Input((4,))
    assert fk.Input(tensor=base) is base
    assert fk.Input(shape=(4,), tensor=base) is base
    with pytest.raises(ValueError, match="must be a KerasTensor"):
        fk.Input(shape=(3,), tensor=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="does not match"):
        fk.Input(shape=(5,), tensor=base)
