"""CTC loss: `ops.ctc_loss`, `losses.ctc` and `losses.CTC` against Keras 3 (torch backend),
finite-difference gradients, training with `compile(loss=CTC())`, configs and argument
errors."""

import numpy as np
import pytest

import fastkeras as fk
from fastkeras import losses, ops
from gradcheck import check_grads, leaf


@pytest.fixture
def keras():
    return pytest.importorskip("keras")


def knp(keras, x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def random_case(rng, batch, time, classes, max_label, blank=0):
    """Labels (none equal to the blank) with varied lengths, padded with the blank."""
    lengths = rng.integers(0, max_label + 1, batch)
    labels = np.full((batch, max_label), blank, dtype="int32")
    for b, n in enumerate(lengths):
        choices = [c for c in range(classes) if c != blank]
        labels[b, :n] = rng.choice(choices, n)
    logits = rng.normal(size=(batch, time, classes)).astype("float32") * 2.0
    return labels, logits, lengths.astype("int32")


# ----------------------------------------------------------------------------- values vs Keras

@pytest.mark.parametrize("seed,batch,time,classes,max_label,blank", [
    (0, 5, 12, 6, 4, 0),
    (1, 1, 7, 4, 3, 0),
    (2, 4, 20, 8, 9, 0),
    (3, 6, 9, 5, 4, 4),
    (4, 3, 10, 5, 3, 2),
])
def test_ops_ctc_loss_matches_keras(keras, seed, batch, time, classes, max_label, blank):
    rng = np.random.default_rng(seed)
    labels, logits, lengths = random_case(rng, batch, time, classes, max_label, blank)
    out_len = rng.integers(min(2 * max_label + 1, time), time + 1, batch).astype("int32")
    got = ops.ctc_loss(labels, logits, lengths, out_len, mask_index=blank).numpy()
    want = knp(keras, keras.ops.ctc_loss(labels, logits, lengths, out_len, mask_index=blank))
    assert got.shape == (batch,) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_repeated_labels_need_a_blank_between_them(keras):
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(3, 6, 4)).astype("float32")
    # "1 1 2" needs 4 frames (1, blank, 1, 2); "3 3 3" needs 5; "2 2 2" with 4 frames cannot fit.
    labels = np.array([[1, 1, 2], [3, 3, 3], [2, 2, 2]], dtype="int32")
    lengths = np.array([3, 3, 3], dtype="int32")
    out_len = np.array([4, 5, 4], dtype="int32")
    got = ops.ctc_loss(labels, logits, lengths, out_len).numpy()
    want = knp(keras, keras.ops.ctc_loss(labels, logits, lengths, out_len))
    np.testing.assert_allclose(got[:2], want[:2], rtol=1e-5)
    assert np.all(np.isfinite(got[:2]))
    assert np.isinf(got[2]) and np.isinf(want[2])


def test_labels_as_long_as_the_frames_allow(keras):
    rng = np.random.default_rng(6)
    time, classes = 8, 5
    logits = rng.normal(size=(2, time, classes)).astype("float32")
    # Distinct neighbours: as many labels as frames; all repeats: (time + 1) // 2 labels.
    labels = np.array([[1, 2, 3, 4, 1, 2, 3, 4], [2, 2, 2, 2, 0, 0, 0, 0]], dtype="int32")
    lengths = np.array([8, 4], dtype="int32")
    out_len = np.array([time, 7], dtype="int32")
    got = ops.ctc_loss(labels, logits, lengths, out_len).numpy()
    want = knp(keras, keras.ops.ctc_loss(labels, logits, lengths, out_len))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # Exactly one alignment for the first sample: the sum of its label log-probabilities.
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(got[0], -logp[0, np.arange(time), labels[0]].sum(), rtol=1e-5)


