"""`keras.utils.text_dataset_from_directory` and `image_dataset_from_directory`: file
discovery and order, labels, seeded splits, batching, text truncation, image decoding and
resizing, training on the result and argument errors."""

import sys

import numpy as np
import pytest

import fastkeras as keras
from fastkeras import layers as L
from fastkeras.utils import image_dataset_from_directory, text_dataset_from_directory

# --- helpers --------------------------------------------------------------------------------


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


@pytest.fixture
def text_tree(tmp_path):
    """class_a: a1, a2, sub/a3; class_b: b1, b2; plus files that must be skipped."""
    root = tmp_path / "texts"
    for rel in ("class_b/b2.txt", "class_b/b1.txt", "class_a/a2.txt", "class_a/a1.txt",
                "class_a/sub/a3.txt"):
        _write(root / rel, rel)
    _write(root / "class_a/notes.md", "not a text file")
    _write(root / "class_b/B3.TXT", "class_b/B3.TXT")  # extensions match case-insensitively
    _write(root / ".hidden/h.txt", "hidden class")
    _write(root / "stray.txt", "top level")
    return root


ORDERED = ["class_a/a1.txt", "class_a/a2.txt", "class_a/sub/a3.txt", "class_b/B3.TXT",
           "class_b/b1.txt", "class_b/b2.txt"]


def _all(ds):
    """Concatenated (inputs, labels) of one epoch."""
    xs, ys = [], []
    for batch in ds:
        x, y = batch if isinstance(batch, tuple) else (batch, None)
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), None if ys[0] is None else np.concatenate(ys)


# --- text: discovery, order, labels ---------------------------------------------------------

def test_text_files_and_labels_in_alphanumeric_order(text_tree, capsys):
    ds = text_dataset_from_directory(text_tree, shuffle=False, batch_size=4)
    assert "Found 6 files belonging to 2 classes." in capsys.readouterr().out
    assert isinstance(ds, keras.utils.PyDataset)
    assert ds.class_names == ["class_a", "class_b"]
    assert len(ds) == 2
    x, y = ds[0]
    assert x.dtype.kind == "U" and x.shape == (4,)
    assert list(x) == ORDERED[:4]
    assert y.dtype == np.int32 and list(y) == [0, 0, 0, 1]
    x, y = ds[1]  # the partial last batch
    assert list(x) == ORDERED[4:] and list(y) == [1, 1]
    assert [list(b[0]) for b in ds] == [ORDERED[:4], ORDERED[4:]]


def test_text_label_modes(text_tree):
    kw = dict(shuffle=False, batch_size=10, verbose=False)
    _, y = text_dataset_from_directory(text_tree, label_mode="categorical", **kw)[0]
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.eye(2)[[0, 0, 0, 1, 1, 1]])
    _, y = text_dataset_from_directory(text_tree, label_mode="binary", **kw)[0]
    assert y.dtype == np.float32 and y.shape == (6, 1)
    np.testing.assert_array_equal(y[:, 0], [0, 0, 0, 1, 1, 1])
    # label_mode=None drops the labels, and then (as in Keras) the whole tree is listed
    x = text_dataset_from_directory(text_tree, label_mode=None, **kw)[0]
    assert isinstance(x, np.ndarray) and list(x) == ["top level", "hidden class"] + ORDERED
    # class_names chooses the classes and their label order
    ds = text_dataset_from_directory(text_tree, class_names=["class_b", "class_a"], **kw)
    x, y = ds[0]
    assert ds.class_names == ["class_b", "class_a"]
    assert list(x) == ORDERED[3:] + ORDERED[:3] and list(y) == [0, 0, 0, 1, 1, 1]
    ds = text_dataset_from_directory(text_tree, class_names=["class_b"], **kw)
    assert list(ds[0][0]) == ORDERED[3:] and list(ds[0][1]) == [0, 0, 0]


def test_text_explicit_and_no_labels_walk_the_whole_tree(text_tree, capsys):
    # hidden folders and top-level files count when labels are not inferred
    # (the top folder's own files first, then its subfolders in sorted order)
    files = ["top level", "hidden class"] + ORDERED
    ds = text_dataset_from_directory(text_tree, labels=None, shuffle=False)
    assert "Found 8 files." in capsys.readouterr().out
    assert ds.class_names is None and list(ds[0]) == files
    labels = [3, 3, 1, 1, 1, 2, 2, 2]
    ds = text_dataset_from_directory(text_tree, labels=labels, shuffle=False,
                                     label_mode="categorical")
    assert "Found 8 files belonging to 3 classes." in capsys.readouterr().out
    assert ds.class_names == ["1", "2", "3"]
    x, y = ds[0]
    assert list(x) == files
    # tf.one_hot with 3 classes: label 3 is a row of zeros
    np.testing.assert_array_equal(y, np.vstack([np.eye(3), np.zeros((1, 3))])[labels])


