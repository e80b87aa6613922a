"""Dataset runs: a Keras model trained with `model.fit` and the suite's callbacks.

The data order is a function of the seed and the epoch only
(`training_dataset`), so a run resumed from a checkpoint at an epoch end
sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import tensorflow as tf

import callbacks as cb
from callbacks import _writers as cb_writers
from callbacks._steps import logged_epoch
from experiments import checkpoint, models, signals
from experiments.config import steps_per_epoch
from experiments.plan import make_optimizer
from experiments.results import Outcome, write_final


def training_dataset(run, data, first_epoch=0):
    """Reshuffled every pass; one pass is one epoch (fit with `steps_per_epoch`).

    Epoch e's order is a stateless shuffle seeded by `(run.seed, e)`, so it
    depends on nothing but the seed and the epoch: a run resumed at epoch
    `first_epoch` sees exactly the batches an uninterrupted one would.
    One endless dataset lets Keras keep one iterator for the whole fit
    instead of building one per epoch, which costs more than the training
    itself on small problems.
    """
    n = len(data.x_train)
    size = n if run.batch_size == "full" else run.batch_size
    x, y = tf.constant(data.x_train), tf.constant(data.y_train)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(run.seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order).batch(size)

    return (tf.data.Dataset.range(first_epoch, 2**62).flat_map(epoch)
            .map(lambda i: (tf.gather(x, i), tf.gather(y, i)), num_parallel_calls=tf.data.AUTOTUNE,
                 deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def epoch_cadence(run, epochs):
    """Log (and validate) every N epochs: `log.every_epochs`, else ~100 times a run."""
    return run.log["every_epochs"] or max(1, epochs // 100)


def logging_callbacks(run, directory, data, epochs):
    """The callbacks that log a `dataset` run as `run.log` asks (`execute`
    writes its HParams session); also the StepHistory (or None) that keeps
    every step's loss for the batch figure."""
    log = run.log
    every = epoch_cadence(run, epochs)
    callbacks = [cb.ScalarLogger(directory, every_epochs=every, every_steps=log["every_steps"])]
    if log["update_ratio"]:
        callbacks.append(cb.UpdateRatioLogger(directory, every_epochs=every))  # copies every weight
    if log["histograms"]:
        callbacks.append(cb.HistogramLogger(directory, every_epochs=max(1, epochs // 20)))
    if log["decision_boundary"] and data.input_shape == (2,):
        callbacks.append(cb.DecisionBoundaryLogger(directory, data.x_train, data.y_train,
                                                   every_epochs=max(1, epochs // 10)))
    history = cb.StepHistory() if log["step_losses"] else None
    return callbacks + ([history] if history else []), history


def fit_run(run, directory, data, progress=None, keras_verbose=False, resume=False, fingerprint=None,
            checkpoint_seconds=0.0):
    """Train `run.model` on `data` with `model.fit`; TensorBoard logs in `directory`.

    Checkpoints at the epochs it logs (`epoch_cadence`), at most once per
    `checkpoint_seconds`, and the last; with
    `resume`, goes on from `<directory>/checkpoint.npz` (whose events
    `job_for` has already cut back). Stops at once when the loss diverges
    (`DivergenceStop`), or at the next epoch end when `STOP` is set.
    """
    keras.utils.set_random_seed(run.seed)
    model = models.build(run.model, data)
    per_epoch = steps_per_epoch(run, len(data.x_train))
    epochs = run.epochs or math.ceil(run.steps / per_epoch)
    model.compile(optimizer=make_optimizer(run, per_epoch), loss=models.loss_for(model),
                  metrics=["accuracy"])
    stored = checkpoint.load(directory) if resume else None
    if stored is not None and stored[1].get("fingerprint") != fingerprint:
        stored = None
    arrays, meta = stored or ({}, {"epoch": 0, "best": {}, "seconds": 0.0})
    if stored is not None:
        model.optimizer.build(model.trainable_variables)
        _restore(model.variables, arrays, "model")
        _restore(model.optimizer.variables, arrays, "optimizer")
    first_epoch = meta["epoch"]

    callbacks, history = logging_callbacks(run, directory, data, epochs)
    if history is not None and stored is not None:
        history.carry_on(arrays["step_loss"].tolist(), arrays["step_seconds"].tolist())
    diverging = cb.DivergenceStop(run.divergence_factor, meta.get("first_loss"), meta.get("lowest_loss"))
    best = cb.BestSoFar(meta["best"], diverging)
    callbacks += [diverging, best]
    if run.steps is not None:
        callbacks.append(cb.StopAtStep(run.steps))
    if progress:
        callbacks.append(cb.EpochProgress(run.name, initial=first_epoch))
    start = time.perf_counter()

    def save(done):
        """The checkpoint, after flushing every writer under the run: it records their file sizes."""
        steps = history.losses if history is not None else []
        seconds = history.seconds if history is not None else []
        cb_writers.flush_under(directory)
        checkpoint.save(directory, {
            **_named(model.variables, "model"), **_named(model.optimizer.variables, "optimizer"),
            "step_loss": np.array(steps, np.float64), "step_seconds": np.array(seconds, np.float64)},
            {"fingerprint": fingerprint, "epoch": done, "best": best.best,
             "first_loss": diverging.first, "lowest_loss": diverging.lowest,
             "seconds": meta["seconds"] + time.perf_counter() - start,
             "events": checkpoint.event_files(directory)})

    every = epoch_cadence(run, epochs)
    saver = cb.EpochCheckpoint(save, every, epochs, checkpoint_seconds, signals.STOP)
    callbacks.append(saver)  # last: after the loggers have written the epoch
    # validated at the epochs the loggers record (Keras counts them from 1): each has its values
    validated = [epoch + 1 for epoch in range(epochs) if logged_epoch(epoch, every, epochs)]
    validation = None
    if len(data.x_val):  # a dataset, not arrays: Keras rebuilds its adapter for arrays every time
        validation = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(1024).cache()

    if first_epoch < epochs:
        model.fit(training_dataset(run, data, first_epoch), epochs=epochs, initial_epoch=first_epoch,
                  steps_per_epoch=per_epoch, shuffle=False, validation_data=validation,
                  validation_freq=validated, callbacks=callbacks,
                  verbose=2 if keras_verbose else 0)
    seconds = meta["seconds"] + time.perf_counter() - start
    curves = {"step_loss": history.losses if history else [],
              "step_seconds": history.seconds if history else [], "steps_per_epoch": per_epoch}
    if saver.interrupted:
        return Outcome({"epochs": saver.saved_epoch}, seconds, curves, best.best, status="interrupted")

    metrics = {"epochs": epochs, "steps": int(model.optimizer.iterations.numpy())}
    if diverging.divergence is not None:
        metrics["epochs"] = math.ceil(metrics["steps"] / per_epoch)
    for split, x, y in (("train", data.x_train, data.y_train), ("validation", data.x_val, data.y_val),
                        ("test", data.x_test, data.y_test)):
        if len(x):
            scores = model.evaluate(x, y, batch_size=1024, verbose=0, return_dict=True)
            metrics[f"{split}_loss"] = float(scores["loss"])
            metrics[f"{split}_accuracy"] = float(scores["accuracy"])
    write_final(directory, metrics, seconds, best.best, diverged=diverging.divergence is not None)
    if data.input_shape == (2,):
        from callbacks.decision_boundary import probability_grid

        curves["grid"] = probability_grid(model, data.x_train)
        curves["points"] = (data.x_train, data.y_train)
    if diverging.divergence is not None:
        return Outcome(metrics, seconds, curves, best.best, "diverged", diverging.divergence)
    return Outcome(metrics, seconds, curves, best.best)


def _named(variables, prefix):
    return {f"{prefix}/{i}": np.asarray(v.numpy()) for i, v in enumerate(variables)}


def _restore(variables, arrays, prefix):
    """Assign `arrays[prefix/i]` to the i-th variable; refuse a checkpoint of another shape."""
    stored = sorted((k for k in arrays if k.startswith(prefix + "/")), key=lambda k: int(k.split("/")[1]))
    if len(stored) != len(variables):
        raise ValueError(f"the checkpoint holds {len(stored)} {prefix} variables, the run has {len(variables)}")
    for variable, key in zip(variables, stored):
        if tuple(variable.shape) != arrays[key].shape:
            raise ValueError(f"checkpoint {key} has shape {arrays[key].shape}, the run's {tuple(variable.shape)}")
        variable.assign(arrays[key])