def test_empty_labels_are_all_blank():
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(2, 5, 3))
    got = ops.ctc_loss(np.zeros((2, 2), int), logits, [0, 0], [5, 3]).numpy()
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(got, [-logp[0, :, 0].sum(), -logp[1, :3, 0].sum()], rtol=1e-6)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean", None, "none"])
def test_ctc_loss_class_and_function_match_keras(keras, reduction):
    rng = np.random.default_rng(8)
    labels, logits, _ = random_case(rng, 5, 14, 7, 5)
    labels[0] = [3, 3, 1, 0, 0]
    labels[1] = [2, 4, 4, 4, 6]
    sw = rng.uniform(0.2, 1.5, 5).astype("float32")
    fl = losses.CTC(reduction=reduction)
    kl = keras.losses.CTC(reduction=reduction)
    np.testing.assert_allclose(np.asarray(fl(labels, logits)), knp(keras, kl(labels, logits)),
                               rtol=1e-5)
    np.testing.assert_allclose(np.asarray(fl(labels, logits, sample_weight=sw)),
                               knp(keras, kl(labels, logits, sample_weight=sw)), rtol=1e-5)
    np.testing.assert_allclose(losses.ctc(labels, logits).numpy(),
                               knp(keras, keras.losses.ctc(labels, logits)), rtol=1e-5)


def test_batch_of_one_and_float_labels(keras):
    rng = np.random.default_rng(9)
    logits = rng.normal(size=(1, 6, 4)).astype("float32")
    labels = np.array([[2, 2, 3, 0]], dtype="float32")
    got = losses.CTC()(labels, logits)
    want = keras.losses.CTC()(labels.astype("int32"), logits)
    np.testing.assert_allclose(float(got), float(knp(keras, want)), rtol=1e-5)


# ----------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("blank", [0, 3])
def test_ctc_loss_gradient_finite_differences(blank):
    rng = np.random.default_rng(10 + blank)
    labels = np.array([[1, 1, 2], [2, 0, 1], [1, 2, 0], [0, 0, 0]]) if blank == 3 else \
        np.array([[1, 1, 2], [2, 3, 1], [1, 2, 0], [0, 0, 0]])
    lengths = np.array([3, 3, 2, 0])
    out_len = np.array([6, 5, 3, 4])
    x = leaf(rng.normal(size=(4, 6, 4)))
    check_grads(lambda: ops.ctc_loss(labels, x, lengths, out_len, mask_index=blank), [x], rng)


def test_ctc_loss_class_gradient_finite_differences():
    rng = np.random.default_rng(12)
    labels = np.array([[1, 2, 2], [3, 0, 0]])
    x = leaf(rng.normal(size=(2, 6, 4)))
    check_grads(lambda: losses.ctc(labels, x), [x], rng)
    # The loss class reduces in float32: its gradient is the mean of the per-sample ones.
    with fk.backend.GradientTape() as tape:
        reduced = losses.CTC()(labels, x)
    got = np.asarray(tape.gradient(reduced, x))
    with fk.backend.GradientTape() as tape:
        mean = ops.mean(losses.ctc(labels, x))
    np.testing.assert_allclose(got, np.asarray(tape.gradient(mean, x)), rtol=1e-5, atol=1e-7)


def test_gradient_matches_torch(keras):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    labels, logits, lengths = random_case(rng, 4, 10, 5, 4)
    out_len = np.array([10, 9, 10, 8], dtype="int32")
    x = leaf(logits.astype("float64"))
    with fk.backend.GradientTape() as tape:
        loss = ops.sum(ops.ctc_loss(labels, x, lengths, out_len))
    got = np.asarray(tape.gradient(loss, x))
    xt = torch.tensor(logits.astype("float64"), requires_grad=True)
    lt = torch.nn.functional.ctc_loss(torch.log_softmax(xt, -1).transpose(0, 1),
                                      torch.tensor(labels, dtype=torch.long),
                                      torch.tensor(out_len, dtype=torch.long),
                                      torch.tensor(lengths, dtype=torch.long),
                                      blank=0, reduction="sum")
    lt.backward()
    np.testing.assert_allclose(got, xt.grad.numpy(), rtol=1e-6, atol=1e-9)
    assert np.all(got[3, 8:] == 0)


# ----------------------------------------------------------------------------- training

