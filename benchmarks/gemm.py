"""SGEMM throughput: fastkeras's kernel against numpy's matmul (OpenBLAS), in one run.

Square products, then the shapes of one training step of the Keras notes' 784-300-100-10 MLP at
batch 32: forward with bias + relu, and the two backward products (A^T B for the kernel
gradient, A B^T for the input gradient). Both sides write into preallocated outputs, and numpy
gets its fastest form of the same work (matmul into `out`, then in-place bias add and relu);
fastkeras is called positionally, as its layers call it.
Reports the median GFLOP/s of several rounds and the ratio fastkeras / numpy.

Each side is timed in its own burst after a short pause: both libraries keep their worker
threads spinning for a while after a call (OpenBLAS for up to ~0.1 s), and on a small machine
one side's spinning threads would otherwise steal the cores the other is being timed on.

    python benchmarks/gemm.py [--rounds 7] [--markdown]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from fastkeras import _core, config


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


SETTLE_SECONDS = 0.3


def per_call_seconds(fn, min_time: float = 0.05) -> float:
    """Seconds per call, over enough calls to run for about min_time, after letting the other
    library's worker threads go idle."""
    time.sleep(SETTLE_SECONDS)
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / n
        n = max(n * 2, int(n * min_time / max(dt, 1e-9)) + 1)


def case(name, m, n, k, ours, theirs, rounds):
    ours()
    theirs()
    ours_t, theirs_t = [], []
    for _ in range(rounds):  # interleaved so both see the same machine noise
        ours_t.append(per_call_seconds(ours))
        theirs_t.append(per_call_seconds(theirs))
    flops = 2.0 * m * n * k
    g_ours = flops / statistics.median(ours_t) / 1e9
    g_np = flops / statistics.median(theirs_t) / 1e9
    return name, f"{m}x{k} @ {k}x{n}", g_ours, g_np, g_ours / g_np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    f32 = np.float32
    rows = []

    for s in (256, 512, 1024, 2048):
        a = rng.standard_normal((s, s), dtype=f32)
        b = rng.standard_normal((s, s), dtype=f32)
        c1 = np.empty((s, s), f32)
        c2 = np.empty((s, s), f32)
        rows.append(case(f"square {s}", s, s, s,
                         lambda: _core.gemm(a, b, c1),
                         lambda: np.matmul(a, b, out=c2), args.rounds))

    batch = 32
    for k, n in ((784, 300), (300, 100), (100, 10)):
        x = rng.standard_normal((batch, k), dtype=f32)
        w = rng.standard_normal((k, n), dtype=f32)
        bias = rng.standard_normal(n, dtype=f32)
        dy = rng.standard_normal((batch, n), dtype=f32)
        y1, y2 = np.empty((batch, n), f32), np.empty((batch, n), f32)
        dw1, dw2 = np.empty((k, n), f32), np.empty((k, n), f32)
        dx1, dx2 = np.empty((batch, k), f32), np.empty((batch, k), f32)

        def np_forward():
            np.matmul(x, w, out=y2)
            np.add(y2, bias, out=y2)
            np.maximum(y2, 0, out=y2)

        rows.append(case(f"MLP fwd {k}x{n} +bias+relu", batch, n, k,
                         lambda: _core.gemm(x, w, y1, False, False, 1.0, 0.0, bias, "relu"),
                         np_forward, args.rounds))
        rows.append(case(f"MLP dW = X^T dY ({k}x{n})", k, n, batch,
                         lambda: _core.gemm(x, dy, dw1, True, False),
                         lambda: np.matmul(x.T, dy, out=dw2), args.rounds))
        rows.append(case(f"MLP dX = dY W^T ({k}x{n})", batch, k, n,
                         lambda: _core.gemm(dy, w, dx1, False, True),
                         lambda: np.matmul(dy, w.T, out=dx2), args.rounds))

    print(f"CPU: {cpu_name()}; threads: {config.get_num_threads()}; ISA: {config.get_isa()}; "
          f"numpy {np.__version__}; median of {args.rounds} rounds")
    if args.markdown:
        print("| case | shape | fastkeras GFLOP/s | numpy GFLOP/s | ratio |")
        print("|---|---|---:|---:|---:|")
        for name, shape, g1, g2, r in rows:
            print(f"| {name} | {shape} | {g1:.1f} | {g2:.1f} | {r:.2f}x |")
    else:
        print(f"{'case':34s} {'shape':22s} {'fastkeras':>10s} {'numpy':>10s} {'ratio':>7s}")
        for name, shape, g1, g2, r in rows:
            print(f"{name:34s} {shape:22s} {g1:10.1f} {g2:10.1f} {r:6.2f}x")


if __name__ == "__main__":
    main()
