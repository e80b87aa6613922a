"""Keras callbacks that log what TensorBoard needs to compare optimizers.

Each is a `keras.callbacks.Callback` usable in any `model.fit`; each writes
under the run directory it is given, into `train/`, `validation/` or the run's
root, sharing one summary writer per directory (see `_writers`).

* `ScalarLogger`: loss and accuracy per epoch (and per step if asked), the
  learning rate actually used, the global gradient norm.
* `UpdateRatioLogger`: per layer, ||update|| / ||weights|| of one step.
* `HistogramLogger`: weights and optimizer slots (momentum, velocity, ...).
* `HParamsLogger`: the run's hyperparameters for the HParams dashboard.
* `DecisionBoundaryLogger`: decision-boundary images for two-feature data.
* `VAEImages`: a variational autoencoder's reconstructions and samples.
* `TextSamples`: text a character-level language model writes.
* `StepHistory`: every step's loss and wall time, in memory.
* `EpochProgress`: a progress bar over epochs.

And those that steer a run: `DivergenceStop` (stop when the loss diverges,
by `divergence_reason`), `BestSoFar` (each metric's best epoch value),
`StopAtStep` (stop after an exact number of steps), `EpochCheckpoint`
(save at epoch ends, and stop cleanly when asked).
"""

from callbacks.best_so_far import BestSoFar
from callbacks.decision_boundary import DecisionBoundaryLogger
from callbacks.divergence import DivergenceStop, DivergenceWatch, divergence_reason
from callbacks.epoch_checkpoint import EpochCheckpoint
from callbacks.histograms import HistogramLogger
from callbacks.hparams import HParamsLogger
from callbacks.progress import EpochProgress
from callbacks.scalars import ScalarLogger
from callbacks.step_history import StepHistory
from callbacks.stop_at_step import StopAtStep
from callbacks.text_samples import TextSamples
from callbacks.update_ratio import UpdateRatioLogger
from callbacks.vae_images import VAEImages

__all__ = [
    "BestSoFar",
    "DivergenceStop",
    "DivergenceWatch",
    "EpochCheckpoint",
    "StopAtStep",
    "divergence_reason",
    "DecisionBoundaryLogger",
    "EpochProgress",
    "HParamsLogger",
    "HistogramLogger",
    "ScalarLogger",
    "StepHistory",
    "TextSamples",
    "UpdateRatioLogger",
    "VAEImages",
]
