"""`moons` and `digits`, which ship with scikit-learn and always work offline; `digits` resized
stands in for larger images."""

from __future__ import annotations

import numpy as np

from experiments.spec.validation import check_int, check_number, check_seed
from experiments.workloads.datasets import _finish, register


@register("moons", "dataset", "two interleaved half circles, 2 features, 2 classes (scikit-learn)")
def moons(n_samples=300, noise=0.2, validation=0.0, test=0.0, normalize=False, data_seed=3):
    """The material's data: `make_moons(n_samples=300, noise=0.2)`.

    The material trains and reports accuracy on all 300 points, so nothing
    is held out by default.
    """
    from sklearn.datasets import make_moons

    n_samples = check_int("moons.n_samples", n_samples, minimum=4)
    noise = check_number("moons.noise", noise, minimum=0)
    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=check_seed("moons.data_seed", data_seed))
    return _finish("moons", x, y, 2, f"sklearn.datasets.make_moons(n_samples={n_samples}, noise={noise})",
                   validation, test, normalize, data_seed)


@register("digits", "dataset", "8x8 handwritten digits, 64 features, 10 classes (scikit-learn)")
def digits(validation=0.2, test=0.2, normalize=False, data_seed=0, image_size=8, channels=1):
    """scikit-learn's 1797 8x8 digits, pixels scaled to [0, 1]: the offline MNIST.

    `image_size = 28` (or 32, ...) resizes them (bilinear, `resize_images`) for a model made
    for larger images, a stand-in for MNIST's 28x28 or CIFAR-10's 32x32; `channels = 3`
    repeats the grey level in three channels, as CIFAR-10's colour images have.
    """
    from sklearn.datasets import load_digits

    image_size = check_int("digits.image_size", image_size, minimum=1)
    channels = check_int("digits.channels", channels, minimum=1)
    x, y = load_digits(return_X_y=True)
    x, source = x / 16.0, "sklearn.datasets.load_digits"
    if image_size != 8:
        x = resize_images(x.reshape(-1, 8, 8), image_size).reshape(len(x), -1)
        source += f", resized to {image_size}x{image_size}"
    if channels != 1:
        x = np.repeat(x.reshape(len(x), image_size * image_size, 1), channels, axis=2).reshape(len(x), -1)
        source += f", grey in {channels} channels"
    return _finish("digits", x, y, 10, source, validation, test, normalize,
                   check_seed("digits.data_seed", data_seed), image_shape=(image_size, image_size, channels))


def resize_images(images, size):
    """`images` [n, h, w] resized to [n, size, size] by bilinear interpolation (`scipy.ndimage.zoom`,
    order 1, its corners on the corners)."""
    from scipy.ndimage import zoom

    n, height, width = images.shape
    return zoom(images, (1, size / height, size / width), order=1, grid_mode=False)
