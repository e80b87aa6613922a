"""Steps where some variables get no gradient (issue 13).

Every other step the second variable's gradient is missing, either as `None`
in the gradient list or by calling `apply` with the first variable alone.
The step count moves on for all variables (it is the optimizer's); the
variable left out keeps its value and its slots. Each optimizer is checked
against its NumPy reference at every step, and each Keras twin against its
Keras built-in, bit for bit.
"""

import keras
import numpy as np
import pytest
from backends import generic_builtin, reference_rtol, tensor
from numpy_reference import NadamRef
from optimizer_table import CASES, IDS
from test_optimizers import mismatch, noisy_gradients

import custom_optimizers as co
from custom_optimizers.keras_twins import KERAS_TWINS

STEPS = 40
pytestmark = [pytest.mark.filterwarnings("ignore:Gradients do not exist"), pytest.mark.all_backends]


def skipping_run(optimizer, grads_a, grads_b, dtype="float64"):
    """Both variables' values after each step; `b` has no gradient at odd steps,
    given as `None` at steps 1, 5, 9, ... and left out of `apply` at 3, 7, 11, ..."""
    a = keras.Variable(np.zeros(grads_a.shape[1]), dtype=dtype)
    b = keras.Variable(np.zeros(grads_b.shape[1]), dtype=dtype)
    optimizer.build([a, b])
    out = []
    for step, (ga, gb) in enumerate(zip(grads_a, grads_b)):
        ga, gb = tensor(ga, dtype), tensor(gb, dtype)
        if step % 2 == 0:
            optimizer.apply([ga, gb], [a, b])
        elif step % 4 == 1:
            optimizer.apply([ga, None], [a, b])
        else:
            optimizer.apply([ga], [a])
        out.append((a.numpy().copy(), b.numpy().copy()))
    return [np.array([o[i] for o in out]) for i in (0, 1)]


def reference_run(make_reference, grads_a, grads_b):
    ref_a, ref_b = make_reference(), make_reference()
    a, b = np.zeros(grads_a.shape[1]), np.zeros(grads_b.shape[1])
    out = []
    for step, (ga, gb) in enumerate(zip(grads_a, grads_b)):
        a = ref_a.step(a, ga)
        b = ref_b.step(b, gb if step % 2 == 0 else None)
        out.append((a.copy(), b.copy()))
    return [np.array([o[i] for o in out]) for i in (0, 1)]


@pytest.fixture(scope="module")
def grads():
    return noisy_gradients(STEPS, seed=5), noisy_gradients(STEPS, seed=6)


def test_every_registered_optimizer_is_in_the_table():
    assert {co.OPTIMIZERS[name] for name in co.OPTIMIZERS} <= {case.cls for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_skipped_gradients_against_reference(case, grads):
    optimizer = case.make()
    actual = skipping_run(optimizer, *grads)
    expected = reference_run(lambda: case.make_reference(optimizer), *grads)
    for got, want in zip(actual, expected):
        assert mismatch(got, want, reference_rtol(optimizer)) <= 1.0
    # b really is left alone at its skipped steps, and really moves at the others.
    b = actual[1]
    np.testing.assert_array_equal(b[1::2], b[0::2])
    assert np.all(b[2] != b[1])


def test_nadam_product_advances_once_per_step_not_per_update(grads):
    """The per-variable product (the suite's Nadam before issue 13) is caught."""
    optimizer = co.Nadam(momentum_decay=1.0)
    actual = skipping_run(optimizer, *grads)
    mutated = reference_run(
        lambda: NadamRef(mutation="per_variable_product", **optimizer.get_config()), *grads
    )
    assert mismatch(actual[1], mutated[1], reference_rtol(optimizer)) > 1.0
    assert int(optimizer.iterations) == STEPS
    assert int(optimizer._mu_product_step) == STEPS


@pytest.mark.parametrize("name", sorted(KERAS_TWINS))
def test_twin_equals_keras_with_skipped_gradients(name, grads):
    ours, theirs = KERAS_TWINS[name]
    grads_a, grads_b = (g.astype("float32") for g in grads)
    mine = skipping_run(ours(), grads_a, grads_b, dtype="float32")
    keras_ = skipping_run(generic_builtin(theirs()), grads_a, grads_b, dtype="float32")
    for got, want in zip(mine, keras_):
        np.testing.assert_array_equal(got, want)
