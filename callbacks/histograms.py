"""Histograms of the weights and of the optimizer's slots."""

from __future__ import annotations

import keras
import tensorflow as tf

from callbacks._steps import check_frequency, logged_epoch
from callbacks._writers import Borrowed


class HistogramLogger(Borrowed, keras.callbacks.Callback):
    """For TensorBoard's Histograms and Distributions dashboards.

    Every `every_epochs`-th epoch (and after the last), in `<logdir>/train`:
    `weights/<variable path>` for every model weight (trainable or not, so
    batch normalisation's moving statistics too) and `slots/<slot name>`
    for every non-scalar optimizer variable (momentum, velocity,
    accumulators: Keras names them `<layer>_<weight>_<slot>`).
    """

    def __init__(self, logdir, every_epochs=1):
        super().__init__()
        self.logdir = str(logdir)
        self.every_epochs = check_frequency("every_epochs", every_epochs, allow_none=False)

    def on_train_begin(self, logs=None):
        self._write = None

    def on_epoch_end(self, epoch, logs=None):
        if not logged_epoch(epoch, self.every_epochs, self.params.get("epochs")):
            return
        if self._write is None:  # one compiled function: eager histograms cost ~ms each
            tagged = [(f"weights/{v.path}", v) for v in self.model.weights]
            tagged += [(f"slots/{v.name}", v) for v in self.model.optimizer.variables
                       if len(v.shape) > 0]

            @tf.function
            def write(step):
                for tag, variable in tagged:
                    tf.summary.histogram(tag, variable.value, step=step)

            self._write = write
        with self._writer("train").as_default():
            self._write(tf.constant(epoch, tf.int64))

    def on_train_end(self, logs=None):
        self._give_back_writers()
