"""The timing loop the training benchmarks share: epochs of fastkeras and of PyTorch in turn,
each after a short pause, so both libraries see the same machine (on a shared 2-core box the
speed drifts by tens of percent within a minute)."""

from __future__ import annotations

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
    print("fastkeras epochs:", ", ".join(f"{t:.2f}" for t, _ in fk))
    if th:
        print("PyTorch epochs:  ", ", ".join(f"{t:.2f}" for t, _ in th))
