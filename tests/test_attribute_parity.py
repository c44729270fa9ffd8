"""Public attributes of layers and callbacks against real Keras 3 (torch backend): the names
a built Keras instance has exist here too, with the same values (recurrent layers' cell
settings, pooling modes, dropout seed generators, Normalization statistics, callbacks' run
state), and what they do matches (RNN.inner_loop, use_cudnn, Bidirectional states, batch
renormalization in training, in a training step and in saved files)."""

import warnings

import numpy as np
import pytest

import fastkeras as fk
from fastkeras.layers.layer import reset_names

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")  # Keras's backend here; its tensors are compared

ATOL = 1e-5

# Handled elsewhere (Layer internals, quantization, LoRA, saving hooks), and the two tf.data
# helpers of Keras's preprocessing layers (`backend`, `convert_weight`), which have no
# meaning without TensorFlow.
IGNORED = {
    "add_metric", "add_variable", "autocast", "build_from_config", "call_signature_parameters",
    "compute_output_spec", "get_build_config", "input_dtype", "load_own_variables",
    "save_own_variables", "metrics", "metrics_variables", "path", "quantization_mode",
    "quantize", "quantized_build", "quantized_call", "rematerialized_call", "stateless_call",
    "supports_jit", "symbolic_call", "torch_params", "training", "enable_lora",
    "quantization_config", "variable_serialization_spec", "rank", "convolution_op",
    "backend", "convert_weight",
}
TORCH_MODULE = set(dir(torch.nn.Module))


def missing_names(keras_obj, fk_obj):
    """Public names of the Keras object that the fastkeras one lacks."""
    return sorted(n for n in set(dir(keras_obj)) - set(dir(fk_obj)) - TORCH_MODULE - IGNORED
                  if not n.startswith("_") and not n.startswith("lora"))


def both(name, *args, build=None, **kwargs):
    """The Keras layer and the fastkeras one, same arguments, built for `build` if given."""
    kl = getattr(keras.layers, name)(*args, **kwargs)
    fl = getattr(fk.layers, name)(*args, **kwargs)
    if build is not None:
        kl.build(build)
        fl.build(build)
    return kl, fl


def to_np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def same_object_config(k, f):
    """Initializers, regularizers and constraints: the same class and config (or both None;
    numbers to float32 precision: Keras's L1 keeps its factor rounded to float32)."""
    if k is None or f is None:
        return k is None and f is None
    return type(k).__name__ == type(f).__name__ and close(f.get_config(), k.get_config())


