"""Problems by name: datasets, 2-D objectives and a noisy series.

Every problem is looked up in `PROBLEMS` and loaded with keyword arguments
taken from a run's `problem` table, e.g. `{name = "digits", normalize = true}`.
There are three kinds, each with its own runner in `experiments.runner`:

* `dataset`: a classification `Data` (train / validation / test splits).
  `moons` and `digits` ship with scikit-learn and always work offline.
  `mnist`, `fashion_mnist` and `cifar10` are read in the files' real formats
  from Keras's dataset cache (`$KERAS_HOME/datasets`, by default
  `~/.keras/datasets`) or from `data_dir`; when the files are absent,
  `keras.datasets` is asked to download them, and when that fails too the
  error says which file to put where. With `fallback = "digits"` the run
  uses that problem instead and records the substitution in its config.
* `objective`: a function of two parameters (`experiments.workloads.objectives2d`).
* `series`: a noisy sequence to average (the material's exponentially
  weighted averages).

`quadratic_deep` is a dataset problem with a model of its own (DeepOBS's
noisy quadratic: its parameters are theta, its data the noise), so its runs
name no `model`.

Input normalisation (`normalize = true`) is fitted on the training split only
and then applied to every split.

The problems live by family, each registering itself in `datasets.PROBLEMS`:
`sklearn_datasets` (moons, digits), `keras_datasets` (MNIST, Fashion-MNIST,
CIFAR-10), `quadratic` (quadratic_deep), `text`; the 2-D objectives and the
series here. `datasets` holds what they share (`Data`, the splits).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from experiments.spec.validation import ConfigError, check_int, check_number, check_seed
from experiments.workloads import objectives2d

# the families (below, after the base): importing one registers its problems in `datasets.PROBLEMS`
from experiments.workloads.datasets import PROBLEMS, Data, DatasetUnavailable, Problem, get, load, normalise, register
from experiments.workloads.keras_datasets import KERAS_DATASETS, keras_data_dir
from experiments.workloads.quadratic import Quadratic, deep_hessian, quadratic_deep, random_rotation
from experiments.workloads.sklearn_datasets import digits, moons, resize_images
from experiments.workloads.text import CORPUS, CORPUS_NAME, Text, cut_streams, text

__all__ = ["CORPUS", "CORPUS_NAME", "KERAS_DATASETS", "PROBLEMS", "Data", "DatasetUnavailable", "Problem", "Quadratic",
           "Series", "Text", "cut_streams", "deep_hessian", "digits", "get", "keras_data_dir", "load", "moons",
           "noisy_series", "normalise", "quadratic_deep", "random_rotation", "resize_images", "text"]


def _objective_loader(name):
    def load(start=None):
        objective = objectives2d.OBJECTIVES[name]
        if start is None:
            return objective
        if not isinstance(start, (list, tuple)) or len(start) != 2:
            raise ConfigError(f"`{name}.start` must be two numbers [x, y]. Received: start={start!r}")
        for axis, value in zip("xy", start):
            check_number(f"{name}.start.{axis}", value)
        return dataclasses.replace(objective, start=tuple(float(v) for v in start))

    return load


for _name, _objective in objectives2d.OBJECTIVES.items():
    register(_name, "objective", _objective.title)(_objective_loader(_name))


@dataclasses.dataclass
class Series:
    values: np.ndarray  # theta_1 .. theta_T
    trend: np.ndarray  # the same without noise


@register("noisy_series", "series", "a noisy seasonal series, the material's temperature example")
def noisy_series(length=200, noise=4.0, data_seed=0):
    """`theta_t = 15 + 10 sin(3 pi t / 365) + N(0, noise^2)`, t = 1..length.

    A stand-in for the material's daily temperatures: a slow trend the
    averages should follow, plus day-to-day noise they should smooth out.
    """
    length = check_int("noisy_series.length", length, minimum=2)
    noise = check_number("noisy_series.noise", noise, minimum=0)
    rng = np.random.default_rng(check_seed("noisy_series.data_seed", data_seed))
    t = np.arange(1, length + 1)
    trend = 15 + 10 * np.sin(3 * np.pi * t / 365)
    return Series(trend + rng.normal(0, noise, length), trend)
