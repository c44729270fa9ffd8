"""String hashing as Keras computes it through TensorFlow: FarmHash Fingerprint64 (the C++
kernel, against the reference `pyfarmhash` bindings), keyed SipHash-2-4 (the published test
vectors), the Hashing layer, and the lookup layers' out-of-vocabulary buckets."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import _core
from fastkeras.layers.hashing import hash_buckets, siphash24


def random_texts(rng, count=300):
    alphabet = list("abcxyz019 _-") + ["é", "ß", "中", "🙂"]
    return ["".join(rng.choice(alphabet, size=int(rng.integers(0, 160)))) for _ in range(count)]


def test_fingerprint64_matches_the_reference_implementation(rng):
    farmhash = pytest.importorskip("farmhash")
    texts = random_texts(rng) + ["", "a", "hello", "x" * 64, "y" * 65, "z" * 1000]
    ours = _core.fingerprint64(texts)
    assert ours.dtype == np.uint64
    assert [int(h) for h in ours] == [farmhash.fingerprint64(t) for t in texts]
    raw = [bytes(rng.integers(0, 256, size=n, dtype=np.uint8)) for n in range(0, 200, 7)]
    assert [int(h) for h in _core.fingerprint64(raw)] == [farmhash.fingerprint64(b)
                                                         for b in raw]
    buckets = _core.fingerprint64(texts, 7)
    assert buckets.dtype == np.int64
    assert buckets.tolist() == [farmhash.fingerprint64(t) % 7 for t in texts]


def test_fingerprint64_refuses_other_items():
    with pytest.raises(TypeError, match="item 1 is <class 'int'>"):
        _core.fingerprint64(["a", 3])


def test_siphash_test_vectors():
    """The reference vectors: key 00..0f, messages 00..n-1."""
    k0 = int.from_bytes(bytes(range(8)), "little")
    k1 = int.from_bytes(bytes(range(8, 16)), "little")
    assert siphash24(k0, k1, b"") == 0x726FDB47DD0E0E31
    assert siphash24(k0, k1, bytes(range(1))) == 0x74F839C593DC67FD
    assert siphash24(k0, k1, bytes(range(8))) == 0x93F5F5799A932462
    assert siphash24(k0, k1, bytes(range(15))) == 0xA129CA6149BE45E5


def test_hashing_layer_bins(rng):
    farmhash = pytest.importorskip("farmhash")
    words = np.array([["cat", "dog", ""], ["émile", "cat", "zebra"]], dtype=object)
    out = fk.layers.Hashing(num_bins=5)(words)
    assert out.dtype == np.int64 and tuple(out.shape) == (2, 3)
    want = [[farmhash.fingerprint64(w) % 5 for w in row] for row in words]
    np.testing.assert_array_equal(out.value, want)
    # Integers hash their decimal text, floats are truncated first.
    ints = np.array([[3, -12, 7000]])
    np.testing.assert_array_equal(fk.layers.Hashing(9)(ints).value,
                                  [[farmhash.fingerprint64(str(v)) % 9 for v in ints[0]]])
    np.testing.assert_array_equal(fk.layers.Hashing(9)(np.array([[3.7, -12.2]])).value,
                                  fk.layers.Hashing(9)(np.array([[3, -12]])).value)
    # mask_value takes bin 0, the rest hash into bins 1..num_bins-1.
    masked = fk.layers.Hashing(4, mask_value="")(words).value
    assert masked[0, 2] == 0
    assert masked[0, 0] == 1 + farmhash.fingerprint64("cat") % 3


def test_hashing_layer_salt_and_output_modes():
    salted = fk.layers.Hashing(6, salt=133)
    assert salted.salt == [133, 133] and salted.strong_hash
    words = np.array([["cat"], ["dog"]], dtype=object)
    np.testing.assert_array_equal(salted(words).value[:, 0],
                                  [siphash24(133, 133, w.encode()) % 6 for w in ("cat", "dog")])
    assert fk.layers.Hashing(6, salt=(1, 2)).salt == [1, 2]
    ids = fk.layers.Hashing(6)(words).value[:, 0]
    one_hot = fk.layers.Hashing(6, output_mode="one_hot")(words)
    assert one_hot.dtype == np.float32 and tuple(one_hot.shape) == (2, 6)
    np.testing.assert_array_equal(one_hot.value.argmax(-1), ids)
    sample = np.array([["cat", "cat", "dog", "emu"]], dtype=object)
    counts = fk.layers.Hashing(6, output_mode="count")(sample).value
    np.testing.assert_array_equal(
        counts[0], np.bincount(fk.layers.Hashing(6)(sample).value[0], minlength=6))


def test_hashing_layer_errors_and_config():
    with pytest.raises(ValueError, match="num_bins=0"):
        fk.layers.Hashing(0)
    with pytest.raises(ValueError, match="output_mode='tf_idf'"):
        fk.layers.Hashing(3, output_mode="tf_idf")
    with pytest.raises(ValueError, match="salt='pepper'"):
        fk.layers.Hashing(3, salt="pepper")
    with pytest.raises(ValueError, match="sparse"):
        fk.layers.Hashing(3, output_mode="multi_hot", sparse=True)
    layer = fk.layers.Hashing(8, mask_value="", salt=5, output_mode="multi_hot")
    config = layer.get_config()
    assert {k: config[k] for k in ("num_bins", "salt", "mask_value", "output_mode",
                                   "sparse")} == {"num_bins": 8, "salt": [5, 5],
                                                  "mask_value": "", "sparse": False,
                                                  "output_mode": "multi_hot"}
    again = fk.layers.Hashing.from_config(config)
    words = np.array([["a", "b"]], dtype=object)
    np.testing.assert_array_equal(again(words).value, layer(words).value)


def test_hashing_model_trains_and_saves(tmp_path, rng):
    inp = fk.Input((1,), dtype="string")
    x = fk.layers.Hashing(16, output_mode="one_hot")(inp)
    out = fk.layers.Dense(1, activation="sigmoid")(x)
    model = fk.Model(inp, out)
    words = np.array([[w] for w in rng.choice(["red", "green", "blue", "cyan"], size=64)],
                     dtype=object)
    y = np.isin(words[:, 0], ["red", "blue"]).astype(np.float32)[:, None]
    model.compile(fk.optimizers.Adam(0.1), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(words, y, epochs=30, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    model.save(tmp_path / "hashing.keras")
    again = fk.models.load_model(tmp_path / "hashing.keras")
    np.testing.assert_allclose(again.predict(words, verbose=0), model.predict(words, verbose=0))


def test_lookup_oov_buckets_are_farmhash_buckets():
    farmhash = pytest.importorskip("farmhash")
    lookup = fk.layers.StringLookup(vocabulary=["a", "b"], num_oov_indices=3)
    out = lookup(np.array(["a", "zebra", "b", "moose"], dtype=object)).value
    assert out[0] == 3 and out[2] == 4
    assert out[1] == farmhash.fingerprint64("zebra") % 3
    assert out[3] == farmhash.fingerprint64("moose") % 3
    ints = fk.layers.IntegerLookup(vocabulary=[10, 20], num_oov_indices=4,
                                   oov_method="farmhash")
    assert ints(np.array([77])).value[0] == farmhash.fingerprint64("77") % 4
    salted = fk.layers.StringLookup(vocabulary=["a"], num_oov_indices=2, salt=9)
    assert salted.salt == [9, 9]
    assert salted(np.array(["zz"], dtype=object)).value[0] == hash_buckets(["zz"], 2, [9, 9])[0]
    with pytest.raises(ValueError, match="`salt` can only be used when `oov_method='farmhash'`"):
        fk.layers.IntegerLookup(vocabulary=[1], num_oov_indices=2, salt=3)
