"""Where the files made by real Keras 3.15 live (../shared/fixtures/keras beside the checkout):
the reference for numerical parity and file compatibility. Read-only."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "keras"
