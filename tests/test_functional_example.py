"""examples/wide_and_deep.py runs (briefly) and its two-output training learns."""


def test_wide_and_deep_example_runs(capsys, load_example):
    history, (total, main, aux) = load_example("wide_and_deep").main(
        ["--epochs", "3", "--samples", "1500"])
    assert sorted(history.history) == ["aux_output_loss", "loss", "main_output_loss",
                                       "val_aux_output_loss", "val_loss", "val_main_output_loss"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert abs(total - (0.9 * main + 0.1 * aux)) < 1e-5
    out = capsys.readouterr().out
    assert "Connected to" in out and "Test: loss=" in out
