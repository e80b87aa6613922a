"""Each optimizer and schedule against optax, a second, independent implementation.

`numpy_reference.py` is written from our own docstrings; optax was written by
other people from the papers, so agreeing with it also checks the docstrings.
Both sides run in float64 (optax inside `jax.enable_x64(True)`, so JAX keeps its
float32 default elsewhere in the process) from zero weights on the same
precomputed gradients: 200 steps, three variables of different shapes, the
trajectories compared at every step. Every hyperparameter is a float32 number
(`f32`) given to both sides: our base class casts hyperparameters through
float32 (`custom_optimizers._base`), so the cast is then exact and `1 - beta` is
the same double on both sides, and the two differ only in the order of float64
operations. optax returns updates to *add*; `optax.apply_updates` adds them.

Mapping, ours -> optax (`m` optax's trace, `v` our velocity, `t` from 1):

    SGD(lr)                         sgd(lr)
    Momentum(lr, mu)                sgd(lr, momentum=mu): m = g + mu m, w -= lr m; v = -lr m
    Momentum(lr, mu, form="ewa")    sgd(lr (1 - mu), momentum=mu): v = (1 - mu) m
    Nesterov(lr, mu[, form])        the same with nesterov=True
    AdaGrad(lr, eps, h0, epsilon_inside_sqrt=True)
                                    adagrad(lr, initial_accumulator_value=h0, eps=eps)
                                    (optax's eps is inside the root: our default,
                                    eps outside, has no optax form)
    RMSProp(lr, rho, mu, eps, centered[, epsilon_inside_sqrt])
                                    rmsprop(lr, decay=rho, eps=eps, initial_scale=0,
                                    eps_in_sqrt=epsilon_inside_sqrt, centered=centered,
                                    momentum=mu if mu > 0 else None)
    Adam(lr, b1, b2, eps)           adam(lr, b1, b2, eps=eps, eps_root=0)
    Adam(amsgrad=True, beta_2=0)    amsgrad(lr, b1, b2=0, eps=eps)
    Adam(amsgrad=True, epsilon_hat=True)
                                    amsgrad(lr * sqrt(1 - b2^t), b1, b2, eps,
                                    bias_correction_nu=False)
    AdamW(lr, wd, ...)              adamw(lr, ..., weight_decay=wd): both w -= lr wd w
    Nadam(..., momentum_decay=1e4)  nadam(lr, b1, b2, eps=eps, eps_root=0)
    RAdam(..., sma_threshold=s)     radam(lr, b1, b2, eps=eps, threshold=s)
    AdaBelief(lr, b1, b2, eps)      adabelief(lr, b1, b2, eps=eps, eps_root=eps)
    Lion(lr, b1, b2, weight_decay=wd)
                                    lion(lr, b1, b2, weight_decay=wd)

Conventions that do not map (`UNMAPPED`, shown to differ): our AMSGrad keeps the
maximum of the raw `v` and bias-corrects it (Keras, PyTorch), optax the maximum
of the bias-corrected `v` (or, with `bias_correction_nu=False`, of the raw `v`,
uncorrected); they agree when `b2 = 0` (nothing to correct), and our
epsilon-hat form equals the uncorrected one with the learning rate scaled by
`sqrt(1 - b2^t)`. optax's `nadam` has no momentum schedule (`mu_t = b1`); our
Dozat schedule `mu_t = b1 (1 - 0.5 * 0.96^(t psi))` reaches `b1` exactly (in
float64) once `0.96^(t psi)` < 1e-16, so `momentum_decay=1e4` is optax's
rule from the first step. Adam's epsilon-hat form has no optax counterpart.

Schedules, ours -> optax (steps counted from 0 on both sides, `S` =
`steps_per_epoch`); InverseTimeDecay and InverseSqrtDecay have none:

    ExponentialDecay(lr0, k, S, staircase)    exponential_decay(lr0, S, k, staircase=...)
    StepDecay(lr0, f, N, S, staircase)        exponential_decay(lr0, N S, f, staircase=...)
    PiecewiseConstant(b, v, S)                piecewise_constant_schedule(v[0],
                                              {b[i] S: v[i+1] / v[i]})
    PiecewiseConstant(b, v, S, "after")       the same with b[i] S + 1 where b[i] S is an
                                              integer (Keras's rule: switch after it)
    WarmupCosineDecay(peak, D, W, lr0, alpha) warmup_cosine_decay_schedule(lr0, peak, W,
                                              W + D, end_value=alpha peak)
    WarmupCosineDecay(peak, D, alpha=a)       cosine_decay_schedule(peak, D, alpha=a)
"""

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest
import tensorflow as tf

