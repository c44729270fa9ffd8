"""Sequence classification that needs memory: is a sequence of digits "above average"?

Each sample is 10 to 20 random digits (0-9), padded to 20 steps. The label says whether their
sum exceeds 4.5 per digit, so the model has to keep a running total over the whole sequence
and ignore the padding. Digits are tokens 1-10 and the padding is token 0:
Embedding(mask_zero=True) masks it, and the LSTM carries its state over masked steps.

    python examples/sequence_classification.py [--epochs 12] [--samples 6000]

Runs offline (the data is generated) in well under a minute and prints the test accuracy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fastkeras as keras

STEPS = 20


def make_data(n, rng):
    digits = rng.integers(0, 10, size=(n, STEPS))
    lengths = rng.integers(10, STEPS + 1, size=n)
    valid = np.arange(STEPS)[None, :] < lengths[:, None]
    tokens = np.where(valid, digits + 1, 0)  # 0 is padding
    total = np.where(valid, digits, 0).sum(axis=1)
    labels = (total > 4.5 * lengths).astype(np.float32)
    return tokens, labels


def build_model():
    model = keras.Sequential([
        keras.Input((STEPS,)),
        keras.layers.Embedding(11, 8, mask_zero=True),
        keras.layers.LSTM(32),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def main(argv=None):
    """Trains and evaluates; returns (History, test accuracy)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--samples", type=int, default=6000)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(42)
    rng = np.random.default_rng(42)
    x_train, y_train = make_data(args.samples, rng)
    x_test, y_test = make_data(2000, rng)
    model = build_model()
    t0 = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=32, epochs=args.epochs,
                        validation_split=0.1, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"training took {time.perf_counter() - t0:.1f} s")
    print(f"test accuracy: {accuracy:.4f}")
    return history, accuracy


if __name__ == "__main__":
    main()
