"""The Layer and Model methods Keras 3 users override or call besides the everyday ones: the
saving hooks (`save_own_variables` / `load_own_variables`, `get_build_config` /
`build_from_config`, `get_compile_config` / `compile_from_config`), variables held as
attributes, `keras.Variable`'s constructor, `layer.path`, `compute_output_spec`, the
stateless calls, the state tree, compile's execution settings and `steps_per_execution`,
each compared with real Keras where it runs on the PyTorch backend."""

import numpy as np
import pytest

import fastkeras as fk


def keras3():
    return pytest.importorskip("keras")


def to_numpy(lib, value):
    return np.asarray(lib.ops.convert_to_numpy(value))


def data(rng, n=12):
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, x.sum(axis=1, keepdims=True).astype(np.float32)


# --- saving hooks --------------------------------------------------------------------------

def counting_layer(lib):
    """A layer that also saves a Python-side counter (as Keras's saving guide shows)."""

    @lib.saving.register_keras_serializable(package="api_test")
    class Counting(lib.layers.Layer):
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.calls = 0

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")

        def call(self, x):
            self.calls += 1
            return lib.ops.matmul(x, self.w)

        def save_own_variables(self, store):
            super().save_own_variables(store)
            store["calls"] = np.array(self.calls)

        def load_own_variables(self, store):
            self.calls = int(store["calls"][()])
            keys = list(store.keys())  # (Keras's store has keys(), not items())
            super().load_own_variables({k: store[k] for k in keys if k != "calls"})

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Counting


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_overridden_save_and_load_own_variables_both_ways(tmp_path, rng, suffix):
    keras = keras3()
    x, _ = data(rng)
    made = {}
    for lib in (fk, keras):
        layer = counting_layer(lib)(name="counting")
        model = lib.Sequential([lib.Input((3,)), layer])
        for _ in range(3):
            model(x)
        made[lib] = model
    made[keras].set_weights(made[fk].get_weights())
    for writer, reader in ((fk, keras), (keras, fk), (fk, fk)):
        path = tmp_path / f"{writer.__name__}_{reader.__name__}{suffix}"
        made[writer].layers[-1].calls = 7
        made[writer].save(path) if suffix == ".keras" else made[writer].save_weights(path)
        if suffix == ".keras":
            loaded = reader.models.load_model(path)
        else:
            loaded = reader.Sequential([reader.Input((3,)), counting_layer(reader)()])
            loaded.load_weights(path)
        layer = loaded.layers[-1]
        assert layer.calls == 7, (writer.__name__, reader.__name__)
        np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                                   np.asarray(made[fk].predict(x, verbose=0)), rtol=1e-5,
                                   atol=1e-6)


def test_default_load_own_variables_checks_the_count():
    layer = fk.layers.Dense(2)
    layer.build((None, 3))
    store = {}
    layer.save_own_variables(store)
    assert list(store) == ["0", "1"] and store["0"] is layer.kernel
    with pytest.raises(ValueError, match="expected 2 variables, but received 1"):
        layer.load_own_variables({"0": np.zeros((3, 2))})
    layer.load_own_variables({"0": np.ones((3, 2)), "1": np.full(2, 5.0)})
    np.testing.assert_array_equal(layer.bias.numpy(), [5.0, 5.0])
    unbuilt = fk.layers.Dense(2)
    with pytest.raises(ValueError, match="never built"):
        unbuilt.load_own_variables({"0": np.zeros((3, 2))})