def test_text_max_length_cuts_bytes(tmp_path):
    _write(tmp_path / "c/f.txt", "héllo world")
    kw = dict(labels=None, shuffle=False, verbose=False)
    assert text_dataset_from_directory(tmp_path, max_length=5, **kw)[0][0] == "héll"
    # a cut inside the two bytes of "é" drops the partial character
    assert text_dataset_from_directory(tmp_path, max_length=2, **kw)[0][0] == "h"
    assert text_dataset_from_directory(tmp_path, max_length=0, **kw)[0][0] == ""
    assert text_dataset_from_directory(tmp_path, **kw)[0][0] == "héllo world"


def test_text_unbatched(text_tree):
    ds = text_dataset_from_directory(text_tree, batch_size=None, shuffle=False, verbose=False)
    assert len(ds) == 6
    x, y = ds[3]
    assert x == ORDERED[3] and y == 1 and np.ndim(x) == 0


# --- shuffling and splits -------------------------------------------------------------------

@pytest.fixture
def many_texts(tmp_path):
    for c in range(3):
        for i in range(7):
            _write(tmp_path / f"c{c}" / f"f{i:02d}.txt", f"{c}:{i}")
    return tmp_path


def _sorted_contents(root):
    return [f"{c}:{i}" for c in range(3) for i in range(7)]


def test_shuffle_keeps_labels_with_files_and_is_seeded(many_texts):
    kw = dict(batch_size=2, seed=7, verbose=False)
    ds = text_dataset_from_directory(many_texts, **kw)
    x1, y1 = _all(ds)
    assert sorted(x1) == _sorted_contents(many_texts)
    assert all(int(t.split(":")[0]) == label for t, label in zip(x1, y1))
    x2, _ = _all(ds)  # the next epoch: same files, another order
    assert sorted(x2) == sorted(x1) and list(x2) != list(x1)
    again = text_dataset_from_directory(many_texts, **kw)
    np.testing.assert_array_equal(_all(again)[0], x1)
    np.testing.assert_array_equal(_all(again)[0], x2)
    other = text_dataset_from_directory(many_texts, batch_size=2, seed=8, verbose=False)
    assert list(_all(other)[0]) != list(x1)


def test_splits_are_disjoint_complementary_and_follow_the_seeded_permutation(many_texts,
                                                                            capsys):
    files = _sorted_contents(many_texts)
    order = np.arange(len(files))
    np.random.RandomState(11).shuffle(order)
    want_val = [files[i] for i in order[-6:]]  # int(0.3 * 21) = 6
    kw = dict(validation_split=0.3, seed=11, batch_size=4)
    train = text_dataset_from_directory(many_texts, subset="training", **kw)
    out = capsys.readouterr().out
    assert "Found 21 files belonging to 3 classes." in out
    assert "Using 15 files for training." in out
    val = text_dataset_from_directory(many_texts, subset="validation", **kw)
    assert "Using 6 files for validation." in capsys.readouterr().out
    tx, ty = _all(train)
    vx, vy = _all(val)
    assert len(tx) == 15 and len(vx) == 6 and len(train) == 4 and len(val) == 2
    assert set(tx).isdisjoint(vx) and sorted(np.concatenate([tx, vx])) == sorted(files)
    assert sorted(vx) == sorted(want_val)
    for texts, labels in ((tx, ty), (vx, vy)):
        assert all(int(t.split(":")[0]) == label for t, label in zip(texts, labels))
    both_train, both_val = text_dataset_from_directory(many_texts, subset="both", **kw)
    assert both_train.class_names == both_val.class_names == ["c0", "c1", "c2"]
    assert sorted(_all(both_train)[0]) == sorted(tx)
    bx, by = _all(both_val)
    assert list(bx) == want_val  # the validation half of "both" is not reshuffled
    assert list(_all(both_val)[0]) == want_val
    assert all(int(t.split(":")[0]) == label for t, label in zip(bx, by))
    # without shuffling, validation is the alphabetically last files
    val = text_dataset_from_directory(many_texts, validation_split=0.3, subset="validation",
                                      shuffle=False, verbose=False)
    assert list(_all(val)[0]) == files[-6:]


# --- training -------------------------------------------------------------------------------

