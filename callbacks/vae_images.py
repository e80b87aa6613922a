"""A variational autoencoder's pictures: its reconstructions of some images, and images it
generates from fixed points of its latent space."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from callbacks._steps import check_frequency
from callbacks._writers import Borrowed

#: Images narrower than this many pixels are enlarged (each pixel a square) to be seen.
MIN_SIDE = 56

RECONSTRUCTIONS = ("Top row: images the model was given; bottom row: the decoder's image of each one's "
                   "encoding (the encoder's mean, no sampling or dropout); step = epoch.")
SAMPLES = ("Images the decoder makes from the same points z ~ N(0, I) at every logged epoch (no dropout), "
           "so how they sharpen is the model's progress; step = epoch.")


def tile(rows, side=MIN_SIDE):
    """Rows of images `[rows, count, h, w, c]` in [0, 1] as one uint8 picture `[H, W, c]`, each
    image enlarged to at least `side` pixels high, one white pixel between them."""
    rows = np.clip(np.asarray(rows, np.float64), 0, 1)
    scale = max(1, -(-side // rows.shape[2]))
    rows = rows.repeat(scale, axis=2).repeat(scale, axis=3)
    count, height, width, channels = rows.shape[1:]
    picture = np.ones((len(rows) * (height + 1) - 1, count * (width + 1) - 1, channels))
    for r, row in enumerate(rows):
        for i, image in enumerate(row):
            picture[r * (height + 1):r * (height + 1) + height, i * (width + 1):i * (width + 1) + width] = image
    return np.rint(picture * 255).astype(np.uint8)


class VAEImages(Borrowed, keras.callbacks.Callback):
    """Images `vae/reconstructions` and `vae/samples` in `<logdir>/<subdirectory>` (`train`, as
    Keras's TensorBoard callback's; `""`: `logdir` itself), every `every_epochs`-th epoch and
    after the last (TensorBoard step = epoch), for a model with layers `encoder` (images to the
    mean and log standard deviation of their codes) and `decoder` (codes to images), as
    `experiments.workloads.models.vae` builds it.

    `x`: the `count` images to reconstruct (the first of `x`), of `image_shape` (rows may be
    flat); the samples decode `count` points drawn once from `RandomState(seed)`."""

    def __init__(self, logdir, x, image_shape, every_epochs=None, count=8, seed=0, subdirectory="train"):
        super().__init__()
        self.logdir, self.subdirectory = str(logdir), str(subdirectory)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.images = np.asarray(x)[:count].reshape((-1, *self.image_shape))
        self.every_epochs = check_frequency("every_epochs", every_epochs)
        self.seed, self.count = seed, count

    @staticmethod
    def draws(model):
        """Whether `model` has the layers these pictures need, `encoder` and `decoder`."""
        return {"encoder", "decoder"} <= {layer.name for layer in model.layers}

    def on_epoch_end(self, epoch, logs=None):
        last = epoch == self.params.get("epochs", 0) - 1
        if last or (self.every_epochs and epoch % self.every_epochs == 0):
            self._draw(epoch)

    def _draw(self, epoch):
        encoder, decoder = self.model.get_layer("encoder"), self.model.get_layer("decoder")
        dtype = encoder.inputs[0].dtype
        mean, _ = encoder(self.images.astype(dtype), training=False)
        reconstructed = np.asarray(decoder(mean, training=False))
        latent = decoder.inputs[0].shape[-1]
        z = np.random.RandomState(self.seed).normal(size=(self.count, latent)).astype(dtype)
        samples = np.asarray(decoder(z, training=False))
        with self._writer(self.subdirectory).as_default():
            tf.summary.image("vae/reconstructions", tile([self.images, reconstructed])[np.newaxis], step=epoch,
                             description=RECONSTRUCTIONS)
            tf.summary.image("vae/samples", tile([samples])[np.newaxis], step=epoch, description=SAMPLES)

    def on_train_end(self, logs=None):
        self._give_back_writers()
