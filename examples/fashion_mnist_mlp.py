"""The Keras notes' first program: a 784-300-100-10 MLP classifying Fashion-MNIST.

    python examples/fashion_mnist_mlp.py            # 5 epochs (the demo)
    python examples/fashion_mnist_mlp.py --epochs 30  # the notes' full run

Uses the real Fashion-MNIST (Debian's dataset-fashion-mnist, a cache, or a download), keeps the
first 5,000 training images for validation, scales pixels to [0, 1], trains with SGD, evaluates
on the test set, and saves the learning curves as a PNG when matplotlib is installed.
"""

import argparse
import time

import fastkeras as keras


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (notes: 30)")
    parser.add_argument("--plot", default="fashion_mnist_mlp_curves.png",
                        help="where to save the learning curves (needs matplotlib)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)

    fashion_mnist = keras.datasets.fashion_mnist
    (X_train_full, y_train_full), (X_test, y_test) = fashion_mnist.load_data()
    X_valid, X_train = X_train_full[:5000] / 255.0, X_train_full[5000:] / 255.0
    y_valid, y_train = y_train_full[:5000], y_train_full[5000:]
    X_test = X_test / 255.0
    class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]

    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.summary()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])

    start = time.perf_counter()
    history = model.fit(X_train, y_train, epochs=args.epochs, validation_data=(X_valid, y_valid))
    elapsed = time.perf_counter() - start
    print(f"Trained {args.epochs} epochs in {elapsed:.1f}s ({elapsed / args.epochs:.2f}s/epoch)")

    _test_loss, test_acc = model.evaluate(X_test, y_test)
    print(f"Validation accuracy: {history.history['val_accuracy'][-1]:.4f}; "
          f"test accuracy: {test_acc:.4f}")

    y_proba = model.predict(X_test[:3])
    print("First three test images:", [class_names[i] for i in y_proba.argmax(axis=-1)],
          "true:", [class_names[i] for i in y_test[:3]])

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the learning-curve plot")
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for key, values in history.history.items():
        ax.plot(range(1, len(values) + 1), values, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1)
    ax.grid(True)
    ax.legend()
    fig.savefig(args.plot, dpi=100)
    print(f"Learning curves saved to {args.plot}")


if __name__ == "__main__":
    main()
