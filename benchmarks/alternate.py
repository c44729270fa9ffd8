"""The timing loop the training benchmarks share: epochs of fastkeras and of PyTorch in turn,
each after a short pause, so both libraries see the same machine (on a shared 2-core box the
speed drifts by tens of percent within a minute)."""

from __future__ import annotations

import statistics
import time


def torch_trainer_or_none(make):
    """(make(), torch version) when PyTorch is installed, else (None, None) with a message."""
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed (pip install torch==2.13.0): timing fastkeras only")
        return None, None
    return make(), torch.__version__


def alternate_epochs(epochs, fk_epoch, th_epoch=None, pause=0.5):
    """Runs `epochs` rounds of fk_epoch() then th_epoch() (each returns (seconds, metric)) and
    prints every epoch's time; returns the two lists of results (the second empty without
    PyTorch)."""
    fk, th = [], []
    for _ in range(epochs):
        time.sleep(pause)
        fk.append(fk_epoch())
        if th_epoch is not None:
            time.sleep(pause)
            th.append(th_epoch())
    return fk, th


def print_epoch_times(fk, th):
    """Each epoch's seconds, and with PyTorch each pair's ratio: the two epochs of a pair ran
    back to back, so their ratio holds even when the machine's speed drifts between pairs."""
    print("fastkeras epochs:", ", ".join(f"{t:.2f}" for t, _ in fk))
    if th:
        print("PyTorch epochs:  ", ", ".join(f"{t:.2f}" for t, _ in th))
        pairs = [a / b for (a, _), (b, _) in zip(fk, th)]
        print("epoch pairs fastkeras / PyTorch:", ", ".join(f"{r:.2f}" for r in pairs),
              f"(median {statistics.median(pairs):.2f})")


def print_results(rows, columns, markdown=False):
    """One line per library, then the epoch-time ratio when PyTorch ran.

    rows: (library, median s/epoch, *values); columns: (heading, plain-text label, format) for
    each value, e.g. ("train acc (last epoch)", "acc", "{:.4f}"). markdown=True prints a table.
    """
    if markdown:
        print("| library | s/epoch | " + " | ".join(c[0] for c in columns) + " |")
        print("|---|---:|" + "---:|" * len(columns))
    for name, seconds, *values in rows:
        cells = [fmt.format(v) for (_, _, fmt), v in zip(columns, values)]
        if markdown:
            print(f"| {name} | {seconds:.2f} | " + " | ".join(cells) + " |")
        else:
            print(f"{name:22s} {seconds:7.2f} s/epoch  " +
                  "  ".join(f"{label} {cell}" for (_, label, _), cell in zip(columns, cells)))
    if len(rows) > 1:
        print(f"ratio fastkeras / PyTorch epoch time: {rows[0][1] / rows[1][1]:.2f}x")
