import importlib.util
import os
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

# Real Keras 3 (installed for the compatibility tests) runs on its PyTorch backend here.
os.environ.setdefault("KERAS_BACKEND", "torch")

from fastkeras.datasets import fashion_mnist
from fastkeras.utils import clear_session, set_random_seed

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def pytest_runtest_setup(item):
    """@pytest.mark.fashion_mnist: the test reads Debian's real Fashion-MNIST; skipped where
    the package is missing, except in CI, which installs it (a missing copy fails there)."""
    if item.get_closest_marker("fashion_mnist") and not os.path.isdir(fashion_mnist.DEBIAN_DIR) \
            and not os.environ.get("CI"):
        pytest.skip("Debian's dataset-fashion-mnist is not installed")


@pytest.fixture(autouse=True)
def _fresh_session(request):
    """Every test starts as a fresh session would, so a run does not depend on which tests ran
    before it: automatic layer and optimizer names count from the start again ('dense',
    'adam'), and the random state (initializers, dropout, shuffling, numpy's global generator)
    is a seed fixed by the test's id. FASTKERAS_TEST_SEED=<int> shifts every test's seed, to
    look for tests that pass only for lucky draws."""
    clear_session()
    shift = int(os.environ.get("FASTKERAS_TEST_SEED", "0"))
    seed = (zlib.crc32(request.node.nodeid.encode()) + shift) % 2**32
    set_random_seed(seed)
    # Real Keras (the reference), once a test module has imported it, starts from the same
    # seed too, so its initial weights and random ops do not change from run to run.
    keras3 = sys.modules.get("keras")
    if keras3 is not None and hasattr(keras3, "utils"):
        keras3.utils.set_random_seed(seed)


@pytest.fixture
def load_example():
    """load_example(name): examples/<name>.py imported as a module (its main() not run)."""
    def load(name):
        spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
