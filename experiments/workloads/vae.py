"""DeepOBS's variational autoencoder `vae`, for image problems: its sampling, seeded per run,
and its loss, each example's reconstruction error plus KL divergence."""

from __future__ import annotations

import keras
from keras import ops

from experiments.spec.validation import ConfigError, check_int
from experiments.workloads.networks import InstrumentedModel, check_fits, conv_input, register


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
    check_fits("vae", 14 * 14 * 64 * height * width * channels)  # its largest layer, the last
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
