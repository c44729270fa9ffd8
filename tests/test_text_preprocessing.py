"""StringLookup, IntegerLookup, TextVectorization and Discretization. Keras 3 needs
TensorFlow for the first three (not installed here), so they are checked against Keras's
documented behaviour; Discretization is compared with Keras directly."""

import numpy as np
import pytest

import fastkeras as fk

L = fk.layers


def _np(x):
    return np.asarray(getattr(x, "value", x))


# --- StringLookup ------------------------------------------------------------------------------

def test_string_lookup_adapt_order_and_indices():
    layer = L.StringLookup()
    layer.adapt(np.array([["a", "b", "b"], ["c", "c", "c"], ["d", "a", "e"]]))
    # by count, ties by token descending
    assert layer.get_vocabulary() == ["[UNK]", "c", "b", "a", "e", "d"]
    assert layer.get_vocabulary(include_special_tokens=False) == ["c", "b", "a", "e", "d"]
    assert layer.vocabulary_size() == 6
    out = _np(layer(np.array([["a", "zz"], ["c", "d"]])))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[3, 0], [1, 5]])


@pytest.mark.parametrize("data", [["x", "y", "y"], np.array(["x", "y", "y"], dtype=object),
                                  np.array([b"x", b"y", b"y"])])
def test_string_lookup_adapt_inputs(data):
    layer = L.StringLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == ["[UNK]", "y", "x"]
    batches = L.StringLookup()
    batches.adapt(iter([np.array(["x"]), np.array(["y", "y"])]))
    assert batches.get_vocabulary() == ["[UNK]", "y", "x"]


def test_string_lookup_mask_and_oov():
    layer = L.StringLookup(vocabulary=["a", "b"], mask_token="", num_oov_indices=1)
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b"]
    np.testing.assert_array_equal(_np(layer(np.array(["", "a", "q", "b"]))), [0, 2, 1, 3])
    zero = L.StringLookup(vocabulary=["a", "b"], num_oov_indices=0)
    np.testing.assert_array_equal(_np(zero(["b", "a"])), [1, 0])
    with pytest.raises(ValueError, match="num_oov_indices"):
        zero(np.array(["zz"]))
    many = L.StringLookup(vocabulary=["a"], num_oov_indices=3)
    ids = _np(many(np.array(["a", "p", "q", "r", "p"])))
    assert ids[0] == 3 and all(0 <= i < 3 for i in ids[1:]) and ids[1] == ids[4]


def test_string_lookup_vocabulary_with_special_tokens_and_invert():
    layer = L.StringLookup(vocabulary=["[UNK]", "a", "b"])
    assert layer.get_vocabulary() == ["[UNK]", "a", "b"]
    inv = L.StringLookup(vocabulary=["a", "b"], invert=True, mask_token="")
    out = _np(inv(np.array([[0, 1, 2, 3, 9]])))
    assert out.tolist() == [["", "[UNK]", "a", "b", "[UNK]"]]


@pytest.mark.parametrize("mode, expected", [
    ("one_hot", [[0, 0, 1], [1, 0, 0]]),
    ("multi_hot", [1, 1, 1]),
    ("count", [1, 1, 1]),
])
def test_string_lookup_encoded_modes(mode, expected):
    layer = L.StringLookup(vocabulary=["a", "b"], output_mode=mode)
    x = np.array(["b", "q"]) if mode == "one_hot" else np.array(["b", "q", "a"])
    out = _np(layer(x))
    np.testing.assert_array_equal(out, expected)


def test_string_lookup_multi_hot_mask_dropped_and_padding():
    layer = L.StringLookup(vocabulary=["a", "b"], mask_token="", output_mode="count",
                           max_tokens=6, pad_to_max_tokens=True)
    assert layer.get_vocabulary() == ["[UNK]", "a", "b"]
    np.testing.assert_array_equal(_np(layer(np.array([["a", "", "a", "z"]]))),
                                  [[1, 2, 0, 0, 0, 0]])


def test_string_lookup_tf_idf():
    layer = L.StringLookup(output_mode="tf_idf")
    layer.adapt(np.array([["a", "b"], ["a", "a"]]))
    idf_a, idf_b = np.log(1 + 2 / 3), np.log(1 + 2 / 2)
    out = _np(layer(np.array([["a", "a", "b", "z"]])))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[np.mean([idf_a, idf_b]), 2 * idf_a, idf_b]], rtol=1e-6)


