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
* `vae`: DeepOBS's variational autoencoder (`mnist_vae`, `fmnist_vae`), for
  image problems; it ignores the labels and its output is each example's
  loss (reconstruction plus KL).
* `noisy_quadratic`: the parameters theta of a problem that has no network,
  DeepOBS's `quadratic_deep` (`problems.quadratic_deep`, whose runs name no
  model); its output is each example's loss too.

A model's `task` says what its output is: "classification" (class
probabilities: cross-entropy and accuracy) or "loss" (each example's loss,
which training averages; there is no accuracy).

The material's models use He initialisation as the material writes it,
`randn * sqrt(2 / fan_in)` (an untruncated normal; Keras's "he_normal" is
truncated), and zero biases; DeepOBS's models, DeepOBS's initialisers.
"""

from __future__ import annotations

import math
import os

import keras
import numpy as np
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


@keras.saving.register_keras_serializable(package="experiments")
class Sampling(keras.layers.Layer):
    """`z = mean + epsilon * exp(log_std)`, epsilon ~ N(0, 1) drawn from the layer's own seed
    generator (seeded by the run's seed: a run's draws are the same alone, in a group and
    resumed, since the generator's state is a variable its checkpoint keeps). It draws when
    evaluating too, as DeepOBS's VAE does."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, mean, log_std):
        epsilon = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
        return mean + epsilon * ops.exp(log_std)


@keras.saving.register_keras_serializable(package="experiments")
class VAELoss(keras.layers.Layer):
    """Each example's VAE loss as DeepOBS's `mnist_vae` writes it: the squared error summed
    over the pixels plus the KL divergence of N(mean, exp(log_std)^2) from N(0, 1),
    `-0.5 * sum(1 + 2 log_std - mean^2 - exp(2 log_std))` over the latent dimensions."""

    def call(self, x, reconstruction, mean, log_std):
        flat = lambda t: ops.reshape(t, (ops.shape(t)[0], -1))  # noqa: E731
        squared = ops.sum(ops.square(flat(reconstruction) - flat(x)), axis=1)
        kl = -0.5 * ops.sum(1.0 + 2.0 * log_std - ops.square(mean) - ops.exp(2.0 * log_std), axis=1)
        return squared + kl


#: DeepOBS's VAE: its latent dimensions, the leaky ReLU's slope, the dropout rate.
VAE_LATENT, VAE_SLOPE, VAE_DROPOUT = 8, 0.3, 0.2


@keras.saving.register_keras_serializable(package="experiments")
def vae_leaky_relu(x):
    """DeepOBS's `lrelu`: `max(x, 0.3 x)`."""
    return ops.leaky_relu(x, negative_slope=VAE_SLOPE)


@register("vae", task="loss")
def vae(data, latent=VAE_LATENT):
    """DeepOBS's VAE (`deepobs/tensorflow/testproblems/_vae.py`, its `mnist_vae` and `fmnist_vae`).
    Encoder: three convs of 64 4x4 filters, strides 2, 2, 1, "same", leaky ReLU (slope 0.3), each
    followed by dropout 0.2; dense layers to the mean and (halved) the log standard deviation of
    `latent` (8) dimensions; `z` sampled from them. Decoder: dense 24 and 49 (leaky ReLU),
    reshaped to 7x7x1, three transposed convs of 64 4x4 filters, strides 2, 1, 1, "same", ReLU
    (dropout 0.2 after the first two), a dense sigmoid layer to the image's pixels. TensorFlow 1's
    layer defaults, Keras's too: Glorot uniform kernels, zero biases. Each example's loss is
    `VAELoss` (no regularisation); the labels are not used. 10,151,489 parameters on 28x28x1
    images. The encoder and decoder are the layers `encoder` and `decoder` (their pictures,
    `callbacks.VAEImages`)."""
    latent = check_int("vae.latent", latent, minimum=1)
    inputs, image = conv_input(data, "vae")
    height, width, channels = data.image_shape
    if min(height, width) < 4:
        raise ConfigError(f"model 'vae' needs images of at least 4x4 pixels. Received: {data.name!r}, "
                          f"{'x'.join(map(str, data.image_shape))}")
    _check_fits("vae", 14 * 14 * 64 * height * width * channels)  # its largest layer, the last
    leaky = vae_leaky_relu

    encoder_input = keras.Input(shape=data.image_shape, name="image")
    z = encoder_input
    for i, strides in enumerate((2, 2, 1), start=1):
        z = keras.layers.Conv2D(64, 4, strides=strides, padding="same", activation=leaky, name=f"conv_{i}")(z)
        z = keras.layers.Dropout(VAE_DROPOUT, name=f"dropout_{i}")(z)
    z = keras.layers.Flatten(name="flatten")(z)
    mean = keras.layers.Dense(latent, name="mean")(z)
    log_std = keras.layers.Rescaling(0.5, name="log_std")(keras.layers.Dense(latent, name="std_dev")(z))
    encoder = keras.Model(encoder_input, [mean, log_std], name="encoder")

    decoder_input = keras.Input(shape=(latent,), name="z")
    z = keras.layers.Dense(24, activation=leaky, name="dense_1")(decoder_input)
    z = keras.layers.Dense(24 * 2 + 1, activation=leaky, name="dense_2")(z)
    z = keras.layers.Reshape((7, 7, 1), name="grid")(z)
    for i in range(1, 4):
        z = keras.layers.Conv2DTranspose(64, 4, strides=2 if i == 1 else 1, padding="same", activation="relu",
                                         name=f"deconv_{i}")(z)
        if i < 3:
            z = keras.layers.Dropout(VAE_DROPOUT, name=f"dropout_{i}")(z)
    z = keras.layers.Flatten(name="flatten")(z)
    z = keras.layers.Dense(height * width * channels, activation="sigmoid", name="pixels")(z)
    decoder = keras.Model(decoder_input, keras.layers.Reshape(data.image_shape, name="image")(z), name="decoder")

    mean, log_std = encoder(image)
    reconstruction = decoder(Sampling(name="sampling")(mean, log_std))
    losses = VAELoss(name="vae_loss")(image, reconstruction, mean, log_std)
    return InstrumentedModel(inputs=inputs, outputs=losses, task="loss", name="vae")


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


@register("noisy_quadratic", task="loss")
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


def build(spec, data):
    """Build the model described by `spec` (a name or `{name = ..., **arguments}`; None: the
    problem's own, `data.model`)."""
    spec = data.model if spec is None else spec
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    builder = lookup("model", MODELS, spec.pop("name", None))
    try:
        return builder(data, **spec)
    except TypeError as error:
        raise ConfigError(f"model: {error}") from None


def task_of(spec, data):
    """The `task` of the model `spec` on `data`, without building it."""
    spec = data.model if spec is None else spec
    return lookup("model", MODELS, spec if isinstance(spec, str) else spec.get("name")).task


def count_parameters(spec, data):
    """How many parameters (weights, trainable or not) the model `spec` has on `data`."""
    return int(build(spec, data).count_params())


def loss_for(model):
    if model.task == "loss":
        return model_loss
    return "binary_crossentropy" if model.binary else "sparse_categorical_crossentropy"


def metrics_for(model):
    """What `compile` is given as `metrics`: accuracy, for a model that has one."""
    return ["accuracy"] if model.task == "classification" else []