def close(a, b):
    """Equal configs, floats to float32 precision."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[key], b[key]) for key in a)
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-6)
    return a == b


def without_name(config):
    return {k: v for k, v in config.items() if k != "name"}


LAYERS = [
    ("LSTM", (4,), {}, (2, 5, 3)),
    ("GRU", (4,), {}, (2, 5, 3)),
    ("SimpleRNN", (4,), {}, (2, 5, 3)),
    ("ConvLSTM1D", (4, 3), {}, (2, 5, 8, 3)),
    ("ConvLSTM2D", (4, 3), {}, (2, 5, 8, 8, 3)),
    ("ConvLSTM3D", (2, 3), {}, (2, 3, 5, 5, 5, 2)),
    ("BatchNormalization", (), {"renorm": True}, (2, 3)),
    ("Normalization", (), {}, (2, 3)),
    ("MaxPooling1D", (2,), {}, (2, 8, 3)),
    ("AveragePooling1D", (2,), {}, (2, 8, 3)),
    ("MaxPooling2D", (2,), {}, (2, 8, 8, 3)),
    ("AveragePooling2D", (2,), {}, (2, 8, 8, 3)),
    ("MaxPooling3D", (2,), {}, (2, 4, 4, 4, 3)),
    ("AveragePooling3D", (2,), {}, (2, 4, 4, 4, 3)),
    ("Dropout", (0.5,), {}, (2, 3)),
    ("SpatialDropout1D", (0.5,), {}, (2, 3, 3)),
    ("SpatialDropout2D", (0.5,), {}, (2, 3, 3, 3)),
    ("SpatialDropout3D", (0.5,), {}, (2, 3, 3, 3, 3)),
    ("GaussianNoise", (0.5,), {}, (2, 3)),
    ("GaussianDropout", (0.5,), {}, (2, 3)),
    ("AlphaDropout", (0.5,), {}, (2, 3)),
    ("LSTMCell", (4,), {}, (2, 3)),
    ("GRUCell", (4,), {}, (2, 3)),
    ("SimpleRNNCell", (4,), {}, (2, 3)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS, ids=[spec[0] for spec in LAYERS])
def test_built_layers_have_the_public_names_keras_has(name, args, kwargs, shape):
    kl, fl = both(name, *args, build=shape, **kwargs)
    assert missing_names(kl, fl) == []


def test_bidirectional_has_the_public_names_keras_has():
    kl = keras.layers.Bidirectional(keras.layers.LSTM(3))
    fl = fk.layers.Bidirectional(fk.layers.LSTM(3))
    kl.build((2, 5, 3))
    fl.build((2, 5, 3))
    assert missing_names(kl, fl) == []


CALLBACKS = [
    ("EarlyStopping", ()), ("ModelCheckpoint", ("{tmp}/m.keras",)), ("ReduceLROnPlateau", ()),
    ("CSVLogger", ("{tmp}/log.csv",)), ("LearningRateScheduler", (lambda epoch, lr: lr,)),
    ("BackupAndRestore", ("{tmp}/backup",)), ("TerminateOnNaN", ()), ("History", ()),
    ("ProgbarLogger", ()), ("LambdaCallback", ()), ("RemoteMonitor", ()),
    ("SwapEMAWeights", ()),
]


@pytest.mark.parametrize("name,args", CALLBACKS, ids=[spec[0] for spec in CALLBACKS])
def test_callbacks_have_the_public_names_keras_has(name, args, tmp_path):
    args = [a.format(tmp=tmp_path) if isinstance(a, str) else a for a in args]
    kc = getattr(keras.callbacks, name)(*args)
    fc = getattr(fk.callbacks, name)(*args)
    assert missing_names(kc, fc) == []


def test_tensorboard_lacks_only_keras_tensorflow_summary_module(tmp_path):
    # Keras's `TensorBoard.summary` is the `tensorflow.summary` module (imported on use);
    # fastkeras writes event files without TensorFlow, so it has no such attribute.
    kc = keras.callbacks.TensorBoard(str(tmp_path / "k"))
    fc = fk.callbacks.TensorBoard(str(tmp_path / "f"))
    assert missing_names(kc, fc) == ["summary"]


# --- recurrent layers --------------------------------------------------------------------

RNN_ARGS = dict(
    activation="relu", use_bias=True, kernel_initializer="he_normal",
    recurrent_initializer=keras.initializers.Orthogonal(gain=0.5),
    bias_initializer="ones", kernel_regularizer="l2", recurrent_regularizer=None,
    bias_regularizer="l1", kernel_constraint="max_norm", recurrent_constraint=None,
    bias_constraint="non_neg", dropout=0.25, recurrent_dropout=0.5,
)
SETTINGS = ("units", "use_bias", "dropout", "recurrent_dropout", "single_state")
OBJECTS = ("kernel_initializer", "recurrent_initializer", "bias_initializer",
           "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
           "kernel_constraint", "recurrent_constraint", "bias_constraint")


def _fk_args(args):
    """The arguments with any Keras object replaced by its fastkeras twin (from config)."""
    out = {}
    for key, value in args.items():
        if hasattr(value, "get_config"):
            value = fk.initializers.get({"class_name": type(value).__name__,
                                         "config": value.get_config()})
        out[key] = value
    return out


@pytest.mark.parametrize("name,extra", [
    ("LSTM", dict(recurrent_activation="hard_sigmoid", unit_forget_bias=False)),
    ("GRU", dict(recurrent_activation="tanh", reset_after=False)),
    ("SimpleRNN", {}),
])
def test_recurrent_layers_expose_their_cells_settings_as_keras(name, extra):
    kl = getattr(keras.layers, name)(5, **RNN_ARGS, **extra)
    fl = getattr(fk.layers, name)(5, **_fk_args(RNN_ARGS), **extra)
    for attr in SETTINGS:
        assert getattr(fl, attr) == getattr(kl, attr), attr
    assert fl.activation.__name__ == kl.activation.__name__ == "relu"
    for attr in OBJECTS:
        assert same_object_config(getattr(kl, attr), getattr(fl, attr)), attr
    assert fl.kernel_initializer.get_config() == kl.kernel_initializer.get_config()
    for attr in extra:
        value = getattr(kl, attr)
        if callable(value):
            assert getattr(fl, attr).__name__ == value.__name__
        else:
            assert getattr(fl, attr) == value
    if name == "SimpleRNN":
        assert not hasattr(kl, "use_cudnn") and not hasattr(fl, "use_cudnn")
    else:
        assert fl.use_cudnn == kl.use_cudnn == "auto"
    # read-only, as in Keras
    with pytest.raises(AttributeError):
        fl.dropout = 0.1


def test_cells_seed_generator_and_implementation_as_keras():
    for name, kwargs in [("LSTMCell", {}), ("LSTMCell", dict(recurrent_dropout=0.1)),
                         ("LSTMCell", dict(implementation=1)), ("GRUCell", {}),
                         ("GRUCell", dict(recurrent_dropout=0.3))]:
        kc, fc = both(name, 3, **kwargs)
        assert fc.implementation == kc.implementation, (name, kwargs)
        assert isinstance(fc.seed_generator, fk.random.SeedGenerator)
    kc, fc = both("SimpleRNNCell", 3)
    assert not hasattr(kc, "implementation")
    assert isinstance(fc.seed_generator, fk.random.SeedGenerator)


@pytest.mark.parametrize("name,kwargs,count", [
    ("LSTMCell", dict(dropout=0.5), None), ("LSTMCell", dict(dropout=0.5, implementation=1), 4),
    ("GRUCell", dict(dropout=0.5, recurrent_dropout=0.5), 3),
    ("SimpleRNNCell", dict(dropout=0.5, recurrent_dropout=0.5), None),
    ("LSTMCell", {}, None),
])
def test_cell_dropout_masks_have_keras_structure(name, kwargs, count):
    kc, fc = both(name, 6, seed=3, **kwargs)
    x = np.ones((4, 5), np.float32)
    h = np.ones((4, 6), np.float32)
    for method, arg in (("get_dropout_mask", x), ("get_recurrent_dropout_mask", h)):
        km = getattr(kc, method)(keras.ops.convert_to_tensor(arg))
        fm = getattr(fc, method)(arg)
        assert (km is None) == (fm is None), method
        if km is None:
            continue
        assert isinstance(fm, list) == isinstance(km, list), method
        k_parts = km if isinstance(km, list) else [km]
        f_parts = fm if isinstance(fm, list) else [fm]
        if isinstance(km, list) and method == "get_dropout_mask":
            assert len(f_parts) == count
        assert [tuple(m.shape) for m in f_parts] == [tuple(m.shape) for m in k_parts]
        rate = kwargs["dropout" if method == "get_dropout_mask" else "recurrent_dropout"]
        for part in f_parts:
            values = set(np.unique(to_np(part)).tolist())
            assert values <= {0.0, 1.0 / (1.0 - rate)}
        # cached: the same mask until reset, as Keras
        again = getattr(fc, method)(arg)
        first = f_parts[0]
        np.testing.assert_array_equal(to_np(again[0] if isinstance(again, list) else again),
                                      to_np(first))


@pytest.mark.parametrize("name,kwargs", [
    ("LSTM", {}), ("GRU", {}), ("GRU", dict(reset_after=False)), ("SimpleRNN", {}),
    ("LSTM", dict(return_sequences=True, go_backwards=True)),
])
def test_inner_loop_matches_keras(name, kwargs):
    rng = np.random.default_rng(0)
    kl, fl = both(name, 4, build=(3, 6, 2), **kwargs)
    fl.set_weights(kl.get_weights())
    x = rng.normal(size=(3, 6, 2)).astype(np.float32)
    states = [rng.normal(size=(3, 4)).astype(np.float32) for _ in kl.state_size]
    k_last, k_out, k_states = kl.inner_loop(keras.ops.convert_to_tensor(x),
                                            [keras.ops.convert_to_tensor(s) for s in states],
                                            None)
    f_last, f_out, f_states = fl.inner_loop(x, states, None)
    np.testing.assert_allclose(to_np(f_last), to_np(k_last), atol=ATOL)
    assert tuple(f_out.shape) == tuple(k_out.shape)
    np.testing.assert_allclose(to_np(f_out), to_np(k_out), atol=ATOL)
    assert len(f_states) == len(k_states)
    for fs, ks in zip(f_states, k_states):
        np.testing.assert_allclose(to_np(fs), to_np(ks), atol=ATOL)


def test_overriding_inner_loop_changes_the_call_as_in_keras():
    class Doubled(fk.layers.GRU):
        def inner_loop(self, sequences, initial_state, mask, training=False):
            last, outputs, states = super().inner_loop(sequences, initial_state, mask, training)
            return fk.ops.multiply(last, 2.0), outputs, states

    layer = Doubled(3)
    plain = fk.layers.GRU(3)
    x = np.random.default_rng(1).normal(size=(2, 4, 5)).astype(np.float32)
    plain.build(x.shape)
    layer.build(x.shape)
    layer.set_weights(plain.get_weights())
    np.testing.assert_allclose(layer(x).numpy(), 2 * plain(x).numpy(), atol=1e-6)


def test_use_cudnn_argument_as_keras():
    for lib in (keras, fk):
        with pytest.raises(ValueError, match="use_cudnn"):
            lib.layers.LSTM(3, use_cudnn="yes")
        with pytest.raises(ValueError, match="use_cudnn"):
            lib.layers.SimpleRNN(3, use_cudnn=True)
        assert lib.layers.GRU(3, use_cudnn=False).use_cudnn is False
    assert "use_cudnn" not in fk.layers.LSTM(3, use_cudnn=True).get_config()
    bidi = fk.layers.Bidirectional(fk.layers.GRU(3, use_cudnn=False))
    assert bidi.forward_layer.use_cudnn is False and bidi.backward_layer.use_cudnn is False


@pytest.mark.parametrize("case", ["plain", "mask", "recurrent_dropout", "gru_reset_before",
                                  "auto_mask"])
def test_use_cudnn_true_raises_where_keras_torch_does(case):
    """On Keras's PyTorch backend, use_cudnn=True fails at call time exactly where no fused
    kernel applies: a mask, recurrent dropout, a GRU with reset_after=False; 'auto' never."""
    x = np.random.default_rng(2).normal(size=(2, 5, 3)).astype(np.float32)
    mask = np.array([[True] * 5, [True, True, True, False, False]])
    cls = "GRU" if case == "gru_reset_before" else "LSTM"
    kwargs = {"use_cudnn": "auto" if case == "auto_mask" else True}
    if case == "recurrent_dropout":
        kwargs["recurrent_dropout"] = 0.2
    if case == "gru_reset_before":
        kwargs["reset_after"] = False
    masked = case in ("mask", "auto_mask")
    outcomes = []
    for lib in (keras, fk):
        layer = getattr(lib.layers, cls)(3, **kwargs)
        convert = keras.ops.convert_to_tensor if lib is keras else np.asarray
        call_kwargs = {"mask": convert(mask)} if masked else {}
        try:
            layer(convert(x), **call_kwargs)
            outcomes.append("ok")
        except ValueError as e:
            assert "use_cudnn" in str(e)
            outcomes.append("raises")
    assert outcomes[0] == outcomes[1]
    assert outcomes[1] == ("ok" if case in ("plain", "auto_mask") else "raises")


def test_use_cudnn_true_does_not_fail_while_building_a_masked_model():
    inp = fk.Input((5,))
    seq = fk.layers.Embedding(10, 3, mask_zero=True)(inp)
    model = fk.Model(inp, fk.layers.LSTM(2, use_cudnn=True)(seq))
    with pytest.raises(ValueError, match="use_cudnn"):
        model.predict(np.array([[1, 2, 0, 0, 0]]), verbose=0)


@pytest.mark.parametrize("name,args,shape", [
    ("ConvLSTM1D", (4, 3), (2, 5, 8, 3)), ("ConvLSTM2D", (4, (3, 2)), (2, 5, 8, 8, 3)),
    ("ConvLSTM3D", (2, 3), (2, 3, 5, 5, 5, 2)),
])
def test_conv_lstm_layers_expose_their_cells_settings_as_keras(name, args, shape):
    kwargs = dict(strides=1, padding="same", dilation_rate=1, activation="relu",
                  recurrent_activation="hard_sigmoid", unit_forget_bias=False,
                  kernel_regularizer="l2", bias_constraint="non_neg", dropout=0.1,
                  recurrent_dropout=0.2)
    kl, fl = both(name, *args, build=shape, **kwargs)
    for attr in ("filters", "kernel_size", "strides", "padding", "data_format",
                 "dilation_rate", "use_bias", "unit_forget_bias", "dropout",
                 "recurrent_dropout", "single_state"):
        assert getattr(fl, attr) == getattr(kl, attr), attr
    assert fl.activation.__name__ == kl.activation.__name__
    assert fl.recurrent_activation.__name__ == kl.recurrent_activation.__name__
    for attr in OBJECTS:
        assert same_object_config(getattr(kl, attr), getattr(fl, attr)), attr


# --- Bidirectional ----------------------------------------------------------------------------

def test_bidirectional_states_and_reset_as_keras():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    kl = keras.layers.Bidirectional(keras.layers.GRU(4, stateful=True))
    fl = fk.layers.Bidirectional(fk.layers.GRU(4, stateful=True))
    assert fl.stateful is kl.stateful is True
    assert fl.states is None and kl.states is None
    kl.build(x.shape)
    fl.build(x.shape)
    fl.set_weights(kl.get_weights())
    assert len(fl.states) == len(kl.states) == 2
    for _ in range(2):  # the second call starts from the states the first left
        kl(keras.ops.convert_to_tensor(x))
        fl(x)
    for fs, ks in zip(fl.states, kl.states):
        np.testing.assert_allclose(to_np(fs.value), to_np(ks.value), atol=ATOL)
        assert np.abs(to_np(fs.value)).sum() > 0
    fl.reset_states()
    kl.reset_states()
    for fs in fl.states:
        np.testing.assert_array_equal(to_np(fs.value), 0)
    plain_k = keras.layers.Bidirectional(keras.layers.LSTM(2))
    plain_f = fk.layers.Bidirectional(fk.layers.LSTM(2))
    assert plain_f.stateful is plain_k.stateful is False
    assert plain_f.states is None
    for layer in (plain_k, plain_f):
        with pytest.raises(AttributeError, match="stateful"):
            layer.reset_state()


def test_bidirectional_refuses_a_backward_layer_of_other_statefulness():
    with pytest.raises(ValueError, match="stateful"):
        fk.layers.Bidirectional(fk.layers.LSTM(2, stateful=True),
                                backward_layer=fk.layers.LSTM(2, go_backwards=True))


# --- pooling, dropout ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["MaxPooling1D", "AveragePooling1D", "MaxPooling2D",
                                  "AveragePooling2D", "MaxPooling3D", "AveragePooling3D"])
def test_pooling_mode_and_sizes_as_keras(name):
    kl, fl = both(name, 3, strides=2)
    assert fl.pool_mode == kl.pool_mode
    assert fl.pool_mode == ("max" if name.startswith("Max") else "average")
    assert fl.pool_size == kl.pool_size and fl.strides == kl.strides
    assert fl.get_config()["pool_size"] == kl.get_config()["pool_size"]


def test_pooling_1d_still_pools_with_tuple_sizes():
    x = np.arange(2 * 7 * 3, dtype=np.float32).reshape(2, 7, 3)
    kl, fl = both("MaxPooling1D", 3, strides=2, padding="same")
    np.testing.assert_allclose(fl(x).numpy(), to_np(kl(keras.ops.convert_to_tensor(x))))
    kl, fl = both("AveragePooling1D", 2)
    np.testing.assert_allclose(fl(x).numpy(), to_np(kl(keras.ops.convert_to_tensor(x))),
                               atol=1e-6)


NOISE = [("Dropout", (0.5,), {}), ("SpatialDropout1D", (0.5,), {}),
         ("SpatialDropout2D", (0.5,), {}), ("SpatialDropout3D", (0.5,), {}),
         ("GaussianNoise", (0.5,), {}), ("GaussianDropout", (0.5,), {}),
         ("AlphaDropout", (0.5,), {})]
NOISE_SHAPES = {"SpatialDropout1D": (4, 3, 5), "SpatialDropout2D": (4, 3, 3, 5),
                "SpatialDropout3D": (4, 2, 2, 2, 5)}


@pytest.mark.parametrize("name,args,kwargs", NOISE, ids=[n[0] for n in NOISE])
def test_noise_layers_draw_from_their_seed_generator(name, args, kwargs):
    kl, fl = both(name, *args, seed=7, **kwargs)
    assert type(kl.seed_generator).__name__ == type(fl.seed_generator).__name__
    assert isinstance(fl.seed_generator, fk.random.SeedGenerator)
    assert fl.seed_generator.get_config()["seed"] == 7
    x = np.ones(NOISE_SHAPES.get(name, (4, 6)), np.float32)
    state = np.asarray(fl.seed_generator.state.value).copy()
    first = fl(x, training=True).numpy()
    assert not np.array_equal(np.asarray(fl.seed_generator.state.value), state)  # advanced
    assert not np.array_equal(fl(x, training=True).numpy(), first)
    fl.seed_generator.state.assign(state)  # rewound: the same draw again
    np.testing.assert_array_equal(fl(x, training=True).numpy(), first)
    np.testing.assert_array_equal(fl(x).numpy(), x)  # inference untouched


@pytest.mark.parametrize("name", ["Dropout", "GaussianNoise", "GaussianDropout",
                                  "AlphaDropout"])
def test_noise_layers_at_rate_zero_have_no_seed_generator_as_keras(name):
    kl, fl = both(name, 0.0)
    assert not hasattr(kl, "seed_generator") and not hasattr(fl, "seed_generator")


def test_backup_restores_seed_generators_for_an_exact_resume(tmp_path):
    """A seeded Dropout draws from its seed generator: a fit resumed from a backup continues
    its sequence of masks, ending where an uninterrupted run ends."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)

    def model(seed):
        fk.utils.set_random_seed(seed)
        reset_names()
        m = fk.Sequential([fk.Input((4,)), fk.layers.Dense(6), fk.layers.Dropout(0.4, seed=3),
                           fk.layers.Dense(1)])
        m.compile(optimizer=fk.optimizers.SGD(0.05), loss="mse")
        return m

    class Stop(fk.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    ref = model(1)
    ref.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    backup = fk.callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        model(1).fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                     callbacks=[backup, Stop()])
    resumed = model(1)
    resumed.layers[1].seed_generator.state.assign(np.array([99, 0], np.uint32))
    resumed.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0, callbacks=[backup])
    for a, b in zip(resumed.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


# --- Normalization ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{}, dict(axis=(1, 2)), dict(axis=None),
                                    dict(axis=1, mean=[1.0, 2, 3, 4], variance=[1.0, 4, 9, 2]),
                                    dict(mean=2.0, variance=3.0)])
