"""Stop training when the loss diverges, and the rule that says when.

`divergence_reason` is the rule every kind of run uses; `DivergenceStop`
applies it after every training step of `model.fit`.
"""

from __future__ import annotations

import math

import keras


def divergence_reason(loss, first, lowest, factor):
    """Why a run whose loss is now `loss` has diverged, or None.

    Diverged: the loss is NaN or infinite, or it exceeds both `factor` times
    its lowest value so far and its first value. (The second condition keeps
    a run that wobbles near a minimum of almost 0 from counting: only a loss
    that climbs back above where it started is a divergence.)
    """
    if not math.isfinite(loss):
        return f"the loss is {loss}"
    if lowest is not None and lowest > 0 and loss > factor * lowest and loss > first:
        return (f"the loss {loss:.4g} exceeds {factor:g} x its lowest value {lowest:.4g} "
                f"and its first value {first:.4g}")
    return None


class DivergenceStop(keras.callbacks.Callback):
    """Stop `fit` right after a step whose loss (Keras's running mean over the
    epoch so far) makes `divergence_reason` say so; `self.divergence` then holds
    {step, loss, reason}. `first`/`lowest` carry on from a checkpoint."""

    def __init__(self, factor, first=None, lowest=None):
        super().__init__()
        self.factor, self.first, self.lowest = factor, first, lowest
        self.divergence = None

    def on_train_begin(self, logs=None):
        self._step = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        loss = float((logs or {}).get("loss", math.nan))
        reason = divergence_reason(loss, self.first, self.lowest, self.factor)
        if reason is not None:
            self.divergence = {"step": self._step, "loss": loss, "reason": reason}
            self.model.stop_training = True
            return
        self.first = loss if self.first is None else self.first
        self.lowest = loss if self.lowest is None else min(self.lowest, loss)
