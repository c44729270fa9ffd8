"""TensorBoard: the event files are read back with TensorBoard's own EventAccumulator, and
their tags, steps and values must be Keras 3's and match History."""

import json
import os
import sys
import time

import numpy as np
import pytest

import fastkeras as keras

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")



def read(run_dir):
    acc = event_accumulator.EventAccumulator(
        str(run_dir), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def model():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
    m.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def test_epoch_scalars_match_history(tmp_path):
    x, y = data()
    log_dir = tmp_path / "logs"
    h = model().fit(x[:60], y[:60], epochs=3, batch_size=20, validation_data=(x[60:], y[60:]),
                    verbose=0, callbacks=[keras.callbacks.TensorBoard(log_dir)])
    assert sorted(os.listdir(log_dir)) == ["train", "validation"]
    train, val = read(log_dir / "train"), read(log_dir / "validation")
    assert sorted(train.Tags()["scalars"]) == ["epoch_accuracy", "epoch_learning_rate",
                                                "epoch_loss"]
    for name in ("loss", "accuracy"):
        got = scalars(train, f"epoch_{name}")
        assert [s for s, _ in got] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in got], h.history[name], rtol=1e-6)
        got = scalars(val, f"epoch_{name}")
        assert [s for s, _ in got] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in got], h.history["val_" + name], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in scalars(train, "epoch_learning_rate")], [0.05] * 3)
    # After each validation: the metrics against the optimizer's iteration count.
    got = scalars(val, "evaluation_loss_vs_iterations")
    assert [s for s, _ in got] == [3, 6, 9]
    np.testing.assert_allclose([v for _, v in got], h.history["val_loss"], rtol=1e-6)
    assert sorted(val.Tags()["scalars"]) == ["epoch_accuracy", "epoch_loss",
                                              "evaluation_accuracy_vs_iterations",
                                              "evaluation_loss_vs_iterations"]
    assert train.Tags()["histograms"] == []


def test_batch_scalars_with_integer_update_freq(tmp_path):
    x, y = data()
    batch_logs = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_logs.append(dict(logs)))
    tb = keras.callbacks.TensorBoard(tmp_path, update_freq=3, write_steps_per_second=True)
    model().fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[record, tb])  # 5 + 5
    train = read(tmp_path / "train")
    got = scalars(train, "batch_loss")
    assert [s for s, _ in got] == [3, 6, 9]  # global batch count, from 1
    np.testing.assert_allclose([v for _, v in got],
                               [batch_logs[s - 1]["loss"] for s, _ in got], rtol=1e-6)
    assert [s for s, _ in scalars(train, "batch_accuracy")] == [3, 6, 9]
    assert [s for s, _ in scalars(train, "batch_steps_per_second")] == [3, 6, 9]
    assert [s for s, _ in scalars(train, "epoch_steps_per_second")] == [0, 1]
    assert all(v > 0 for _, v in scalars(train, "epoch_steps_per_second"))
    assert not (tmp_path / "validation").exists()

    tb = keras.callbacks.TensorBoard(tmp_path / "b", update_freq="batch")
    model().fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tb])
    assert [s for s, _ in scalars(read(tmp_path / "b" / "train"), "batch_loss")] == [1, 2, 3,
                                                                                     4, 5]


