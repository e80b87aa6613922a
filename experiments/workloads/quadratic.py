"""DeepOBS's noisy quadratic `quadratic_deep`: its fixed Hessian, its noisy data, and its own
model `noisy_quadratic`, whose parameters are theta (its runs name no model)."""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
from keras import ops

from experiments.spec.validation import ConfigError, check_fraction, check_int, check_number
from experiments.workloads.datasets import Data, register
from experiments.workloads.networks import InstrumentedModel
from experiments.workloads.networks import register as register_model


@dataclasses.dataclass
class Quadratic(Data):
    """A noisy quadratic: `x` holds the noise, `hessian` the fixed Hessian Q; its model is
    `models.noisy_quadratic`."""

    hessian: np.ndarray | None = None


def random_rotation(dimension, rng):
    """A rotation drawn uniformly from SO(dimension) by the subgroup algorithm (Diaconis and
    Shahshahani, 1987), drawing from `rng` in the order DeepOBS's `quadratic_deep.random_rotation`
    does: the angle of a 2-D rotation, then for each larger dimension d + 1 a point on the unit
    sphere, whose Householder reflection embeds the rotation so far; negated at the end."""
    angle = 2 * np.pi * rng.uniform()
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    for d in range(2, dimension):
        v = rng.normal(size=(d + 1, 1))
        v = v / np.sqrt(v.T @ v)
        e = np.zeros((d + 1, 1))
        e[0, 0] = 1.0
        x = (e - v) / np.sqrt((e - v).T @ (e - v))
        embedded = np.eye(d + 1)
        embedded[1:, 1:] = rotation
        rotation = embedded - 2 * np.outer(x, x.T @ embedded)
    return -rotation


def deep_hessian():
    """DeepOBS's `quadratic_deep` Hessian, the same for everyone: from `RandomState(42)`, 90
    eigenvalues uniform in (0, 1) and 10 in (30, 60) (the spectrum reported for deep networks,
    arXiv:1611.01838), then a random rotation R; Q = R^T diag(eigenvalues) R."""
    rng = np.random.RandomState(42)
    eigenvalues = np.concatenate([rng.uniform(0.0, 1.0, 90), rng.uniform(30.0, 60.0, 10)])
    rotation = random_rotation(100, rng)
    return rotation.T @ np.diag(eigenvalues) @ rotation


@register("quadratic_deep", "dataset",
          "DeepOBS's noisy quadratic: 100-D, deep-learning eigenvalues, theta as parameters (no model)")
def quadratic_deep(train_size=1000, noise_level=0.6, validation=0.0):
    """DeepOBS's `quadratic_deep` (`deepobs/tensorflow/testproblems/quadratic_deep.py` and
    `datasets/quadratic.py`): each example's loss is `0.5 * (theta - x)^T Q (theta - x)`, theta
    starting at 1 (`models.noisy_quadratic`, the problem's own model), Q `deep_hessian()`. The
    data: `train_size` draws of x ~ N(0, noise_level^2 I) from `RandomState(42)` for training and
    from `RandomState(43)` for the test split, in float32, as DeepOBS draws them; `validation`
    is a fraction cut from the training draws (DeepOBS has none). No labels, no accuracy."""
    train_size = check_int("quadratic_deep.train_size", train_size, minimum=2)
    noise_level = check_number("quadratic_deep.noise_level", noise_level, minimum=0)
    validation = check_fraction("quadratic_deep.validation", validation)
    def draw(seed):
        return np.random.RandomState(seed).normal(0.0, noise_level, (train_size, 100)).astype("float32")

    x, x_test = draw(42), draw(43)
    held = math.ceil(validation * train_size) if validation else 0
    if held >= train_size:
        raise ConfigError(f"`quadratic_deep.validation` leaves no training data. Received: validation={validation}")
    order = np.random.RandomState(0).permutation(train_size) if held else np.arange(train_size)
    x_val, x_train = x[order[:held]], x[order[held:]]
    def labels(rows):  # none: the loss needs only x
        return np.zeros(len(rows), "int32")

    return Quadratic("quadratic_deep", x_train, labels(x_train), x_val, labels(x_val), x_test, labels(x_test),
                     num_classes=0, source=f"numpy RandomState(42) and (43): N(0, {noise_level}^2), "
                     f"{train_size} x 100 each", model="noisy_quadratic", hessian=deep_hessian())


@keras.saving.register_keras_serializable(package="experiments")
class NoisyQuadratic(keras.layers.Layer):
    """Parameters theta (initialised to 1, as DeepOBS) and, per example x, the loss
    `0.5 * (theta - x)^T Q (theta - x)` with the fixed Hessian Q."""

    def __init__(self, hessian, **kwargs):
        super().__init__(**kwargs)
        self.hessian = np.asarray(hessian, dtype="float64")

    def build(self, input_shape):
        self.theta = self.add_weight(shape=(len(self.hessian),), initializer="ones", name="theta")

    def call(self, x):
        difference = self.theta - x
        hessian = ops.convert_to_tensor(self.hessian, dtype=difference.dtype)
        return 0.5 * ops.sum(ops.matmul(difference, hessian) * difference, axis=-1)

    def get_config(self):
        return {**super().get_config(), "hessian": self.hessian.tolist()}


@register_model("noisy_quadratic", task="loss")
def noisy_quadratic(data):
    """DeepOBS's noisy quadratic (`deepobs/tensorflow/testproblems/_quadratic.py`): the
    parameters theta, one per dimension of the problem's Hessian (`data.hessian`), and each
    example's loss `0.5 * (theta - x)^T Q (theta - x)`. The model of `quadratic_deep`, whose runs
    name no model."""
    hessian = getattr(data, "hessian", None)
    if hessian is None:
        raise ConfigError(f"model 'noisy_quadratic' needs a quadratic problem (quadratic_deep). "
                          f"Received: {data.name!r}")
    inputs = keras.Input(shape=data.input_shape, name="inputs")
    outputs = NoisyQuadratic(hessian, name="quadratic")(inputs)
    return InstrumentedModel(inputs=inputs, outputs=outputs, task="loss", name="noisy_quadratic")
