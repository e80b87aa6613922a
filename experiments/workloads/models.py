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
* `2c2d` and `3c3d`: DeepOBS's convolutional nets (`fmnist_2c2d`, `mnist_2c2d`,
  `cifar10_3c3d`), for image problems; see their builders.

The material's models use He initialisation as the material writes it,
`randn * sqrt(2 / fan_in)` (an untruncated normal; Keras's "he_normal" is
truncated), and zero biases; DeepOBS's models, DeepOBS's initialisers.
"""

from __future__ import annotations

import math
import os

import keras
import tensorflow as tf
from keras import ops

from experiments.spec.validation import ConfigError, check_int, check_number, lookup
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


def conv_input(data, name):
    """The input of a conv model: the flat rows of an image problem (`Data.image_shape`) reshaped
    to (height, width, channels); a ConfigError for a problem without images."""
    if data.image_shape is None:
        raise ConfigError(f"model {name!r} needs an image problem (mnist, fashion_mnist, cifar10, digits). "
                          f"Received: {data.name!r}")
    inputs = keras.Input(shape=data.input_shape, name="inputs")
    return inputs, keras.layers.Reshape(data.image_shape, name="image")(inputs)


@register("2c2d")
def conv_2c2d(data):
    """DeepOBS's `2c2d` (`deepobs/tensorflow/testproblems/_2c2d.py`, its `mnist_2c2d` and
    `fmnist_2c2d`, adapted from TensorFlow's CNN tutorial): conv 32 5x5 "same" ReLU, max-pool 2x2
    stride 2 "same", conv 64 5x5 "same" ReLU, max-pool, dense 1024 ReLU, dense to the classes;
    weights truncated normal (stddev 0.05), biases 0.05; cross-entropy, no regularisation.
    3,274,634 parameters on 28x28x1 images."""
    inputs, z = conv_input(data, "2c2d")
    init = {"kernel_initializer": keras.initializers.TruncatedNormal(stddev=0.05),
            "bias_initializer": keras.initializers.Constant(0.05)}
    for i, filters in enumerate((32, 64), start=1):
        z = keras.layers.Conv2D(filters, 5, padding="same", activation="relu", name=f"conv_{i}", **init)(z)
        z = keras.layers.MaxPooling2D(2, strides=2, padding="same", name=f"pool_{i}")(z)
    z = keras.layers.Flatten(name="flatten")(z)
    z = keras.layers.Dense(1024, activation="relu", name="dense_1", **init)(z)
    outputs = keras.layers.Dense(data.num_classes, activation="softmax", name="output", **init)(z)
    return InstrumentedModel(inputs=inputs, outputs=outputs, name="conv_2c2d")


#: DeepOBS's `cifar10_3c3d` weight decay: its L2 term is `0.5 * weight_decay * sum(w^2)` over the
#: kernels (not the biases).
WEIGHT_DECAY_3C3D = 0.002


@register("3c3d")
def conv_3c3d(data, weight_decay=WEIGHT_DECAY_3C3D):
    """DeepOBS's `3c3d` (`deepobs/tensorflow/testproblems/_3c3d.py`, its `cifar10_3c3d`): conv 64
    5x5 "valid", max-pool 3x3 stride 2 "same", conv 96 3x3 "valid", max-pool, conv 128 3x3
    "same", max-pool, dense 512, dense 256 (ReLU throughout), dense to the classes; kernels
    Glorot (normal for the convs, uniform for the dense layers), biases 0; cross-entropy plus
    `0.5 * weight_decay * sum(w^2)` over every kernel. 895,210 parameters on 32x32x3 images;
    images need at least 9x9 pixels."""
    weight_decay = check_number("3c3d.weight_decay", weight_decay, minimum=0)
    inputs, z = conv_input(data, "3c3d")
    if min(data.image_shape[:2]) < 9:  # the two "valid" convolutions would leave no pixel
        raise ConfigError(f"model '3c3d' needs images of at least 9x9 pixels. Received: {data.name!r}, "
                          f"{'x'.join(map(str, data.image_shape))}")
    l2 = keras.regularizers.L2(0.5 * weight_decay)
    for i, (filters, size, padding) in enumerate(((64, 5, "valid"), (96, 3, "valid"), (128, 3, "same")), start=1):
        z = keras.layers.Conv2D(filters, size, padding=padding, activation="relu", name=f"conv_{i}",
                                kernel_initializer="glorot_normal", kernel_regularizer=l2)(z)
        z = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool_{i}")(z)
    z = keras.layers.Flatten(name="flatten")(z)
    for i, units in enumerate((512, 256), start=1):
        z = keras.layers.Dense(units, activation="relu", name=f"dense_{i}", kernel_initializer="glorot_uniform",
                               kernel_regularizer=l2)(z)
    outputs = keras.layers.Dense(data.num_classes, activation="softmax", name="output",
                                 kernel_initializer="glorot_uniform", kernel_regularizer=l2)(z)
    return InstrumentedModel(inputs=inputs, outputs=outputs, name="conv_3c3d")


def build(spec, data):
    """Build the model described by `spec` (a name or `{name = ..., **arguments}`)."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    builder = lookup("model", MODELS, spec.pop("name", None))
    try:
        return builder(data, **spec)
    except TypeError as error:
        raise ConfigError(f"model: {error}") from None


def count_parameters(spec, data):
    """How many parameters (weights, trainable or not) the model `spec` has on `data`."""
    return int(build(spec, data).count_params())


def loss_for(model):
    return "binary_crossentropy" if model.binary else "sparse_categorical_crossentropy"