import custom_optimizers as co

STEPS = 200
SHAPES = [(4,), (3, 2), (2, 2, 2)]

# The tolerance, relative per coordinate (see `mismatch`). Both sides compute the
# same float64 formulas in different orders: after 200 steps they are at most
# 2e-15 apart, relative (AdamW and AdaBelief; 1e-3 of this tolerance). A misplaced
# epsilon moves the small-gradient coordinates by percents: measured 5e11 to 2e14
# times this tolerance, and a 10% larger epsilon 5e8 times (adam), 2e6 times where
# Keras's accumulator start 0.1 hides it most (adagrad_keras); all in
# `test_comparison_catches_a_mutated_optax`.
RTOL = 1e-12


def f32(x):
    """`x` rounded to float32: our optimizers see this value exactly, optax too."""
    return float(np.float32(x))


LR = f32(1e-3)
B1, B2 = f32(0.9), f32(0.999)
EPS = f32(1e-8)
MU = f32(0.9)
WD = f32(0.1)


def gradients(steps=STEPS, seed=2024):
    """Gradients for each variable, shaped `(steps, *shape)`.

    Scales span 1e-6..1 across the coordinates, so `eps` (1e-8 to 1e-7) moves
    the smallest by percents; the mean is non-zero (moments build up); half the
    coordinates drop tenfold half-way (AMSGrad's maximum matters); and the first
    coordinate is exactly 0 for 3 steps (slots that are still 0).
    """
    rng = np.random.default_rng(seed)
    n = sum(int(np.prod(shape)) for shape in SHAPES)
    scale = rng.permutation(np.logspace(-6, 0, n))
    drop = np.where(np.arange(n) % 2 == 0, 1.0, 0.1)
    amplitude = np.where(np.arange(steps)[:, None] < steps // 2, 1.0, drop)
    flat = scale * amplitude * (0.5 + rng.standard_normal((steps, n)))
    flat[:3, 0] = 0.0
    splits = np.cumsum([int(np.prod(shape)) for shape in SHAPES])[:-1]
    return [
        part.reshape((steps,) + shape)
        for part, shape in zip(np.split(flat, splits, axis=1), SHAPES)
    ]


GRADS = gradients()


def ours_trajectory(optimizer, grads=GRADS):
    """Weights after every step, `(steps, n)`, with our optimizer on float64 variables."""
    variables = [keras.Variable(np.zeros(g.shape[1:]), dtype="float64") for g in grads]
    optimizer.build(variables)
    apply = tf.function(lambda gs: optimizer.apply(gs, variables))
    out = []
    for step in range(grads[0].shape[0]):
        apply([tf.constant(g[step]) for g in grads])
        out.append(np.concatenate([v.numpy().ravel() for v in variables]))
    return np.array(out)


def optax_trajectories(transformations, grads=GRADS):
    """The same for each optax transformation, in float64: all of them side by side
    in one `lax.scan` (one compilation, the slow part)."""
    with jax.enable_x64(True):
        params = [jnp.zeros(g.shape[1:], jnp.float64) for g in grads]

        def step(carry, g):
            new = []
            for transformation, (weights, state) in zip(transformations, carry):
                updates, state = transformation.update(g, state, weights)
                new.append((optax.apply_updates(weights, updates), state))
            return new, [weights for weights, _ in new]

        carry = [(params, transformation.init(params)) for transformation in transformations]
        _, runs = jax.lax.scan(step, carry, [jnp.asarray(g) for g in grads])
        runs = [[np.asarray(w, np.float64) for w in run] for run in runs]
    return [np.concatenate([w.reshape(w.shape[0], -1) for w in run], axis=1) for run in runs]


def mismatch(actual, expected, rtol=RTOL):
    """Largest error, in units of the tolerance; <= 1 means the trajectories match.

    The tolerance per coordinate is `rtol * |expected| + rtol * range`, where
    `range` is the coordinate's largest |value| over the trajectory, so a
    coordinate crossing zero is not judged on its relative error alone.
    """
    scale = rtol * (np.abs(expected) + np.abs(expected).max(axis=0))
    return float(np.max(np.abs(actual - expected) / scale))


def amsgrad_epsilon_hat_rate(count):
    """`lr * sqrt(1 - b2^t)`, `t = count + 1`: folds our epsilon-hat bias correction of
    `v_max` into optax's uncorrected AMSGrad (`bias_correction_nu=False`)."""
    return LR * jnp.sqrt(1.0 - B2 ** (count + 1.0))


@dataclasses.dataclass(frozen=True)
class Case:
    """`ours` and `optax` build the two sides of one convention; each of `mutations`
    builds an optax side that must NOT match ours (a misplaced epsilon, ...)."""

    id: str
    ours: Callable
    optax: Callable
    mutations: dict = dataclasses.field(default_factory=dict)


CASES = [
    Case("sgd", lambda: co.SGD(f32(0.01)), lambda: optax.sgd(f32(0.01))),
    # Velocity form: v = -lr m while the learning rate is constant.
    Case("momentum", lambda: co.Momentum(LR, momentum=MU),
         lambda: optax.sgd(LR, momentum=MU),
         {"nesterov": lambda: optax.sgd(LR, momentum=MU, nesterov=True)}),
    # EWA form: v = (1 - mu) m, so optax's learning rate is lr (1 - mu).
    Case("momentum_ewa", lambda: co.Momentum(LR, momentum=MU, form="ewa"),
         lambda: optax.sgd(LR * (1 - MU), momentum=MU),
         {"lr_not_scaled": lambda: optax.sgd(LR, momentum=MU)}),
    Case("nesterov", lambda: co.Nesterov(LR, momentum=MU),
         lambda: optax.sgd(LR, momentum=MU, nesterov=True),
         {"plain_momentum": lambda: optax.sgd(LR, momentum=MU)}),
    Case("nesterov_ewa", lambda: co.Nesterov(LR, momentum=MU, form="ewa"),
         lambda: optax.sgd(LR * (1 - MU), momentum=MU, nesterov=True)),
    # optax adds eps inside the root only; its accumulator starts at 0.1 by default.
    Case("adagrad", lambda: co.AdaGrad(f32(0.01), epsilon=f32(1e-7), epsilon_inside_sqrt=True),
         lambda: optax.adagrad(f32(0.01), initial_accumulator_value=0.0, eps=f32(1e-7)),
         {"eps_x10": lambda: optax.adagrad(f32(0.01), initial_accumulator_value=0.0, eps=f32(1e-6)),
          "accumulator_0.1": lambda: optax.adagrad(f32(0.01), eps=f32(1e-7))}),
    Case("adagrad_keras",
         lambda: co.AdaGrad(f32(0.01), epsilon=f32(1e-7), initial_accumulator_value=f32(0.1),
                            epsilon_inside_sqrt=True),
         lambda: optax.adagrad(f32(0.01), initial_accumulator_value=f32(0.1), eps=f32(1e-7)),
         {"eps_x10": lambda: optax.adagrad(f32(0.01), initial_accumulator_value=f32(0.1),
                                           eps=f32(1e-6))}),
    # The material's RMSProp: eps outside the root (optax's default is inside).
    Case("rmsprop", lambda: co.RMSProp(LR, rho=f32(0.99), epsilon=f32(1e-7)),
         lambda: optax.rmsprop(LR, decay=f32(0.99), eps=f32(1e-7), eps_in_sqrt=False),
         {"eps_in_sqrt": lambda: optax.rmsprop(LR, decay=f32(0.99), eps=f32(1e-7)),
          "eps_x10": lambda: optax.rmsprop(LR, decay=f32(0.99), eps=f32(1e-6),
                                           eps_in_sqrt=False)}),
    Case("rmsprop_eps_in_sqrt",
         lambda: co.RMSProp(LR, rho=f32(0.9), epsilon=f32(1e-7), epsilon_inside_sqrt=True),
         lambda: optax.rmsprop(LR, decay=f32(0.9), eps=f32(1e-7)),
         {"eps_outside": lambda: optax.rmsprop(LR, decay=f32(0.9), eps=f32(1e-7),
                                               eps_in_sqrt=False)}),
    # optax's momentum is a trace after the learning rate: b = mu b + lr g / d, ours.
    Case("rmsprop_centered_momentum",
         lambda: co.RMSProp(LR, rho=f32(0.9), momentum=f32(0.5), epsilon=f32(1e-7),
                            centered=True),
         lambda: optax.rmsprop(LR, decay=f32(0.9), eps=f32(1e-7), eps_in_sqrt=False,
                               centered=True, momentum=f32(0.5)),
         {"uncentered": lambda: optax.rmsprop(LR, decay=f32(0.9), eps=f32(1e-7),
                                              eps_in_sqrt=False, momentum=f32(0.5)),
          "eps_in_sqrt": lambda: optax.rmsprop(LR, decay=f32(0.9), eps=f32(1e-7),
                                               centered=True, momentum=f32(0.5))}),
    Case("adam", lambda: co.Adam(LR, beta_1=B1, beta_2=B2, epsilon=EPS),
         lambda: optax.adam(LR, b1=B1, b2=B2, eps=EPS),
         {"eps_in_root": lambda: optax.adam(LR, b1=B1, b2=B2, eps=0.0, eps_root=EPS),
          "eps_x10": lambda: optax.adam(LR, b1=B1, b2=B2, eps=10 * EPS),
          "eps_x1.1": lambda: optax.adam(LR, b1=B1, b2=B2, eps=1.1 * EPS)}),
    # With b2 = 0, v = g^2 and 1 - b2^t = 1: both keep the maximum of g^2.
    Case("amsgrad_b2_0", lambda: co.Adam(LR, beta_1=B1, beta_2=0.0, epsilon=EPS, amsgrad=True),
         lambda: optax.amsgrad(LR, b1=B1, b2=0.0, eps=EPS),
         {"no_max": lambda: optax.adam(LR, b1=B1, b2=0.0, eps=EPS),
          "eps_in_root": lambda: optax.amsgrad(LR, b1=B1, b2=0.0, eps=0.0, eps_root=EPS)}),
    Case("amsgrad_epsilon_hat",
         lambda: co.Adam(LR, beta_1=B1, beta_2=B2, epsilon=EPS, amsgrad=True, epsilon_hat=True),
         lambda: optax.amsgrad(amsgrad_epsilon_hat_rate, b1=B1, b2=B2, eps=EPS,
                               bias_correction_nu=False),
         {"max_of_corrected_v": lambda: optax.amsgrad(amsgrad_epsilon_hat_rate, b1=B1, b2=B2,
                                                      eps=EPS),
          "eps_x10": lambda: optax.amsgrad(amsgrad_epsilon_hat_rate, b1=B1, b2=B2, eps=10 * EPS,
                                           bias_correction_nu=False)}),
    # Both multiply the decay by the learning rate; the paper does not (the mutation).
    Case("adamw", lambda: co.AdamW(LR, weight_decay=WD, beta_1=B1, beta_2=B2, epsilon=EPS),
         lambda: optax.adamw(LR, b1=B1, b2=B2, eps=EPS, weight_decay=WD),
         {"decay_without_lr": lambda: optax.chain(
             optax.scale_by_adam(b1=B1, b2=B2, eps=EPS), optax.scale_by_learning_rate(LR),
             optax.add_decayed_weights(-WD)),
          "l2_instead": lambda: optax.chain(
             optax.add_decayed_weights(WD), optax.adam(LR, b1=B1, b2=B2, eps=EPS))}),
    # momentum_decay=1e4: mu_t = b1 (1 - 0.5 * 0.96^(1e4 t)) = b1 exactly, optax's rule.
    Case("nadam",
         lambda: co.Nadam(LR, beta_1=B1, beta_2=B2, epsilon=EPS, momentum_decay=1e4),
         lambda: optax.nadam(LR, b1=B1, b2=B2, eps=EPS),
         {"adam": lambda: optax.adam(LR, b1=B1, b2=B2, eps=EPS),
          "eps_in_root": lambda: optax.nadam(LR, b1=B1, b2=B2, eps=0.0, eps_root=EPS)}),
    # optax rectifies when rho_t >= threshold, ours when rho_t > threshold: rho_t is never
    # an integer here (rho_4 = 3.997, rho_5 = 4.996, rho_6 = 5.994 with b2 = 0.999).
    Case("radam", lambda: co.RAdam(LR, beta_1=B1, beta_2=B2, epsilon=EPS, sma_threshold=5.0),
         lambda: optax.radam(LR, b1=B1, b2=B2, eps=EPS, threshold=5.0),
         {"threshold_4": lambda: optax.radam(LR, b1=B1, b2=B2, eps=EPS, threshold=4.0),
          "eps_x10": lambda: optax.radam(LR, b1=B1, b2=B2, eps=10 * EPS, threshold=5.0)}),
    Case("radam_threshold_4",
         lambda: co.RAdam(LR, beta_1=B1, beta_2=B2, epsilon=EPS, sma_threshold=4.0),
         lambda: optax.radam(LR, b1=B1, b2=B2, eps=EPS, threshold=4.0),
         {"threshold_5": lambda: optax.radam(LR, b1=B1, b2=B2, eps=EPS, threshold=5.0)}),
    # Our one epsilon is optax's eps (outside the root) and eps_root (added to s).
    Case("adabelief", lambda: co.AdaBelief(LR, beta_1=B1, beta_2=B2, epsilon=f32(1e-16)),
         lambda: optax.adabelief(LR, b1=B1, b2=B2, eps=f32(1e-16), eps_root=f32(1e-16)),
         {"no_eps_root": lambda: optax.adabelief(LR, b1=B1, b2=B2, eps=f32(1e-16),
                                                 eps_root=0.0)}),
    # b1 interpolates for the sign, b2 is the momentum's decay, on both sides.
    Case("lion", lambda: co.Lion(LR, beta_1=B1, beta_2=f32(0.99), weight_decay=WD),
         lambda: optax.lion(LR, b1=B1, b2=f32(0.99), weight_decay=WD),
         {"betas_swapped": lambda: optax.lion(LR, b1=f32(0.99), b2=B1, weight_decay=WD),
          "no_weight_decay": lambda: optax.lion(LR, b1=B1, b2=f32(0.99), weight_decay=0.0)}),
]
BY_ID = {case.id: case for case in CASES}


@functools.cache
def ours(case_id):
    return ours_trajectory(BY_ID[case_id].ours())


@functools.cache
def optax_side(case_id):
    """name -> trajectory: the mapped optax side under `None`, then each mutation."""
    case = BY_ID[case_id]
    factories = {None: case.optax, **case.mutations}
    return dict(zip(factories, optax_trajectories([make() for make in factories.values()])))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_matches_optax_at_every_step(case):
    actual = ours(case.id)
    expected = optax_side(case.id)[None]
    assert actual.shape == expected.shape == (STEPS, sum(np.prod(s) for s in SHAPES))
    assert mismatch(actual, expected) <= 1.0
    # Every coordinate moved (nothing trivially zero on both sides).
    assert np.all(np.abs(expected[-1]) > 0)


MUTATIONS = [(case, name) for case in CASES for name in case.mutations]


@pytest.mark.parametrize("case,name", MUTATIONS, ids=[f"{c.id}-{n}" for c, n in MUTATIONS])
def test_comparison_catches_a_mutated_optax(case, name):
    """The tolerance is tight enough: an optax side with a misplaced (or 10%
    larger) epsilon, another accumulator start, threshold or convention fails."""
    assert mismatch(ours(case.id), optax_side(case.id)[name]) > 1.0


UNMAPPED = [
    # Our AMSGrad (explicit bias correction) corrects the maximum of the raw v;
    # optax's takes the maximum of the corrected v.
    ("amsgrad", lambda: co.Adam(LR, beta_1=B1, beta_2=B2, epsilon=EPS, amsgrad=True),
     lambda: optax.amsgrad(LR, b1=B1, b2=B2, eps=EPS)),
    # Our default Nadam follows Dozat's momentum schedule (psi = 0.004); optax's has none.
    ("nadam", lambda: co.Nadam(LR, beta_1=B1, beta_2=B2, epsilon=EPS),
     lambda: optax.nadam(LR, b1=B1, b2=B2, eps=EPS)),
]


@pytest.mark.parametrize("ours_factory,optax_factory", [u[1:] for u in UNMAPPED],
                         ids=[u[0] for u in UNMAPPED])
def test_unmapped_conventions_really_differ(ours_factory, optax_factory):
    """The module docstring's "do not map" is true (if one side changes its
    convention, this fails, and the mapping above should be revisited)."""
    [expected] = optax_trajectories([optax_factory()])
    assert mismatch(ours_trajectory(ours_factory()), expected) > 1.0


SCHEDULE_STEPS = np.arange(0, 400)  # S = 7: 57 epochs, past every boundary below

# (id, ours, optax, exact): `exact` where both compute the same float32 numbers
# (powers of 2 of one value); elsewhere they round differently (see the test).
SCHEDULES = [
    ("exponential", co.ExponentialDecay(0.2, decay_rate=0.95, steps_per_epoch=7),
     optax.exponential_decay(0.2, transition_steps=7, decay_rate=0.95), False),
    ("exponential_staircase",
     co.ExponentialDecay(0.2, decay_rate=0.95, steps_per_epoch=7, staircase=True),
     optax.exponential_decay(0.2, transition_steps=7, decay_rate=0.95, staircase=True), False),
    ("step", co.StepDecay(0.1, factor=0.5, epochs_per_drop=10, steps_per_epoch=7),
     optax.exponential_decay(0.1, transition_steps=70, decay_rate=0.5, staircase=True), True),
    ("step_smooth",
     co.StepDecay(0.1, factor=0.5, epochs_per_drop=10, steps_per_epoch=7, staircase=False),
     optax.exponential_decay(0.1, transition_steps=70, decay_rate=0.5), False),
    # Ratios that are powers of 2, so optax's products of scales are our values exactly.
    ("piecewise",
     co.PiecewiseConstant([5, 20, 30.5], [0.1, 0.05, 0.0125, 0.003125], steps_per_epoch=7),
     optax.piecewise_constant_schedule(0.1, {35: 0.5, 140: 0.25, 213.5: 0.25}), True),
    ("piecewise_after",
     co.PiecewiseConstant([5, 20, 30.5], [0.1, 0.05, 0.0125, 0.003125], steps_per_epoch=7,
                          boundary="after"),
     optax.piecewise_constant_schedule(0.1, {36: 0.5, 141: 0.25, 213.5: 0.25}), True),
    ("warmup_cosine",
     co.WarmupCosineDecay(0.1, decay_steps=250, warmup_steps=50, initial_learning_rate=0.01,
                          alpha=0.1),
     optax.warmup_cosine_decay_schedule(0.01, 0.1, warmup_steps=50, decay_steps=300,
                                        end_value=0.1 * 0.1), False),
    ("cosine", co.WarmupCosineDecay(0.1, decay_steps=300),
     optax.cosine_decay_schedule(0.1, decay_steps=300), False),
    ("cosine_alpha", co.WarmupCosineDecay(0.1, decay_steps=300, alpha=0.25),
     optax.cosine_decay_schedule(0.1, decay_steps=300, alpha=0.25), False),
]


@pytest.mark.parametrize("ours_schedule,optax_schedule,exact", [s[1:] for s in SCHEDULES],
                         ids=[s[0] for s in SCHEDULES])
def test_schedule_matches_optax_at_every_step(ours_schedule, optax_schedule, exact):
    got = np.asarray(ours_schedule(SCHEDULE_STEPS))
    expected = np.asarray(optax_schedule(jnp.asarray(SCHEDULE_STEPS)))
    assert got.dtype == expected.dtype == np.float32
    if exact:
        np.testing.assert_array_equal(got, expected)
        return
    # Both compute in float32, the same formulas in different orders (and TF's vs
    # XLA's pow and cos): measured at most 3.3 float32 ulps apart, relative, in the
    # exponentials, and 1.25 ulps of the peak rate in the cosines, whose 1 + cos(pi p)
    # cancels near the end. Allowed: 4 ulps relative plus 2 ulps of the peak (the
    # measured differences use at most 0.4 of it).
    ulp = np.finfo(np.float32).eps
    np.testing.assert_allclose(got, expected, rtol=4 * ulp, atol=2 * ulp * expected.max())
