"""What every model of `experiments.workloads.models` is built on: the `InstrumentedModel` whose
training step reports what the callbacks log, what its output is (`TASKS`), the registry of
builders (`MODELS`, `register`), the material's He initialisation, the memory check every
builder makes, and the image input of the conv models."""

from __future__ import annotations

import os

import keras
import tensorflow as tf
from keras import ops

from experiments.spec.validation import ConfigError, lookup


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
    `task` (`TASKS`) says what its output is: with "loss", each example's
    loss, there is no accuracy (and no `step_accuracy`).
    """

    def __init__(self, *args, binary=False, task="classification", **kwargs):
        super().__init__(*args, **kwargs)
        self.binary = binary
        lookup("task", TASKS, task)
        self.task = task
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
        if self.task == "loss":  # its output is each example's loss: nothing to be right about
            return {**logs, "step_loss": loss, "step_gradient_norm": norm}
        if self.binary:
            correct = ops.equal(ops.cast(y_pred > 0.5, "int32"), ops.cast(ops.reshape(y, (-1, 1)), "int32"))
        else:  # softmax: the argmax, at every position of a sequence too
            predicted = ops.argmax(y_pred, axis=-1)
            correct = ops.equal(predicted, ops.cast(ops.reshape(y, ops.shape(predicted)), "int64"))
        return {
            **logs,
            "step_loss": loss,
            "step_accuracy": ops.mean(ops.cast(correct, "float32")),
            "step_gradient_norm": norm,
        }

    @property
    def sequences(self):
        """Whether it predicts a class at every position of a sequence (a language model): its
        accuracy is per position, and its loss per position has a perplexity."""
        return self.task == "classification" and len(self.outputs[0].shape) > 2

    def test_step(self, data):
        logs = super().test_step(data)
        logs.pop("gradient_norm", None)  # nothing is trained while evaluating
        return logs

    def get_config(self):
        return {**super().get_config(), "binary": self.binary, "task": self.task}


#: What a model's output is: class probabilities, or each example's loss (`model_loss`).
TASKS = {"classification": "class probabilities, scored by cross-entropy and accuracy",
         "loss": "each example's loss, averaged over the batch; no accuracy"}


@keras.saving.register_keras_serializable(package="experiments")
def model_loss(y_true, y_pred):
    """The loss of a model whose output is each example's loss (`task = "loss"`): that output,
    which Keras averages over the batch; the labels are not used."""
    del y_true
    return y_pred


def he_normal(seed=None):
    """The material's He initialisation: N(0, 2 / fan_in), not truncated."""
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_in", distribution="untruncated_normal", seed=seed)


MODELS = {}


def register(name, task="classification"):
    """Register a builder as model `name`, whose output is `task`'s (`TASKS`)."""
    def decorator(build):
        build.task = task
        MODELS[name] = build
        return build

    return decorator


#: float32 copies of the weights a run holds: the weights, their gradients, and up to three
#: optimizer slots (Adam's moments; AMSGrad's maximum).
COPIES = 5


def check_fits(name, parameters):
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


def conv_input(data, name):
    """The input of a conv model: the flat rows of an image problem (`Data.image_shape`) reshaped
    to (height, width, channels); a ConfigError for a problem without images."""
    if data.image_shape is None:
        raise ConfigError(f"model {name!r} needs an image problem (mnist, fashion_mnist, cifar10, digits). "
                          f"Received: {data.name!r}")
    inputs = keras.Input(shape=data.input_shape, name="inputs")
    return inputs, keras.layers.Reshape(data.image_shape, name="image")(inputs)
