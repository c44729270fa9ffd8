"""examples/wide_and_deep.py runs (briefly) and its two-output training learns."""

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "wide_and_deep.py"


def test_wide_and_deep_example_runs(capsys):
    spec = importlib.util.spec_from_file_location("wide_and_deep_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    history, (total, main, aux) = module.main(["--epochs", "3", "--samples", "1500"])
    assert sorted(history.history) == ["aux_output_loss", "loss", "main_output_loss",
                                       "val_aux_output_loss", "val_loss", "val_main_output_loss"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert abs(total - (0.9 * main + 0.1 * aux)) < 1e-5
    out = capsys.readouterr().out
    assert "Connected to" in out and "Test: loss=" in out
