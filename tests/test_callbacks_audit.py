"""The built-in callbacks against Keras 3: defaults, mode="auto", verbose messages (the text
Keras 3.15 prints), save_best_only without the monitored value, integer save_freq."""

import csv
import inspect
import re

import numpy as np
import pytest

import fastkeras as keras


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    return x, y


def model(lr=0.5):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=keras.optimizers.SGD(lr), loss="binary_crossentropy",
              metrics=["accuracy", "mae"])
    return m


KERAS_DEFAULTS = {
    "EarlyStopping": dict(monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                          baseline=None, restore_best_weights=False, start_from_epoch=0),
    "ModelCheckpoint": dict(monitor="val_loss", verbose=0, save_best_only=False,
                            save_weights_only=False, mode="auto", save_freq="epoch",
                            initial_value_threshold=None),
    "ReduceLROnPlateau": dict(monitor="val_loss", factor=0.1, patience=10, verbose=0,
                              mode="auto", min_delta=1e-4, cooldown=0, min_lr=0.0),
    "LearningRateScheduler": dict(verbose=0),
    "CSVLogger": dict(separator=",", append=False),
    "TerminateOnNaN": dict(raise_error=False),
    "BackupAndRestore": dict(save_freq="epoch", double_checkpoint=False,
                             delete_checkpoint=True),
    "TensorBoard": dict(log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                        write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                        embeddings_freq=0, embeddings_metadata=None),
}


@pytest.mark.parametrize("name", sorted(KERAS_DEFAULTS))
def test_argument_names_and_defaults(name):
    params = inspect.signature(getattr(keras.callbacks, name)).parameters
    defaults = {k: p.default for k, p in params.items() if p.default is not p.empty}
    for arg, value in KERAS_DEFAULTS[name].items():
        assert arg in defaults and defaults[arg] == value, (name, arg)


def test_verbose_messages_are_keras_messages(tmp_path, capsys):
    x, y = data()
    path = tmp_path / "best.keras"
    callbacks = [
        keras.callbacks.ModelCheckpoint(path, save_best_only=True, verbose=1),
        keras.callbacks.EarlyStopping(patience=1, verbose=1, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(patience=1, verbose=1, factor=0.5),
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr, verbose=1)]
    # Flipped validation labels: val_loss gets worse from the first epoch on.
    model().fit(x[:40], y[:40], epochs=8, validation_data=(x[40:], 1 - y[40:]), verbose=0,
                callbacks=callbacks)
    out = capsys.readouterr().out
    number = r"\d+\.\d{5}"
    expected = [
        r"Epoch 1: LearningRateScheduler setting learning rate to 0\.5\.",
        rf"Epoch 1: val_loss improved from None to {number}, saving model to {re.escape(str(path))}",
        rf"Epoch 1: finished saving model to {re.escape(str(path))}",
        r"Epoch 2: LearningRateScheduler setting learning rate to 0\.5\.",
        rf"Epoch 2: val_loss did not improve from {number}",
        r"Epoch 2: ReduceLROnPlateau reducing learning rate to 0\.25\.",
        r"Epoch 2: early stopping",
        r"Restoring model weights from the end of the best epoch: 1\.",
    ]
    lines = [line for line in out.splitlines() if line]
    assert len(lines) == len(expected), out
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), (line, pattern)


def test_mode_auto_follows_the_compiled_metrics():
    x, y = data()
    ops = {}
    for monitor in ("val_loss", "loss", "val_accuracy", "val_mae"):
        es = keras.callbacks.EarlyStopping(monitor=monitor)
        assert es.mode == "auto"
        model().fit(x, y, epochs=1, verbose=0, validation_data=(x, y), callbacks=[es])
        ops[monitor] = es.monitor_op
    assert ops == {"val_loss": np.less, "loss": np.less, "val_accuracy": np.greater,
                   "val_mae": np.less}
    with pytest.raises(ValueError, match="monitor=val_foo.*mode='max'"):
        model().fit(x, y, epochs=1, verbose=0,
                    callbacks=[keras.callbacks.EarlyStopping(monitor="val_foo")])
    assert keras.callbacks.EarlyStopping(monitor="val_foo", mode="max")  # explicit is fine
    with pytest.warns(UserWarning, match="mode 'maximum' is unknown"):
        keras.callbacks.ReduceLROnPlateau(mode="maximum")


