"""The Keras notes' callbacks on Fashion-MNIST: ModelCheckpoint, EarlyStopping, a custom
callback and TensorBoard.

    python examples/callbacks.py                         # 5 epochs, files in the current dir
    python examples/callbacks.py --epochs 100 --out-dir runs   # the notes' long run
    tensorboard --logdir <out-dir>/my_logs               # then open http://localhost:6006

Trains the notes' 784-300-100-10 MLP with
  - ModelCheckpoint("my_keras_model.h5", save_best_only=True): the best epoch on the validation
    set is kept on disk (and reloaded at the end),
  - EarlyStopping(patience=10, restore_best_weights=True),
  - PrintValTrainRatioCallback, printing val_loss / loss after every epoch,
  - TensorBoard, logging into my_logs/run_<date>-<time> (needs tensorboardX:
    `pip install fastkeras[tensorboard]`).
"""

import argparse
import os
import time

import fastkeras as keras


class PrintValTrainRatioCallback(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs):
        print("\nval/train: {:.2f}".format(logs["val_loss"] / logs["loss"]))


def get_run_logdir(root_logdir):
    """A new TensorBoard run directory per run, named by the time it starts."""
    return os.path.join(root_logdir, time.strftime("run_%Y_%m_%d-%H_%M_%S"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=os.curdir,
                        help="where my_keras_model.h5 and my_logs/ are written (default: .)")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (notes: 100)")
    parser.add_argument("--train-samples", type=int, default=None,
                        help="train on the first N training images only (default: all 55,000)")
    parser.add_argument("--verbose", type=int, default=1, help="fit's verbose (0, 1 or 2)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)

    (X_train_full, y_train_full), (X_test, y_test) = keras.datasets.fashion_mnist.load_data()
    X_valid, X_train = X_train_full[:5000] / 255.0, X_train_full[5000:] / 255.0
    y_valid, y_train = y_train_full[:5000], y_train_full[5000:]
    X_test = X_test / 255.0
    if args.train_samples is not None:
        X_train, y_train = X_train[:args.train_samples], y_train[:args.train_samples]

    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])

    model_path = os.path.join(args.out_dir, "my_keras_model.h5")
    checkpoint_cb = keras.callbacks.ModelCheckpoint(model_path, save_best_only=True)
    early_stopping_cb = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    callbacks = [checkpoint_cb, early_stopping_cb, PrintValTrainRatioCallback()]
    root_logdir = os.path.join(args.out_dir, "my_logs")
    run_logdir = get_run_logdir(root_logdir)
    try:
        callbacks.append(keras.callbacks.TensorBoard(run_logdir))
    except ImportError as e:
        print(f"No TensorBoard logs: {e}")
        run_logdir = None

    history = model.fit(X_train, y_train, epochs=args.epochs,
                        validation_data=(X_valid, y_valid), callbacks=callbacks,
                        verbose=args.verbose)

    model = keras.models.load_model(model_path)  # the best epoch's model
    test_loss, test_accuracy = model.evaluate(X_test, y_test, verbose=0)
    best = min(range(len(history.epoch)), key=lambda i: history.history["val_loss"][i])
    print(f"Best epoch {history.epoch[best] + 1}: val_loss {history.history['val_loss'][best]:.4f}"
          f"; its saved model: test loss {test_loss:.4f}, test accuracy {test_accuracy:.4f}")
    if run_logdir is not None:
        print(f"TensorBoard logs in {run_logdir}: tensorboard --logdir={root_logdir}")
    return {"history": history, "model_path": model_path, "run_logdir": run_logdir,
            "test_loss": test_loss, "test_accuracy": test_accuracy}


if __name__ == "__main__":
    main()
