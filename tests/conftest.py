import os

import numpy as np
import pytest

# Real Keras 3 (installed for the compatibility tests) runs on its PyTorch backend here.
os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
