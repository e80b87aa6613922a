"""The material's 2-D experiment: f(x, y) = x^2/20 + y^2 from (-7, 2), 30 steps.

Learning rates from the book (ch06/optimizer_compare_naive.py): SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3,
RMSProp 0.1 with decay 0.99. The expected path is computed with the
material's own formulas (the textbook's update code, written in NumPy), and
the custom optimizers must land on it step by step. The textbook's Adam
folds the bias correction into the step size with eps = 1e-7, i.e. our
`Adam(epsilon=1e-7, epsilon_hat=True)`.
"""

import numpy as np
import pytest
from backends import tensorflow_only
from numpy_reference import f32

import custom_optimizers as co
from experiments.workloads.objectives2d import material as f
from experiments.workloads.objectives2d import minimise

# experiments/ is TensorFlow code: `minimise` steps with tf.GradientTape inside a tf.function.
pytestmark = [
    pytest.mark.all_backends,
    tensorflow_only("experiments.workloads.objectives2d.minimise runs on tf.GradientTape and tf.function"),
]


def grad_f(w):
    return np.array([w[0] / 10.0, 2.0 * w[1]])


def textbook_path(update, steps=30):
    """Run a NumPy update rule `update(w, g, t, state)` from (-7, 2)."""
    w, state, path = np.array([-7.0, 2.0]), {}, []
    path.append(w.copy())
    for t in range(1, steps + 1):
        w = update(w, grad_f(w), t, state)
        path.append(w.copy())
    return np.array(path)


def sgd(lr):
    return lambda w, g, t, s: w - lr * g


def momentum(lr, mu=f32(0.9)):
    def update(w, g, t, s):
        s["v"] = mu * s.get("v", 0.0) - lr * g
        return w + s["v"]
    return update


def adagrad(lr, eps=f32(1e-7)):
    def update(w, g, t, s):
        s["h"] = s.get("h", 0.0) + g * g
        return w - lr * g / (np.sqrt(s["h"]) + eps)
    return update


def rmsprop(lr, decay=f32(0.99), eps=f32(1e-7), one_minus=1 - 0.99):
    # `1 - rho` in double from the Python float, as Keras's RMSprop (custom_optimizers._base's note)
    def update(w, g, t, s):
        s["h"] = decay * s.get("h", 0.0) + one_minus * g * g
        return w - lr * g / (np.sqrt(s["h"]) + eps)
    return update


def adam(lr, b1=f32(0.9), b2=f32(0.999), eps=f32(1e-7), one_minus=(1 - 0.9, 1 - 0.999)):
    # the averages' weights `1 - beta` in double from the Python floats, as Keras's Adam;
    # the bias corrections from the betas cast to float32
    def update(w, g, t, s):
        lr_t = lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        s["m"] = s.get("m", 0.0) + one_minus[0] * (g - s.get("m", 0.0))
        s["v"] = s.get("v", 0.0) + one_minus[1] * (g * g - s.get("v", 0.0))
        return w - lr_t * s["m"] / (np.sqrt(s["v"]) + eps)
    return update


EXPERIMENT = {
    "SGD": (co.SGD(0.95), sgd(f32(0.95))),
    "Momentum": (co.Momentum(0.1, momentum=0.9), momentum(f32(0.1))),
    "AdaGrad": (co.AdaGrad(1.5), adagrad(f32(1.5))),
    "Adam": (co.Adam(0.3, epsilon=1e-7, epsilon_hat=True), adam(f32(0.3))),
    "RMSProp": (co.RMSProp(0.1, rho=0.99), rmsprop(f32(0.1))),
}


@pytest.mark.parametrize("name", sorted(EXPERIMENT))
def test_path_follows_the_material_step_by_step(name):
    optimizer, update = EXPERIMENT[name]
    path = minimise(optimizer, f, (-7.0, 2.0), 30)
    expected = textbook_path(update)
    assert path.shape == (31, 2)
    np.testing.assert_allclose(path, expected, rtol=1e-9, atol=1e-12)
    assert f(path[-1]) < f(path[0])


def test_sgd_zigzags_in_y_as_the_material_shows():
    """With lr 0.95, y is multiplied by 1 - 2 * 0.95 = -0.9 at every step:
    it flips sign each step while x creeps along the shallow valley."""
    path = minimise(co.SGD(0.95), f, (-7.0, 2.0), 30)
    ratios = path[1:, 1] / path[:-1, 1]
    np.testing.assert_allclose(ratios, 1 - 2 * f32(0.95), rtol=1e-9)
    np.testing.assert_allclose(path[1:, 0] / path[:-1, 0], 1 - f32(0.95) / 10, rtol=1e-9)