def test_weight_histograms_images_and_model_graph(tmp_path):
    x, y = data()
    m = model()
    m.fit(x, y, epochs=4, verbose=0,
          callbacks=[keras.callbacks.TensorBoard(tmp_path, histogram_freq=2, write_images=True)])
    train = read(tmp_path / "train")
    # Keras tags a weight by its path: a Sequential builds its layers in its own scope.
    tags = ["sequential/dense/kernel", "sequential/dense/bias", "sequential/dense_1/kernel",
            "sequential/dense_1/bias"]
    assert sorted(train.Tags()["histograms"]) == sorted(t + "/histogram" for t in tags)
    events = train.Histograms("sequential/dense/kernel/histogram")
    assert [e.step for e in events] == [0, 2]
    assert events[-1].histogram_value.num == 4 * 6
    assert sorted(train.Tags()["images"]) == sorted(t + "/image" for t in tags)
    kernel_image = train.Images("sequential/dense/kernel/image")[-1]
    assert (kernel_image.height, kernel_image.width) == (4, 6)
    # The model's configuration, as TensorBoard's graph tab reads it.
    assert train.Tags()["tensors"] == ["keras"]
    assert train.SummaryMetadata("keras").plugin_data.plugin_name == "graph_keras_model"
    from tensorboard.plugins.graph import keras_util
    from tensorboard.util import tensor_util
    text = tensor_util.make_ndarray(train.Tensors("keras")[0].tensor_proto).item()
    graph = keras_util.keras_model_to_graph_def(json.loads(text))
    assert [n.name.split("/")[-1] for n in graph.node] == ["input_layer", "dense", "dense_1"]


def test_final_weights_histogram_matches_the_weights(tmp_path):
    x, y = data()
    m = model()
    m.fit(x, y, epochs=1, verbose=0,
          callbacks=[keras.callbacks.TensorBoard(tmp_path, histogram_freq=1, write_graph=False)])
    train = read(tmp_path / "train")
    assert train.Tags()["tensors"] == []
    hist = train.Histograms("sequential/dense_1/kernel/histogram")[-1].histogram_value
    kernel = m.layers[1].get_weights()[0]
    assert hist.num == kernel.size
    assert hist.sum == pytest.approx(float(kernel.astype(np.float64).sum()), abs=1e-5)
    assert (hist.min, hist.max) == pytest.approx((float(kernel.min()), float(kernel.max())))


def test_standalone_evaluate_is_logged_and_closed(tmp_path):
    x, y = data()
    m = model()
    m.fit(x, y, epochs=1, verbose=0)
    loss, _ = m.evaluate(x, y, verbose=0, callbacks=[keras.callbacks.TensorBoard(tmp_path)])
    got = scalars(read(tmp_path / "validation"), "evaluation_loss_vs_iterations")
    assert got == [(3, pytest.approx(loss, rel=1e-6))]
    assert not (tmp_path / "train").exists()  # no training, no train run
    m.predict(x, verbose=0, callbacks=[keras.callbacks.TensorBoard(tmp_path / "p")])
    assert not (tmp_path / "p").exists()


def test_notes_run_directory_by_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root_logdir = os.path.join(os.curdir, "my_logs")

    def get_run_logdir():
        run_id = time.strftime("run_%Y_%m_%d_%H_%M_%S")
        return os.path.join(root_logdir, run_id)

    run_logdir = get_run_logdir()
    tensorboard_cb = keras.callbacks.TensorBoard(run_logdir)
    x, y = data()
    history = model().fit(x[:60], y[:60], epochs=2, validation_data=(x[60:], y[60:]),
                          callbacks=[tensorboard_cb], verbose=0)
    runs = os.listdir("my_logs")
    assert len(runs) == 1 and runs[0].startswith("run_")
    got = scalars(read(os.path.join(run_logdir, "validation")), "epoch_loss")
    np.testing.assert_allclose([v for _, v in got], history.history["val_loss"], rtol=1e-6)


def test_missing_tensorboardx_raises_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # `import tensorboardX` now fails
    with pytest.raises(ImportError, match=r"pip install fastkeras\[tensorboard\]"):
        keras.callbacks.TensorBoard("logs")


def test_bad_arguments(tmp_path):
    for kwargs, name in [({"update_freq": "step"}, "update_freq"),
                         ({"update_freq": 0}, "update_freq"),
                         ({"histogram_freq": -1}, "histogram_freq"),
                         ({"histogram_freq": 1.5}, "histogram_freq"),
                         ({"profile_batch": 5}, "profile_batch"),
                         ({"embeddings_freq": 1}, "embeddings_freq")]:
        with pytest.raises(ValueError, match=name):
            keras.callbacks.TensorBoard(tmp_path, **kwargs)
