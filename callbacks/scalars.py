"""Loss, accuracy, the learning rate actually used and the gradient norm."""

from __future__ import annotations

import keras
import tensorflow as tf

from callbacks._steps import check_frequency, learning_rate_now, logged_epoch
from callbacks._writers import Borrowed


class ScalarLogger(Borrowed, keras.callbacks.Callback):
    """Scalars for TensorBoard's Scalars dashboard, Keras's tag names.

    Per epoch (step = epoch index, from 0), in `<logdir>/train`:
    `epoch_<metric>` for every training metric (`epoch_loss`,
    `epoch_accuracy`, `epoch_gradient_norm` when the model reports it),
    `epoch_learning_rate` = the rate used by the epoch's first step; in
    `<logdir>/validation`: `epoch_<metric>` for the validation metrics.

    Per step, with `every_steps=N` (step = 0-based optimizer step), in
    `<logdir>/train`: `batch_loss`, `batch_accuracy`, `batch_gradient_norm`
    (this step's values when the model reports `step_*` logs, as
    `experiments.models.InstrumentedModel` does; otherwise Keras's running
    means) and `batch_learning_rate` = the rate this step used. Per-step
    values are buffered and written by one compiled function every
    `flush_every` points and at each epoch's end: writing each value
    eagerly would cost more than a small model's training step. (Their
    event wall times are therefore those of the flush.)
    """

    def __init__(self, logdir, every_epochs=1, every_steps=None, flush_every=200):
        super().__init__()
        self.logdir = str(logdir)
        self.every_epochs = check_frequency("every_epochs", every_epochs, allow_none=False)
        self.every_steps = check_frequency("every_steps", every_steps)
        self.flush_every = check_frequency("flush_every", flush_every, allow_none=False)

    def on_train_begin(self, logs=None):
        self._step = int(self.model.optimizer.iterations.numpy())
        self._epochs = self.params.get("epochs")
        self._buffer = {}  # tag -> [values], aligned with self._buffer_steps
        self._buffer_steps = []
        self._write_series = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_rate = learning_rate_now(self.model.optimizer)

    def _logs_step(self):
        return self.every_steps is not None and self._step % self.every_steps == 0

    def on_train_batch_begin(self, batch, logs=None):
        if self._logs_step():
            self._step_rate = learning_rate_now(self.model.optimizer)

    def on_train_batch_end(self, batch, logs=None):
        if self._logs_step():
            logs = logs or {}
            values = {"batch_learning_rate": self._step_rate}
            for name in ("loss", "accuracy", "gradient_norm"):
                value = logs.get(f"step_{name}", logs.get(name))
                if value is not None:
                    values[f"batch_{name}"] = float(value)
            if self._buffer and set(values) != set(self._buffer):
                self._flush()
            for tag, value in values.items():
                self._buffer.setdefault(tag, []).append(value)
            self._buffer_steps.append(self._step)
            if len(self._buffer_steps) >= self.flush_every:
                self._flush()
        self._step += 1

    def _flush(self):
        if not self._buffer_steps:
            return
        writer = self._writer("train")
        if self._write_series is None:
            from tensorboard.plugins.scalar import metadata

            scalar = metadata.create_summary_metadata(display_name=None, description=None)

            @tf.function(reduce_retracing=True)
            def write_series(steps, series):
                # tf.summary.write, not tf.summary.scalar: the loop's name
                # scope would otherwise prefix every tag with "while/".
                for tag, values in series.items():
                    for i in tf.range(tf.shape(steps)[0]):
                        tf.summary.write(tag, values[i], step=steps[i], metadata=scalar)

            self._write_series = write_series
        with writer.as_default():
            self._write_series(tf.constant(self._buffer_steps, tf.int64),
                               {tag: tf.constant(v, tf.float32) for tag, v in self._buffer.items()})
        self._buffer, self._buffer_steps = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self._flush()
        if not logged_epoch(epoch, self.every_epochs, self._epochs):
            return
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith(("val_", "step_"))}
        train.pop("learning_rate", None)  # Keras's own entry is the next epoch's rate
        with self._writer("train").as_default(step=epoch):
            for name, value in train.items():
                tf.summary.scalar(f"epoch_{name}", float(value))
            tf.summary.scalar("epoch_learning_rate", self._epoch_rate)
        validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if validation:
            with self._writer("validation").as_default(step=epoch):
                for name, value in validation.items():
                    tf.summary.scalar(f"epoch_{name}", float(value))

    def on_train_end(self, logs=None):
        self._flush()  # a fit stopped mid-epoch
        self._give_back_writers()
