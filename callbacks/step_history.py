"""Every step's loss and wall time, kept in memory for figures."""

from __future__ import annotations

import time

import keras


class StepHistory(keras.callbacks.Callback):
    """After `fit`: `losses[i]` is the loss of step i (`step_loss` when the
    model reports it, else Keras's running mean) and `seconds[i]` the wall
    time from the start of training to the end of that step.

    `carry_on(losses, seconds)` before `fit` continues an earlier run's
    history (a run resumed from a checkpoint): its times go on from the last.
    """

    def __init__(self):
        super().__init__()
        self.losses, self.seconds = [], []

    def carry_on(self, losses, seconds):
        self.losses, self.seconds = list(losses), list(seconds)

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter() - (self.seconds[-1] if self.seconds else 0.0)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.losses.append(float(logs.get("step_loss", logs.get("loss", float("nan")))))
        self.seconds.append(time.perf_counter() - self._start)
