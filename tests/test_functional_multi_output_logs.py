"""Several outputs against Keras 3.15: the log keys of a subclassed model returning a list,
class_weight (refused with Keras's message), per-output sample weights, and validation_split
with dict inputs."""

import numpy as np
import pytest

import fastkeras as fk

keras3 = pytest.importorskip("keras")

RNG = np.random.default_rng(5)
X = RNG.normal(size=(16, 3)).astype("float32")
YS = [RNG.normal(size=(16, 2)).astype("float32"), RNG.normal(size=(16, 1)).astype("float32")]


def two_output_subclass(lib):
    class TwoHeads(lib.Model):
        def __init__(self):
            super().__init__()
            self.a = lib.layers.Dense(2)
            self.b = lib.layers.Dense(1)

        def call(self, x):
            return [self.a(x), self.b(x)]

    return TwoHeads()


def history_keys(lib, loss, metrics=None, **fit_kwargs):
    model = two_output_subclass(lib)
    model.compile(optimizer="sgd", loss=loss, metrics=metrics)
    return sorted(model.fit(X, YS, epochs=1, verbose=0, **fit_kwargs).history)


@pytest.mark.parametrize("loss, metrics", [
    (["mse", "mae"], None),
    (["mse", "mae"], [["mae"], ["mse"]]),
    (["mae", "mean_squared_error"], [["mae"], []]),
])
def test_subclassed_list_of_losses_logs_keras_keys(loss, metrics):
    ours = history_keys(fk, loss, metrics, validation_split=0.25)
    theirs = history_keys(keras3, loss, metrics, validation_split=0.25)
    assert ours == theirs


def test_subclassed_loss_object_is_logged_by_its_name():
    assert history_keys(fk, [fk.losses.MeanSquaredError(), "mae"]) == \
        history_keys(keras3, [keras3.losses.MeanSquaredError(), "mae"]) == \
        ["loss", "mae_loss", "mean_squared_error_loss"]


def test_colliding_keras_keys_are_made_unique():
    """Keras 3.15 logs one `mse_loss` for two outputs both using "mse" (one output's value
    hides the other's). We keep both, suffixing the second as Keras suffixes colliding metric
    names ('mae', 'mae_1')."""
    ours = history_keys(fk, ["mse", "mse"], [["mae"], ["mae"]])
    theirs = history_keys(keras3, ["mse", "mse"], [["mae"], ["mae"]])
    assert theirs == ["loss", "mae", "mae_1", "mse_loss"]
    assert ours == ["loss", "mae", "mae_1", "mse_loss", "mse_loss_1"]
    assert history_keys(fk, "mse") == ["loss", "mse_loss", "mse_loss_1"]


def functional_two_outputs(lib, dict_inputs=False):
    a = lib.Input((3,), name="a")
    b = lib.Input((2,), name="b")
    h = lib.layers.Dense(4, activation="tanh", name="h")(lib.layers.Concatenate()([a, b]))
    outs = [lib.layers.Dense(2, name="main")(h), lib.layers.Dense(1, name="aux")(h)]
    return lib.Model({"a": a, "b": b} if dict_inputs else [a, b], outs)


def pair(**kwargs):
    ours, theirs = functional_two_outputs(fk, **kwargs), functional_two_outputs(keras3, **kwargs)
    theirs.set_weights(ours.get_weights())
    for m, lib in ((ours, fk), (theirs, keras3)):
        m.compile(optimizer=lib.optimizers.SGD(0.05), loss=["mse", "mae"],
                  loss_weights=[1.0, 0.5])
    return ours, theirs


INPUTS = [RNG.normal(size=(16, 3)).astype("float32"), RNG.normal(size=(16, 2)).astype("float32")]


def test_class_weight_with_several_outputs_raises_keras_message():
    ours, theirs = pair()
    with pytest.raises(ValueError) as theirs_error:
        theirs.fit(INPUTS, YS, class_weight={0: 1.0, 1: 2.0}, epochs=1, verbose=0)
    with pytest.raises(ValueError) as ours_error:
        ours.fit(INPUTS, YS, class_weight={0: 1.0, 1: 2.0}, epochs=1, verbose=0)
    assert str(ours_error.value) == str(theirs_error.value) == \
        "`class_weight` is only supported for Models with a single output."


@pytest.mark.parametrize("as_dict", [False])  # Keras 3.15 fails on dict targets here
def test_per_output_sample_weights_match_keras(as_dict):
    ours, theirs = pair()
    sw = [np.linspace(0.0, 2.0, 16).astype("float32"), (np.arange(16) % 3).astype("float32")]
    y = YS
    if as_dict:  # Keras wants the weights in the targets' structure
        sw = {"main": sw[0], "aux": sw[1]}
        y = {"main": YS[0], "aux": YS[1]}
    got = ours.fit(INPUTS, y, sample_weight=sw, batch_size=16, shuffle=False, verbose=0).history
    want = theirs.fit(INPUTS, y, sample_weight=sw, batch_size=16, shuffle=False,
                      verbose=0).history
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6)
    for w_ours, w_theirs in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-5, atol=1e-6)


def test_validation_split_with_dict_inputs_matches_keras():
    ours, theirs = pair(dict_inputs=True)
    x = {"a": INPUTS[0], "b": INPUTS[1]}
    h_ours = ours.fit(x, YS, validation_split=0.25, batch_size=4, epochs=2, shuffle=False,
                      verbose=0).history
    h_theirs = theirs.fit(x, YS, validation_split=0.25, batch_size=4, epochs=2, shuffle=False,
                          verbose=0).history
    assert sorted(h_ours) == sorted(h_theirs)
    assert "val_main_loss" in h_ours
    for key in h_theirs:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=1e-5, atol=1e-5)
