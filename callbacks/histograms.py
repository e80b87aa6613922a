"""Histograms of the weights and of the optimizer's slots."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from callbacks._steps import check_frequency, logged_epoch
from callbacks._writers import Borrowed


class HistogramLogger(Borrowed, keras.callbacks.Callback):
    """For TensorBoard's Histograms and Distributions dashboards.

    Every `every_epochs`-th epoch (and after the last), in `<logdir>/<subdirectory>`
    (`train`, as Keras's TensorBoard callback writes its histograms; `""`: `logdir` itself):
    `weights/<variable path>` for every model weight (trainable or not, so
    batch normalisation's moving statistics too) and `slots/<slot name>`
    for every non-scalar optimizer variable (momentum, velocity,
    accumulators: Keras names them `<layer>_<weight>_<slot>`).
    """

    def __init__(self, logdir, every_epochs=1, subdirectory="train"):
        super().__init__()
        self.logdir, self.subdirectory = str(logdir), str(subdirectory)
        self.every_epochs = check_frequency("every_epochs", every_epochs, allow_none=False)
        self._reader = None  # (the variables, a function reading them all)

    def on_epoch_end(self, epoch, logs=None):
        if not logged_epoch(epoch, self.every_epochs, self.params.get("epochs")):
            return
        # Buckets by NumPy, written as one batch of protos: TensorFlow's own histogram op costs
        # about 0.15 s to trace per tag, more than a small model's whole run.
        tagged = [(f"weights/{v.path}", v) for v in self.model.weights]
        tagged += [(f"slots/{v.name}", v) for v in self.model.optimizer.variables if len(v.shape) > 0]
        values = self._read([v for _, v in tagged])
        protos = [histogram_pb(tag, value).SerializeToString() for (tag, _), value in zip(tagged, values)]
        with self._writer(self.subdirectory).as_default():
            tf.summary.experimental.write_raw_pb(tf.constant(protos), step=epoch)

    def _read(self, variables):
        """The variables' values as NumPy arrays, read by one traced function on TensorFlow: one
        by one, each read cost about 0.17 ms, half of a digits MLP's histograms (30 tensors)."""
        if keras.backend.backend() != "tensorflow":
            return [np.asarray(v.numpy()) for v in variables]
        if self._reader is None or len(self._reader[0]) != len(variables) or \
                any(a is not b for a, b in zip(self._reader[0], variables)):
            self._reader = (list(variables), tf.function(
                lambda: [tf.convert_to_tensor(v.value) for v in variables], autograph=False))
        return [t.numpy() for t in self._reader[1]()]

    def on_train_end(self, logs=None):
        self._reader = None
        self._give_back_writers()


def histogram_pb(tag, data, buckets=30):
    """TensorBoard's own `histogram_pb(tag, data, buckets)`, the same proto byte for byte,
    about 10x faster on a 100x100 kernel: its buckets are counted by `np.bincount`, where
    TensorBoard's builds a `[size, buckets]` one-hot matrix (0.8 ms against 0.08 ms for 10^4
    values, and a run's histograms are most of its logging time). Empty, constant and
    non-finite data take TensorBoard's own path, without its RuntimeWarning (NaN cast to a
    bucket index) on the console of a run that diverges."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.histogram import metadata, summary_v2
    from tensorboard.util import tensor_util

    data = np.asarray(data, dtype=float).ravel()
    low, high = (data.min(), data.max()) if data.size else (0.0, 0.0)
    if not buckets or not (np.isfinite(low) and np.isfinite(high) and high > low):
        with np.errstate(invalid="ignore"):
            return summary_v2.histogram_pb(tag, data, buckets)
    width = (high - low) / buckets
    index = np.minimum(np.floor((data - low) / width).astype(int), buckets - 1)
    edges = np.linspace(low, high, buckets + 1)
    table = np.array([edges[:-1], edges[1:], np.bincount(index, minlength=buckets)]).transpose()
    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(display_name=None, description=None),
                      tensor=tensor_util.make_tensor_proto(table, dtype=np.float64))
    return summary