def test_missing_monitor_warns_and_checkpoint_saves_anyway(tmp_path):
    # The notes' checkpoint + early stopping without validation data: Keras warns, keeps
    # training, and ModelCheckpoint(save_best_only=True) saves every epoch.
    x, y = data()
    checkpoint_cb = keras.callbacks.ModelCheckpoint(tmp_path / "my_keras_model.h5",
                                                    save_best_only=True)
    early_stopping_cb = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    with pytest.warns(UserWarning) as record:
        history = model().fit(x, y, epochs=3, callbacks=[checkpoint_cb, early_stopping_cb],
                              verbose=0)
    messages = {str(w.message) for w in record}
    assert "Can save best model only with val_loss available." in messages
    assert any(m.startswith("Early stopping conditioned on metric `val_loss` which is not "
                            "available. Available metrics are: ") for m in messages)
    assert len(history.epoch) == 3
    assert keras.models.load_model(tmp_path / "my_keras_model.h5") is not None


def test_model_checkpoint_integer_save_freq_and_batch_field(tmp_path):
    x, y = data()
    ck = keras.callbacks.ModelCheckpoint(tmp_path / "e{epoch}-b{batch}.weights.h5",
                                         save_weights_only=True, save_freq=4)
    model().fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[ck])  # 6 batches/epoch
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["e1-b4.weights.h5", "e2-b2.weights.h5", "e2-b6.weights.h5"]
    for bad in (0, -1, "batch", 1.5, True):
        with pytest.raises(ValueError, match="save_freq"):
            keras.callbacks.ModelCheckpoint("m.keras", save_freq=bad)
    (tmp_path / "dir.keras").mkdir()
    with pytest.raises(IsADirectoryError, match="non-directory filepath"):
        model().fit(x, y, epochs=1, verbose=0,
                    callbacks=[keras.callbacks.ModelCheckpoint(tmp_path / "dir.keras")])


def test_model_checkpoint_initial_value_threshold(tmp_path):
    x, y = data()
    ck = keras.callbacks.ModelCheckpoint(tmp_path / "m.keras", monitor="loss",
                                         save_best_only=True, initial_value_threshold=1e-9)
    model().fit(x, y, epochs=2, verbose=0, callbacks=[ck])
    assert not (tmp_path / "m.keras").exists() and ck.best == 1e-9


def test_early_stopping_start_from_epoch_and_min_delta():
    x, y = data()
    es = keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, start_from_epoch=3)
    h = model().fit(x[:40], y[:40], epochs=10, validation_data=(x[40:], 1 - y[40:]),
                    verbose=0, callbacks=[es])
    assert h.epoch == [0, 1, 2, 3, 4] and es.stopped_epoch == 4
    es = keras.callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=2)
    h = model().fit(x, y, epochs=10, verbose=0, callbacks=[es])
    assert h.epoch == [0, 1, 2]  # nothing improves by 10: the first value, then two waits


def test_terminate_on_nan_raise_error():
    x, y = data()
    bad = x.copy()
    bad[20:] = np.nan
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        model().fit(bad, y, epochs=2, batch_size=10, shuffle=False, verbose=0,
                    callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True)])


def test_learning_rate_scheduler_accepts_numpy_floats_and_rejects_other_values():
    x, y = data()
    h = model().fit(x, y, epochs=2, verbose=0, callbacks=[
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: np.float32(0.25))])
    assert h.history["learning_rate"] == [0.25, 0.25]
    with pytest.raises(ValueError, match="should be a float"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[
            keras.callbacks.LearningRateScheduler(lambda epoch, lr: "0.1")])


def test_csv_logger_with_validation_every_other_epoch(tmp_path):
    x, y = data()
    path = tmp_path / "log.csv"
    h = model().fit(x[:40], y[:40], epochs=3, validation_data=(x[40:], y[40:]),
                    validation_freq=2, verbose=0,
                    callbacks=[keras.callbacks.CSVLogger(path, separator=";")])
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "mae", "val_accuracy", "val_loss",
                             "val_mae"]
    assert [r["val_loss"] for r in rows] == ["NA", repr(h.history["val_loss"][0]), "NA"]
    assert [float(r["loss"]) for r in rows] == h.history["loss"]


def test_reduce_lr_cooldown_and_min_lr():
    x, y = data()
    rl = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1,
                                           cooldown=2, min_lr=0.1)
    h = model(lr=0.8).fit(x[:40], y[:40], epochs=9, validation_data=(x[40:], 1 - y[40:]),
                          verbose=0, callbacks=[rl])
    # The logged rate is the one the epoch trained with. Halved at the end of epoch 1; the next
    # two epochs cool down (the second one counts as a wait again), so every 2nd epoch after
    # that, until min_lr.
    assert h.history["learning_rate"] == pytest.approx(
        [0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="factor=1.5"):
        keras.callbacks.ReduceLROnPlateau(factor=1.5)
