"""Training speed of an LSTM: fastkeras's fit against torch.nn.LSTM in a hand-written loop, in
one run, on the same synthetic data.

LSTM(128) over 50 timesteps of 32 features -> Dense(1), mean squared error, Adam(1e-3),
batch 64, 20,000 sequences per epoch, shuffled every epoch. Epochs of the two libraries
alternate; reports the median seconds per epoch of each and the ratio.

    python benchmarks/lstm.py [--epochs 3] [--samples 20000] [--markdown]

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

STEPS, FEATURES, UNITS, BATCH = 50, 32, 128, 64


def make_data(n):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, STEPS, FEATURES)).astype(np.float32)
    y = x[:, :, :4].mean(axis=(1, 2))[:, None].astype(np.float32)
    return x, y


def fastkeras_trainer(x, y):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.LSTM(UNITS),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")

    def epoch():
        t0 = time.perf_counter()
        h = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        return time.perf_counter() - t0, h.history["loss"][-1]
    return epoch


def torch_trainer(x, y, threads):
    import torch
    from torch import nn
    torch.manual_seed(0)
    torch.set_num_threads(threads)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(FEATURES, UNITS, batch_first=True)
            self.out = nn.Linear(UNITS, 1)

        def forward(self, xb):
            _, (h, _) = self.lstm(xb)
            return self.out(h[-1])

    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    n = len(xt)

    def epoch():
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            loss = loss_fn(model(xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return time.perf_counter() - t0, total / n
    return epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per library")
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    x, y = make_data(args.samples)
    threads = keras.config.get_num_threads()
    fk_epoch = fastkeras_trainer(x, y)
    th_epoch, torch_version = torch_trainer_or_none(lambda: torch_trainer(x, y, threads))
    fk_runs, th_runs = alternate_epochs(args.epochs, fk_epoch, th_epoch)
    fk = statistics.median(t for t, _ in fk_runs)
    print(f"LSTM({UNITS}) x {STEPS} steps x {FEATURES} features, {args.samples} sequences, "
          f"batch {BATCH}, {threads} threads, median of {args.epochs} epochs")
    print_epoch_times(fk_runs, th_runs)
    rows = [("fastkeras", fk, fk_runs[-1][1])]
    if th_runs:
        rows.append((f"PyTorch {torch_version}", statistics.median(t for t, _ in th_runs),
                     th_runs[-1][1]))
    print_results(rows, [("loss (last epoch)", "loss", "{:.4f}")], args.markdown)


if __name__ == "__main__":
    main()