def test_normalization_mean_and_variance_as_keras(kwargs):
    x = np.random.default_rng(4).normal(2, 3, size=(16, 4, 5)).astype(np.float32)
    kl, fl = both("Normalization", **kwargs)
    assert kl.mean is None and fl.mean is None
    if "mean" in kwargs:
        kl.build(x.shape)
        fl.build(x.shape)
    else:
        kl.adapt(x)
        fl.adapt(x)
    assert kl.finalize_state() is None and fl.finalize_state() is None
    for attr in ("mean", "variance"):
        k_value, f_value = to_np(getattr(kl, attr)), to_np(getattr(fl, attr))
        assert f_value.shape == k_value.shape
        np.testing.assert_allclose(f_value, k_value, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fl(x).numpy(), to_np(kl(keras.ops.convert_to_tensor(x))),
                               rtol=1e-5, atol=1e-5)


def test_normalization_mean_follows_loaded_statistics():
    layer = fk.layers.Normalization()
    layer.build((None, 3))
    layer.set_weights([np.array([1.0, 2.0, 3.0], np.float32),
                       np.array([4.0, 4.0, 4.0], np.float32), np.array(0, np.int32)])
    layer.finalize_state()
    np.testing.assert_array_equal(layer.mean.numpy(), [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(layer.variance.numpy(), [[4.0, 4.0, 4.0]])


# --- BatchNormalization with batch renormalization ---------------------------------------------

def bn_model(lib, **kwargs):
    layers = lib.layers
    return lib.Sequential([lib.Input((4, 5)), layers.Dense(6),
                           layers.BatchNormalization(renorm=True, momentum=0.9,
                                                     renorm_momentum=0.8, **kwargs),
                           layers.Flatten(), layers.Dense(1)])


def livelier(weights, rng):
    """The weights with the (1-D) statistics and scales moved off their initial values, so
    that the renorm corrections r and d are not 1 and 0."""
    return [w + rng.uniform(0.1, 0.5, w.shape).astype(np.float32) if w.ndim == 1 else w
            for w in weights]


RENORM_CASES = [{}, dict(renorm_clipping={"rmax": 1.2, "rmin": 0.9, "dmax": 0.1}),
                dict(scale=False), dict(center=False), dict(axis=1)]


@pytest.mark.parametrize("kwargs", RENORM_CASES)
def test_batch_renormalization_training_and_one_step_match_keras(kwargs):
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 2.0, size=(12, 4, 5)).astype(np.float32)
    y = rng.normal(size=(12, 1)).astype(np.float32)
    km, fm = bn_model(keras, **kwargs), bn_model(fk, **kwargs)
    k_bn, f_bn = km.layers[1], fm.layers[1]
    assert [v.name for v in f_bn.weights] == [v.name for v in k_bn.weights]
    assert without_name(f_bn.get_config()) == without_name(k_bn.get_config())
    weights = livelier(km.get_weights(), rng)
    km.set_weights(weights)
    fm.set_weights(weights)
    # training-mode outputs (the moving statistics then move: reset after)
    hidden = x @ weights[0] + weights[1]
    k_out = to_np(k_bn(keras.ops.convert_to_tensor(hidden), training=True))
    f_out = f_bn(hidden, training=True).numpy()
    np.testing.assert_allclose(f_out, k_out, atol=ATOL, rtol=ATOL)
    for fv, kv in zip(f_bn.weights, k_bn.weights):
        np.testing.assert_allclose(to_np(fv.value), to_np(kv.value), atol=ATOL, rtol=ATOL)
    km.set_weights(weights)
    fm.set_weights(weights)
    km.compile(keras.optimizers.SGD(0.1), "mse")
    fm.compile(fk.optimizers.SGD(0.1), "mse")
    k_loss = float(km.train_on_batch(x, y))
    f_loss = float(fm.train_on_batch(x, y))
    assert abs(k_loss - f_loss) <= ATOL * max(1.0, abs(k_loss))
    for fw, kw in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(fw, kw, atol=ATOL, rtol=ATOL)
    # inference uses the moving statistics only, as without renorm
    np.testing.assert_allclose(fm.predict(x, verbose=0), to_np(km.predict(x, verbose=0)),
                               atol=ATOL, rtol=ATOL)


def test_batch_renormalization_moving_statistics_follow_keras_over_steps():
    rng = np.random.default_rng(6)
    kl, fl = both("BatchNormalization", renorm=True, momentum=0.5, renorm_momentum=0.7,
                  renorm_clipping={"rmax": 3.0, "dmax": 1.0}, build=(8, 3))
    for step in range(4):
        x = rng.normal(step, 1.0 + step, size=(8, 3)).astype(np.float32)
        np.testing.assert_allclose(fl(x, training=True).numpy(),
                                   to_np(kl(keras.ops.convert_to_tensor(x), training=True)),
                                   atol=ATOL, rtol=ATOL)
    for fv, kv in zip(fl.weights, kl.weights):
        np.testing.assert_allclose(to_np(fv.value), to_np(kv.value), atol=ATOL, rtol=ATOL)
    # frozen: inference mode, nothing moves
    fl.trainable = False
    before = [to_np(v.value).copy() for v in fl.weights]
    fl(x, training=True)
    for b, v in zip(before, fl.weights):
        np.testing.assert_array_equal(b, to_np(v.value))


def test_batch_renormalization_with_a_mask_matches_keras():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 6, 4)).astype(np.float32)
    mask = rng.random((3, 6)) > 0.3
    kl, fl = both("BatchNormalization", renorm=True, build=(3, 6, 4))
    weights = livelier(kl.get_weights(), rng)
    kl.set_weights(weights)
    fl.set_weights(weights)
    k_out = kl(keras.ops.convert_to_tensor(x), training=True,
               mask=keras.ops.convert_to_tensor(mask))
    np.testing.assert_allclose(fl(x, training=True, mask=mask).numpy(), to_np(k_out),
                               atol=ATOL, rtol=ATOL)
    for fv, kv in zip(fl.weights, kl.weights):
        np.testing.assert_allclose(to_np(fv.value), to_np(kv.value), atol=ATOL, rtol=ATOL)


