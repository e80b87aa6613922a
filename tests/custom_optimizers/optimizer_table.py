"""The one table of optimizers under test, shared by the test modules.

Each case names an optimizer configuration, its independent NumPy reference
(`numpy_reference`), deliberate mistakes the reference comparison must catch,
and the learning rates used for the convergence problems.
"""

import dataclasses

import numpy_reference as ref
import pytest
from backends import BACKEND

import custom_optimizers as co


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    cls: type
    kwargs: dict
    reference: type
    mutations: tuple
    quadratic_lr: float
    rosenbrock_lr: float
    reference_extra: dict = dataclasses.field(default_factory=dict)
    problem_kwargs: dict = dataclasses.field(default_factory=dict)

    def make(self, **overrides):
        return self.cls(**{**self.kwargs, **overrides})

    def make_reference(self, optimizer, mutation=None):
        """The reference, fed the optimizer's own config (no defaults written twice)."""
        return self.reference(mutation=mutation, **optimizer.get_config(), **self.reference_extra)


CASES = [
    # RAdam's default b2 = 0.999 keeps the rectification r ~ sqrt(t / 2000)
    # small for thousands of steps; the 3000-step problems use b2 = 0.99.
    Case("sgd", co.SGD, {}, ref.SGDRef, ("unrounded_lr",), 0.1, 2e-3),
    Case("momentum", co.Momentum, {}, ref.MomentumRef, ("stale_velocity",), 0.05, 5e-4),
    Case("momentum_ewa", co.Momentum, {"form": "ewa"}, ref.MomentumRef,
         ("no_one_minus_beta", "float32_one_minus"), 0.2, 3e-3),
    Case("nesterov", co.Nesterov, {}, ref.MomentumRef, ("textbook_nesterov",), 0.05, 5e-4,
         {"nesterov": True}),
    Case("nesterov_ewa", co.Nesterov, {"form": "ewa"}, ref.MomentumRef,
         ("no_one_minus_beta",), 0.2, 3e-3, {"nesterov": True}),
    Case("adagrad", co.AdaGrad, {}, ref.AdaGradRef, ("move_epsilon", "keras_accumulator"),
         0.5, 0.5),
    Case("adagrad_keras", co.AdaGrad,
         {"initial_accumulator_value": 0.1, "epsilon_inside_sqrt": True}, ref.AdaGradRef,
         ("move_epsilon",), 0.5, 0.5),
    Case("rmsprop", co.RMSProp, {}, ref.RMSPropRef, ("move_epsilon", "float32_one_minus"),
         0.01, 3e-3),
    Case("rmsprop_centered_momentum", co.RMSProp,
         {"rho": 0.9, "momentum": 0.5, "centered": True}, ref.RMSPropRef,
         ("uncentered", "move_epsilon"), 0.01, 1e-3),
    Case("adam", co.Adam, {}, ref.AdamRef,
         ("epsilon_inside_sqrt", "no_bias_correction", "swap_epsilon_form", "float32_one_minus"),
         0.05, 0.02),
    Case("adam_epsilon_hat", co.Adam, {"epsilon_hat": True}, ref.AdamRef,
         ("swap_epsilon_form", "no_bias_correction"), 0.05, 0.02),
    Case("amsgrad", co.Adam, {"amsgrad": True}, ref.AdamRef, ("no_max",), 0.05, 0.02),
    Case("adamw", co.AdamW, {}, ref.AdamWRef, ("l2_instead", "swap_epsilon_form"), 0.05, 0.02),
    # A strong decay, for the reference; Rosenbrock's minimum (1, 1) then moves.
    Case("adamw_epsilon_hat", co.AdamW, {"epsilon_hat": True, "weight_decay": 0.1}, ref.AdamWRef,
         ("l2_instead",), 0.05, 0.02, problem_kwargs={"weight_decay": 0.004}),
    Case("nadam", co.Nadam, {}, ref.NadamRef, ("no_lookahead",), 0.05, 0.02),
    Case("nadam_keras", co.Nadam, {"momentum_decay": 1.0}, ref.NadamRef,
         ("no_lookahead",), 0.05, 0.02),
    Case("radam", co.RAdam, {}, ref.RAdamRef, ("threshold_5", "no_rectification"), 0.05, 5e-3,
         problem_kwargs={"beta_2": 0.99}),
    Case("adabelief", co.AdaBelief, {}, ref.AdaBeliefRef, ("no_inner_epsilon",), 0.05, 0.02),
    Case("lion", co.Lion, {}, ref.LionRef, ("update_momentum_first",), 0.02, 2e-3),
]

IDS = [case.id for case in CASES]


def cases_on_other_backends(kept, reason, backends=("jax", "torch")):
    """`CASES` as parameters: all of them on TensorFlow; on `backends` those whose
    id is in `kept`, the others skipped with `reason`."""
    return [
        pytest.param(case, id=case.id, marks=pytest.mark.skipif(
            BACKEND in backends and case.id not in kept, reason=f"on {BACKEND}: {reason}"
        ))
        for case in CASES
    ]


#: The first configuration of each optimizer class: on JAX and PyTorch the tests that
#: train a model with `fit` run these (every optimizer once), to keep `make test`'s
#: back-end runs short; the reference, hand-step and feature tests run every case there.
ONE_PER_OPTIMIZER = {next(c.id for c in CASES if c.cls is cls) for cls in {c.cls for c in CASES}}

FIT_CASES = cases_on_other_backends(
    ONE_PER_OPTIMIZER, "fit runs one configuration per optimizer here (CI time); "
    "the references and feature tests run this one"
)