def test_string_lookup_max_tokens_and_errors():
    layer = L.StringLookup(max_tokens=3)
    layer.adapt(["a", "b", "b", "c", "c", "c"])
    assert layer.get_vocabulary() == ["[UNK]", "c", "b"]
    with pytest.raises(ValueError, match="max_tokens=1"):
        L.StringLookup(max_tokens=1)
    with pytest.raises(ValueError, match="output_mode='bad'"):
        L.StringLookup(output_mode="bad")
    with pytest.raises(ValueError, match="num_oov_indices=-1"):
        L.StringLookup(num_oov_indices=-1)
    with pytest.raises(ValueError, match="repeated"):
        L.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="Cannot adapt"):
        L.StringLookup(vocabulary=["a"]).adapt(["a"])
    with pytest.raises(ValueError, match="idf_weights"):
        L.StringLookup(vocabulary=["a"], output_mode="tf_idf")


def test_string_lookup_set_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("x\ny\n")
    layer = L.StringLookup()
    layer.set_vocabulary(str(path))
    assert layer.get_vocabulary() == ["[UNK]", "x", "y"]


# --- IntegerLookup -----------------------------------------------------------------------------

def test_integer_lookup():
    layer = L.IntegerLookup(mask_token=0, num_oov_indices=2)
    layer.adapt(np.array([3, 3, 4, 5, 5, 0]))
    assert layer.get_vocabulary() == [0, -1, -1, 5, 3, 4]
    # unknown v goes to 1 + v % 2
    np.testing.assert_array_equal(_np(layer(np.array([[3, 7, 0, 8]]))), [[4, 2, 0, 1]])
    inv = L.IntegerLookup(vocabulary=[3, 4], invert=True)
    np.testing.assert_array_equal(_np(inv(np.array([0, 1, 2, 5]))), [-1, 3, 4, -1])
    hot = L.IntegerLookup(vocabulary=[12, 36], output_mode="multi_hot")
    np.testing.assert_array_equal(_np(hot(np.array([[12, 99], [36, 36]]))),
                                  [[1, 1, 0], [0, 0, 1]])
    assert L.IntegerLookup.from_config(hot.get_config()).get_vocabulary() == [-1, 12, 36]


# --- TextVectorization -------------------------------------------------------------------------

def test_text_vectorization_int():
    layer = L.TextVectorization()
    layer.adapt(["The cat sat.", "the cat!", "a DOG"])
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "cat", "sat", "dog", "a"]
    out = _np(layer(np.array([["the dog ran"], ["cat"]])))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[2, 5, 1], [3, 0, 0]])
    fixed = L.TextVectorization(vocabulary=["a", "b"], output_sequence_length=4)
    np.testing.assert_array_equal(_np(fixed(["a b a b a", "b"])), [[2, 3, 2, 3], [3, 0, 0, 0]])


@pytest.mark.parametrize("standardize, split, ngrams, expected", [
    ("lower", "whitespace", None, ["a.", "b,", "c"]),
    ("strip_punctuation", "whitespace", None, ["A", "b", "c"]),
    (None, "whitespace", 2, ["A.", "b,", "c", "A. b,", "b, c"]),
    ("lower_and_strip_punctuation", "character", None, ["a", " ", "b", " ", "c"]),
    (lambda x: x, lambda x: [s.split(",") for s in x], None, ["A. b", " c"]),
])
def test_text_vectorization_preprocessing(standardize, split, ngrams, expected):
    layer = L.TextVectorization(standardize=standardize, split=split, ngrams=ngrams)
    rows, _ = layer._preprocess(np.array(["A. b, c"]))
    assert list(rows[0]) == expected


def test_text_vectorization_modes():
    vocab = ["a", "b"]
    hot = L.TextVectorization(vocabulary=vocab, output_mode="multi_hot")
    assert hot.get_vocabulary() == ["[UNK]", "a", "b"]
    np.testing.assert_array_equal(_np(hot(["a a z", "b"])), [[1, 1, 0], [0, 0, 1]])
    count = L.TextVectorization(vocabulary=vocab, output_mode="count", max_tokens=5,
                                pad_to_max_tokens=True)
    np.testing.assert_array_equal(_np(count(["a a z"])), [[1, 2, 0, 0, 0]])
    with pytest.raises(ValueError, match="output_sequence_length"):
        L.TextVectorization(output_mode="multi_hot", output_sequence_length=3)
    with pytest.raises(ValueError, match="split='tabs'"):
        L.TextVectorization(split="tabs")
    with pytest.raises(ValueError, match="standardize='upper'"):
        L.TextVectorization(standardize="upper")


