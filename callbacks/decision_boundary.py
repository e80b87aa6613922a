"""Decision boundaries of a classifier with two input features, as images."""

from __future__ import annotations

import io

import keras
import numpy as np
import tensorflow as tf

from callbacks._steps import check_frequency
from callbacks._writers import Borrowed


def probability_grid(model, x, resolution=150, margin=0.5):
    """(xx, yy, p): the model's class-1 probability (or predicted class) on a grid over `x`."""
    low, high = x.min(axis=0) - margin, x.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], resolution),
                         np.linspace(low[1], high[1], resolution))
    points = np.stack([xx.ravel(), yy.ravel()], axis=1).astype("float32")
    out = np.asarray(model(points, training=False))
    p = out[:, 0] if out.shape[-1] == 1 else out[:, 1] if out.shape[-1] == 2 else out.argmax(-1)
    return xx, yy, p.reshape(xx.shape)


def draw(ax, grid, x, y, title):
    xx, yy, p = grid
    ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(xx, yy, p, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", edgecolors="k", linewidths=0.4, s=12)
    ax.set_title(title, fontsize=9)


def png_bytes(fig, dpi=100):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def image_summary(name, png, step):
    """Write PNG bytes as a TensorBoard image (for a writer set as default)."""
    tf.summary.image(name, tf.image.decode_png(png, channels=4)[tf.newaxis], step=step)


#: Side of the images `DecisionBoundaryLogger` writes, in pixels.
IMAGE_SIZE = 400
CAPTION = ("The model's probability of class 1 over the plane (red: 1, blue: 0), the p = 0.5 "
           "boundary in black, and the training points coloured by their label; step = epoch.")


def render(grid, x, y, size=IMAGE_SIZE):
    """RGB pixels `[size, size, 3]` (uint8) of a `probability_grid`: the probability in the
    colours of `draw` (RdBu_r, lightened), the p = 0.5 boundary in black and the points `x`
    coloured by label `y` with a black rim; y upwards, as in `draw`."""
    from matplotlib import colormaps

    xx, yy, p = grid
    p = np.clip(np.nan_to_num(np.asarray(p, np.float64), nan=0.5), 0, 1)
    scale = max(1, size // p.shape[0])
    p = np.repeat(np.repeat(p, scale, axis=0), scale, axis=1)[:size, :size]
    cmap = colormaps["RdBu_r"]
    pixels = 0.6 * cmap(p)[..., :3] + 0.4  # alpha 0.6 over white
    side = p >= 0.5
    edge = np.zeros_like(side)
    edge[:, 1:] |= side[:, 1:] != side[:, :-1]
    edge[1:, :] |= side[1:, :] != side[:-1, :]
    pixels[edge] = 0.0
    (x0, x1), (y0, y1) = (xx.min(), xx.max()), (yy.min(), yy.max())
    height, width = p.shape
    columns = np.rint((np.asarray(x)[:, 0] - x0) / (x1 - x0) * (width - 1)).astype(int)
    rows = np.rint((np.asarray(x)[:, 1] - y0) / (y1 - y0) * (height - 1)).astype(int)
    labels = np.asarray(y).reshape(len(columns), -1)[:, -1] if np.ndim(y) > 1 else np.asarray(y)
    colours = cmap(np.clip(labels.astype(np.float64), 0, 1))[:, :3]
    dy, dx = np.mgrid[-4:5, -4:5]
    disc = dy ** 2 + dx ** 2
    for offsets, paint in (((disc <= 16), None), ((disc <= 9), colours)):  # rim, then fill
        for oy, ox in zip(dy[offsets], dx[offsets]):
            r, c = rows + oy, columns + ox
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            pixels[r[inside], c[inside]] = 0.0 if paint is None else paint[inside]
    return np.rint(pixels[::-1] * 255).astype(np.uint8)


class DecisionBoundaryLogger(Borrowed, keras.callbacks.Callback):
    """Image `decision_boundary` in `<logdir>/<subdirectory>` (`train`, Keras's TensorBoard
    callback's; `""`: `logdir` itself): the model's predicted probability over the plane with
    the points `x` (two features) coloured by label `y`. Drawn every `every_epochs`-th epoch
    (None: only after the last), TensorBoard step = epoch."""

    def __init__(self, logdir, x, y, every_epochs=None, subdirectory="train"):
        super().__init__()
        if np.ndim(x) != 2 or np.shape(x)[1] != 2:
            raise ValueError(f"`x` must have two features per point. Received shape {np.shape(x)}")
        self.logdir, self.subdirectory = str(logdir), str(subdirectory)
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.every_epochs = check_frequency("every_epochs", every_epochs)

    def on_epoch_end(self, epoch, logs=None):
        last = epoch == self.params.get("epochs", 0) - 1
        if last or (self.every_epochs and epoch % self.every_epochs == 0):
            self._draw(epoch, logs or {})

    def _draw(self, epoch, logs):
        # NumPy pixels, not a matplotlib figure: a figure cost ~0.1 s an image, more than a
        # small run's training between two images
        grid = probability_grid(self.model, self.x, resolution=IMAGE_SIZE // 2)
        with self._writer(self.subdirectory).as_default():
            tf.summary.image("decision_boundary", render(grid, self.x, self.y)[np.newaxis], step=epoch,
                             description=CAPTION)

    def on_train_end(self, logs=None):
        self._give_back_writers()
