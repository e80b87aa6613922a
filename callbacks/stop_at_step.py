"""Stop `model.fit` after an exact number of optimizer steps, mid-epoch if need be."""

from __future__ import annotations

import keras


class StopAtStep(keras.callbacks.Callback):
    """Stop `fit` once the optimizer has taken `steps` steps in all (Keras checks between steps)."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_begin(self, logs=None):
        self._taken = int(self.model.optimizer.iterations.numpy())  # a resumed run's earlier steps

    def on_train_batch_end(self, batch, logs=None):
        self._taken += 1
        if self._taken >= self.steps:
            self.model.stop_training = True
