"""Subclassed models that customize `fit` and `evaluate` by overriding `train_step` /
`test_step` (Keras's "customizing what happens in fit" pattern), with `fastkeras.GradientTape`
in place of TensorFlow's."""

import numpy as np
import pytest

import fastkeras as keras

RNG = np.random.default_rng(2)
X = RNG.standard_normal((96, 3)).astype(np.float32)
Y = (X @ np.array([[1.0], [2.0], [-1.0]], np.float32) + 0.5).astype(np.float32)


class Regressor(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(1, kernel_initializer="ones")

    def call(self, x):
        return self.dense(x)


class OwnLoop(Regressor):
    """The guide's lower-level form: its own loss function, trackers and metrics list."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.loss_fn(y, y_pred))
        self.mae_metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


class CompiledLoop(Regressor):
    """The guide's first form: the compiled loss and metrics through compute_loss and
    compute_metrics."""

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        self.optimizer.apply(tape.gradient(loss, self.trainable_variables),
                             self.trainable_variables)
        logs = self.compute_metrics(x, y, y_pred)
        logs["loss"] = float(loss)
        return logs


def test_own_loop_matches_plain_fit():
    """Per-epoch loss (the mean over the epoch's batches) and weights equal those of the same
    model trained by the built-in step (SGD; equal batches, so the means agree)."""
    ours = OwnLoop()
    ours.compile(optimizer=keras.optimizers.SGD(0.05))  # no loss: train_step computes it
    plain = Regressor()
    plain.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    h_ours = ours.fit(X, Y, epochs=3, batch_size=32, shuffle=False, verbose=0,
                      validation_data=(X, Y))
    h_plain = plain.fit(X, Y, epochs=3, batch_size=32, shuffle=False, verbose=0,
                        validation_data=(X, Y))
    assert sorted(h_ours.history) == sorted(h_plain.history)
    for key in h_plain.history:
        np.testing.assert_allclose(h_ours.history[key], h_plain.history[key], rtol=1e-5,
                                   err_msg=key)
    for a, b in zip(ours.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    loss, mae = ours.evaluate(X, Y, verbose=0)
    np.testing.assert_allclose([loss, mae], plain.evaluate(X, Y, verbose=0), rtol=1e-5)
    assert ours.evaluate(X, Y, verbose=0, return_dict=True).keys() == {"loss", "mae"}


def test_trackers_reset_every_epoch():
    model = OwnLoop()
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # nothing moves: equal epochs
    history = model.fit(X, Y, epochs=3, batch_size=32, verbose=0)
    np.testing.assert_allclose(history.history["loss"], [history.history["loss"][0]] * 3,
                               rtol=1e-6)


def test_compute_loss_and_compute_metrics_form_matches_plain_fit():
    ours = CompiledLoop()
    ours.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    plain = Regressor()
    plain.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    ours.fit(X, Y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    plain.fit(X, Y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_super_train_step_and_callbacks_see_the_logs():
    class Counting(Regressor):
        steps = 0

        def train_step(self, data):
            type(self).steps += 1
            return super().train_step(data)

    seen = []
    model = Counting()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y, epochs=2, batch_size=32, verbose=0, callbacks=[keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(sorted(logs)))])
    assert Counting.steps == 6
    assert seen and all(keys == ["loss"] for keys in seen)


def test_predict_step_override():
    class Doubled(Regressor):
        def predict_step(self, data):  # x alone, as Keras passes it without targets
            return self(data, training=False) * 2.0

    model = Doubled()
    plain = Regressor()
    np.testing.assert_allclose(model.predict(X, verbose=0), 2 * plain.predict(X, verbose=0),
                               rtol=1e-6)
    np.testing.assert_allclose(model.predict(X[:5], verbose=0),
                               2 * plain.predict(X[:5], verbose=0), rtol=1e-6)


def test_gradient_tape_api_and_errors():
    w = keras.Variable(np.array([1.0, 2.0], np.float32))
    with keras.GradientTape() as tape:
        tape.watch(w)
        loss = keras.ops.sum(w * w)
    np.testing.assert_allclose(tape.gradient(loss, w), [2.0, 4.0])

    class NotADict(Regressor):
        def train_step(self, data):
            return 1.0

    model = NotADict()
    model.compile(optimizer="sgd")
    with pytest.raises(TypeError, match="must return a dict of logs"):
        model.fit(X, Y, verbose=0)
    plain = Regressor()
    plain.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="No loss to compute"):
        plain.fit(X, Y, verbose=0)


def test_variational_autoencoder_from_the_keras_examples():
    """Keras's VAE example (a Sampling layer drawing with keras.random and a SeedGenerator, an
    encoder and a decoder model, a train_step computing reconstruction and KL losses, its own
    trackers), with keras.GradientTape for tf.GradientTape: trains on x alone."""
    from fastkeras import layers, ops

    class Sampling(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            eps = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * eps

    enc_in = keras.Input(shape=(12, 12, 1))
    h = layers.Conv2D(8, 3, activation="relu", strides=2, padding="same")(enc_in)
    h = layers.Dense(8, activation="relu")(layers.Flatten()(h))
    z_mean, z_log_var = layers.Dense(2, name="z_mean")(h), layers.Dense(2, name="z_log_var")(h)
    encoder = keras.Model(enc_in, [z_mean, z_log_var, Sampling()([z_mean, z_log_var])])
    dec_in = keras.Input(shape=(2,))
    h = layers.Reshape((6, 6, 4))(layers.Dense(6 * 6 * 4, activation="relu")(dec_in))
    dec_out = layers.Conv2DTranspose(1, 3, strides=2, activation="sigmoid", padding="same")(h)
    decoder = keras.Model(dec_in, dec_out)

    class VAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder, self.decoder = encoder, decoder
            self.total = keras.metrics.Mean(name="total_loss")
            self.kl = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.total, self.kl]

        def train_step(self, data):
            with keras.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data)
                reconstruction = self.decoder(z)
                rec = ops.mean(ops.sum(keras.losses.binary_crossentropy(data, reconstruction),
                                       axis=(1, 2)))
                kl = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
                kl = ops.mean(ops.sum(kl, axis=1))
                total = rec + kl
            grads = tape.gradient(total, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total.update_state(total)
            self.kl.update_state(kl)
            return {"loss": self.total.result(), "kl_loss": self.kl.result()}

    images = (RNG.random((64, 12, 12, 1)) > 0.7).astype(np.float32)
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = vae.fit(images, epochs=4, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert np.isfinite(history.history["kl_loss"]).all()
