"""Training speed of the Keras notes' MLP: fastkeras's fit against an equivalent hand-written
PyTorch loop, in one run, on the same data.

Model 784-300-100-10 (relu, relu, softmax), sparse categorical cross-entropy, SGD(0.01),
batch 32, 55,000 Fashion-MNIST training images, shuffled every epoch. Reports the median
seconds per epoch of each, the ratio, and the latency of predicting one sample.

    python benchmarks/fashion_mnist_mlp.py [--epochs 3] [--markdown]

PyTorch is optional: `pip install torch==2.13.0` (the CPU build); without it only fastkeras
is timed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fastkeras as keras


def load_data():
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x = (x[5000:] / 255.0).astype(np.float32)
    return x, y[5000:].astype(np.int64)


def time_fastkeras(x, y, epochs):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.01),
                  metrics=["accuracy"])
    times, acc = [], None
    for _ in range(epochs):
        t0 = time.perf_counter()
        h = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
        acc = h.history["accuracy"][-1]
    one = x[:1]
    model.predict(one, verbose=0)
    lat = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(200):
            model.predict(one, verbose=0)
        lat.append((time.perf_counter() - t0) / 200)
    return times, acc, statistics.median(lat)


def time_torch(x, y, epochs, threads):
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
    times, acc = [], None
    for _ in range(epochs):
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
        times.append(time.perf_counter() - t0)
        acc = correct / n
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
    return times, acc, statistics.median(lat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per library")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    x, y = load_data()
    threads = keras.config.get_num_threads()

    fk_times, fk_acc, fk_lat = time_fastkeras(x, y, args.epochs)
    try:
        import torch
        time.sleep(0.5)
        th_times, th_acc, th_lat = time_torch(x, y, args.epochs, threads)
        torch_version = torch.__version__
    except ImportError:
        th_times = None
        print("PyTorch is not installed (pip install torch==2.13.0): timing fastkeras only")

    fk = statistics.median(fk_times)
    print(f"{len(x)} samples, batch 32, {threads} threads, median of {args.epochs} epochs")
    rows = [("fastkeras", fk, fk_acc, fk_lat)]
    if th_times is not None:
        rows.append((f"PyTorch {torch_version}", statistics.median(th_times), th_acc, th_lat))
    if args.markdown:
        print("| library | s/epoch | train acc (last epoch) | predict 1 sample |")
        print("|---|---:|---:|---:|")
        for name, s, acc, lat in rows:
            print(f"| {name} | {s:.2f} | {acc:.4f} | {lat * 1e3:.3f} ms |")
    else:
        for name, s, acc, lat in rows:
            print(f"{name:22s} {s:7.2f} s/epoch  acc {acc:.4f}  predict(1) {lat * 1e3:.3f} ms")
    if th_times is not None:
        print(f"ratio fastkeras / PyTorch epoch time: {fk / rows[1][1]:.2f}x")


if __name__ == "__main__":
    main()
