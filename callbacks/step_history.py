"""Every step's loss and wall time, kept in memory for figures."""

from __future__ import annotations

import time

import keras


class StepHistory(keras.callbacks.Callback):
    """After `fit`: `losses[i]` is the loss of step i (`step_loss` when the
    model reports it, else Keras's running mean) and `seconds[i]` the wall
    time from the start of training to the end of that step."""

    def on_train_begin(self, logs=None):
        self.losses, self.seconds = [], []
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.losses.append(float(logs.get("step_loss", logs.get("loss", float("nan")))))
        self.seconds.append(time.perf_counter() - self._start)
