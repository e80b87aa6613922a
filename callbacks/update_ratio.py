"""Per layer, how large one update is next to the weights it changes."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from callbacks._steps import check_frequency
from callbacks._writers import Borrowed


class UpdateRatioLogger(Borrowed, keras.callbacks.Callback):
    """`update_ratio/<layer>` = ||w_after - w_before|| / ||w_before|| for one step.

    The norms run over all of the layer's trainable weights together
    (kernel and bias). A healthy ratio is often quoted near 1e-3; far
    above, the learning rate is too high for that layer, far below, it
    barely learns. Measured on the first step of every `every_epochs`-th
    epoch (TensorBoard step = epoch), or with `every_steps=N` on every N-th
    step (TensorBoard step = 0-based optimizer step). Written to
    `<logdir>/train`.
    """

    def __init__(self, logdir, every_epochs=1, every_steps=None):
        super().__init__()
        self.logdir = str(logdir)
        self.every_epochs = check_frequency("every_epochs", every_epochs, allow_none=False)
        self.every_steps = check_frequency("every_steps", every_steps)

    def on_train_begin(self, logs=None):
        self._step = int(self.model.optimizer.iterations.numpy())
        self._layers = [layer for layer in self.model.layers if layer.trainable_weights]
        self._epoch = 0
        self._before = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._first_batch = True

    def _measures(self):
        if self.every_steps is not None:
            return self._step % self.every_steps == 0
        return self._first_batch and self._epoch % self.every_epochs == 0

    def on_train_batch_begin(self, batch, logs=None):
        if self._measures():
            self._before = [[w.numpy().copy() for w in layer.trainable_weights]
                            for layer in self._layers]

    def on_train_batch_end(self, batch, logs=None):
        if self._before is not None:
            step = self._step if self.every_steps is not None else self._epoch
            with self._writer("train").as_default(step=step):
                for layer, before in zip(self._layers, self._before):
                    after = [w.numpy() for w in layer.trainable_weights]
                    update = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(after, before)))
                    weight = np.sqrt(sum(np.sum(b ** 2) for b in before))
                    ratio = update / weight if weight > 0 else float("inf")
                    tf.summary.scalar(f"update_ratio/{layer.name}", float(ratio))
            self._before = None
        self._first_batch = False
        self._step += 1

    def on_train_end(self, logs=None):
        self._give_back_writers()
