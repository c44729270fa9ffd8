"""A small convolutional network on Fashion-MNIST:

    Conv2D(32, 3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3, relu) -> MaxPooling2D(2)
    -> Flatten -> Dense(128, relu) -> Dense(10, softmax), Adam, batch 32.

    python examples/fashion_mnist_cnn.py [--epochs 5]
"""

import argparse
import time

import numpy as np

import fastkeras as keras


def build_model():
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def main(argv=None):
    """Trains and evaluates; returns (History, test accuracy)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)

    (x_full, y_full), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_full = (x_full[..., np.newaxis] / 255.0).astype(np.float32)
    x_test = (x_test[..., np.newaxis] / 255.0).astype(np.float32)
    x_valid, x_train = x_full[:5000], x_full[5000:]
    y_valid, y_train = y_full[:5000], y_full[5000:]

    model = build_model()
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=32, epochs=args.epochs,
                        validation_data=(x_valid, y_valid))
    elapsed = time.perf_counter() - start
    _, test_acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"{args.epochs} epochs in {elapsed:.0f}s ({elapsed / args.epochs:.1f}s/epoch); "
          f"validation accuracy {history.history['val_accuracy'][-1]:.4f}, "
          f"test accuracy {test_acc:.4f}")
    return history, test_acc


if __name__ == "__main__":
    main()
