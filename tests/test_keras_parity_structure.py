"""Keras-compatibility of model structure and small APIs, each checked against real Keras 3
running the same code: a functional model's input spec, layer.input/.output of calls with
several tensors, multi-output shapes, get_layer indices, Bidirectional direction checks, a
refused training step leaving the weights alone, Python types as dtypes, utils.normalize on
tensors and the names of unnamed variables."""

import numpy as np
import pytest

import fastkeras as fk
from side_by_side import as_numpy as _np
from side_by_side import both_libraries
from side_by_side import error_of as _error

keras, LIBS, IDS = both_libraries()


def _base(lib):
    i = lib.Input((8, 8, 3), name="img")
    return lib.Model(i, lib.layers.Conv2D(2, 3, name="conv")(i), name="base")


def test_a_functional_model_refuses_inputs_of_another_size_as_keras():
    want = ("ValueError", ("Input 0 with name 'img' of layer 'base' is incompatible with the "
                           "layer: expected shape=(None, 8, 8, 3), found shape=(2, 9, 9, 3)"))
    for lib in LIBS:
        base = _base(lib)
        assert [s.shape for s in base.input_spec] == [(None, 8, 8, 3)]
        assert _error(lambda: base(np.zeros((2, 9, 9, 3), "float32"))) == want
        assert _error(lambda: base.predict(np.zeros((2, 9, 9, 3), "float32"),
                                           verbose=0))[0] == "ValueError"
        symbolic = _error(lambda: base(lib.Input((9, 9, 3))))
        assert symbolic[0] == "ValueError" and "expected shape=(None, 8, 8, 3)" in symbolic[1]
        assert tuple(base(np.zeros((2, 8, 8, 3), "float32")).shape) == (2, 6, 6, 2)
        # a trailing axis of size 1 may be left off, as the rank adjustment allows
        i = lib.Input((4, 1))
        squeeze = lib.Model(i, lib.layers.Flatten()(i))
        assert tuple(squeeze.predict(np.ones((3, 4), "float32"), verbose=0).shape) == (3, 4)
        # dict inputs: one spec per key, in sorted key order
        inputs = {"y": lib.Input((2,), name="y"), "x": lib.Input((3,), name="x")}
        joined = lib.Model(inputs, lib.layers.Concatenate()([inputs["x"], inputs["y"]]))
        assert [s.shape for s in joined.input_spec] == [(None, 3), (None, 2)]
        bad = _error(lambda: joined({"x": np.zeros((2, 3), "float32"),
                                     "y": np.zeros((2, 4), "float32")}))
        assert bad[0] == "ValueError" and "Input 1 with name 'y'" in bad[1], bad
        missing = _error(lambda: joined({"x": np.zeros((2, 3), "float32")}))
        assert missing[0] == "ValueError" and 'Missing data for input "y"' in missing[1]
        # a spec set by hand replaces the derived one
        base.input_spec = None
        assert base.input_spec is None
        assert tuple(base(np.zeros((1, 9, 9, 3), "float32")).shape) == (1, 7, 7, 2)


def test_a_refused_sgd_step_leaves_every_weight_as_it_was():
    # Unfreezing a layer without compiling again: the step raises and changes nothing.
    # (The forward pass has run: BatchNormalization's moving statistics move, in both.)
    x = np.random.default_rng(0).normal(size=(16, 5)).astype("float32")
    y = np.random.default_rng(1).normal(size=(16, 1)).astype("float32")
    weights, after = None, []
    for lib in LIBS:
        i = lib.Input((5,))
        norm = lib.layers.BatchNormalization(name="b2")
        model = lib.Model(i, lib.layers.Dense(1, name="d")(norm(i)))
        if weights is None:
            weights = [_np(w) for w in model.get_weights()]
        model.set_weights(weights)
        norm.trainable = False
        model.compile("sgd", "mse")
        model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        learned = ("d/kernel", "d/bias", "b2/gamma", "b2/beta")
        before = {w.path: _np(w).copy() for w in model.weights if w.path in learned}
        norm.trainable = True
        with pytest.raises(ValueError, match="Unknown variable: .*b2/gamma"):
            model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        assert len(before) == 4
        for w in model.weights:
            if w.path in learned:
                np.testing.assert_array_equal(before[w.path], _np(w))
        after.append([_np(w) for w in model.get_weights()])
    for a, b in zip(*after):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_get_layer_takes_any_integer_index_as_keras():
    results = []
    for lib in LIBS:
        model = _base(lib)
        got = [model.get_layer(index=np.int64(1)).name, model.get_layer(index=-1).name]
        for index in (2, -3, 1.0):
            got.append(_error(lambda: model.get_layer(index=index))[0])
        results.append(got)
    assert results[0] == results[1] == ["conv", "conv", "ValueError", "IndexError",
                                        "TypeError"]