def shaped_layer(lib):
    """Creates its weight from a size its build config carries (not from an input shape)."""

    @lib.saving.register_keras_serializable(package="api_test")
    class Shaped(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.size = None

        def build(self, input_shape):
            self.make(input_shape[-1] * 2)

        def make(self, size):
            self.size = size
            self.table = self.add_weight(shape=(size,), initializer="ones", name="table")
            self.built = True

        def call(self, x):
            return x * lib.ops.sum(self.table)

        def get_build_config(self):
            return {"size": self.size}

        def build_from_config(self, config):
            self.make(config["size"])

    return Shaped


def test_overridden_build_config_is_saved_and_used_when_loading(tmp_path, rng):
    keras = keras3()
    x, _ = data(rng)
    for writer, reader in ((fk, keras), (keras, fk), (fk, fk)):
        model = writer.Sequential([writer.Input((3,)), shaped_layer(writer)(name="shaped")])
        model(x)
        assert model.layers[0].get_build_config() == {"size": 6}
        path = tmp_path / f"{writer.__name__}_{reader.__name__}.keras"
        model.save(path)
        loaded = reader.models.load_model(path, custom_objects={"Shaped": shaped_layer(reader)})
        assert loaded.layers[0].size == 6 and loaded.layers[0].table.shape == (6,)
        np.testing.assert_allclose(to_numpy(reader, loaded(x)), x * 6.0, rtol=1e-6)


def test_build_config_of_a_built_layer_matches_keras():
    keras = keras3()
    for lib in (fk, keras):
        dense = lib.layers.Dense(2)
        assert dense.get_build_config() is None
        dense.build((None, 3))
        assert dense.get_build_config() == {"input_shape": (None, 3)}
        fresh = lib.layers.Dense(2)
        fresh.build_from_config({"input_shape": (None, 5)})
        assert fresh.built and fresh.kernel.shape == (5, 2)


def test_compile_config_is_keras_serialized_and_overridable(tmp_path, rng):
    keras = keras3()
    configs = {}
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        assert not model.get_compile_config()
        model.compile(lib.optimizers.Adam(0.01, name="adam"), "mse", metrics=["mae"],
                      loss_weights=[2.0])
        configs[lib] = model.get_compile_config()
    ours, theirs = configs[fk], configs[keras]
    assert set(ours) == set(theirs)
    for key in ("loss", "metrics", "loss_weights", "weighted_metrics", "run_eagerly",
                "steps_per_execution", "jit_compile"):
        assert ours[key] == theirs[key], key
    assert ours["optimizer"]["config"] == theirs["optimizer"]["config"]

    seen = []

    class Recompiling(fk.Model):

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = fk.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def compile_from_config(self, config):
            seen.append(config["loss"])
            super().compile_from_config(config)

    model = Recompiling()
    model.compile("sgd", "mae")
    x, y = data(rng)
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = fk.models.load_model(tmp_path / "m.keras",
                                  custom_objects={"Recompiling": Recompiling})
    assert seen == ["mae"] and loaded.compiled
    assert type(loaded.optimizer).__name__ == "SGD"


# --- variables -----------------------------------------------------------------------------

def holder_layer(lib):
    class Holder(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.scale = lib.Variable(np.full((3,), 2.0, np.float32), name="scale")
            self.count = lib.Variable(0.0, trainable=False, name="count")

        def call(self, x):
            self.count.assign(self.count + 1.0)
            return x * self.scale

    return Holder


def test_variables_held_as_attributes_are_weights_as_in_keras(tmp_path, rng):
    keras = keras3()
    x, y = data(rng)
    results = {}
    for lib in (fk, keras):
        layer = holder_layer(lib)()
        assert [v.name for v in layer.weights] == ["scale", "count"]
        assert [v.name for v in layer.trainable_weights] == ["scale"]
        assert [v.name for v in layer.non_trainable_weights] == ["count"]
        model = lib.Sequential([lib.Input((3,)), layer, lib.layers.Dense(1, kernel_initializer="ones")])
        model.compile(lib.optimizers.SGD(0.01), "mse")
        model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
        results[lib] = [np.asarray(w) for w in model.get_weights()]
        model.save_weights(tmp_path / f"{lib.__name__}.weights.h5")
    for a, b in zip(results[fk], results[keras]):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    # frozen layer: its attribute variables are frozen too
    layer = holder_layer(fk)()
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2


def test_variable_constructor_follows_keras():
    keras = keras3()
    for lib in (fk, keras):
        v = lib.Variable(initializer="ones", shape=(2, 3), name="w")
        assert v.shape == (2, 3) and str(v.dtype) == "float32" and v.name == "w"
        np.testing.assert_array_equal(np.asarray(v.numpy()), np.ones((2, 3)))
        v = lib.Variable(lib.initializers.Constant(3.0), shape=(2,), dtype="float32")
        np.testing.assert_array_equal(np.asarray(v.numpy()), [3.0, 3.0])
        assert str(lib.Variable(np.zeros(2)).dtype) == "float64"
        assert str(lib.Variable(1.5).dtype) == "float32"
        assert str(lib.Variable(np.zeros(2, np.float16)).dtype) == "float16"
        assert str(lib.Variable(np.int32(3), trainable=False).dtype) == "int32"
        v = lib.Variable(np.zeros(2, np.float32))
        assert (v.aggregation, v.synchronization, v.overwrite_with_gradient) == \
            ("none", "auto", False)
        with pytest.raises(ValueError, match="shape"):
            lib.Variable(initializer="zeros")
    with pytest.raises(ValueError, match="name"):
        fk.Variable(1.0, name="a/b")


def test_add_variable_and_add_metric():
    layer = fk.layers.Layer()
    v = layer.add_variable((2, 2), "zeros", name="z", trainable=False)
    assert v.shape == (2, 2) and not v.trainable and layer.non_trainable_weights == [v]
    with pytest.raises(NotImplementedError, match="add_metric"):
        layer.add_metric(1.0)


# --- paths, specs, metrics -----------------------------------------------------------------

def test_layer_paths_and_output_specs_match_keras():
    keras = keras3()
    for lib in (fk, keras):
        inputs = lib.Input((5,))
        hidden = lib.layers.Dense(4, name="hidden")
        model = lib.Sequential([inputs, hidden, lib.layers.Dropout(0.1, name="drop")],
                               name="outer")
        assert lib.layers.Dense(3).path is None
        assert hidden.path == "outer/hidden" and model.path == "outer"
        mha = lib.layers.MultiHeadAttention(2, 4, name="mha")
        mha(np.zeros((1, 3, 8), np.float32), np.zeros((1, 3, 8), np.float32))
        assert mha.path == "mha" and mha.query_dense.kernel.path == "mha/query/kernel"
        spec = lib.layers.Dense(4).compute_output_spec(lib.Input((3,)))
        assert tuple(spec.shape) == (None, 4) and spec.dtype == "float32"
        spec = lib.layers.LSTM(3, return_sequences=True, return_state=True).compute_output_spec(
            lib.Input((7, 2)))
        assert [tuple(s.shape) for s in spec] == [(None, 7, 3), (None, 3), (None, 3)]
        t = lib.Input((1, 3))
        assert tuple(t.squeeze().shape) == (None, 3) and not t.sparse and not t.ragged
        assert lib.layers.Dense(2).input_dtype == "float32"


def test_layer_metrics_are_the_metric_attributes():
    class Tracking(fk.layers.Layer):
        def __init__(self):
            super().__init__()
            self.mean = fk.metrics.Mean(name="mean_in")
            self.inner = fk.layers.Dense(2)

        def call(self, x):
            self.mean.update_state(x)
            return self.inner(x)

    class Outer(fk.layers.Layer):
        def __init__(self):
            super().__init__()
            self.tracking = Tracking()
            self.extra = [fk.metrics.Sum(name="sum")]

        def call(self, x):
            return self.tracking(x)

    layer = Outer()
    layer(np.ones((2, 3), np.float32))
    assert [m.name for m in layer.metrics] == ["sum", "mean_in"]
    assert [v.name for v in layer.metrics_variables] == ["total", "total", "count"]


# --- stateless calls ---------------------------------------------------------------------------

def bn_model(lib):
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4),
                            lib.layers.BatchNormalization(momentum=0.5), lib.layers.Dense(1)])
    return model


