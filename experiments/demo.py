"""The material's 2-D experiment as a demo: optimizer paths on f = x^2/20 + y^2.

Command: `python -m experiments demo` (or `make run`). Runtime: ~7 s on 2 cores.
Expected result (the material's figure): SGD zig-zags across the narrow
valley (y flips sign every step), Momentum rolls past the minimum like a ball
and swings back, AdaGrad and RMSProp drop to the valley floor in a few steps
and then walk along it, Adam swings in a damped arc. Final f after 30 steps:
SGD 0.013, Momentum 0.048, AdaGrad 0.00072, RMSProp 0.024, Adam 0.10.

Writes, under `<logdir>/demo/`:
  <optimizer>/   TensorBoard scalars per step: loss, x, y
  figures/       TensorBoard image of the paths over the contour plot
  paths.png      the same figure as a file
"""

from __future__ import annotations

import pathlib

import numpy as np

import custom_optimizers as co
from experiments.objectives2d import OBJECTIVES, minimise

#: The material's settings (SPEC, experiment 1): 30 steps from (-7, 2).
OPTIMIZERS = {
    "SGD": lambda: co.SGD(0.95),
    "Momentum": lambda: co.Momentum(0.1, momentum=0.9),
    "AdaGrad": lambda: co.AdaGrad(1.5),
    "RMSProp": lambda: co.RMSProp(0.1, rho=0.99),
    "Adam": lambda: co.Adam(0.3),
}


def contour_figure(objective, paths, minimum):
    from matplotlib.figure import Figure  # no pyplot: no global state, nothing to close

    x, y = np.meshgrid(np.linspace(-10, 10, 200), np.linspace(-5, 5, 200))
    z = objective(np.stack([x, y]))
    fig = Figure(figsize=(13, 7))
    axes = fig.subplots(2, 3, sharex=True, sharey=True)
    for ax, (name, path) in zip(axes.flat, paths.items()):
        ax.contour(x, y, z, levels=np.geomspace(0.05, 30, 12), colors="0.75", linewidths=0.8)
        ax.plot(path[:, 0], path[:, 1], "o-", color="tab:red", markersize=3, linewidth=1)
        ax.plot(*minimum, "+", color="k", markersize=10)
        ax.set_title(f"{name}: f = {float(objective(path[-1])):.2g} after {len(path) - 1} steps")
    for ax in axes.flat[len(paths):]:
        ax.axis("off")
    fig.suptitle("f(x, y) = x^2/20 + y^2 from (-7, 2)")
    fig.tight_layout()
    return fig


def run(logdir="logs", steps=30):
    import tensorflow as tf

    out = pathlib.Path(logdir) / "demo"
    out.mkdir(parents=True, exist_ok=True)
    objective, start, minimum = OBJECTIVES["material"]
    paths = {}
    for name, make in OPTIMIZERS.items():
        path = minimise(make(), objective, start, steps)
        paths[name] = path
        with tf.summary.create_file_writer(str(out / name)).as_default():
            for t, point in enumerate(path):
                tf.summary.scalar("loss", float(objective(point)), step=t)
                tf.summary.scalar("x", float(point[0]), step=t)
                tf.summary.scalar("y", float(point[1]), step=t)
    fig = contour_figure(objective, paths, minimum)
    png = out / "paths.png"
    fig.savefig(png, dpi=100)
    image = tf.image.decode_png(tf.io.read_file(str(png)), channels=4)[tf.newaxis]
    with tf.summary.create_file_writer(str(out / "figures")).as_default():
        tf.summary.image("paths", image, step=0)
    return out, paths
