"""Configured to the Keras convention, each optimizer retraces the Keras built-in.

Same model, same data, same order, `fit` for six epochs (48 steps): the
losses and weights must be bit-identical. The suite evaluates the same
formulas as Keras in the same order, with the same roundings (`1 - beta` in
double, see `custom_optimizers._base`), so there is no round-off to allow
for: a drift of one float32 ulp fails.
"""

import numpy as np
import pytest
from tiny import fit, weights

import custom_optimizers as co
from custom_optimizers.keras_twins import KERAS_TWINS


@pytest.mark.parametrize("name", sorted(KERAS_TWINS))
def test_same_trajectory_as_keras_builtin(name):
    ours, theirs = KERAS_TWINS[name]
    model_ours, loss_ours = fit(ours(), epochs=6)
    model_theirs, loss_theirs = fit(theirs(), epochs=6)
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
    model_theirs, _ = fit(KERAS_TWINS[name][1]())
    diff = max(np.max(np.abs(a - b)) for a, b in zip(weights(model_ours), weights(model_theirs)))
    assert diff > 1e-4