def _seq2seq(lib):
    enc_in = lib.Input((None, 3), name="enc")
    _, h, c = lib.layers.LSTM(4, return_state=True, name="encoder")(enc_in)
    dec_in = lib.Input((None, 5), name="dec")
    decoder = lib.layers.LSTM(4, return_sequences=True, return_state=True, name="decoder")
    seq, _, _ = decoder(dec_in, initial_state=[h, c])
    out = lib.layers.Dense(5, activation="softmax", name="out")(seq)
    return lib.Model([enc_in, dec_in], out)


def test_layer_input_and_output_list_every_tensor_of_the_call_as_keras():
    weights = None
    results = []
    for lib in LIBS:
        model = _seq2seq(lib)
        if weights is None:
            weights = [_np(w) for w in model.get_weights()]
        model.set_weights(weights)
        encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
        assert type(encoder.output) is list and len(encoder.output) == 3
        assert type(decoder.input) is list
        assert [tuple(t.shape) for t in decoder.input] == [(None, None, 5), (None, 4),
                                                           (None, 4)]
        # keras.io's seq2seq inference models, rebuilt from the trained model's layers
        states = encoder.output[1:]
        encoder_model = lib.Model(model.input[0], states)
        h_in, c_in = lib.Input((4,)), lib.Input((4,))
        seq, h, c = decoder(model.input[1], initial_state=[h_in, c_in])
        decoder_model = lib.Model([model.input[1], h_in, c_in],
                                  [model.get_layer("out")(seq), h, c])
        x = np.random.default_rng(2).normal(size=(2, 6, 3)).astype("float32")
        state_values = encoder_model.predict(x, verbose=0)
        assert type(state_values) is list
        step = np.zeros((2, 1, 5), "float32")
        probs, h1, _ = decoder_model.predict([step] + state_values, verbose=0)
        # a model straight from one layer call's inputs and outputs
        whole = lib.Model(decoder.input, decoder.output)
        assert len(whole.inputs) == 3 and len(whole.outputs) == 3
        shapes = decoder.compute_output_shape((2, 6, 5))
        results.append((_np(probs), _np(h1), type(shapes).__name__,
                        [tuple(s) for s in shapes]))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)
    assert results[0][2:] == results[1][2:] == ("tuple", [(2, 6, 4), (2, 4), (2, 4)])


def test_recurrent_layers_keep_their_cells_weights_to_the_cell_as_keras():
    for lib in LIBS:
        lstm = lib.layers.LSTM(3)
        lstm.build((None, 2, 4))
        assert not hasattr(lstm, "kernel") and not hasattr(lstm, "recurrent_kernel")
        assert lstm.units == 3 and tuple(lstm.cell.kernel.shape) == (4, 12)
        with pytest.raises(AttributeError, match="'LSTM' object has no attribute"):
            lstm.get_output_at  # noqa: B018 - the lookup is what is checked


def test_bidirectional_refuses_two_backward_directions_as_keras():
    want = ("ValueError", ("Forward layer and backward layer should have different "
                           "`go_backwards` value. Received: forward_layer.go_backwards True, "
                           "backward_layer.go_backwards=True"))
    for lib in LIBS:
        assert _error(lambda: lib.layers.Bidirectional(
            lib.layers.LSTM(2, go_backwards=True))) == want
        both = lib.layers.Bidirectional(lib.layers.LSTM(2))
        assert both.backward_layer.go_backwards and not both.forward_layer.go_backwards


def test_python_types_name_32_bit_dtypes_as_keras():
    results = []
    for lib in LIBS:
        ops = lib.ops
        values = [ops.ones((1,), dtype=float), ops.cast(np.ones(2), float),
                  ops.arange(3, dtype=int), ops.zeros((2,), dtype=int),
                  ops.full((2,), 3, dtype=float), ops.convert_to_tensor([1, 2], dtype=int),
                  ops.zeros_like(np.ones(2), dtype=int),
                  lib.random.normal((2,), dtype=float, seed=1),
                  lib.random.randint((2,), 0, 5, dtype=int, seed=1)]
        got = [lib.backend.standardize_dtype(v.dtype) for v in values]
        got.append(lib.Input((1,), dtype=int).dtype)
        got.append(lib.layers.Dense(1, dtype=float).dtype)
        got.append(lib.backend.standardize_dtype(lib.Variable(np.ones(2), dtype=int,
                                                              trainable=False).dtype))
        results.append(got)
    assert results[0] == results[1]
    assert results[0] == ["float32", "float32", "int32", "int32", "float32", "int32", "int32",
                          "float32", "int32", "int32", "float32", "int32"]