@pytest.mark.parametrize("clipping,match", [({"rmax": 0.5, "rmin": 1.0}, "rmax"),
                                            ({"dmax": -1.0}, "dmax"), ({"r": 1.0}, "keys")])
def test_batch_renormalization_checks_clipping_as_keras(clipping, match):
    with pytest.raises(ValueError):
        keras.layers.BatchNormalization(renorm=True, renorm_clipping=clipping)
    with pytest.raises(ValueError, match=match):
        fk.layers.BatchNormalization(renorm=True, renorm_clipping=clipping)


def test_batch_normalization_renorm_config_as_keras():
    for kwargs in ({}, dict(renorm=True), dict(renorm=True, renorm_clipping={"rmax": 2.0}),
                   dict(renorm_clipping={"rmax": 2.0}, renorm_momentum=0.5)):
        kl, fl = both("BatchNormalization", **kwargs)
        k_config, f_config = kl.get_config(), fl.get_config()
        for key in ("renorm", "renorm_clipping", "renorm_momentum"):
            assert f_config[key] == k_config[key], (kwargs, key)
        assert fl.renorm == kl.renorm and fl.renorm_clipping == kl.renorm_clipping
        clone = fk.layers.BatchNormalization.from_config(f_config)
        assert clone.get_config() == f_config