def test_stateless_call_matches_keras_and_leaves_the_model_alone(rng):
    keras = keras3()
    x, _ = data(rng)
    ours, theirs = bn_model(fk), bn_model(keras)
    theirs.set_weights(ours.get_weights())
    before = [w.copy() for w in ours.get_weights()]
    trainable = [rng.normal(size=v.shape).astype(np.float32) for v in ours.trainable_variables]
    non_trainable = [np.asarray(v.numpy()) for v in ours.non_trainable_variables]
    out_fk, state_fk = ours.stateless_call(trainable, non_trainable, x, training=True)
    out_k, state_k = theirs.stateless_call(trainable, non_trainable, x, training=True)
    np.testing.assert_allclose(np.asarray(out_fk), out_k.detach().numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip(state_fk, state_k):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip(ours.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="trainable_variables"):
        ours.stateless_call(trainable[:1], non_trainable, x)


def test_optimizer_and_metric_stateless_methods_match_keras(rng):
    keras = keras3()
    w0 = rng.normal(size=(3, 2)).astype(np.float32)
    grads = [rng.normal(size=(3, 2)).astype(np.float32)]
    results = {}
    for lib in (fk, keras):
        var = lib.Variable(w0.copy())
        opt = lib.optimizers.Adam(0.1)
        opt.build([var])
        state = [np.asarray(v.numpy()) for v in opt.variables]
        new_w, new_state = opt.stateless_apply(
            [lib.ops.convert_to_tensor(a) for a in state],
            [lib.ops.convert_to_tensor(g) for g in grads], [lib.ops.convert_to_tensor(w0 + 1.0)])
        np.testing.assert_array_equal(np.asarray(var.numpy()), w0)  # untouched
        assert int(np.asarray(opt.iterations.numpy())) == 0
        metric = lib.metrics.MeanSquaredError()
        zeros = metric.stateless_reset_state()
        updated = metric.stateless_update_state(zeros, np.ones((4, 2)), np.zeros((4, 2)))
        result = metric.stateless_result(updated)
        assert float(np.asarray(metric.result())) == 0.0
        results[lib] = [to_numpy(lib, a) for a in (*new_w, *new_state, *updated, result)]
    for a, b in zip(results[fk], results[keras]):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-6)