def test_normalize_gives_a_tensor_for_tensors_and_lists_as_keras():
    data = np.array([[3.0, 4.0], [0.0, 0.0]], "float32")
    for lib in LIBS:
        for given in (lib.ops.convert_to_tensor(data), data.tolist()):
            out = lib.utils.normalize(given)
            assert lib.ops.is_tensor(out)
            np.testing.assert_allclose(_np(out), [[0.6, 0.8], [0.0, 0.0]], atol=1e-6)
        assert isinstance(lib.utils.normalize(data), np.ndarray)


def test_unnamed_variables_get_numbered_names_as_keras():
    results = []
    for lib in LIBS:
        lib.backend.clear_session()
        first, second = lib.Variable(np.ones(2)), lib.Variable(np.ones(2))
        named = lib.Variable(np.ones(2), name="variable")
        third = lib.Variable(np.ones(2))
        results.append([(v.name, v.path) for v in (first, second, named, third)])
    assert results[0] == results[1]
    assert [name for name, _ in results[0]] == ["variable", "variable_1", "variable",
                                                "variable_2"]


def test_a_verbose_2_progress_bar_prints_only_a_known_target_as_keras(capsys):
    for lib in LIBS:
        unknown = lib.utils.Progbar(target=None, verbose=2)
        unknown.update(2, [("loss", 2.0)], finalize=True)
        assert capsys.readouterr().out == ""
        known = lib.utils.Progbar(target=2, verbose=2)
        known.update(2, [("loss", 2.0)], finalize=True)
        line = capsys.readouterr().out
        assert line.startswith("2/2 - ") and line.endswith("loss: 2.0000\n"), line


def _gpt_like(lib):
    tokens = lib.Input((6,), dtype="int32")
    x = lib.layers.Embedding(12, 8, name="emb")(tokens)
    x = lib.layers.Dense(8, activation="relu", name="block")(x)
    logits = lib.layers.Dense(12, name="logits")(x)
    return lib.Model(tokens, [logits, x])


def test_targets_go_to_the_outputs_that_have_a_loss_as_keras():
    # keras.io's miniature GPT: outputs=[logits, x], loss=[loss_fn, None], fit(x, y)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 12, size=(16, 6)).astype("int32")
    y = rng.integers(0, 12, size=(16, 6)).astype("int32")
    results = []
    for lib, model in _with_same_weights(_gpt_like):
        loss = lib.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile("adam", loss=[loss, None])
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        results.append((history.history["loss"], model.evaluate(x, y, verbose=0)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5)


def test_attention_takes_inputs_of_any_rank_as_keras():
    rng = np.random.default_rng(4)
    results = []
    for lib in LIBS:
        got = []
        for shape in ((2, 3, 5, 4), (2, 8)):
            q = rng.normal(size=shape).astype("float32")
            v = rng.normal(size=shape).astype("float32")
            out, scores = lib.layers.Attention()([q, v], return_attention_scores=True)
            got.append((_np(out), _np(scores)))
        results.append(got)
        rng = np.random.default_rng(4)
    for (a_out, a_scores), (b_out, b_scores) in zip(*results):
        np.testing.assert_allclose(a_out, b_out, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a_scores, b_scores, rtol=1e-5, atol=1e-6)
    assert results[0][0][1].shape == (2, 3, 5, 5)


def test_a_model_of_dict_inputs_given_a_list_as_keras():
    one, two = np.array([[1.0]], "float32"), np.array([[2.0]], "float32")
    for lib in LIBS:
        b, a = lib.Input((1,), name="b"), lib.Input((1,), name="a")
        joined = lib.layers.Concatenate()([a, b * 10.0])
        unsorted = lib.Model({"b": b, "a": a}, joined)
        refused = _error(lambda: unsorted([one, two]))
        assert refused[0] == "ValueError"
        assert "The structure of `inputs` doesn't match the expected structure." in refused[1]
        assert "Expected: {'b': 'b', 'a': 'a'}" in refused[1]
        in_order = lib.Model({"a": a, "b": b}, joined)
        with pytest.warns(UserWarning, match="doesn't match the expected structure"):
            taken = in_order([one, two])
        np.testing.assert_allclose(_np(taken), [[1.0, 20.0]])


def _dense_model(lib):
    return lib.Sequential([lib.Input((3,)), lib.layers.Dense(2), lib.layers.Dense(1)])


def _with_same_weights(build):
    """(library, model) for each library: the models `build(lib)` makes, all starting from
    the first one's weights."""
    weights = None
    for lib in LIBS:
        model = build(lib)
        if weights is None:
            weights = [_np(w) for w in model.get_weights()]
        model.set_weights(weights)
        yield lib, model


def _small_data():
    rng = np.random.default_rng(5)
    return rng.normal(size=(10, 3)).astype("float32"), rng.normal(size=(10, 1)).astype("float32")


def test_batch_methods_update_the_loss_tracker_as_keras():
    x, y = _small_data()
    results = []
    for _, model in _with_same_weights(_dense_model):
        model.compile("sgd", "mse", metrics=["mae"])
        got = [model.train_on_batch(x, y)]
        got.append({k: float(_np(v)) for k, v in model.get_metrics_result().items()})
        got.append(model.test_on_batch(x, y))
        got.append(float(_np(model.metrics[0].result())))
        results.append(got)
    fk_got, keras_got = results
    np.testing.assert_allclose(fk_got[0], keras_got[0], rtol=1e-5)
    assert fk_got[1].keys() == keras_got[1].keys() and fk_got[1]["loss"] > 0
    for key in keras_got[1]:
        np.testing.assert_allclose(fk_got[1][key], keras_got[1][key], rtol=1e-5)
    np.testing.assert_allclose(fk_got[2], keras_got[2], rtol=1e-5)
    np.testing.assert_allclose(fk_got[3], keras_got[3], rtol=1e-5)
    assert fk_got[3] == pytest.approx(fk_got[2][0])


def test_a_per_sample_loss_is_logged_as_its_mean_as_keras():
    x, y = _small_data()
    results = []
    for lib, model in _with_same_weights(_dense_model):
        model.compile("sgd", lib.losses.MeanSquaredError(reduction="none"))
        results.append((model.evaluate(x, y, batch_size=5, verbose=0),
                        model.test_on_batch(x, y)))
        if lib is fk:  # training needs a scalar: a clear error (Keras's torch backend fails)
            with pytest.raises(ValueError, match="must be a scalar; it has shape \\(5,\\)"):
                model.fit(x, y, batch_size=5, verbose=0)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)


