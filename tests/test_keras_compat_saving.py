"""Files fastkeras writes load in real Keras 3 (same layout, config keys and class names), and
files real Keras writes load in fastkeras: predictions agree to 1e-5, and the compile
configuration and optimizer state come along where Keras restores them."""

import warnings

import numpy as np
import pytest

import fastkeras as fk

keras = pytest.importorskip("keras")



def mlp(lib):
    L = lib.layers
    return lib.Sequential([
        lib.Input(shape=(10,)),
        L.Dense(16, activation="relu"),
        L.BatchNormalization(),
        L.Dropout(0.25),
        L.Dense(12, activation="tanh", kernel_regularizer=lib.regularizers.l2(1e-3)),
        L.Dense(3, activation="softmax"),
    ], name="mlp")


def cnn(lib):
    L = lib.layers
    return lib.Sequential([
        lib.Input(shape=(10, 10, 3)),
        L.Conv2D(6, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(2),
        L.Conv2D(8, 3, strides=1, activation="elu"),
        L.AveragePooling2D(2, padding="same"),
        L.Flatten(),
        L.Dropout(0.2),
        L.Dense(3, activation="softmax"),
    ], name="cnn")


BUILDERS = {"mlp": (mlp, (10,)), "cnn": (cnn, (10, 10, 3))}


def data(kind, n=32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n,) + BUILDERS[kind][1]).astype(np.float32)
    y = rng.integers(0, 3, n)
    return x, y


def compiled(lib, kind, optimizer):
    model = BUILDERS[kind][0](lib)
    opt = {"adam": lambda: lib.optimizers.Adam(0.01),
           "sgd": lambda: lib.optimizers.SGD(0.05, momentum=0.9, nesterov=True)}[optimizer]()
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def optimizer_state(opt):
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in opt.variables]


def keras_optimizer_state(opt):
    return [keras.ops.convert_to_numpy(v) for v in opt.variables]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_fastkeras_models_load_in_keras(tmp_path, kind, ext, optimizer):
    x, y = data(kind)
    model = compiled(fk, kind, optimizer)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / f"m{ext}"
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = keras.models.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.predict(x, verbose=0)),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    # Compile configuration and optimizer state.
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__
    assert getattr(loaded.loss, "__name__", loaded.loss) == "sparse_categorical_crossentropy"
    k_cfg, f_cfg = loaded.optimizer.get_config(), model.optimizer.get_config()
    assert set(k_cfg) == set(f_cfg)
    assert k_cfg["learning_rate"] == pytest.approx(f_cfg["learning_rate"])
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == 4
    for k_var, f_var in zip(keras_optimizer_state(loaded.optimizer)[1:],
                            optimizer_state(model.optimizer)[1:]):
        np.testing.assert_allclose(k_var, f_var, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_fastkeras_weights_files_load_in_keras(tmp_path, kind):
    x, y = data(kind)
    model = compiled(fk, kind, "adam")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save_weights(tmp_path / "m.weights.h5")
    twin = compiled(keras, kind, "adam")
    twin.optimizer.build(twin.trainable_variables)
    twin.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(twin.predict(x, verbose=0)),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    for k_var, f_var in zip(keras_optimizer_state(twin.optimizer),
                            optimizer_state(model.optimizer)):
        np.testing.assert_allclose(k_var, f_var, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("ext", [".keras", ".h5", ".weights.h5"])
def test_keras_files_written_now_load_in_fastkeras(tmp_path, kind, ext):
    x, y = data(kind)
    keras.utils.set_random_seed(3)
    model = compiled(keras, kind, "adam")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / f"m{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if ext == ".weights.h5":
            model.save_weights(path)
        else:
            model.save(path)
    if ext == ".weights.h5":
        loaded = compiled(fk, kind, "adam")
        # as in Keras, an optimizer takes the saved state once it is built (an unbuilt one's
        # is skipped with a warning)
        loaded.optimizer.build(loaded.trainable_variables)
        loaded.load_weights(path)
    else:
        loaded = fk.models.load_model(path)
        assert loaded.loss == "sparse_categorical_crossentropy"
    expected = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    assert type(loaded.optimizer).__name__ == "Adam"
    assert int(loaded.optimizer.iterations) == 4
    for f_var, k_var in zip(optimizer_state(loaded.optimizer)[1:],
                            keras_optimizer_state(model.optimizer)[1:]):
        np.testing.assert_allclose(f_var, k_var, rtol=1e-6, atol=1e-7)
    # The loaded model trains on.
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == 8


def _subclassed(lib):
    class TwoTower(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.encoder = lib.layers.Dense(8, activation="relu")
            self.norm = lib.layers.BatchNormalization()
            self.heads = [lib.layers.Dense(4), lib.layers.Dense(4)]
            self.out = lib.layers.Dense(2)

        def call(self, x, training=None):
            h = self.norm(self.encoder(x), training=training)
            return self.out(self.heads[0](h) + self.heads[1](h))

    return TwoTower()


@pytest.mark.parametrize("direction", ["fastkeras_to_keras", "keras_to_fastkeras"])
def test_subclassed_model_weights_cross_over(tmp_path, direction):
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    src_lib, dst_lib = (fk, keras) if direction == "fastkeras_to_keras" else (keras, fk)
    src, dst = _subclassed(src_lib), _subclassed(dst_lib)
    src(x)
    dst(x)
    src.save_weights(tmp_path / "s.weights.h5")
    dst.load_weights(tmp_path / "s.weights.h5")
    to_np = keras.ops.convert_to_numpy
    np.testing.assert_allclose(to_np(dst.predict(x, verbose=0)), to_np(src.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-5)
