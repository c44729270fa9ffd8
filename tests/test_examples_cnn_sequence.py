"""The convolution and sequence examples run as a user runs them and reach their accuracy:
examples/fashion_mnist_cnn.py (5 epochs on the real Fashion-MNIST, >= 0.90 validation
accuracy) and examples/sequence_classification.py (a task that needs memory, high test
accuracy)."""

import pytest


def test_sequence_classification_example_reaches_high_accuracy(capsys, load_example):
    history, accuracy = load_example("sequence_classification").main([])
    assert accuracy >= 0.9  # chance is about 0.5
    assert history.history["val_accuracy"][-1] >= 0.9
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.fashion_mnist
def test_cnn_example_reaches_90_percent_in_five_epochs(capsys, load_example):
    history, test_accuracy = load_example("fashion_mnist_cnn").main(["--epochs", "5"])
    assert len(history.history["val_accuracy"]) == 5
    assert history.history["val_accuracy"][-1] >= 0.90
    assert test_accuracy >= 0.88
    assert "validation accuracy" in capsys.readouterr().out