def test_run_eagerly_alone_gives_no_jit_warning_and_short_data_warns_as_keras():
    import warnings
    x, y = _small_data()
    for lib in LIBS:
        model = _dense_model(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.compile("sgd", "mse", run_eagerly=True)
        with pytest.warns(UserWarning, match="jit_compile"):
            model.compile("sgd", "mse", run_eagerly=True, jit_compile=True)
        with pytest.warns(UserWarning, match="Your input ran out of data"):
            model.evaluate(x, y, batch_size=5, steps=4, verbose=0)
        with pytest.warns(UserWarning, match="Your input ran out of data"):
            assert model.predict(x, batch_size=5, steps=4, verbose=0).shape == (10, 1)


_FRESH_LOAD = """
import sys
import numpy as np
import fastkeras
model = fastkeras.models.load_model(sys.argv[1])
np.save(sys.argv[2], model.predict(np.load(sys.argv[3]), verbose=0))
"""


def test_files_with_the_applications_own_layers_load_anywhere(tmp_path):
    # ConvNeXt's LayerScale and InceptionResNetV2's CustomScaleLayer are written under
    # Keras's modules, so Keras finds them; fastkeras finds them in a fresh process too.
    import json
    import os
    import subprocess
    import sys
    import zipfile

    from fastkeras.applications.convnext import LayerScale
    from fastkeras.applications.inception_resnet_v2 import CustomScaleLayer
    i = fk.Input((4, 3))
    x = LayerScale(0.5, 3, name="scale")(i)
    out = CustomScaleLayer(0.2, name="residual")([i, x])
    model = fk.Model(i, out)
    model.get_layer("scale").set_weights([np.array([1.0, 2.0, 3.0], "float32")])
    data = np.random.default_rng(6).normal(size=(2, 4, 3)).astype("float32")
    want = model.predict(data, verbose=0)
    path = str(tmp_path / "apps.keras")
    model.save(path)
    layers = json.loads(zipfile.ZipFile(path).read("config.json"))["config"]["layers"]
    specs = {entry["class_name"]: (entry["module"], entry["registered_name"]) for entry in layers}
    assert specs["LayerScale"] == ("keras.src.applications.convnext", "LayerScale")
    assert specs["CustomScaleLayer"] == ("keras.src.applications.inception_resnet_v2",
                                         "CustomScaleLayer")
    theirs = keras.models.load_model(path)
    np.testing.assert_allclose(_np(theirs.predict(data, verbose=0)), want, rtol=1e-6)
    keras_path = str(tmp_path / "apps_keras.keras")
    theirs.save(keras_path)
    np.save(tmp_path / "x.npy", data)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for saved in (path, keras_path):
        subprocess.run([sys.executable, "-c", _FRESH_LOAD, saved, str(tmp_path / "out.npy"),
                        str(tmp_path / "x.npy")], check=True, env=env)
        np.testing.assert_allclose(np.load(tmp_path / "out.npy"), want, rtol=1e-6)


def test_integer_lookup_takes_only_an_int64_vocabulary_as_keras():
    # (Keras's lookup layers need TensorFlow to be built at all; the message is its source's.)
    assert _error(lambda: fk.layers.IntegerLookup(vocabulary_dtype="int32")) == (
        "ValueError", ("Only `vocabulary_dtype='int64'` is supported at this time. Received: "
                       "vocabulary_dtype=int32"))


def test_binary_accuracy_takes_any_threshold_as_keras():
    y = np.array([[1.0], [0.0], [1.0], [0.0]], "float32")
    logits = np.array([[0.3], [-0.2], [-0.1], [0.4]], "float32")
    results = []
    for lib in LIBS:
        metric = lib.metrics.BinaryAccuracy(threshold=0.0)
        metric.update_state(y, logits)
        results.append((float(_np(metric.result())), metric.get_config()["threshold"]))
    assert results[0] == results[1] == (0.5, 0.0)


def test_summary_lists_stateless_layers_of_an_unbuilt_model_as_keras(capsys):
    texts = []
    for lib in LIBS:
        layers = lib.layers
        lib.Sequential([layers.Embedding(10, 4), layers.Dropout(0.2),
                        layers.GlobalAveragePooling1D(), layers.Dense(1)]).summary()
        rows = [line.split("│") for line in capsys.readouterr().out.split("\n")
                if line.count("│") == 4]
        texts.append([row[3].strip() for row in rows if row[3].strip()])
    assert texts[0] == texts[1] == ["0 (unbuilt)", "0", "0", "0 (unbuilt)"]


def test_load_weights_refuses_an_unknown_file_format_as_keras(tmp_path):
    path = str(tmp_path / "my_checkpoint")
    errors = [_error(lambda: _dense_model(lib).load_weights(path)) for lib in LIBS]
    assert errors[0][0] == errors[1][0] == "ValueError"
    assert errors[0][1].startswith(f"File format not supported: filepath={path}. Keras 3 only")


def test_text_vectorization_with_a_custom_standardize_reloads(tmp_path):
    # (Keras's TextVectorization needs TensorFlow; its from_config deserializes the function.)
    def custom_standardization(texts):
        return np.char.lower(texts)

    layer = fk.layers.TextVectorization(standardize=custom_standardization,
                                        output_sequence_length=3)
    layer.adapt(["The cat", "a Dog", "the dog"])
    model = fk.Sequential([fk.Input((1,), dtype="string"), layer])
    path = str(tmp_path / "text.keras")
    model.save(path)
    loaded = fk.models.load_model(
        path, custom_objects={"custom_standardization": custom_standardization})
    data = np.array([["THE Dog"], ["cat"]])
    np.testing.assert_array_equal(_np(loaded.predict(data, verbose=0)),
                                  _np(model.predict(data, verbose=0)))
    assert loaded.layers[0]._standardize is custom_standardization


def test_schedules_take_an_array_of_steps_as_keras():
    # The overfitting tutorial plots a schedule over many steps at once.
    steps = np.array([0, 25, 100, 150, 1000], "float32")
    results = []
    for lib in LIBS:
        schedules = lib.optimizers.schedules
        made = [schedules.InverseTimeDecay(0.001, 100, 1.0),
                schedules.InverseTimeDecay(0.001, 100, 1.0, staircase=True),
                schedules.ExponentialDecay(0.1, 100, 0.5),
                schedules.CosineDecay(0.1, 500, alpha=0.1),
                schedules.PolynomialDecay(0.1, 200, cycle=True),
                schedules.PolynomialDecay(0.1, 200),
                schedules.CosineDecayRestarts(0.1, 100, t_mul=2.0, m_mul=0.9)]
        results.append([_np(lib.ops.convert_to_numpy(s(steps))) for s in made])
    for ours, theirs in zip(*results):
        assert ours.shape == (5,) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    warmup = fk.optimizers.schedules.CosineDecay(0.0, 500, warmup_target=0.1, warmup_steps=100)
    values = _np(warmup(steps))
    np.testing.assert_allclose(values[:3], [0.0, 0.025, 0.1], rtol=1e-6)
    assert values[2] == _np(warmup(100))


def test_load_weights_skips_the_state_of_an_unbuilt_optimizer_as_keras(tmp_path):
    x, y = _small_data()
    results = []
    for lib, model in _with_same_weights(_dense_model):
        model.compile(lib.optimizers.Adam(0.01), "mse")
        model.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0)
        path = str(tmp_path / f"{lib.__name__}.weights.h5")
        model.save_weights(path)
        fresh = _dense_model(lib)
        fresh.compile(lib.optimizers.Adam(0.01), "mse")
        with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
            fresh.load_weights(path)
        history = fresh.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
        results.append((int(_np(fresh.optimizer.iterations)), history.history["loss"][0]))
    assert results[0][0] == results[1][0] == 2  # counted from 0 again
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5)


