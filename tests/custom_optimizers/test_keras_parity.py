"""Configured to the Keras convention, each optimizer retraces the Keras built-in.

Same model, same data, same order, `fit` for six epochs (48 steps): the
losses and weights must be bit-identical. The suite evaluates the same
formulas as Keras in the same order, with the same roundings (`1 - beta` in
double, see `custom_optimizers._base`), so there is no round-off to allow
for: a drift of one float32 ulp fails. On every back-end (on PyTorch against
Keras's generic built-ins, see `backends.generic_builtin`).
"""

import numpy as np
import pytest
from backends import TORCH, generic_builtin
from tiny import fit, weights

import custom_optimizers as co
from custom_optimizers.keras_twins import KERAS_TWINS

pytestmark = pytest.mark.all_backends


@pytest.mark.parametrize("name", sorted(KERAS_TWINS))
def test_same_trajectory_as_keras_builtin(name):
    ours, theirs = KERAS_TWINS[name]
    model_ours, loss_ours = fit(ours(), epochs=6)
    model_theirs, loss_theirs = fit(generic_builtin(theirs()), epochs=6)
    np.testing.assert_array_equal(loss_ours, loss_theirs)
    for a, b in zip(weights(model_ours), weights(model_theirs), strict=True):
        np.testing.assert_array_equal(a, b)
    # The models did train (the comparison is not between two untouched inits).
    assert loss_ours[-1] < loss_ours[0]


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adam", "nadam"])
def test_material_defaults_differ_from_keras(name):
    """Guard against the comparison above passing vacuously: with the
    material's conventions the trajectories must differ measurably."""
    material = {
        "adagrad": lambda: co.AdaGrad(0.001),
        "rmsprop": lambda: co.RMSProp(0.001, rho=0.9),
        "adam": lambda: co.Adam(),
        "nadam": lambda: co.Nadam(0.001),
    }[name]
    model_ours, _ = fit(material())
    model_theirs, _ = fit(generic_builtin(KERAS_TWINS[name][1]()))
    diff = max(np.max(np.abs(a - b)) for a, b in zip(weights(model_ours), weights(model_theirs)))
    assert diff > 1e-4


@pytest.mark.skipif(not TORCH, reason="only PyTorch swaps Keras's built-ins for torch._foreach versions")
def test_close_to_the_pytorch_foreach_builtins():
    """What `keras.optimizers.Adam()` & co. give on PyTorch: the same rules in another
    order of operations, so the twins agree to float32 round-off, not bit for bit."""
    for name in sorted(KERAS_TWINS):
        ours, theirs = KERAS_TWINS[name]
        model_ours, loss_ours = fit(ours(), epochs=6)
        model_theirs, loss_theirs = fit(theirs(), epochs=6)
        # Seen: losses within 5.5e-7 (relative), weights within 4.5e-7 (nadam).
        np.testing.assert_allclose(loss_ours, loss_theirs, rtol=2e-6, err_msg=name)
        for a, b in zip(weights(model_ours), weights(model_theirs), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6, err_msg=name)
