"""Stop training when the loss diverges, and the rule that says when.

`divergence_reason` says whether one loss value is diverged; `DivergenceWatch`
applies it along a run with a patience: a non-finite loss stops the run at
once, a loss that is only too large must stay too large for more than
`patience` steps in a row. A too-large stretch that ends (the loss comes
back) is a *spike*: counted, and the worst one kept. `DivergenceStop` is the
watch after every training step of `model.fit`; the suite's compiled
engine computes the same rule in its graph (`experiments.loop`).
"""

from __future__ import annotations

import math

import keras


#: Steps a loss may stay too large (but finite) before the run is stopped as diverged. A
#: recoverable spike of RMSProp at lr 0.01 on digits (the `mnist` batch on an AMD EPYC CPU)
#: came back well within this; a run that truly diverges goes to inf or NaN, which stops at once.
DEFAULT_PATIENCE = 200


def too_large(loss, first, lowest, factor):
    """Whether a finite `loss` exceeds both `factor` x `lowest` (when positive) and `first`."""
    return (math.isfinite(loss) and lowest is not None and lowest > 0 and loss > factor * lowest
            and loss > first)


def divergence_reason(loss, first, lowest, factor):
    """Why a run whose loss is now `loss` has diverged, or None.

    Diverged: the loss is NaN or infinite, or it exceeds both `factor` times
    its lowest value so far and its first value. (The second condition keeps
    a run that wobbles near a minimum of almost 0 from counting: only a loss
    that climbs back above where it started is a divergence.)
    """
    if not math.isfinite(loss):
        return f"the loss is {loss}"
    if too_large(loss, first, lowest, factor):
        return (f"the loss {loss:.4g} exceeds {factor:g} x its lowest value {lowest:.4g} "
                f"and its first value {first:.4g}")
    return None


class DivergenceWatch:
    """The divergence rule along a run, one step at a time.

    `update(step, loss)` returns the reason the run has diverged at `step`, or
    None. State (carried over a checkpoint by `state()` / `DivergenceWatch(**state)`):
    `first` and `lowest` loss of the steps that were not too large, `over` (the
    too-large steps in a row so far), the current stretch's `peak` and
    `peak_step`, and the finished stretches: `spikes` and the `worst` one's
    peak and `worst_step`.
    """

    FIELDS = ("first", "lowest", "over", "peak", "peak_step", "spikes", "worst", "worst_step")

    def __init__(self, factor, patience=DEFAULT_PATIENCE, first=None, lowest=None, over=0, peak=None,
                 peak_step=None, spikes=0, worst=None, worst_step=None):
        self.factor, self.patience = factor, patience
        self.first, self.lowest, self.over = first, lowest, over
        self.peak, self.peak_step = peak, peak_step
        self.spikes, self.worst, self.worst_step = spikes, worst, worst_step

    def state(self):
        return {name: getattr(self, name) for name in self.FIELDS}

    def reason(self, loss):
        """Why this rule stops a run at `loss` (NaN, inf, or too large once more than `patience`
        steps in a row)."""
        reason = divergence_reason(loss, self.first, self.lowest, self.factor)
        if math.isfinite(loss) and self.patience:
            reason += f", for {self.patience + 1} steps in a row"
        return reason

    def update(self, step, loss):
        loss = float(loss)
        if not math.isfinite(loss):
            return self.reason(loss)
        if too_large(loss, self.first, self.lowest, self.factor):
            if self.over == 0 or loss > self.peak:
                self.peak, self.peak_step = loss, step
            self.over += 1
            return self.reason(loss) if self.over > self.patience else None
        if self.over:  # a spike, over
            self.spikes += 1
            if self.worst is None or self.peak > self.worst:
                self.worst, self.worst_step = self.peak, self.peak_step
            self.over = 0
        self.first = loss if self.first is None else self.first
        self.lowest = loss if self.lowest is None else min(self.lowest, loss)
        return None

    def spike_metrics(self, diverged=False):
        """`spikes` (too-large stretches that did not stop the run, one still going at the end
        of a run that did not diverge included) and the worst one's peak loss and step, for a
        run's final metrics."""
        spikes, worst, step = self.spikes, self.worst, self.worst_step
        if self.over and not diverged:
            spikes += 1
            if worst is None or self.peak > worst:
                worst, step = self.peak, self.peak_step
        out = {"spikes": spikes}
        if worst is not None:
            out["worst_spike_loss"], out["worst_spike_step"] = worst, step
        return out


class DivergenceStop(keras.callbacks.Callback):
    """Stop `fit` right after a step whose loss (Keras's running mean over the
    epoch so far) makes a `DivergenceWatch` say so; `self.divergence` then holds
    {step, loss, reason}, and `self.watch` the spikes. `first`/`lowest` carry on
    from a checkpoint."""

    def __init__(self, factor, first=None, lowest=None, patience=DEFAULT_PATIENCE):
        super().__init__()
        self.watch = DivergenceWatch(factor, patience, first=first, lowest=lowest)
        self.divergence = None

    @property
    def first(self):
        return self.watch.first

    @property
    def lowest(self):
        return self.watch.lowest

    def on_train_begin(self, logs=None):
        self._step = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        loss = float((logs or {}).get("loss", math.nan))
        reason = self.watch.update(self._step, loss)
        if reason is not None:
            self.divergence = {"step": self._step, "loss": loss, "reason": reason}
            self.model.stop_training = True
