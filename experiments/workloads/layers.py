"""Batch normalisation written from the material's formulas.

    training:   mu_B = mean(z),  var_B = mean((z - mu_B)^2)      (per feature, over the batch)
                z_norm = (z - mu_B) / sqrt(var_B + eps)
                out = gamma * z_norm + beta
                moving_mean     <- momentum * moving_mean     + (1 - momentum) * mu_B
                moving_variance <- momentum * moving_variance + (1 - momentum) * var_B
    inference:  out = gamma * (z - moving_mean) / sqrt(moving_variance + eps) + beta

`gamma` and `beta` are trained; the moving averages are the exponentially
weighted averages of the material (no bias correction: they start at 0 and 1,
as in Keras). Because `beta` shifts every feature, the preceding layer's bias
is redundant: the suite's models build that layer with `use_bias=False`.
The variance is the biased (divide-by-N) batch variance in both the
normalisation and the moving average, as in `keras.layers.BatchNormalization`,
which this layer matches (tested in both modes and in training).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="experiments")
class BatchNormalization(keras.layers.Layer):
    def __init__(self, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"`momentum` must be in [0, 1]. Received: momentum={momentum!r}")
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        shape = (input_shape[-1],)
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(
            shape=shape, initializer="zeros", name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(
            shape=shape, initializer="ones", name="moving_variance", trainable=False)

    def call(self, z, training=False):
        if training:
            axes = list(range(len(z.shape) - 1))
            mean = ops.mean(z, axis=axes)
            variance = ops.mean(ops.square(z - mean), axis=axes)
            self.moving_mean.assign(
                self.momentum * self.moving_mean + (1.0 - self.momentum) * mean)
            self.moving_variance.assign(
                self.momentum * self.moving_variance + (1.0 - self.momentum) * variance)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        z_norm = (z - mean) / ops.sqrt(variance + self.epsilon)
        return self.gamma * z_norm + self.beta

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}
