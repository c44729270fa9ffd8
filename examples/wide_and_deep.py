"""The Keras notes' wide & deep network with two inputs and two outputs, trained on a
California-housing-like regression set made on the spot (no download).

    python examples/wide_and_deep.py                # 20 epochs (the notes' run)
    python examples/wide_and_deep.py --epochs 2 --samples 2000   # a quick check

The 8 features mimic the California housing columns (median income, house age, rooms,
bedrooms, population, occupancy, latitude, longitude); the target, a median house value in
$100,000s, depends on them non-linearly with noise. Columns 0-4 feed the wide path and columns
2-7 the deep path; the main output reads both, the auxiliary output only the deep path, and the
losses are weighted 0.9 / 0.1.
"""

import argparse

import numpy as np

import fastkeras as keras


def make_housing(n, seed=0):
    """(features (n, 8), target (n, 1)) with California-housing-like marginals."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(1.2, 0.45, n)
    age = rng.uniform(1, 52, n)
    rooms = rng.lognormal(1.6, 0.25, n)
    bedrooms = rooms * rng.uniform(0.18, 0.25, n)
    population = rng.lognormal(7.0, 0.7, n)
    occupancy = rng.lognormal(1.0, 0.3, n)
    latitude = rng.uniform(32.5, 42.0, n)
    longitude = -124.3 + (42.0 - latitude) * 0.9 + rng.normal(0, 0.8, n)
    coast = np.exp(-np.abs(longitude + 122.0 + (latitude - 38.0) * 0.9) / 1.5)
    value = (0.45 * income + 0.006 * age + 0.08 * (rooms - 5) - 0.25 * (occupancy - 3)
             + 1.1 * coast + 0.1 * np.sin(latitude) + rng.normal(0, 0.3, n))
    X = np.stack([income, age, rooms, bedrooms, population, occupancy, latitude, longitude], 1)
    return X.astype(np.float32), np.clip(value, 0.15, 5.0)[:, None].astype(np.float32)


def build_model():
    input_A = keras.layers.Input(shape=[5], name="wide_input")
    input_B = keras.layers.Input(shape=[6], name="deep_input")
    hidden1 = keras.layers.Dense(30, activation="relu")(input_B)
    hidden2 = keras.layers.Dense(30, activation="relu")(hidden1)
    concat = keras.layers.concatenate([input_A, hidden2])
    output = keras.layers.Dense(1, name="main_output")(concat)
    aux_output = keras.layers.Dense(1, name="aux_output")(hidden2)
    return keras.Model(inputs=[input_A, input_B], outputs=[output, aux_output])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=20640, help="dataset size")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)

    X, y = make_housing(args.samples, seed=args.seed)
    n_test = n_valid = len(X) // 5
    X_test, y_test = X[:n_test], y[:n_test]
    X_valid, y_valid = X[n_test:n_test + n_valid], y[n_test:n_test + n_valid]
    X_train, y_train = X[n_test + n_valid:], y[n_test + n_valid:]
    mean, std = X_train.mean(0), X_train.std(0)
    X_train, X_valid, X_test = [(a - mean) / std for a in (X_train, X_valid, X_test)]
    X_train_A, X_train_B = X_train[:, :5], X_train[:, 2:]
    X_valid_A, X_valid_B = X_valid[:, :5], X_valid[:, 2:]
    X_test_A, X_test_B = X_test[:, :5], X_test[:, 2:]

    model = build_model()
    model.summary()
    model.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1],
                  optimizer=keras.optimizers.SGD(learning_rate=1e-3))
    history = model.fit([X_train_A, X_train_B], [y_train, y_train], epochs=args.epochs,
                        validation_data=([X_valid_A, X_valid_B], [y_valid, y_valid]),
                        verbose=2)
    print("History:")
    for key, values in history.history.items():
        print(f"  {key}: {[round(v, 4) for v in values]}")
    total_loss, main_loss, aux_loss = model.evaluate([X_test_A, X_test_B], [y_test, y_test],
                                                     verbose=0)
    print(f"Test: loss={total_loss:.4f} main_output_loss={main_loss:.4f} "
          f"aux_output_loss={aux_loss:.4f}")
    y_pred_main, y_pred_aux = model.predict([X_test_A[:3], X_test_B[:3]], verbose=0)
    print("First predictions (main, aux, true):")
    for m, a, t in zip(y_pred_main[:, 0], y_pred_aux[:, 0], y_test[:3, 0]):
        print(f"  {m:.3f}  {a:.3f}  {t:.3f}")
    return history, (total_loss, main_loss, aux_loss)


if __name__ == "__main__":
    main()