def test_fit_on_a_text_dataset(many_texts):
    ds = text_dataset_from_directory(many_texts, batch_size=4, seed=1, verbose=False,
                                     label_mode="categorical")
    vectorize = L.TextVectorization(max_tokens=30, output_sequence_length=2)
    vectorize.adapt(np.concatenate([b[0] for b in ds]))
    model = keras.Sequential([keras.Input(shape=(), dtype="string"), vectorize,
                              L.Embedding(30, 4), L.GlobalAveragePooling1D(),
                              L.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert model.predict(ds, verbose=0).shape == (21, 3)


# --- argument errors ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, needle", [
    (dict(labels="folders"), "labels='folders'"),
    (dict(labels=[0, 1], class_names=["a"]), "class_names=['a']"),
    (dict(label_mode="sparse"), "label_mode='sparse'"),
    (dict(validation_split=1.5, subset="training", seed=1), "validation_split=1.5"),
    (dict(validation_split=0.2), "subset=None"),
    (dict(subset="training"), "validation_split=None"),
    (dict(validation_split=0.2, subset="test", seed=1), "subset='test'"),
    (dict(validation_split=0.2, subset="training"), "seed=None"),
    (dict(format="numpy"), "format='numpy'"),
    (dict(max_length=-1), "max_length=-1"),
])
def test_text_argument_errors(text_tree, kwargs, needle):
    with pytest.raises(ValueError) as info:
        text_dataset_from_directory(text_tree, verbose=False, **kwargs)
    assert needle in str(info.value)


def test_text_errors_that_need_the_files(text_tree, tmp_path):
    with pytest.raises(ValueError, match=r"class_names=\['class_c'\]"):
        text_dataset_from_directory(text_tree, class_names=["class_c"], verbose=False)
    with pytest.raises(ValueError, match="labels"):
        text_dataset_from_directory(text_tree, labels=[0, 1], verbose=False)
    _write(tmp_path / "three/c/x.txt", "x")
    for name in ("a", "b"):
        _write(tmp_path / "three" / name / "x.txt", "x")
    with pytest.raises(ValueError, match="class_names"):
        text_dataset_from_directory(tmp_path / "three", label_mode="binary", verbose=False)
    (tmp_path / "empty/c").mkdir(parents=True)
    with pytest.raises(ValueError, match="No text files found"):
        text_dataset_from_directory(tmp_path / "empty", verbose=False)


# --- images ---------------------------------------------------------------------------------

PIXELS = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 2  # height 4, width 6


@pytest.fixture
def image_tree(tmp_path):
    from PIL import Image

    root = tmp_path / "images"
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
    Image.fromarray(PIXELS).save(root / "cats" / "a.png")
    Image.fromarray(255 - PIXELS).save(root / "cats" / "b.bmp")
    Image.fromarray(PIXELS).save(root / "dogs" / "c.jpg")
    Image.fromarray(PIXELS[..., 0]).convert("P").save(root / "dogs" / "d.gif")
    Image.fromarray(PIXELS).save(root / "dogs" / "e.tiff")  # not an allowed format
    (root / "dogs" / "f.txt").write_text("no")
    return root


def test_image_discovery_labels_and_exact_pixels(image_tree, capsys):
    ds = image_dataset_from_directory(image_tree, image_size=(4, 6), shuffle=False,
                                      batch_size=3)
    assert "Found 4 files belonging to 2 classes." in capsys.readouterr().out
    assert ds.class_names == ["cats", "dogs"]
    assert [p.rsplit("/", 2)[-2:] for p in map(str, ds.file_paths)] == [
        ["cats", "a.png"], ["cats", "b.bmp"], ["dogs", "c.jpg"], ["dogs", "d.gif"]]
    assert len(ds) == 2
    x, y = ds[0]
    assert x.dtype == np.float32 and x.shape == (3, 4, 6, 3)
    assert list(y) == [0, 0, 1]
    np.testing.assert_array_equal(x[0], PIXELS)  # same size: no resampling
    np.testing.assert_array_equal(x[1], 255 - PIXELS.astype(np.float32))
    assert np.abs(x[2] - PIXELS).max() < 16  # jpeg is lossy
    x, y = ds[1]  # partial last batch: the gif, grey values on all three channels
    assert x.shape == (1, 4, 6, 3) and list(y) == [1]
    np.testing.assert_array_equal(x[0], np.repeat(PIXELS[..., :1], 3, axis=-1))


