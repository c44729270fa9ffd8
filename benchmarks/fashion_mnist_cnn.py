"""Training speed of a small CNN on Fashion-MNIST: fastkeras's fit against the same model in a
hand-written PyTorch loop, in one run, epochs alternating.

Conv2D(32, 3, relu) -> MaxPool(2) -> Conv2D(64, 3, relu) -> MaxPool(2) -> Flatten ->
Dense(128, relu) -> Dense(10), Adam(1e-3), batch 32, 55,000 training images.

    python benchmarks/fashion_mnist_cnn.py [--epochs 3] [--markdown] [--limit N]

PyTorch is optional: `pip install torch==2.13.0` (the CPU build).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import fastkeras as keras
from alternate import alternate_epochs, print_epoch_times, print_results, torch_trainer_or_none


def _example_module():
    """examples/fashion_mnist_cnn.py, which defines the model (same file name as this one)."""
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "examples" / "fashion_mnist_cnn.py"
    spec = importlib.util.spec_from_file_location("fashion_mnist_cnn_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_model = _example_module().build_model


def load_data(limit=None):
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x = (x[5000:, :, :, None] / 255.0).astype(np.float32)
    y = y[5000:].astype(np.int64)
    return (x[:limit], y[:limit]) if limit else (x, y)


def fastkeras_trainer(x, y):
    keras.utils.set_random_seed(0)
    model = build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def epoch():
        t0 = time.perf_counter()
        h = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        return time.perf_counter() - t0, h.history["accuracy"][-1]
    return epoch


def torch_trainer(x, y, threads):
    import torch
    from torch import nn
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW, PyTorch's layout
    yt = torch.from_numpy(y)
    n = len(xt)

    def epoch():
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        correct = 0
        for i in range(0, n, 32):
            idx = perm[i:i + 32]
            xb, yb = xt[idx], yt[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            correct += (logits.argmax(1) == yb).sum().item()
        return time.perf_counter() - t0, correct / n
    return epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    x, y = load_data(args.limit)
    threads = keras.config.get_num_threads()
    fk_epoch = fastkeras_trainer(x, y)
    th_epoch, version = torch_trainer_or_none(lambda: torch_trainer(x, y, threads))
    fk, th = alternate_epochs(args.epochs, fk_epoch, th_epoch)
    rows = [("fastkeras", statistics.median(t for t, _ in fk), fk[-1][1])]
    if th:
        rows.append((f"PyTorch {version}", statistics.median(t for t, _ in th), th[-1][1]))
    print(f"{len(x)} samples, batch 32, {threads} threads, median of {args.epochs} epochs")
    print_epoch_times(fk, th)
    print_results(rows, [("train acc (last epoch)", "acc", "{:.4f}")], args.markdown)


if __name__ == "__main__":
    main()
