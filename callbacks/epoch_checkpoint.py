"""Save a run's state at epoch ends, at most once per a number of seconds."""

from __future__ import annotations

import threading
import time

import keras


class EpochCheckpoint(keras.callbacks.Callback):
    """Call `save(epochs_done)` at every `every`-th epoch end once `seconds`
    have passed since the last save (a checkpoint costs a few milliseconds:
    tiny epochs would pay more for it than for training), and at the last
    epoch end; when `stop` (a `threading.Event`) is set, save at this epoch
    end and stop training (`interrupted` is then True).

    Goes last in the callback list: the loggers have written the epoch's
    events by then. Saves nothing once the run has stopped for another
    reason (diverged, or `steps` reached mid-epoch).
    """

    def __init__(self, save, every, epochs, seconds=0.0, stop=None):
        super().__init__()
        self.save, self.every, self.epochs, self.seconds = save, every, epochs, seconds
        self.stop = stop or threading.Event()
        self.interrupted = False
        self.saved_epoch = None
        self._saved_at = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        done = epoch + 1
        due = done % self.every == 0 and time.monotonic() - self._saved_at >= self.seconds
        if self.stop.is_set() or due or done == self.epochs:
            self.save(done)
            self.saved_epoch, self._saved_at = done, time.monotonic()
        if self.stop.is_set() and done < self.epochs:
            self.interrupted = True
            self.model.stop_training = True