def test_image_resizing_modes(image_tree):
    kw = dict(labels=None, shuffle=False, batch_size=1, verbose=False)
    px = PIXELS.astype(np.float64)
    # half-pixel bilinear at scale 2 averages each 2x2 block
    x = image_dataset_from_directory(image_tree, image_size=(2, 3), **kw)[0][0]
    want = (px[0::2, 0::2] + px[1::2, 0::2] + px[0::2, 1::2] + px[1::2, 1::2]) / 4
    np.testing.assert_allclose(x, want, atol=1e-4)
    # nearest reads the pixel under each output centre: rows/columns 1, 3, 5
    x = image_dataset_from_directory(image_tree, image_size=(2, 3), interpolation="nearest",
                                     **kw)[0][0]
    np.testing.assert_array_equal(x, px[1::2, 1::2])
    x = image_dataset_from_directory(image_tree, image_size=2, interpolation="nearest",
                                     **kw)[0][0]
    assert x.shape == (2, 2, 3)
    # the centred 4x4 window of a 4x6 image, unchanged
    x = image_dataset_from_directory(image_tree, image_size=(4, 4), crop_to_aspect_ratio=True,
                                     **kw)[0][0]
    np.testing.assert_array_equal(x, px[:, 1:5])
    # a 4x6 image fits a 6x6 output unscaled, one zero row above and below
    x = image_dataset_from_directory(image_tree, image_size=(6, 6), pad_to_aspect_ratio=True,
                                     **kw)[0][0]
    np.testing.assert_array_equal(x[1:5], px)
    np.testing.assert_array_equal(x[[0, 5]], 0)
    x = image_dataset_from_directory(image_tree, image_size=(4, 6),
                                     data_format="channels_first", **kw)[0]
    np.testing.assert_array_equal(x[0], np.transpose(px, (2, 0, 1)))


def test_image_color_modes(image_tree):
    kw = dict(labels=None, shuffle=False, batch_size=1, verbose=False, image_size=(4, 6))
    gray = image_dataset_from_directory(image_tree, color_mode="grayscale", **kw)[0][0]
    assert gray.shape == (4, 6, 1)
    luma = PIXELS.astype(np.float64) @ [0.299, 0.587, 0.114]
    np.testing.assert_allclose(gray[..., 0], luma, atol=1.0)
    rgba = image_dataset_from_directory(image_tree, color_mode="rgba", **kw)[0][0]
    assert rgba.shape == (4, 6, 4)
    np.testing.assert_array_equal(rgba[..., :3], PIXELS)
    np.testing.assert_array_equal(rgba[..., 3], 255)


def test_image_split_and_fit(image_tree):
    kw = dict(image_size=(4, 6), validation_split=0.5, seed=3, batch_size=2, verbose=False,
              label_mode="binary")
    train, val = image_dataset_from_directory(image_tree, subset="both", **kw)
    assert set(train.file_paths).isdisjoint(val.file_paths)
    assert len(train.file_paths) == len(val.file_paths) == 2
    assert sorted(train.file_paths + val.file_paths) == sorted(
        str(p) for p in image_tree.rglob("*") if p.suffix in (".png", ".bmp", ".jpg", ".gif"))
    alone = image_dataset_from_directory(image_tree, subset="validation", **kw)
    assert sorted(alone.file_paths) == sorted(val.file_paths)
    model = keras.Sequential([keras.Input((4, 6, 3)), L.Rescaling(1 / 255), L.Flatten(),
                              L.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=2, verbose=0)
    assert np.isfinite(history.history["val_loss"]).all()
    assert model.predict(val, verbose=0).shape == (2, 1)


@pytest.mark.parametrize("kwargs, error, needle", [
    (dict(color_mode="cmyk"), ValueError, "color_mode='cmyk'"),
    (dict(image_size=(4, 6, 3)), ValueError, "image_size=(4, 6, 3)"),
    (dict(interpolation="cubic"), ValueError, "interpolation='cubic'"),
    (dict(interpolation="area"), NotImplementedError, "interpolation='area'"),
    (dict(crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), ValueError,
     "pad_to_aspect_ratio=True"),
    (dict(data_format="channels_middle"), ValueError, "data_format"),
    (dict(label_mode="sparse"), ValueError, "label_mode='sparse'"),
])
def test_image_argument_errors(image_tree, kwargs, error, needle):
    with pytest.raises(error) as info:
        image_dataset_from_directory(image_tree, verbose=False, **kwargs)
    assert needle in str(info.value)


def test_image_needs_pillow(image_tree, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # `from PIL import Image` now fails
    with pytest.raises(ImportError, match="pip install pillow"):
        image_dataset_from_directory(image_tree, verbose=False)
