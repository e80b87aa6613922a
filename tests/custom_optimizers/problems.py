"""Small test objectives, minimised with the optimizers through Keras variables."""

import numpy as np
import tensorflow as tf

import keras
from keras import ops


def quadratic(w):
    return 0.5 * (w[0] ** 2 + 10.0 * w[1] ** 2)


def rosenbrock(w):
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


PROBLEMS = {
    # name: (objective, start, minimum, steps)
    "quadratic": (quadratic, (3.0, -2.0), (0.0, 0.0), 500),
    "rosenbrock": (rosenbrock, (-1.2, 1.0), (1.0, 1.0), 3000),
}


def minimise(optimizer, objective, start, steps, dtype="float64"):
    """Run `steps` optimizer steps on `objective`; return the path (steps + 1, 2)."""
    w = keras.Variable(np.array(start, dtype=dtype))
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


def distance(point, target):
    return float(ops.norm(np.asarray(point) - np.asarray(target)))