# --- the model's state tree and compile's execution settings --------------------------------------

def test_state_tree_matches_keras_and_round_trips(rng):
    keras = keras3()
    x, y = data(rng)
    trees = {}
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2, name="d"),
                                lib.layers.BatchNormalization(name="bn")], name="seq")
        model.compile(lib.optimizers.Adam(name="adam"), "mse", metrics=["mae"])
        model.fit(x, np.repeat(y, 2, axis=1), verbose=0)
        trees[lib] = model.get_state_tree("numpy_array")

    def paths(tree, prefix=""):
        out = []
        for k, v in tree.items():
            out += paths(v, f"{prefix}/{k}") if isinstance(v, dict) else [f"{prefix}/{k}"]
        return out
    assert paths(trees[fk]) == paths(trees[keras])
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(2, name="d"),
                           fk.layers.BatchNormalization(name="bn")], name="seq")
    model.compile("adam", "mse", metrics=["mae"])
    model.fit(x, np.repeat(y, 2, axis=1), verbose=0)
    model.set_state_tree(trees[fk])
    assert paths(model.get_state_tree()) == paths(trees[fk])
    np.testing.assert_array_equal(model.get_state_tree("numpy_array")["trainable_variables"]
                                  ["seq"]["d"]["kernel"],
                                  trees[fk]["trainable_variables"]["seq"]["d"]["kernel"])
    with pytest.raises(ValueError, match="value_format"):
        model.get_state_tree("lists")


def test_compile_execution_settings():
    keras = keras3()
    for lib in (fk, keras):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        model.compile("sgd", "mse")
        assert (model.run_eagerly, model.jit_compile, model.steps_per_execution) == \
            (False, False, 1)
        model.compile("sgd", "mse", run_eagerly=True, jit_compile=False)
        assert model.run_eagerly and not model.jit_compile
        assert model.get_compile_config()["run_eagerly"] is True
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(1)])
    with pytest.raises(ValueError, match="steps_per_execution"):
        model.compile("sgd", "mse", steps_per_execution=0)
    with pytest.raises(NotImplementedError, match="model.keras"):
        model.export("out")
    with pytest.raises(NotImplementedError, match="quantization"):
        model.quantize("int8")


class BatchRecorder(fk.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.begins, self.ends = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.begins.append(batch)

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append((batch, None if logs is None else round(logs["loss"], 6)))


@pytest.mark.parametrize("custom_step", [False, True])
def test_steps_per_execution_groups_the_batch_callbacks(rng, custom_step):
    """As Keras's graph backends run it: batch callbacks once per group of steps, numbered by
    the group's first and last step (a last short group keeps its full numbering); training
    is the same as step by step."""
    x, y = data(rng, n=40)

    class Custom(fk.Model):
        def __init__(self):
            super().__init__()
            self.dense = fk.layers.Dense(1, kernel_initializer="zeros")

        def call(self, inputs):
            return self.dense(inputs)

        if custom_step:
            def train_step(self, data):
                return super().train_step(data)

    weights = []
    for spe in (1, 3):
        fk.utils.set_random_seed(0)
        model = Custom()
        model.compile(fk.optimizers.SGD(0.1), "mse", steps_per_execution=spe)
        recorder = BatchRecorder()
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
                  callbacks=[recorder])
        weights.append(model.get_weights())
        if spe == 3:
            assert recorder.begins == [0, 3, 6, 9]
            assert [b for b, _ in recorder.ends] == [2, 5, 8, 11]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_train_test_predict_functions(rng):
    x, y = data(rng)
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(1)])
    model.compile(fk.optimizers.SGD(0.1), "mse")
    assert model.train_function is None
    train = model.make_train_function()
    assert model.make_train_function() is train and model.make_train_function(True) is not train
    before = model.get_weights()[0].copy()
    logs = model.train_function([(x, y)])
    assert "loss" in logs and not np.array_equal(model.get_weights()[0], before)
    assert "loss" in model.make_test_function()((x, y))
    np.testing.assert_allclose(np.asarray(model.make_predict_function()([(x,)])),
                               model.predict(x, verbose=0), rtol=1e-6)


