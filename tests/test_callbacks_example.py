"""examples/callbacks.py (the notes' ModelCheckpoint + EarlyStopping + custom callback +
TensorBoard) runs on a small part of the real Fashion-MNIST, from Debian's copy."""

from pathlib import Path

import numpy as np
import pytest

from fastkeras.datasets import fashion_mnist


@pytest.mark.slow
@pytest.mark.fashion_mnist
def test_callbacks_example_on_a_subset(tmp_path, monkeypatch, capsys, load_example):
    # Read the Debian copy; never download.
    monkeypatch.setenv("FASTKERAS_DATASETS", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_HOME", raising=False)

    def no_download(fname):
        raise AssertionError(f"the test tried to download {fname}")

    monkeypatch.setattr(fashion_mnist, "_fetch", no_download)
    out_dir = tmp_path / "out"
    result = load_example("callbacks").main(["--out-dir", str(out_dir), "--epochs", "2",
                                  "--train-samples", "2000", "--verbose", "0"])
    history = result["history"]
    assert history.epoch == [0, 1]
    printed = [line for line in capsys.readouterr().out.splitlines()
               if line.startswith("val/train: ")]
    assert printed == [f"val/train: {v / t:.2f}" for v, t in
                       zip(history.history["val_loss"], history.history["loss"])]
    assert (out_dir / "my_keras_model.h5").exists()
    assert result["test_accuracy"] > 0.6

    run_logdir = Path(result["run_logdir"])
    assert run_logdir.parent == out_dir / "my_logs" and run_logdir.name.startswith("run_")
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    acc = event_accumulator.EventAccumulator(str(run_logdir / "validation"))
    acc.Reload()
    np.testing.assert_allclose([e.value for e in acc.Scalars("epoch_loss")],
                               history.history["val_loss"], rtol=1e-6)
