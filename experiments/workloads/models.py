"""Models by name, and the training step that reports what the callbacks log.

Every builder takes the problem's `Data` plus keyword arguments from a run's
`model` table and returns a compiled-ready `InstrumentedModel`:

* `moons_net`: the material's 2 -> 5 (ReLU) -> 2 (ReLU) -> 1 (sigmoid).
* `mnist_mlp`: the material's 784-100-100-100-100-10 (ReLU, softmax); the
  input width follows the data (64 on digits).
* `softmax_regression`: one dense layer and a softmax.
* `mlp`: `hidden` ReLU layers, optional batch normalisation
  (`batch_norm = true`: Dense without bias -> BatchNormalization -> ReLU),
  softmax output (sigmoid for two classes when `binary_output = true`).

All weights use He initialisation as the material writes it,
`randn * sqrt(2 / fan_in)` (an untruncated normal; Keras's "he_normal" is
truncated), and zero biases.
"""

from __future__ import annotations

import math
import os

import keras
import tensorflow as tf
from keras import ops

from experiments.spec.validation import ConfigError, check_int, lookup
from experiments.workloads.layers import BatchNormalization


@keras.saving.register_keras_serializable(package="experiments")
class InstrumentedModel(keras.Model):
    """A functional model whose training step also reports, per step:

    * `gradient_norm`: the global L2 norm of the gradients (averaged over the
      epoch like the loss; `step_gradient_norm` is this step's value),
    * `step_loss` and `step_accuracy`: this step's loss and accuracy (Keras's
      `loss` and `accuracy` logs are running means over the epoch).

    Otherwise it is Keras's own training step: the same loss, metrics and
    `optimizer.apply`, including the optimizer's `loss_scale_factor`.
    `callbacks.ScalarLogger` and `callbacks.StepHistory` read these logs.
    """

    def __init__(self, *args, binary=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.binary = binary
        self.gradient_norm_tracker = keras.metrics.Mean(name="gradient_norm")

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)

        norm = tf.linalg.global_norm(gradients)
        if self.optimizer.loss_scale_factor is not None:
            norm = norm / self.optimizer.loss_scale_factor
        self.gradient_norm_tracker.update_state(norm)
        batch = ops.shape(x)[0]
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=batch)
        logs = self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        if self.binary:
            correct = ops.equal(ops.cast(y_pred > 0.5, "int32"), ops.cast(ops.reshape(y, (-1, 1)), "int32"))
        else:
            correct = ops.equal(ops.argmax(y_pred, axis=-1), ops.cast(ops.reshape(y, (-1,)), "int64"))
        return {
            **logs,
            "step_loss": loss,
            "step_accuracy": ops.mean(ops.cast(correct, "float32")),
            "step_gradient_norm": norm,
        }

    def test_step(self, data):
        logs = super().test_step(data)
        logs.pop("gradient_norm", None)  # nothing is trained while evaluating
        return logs

    def get_config(self):
        return {**super().get_config(), "binary": self.binary}


def he_normal(seed=None):
    """The material's He initialisation: N(0, 2 / fan_in), not truncated."""
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_in", distribution="untruncated_normal", seed=seed)


MODELS = {}


def register(name):
    def decorator(build):
        MODELS[name] = build
        return build

    return decorator


def _stack(data, hidden, batch_norm=False, binary_output=False, name="mlp"):
    """Flatten -> hidden ReLU layers (optionally batch-normalised) -> output."""
    hidden = [check_int(f"{name}.hidden[{i}]", h, minimum=1) for i, h in enumerate(hidden)]
    if not isinstance(batch_norm, bool):
        raise ConfigError(f"`{name}.batch_norm` must be true or false. Received: batch_norm={batch_norm!r}")
    binary = binary_output and data.num_classes == 2
    widths = [math.prod(data.input_shape), *hidden, 1 if binary else data.num_classes]
    _check_fits(name, sum(a * b + b for a, b in zip(widths, widths[1:])))
    inputs = keras.Input(shape=data.input_shape, name="inputs")
    z = keras.layers.Flatten(name="flatten")(inputs) if len(data.input_shape) > 1 else inputs
    for i, units in enumerate(hidden, start=1):
        z = keras.layers.Dense(units, use_bias=not batch_norm, kernel_initializer=he_normal(),
                               name=f"dense_{i}")(z)
        if batch_norm:
            z = BatchNormalization(name=f"batch_norm_{i}")(z)
        z = keras.layers.Activation("relu", name=f"relu_{i}")(z)
    if binary:
        outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=he_normal(),
                                     name="output")(z)
    else:
        outputs = keras.layers.Dense(data.num_classes, activation="softmax",
                                     kernel_initializer=he_normal(), name="output")(z)
    return InstrumentedModel(inputs=inputs, outputs=outputs, binary=binary, name=name)


#: float32 copies of the weights a run holds: the weights, their gradients, and up to three
#: optimizer slots (Adam's moments; AMSGrad's maximum).
COPIES = 5


def _check_fits(name, parameters):
    """Refuse a model whose weights, gradients and optimizer slots cannot fit in this
    machine's memory, before anything is allocated."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: nothing to compare with
        return
    needed = parameters * 4 * COPIES
    if needed > memory:
        raise ConfigError(f"model {name!r} has {parameters:.3g} parameters: with their gradients and the "
                          f"optimizer's slots it needs about {needed / 2**30:.3g} GiB, and this machine has "
                          f"{memory / 2**30:.3g} GiB of memory")


@register("moons_net")
def moons_net(data):
    """The material's 2 -> 5 -> 2 -> 1 net for `moons` (binary cross-entropy)."""
    if data.num_classes != 2:
        raise ConfigError(f"model 'moons_net' needs a two-class problem. Received: {data.name!r}")
    return _stack(data, (5, 2), binary_output=True, name="moons_net")


@register("mnist_mlp")
def mnist_mlp(data):
    """The material's MLP: four hidden layers of 100 ReLU units, softmax output."""
    return _stack(data, (100, 100, 100, 100), name="mnist_mlp")


@register("softmax_regression")
def softmax_regression(data):
    """A single dense layer with a softmax: multinomial logistic regression."""
    return _stack(data, (), name="softmax_regression")


@register("mlp")
def mlp(data, hidden=(100, 100), batch_norm=False, binary_output=False):
    """ReLU layers of widths `hidden`, optional batch normalisation, softmax output."""
    if not isinstance(hidden, (list, tuple)):
        raise ConfigError(f"`mlp.hidden` must be a list of layer widths. Received: hidden={hidden!r}")
    return _stack(data, hidden, batch_norm, binary_output, name="mlp")


def build(spec, data):
    """Build the model described by `spec` (a name or `{name = ..., **arguments}`)."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    builder = lookup("model", MODELS, spec.pop("name", None))
    try:
        return builder(data, **spec)
    except TypeError as error:
        raise ConfigError(f"model: {error}") from None


def loss_for(model):
    return "binary_crossentropy" if model.binary else "sparse_categorical_crossentropy"
