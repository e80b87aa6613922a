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


class DecisionBoundaryLogger(Borrowed, keras.callbacks.Callback):
    """Image `decision_boundary` in `<logdir>/train`: the model's predicted
    probability over the plane with the points `x` (two features) coloured
    by label `y`. Drawn every `every_epochs`-th epoch (None: only after the
    last), TensorBoard step = epoch."""

    def __init__(self, logdir, x, y, every_epochs=None):
        super().__init__()
        if np.ndim(x) != 2 or np.shape(x)[1] != 2:
            raise ValueError(f"`x` must have two features per point. Received shape {np.shape(x)}")
        self.logdir = str(logdir)
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.every_epochs = check_frequency("every_epochs", every_epochs)

    def on_epoch_end(self, epoch, logs=None):
        last = epoch == self.params.get("epochs", 0) - 1
        if last or (self.every_epochs and epoch % self.every_epochs == 0):
            self._draw(epoch, logs or {})

    def _draw(self, epoch, logs):
        # One figure per logger, its artists made once and updated: a new figure with filled
        # contours and a tight layout costs ~0.2 s an image, more than a small run's training.
        if getattr(self, "_figure", None) is None:
            from matplotlib.figure import Figure

            self._figure = Figure(figsize=(4, 4))
            ax = self._figure.subplots()
            self._figure.subplots_adjust(left=0.1, right=0.97, bottom=0.08, top=0.92)
            xx, yy, p = probability_grid(self.model, self.x, resolution=100)
            self._image = ax.imshow(p, origin="lower", extent=(xx.min(), xx.max(), yy.min(), yy.max()),
                                    cmap="RdBu_r", vmin=0, vmax=1, alpha=0.6, aspect="auto",
                                    interpolation="bilinear")
            ax.scatter(self.x[:, 0], self.x[:, 1], c=self.y, cmap="RdBu_r", edgecolors="k", linewidths=0.4,
                       s=12)
            self._title = ax.set_title("", fontsize=9)
        else:
            self._image.set_data(probability_grid(self.model, self.x, resolution=100)[2])
        accuracy = logs.get("accuracy")
        self._title.set_text(f"epoch {epoch + 1}" +
                             (f", accuracy {float(accuracy):.3f}" if accuracy is not None else ""))
        with self._writer("train").as_default():
            image_summary("decision_boundary", png_bytes(self._figure), epoch)

    def on_train_end(self, logs=None):
        self._give_back_writers()