def test_text_vectorization_config():
    layer = L.TextVectorization(max_tokens=10, ngrams=(1, 3), output_sequence_length=5,
                                vocabulary=["x", "y"])
    config = layer.get_config()
    assert config["ngrams"] == (1, 3) and config["vocabulary"] == ["x", "y"]
    again = L.TextVectorization.from_config(config)
    assert again.get_vocabulary() == layer.get_vocabulary()


# --- saving ------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["int", "multi_hot", "count", "one_hot"])
def test_keras_file_round_trip_with_adapted_vocabulary(tmp_path, mode):
    import zipfile
    lookup = L.IntegerLookup(output_mode=mode)
    lookup.adapt([7, 8, 8])
    tail = L.Embedding(5, 2) if mode == "int" else L.Dense(2)
    width = 1 if mode == "one_hot" else 2
    model = fk.Sequential([fk.Input(shape=(width,), dtype="int64"), lookup, tail])
    x = np.array([[7, 8], [9, 8]])[:, :width]
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:  # where Keras keeps it
        assert z.read("assets/layers/integer_lookup/vocabulary.txt").decode() == "-1\n8\n7"
    loaded = fk.models.load_model(path)
    assert loaded.layers[0].get_vocabulary() == [-1, 8, 7]
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)))


def test_given_vocabulary_lives_in_config():
    layer = L.StringLookup(vocabulary=["a", "b"], mask_token="")
    again = L.StringLookup.from_config(layer.get_config())
    assert again.get_vocabulary() == ["", "[UNK]", "a", "b"]


# --- Discretization (compared with Keras) -------------------------------------------------------

@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("boundaries", [[0.0, 1.0], [-1.0, 0.0, 0.5, 2.0]])
def test_discretization_vs_keras(mode, boundaries):
    keras = pytest.importorskip("keras")
    x = np.array([[-1.5, 0.0, 0.5], [1.0, 2.0, 3.0]], np.float32)
    ours = _np(L.Discretization(bin_boundaries=boundaries, output_mode=mode)(x))
    theirs = np.asarray(keras.layers.Discretization(bin_boundaries=boundaries,
                                                    output_mode=mode)(x))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("num_bins", [2, 3, 5])
@pytest.mark.parametrize("data", [np.arange(10.0), np.array([1.0, 1, 2, 5, 9, 9, 9]),
                                  np.random.RandomState(1).randn(80)])
def test_discretization_adapt_vs_keras(num_bins, data):
    keras = pytest.importorskip("keras")
    ours = L.Discretization(num_bins=num_bins)
    ours.adapt(data)
    theirs = keras.layers.Discretization(num_bins=num_bins)
    theirs.update_state(data)  # Keras's adapt() needs TensorFlow for its dataset check
    theirs.finalize_state()
    np.testing.assert_allclose(ours.bin_boundaries, theirs.bin_boundaries, rtol=1e-5)
    config = ours.get_config()
    assert L.Discretization.from_config(config).bin_boundaries == ours.bin_boundaries
    with pytest.raises(ValueError, match="num_bins"):
        L.Discretization().adapt(data)


def test_string_inputs_in_models_train_and_save(tmp_path):
    """`Input(shape=(1,), dtype="string")` -> TextVectorization -> Embedding trains with fit and
    reloads from a .keras file with its vocabulary, as in Keras's text tutorials."""
    texts = np.array(["the cat sat", "the dog ran fast", "a cat", "dogs run"])
    vectorize = L.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(texts)
    inp = fk.Input(shape=(1,), dtype="string")
    assert inp.dtype == "string"
    x = L.GlobalAveragePooling1D()(L.Embedding(20, 3)(vectorize(inp)))
    model = fk.Model(inp, L.Dense(1)(x))
    model.compile("adam", "mse")
    history = model.fit(texts.reshape(-1, 1), np.array([1.0, 0.0, 1.0, 0.0]), epochs=3,
                        verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    want = model.predict(texts.reshape(-1, 1), verbose=0)
    model.save(tmp_path / "text.keras")
    again = fk.models.load_model(tmp_path / "text.keras")
    np.testing.assert_allclose(again.predict(texts.reshape(-1, 1), verbose=0), want, rtol=1e-6)
    lookup = fk.Sequential([fk.Input((1,), dtype="string"),
                            L.StringLookup(vocabulary=["a", "b"], output_mode="multi_hot")])
    np.testing.assert_array_equal(lookup.predict(np.array([["a"], ["c"]]), verbose=0),
                                  [[0, 1, 0], [1, 0, 0]])