@pytest.mark.parametrize("ext", [".keras", ".weights.h5"])
def test_batch_renormalization_files_load_both_ways(tmp_path, ext):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(5, 4, 5)).astype(np.float32)
    km = bn_model(keras, renorm_clipping={"rmax": 2.0})
    weights = livelier(km.get_weights(), rng)
    km.set_weights(weights)
    path = tmp_path / f"keras{ext}"
    if ext == ".keras":
        km.save(path)
        fm = fk.models.load_model(path)
        assert fm.layers[1].renorm and fm.layers[1].renorm_clipping == {"rmax": 2.0}
    else:
        km.save_weights(path)
        fm = bn_model(fk, renorm_clipping={"rmax": 2.0})
        fm.load_weights(path)
    for fw, w in zip(fm.get_weights(), weights):
        np.testing.assert_array_equal(fw, w)
    np.testing.assert_allclose(fm.predict(x, verbose=0), to_np(km.predict(x, verbose=0)),
                               atol=ATOL, rtol=ATOL)
    # and back
    moved = [w + 0.25 for w in weights]
    fm.set_weights(moved)
    ours = tmp_path / f"ours{ext}"
    if ext == ".keras":
        fm.save(ours)
        km2 = keras.saving.load_model(ours)
    else:
        fm.save_weights(ours)
        km2 = bn_model(keras, renorm_clipping={"rmax": 2.0})
        km2.load_weights(ours)
    assert km2.layers[1].renorm
    for kw, w in zip(km2.get_weights(), moved):
        np.testing.assert_array_equal(kw, w)


