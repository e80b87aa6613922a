"""Two-parameter objectives of the material, minimised with the suite's optimizers.

The point being optimised is one two-element Keras variable and the update is
the optimizer's own `apply`, so these paths exercise exactly the classes used
for training networks; there is no separate code path for the maths.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import keras


def material(w):
    """f(x, y) = x^2 / 20 + y^2: the material's elongated bowl."""
    return w[0] ** 2 / 20.0 + w[1] ** 2


def rotated(w):
    """f = 0.1 (x1 + x2)^2 + 2 (x1 - x2)^2: the same kind of bowl, turned 45 degrees."""
    return 0.1 * (w[0] + w[1]) ** 2 + 2.0 * (w[0] - w[1]) ** 2


def rosenbrock(w):
    """f = (1 - x)^2 + 100 (y - x^2)^2: a curved valley with its minimum at (1, 1)."""
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


#: name -> (objective, start point, minimum)
OBJECTIVES = {
    "material": (material, (-7.0, 2.0), (0.0, 0.0)),
    "rotated": (rotated, (-7.0, 2.0), (0.0, 0.0)),
    "rosenbrock": (rosenbrock, (-1.2, 1.0), (1.0, 1.0)),
}


def minimise(optimizer, objective, start, steps, dtype="float64"):
    """Take `steps` optimizer steps on `objective` from `start`.

    Returns the path as an array of shape (steps + 1, 2), start included.
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
        step()
        path.append(w.numpy().copy())
    return np.array(path)
