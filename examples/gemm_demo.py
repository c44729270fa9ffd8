"""Demo: fastkeras's GEMM against numpy on the shapes of an MLP training step.

    make demo        (or: python examples/gemm_demo.py)
"""

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).resolve().parents[1] / "benchmarks" / "gemm.py"),
                   run_name="__main__")
