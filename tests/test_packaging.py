"""The wheel from `pip wheel .` installs into a fresh virtual environment and works there."""

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_into_fresh_venv(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                    "-w", str(wheels), str(ROOT)], check=True)
    (wheel,) = wheels.glob("fastkeras-*.whl")
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True)
    code = (
        "import numpy as np, fastkeras\n"
        "from fastkeras import _core\n"
        "a = np.arange(6, dtype=np.float32).reshape(2, 3)\n"
        "assert np.allclose(_core.gemm(a, a, trans_b=True), a @ a.T)\n"
        "print(fastkeras.__file__)\n"
    )
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True,
                         cwd=tmp_path)
    assert str(env_dir) in out.stdout


def test_only_isa_kernel_files_get_isa_flags():
    """Portable code must run on any x86-64: AVX flags only on the per-ISA micro-kernel files."""
    db = ROOT / "build" / "ctest" / "compile_commands.json"
    if not db.exists():
        if os.environ.get("CI"):
            pytest.fail("build/ctest/compile_commands.json missing: run `make test` (ctest first)")
        pytest.skip("run `make ctest` first to produce build/ctest/compile_commands.json")
    entries = json.loads(db.read_text())
    assert entries
    for entry in entries:
        cmd = entry["command"]
        name = Path(entry["file"]).name
        assert "-march=native" not in cmd and "-mtune=native" not in cmd, name
        if name.startswith("ukernel_avx512"):
            assert "-mavx512f" in cmd
        elif name.startswith("ukernel_avx2"):
            assert "-mavx2" in cmd and "-mavx512f" not in cmd
        else:
            assert "-mavx" not in cmd and "-mfma" not in cmd, name
