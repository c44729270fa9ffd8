"""SwapEMAWeights against real Keras (validation on the averaged weights, swap_on_epoch,
prediction) and RemoteMonitor posting each epoch's logs to a local server."""

import http.server
import json
import threading
import urllib.parse
from typing import ClassVar

import numpy as np
import pytest

import fastkeras as fk


def build(lib, weights=None):
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, activation="tanh"),
                            lib.layers.Dense(1)])
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=lib.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9),
                  loss="mse")
    return model


def data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(48, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    return x, y


@pytest.mark.parametrize("swap_on_epoch", [False, True])
def test_validation_on_averaged_weights_matches_keras(swap_on_epoch):
    keras = pytest.importorskip("keras")
    x, y = data()
    km = build(keras)
    fm = build(fk, km.get_weights())
    histories, weights = [], []
    for lib, model in ((keras, km), (fk, fm)):
        cb = lib.callbacks.SwapEMAWeights(swap_on_epoch=swap_on_epoch)
        h = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                      validation_data=(x[:16], y[:16]), callbacks=[cb])
        histories.append(h.history)
        weights.append(model.get_weights())
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-4, err_msg=key)
    for a, b in zip(weights[0], weights[1]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_evaluation_swaps_the_averages_in_and_back_out():
    x, y = data()
    model = build(fk)
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    averages = [v.value.copy() for v in model.optimizer._model_variables_moving_average]
    for a, b in zip(model.get_weights(), averages):  # fit ends on the averages, as Keras's
        np.testing.assert_array_equal(a, b)
    raw = [w + 0.1 for w in averages]
    model.set_weights(raw)
    ema_loss = model.evaluate(x, y, verbose=0, callbacks=[fk.callbacks.SwapEMAWeights()])
    for a, b in zip(model.get_weights(), raw):  # evaluate swapped them back
        np.testing.assert_array_equal(a, b)
    model.set_weights(averages)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), ema_loss, rtol=1e-6)


def test_swap_requires_an_ema_optimizer():
    x, y = data()
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(1)])
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="use_ema=True"):
        model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y),
                  callbacks=[fk.callbacks.SwapEMAWeights()])


class _Collector(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Collector.received = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Collector.received
    httpd.shutdown()


@pytest.mark.parametrize("as_json", [False, True])
def test_remote_monitor_posts_each_epoch(server, as_json):
    root, received = server
    x, y = data()
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[fk.callbacks.RemoteMonitor(
        root=root, path="/epochs/", field="payload", headers={"X-Run": "7"},
        send_as_json=as_json)])
    assert len(received) == 2
    for epoch, (path, content_type, body) in enumerate(received):
        assert path == "/epochs/"
        if as_json:
            assert content_type == "application/json"
            sent = json.loads(body)
        else:
            assert content_type == "application/x-www-form-urlencoded"
            sent = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
        assert sent["epoch"] == epoch and set(sent) == {"epoch", "loss", "mae"}


def test_remote_monitor_warns_when_the_server_is_unreachable():
    x, y = data()
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor root server"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[fk.callbacks.RemoteMonitor(
            root="http://127.0.0.1:9")])
