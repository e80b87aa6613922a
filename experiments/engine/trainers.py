"""The kinds of run that need no dataset and take about a second: a 2-D
objective minimised from its start point, and a series averaged with
`Momentum(form="ewa")`. Neither checkpoints: stopped, it starts again. Each writes its scalars at
its run's root, with the root's one writer (`callbacks._writers.borrow`).
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from callbacks import _writers as cb_writers
from callbacks import divergence_reason
from custom_optimizers._base import bias_correction
from experiments.plan.optimizers import averager, make_optimizer
from experiments.store.results import Outcome, write_final
from experiments.workloads.objectives2d import minimise


def path_run(run, directory, objective, progress=None, keras_verbose=False, **_):
    """Minimise a 2-D objective from its start point for `run.steps` steps.

    The path takes milliseconds, so it is computed whole and then cut at
    its first diverged point (`divergence_reason` over f along the path):
    nothing after that point is logged, as if the run had stopped there.
    """
    optimizer = make_optimizer(run)
    rates = []
    start = time.perf_counter()
    path = minimise(optimizer, objective.f, objective.start, run.steps, rates=rates)
    seconds = time.perf_counter() - start
    points = tf.constant(path.T)
    with tf.GradientTape() as tape:
        tape.watch(points)
        losses = objective.f(points)
    gradient_norms = tf.norm(tape.gradient(losses, points), axis=0).numpy()
    losses = losses.numpy()
    divergence, lowest = None, None
    for t, loss in enumerate(losses):
        reason = divergence_reason(float(loss), float(losses[0]), lowest, run.divergence_factor)
        if reason is not None:
            divergence = {"step": t, "loss": float(loss), "reason": reason}
            path, losses, gradient_norms = path[:t + 1], losses[:t + 1], gradient_norms[:t + 1]
            break
        lowest = float(loss) if lowest is None else min(lowest, float(loss))
    with cb_writers.borrow(directory).as_default():
        for t in range(len(path)):
            tf.summary.scalar("batch_loss", losses[t], step=t)
            tf.summary.scalar("x", path[t, 0], step=t)
            tf.summary.scalar("y", path[t, 1], step=t)
            tf.summary.scalar("batch_gradient_norm", gradient_norms[t], step=t)
            if t < len(path) - 1:  # the rate of the step from point t
                tf.summary.scalar("batch_learning_rate", rates[t], step=t)
    cb_writers.give_back(directory)
    metrics = {"loss": float(losses[-1]), "x": float(path[-1, 0]), "y": float(path[-1, 1])}
    if objective.minimum is not None:
        metrics["distance"] = float(np.linalg.norm(path[-1] - np.array(objective.minimum)))
    metrics["steps"] = len(path) - 1
    finite = losses[np.isfinite(losses)]
    best = {"loss": float(np.min(finite))} if len(finite) else {}
    write_final(directory, "objective", metrics, seconds, best, diverged=divergence is not None)
    return Outcome(metrics, seconds, {"path": path}, best, "diverged" if divergence else "ok", divergence)


def average_run(run, directory, series, progress=None, keras_verbose=False, **_):
    """Exponentially weighted average of a series, via `Momentum(form="ewa")`.

    With learning rate 1 and the series fed as the gradient, the optimizer's
    velocity is `v_t = beta v_{t-1} + (1 - beta) theta_t`, the material's
    average; `bias_correction = true` divides it by `1 - beta^t`.
    """
    beta, corrected, optimizer = averager(run)
    w = keras.Variable(0.0, dtype="float64")
    optimizer.build([w])
    velocity, = [v for v in optimizer.variables if v.name.endswith("velocity")]
    step = tf.function(lambda g: optimizer.apply([g], [w]))
    start = time.perf_counter()
    averages = []
    for t, value in enumerate(series.values, start=1):
        step(tf.constant(value, tf.float64))
        v = float(velocity.numpy())
        averages.append(v / float(bias_correction(beta, t)) if corrected else v)
    seconds = time.perf_counter() - start
    averages = np.array(averages)
    with cb_writers.borrow(directory).as_default():
        for t, (value, average) in enumerate(zip(series.values, averages), start=1):
            tf.summary.scalar("series", value, step=t)
            tf.summary.scalar("average", average, step=t)
    cb_writers.give_back(directory)
    error = averages - series.trend
    metrics = {"rms_error": float(np.sqrt(np.mean(error**2))),
               "first_10_mean_error": float(np.mean(error[:10]))}
    write_final(directory, "series", metrics, seconds)
    return Outcome(metrics, seconds, {"average": averages, "series": series}, {})
