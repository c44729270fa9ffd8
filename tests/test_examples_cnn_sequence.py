"""The convolution and sequence examples run as a user runs them and reach their accuracy:
examples/fashion_mnist_cnn.py (5 epochs on the real Fashion-MNIST, >= 0.90 validation
accuracy) and examples/sequence_classification.py (a task that needs memory, high test
accuracy)."""

import importlib.util
import os
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sequence_classification_example_reaches_high_accuracy(capsys):
    history, accuracy = load("sequence_classification").main([])
    assert accuracy >= 0.9  # chance is about 0.5
    assert history.history["val_accuracy"][-1] >= 0.9
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist")
                    and not os.environ.get("CI"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_cnn_example_reaches_90_percent_in_five_epochs(capsys):
    history, test_accuracy = load("fashion_mnist_cnn").main(["--epochs", "5"])
    assert len(history.history["val_accuracy"]) == 5
    assert history.history["val_accuracy"][-1] >= 0.90
    assert test_accuracy >= 0.88
    assert "validation accuracy" in capsys.readouterr().out
