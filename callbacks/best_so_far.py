"""The best epoch value of each training and validation metric, over a run."""

from __future__ import annotations

import math

import keras


class BestSoFar(keras.callbacks.Callback):
    """The best epoch value of the training and validation loss and accuracy
    (Keras's running means for training, every validation), NaN ignored, and
    not counting the epoch in which the run diverged (`diverging`)."""

    PICKS = (("loss", "train_loss", min), ("accuracy", "train_accuracy", max),
             ("val_loss", "validation_loss", min), ("val_accuracy", "validation_accuracy", max))

    def __init__(self, best=None, diverging=None):
        super().__init__()
        self.best = dict(best or {})
        self.diverging = diverging

    def on_epoch_end(self, epoch, logs=None):
        if self.diverging is not None and self.diverging.divergence is not None:
            return
        for key, name, pick in self.PICKS:
            value = (logs or {}).get(key)
            if value is not None and math.isfinite(float(value)):
                value = float(value)
                self.best[name] = pick(self.best[name], value) if name in self.best else value