# --- callbacks -----------------------------------------------------------------------------------

def tiny_fit(lib, callbacks, epochs=3, **kwargs):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(24, 3)).astype(np.float32)
    y = rng.normal(size=(24, 1)).astype(np.float32)
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
    model.compile(optimizer=lib.optimizers.SGD(0.01), loss="mse")
    return model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=callbacks,
                     **kwargs)


def test_early_stopping_state_exists_before_fit_as_keras():
    kc = keras.callbacks.EarlyStopping(baseline=0.5, min_delta=-0.2)
    fc = fk.callbacks.EarlyStopping(baseline=0.5, min_delta=-0.2)
    for attr in ("wait", "stopped_epoch", "best_weights", "best", "min_delta", "monitor_op"):
        assert getattr(fc, attr) == getattr(kc, attr), attr
    assert (fc.wait, fc.stopped_epoch, fc.best_weights) == (0, 0, None)


def test_early_stopping_get_monitor_value_as_keras():
    for lib in (keras, fk):
        es = lib.callbacks.EarlyStopping(monitor="val_acc")
        assert es.get_monitor_value({"val_acc": 0.75, "loss": 1.0}) == 0.75
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert es.get_monitor_value({"loss": 1.0}) is None
            assert es.get_monitor_value(None) is None
        assert any("val_acc" in str(w.message) and "loss" in str(w.message) for w in caught)


