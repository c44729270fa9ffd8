"""TensorBoard: event files of the training run for the TensorBoard UI (written with
tensorboardX, the `tensorboard` extra)."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from fastkeras.callbacks.callback import Callback

_MISSING_WRITER = ("The TensorBoard callback writes its event files with tensorboardX, which is "
                   "not installed. Install it with `pip install fastkeras[tensorboard]` (or "
                   "`pip install tensorboardX`).")


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:
        raise ImportError(_MISSING_WRITER) from e
    return SummaryWriter


class TensorBoard(Callback):
    """Logs the run for TensorBoard (`tensorboard --logdir <log_dir>`), as Keras 3 does:

    - at every epoch end, scalars `epoch_<name>` at step `epoch`: the training logs and the
      optimizer's learning rate under `log_dir/train`, the validation logs (without their
      `val_` prefix) under `log_dir/validation`;
    - after every evaluation (validation included), `evaluation_<name>_vs_iterations` under
      `log_dir/validation` at step `optimizer.iterations`;
    - with an integer `update_freq` (or "batch", meaning 1), `batch_<name>` scalars under
      `log_dir/train` every `update_freq` training batches, at the global batch count (from 1);
    - with `histogram_freq=n > 0`, every n epochs, a histogram of each layer weight tagged
      `<weight path>/histogram` (e.g. "dense/kernel/histogram"), and with `write_images` the
      weight as an image tagged `<weight path>/image`;
    - with `write_graph`, when training starts, the model's configuration for TensorBoard's
      graph tab ("keras" tag, under `log_dir/train`);
    - with `write_steps_per_second`, `epoch_steps_per_second` (and `batch_steps_per_second`
      when batch-level logging is on).

    Args:
        log_dir: directory of this run's event files.
        histogram_freq: epochs between weight histograms (0: none).
        write_graph: write the model's configuration.
        write_images: also write weights as images (with histogram_freq > 0).
        write_steps_per_second: log the training speed.
        update_freq: "epoch" (epoch-level scalars only), "batch" or an integer number of
            batches between batch-level scalars.
        profile_batch: profiling is not available in fastkeras: must be 0.
        embeddings_freq: embedding visualisation is not available in fastkeras: must be 0.
        embeddings_metadata: unused (for Keras compatibility).

    Raises:
        ImportError: tensorboardX is not installed.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        self._writer_class = _summary_writer_class()
        if not _is_count(histogram_freq, allow_zero=True):
            raise ValueError("`histogram_freq` must be a non-negative integer. Received: "
                             f"histogram_freq={histogram_freq!r}")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and not _is_count(update_freq, allow_zero=False):
            raise ValueError("`update_freq` must be 'epoch', 'batch' or a positive integer "
                             f"(batches). Received: update_freq={update_freq!r}")
        if profile_batch not in (0, None, "0"):
            raise ValueError("Profiling is not available in fastkeras. Received: "
                             f"profile_batch={profile_batch!r} (must be 0)")
        if embeddings_freq:
            raise ValueError("Embedding visualisation is not available in fastkeras. Received: "
                             f"embeddings_freq={embeddings_freq!r} (must be 0)")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers = {}
        self._global_train_batch = 0
        self._in_fit = False

    # --- writers ---------------------------------------------------------------------------
    def _writer(self, which):
        """The train or validation writer, created on first use (as Keras, no directory is
        made for what is never written)."""
        if which not in self._writers:
            self._writers[which] = self._writer_class(
                logdir=os.path.join(self.log_dir, which), flush_secs=10)
        return self._writers[which]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _scalar(self, which, tag, value, step):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return  # not a number: nothing TensorBoard can plot
        self._writer(which).add_scalar(tag, value, global_step=int(step))

    # --- hooks -----------------------------------------------------------------------------
    @property
    def wants_batch_logs(self) -> bool:
        """fit builds per-batch logs only for callbacks that use them."""
        return self.update_freq != "epoch"

    def set_model(self, model):
        super().set_model(model)
        self._close_writers()

    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._global_train_batch = 0
        if self.write_graph:
            self._write_model_config()

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start = time.perf_counter()
            self._epoch_start_iterations = self._iterations()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        step = self._global_train_batch
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._batch_start
            if elapsed > 0:
                self._scalar("train", "batch_steps_per_second", 1.0 / elapsed, step)
        for name, value in (logs or {}).items():
            self._scalar("train", f"batch_{name}", value, step)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._epoch_start
            if elapsed > 0:
                train["steps_per_second"] = \
                    (self._iterations() - self._epoch_start_iterations) / elapsed
        for name, value in train.items():
            self._scalar("train", f"epoch_{name}", value, epoch)
        for name, value in logs.items():
            if name.startswith("val_"):
                self._scalar("validation", f"epoch_{name[4:]}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            step = self._iterations()
            for name, value in (logs or {}).items():
                self._scalar("validation", f"evaluation_{name}_vs_iterations", value, step)
        if not self._in_fit:  # a standalone evaluate: nothing more will come
            self._close_writers()

    # --- what is written -------------------------------------------------------------------
    def _iterations(self):
        optimizer = getattr(self.model, "optimizer", None)
        return int(optimizer.iterations) if optimizer is not None else 0

    def _write_weights(self, epoch):
        writer = self._writer("train")
        for layer in getattr(self.model, "layers", []):
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                values = np.asarray(weight.value, dtype=np.float64)
                writer.add_histogram(f"{name}/histogram", values, global_step=epoch,
                                     bins="tensorflow")
                if self.write_images:
                    image = _weight_image(values)
                    if image is not None:
                        writer.add_image(f"{name}/image", image, global_step=epoch,
                                         dataformats="NHWC")

    def _write_model_config(self):
        """The model's configuration as Keras writes it (tag "keras", the graph_keras_model
        plugin), which TensorBoard's graph tab draws. Skipped for models without a config."""
        try:
            config = {"class_name": type(self.model).__name__,
                      "config": self.model.get_config()}
            text = json.dumps(config, default=_json_default)
        except Exception:  # noqa: BLE001  (a subclassed model may have no serializable config)
            return
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.proto.tensor_pb2 import TensorProto
        from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
        from tensorboardX.proto.types_pb2 import DT_STRING

        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
            plugin_name="graph_keras_model", content=b"1"))
        tensor = TensorProto(dtype=DT_STRING, string_val=[text.encode()],
                             tensor_shape=TensorShapeProto())
        summary = Summary(value=[Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])
        writer = self._writer("train")
        writer._get_file_writer().add_summary(summary, 0)
        writer.flush()


def _is_count(value, allow_zero):
    return (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            and (value >= 0 if allow_zero else value > 0))


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _weight_image(w):
    """A weight as a batch of grayscale images (N, H, W, 1), laid out as Keras does: a bias
    as one column, a Dense kernel wide side horizontal, a 1D-conv kernel one image per input
    channel; scaled to [0, 1]. None for shapes that make no picture."""
    w = np.squeeze(w)
    if w.ndim == 1:
        img = w.reshape(1, -1, 1, 1)
    elif w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            w = w.T
        img = w.reshape(1, w.shape[0], w.shape[1], 1)
    elif w.ndim == 3:
        w = np.transpose(w, (2, 0, 1))
        img = w.reshape(w.shape[0], w.shape[1], w.shape[2], 1)
    else:
        return None
    lo, hi = float(img.min()), float(img.max())
    return ((img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)).astype(np.float32)