def test_the_root_namespace_lists_its_lazily_imported_names_as_keras():
    # Tab completion reads dir(): the submodules imported on first use must be there before it.
    import subprocess
    import sys
    code = ("import fastkeras, sys; names = dir(fastkeras); "
            "print(sorted(n for n in ('optimizers', 'losses', 'metrics', 'datasets', 'utils', "
            "'Loss', 'Metric', 'Optimizer', 'layers') if n not in names))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_legacy_optimizers_explain_they_are_gone_as_keras(lib):
    for name in ("Adam", "SGD", "RMSprop", "Adagrad", "Ftrl", "Optimizer"):
        with pytest.raises(ImportError, match=r"`keras.optimizers.legacy` is not supported"):
            getattr(lib.optimizers.legacy, name)(learning_rate=1e-3)


def _nested_net(lib):
    layers = lib.layers

    class Net(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.blocks = [[layers.Dense(4, name=f"a{i}"), layers.Dense(4, name=f"b{i}")]
                           for i in range(2)]
            self.heads = {"x": {"y": layers.Dense(3, name="h")}}
            self.late = [[], ()]
            self.late[0].append(layers.Dense(2, name="late"))  # tracked in an inner list too
            self.out = layers.Dense(1, name="o")

        def call(self, x):
            for a, b in self.blocks:
                x = b(a(x))
            return self.out(self.late[0][0](self.heads["x"]["y"](x)))

    net = Net()
    net(np.ones((1, 4), "float32"))
    return net


def test_layers_in_nested_lists_and_dicts_are_tracked_trained_and_saved_as_keras(tmp_path):
    x = np.random.default_rng(0).random((8, 4)).astype("float32")
    y = np.random.default_rng(1).random((8, 1)).astype("float32")
    nets = {}
    for lib, name in zip(LIBS, IDS):
        net = nets[name] = _nested_net(lib)
        assert [l.name for l in net.layers] == ["a0", "b0", "a1", "b1", "h", "late", "o"]
        assert len(net.weights) == 14 and net.count_params() == 106
        before = _np(net.blocks[0][0].kernel).copy()
        net.compile("sgd", "mse")
        net.fit(x, y, verbose=0)
        assert not np.allclose(before, _np(net.blocks[0][0].kernel))  # the inner block trained
    # the same file layout both ways ("blocks/container/dense", ...)
    for src, dst in (("keras", "fastkeras"), ("fastkeras", "keras")):
        path = str(tmp_path / f"{src}.weights.h5")
        nets[src].save_weights(path)
        nets[dst].load_weights(path)
        np.testing.assert_allclose(_np(nets[dst].predict(x, verbose=0)),
                                   _np(nets[src].predict(x, verbose=0)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_add_weight_resolves_constraints_and_keeps_aggregation_and_overwrite_as_keras(optimizer):
    outs = []
    for lib in LIBS:
        class Scaled(lib.layers.Layer):
            def build(self, shape):
                self.w = self.add_weight(shape=(2,), name="w", constraint="non_neg",
                                         initializer=lib.initializers.Constant(0.05))
                self.g = self.add_weight(shape=(2,), name="g", initializer="zeros",
                                         overwrite_with_gradient=True)
                self.s = self.add_weight(shape=(), name="s", initializer="zeros",
                                         aggregation="sum", trainable=False)

            def call(self, x):
                return x * self.w + x * self.g

        i = lib.Input((2,))
        layer = Scaled(name="scaled")
        model = lib.Model(i, layer(i))
        model.compile(lib.optimizers.get({"class_name": optimizer,
                                          "config": {"learning_rate": 1.0}}), "mse")
        model.fit(np.ones((4, 2), "float32"), np.full((4, 2), -1.0, "float32"), batch_size=4,
                  verbose=0)
        assert type(layer.w.constraint).__name__ == "NonNeg"
        assert layer.s.aggregation == "sum" and layer.g.overwrite_with_gradient is True
        bad = _error(lambda: layer.add_weight(shape=(), aggregation="foo"))
        assert bad[0] == "ValueError" and "aggregation=foo" in bad[1]
        outs.append((_np(layer.w).tolist(), _np(layer.g).tolist()))
    # w clipped at +0.0 by the constraint; g replaced by its gradient, not stepped
    assert outs[0] == outs[1]
    assert str(outs[0][0]) == "[0.0, 0.0]" and outs[0][1] == pytest.approx([1.05, 1.05])


def _graph_in_init_model_class(lib):
    # keras.io's "packaging models" recipe: a Model subclass that builds its graph in __init__
    @lib.saving.register_keras_serializable(package="parity_graph_in_init")
    class GraphInInit(lib.Model):
        def __init__(self, units=3, **kwargs):
            inputs = lib.Input(shape=(4,))
            outputs = lib.layers.Dense(units, name="head")(inputs)
            super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    return GraphInInit


def test_a_subclass_building_its_graph_in_init_saves_and_reloads_as_keras(tmp_path):
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
    models, preds = {}, {}
    for lib, name in zip(LIBS, IDS):
        cls = _graph_in_init_model_class(lib)
        model = models[name] = cls(name="packaged")
        config = model.get_config()
        assert sorted(config) == ["dtype", "name", "trainable"]
        again = cls.from_config(config)
        assert type(again) is cls and again.name == "packaged"
        assert type(lib.models.clone_model(model)).__name__ == "Functional"
        model.save(str(tmp_path / f"{name}.keras"))
        preds[name] = _np(model.predict(x, verbose=0))
    for lib, name in zip(LIBS, IDS):
        for source in IDS:
            loaded = lib.models.load_model(str(tmp_path / f"{source}.keras"))
            assert type(loaded).__name__ == "GraphInInit"
            np.testing.assert_allclose(_np(loaded.predict(x, verbose=0)), preds[source],
                                       rtol=1e-6)


def test_an_overridden_convolution_op_is_what_the_layer_computes_as_keras():
    # keras.io's "customizing the convolution operation" recipe: weight standardization
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 6, 2)).astype("float32")
    y = rng.standard_normal((4, 4, 4, 3)).astype("float32")
    kernel = rng.standard_normal((3, 3, 2, 3)).astype("float32")
    bias = rng.standard_normal(3).astype("float32")
    results = []
    for lib in LIBS:
        ops = lib.ops

        class StandardizedConv2D(lib.layers.Conv2D):
            def convolution_op(self, inputs, kernel):
                mean, var = ops.moments(kernel, axes=[0, 1, 2], keepdims=True)
                return ops.conv(inputs, (kernel - mean) / ops.sqrt(var + 1e-10),
                                padding="valid", strides=list(self.strides),
                                dilation_rate=self.dilation_rate)

        model = lib.Sequential([lib.Input((6, 6, 2)), StandardizedConv2D(3, 3,
                                                                         activation="tanh")])
        model.set_weights([kernel, bias])
        out = _np(model.predict(x, verbose=0))
        model.compile(lib.optimizers.SGD(0.1), "mse")
        loss = model.fit(x, y, batch_size=4, verbose=0).history["loss"]
        results.append((out, loss, [_np(w) for w in model.weights]))
    (a_out, a_loss, a_w), (b_out, b_loss, b_w) = results
    np.testing.assert_allclose(a_out, b_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a_loss, b_loss, rtol=1e-5)
    for a, b in zip(a_w, b_w):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_an_error_in_call_names_the_layer_and_its_arguments_as_keras(lib):
    class Boom(lib.layers.Layer):
        def call(self, inputs, training=None):
            if inputs.shape[0] == 5:  # the data's batch, not a symbolic build's probe
                raise KeyError("the weights are missing")
            return inputs

    class Outer(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Boom()

        def call(self, inputs):
            return self.inner(inputs)

    x = np.ones((5, 3), "float32")
    for call in (lambda: Outer()(x),
                 lambda: lib.Sequential([lib.Input((3,)), Outer()]).predict(x, verbose=0)):
        with pytest.raises(KeyError) as info:
            call()
        text = info.value.args[0]
        assert text.startswith("Exception encountered when calling Boom.call().\n\n")
        assert "the weights are missing" in text and "Outer.call()" not in text  # innermost
        assert "Arguments received by Boom.call():\n  \u2022 inputs=" in text
        assert text.endswith("\u2022 training=None") or "\u2022 training=False" in text


def test_compile_from_config_and_load_model_keep_the_execution_settings_as_keras(tmp_path):
    for lib, name in zip(LIBS, IDS):
        model = _dense_model(lib)
        model.compile("sgd", "mse", steps_per_execution=2, run_eagerly=True)
        config = model.get_compile_config()
        again = _dense_model(lib)
        again.compile_from_config(config)
        assert (again.steps_per_execution, again.run_eagerly) == (2, True)
        model.save(str(tmp_path / f"{name}.keras"))
    for lib in LIBS:
        for name in IDS:
            loaded = lib.models.load_model(str(tmp_path / f"{name}.keras"))
            assert (loaded.steps_per_execution, loaded.run_eagerly) == (2, True)


def test_losses_list_call_losses_before_weight_penalties_as_keras():
    got = []
    for lib in LIBS:
        class AddsLoss(lib.layers.Layer):
            def call(self, x):
                self.add_loss(lib.ops.sum(x))
                return x

        i = lib.Input((3,))
        dense = lib.layers.Dense(2, kernel_regularizer=lib.regularizers.L2(0.1),
                                 activity_regularizer="l2", name="d")
        model = lib.Model(i, AddsLoss()(dense(i)))
        dense.kernel.assign(np.ones((3, 2), "float32"))
        model(np.ones((2, 3), "float32"))
        got.append(([round(float(_np(v)), 5) for v in dense.losses],
                    [round(float(_np(v)), 5) for v in model.losses]))
    assert got[0] == got[1] == ([0.18, 0.6], [0.18, 12.0, 0.6])


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_dtype_policy_is_settable_as_keras(lib):
    layer = lib.layers.Dense(2)
    layer.dtype_policy = "float32"
    assert layer.dtype_policy.name == "float32" and layer.compute_dtype == "float32"


def test_keras_legacy_h5_of_grouped_query_attention_loads(tmp_path):
    # Keras's legacy .h5 names the layer by its Python class, GroupedQueryAttention
    q, v = keras.Input((4, 5)), keras.Input((6, 5))
    out = keras.layers.GroupQueryAttention(head_dim=3, num_query_heads=4,
                                           num_key_value_heads=2)(q, v)
    model = keras.Model([q, v], out)
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((2, 4, 5)).astype("float32"),
         rng.standard_normal((2, 6, 5)).astype("float32")]
    path = str(tmp_path / "gqa.h5")
    model.save(path)
    loaded = fk.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), _np(model.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_a_built_dense_checks_its_input_size_by_its_input_spec_as_keras(lib):
    layer = lib.layers.Dense(2, name="dense")
    layer.build((None, 4))
    assert layer.input_spec.min_ndim == 2 and layer.input_spec.axes == {-1: 4}
    bad = _error(lambda: layer(np.ones((2, 5), "float32")))
    assert bad[0] == "ValueError" and bad[1].startswith("Input 0 ")
    assert ("of layer 'dense' is incompatible with the layer: expected axis -1 of input shape "
            "to have value 4, but received input with shape (2, 5)") in bad[1]


def test_an_empty_sequential_refuses_to_build_as_keras():
    x = np.ones((4, 3), "float32")
    got = []
    for lib in LIBS:
        errors = [_error(lambda: lib.Sequential(name="empty").predict(x, verbose=0)),
                  _error(lambda: lib.Sequential(name="empty")(x)),
                  _error(lambda: lib.Sequential(name="empty").count_params())]
        model = lib.Sequential(name="empty")
        model.compile("sgd", "mse")
        errors.append(_error(lambda: model.fit(x, x, verbose=0)))
        model.add(lib.layers.Dense(2))  # a failed build leaves the model usable
        got.append((errors, model.predict(x, verbose=0).shape))
    assert got[0] == got[1]
    assert got[0][0][0] == ("ValueError", ("Sequential model empty cannot be built because it "
                                           "has no layers. Call `model.add(layer)`."))


def test_bidirectional_from_a_built_config_is_built_as_keras():
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    got = []
    for lib in LIBS:
        layer = lib.layers.Bidirectional(lib.layers.LSTM(3))
        layer(x)
        again = lib.layers.Bidirectional.from_config(layer.get_config())
        seen = [again.forward_layer.built, again.backward_layer.built,
                [w.path for w in again.weights]]
        again.set_weights(layer.get_weights())  # it raised: the forward layer was not built
        np.testing.assert_allclose(_np(again(x)), _np(layer(x)), atol=1e-6)
        got.append(seen)
    assert got[0] == got[1]
    assert got[0][:2] == [True, True]


@pytest.mark.parametrize("lib", LIBS, ids=IDS)
def test_weights_on_a_free_size_are_refused_and_leave_the_layer_unbuilt_as_keras(lib):
    layers = [lib.layers.Dense(2), lib.layers.BatchNormalization()]
    inputs = [lib.layers.Flatten()(lib.Input((None, 3))), lib.Input((8, 8, None))]
    if lib is fk:  # (Keras's Conv2D raises a TypeError from inside its shape arithmetic)
        layers.append(lib.layers.Conv2D(2, 3))
        inputs.append(lib.Input((8, 8, None)))
    for layer, x in zip(layers, inputs):
        error = _error(lambda: layer(x))
        assert error[0] == "ValueError"
        assert ("Shapes used to initialize variables must be fully-defined (no `None` "
                "dimensions)") in error[1]
        assert not layer.built and layer.weights == []
    # still usable on an input of defined sizes
    assert tuple(layers[0](lib.Input((5,))).shape) == (None, 2)
    assert tuple(layers[1](lib.Input((8, 8, 3))).shape) == (None, 8, 8, 3)
