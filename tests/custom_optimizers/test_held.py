"""The hyperparameters an optimizer holds in variables (`Optimizer.HELD`) change nothing.

Each optimizer that holds some is trained by `fit` (TensorFlow's graph optimiser on, as
users get it) beside its twin that traces them into the update as numbers: losses and
weights must be bit-identical, in float32 and float64.
That is what lets the experiment engine restart one compiled program for a search's trials
(`tests/experiments/test_groups.py`). It fails when `hold` does not make the number the update
made of the float (`1 - beta` taken through float32 fails in float64), or when TensorFlow
rewrites the arithmetic around a number and not around a variable (it does for RMSProp's
`epsilon` and RAdam's `beta_2`, which are not held). Whether the numbers are right at all is
the NumPy references' job (`test_optimizers.py`).
"""

import numpy as np
import pytest
from backends import BACKEND
from optimizer_table import CASES, ONE_PER_OPTIMIZER
from tiny import fit, mlp, weights

pytestmark = pytest.mark.all_backends

#: Off the defaults, as a search's trials are. (A held value the update never reads is
#: `test_groups`'s to catch: a restarted program would then train with the old value.)
OFF_DEFAULT = {"momentum": 0.8, "beta_1": 0.85, "beta_2": 0.995, "epsilon": 1e-6, "rho": 0.8}

HOLDING = [case for case in CASES if case.cls.HELD]

#: On JAX and PyTorch (no graph optimiser to rewrite anything), one configuration of each
#: optimizer in float64, where a held value's rounding would show (CI time).
PARAMETERS = [
    pytest.param(case, dtype, id=f"{case.id}-{dtype}", marks=pytest.mark.skipif(
        BACKEND != "tensorflow" and (case.id not in ONE_PER_OPTIMIZER or dtype != "float64"),
        reason=f"on {BACKEND}: one configuration of each optimizer, in float64 (CI time)"))
    for case in HOLDING for dtype in ("float32", "float64")
]


class _Number(float):
    """A held weight (`1 - beta` taken in double) left a Python float, to meet the tensor."""


def as_numbers(cls):
    """`cls` whose `hold` gives back the number instead of a variable: `cast=True` values go
    through `_cast` as the float did, the others meet the tensor as the float did."""

    class Numbers(cls):
        def hold(self, name, value, var_list, cast=False):
            return value if cast else _Number(value)

        def _cast(self, value, variable):
            return float(value) if isinstance(value, _Number) else super()._cast(value, variable)

    return Numbers


def test_every_optimizer_with_a_searched_hyperparameter_holds_it():
    held = {case.cls.__name__: case.cls.HELD for case in HOLDING}
    assert set(held) == {"Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam", "AdamW", "Nadam", "RAdam",
                         "AdaBelief", "Lion"}
    assert {"beta_1"} <= set(held["Adam"]) and {"momentum"} <= set(held["Momentum"])


@pytest.mark.parametrize("case,dtype", PARAMETERS)
def test_held_hyperparameters_train_as_the_numbers_did(case, dtype):
    kwargs = {**case.kwargs, **{k: v for k, v in OFF_DEFAULT.items() if k in case.cls.HELD},
              "learning_rate": 0.01}
    held, held_loss = fit(case.cls(**kwargs), epochs=3, model=mlp(dtype=dtype))
    numbers, numbers_loss = fit(as_numbers(case.cls)(**kwargs), epochs=3, model=mlp(dtype=dtype))
    assert len(held.optimizer.variables) == len(numbers.optimizer.variables) + \
        sum(2 if f"one_minus_{name}" in {v.name for v in held.optimizer.variables} else 1 for name in case.cls.HELD)
    np.testing.assert_array_equal(held_loss, numbers_loss)
    for a, b in zip(weights(held), weights(numbers), strict=True):
        np.testing.assert_array_equal(a, b)
    assert held_loss[-1] < held_loss[0]  # it trained


@pytest.mark.parametrize("case", [c for c in HOLDING if c.id in ONE_PER_OPTIMIZER],
                         ids=[c.id for c in HOLDING if c.id in ONE_PER_OPTIMIZER])
def test_a_state_saved_before_the_optimizer_held_its_hyperparameters_loads(case):
    """A state without the held variables (the twin's, which traces them as numbers) restores
    the slots and the step count, not nothing with a warning."""
    import warnings

    kwargs = {**case.kwargs, **{k: v for k, v in OFF_DEFAULT.items() if k in case.cls.HELD}}
    old, _ = fit(as_numbers(case.cls)(**kwargs), epochs=1)  # a state without the held variables
    store = {}
    old.optimizer.save_own_variables(store)
    new = case.cls(**kwargs)
    new.build(mlp().trainable_variables)
    held = {id(v): np.asarray(v.numpy()).copy() for v in new.variables if id(v) in new._held_ids}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new.load_own_variables(store)
    loaded = [v for v in new.variables if id(v) not in held]
    assert len(loaded) == len(store) == len(old.optimizer.variables) and held
    for variable, saved in zip(loaded, old.optimizer.variables, strict=True):
        np.testing.assert_array_equal(variable.numpy(), saved.numpy())
    assert int(new.iterations.numpy()) == 8  # 512 examples / 64 a batch
    for v in new.variables:
        if id(v) in held:
            np.testing.assert_array_equal(v.numpy(), held[id(v)])  # its own hyperparameters


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fresh_state_is_what_build_makes_without_the_variables(dtype):
    """A restarted program copies a trial's first optimizer state in (`Program.restart`):
    `fresh_state` gives, for every optimizer, the values `build` would give its variables, in
    their order, dtype and bits, off the defaults too; and makes no variable of its own."""
    for case in CASES:
        kwargs = {**case.kwargs, **{k: v for k, v in OFF_DEFAULT.items() if k in case.cls.HELD},
                  "learning_rate": 0.0123}
        model = mlp(dtype=dtype)
        built = case.cls(**kwargs)
        built.build(model.trainable_variables)
        stand_in = case.cls(**kwargs)
        before = len(stand_in.variables)
        fresh = stand_in.fresh_state(model.trainable_variables)
        assert len(stand_in.variables) == before and not stand_in.built, case.id
        expected = [np.asarray(v.numpy()) for v in built.variables]
        assert [(a.dtype, a.shape) for a in fresh] == [(b.dtype, b.shape) for b in expected], case.id
        for a, b in zip(fresh, expected):
            assert a.tobytes() == b.tobytes(), case.id