def test_model_trains_with_ctc_loss(tmp_path):
    rng = np.random.default_rng(14)
    n, time, feats, classes, max_label = 48, 10, 6, 4, 3
    x = rng.normal(size=(n, time, feats)).astype("float32")
    y = np.zeros((n, max_label), dtype="int32")
    for i in range(n):
        k = rng.integers(1, max_label + 1)
        y[i, :k] = rng.integers(1, classes, k)
    model = fk.Sequential([fk.Input(shape=(time, feats)), fk.layers.Dense(16, activation="relu"),
                           fk.layers.Dense(classes)])
    model.compile(optimizer=fk.optimizers.Adam(0.02), loss=losses.CTC())
    first = model.evaluate(x, y, verbose=0)
    hist = model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert model.evaluate(x, y, verbose=0) < first
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = fk.models.load_model(path)
    assert isinstance(loaded.loss, losses.CTC)
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-6)


def test_compile_by_name():
    model = fk.Sequential([fk.Input(shape=(5, 3)), fk.layers.Dense(4)])
    model.compile(optimizer="adam", loss="ctc")
    x = np.random.default_rng(15).normal(size=(8, 5, 3)).astype("float32")
    y = np.array([[1, 2]] * 8)
    model.fit(x, y, epochs=1, verbose=0)


# ----------------------------------------------------------------------------- config

def test_config_matches_keras(keras):
    for kwargs in ({}, {"reduction": "sum", "name": "my_ctc"}, {"reduction": None}):
        assert losses.CTC(**kwargs).get_config() == keras.losses.CTC(**kwargs).get_config()
    assert losses.serialize(losses.CTC()) == keras.losses.serialize(keras.losses.CTC())
    restored = losses.deserialize(keras.losses.serialize(keras.losses.CTC(reduction="sum")))
    assert isinstance(restored, losses.CTC) and restored.reduction == "sum"
    assert losses.get("ctc") is losses.ctc
    assert isinstance(losses.get("CTC"), losses.CTC)
    assert losses.CTC().name == "ctc"
    assert "ctc_loss" in ops.__all__ and "CTC" in losses.__all__ and "ctc" in losses.__all__


# ----------------------------------------------------------------------------- errors

def test_errors_name_argument_and_value():
    logits = np.zeros((2, 5, 4), "float32")
    labels = np.array([[1, 2], [3, 0]])
    with pytest.raises(ValueError, match=r"y_true\.shape=\(2,\)"):
        losses.ctc(np.array([1, 2]), logits)
    with pytest.raises(ValueError, match=r"y_pred\.shape=\(2, 5\)"):
        losses.ctc(labels, np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"target\.shape=\(2,\)"):
        ops.ctc_loss(np.array([1, 2]), logits, [1, 1], [5, 5])
    with pytest.raises(ValueError, match=r"output\.shape=\(2, 5\)"):
        ops.ctc_loss(labels, np.zeros((2, 5)), [1, 1], [5, 5])
    with pytest.raises(ValueError, match="mask_index=4"):
        ops.ctc_loss(labels, logits, [2, 1], [5, 5], mask_index=4)
    with pytest.raises(ValueError, match=r"target_length=\[3 1\]"):
        ops.ctc_loss(labels, logits, [3, 1], [5, 5])
    with pytest.raises(ValueError, match=r"target_length\.shape=\(3,\)"):
        ops.ctc_loss(labels, logits, [1, 1, 1], [5, 5])
    with pytest.raises(ValueError, match=r"output_length=\[6 5\]"):
        ops.ctc_loss(labels, logits, [2, 1], [6, 5])
    with pytest.raises(ValueError, match=r"output_length=\[-1  5\]"):
        ops.ctc_loss(labels, logits, [2, 1], [-1, 5])
    with pytest.raises(ValueError, match="target="):
        ops.ctc_loss(np.array([[1, 7], [3, 0]]), logits, [2, 1], [5, 5])
    with pytest.raises(ValueError, match=r"target_length=.*0\.5"):
        ops.ctc_loss(labels, logits, [0.5, 1], [5, 5])
    with pytest.raises(ValueError, match="dtype"):
        losses.CTC(dtype="float16")
