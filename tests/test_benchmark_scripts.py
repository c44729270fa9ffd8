"""The training benchmarks run end to end on a few batches (with PyTorch when it is installed,
as in CI, and without it): a smoke test, so the scripts stay runnable. Their timings are only
printed, never asserted."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script, *args, block_torch=False):
    code = ("import runpy, sys; "
            + ("sys.modules['torch'] = None; " if block_torch else "")
            + f"sys.argv = {[script, *args]!r}; runpy.run_path({script!r}, run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], cwd=BENCH, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("block_torch", [False, True])
def test_lstm_benchmark_runs(block_torch):
    out = run("lstm.py", "--epochs", "1", "--samples", "256", "--markdown",
              block_torch=block_torch)
    assert "fastkeras epochs:" in out and "| fastkeras |" in out
    if block_torch:
        assert "PyTorch is not installed" in out and "ratio" not in out


@pytest.mark.slow
@pytest.mark.fashion_mnist
def test_cnn_benchmark_runs_on_a_slice():
    out = run("fashion_mnist_cnn.py", "--epochs", "1", "--limit", "128", "--markdown")
    assert "fastkeras epochs:" in out and "| fastkeras |" in out


@pytest.mark.slow
@pytest.mark.fashion_mnist
def test_mlp_benchmark_runs_without_torch():
    out = run("fashion_mnist_mlp.py", "--epochs", "1", block_torch=True)
    assert "fastkeras epochs:" in out and "predict(1)" in out
