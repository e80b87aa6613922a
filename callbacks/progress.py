"""One progress bar per run over its epochs (Keras's own bar counts steps)."""

from __future__ import annotations

import keras
from tqdm.auto import tqdm


class EpochProgress(keras.callbacks.Callback):
    """A `tqdm` bar over the epochs of `fit`, showing the latest loss and accuracy."""

    def __init__(self, description="", position=1, leave=False, initial=0):
        super().__init__()
        self.description = description
        self.initial = initial  # epochs done before this fit: a resumed run's
        self.position = position
        self.leave = leave

    def on_train_begin(self, logs=None):
        self._bar = tqdm(total=self.params.get("epochs"), desc=self.description, unit="epoch", initial=self.initial,
                         position=self.position, leave=self.leave, dynamic_ncols=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = {k: f"{float(logs[k]):.4g}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                 if k in logs}
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)

    def on_train_end(self, logs=None):
        self._bar.close()
