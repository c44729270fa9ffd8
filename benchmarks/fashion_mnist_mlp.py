"""Training speed of the Keras notes' MLP: fastkeras's fit against an equivalent hand-written
PyTorch loop, in one run, on the same data.

Model 784-300-100-10 (relu, relu, softmax), sparse categorical cross-entropy, SGD(0.01),
batch 32, 55,000 Fashion-MNIST training images, shuffled every epoch. Epochs of the two
alternate. Reports the median seconds per epoch of each, the ratio, and the latency of
predicting one sample (fastkeras: `model.predict(x[:1], verbose=0)`; PyTorch: the module call).

    python benchmarks/fashion_mnist_mlp.py [--epochs 5] [--markdown]

PyTorch is optional: `pip install torch==2.13.0` (the CPU build); without it only fastkeras
is timed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fastkeras as keras
from alternate import alternate_epochs, print_epoch_times, print_results, torch_trainer_or_none


def load_data():
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x = (x[5000:] / 255.0).astype(np.float32)
    return x, y[5000:].astype(np.int64)


def fastkeras_trainer(x, y):
    """A function that trains one epoch and returns (seconds, accuracy), and the model."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.01),
                  metrics=["accuracy"])
    def epoch():
        t0 = time.perf_counter()
        h = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        return time.perf_counter() - t0, h.history["accuracy"][-1]
    return epoch, model


def fastkeras_latency(model, x):
    one = x[:1]
    model.predict(one, verbose=0)
    lat = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(200):
            model.predict(one, verbose=0)
        lat.append((time.perf_counter() - t0) / 200)
    return statistics.median(lat)


def torch_trainer(x, y, threads):
    import torch
    from torch import nn
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                          nn.ReLU(), nn.Linear(100, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
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
    return epoch, model


def torch_latency(model, xt):
    import torch
    model.eval()
    one = xt[:1]
    lat = []
    with torch.no_grad():
        model(one)
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(200):
                model(one).numpy()
            lat.append((time.perf_counter() - t0) / 200)
    return statistics.median(lat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per library")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    x, y = load_data()
    threads = keras.config.get_num_threads()

    fk_epoch, fk_model = fastkeras_trainer(x, y)
    th, torch_version = torch_trainer_or_none(lambda: torch_trainer(x, y, threads))
    th_epoch, th_model = th if th is not None else (None, None)
    fk_runs, th_runs = alternate_epochs(args.epochs, fk_epoch, th_epoch)
    fk_lat = fastkeras_latency(fk_model, x)

    fk = statistics.median(t for t, _ in fk_runs)
    print(f"{len(x)} samples, batch 32, {threads} threads, median of {args.epochs} epochs")
    print_epoch_times(fk_runs, th_runs)
    rows = [("fastkeras", fk, fk_runs[-1][1], fk_lat * 1e3)]
    if th_runs:
        import torch
        th_lat = torch_latency(th_model, torch.from_numpy(x))
        rows.append((f"PyTorch {torch_version}", statistics.median(t for t, _ in th_runs),
                     th_runs[-1][1], th_lat * 1e3))
    print_results(rows, [("train acc (last epoch)", "acc", "{:.4f}"),
                         ("predict 1 sample", "predict(1)", "{:.3f} ms")], args.markdown)


if __name__ == "__main__":
    main()