# --- compiling without a loss ----------------------------------------------------------------

def added_loss_model(lib, with_dense=True):
    class AddLoss(lib.layers.Layer):
        def call(self, x):
            self.add_loss(lib.ops.mean(lib.ops.square(x)))
            return x

    inputs = lib.Input((3,))
    hidden = lib.layers.Dense(2, kernel_initializer="ones")(inputs) if with_dense else inputs
    return lib.Model(inputs, AddLoss()(hidden))


def test_compile_without_a_loss_trains_on_the_added_losses():
    """Keras's subclassing guide: `compile(optimizer)` alone when layers `add_loss`; fit and
    evaluate without targets; a model with no loss at all raises Keras's error."""
    keras = keras3()
    x = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    results = {}
    for lib in (fk, keras):
        model = added_loss_model(lib)
        model.compile("sgd")
        history = model.fit(x, epochs=2, verbose=0, shuffle=False)
        results[lib] = history.history["loss"] + [model.evaluate(x, verbose=0)]
        plain = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        plain.compile("sgd")
        with pytest.raises(ValueError, match="No loss to compute"):
            plain.fit(x, x[:, :1], verbose=0)
    np.testing.assert_allclose(results[fk], results[keras], rtol=1e-5)


def test_compiling_again_without_a_loss_keeps_the_loss_and_metrics():
    keras = keras3()
    x = np.full((2, 3), 0.5, np.float32)
    y = np.zeros((2, 3), np.float32)
    results = {}
    for lib in (fk, keras):
        model = added_loss_model(lib, with_dense=False)
        model.compile("adam", "mse", metrics=["mae"])
        first = model.fit(x, y, verbose=0).history
        model.compile("adam")
        with pytest.warns(UserWarning, match="does not have any trainable weights"):
            second = model.fit(x, y, verbose=0).history
        assert sorted(second) == ["loss", "mae"]
        assert model.get_compile_config()["loss"] is None
        results[lib] = [first["loss"][0], second["loss"][0], second["mae"][0]]
    np.testing.assert_allclose(results[fk], results[keras], rtol=1e-6)


def test_variables_include_seed_states_as_in_keras():
    """`variables` / `non_trainable_variables` hold the weights and the seed generators'
    states (not metric variables), in Keras's order and with Keras's paths; `weights` stay
    the weights."""
    keras = keras3()
    x = np.ones((4, 3), np.float32)
    paths = {}
    for lib in (fk, keras):
        class Tracked(lib.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.seen = lib.metrics.Sum(name="seen")

            def call(self, inputs):
                return inputs

        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, name="d"),
                                lib.layers.Dropout(0.5, seed=1), Tracked(name="t"),
                                lib.layers.BatchNormalization(name="bn"),
                                lib.layers.Dropout(0.3, seed=2)], name="seq")
        model.compile("adam", "mse", metrics=["mae"])
        model.fit(x, np.ones((4, 4), np.float32), verbose=0)
        strip = lambda vs: [v.path.split("/")[-1] if "seed_generator" in v.path else v.path
                            for v in vs]
        paths[lib] = (strip(model.variables), strip(model.non_trainable_variables),
                      [v.path for v in model.weights])
        trainable = [np.asarray(lib.ops.convert_to_numpy(v)) for v in model.trainable_variables]
        state = [lib.ops.convert_to_tensor(np.asarray(lib.ops.convert_to_numpy(v)))
                 for v in model.non_trainable_variables]
        _, new_state = model.stateless_call(trainable, state, x)
        assert len(new_state) == len(model.non_trainable_variables)
    assert paths[fk] == paths[keras]
