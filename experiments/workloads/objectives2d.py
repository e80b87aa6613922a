"""Two-parameter objectives, minimised with the suite's optimizers.

The point being optimised is one two-element Keras variable and the update is
the optimizer's own `apply`, so these paths exercise exactly the classes used
for training networks; there is no separate code path for the maths.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Objective:
    f: callable  # f(w) for w of shape (2, ...), NumPy or TensorFlow
    start: tuple[float, float]
    minimum: tuple[float, float] | None  # None: unbounded below (the saddle)
    title: str
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    levels: tuple[float, ...]  # contour levels of the figures


def material(w):
    """f(x, y) = x^2 / 20 + y^2: the material's elongated bowl."""
    return w[0] ** 2 / 20.0 + w[1] ** 2


def rotated(w):
    """f = 0.1 (x1 + x2)^2 + 2 (x1 - x2)^2: a narrow bowl turned 45 degrees."""
    return 0.1 * (w[0] + w[1]) ** 2 + 2.0 * (w[0] - w[1]) ** 2


def rosenbrock(w):
    """f = (1 - x)^2 + 100 (y - x^2)^2: a curved valley with its minimum at (1, 1)."""
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


def beale(w):
    """f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2, minimum at (3, 0.5)."""
    x, y = w[0], w[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def saddle(w):
    """f = x^2 - y^2: a saddle at the origin; the way down is along y."""
    return w[0] ** 2 - w[1] ** 2


OBJECTIVES = {
    "material": Objective(material, (-7.0, 2.0), (0.0, 0.0), "f = x^2/20 + y^2",
                          (-10, 10), (-5, 5), tuple(np.geomspace(0.05, 30, 12))),
    "rotated": Objective(rotated, (-7.0, 2.0), (0.0, 0.0), "f = 0.1(x1+x2)^2 + 2(x1-x2)^2",
                         (-10, 10), (-5, 5), tuple(np.geomspace(0.05, 100, 12))),
    "rosenbrock": Objective(rosenbrock, (-1.2, 1.0), (1.0, 1.0), "Rosenbrock (1-x)^2 + 100(y-x^2)^2",
                            (-2, 2), (-1, 3), tuple(np.geomspace(0.1, 1000, 12))),
    "beale": Objective(beale, (1.0, 1.5), (3.0, 0.5), "Beale",
                       (-4.5, 4.5), (-4.5, 4.5), tuple(np.geomspace(0.1, 1e4, 12))),
    "saddle": Objective(saddle, (-1.0, 1e-3), None, "saddle f = x^2 - y^2",
                        (-1.5, 1.5), (-1.5, 1.5), tuple(np.linspace(-2, 2, 17))),
}


def minimise(optimizer, objective, start, steps, dtype="float64", rates=None):
    """Take `steps` optimizer steps on `objective` from `start`.

    Returns the path as an array of shape (steps + 1, 2), start included.
    If `rates` is a list, the learning rate each step used is appended to it.
    """
    w = keras.Variable(np.array(start, dtype=dtype), name="point")
    optimizer.build([w])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = objective(w)
        optimizer.apply([tape.gradient(loss, w.value)], [w])

    path = [w.numpy().copy()]
    for _ in range(steps):
        if rates is not None:
            rates.append(float(optimizer.learning_rate))
        step()
        path.append(w.numpy().copy())
    return np.array(path)