def test_monitor_min_delta_turns_negative_for_minimized_values_as_keras():
    results = []
    for lib in (keras, fk):
        callbacks = [lib.callbacks.EarlyStopping(monitor="loss", min_delta=0.01, patience=5),
                     lib.callbacks.ReduceLROnPlateau(monitor="loss", min_delta=0.02),
                     lib.callbacks.EarlyStopping(monitor="loss", mode="max", min_delta=0.03)]
        tiny_fit(lib, callbacks, epochs=1)
        results.append([c.min_delta for c in callbacks])
    assert results[1] == results[0] == [-0.01, -0.02, 0.03]


def test_early_stopping_run_state_after_fit():
    class Worse(fk.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["loss"] = float(epoch)  # never improves after epoch 0

    es = fk.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    history = tiny_fit(fk, [Worse(), es], epochs=5)
    assert history.epoch == [0, 1]
    assert es.stopped_epoch == 1 and es.wait == 1 and es.best == 0.0
    assert len(es.best_weights) == 2


def test_csv_logger_attributes_as_keras(tmp_path):
    kc = keras.callbacks.CSVLogger(str(tmp_path / "k.csv"))
    fc = fk.callbacks.CSVLogger(str(tmp_path / "f.csv"))
    for attr in ("csv_file", "writer", "keys", "append_header", "sep", "append"):
        assert getattr(fc, attr) == getattr(kc, attr), attr
    tiny_fit(keras, [kc])
    tiny_fit(fk, [fc])
    assert fc.keys == kc.keys == ["loss", "val_loss"]
    assert fc.writer is None and kc.writer is None
    assert fc.csv_file.closed and kc.csv_file.closed
    assert (tmp_path / "f.csv").read_text().splitlines()[0] == "epoch,loss,val_loss"
    # appending to a file with rows: no second header, as Keras
    for lib, name in ((keras, "k.csv"), (fk, "f.csv")):
        logger = lib.callbacks.CSVLogger(str(tmp_path / name), append=True)
        tiny_fit(lib, [logger], epochs=1)
        assert logger.append_header is False
    lines = (tmp_path / "f.csv").read_text().splitlines()
    assert len(lines) == 5 and sum(line.startswith("epoch") for line in lines) == 1


def test_progbar_logger_seen_and_target_as_keras():
    kc, fc = keras.callbacks.ProgbarLogger(), fk.callbacks.ProgbarLogger()
    assert (fc.seen, fc.target) == (kc.seen, kc.target) == (0, None)
    tiny_fit(keras, [kc])
    tiny_fit(fk, [fc])
    assert (fc.seen, fc.target) == (kc.seen, kc.target) == (3, 3)
