"""Run one run, or a batch of them, into TensorBoard log directories.

    from experiments import config, runner
    batch = config.load_batch("moons", overrides=["epochs=100"])
    result = runner.run_batch(batch, logdir="logs")

Each problem kind has its own run function (`RUNNERS`): `dataset` problems
are trained with `model.fit` and the suite's callbacks, `objective` problems
are minimised from their start point, `series` problems are averaged with
`Momentum(form="ewa")` (whose velocity *is* the material's exponentially
weighted average). Everything a batch needs is checked and loaded by
`prepare` before the first run starts, so a typo fails in a second, not
after an hour of training.

Layout of `<logdir>/<batch>/` (the same batch run again goes on in it; another
batch of the same name, or `fresh`, gets a `_2`, `_3`, ... suffix):

    batch.json               the batch as resolved: header, every run, its fingerprint
    summary.json             final metrics and wall time of every run
    .lock                    held (flock) while a process runs the batch
    <run-name>/config.json   the run's resolved config (defaults filled in) and fingerprint
    <run-name>/result.json   status (ok, diverged, failed), metrics, best values
    <run-name>/checkpoint.npz  the state at the last saved epoch end (dataset runs)
    <run-name>/curves.npz    the figures' data of a finished run
    <run-name>/              HParams session, final/* scalars, wall_seconds
    <run-name>/train/        epoch_* (and batch_*) scalars, update_ratio/*, histograms, images
    <run-name>/validation/   epoch_* scalars
    figures/                 the batch's figures as TensorBoard images
    *.png                    the same figures as files
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import math
import pathlib
import platform
import time
import traceback

import keras
import numpy as np
import tensorflow as tf

import callbacks as cb
from callbacks import _writers as cb_writers
import custom_optimizers as co
from custom_optimizers._base import bias_correction
from experiments import checkpoint, figures, models, problems, ranking, signals
from experiments.config import MAX_STEPS, Batch, Run, steps_per_epoch
from experiments.objectives2d import minimise
from experiments.validation import ConfigError, check_path_name, lookup


@dataclasses.dataclass
class Result:
    run: Run
    kind: str
    directory: pathlib.Path
    metrics: dict  # final numbers, e.g. train_loss, train_accuracy, validation_accuracy
    seconds: float
    curves: dict = dataclasses.field(default_factory=dict)  # for the batch's figures
    error: str | None = None
    best: dict = dataclasses.field(default_factory=dict)  # best value over the run of each metric
    status: str = "ok"  # "ok", "diverged", "failed" or "interrupted" (stopped to resume later)
    divergence: dict | None = None  # a diverged run's {step, loss, reason}
    fingerprint: str | None = None  # `checkpoint.fingerprint` of its resolved config
    resumed: bool = False  # went on from a checkpoint
    skipped: bool = False  # finished by an earlier invocation of the same batch

    def record(self):
        """What `result.json` and `summary.json` keep of the run."""
        run = self.run
        return {"run": run.name, "group": run.group, "index": run.index, "seed": run.seed,
                "trial": run.trial, "trial_id": run.trial_id, "round": run.round, "kind": self.kind,
                "status": self.status, "metrics": self.metrics, "best": self.best,
                "seconds": self.seconds, "error": self.error, "divergence": self.divergence,
                "fingerprint": self.fingerprint}


#: Statuses of a run that is over: re-running its batch skips it. A failed run is tried again.
FINISHED = ("ok", "diverged")


@dataclasses.dataclass
class Outcome:
    """What a kind's run function returns."""

    metrics: dict
    seconds: float
    curves: dict
    best: dict
    status: str = "ok"  # "ok", "diverged" or "interrupted"
    divergence: dict | None = None


@dataclasses.dataclass
class Job:
    """One run to execute, in this process or on a Ray worker (`experiments.parallel`)."""

    run: Run
    kind: str
    thing: object  # the loaded problem: Data, Objective or Series
    directory: pathlib.Path
    progress: bool = False
    keras_verbose: bool = False
    fingerprint: str | None = None  # of the resolved config: what result.json and checkpoints carry
    resume: bool = False  # go on from `<directory>/checkpoint.npz`
    checkpoint_seconds: float = 5.0  # at most one checkpoint per this many seconds (and the last)


@dataclasses.dataclass
class BatchResult:
    batch: Batch
    directory: pathlib.Path
    results: list[Result]
    figures: list[pathlib.Path]

    aggregates: list[pathlib.Path] = dataclasses.field(default_factory=list)
    metric: str | None = None  # what ranks the trials
    mode: str | None = None

    @property
    def failed(self):
        return [r for r in self.results if r.status == "failed"]

    @property
    def diverged(self):
        return [r for r in self.results if r.status == "diverged"]

    def ranking(self):
        return ranking.rank_groups([r.record() for r in self.results], self.metric, self.mode)


# --- building the pieces of a run -------------------------------------------


def make_optimizer(run, steps_per_epoch=1):
    """The run's optimizer, with its schedule as the learning rate.

    A schedule's `initial_learning_rate` defaults to the optimizer's learning
    rate, and an epoch-based schedule's `steps_per_epoch` to the run's.
    """
    arguments = dict(run.optimizer)
    name = arguments.pop("name")
    cls = co.OPTIMIZERS.get(name.lower())
    if cls is not None:  # Keras would say only "Argument(s) not recognized"
        accepted = {k: 0 for base in cls.__mro__ if "__init__" in vars(base)
                    for k, p in inspect.signature(vars(base)["__init__"]).parameters.items()
                    if k not in ("self", "name") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        for key in arguments:
            lookup(f"argument of optimizer {name!r}", accepted, key)
    try:
        if run.schedule is not None:
            schedule = dict(run.schedule)
            schedule_name = schedule.pop("name")
            schedule_cls = co.SCHEDULES.get(schedule_name.lower())
            if schedule_cls is not None and cls is not None:
                accepted = inspect.signature(schedule_cls.__init__).parameters
                default_rate = inspect.signature(cls.__init__).parameters["learning_rate"].default
                if "initial_learning_rate" in accepted:
                    schedule.setdefault("initial_learning_rate",
                                        arguments.get("learning_rate", default_rate))
                if "steps_per_epoch" in accepted:
                    schedule.setdefault("steps_per_epoch", steps_per_epoch)
            arguments["learning_rate"] = co.get_schedule(schedule_name, **schedule)
        return co.get(name, **arguments)
    except (TypeError, ValueError) as error:  # Keras says "Argument(s) not recognized: ..."
        raise ConfigError(f"optimizer {name!r}: {error}") from None


def hparams_of(run, data=None):
    """The run flattened to `name -> bool | int | float | str` for the HParams dashboard."""
    flat = {"seed": run.seed}
    for key in ("problem", "model", "optimizer", "schedule", "average"):
        table = getattr(run, key)
        if table is None:
            continue
        flat[key] = table["name"]
        for arg, value in table.items():
            if arg != "name":
                flat[f"{key}.{arg}"] = value if isinstance(value, (bool, int, float, str)) else str(value)
    if run.optimizer is not None and run.schedule is None:
        flat["schedule"] = "constant"
    if data is not None:
        flat["batch_size"] = len(data.x_train) if run.batch_size == "full" else run.batch_size
    for key in ("epochs", "steps"):
        if getattr(run, key) is not None:
            flat[key] = getattr(run, key)
    return flat


#: The HParams dashboard's metric columns, by problem kind: (tag, group, display name).
HPARAM_METRICS = {
    "dataset": [("final/train_loss", None, "train loss"),
                ("final/train_accuracy", None, "train accuracy"),
                ("final/validation_loss", None, "validation loss"),
                ("final/validation_accuracy", None, "validation accuracy"),
                ("final/test_accuracy", None, "test accuracy"),
                ("best/train_loss", None, "best train loss"),
                ("best/validation_loss", None, "best validation loss"),
                ("best/validation_accuracy", None, "best validation accuracy")],
    "objective": [("final/loss", None, "final f"), ("final/distance", None, "distance to the minimum"),
                  ("best/loss", None, "best f")],
    "series": [("final/rms_error", None, "RMS error to the trend"),
               ("final/first_10_mean_error", None, "mean error, t <= 10")],
}


#: The metrics a search can rank by, by problem kind: final values and `best/...`.
METRICS = {kind: [tag.removeprefix("final/") for tag, _, _ in tags] for kind, tags in HPARAM_METRICS.items()}
METRICS["dataset"] += ["test_loss", "best/train_accuracy"]
METRICS["objective"] += ["x", "y"]


def _write_final(directory, metrics, seconds, best=None, diverged=None):
    """`final/<metric>`, `best/<metric>`, `wall_seconds` and (for runs that
    can diverge) `diverged` (1 or 0) at the run's root (step 0): the HParams
    dashboard's metrics."""
    writer = cb_writers.borrow(directory)
    with writer.as_default(step=0):
        for name, value in metrics.items():
            tf.summary.scalar(f"final/{name}", value)
        for name, value in (best or {}).items():
            tf.summary.scalar(f"best/{name}", value)
        tf.summary.scalar("wall_seconds", seconds)
        if diverged is not None:
            tf.summary.scalar("diverged", float(diverged))
    cb_writers.give_back(directory)


def divergence_reason(loss, first, lowest, factor):
    """Why a run whose loss is now `loss` has diverged, or None.

    Diverged: the loss is NaN or infinite, or it exceeds both `factor` times
    its lowest value so far and its first value. (The second condition keeps
    a run that wobbles near a minimum of almost 0 from counting: only a loss
    that climbs back above where it started is a divergence.)
    """
    if not math.isfinite(loss):
        return f"the loss is {loss}"
    if lowest is not None and lowest > 0 and loss > factor * lowest and loss > first:
        return (f"the loss {loss:.4g} exceeds {factor:g} x its lowest value {lowest:.4g} "
                f"and its first value {first:.4g}")
    return None


class DivergenceStop(keras.callbacks.Callback):
    """Stop `fit` right after a step whose loss (Keras's running mean over the
    epoch so far) makes `divergence_reason` say so; `self.divergence` then holds
    {step, loss, reason}. `first`/`lowest` carry on from a checkpoint."""

    def __init__(self, factor, first=None, lowest=None):
        super().__init__()
        self.factor, self.first, self.lowest = factor, first, lowest
        self.divergence = None

    def on_train_begin(self, logs=None):
        self._step = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        loss = float((logs or {}).get("loss", math.nan))
        reason = divergence_reason(loss, self.first, self.lowest, self.factor)
        if reason is not None:
            self.divergence = {"step": self._step, "loss": loss, "reason": reason}
            self.model.stop_training = True
            return
        self.first = loss if self.first is None else self.first
        self.lowest = loss if self.lowest is None else min(self.lowest, loss)


class BestSoFar(keras.callbacks.Callback):
    """The best epoch value of the training and validation loss and accuracy
    (Keras's running means for training, every validation), NaN ignored, and
    not counting the epoch in which the run diverged (`diverging`)."""

    PICKS = (("loss", "train_loss", min), ("accuracy", "train_accuracy", max),
             ("val_loss", "validation_loss", min), ("val_accuracy", "validation_accuracy", max))

    def __init__(self, best=None, diverging=None):
        super().__init__()
        self.best = dict(best or {})
        self.diverging = diverging

    def on_epoch_end(self, epoch, logs=None):
        if self.diverging is not None and self.diverging.divergence is not None:
            return
        for key, name, pick in self.PICKS:
            value = (logs or {}).get(key)
            if value is not None and math.isfinite(float(value)):
                value = float(value)
                self.best[name] = pick(self.best[name], value) if name in self.best else value


class StopAtStep(keras.callbacks.Callback):
    """Stop `fit` once the optimizer has taken `steps` steps in all (Keras checks between steps)."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_begin(self, logs=None):
        self._taken = int(self.model.optimizer.iterations.numpy())  # a resumed run's earlier steps

    def on_train_batch_end(self, batch, logs=None):
        self._taken += 1
        if self._taken >= self.steps:
            self.model.stop_training = True


class EpochCheckpoint(keras.callbacks.Callback):
    """Save the run's state (`experiments.checkpoint`) at every `every`-th
    epoch end once `seconds` have passed since the last save (a checkpoint
    costs a few milliseconds: tiny epochs would pay more for it than for
    training), and at the last epoch end; on `STOP`, save at this epoch end
    and stop.

    Goes last in the callback list: the loggers have written the epoch's
    events by then, and the checkpoint records their file sizes after
    flushing every writer under the run. Saves nothing once the run has
    stopped for another reason (diverged, or `steps` reached mid-epoch).
    """

    def __init__(self, directory, every, epochs, state, seconds=0.0):
        super().__init__()
        self.directory, self.every, self.epochs, self.state = directory, every, epochs, state
        self.seconds = seconds
        self.interrupted = False
        self.saved_epoch = None
        self._saved_at = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        done = epoch + 1
        due = done % self.every == 0 and time.monotonic() - self._saved_at >= self.seconds
        if signals.STOP.is_set() or due or done == self.epochs:
            cb_writers.flush_under(self.directory)
            arrays, meta = self.state(done)
            meta["events"] = checkpoint.event_files(self.directory)
            checkpoint.save(self.directory, arrays, meta)
            self.saved_epoch, self._saved_at = done, time.monotonic()
        if signals.STOP.is_set() and done < self.epochs:
            self.interrupted = True
            self.model.stop_training = True


# --- one function per problem kind ----------------------------------------


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
    `_job` has already cut back). Stops at once when the loss diverges
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
    diverging = DivergenceStop(run.divergence_factor, meta.get("first_loss"), meta.get("lowest_loss"))
    best = BestSoFar(meta["best"], diverging)
    callbacks += [diverging, best]
    if run.steps is not None:
        callbacks.append(StopAtStep(run.steps))
    if progress:
        callbacks.append(cb.EpochProgress(run.name, initial=first_epoch))
    start = time.perf_counter()

    def state(done):
        steps = history.losses if history is not None else []
        seconds = history.seconds if history is not None else []
        return ({**_named(model.variables, "model"), **_named(model.optimizer.variables, "optimizer"),
                 "step_loss": np.array(steps, np.float64), "step_seconds": np.array(seconds, np.float64)},
                {"fingerprint": fingerprint, "epoch": done, "best": best.best,
                 "first_loss": diverging.first, "lowest_loss": diverging.lowest,
                 "seconds": meta["seconds"] + time.perf_counter() - start})

    saver = EpochCheckpoint(directory, epoch_cadence(run, epochs), epochs, state, checkpoint_seconds)
    callbacks.append(saver)  # last: after the loggers have written the epoch
    validation = None
    if len(data.x_val):  # a dataset, not arrays: Keras rebuilds its adapter for arrays every time
        validation = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(1024).cache()

    if first_epoch < epochs:
        model.fit(training_dataset(run, data, first_epoch), epochs=epochs, initial_epoch=first_epoch,
                  steps_per_epoch=per_epoch, shuffle=False, validation_data=validation,
                  validation_freq=epoch_cadence(run, epochs), callbacks=callbacks,
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
    _write_final(directory, metrics, seconds, best.best, diverged=diverging.divergence is not None)
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
    with tf.summary.create_file_writer(str(directory / "train")).as_default():
        for t in range(len(path)):
            tf.summary.scalar("loss", losses[t], step=t)
            tf.summary.scalar("x", path[t, 0], step=t)
            tf.summary.scalar("y", path[t, 1], step=t)
            tf.summary.scalar("gradient_norm", gradient_norms[t], step=t)
            if t < len(path) - 1:  # the rate of the step from point t
                tf.summary.scalar("learning_rate", rates[t], step=t)
    metrics = {"loss": float(losses[-1]), "x": float(path[-1, 0]), "y": float(path[-1, 1])}
    if objective.minimum is not None:
        metrics["distance"] = float(np.linalg.norm(path[-1] - np.array(objective.minimum)))
    metrics["steps"] = len(path) - 1
    finite = losses[np.isfinite(losses)]
    best = {"loss": float(np.min(finite))} if len(finite) else {}
    _write_final(directory, metrics, seconds, best, diverged=divergence is not None)
    return Outcome(metrics, seconds, {"path": path}, best, "diverged" if divergence else "ok", divergence)


def _averager(run):
    """(beta, bias_correction, Momentum(form="ewa")) from `run.average`, checked."""
    arguments = dict(run.average)
    arguments.pop("name")
    beta = arguments.pop("beta", 0.9)
    corrected = arguments.pop("bias_correction", False)
    if arguments:
        raise ConfigError(f"average: unknown argument(s) {sorted(arguments)}; known: beta, bias_correction")
    if not isinstance(corrected, bool):
        raise ConfigError(f"`average.bias_correction` must be true or false. Received: {corrected!r}")
    try:
        optimizer = co.Momentum(learning_rate=1.0, momentum=beta, form="ewa")
    except ValueError as error:
        raise ConfigError(f"average: {str(error).replace('momentum', 'beta')}") from None
    return beta, corrected, optimizer


def average_run(run, directory, series, progress=None, keras_verbose=False, **_):
    """Exponentially weighted average of a series, via `Momentum(form="ewa")`.

    With learning rate 1 and the series fed as the gradient, the optimizer's
    velocity is `v_t = beta v_{t-1} + (1 - beta) theta_t`, the material's
    average; `bias_correction = true` divides it by `1 - beta^t`.
    """
    beta, corrected, optimizer = _averager(run)
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
    with tf.summary.create_file_writer(str(directory / "train")).as_default():
        for t, (value, average) in enumerate(zip(series.values, averages), start=1):
            tf.summary.scalar("series", value, step=t)
            tf.summary.scalar("average", average, step=t)
    error = averages - series.trend
    metrics = {"rms_error": float(np.sqrt(np.mean(error**2))),
               "first_10_mean_error": float(np.mean(error[:10]))}
    _write_final(directory, metrics, seconds)
    return Outcome(metrics, seconds, {"average": averages, "series": series}, {})


#: kind -> function(run, directory, problem, progress=, keras_verbose=, resume=, fingerprint=,
#: checkpoint_seconds=)
#: -> Outcome; each writes the run's events. Only `dataset` runs checkpoint (and resume):
#: the others take seconds and start again.
RUNNERS = {"dataset": fit_run, "objective": path_run, "series": average_run}


def execute(job):
    """Run one job into `job.directory`; never raises for the run's own errors.

    Writes the run's HParams session (grouped with its other seeds; a
    resumed run's is already there), lets the kind's runner train and log,
    and ends the session with its status, unless the run was interrupted
    to go on later. A run that raises gets `error.txt` (the traceback) and
    status "failed"; one that diverged, status "diverged".
    """
    run, directory = job.run, job.directory
    keras.backend.clear_session()
    root = cb_writers.borrow(directory)  # one writer for the run's root, held to the end
    result = None
    try:
        if not job.resume:
            _start_session(root, job)
        outcome = RUNNERS[job.kind](run, directory, job.thing, progress=job.progress,
                                    keras_verbose=job.keras_verbose, resume=job.resume,
                                    fingerprint=job.fingerprint,
                                    checkpoint_seconds=job.checkpoint_seconds)
        result = Result(run, job.kind, directory, outcome.metrics, outcome.seconds, outcome.curves,
                        best=outcome.best, status=outcome.status, divergence=outcome.divergence,
                        fingerprint=job.fingerprint, resumed=job.resume)
    except Exception as error:  # one broken run must not lose the others
        fault = checkpoint.disk_fault(error, directory)
        if fault is not None:  # not the run's fault: stop the batch, keep what finished
            raise fault from None
        checkpoint.write(directory / "error.txt", traceback.format_exc())
        result = failed(job, f"{type(error).__name__}: {error}")
    finally:  # no result: a second Ctrl-C (KeyboardInterrupt); the run goes on from its checkpoint
        if result is not None and result.status != "interrupted":
            cb.hparams.write_status(root, result.status)
        cb_writers.give_back(directory)
        cb_writers.close_under(directory)  # what a run that raised left open
    if result.status in FINISHED:
        _save_curves(directory, result.curves)
    return result


def _save_curves(directory, curves):
    """The figures' data of a finished run, for a later invocation that skips it."""
    arrays = {}
    for key, value in curves.items():
        if key == "points":
            arrays["points_x"], arrays["points_y"] = value
        elif key != "series":  # the problem's own data: loaded again
            arrays[key] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    checkpoint.write(directory / "curves.npz", buffer.getvalue())


def _load_curves(directory, kind, thing):
    path = directory / "curves.npz"
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as stored:
        curves = {key: stored[key] for key in stored.files}
    if "points_x" in curves:
        curves["points"] = (curves.pop("points_x"), curves.pop("points_y"))
    for key in ("step_loss", "step_seconds"):
        if key in curves:
            curves[key] = curves[key].tolist()
    if "steps_per_epoch" in curves:
        curves["steps_per_epoch"] = int(curves["steps_per_epoch"])
    if kind == "series":
        curves["series"] = thing
    return curves


def _start_session(writer, job):
    """The run's HParams session; its seeds share `trial_id` (the run's group)."""
    from tensorboard.plugins.hparams import api as hp

    with writer.as_default():
        hp.hparams(hparams_of(job.run, job.thing if job.kind == "dataset" else None),
                   trial_id=job.run.group or job.run.name)
    writer.flush()


def failed(job, error):
    """The Result of a run that did not finish, with `error` as its one-line reason."""
    return Result(job.run, job.kind, job.directory, {}, 0.0, error=error, status="failed",
                  fingerprint=job.fingerprint)


# --- a batch ---------------------------------------------------------------


def _spec_key(spec):
    return json.dumps(spec, sort_keys=True, default=str)


def prepare(batch, runs=None, loaded=None):
    """Check every run and load every problem once, before anything trains.

    Checks `runs` (default: the batch's runs, plus both ends of each searched
    range, `batch.probes`) and the search's metric. `loaded` caches problems
    between calls. Returns [(run, kind, loaded problem)]; raises ConfigError
    naming the run.
    """
    loaded = {} if loaded is None else loaded
    checks = [(f"run {run.name!r}" + ("" if run.index is None else f" (runs[{run.index}])"), run, True)
              for run in (batch.runs if runs is None else runs)]
    if runs is None:  # a range's ends first: they name the cause
        checks = [(where, probe, False) for where, probe in batch.probes] + checks
    check_path_name("batch.name", batch.name)  # a Batch made in Python has not been through parse_batch
    prepared = []
    for where, run, real in checks:
        try:
            if real:  # a probe (a searched range's end) is never run, and has no name
                check_path_name("name", run.name)
            problem, _ = problems.get(run.problem)
            key = _spec_key(run.problem)
            if key not in loaded:
                loaded[key] = problems.load(run.problem)
            thing = loaded[key]
            _check_kind(run, problem.kind)
            if problem.kind == "dataset":
                per_epoch = steps_per_epoch(run, len(thing.x_train))
                if run.epochs is not None and run.epochs * per_epoch > MAX_STEPS:
                    raise ConfigError(f"`epochs` makes {run.epochs * per_epoch} steps ({per_epoch} per epoch), "
                                      f"more than {MAX_STEPS} can finish. Received: epochs={run.epochs}")
                models.build(run.model, thing)
                make_optimizer(run, per_epoch)
            elif problem.kind == "objective":
                if run.steps > MAX_PATH_STEPS:
                    raise ConfigError(f"a 2-D path keeps and logs every point: `steps` must be at most "
                                      f"{MAX_PATH_STEPS}. Received: steps={run.steps}")
                make_optimizer(run)
            else:
                _averager(run)
            metric = batch.search.metric if batch.search else None
            if metric is not None and metric not in METRICS[problem.kind]:
                raise ConfigError(f"`search.metric` is not a metric of {problem.kind} runs. "
                                  f"Received: metric={metric!r}. Known: {', '.join(METRICS[problem.kind])}")
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        if real:
            prepared.append((run, problem.kind, thing))
    keras.backend.clear_session()
    return prepared


#: The most steps of a 2-D path (`path_run` keeps every point and logs it).
MAX_PATH_STEPS = 100_000

_NEEDS = {"dataset": ("model", "optimizer"), "objective": ("optimizer", "steps"), "series": ("average",)}
_FORBIDS = {"dataset": ("average",), "objective": ("model", "epochs", "average"),
            "series": ("model", "optimizer", "schedule", "epochs", "steps")}


def _check_kind(run, kind):
    article = "an" if kind[0] in "aeiou" else "a"
    for key in _FORBIDS[kind]:
        if getattr(run, key) is not None:
            raise ConfigError(f"{article} {kind} problem takes no `{key}`. "
                              f"Received: {key}={getattr(run, key)!r}")
    for key in _NEEDS[kind]:
        if getattr(run, key) is None:
            raise ConfigError(f"{article} {kind} problem needs `{key}`")
    if kind == "dataset" and run.epochs is None and run.steps is None:
        raise ConfigError("a dataset problem needs `epochs` or `steps`")


def batch_fingerprint(batch):
    """What makes two invocations the same batch: its name, every run and the search."""
    return checkpoint.fingerprint({"name": batch.name, "runs": [r.to_dict() for r in batch.runs],
                                   "search": dataclasses.asdict(batch.search) if batch.search else None})


def _read_json(path):
    """The JSON object in `path`, or None if there is none (missing, unreadable, not an object)."""
    try:
        value = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def open_batch_directory(logdir, batch, fresh=False):
    """(directory, lock, resuming) for `batch` under `logdir`, locked for this process.

    The same batch (`batch_fingerprint`) goes on in the directory it ran in
    before; another batch of that name gets `<name>_2`, `_3`, ... When the
    same batch is running there now, a ConfigError says so. `fresh`: a new
    directory even if the same batch ran before.
    """
    logdir, key = pathlib.Path(logdir), batch_fingerprint(batch)
    n = 0
    while True:
        n += 1
        candidate = logdir / (batch.name if n == 1 else f"{batch.name}_{n}")
        if candidate.exists() and not candidate.is_dir():
            continue
        held = candidate.is_dir() and any(p.name != checkpoint.LOCK for p in candidate.iterdir())
        if held and (fresh or (_read_json(candidate / "batch.json") or {}).get("fingerprint") != key):
            continue
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            lock = checkpoint.BatchLock(candidate).acquire(key)
        except checkpoint.LockedError as holder:
            if held or holder.key == key:  # the same batch, even if it has written nothing yet
                raise ConfigError(f"{str(candidate)!r} is being written by another run of batch "
                                  f"{batch.name!r} (pid {holder.pid}); wait for it to finish, or give "
                                  "another --logdir") from None
            continue  # another batch of that name has just started there
        except OSError as error:
            raise ConfigError(f"cannot write the logs to {str(candidate)!r}: {error.strerror}") from None
        if not held and any(p.name != checkpoint.LOCK for p in candidate.iterdir()):
            lock.release()  # filled between our look and our lock
            continue
        return candidate, lock, held


def _versions():
    import custom_optimizers

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "suite": getattr(custom_optimizers, "__version__", "dev")}


def resolved_config(run, kind, thing, batch):
    config = {"batch": batch.header(), "run": run.to_dict(), "kind": kind, "versions": _versions()}
    if kind == "dataset":
        per_epoch = steps_per_epoch(run, len(thing.x_train))
        config["data"] = thing.describe()
        config["steps_per_epoch"] = per_epoch
        config["epochs"] = run.epochs or math.ceil(run.steps / per_epoch)
    if kind in ("dataset", "objective"):
        optimizer = make_optimizer(run, config.get("steps_per_epoch", 1))
        config["optimizer"] = keras.saving.serialize_keras_object(optimizer)
    return config


def run_fingerprint(config):
    """A run's identity: its resolved config less the versions and the batch's prose."""
    return checkpoint.fingerprint({k: v for k, v in config.items() if k not in ("versions", "batch")})


def _job(directory, batch, run, kind, thing, progress, keras_verbose, report):
    """(Job, None) for a run to train, or (Job, Result) for one an earlier
    invocation of the batch finished (same fingerprint in its `result.json`).

    Nothing on disk is trusted unchecked (`checkpoint.read_result`): a
    finished run whose `result.json` was changed, whose event files are
    shorter than when it finished, or whose `curves.npz` is unreadable is
    not skipped. A run directory left unfinished (or so damaged) goes on
    from its checkpoint, its events cut back to the checkpoint's, if the
    checkpoint is readable and every event file is at least as long as it
    recorded; otherwise it is cleared and the run starts again. `report`
    says which runs were damaged and what is done about it.
    """
    run_dir = directory / run.name
    config = resolved_config(run, kind, thing, batch)
    config["fingerprint"] = key = run_fingerprint(config)
    job = Job(run, kind, thing, run_dir, progress, keras_verbose, fingerprint=key)
    if run_dir.exists():
        record, damage = checkpoint.read_result(run_dir)
        if damage is None and record is not None and record.get("fingerprint") == key \
                and record.get("status") in FINISHED:
            try:
                curves = _load_curves(run_dir, kind, thing)
            except Exception as error:  # a damaged curves.npz: never trusted, never fatal
                damage = f"{checkpoint.CURVES} is unreadable ({type(error).__name__})"
            else:
                return job, Result(run, kind, run_dir, record["metrics"], record["seconds"], curves,
                                   record.get("error"), record.get("best") or {}, record["status"],
                                   record.get("divergence"), key, skipped=True)
        stored = checkpoint.load(run_dir)
        if stored is not None and stored[1].get("fingerprint") == key:
            lost = checkpoint.missing_data(run_dir, stored[1]["events"])
            if lost is None:
                if damage is not None:
                    report(f"{run.name}: {damage}; going on from its checkpoint")
                checkpoint.rewind_events(run_dir, stored[1]["events"])
                for stale in (checkpoint.RESULT, "error.txt", checkpoint.CURVES):
                    checkpoint.remove_inside(run_dir / stale, run_dir, missing_ok=True)
                job.resume = True
                return job, None
            damage = f"{lost} (its checkpoint recorded more)"
        if damage is not None:
            report(f"{run.name}: {damage}; running it again from the start")
        checkpoint.remove_inside(run_dir, directory)
    run_dir.mkdir()
    checkpoint.write(run_dir / "config.json", json.dumps(config, indent=2, default=str))
    return job, None


def close_failed(job):
    """End the HParams session of a run whose process died (`parallel.Pool`); start it
    again first, in case the worker died before its start reached the disk."""
    writer = cb_writers.borrow(job.directory)
    _start_session(writer, job)
    cb.hparams.write_status(writer, "failed")
    cb_writers.give_back(job.directory)


def _write_experiment(directory, batch, prepared, loaded):
    """The HParams dashboard's columns: every hyperparameter, over its whole searched range."""
    values = {}
    probes = [(run, loaded.get(_spec_key(run.problem))) for _, run in batch.probes]
    for run, thing in [(run, thing) for run, _, thing in prepared] + probes:
        data = thing if run.model is not None else None  # the size of batch_size = "full"
        for name, value in hparams_of(run, data).items():
            values.setdefault(name, []).append(value)
    kinds = {kind for _, kind, _ in prepared}
    metrics = [m for kind in HPARAM_METRICS if kind in kinds for m in HPARAM_METRICS[kind]]
    if kinds & {"dataset", "objective"}:  # the runs that can diverge
        metrics.append(("diverged", None, "diverged (1 = yes)"))
    cb.hparams.write_config(directory, values, metrics + [("wall_seconds", None, "wall time [s]")])


def _next_round(batch, results, round_index, metric, mode):
    """Coarse-to-fine: narrow each searched entry around its best trials, sample again."""
    from experiments import search

    first_id = 1 + max(r.run.trial_id for r in results if r.run.trial_id is not None)
    for template in batch.templates:
        if not template.dimensions:
            continue
        records = [r.record() for r in results
                   if r.run.index == template.index and r.run.round == round_index - 1]
        rows = ranking.rank_groups(records, metric, mode)
        kept = [row["trial"] for row in rows if math.isfinite(row["mean"])][:batch.search.keep]
        if kept:  # if every trial failed, sample the same ranges again
            template.dimensions = search.narrow(template.dimensions, kept)
    return batch.round(round_index, first_id)


def _describe_round(batch, round_index):
    return {"round": round_index, "spaces": {
        f"runs[{t.index}]": {d.key: d.describe() for d in t.dimensions}
        for t in batch.templates if t.dimensions}}


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped a batch; what finished is saved and the same command goes on.

    `signal` is the signal that stopped it (the exit status is 128 + it)."""

    def __init__(self, directory, finished, total, saved=None):
        self.directory, self.finished, self.total, self.saved = directory, finished, total, saved
        self.signal = signals.received()
        where = f"; {saved}" if saved else ""
        super().__init__(f"stopped: {finished} of {total} runs in {directory} are finished{where}")


def _clear_batch_outputs(directory):
    """Drop what a batch writes once all its runs are done (root events, figures,
    mean runs): an invocation that goes on writes them anew, not twice."""
    for path in [*directory.glob(f"{checkpoint.EVENTS}*"), directory / "figures", *directory.glob("*_mean")]:
        checkpoint.remove_inside(path, directory, missing_ok=True)


def run_batch(batch, logdir="logs", progress=True, keras_verbose=False, prepared=None,
              workers=None, address=None, fresh=False, report=None, checkpoint_seconds=5.0):
    """Run every run of `batch` into `<logdir>/<batch>/`; return a BatchResult.

    `prepared` is `prepare(batch)`'s result when the caller already has it.
    `workers`/`address` run the batch on Ray (`experiments.parallel.Pool`).
    A search runs its rounds in turn; groups of seeds get a mean run
    (`experiments.aggregate`). A run that raises is recorded as failed with
    its error and the batch goes on; finished runs are never lost.

    Running the same batch again goes on where it stopped: finished runs are
    skipped, unfinished ones resume from their checkpoints (`fresh`: start
    over in a new directory). A run checkpoints at most once per
    `checkpoint_seconds` (0: at every epoch it logs). The batch directory is locked while it runs.
    Ctrl-C saves the running run and raises `Interrupted`. `report(text)`
    tells the user what is resumed and what Ctrl-C does.
    """
    from experiments import parallel

    report = report or (lambda text: None)
    parallel.check(workers, address)
    loaded = {}
    prepared = list(prepared if prepared is not None else prepare(batch, loaded=loaded))
    for run, _, thing in prepared:
        loaded.setdefault(_spec_key(run.problem), thing)
    with parallel.Pool(workers, address) as pool:  # Ray up before anything is written
        directory, lock, resuming = open_batch_directory(logdir, batch, fresh)
        try:
            if resuming:
                _clear_batch_outputs(directory)
            checkpoint.write(directory / "batch.json", json.dumps(
                {**batch.header(), "fingerprint": batch_fingerprint(batch),
                 "runs": [r.to_dict() for r in batch.runs],
                 "search": dataclasses.asdict(batch.search) if batch.search else None}, indent=2, default=str))
            _write_experiment(directory, batch, prepared, loaded)
            with signals.stop_cleanly(report):
                return _run_rounds(batch, directory, prepared, loaded, progress, keras_verbose,
                                   pool, resuming, report, checkpoint_seconds)
        finally:
            lock.release()


def _run_rounds(batch, directory, prepared, loaded, progress, keras_verbose, pool, resuming, report,
                checkpoint_seconds):
    """`run_batch`'s work once the directory is locked: every round, then the batch's outputs."""
    from tqdm.auto import tqdm

    from experiments import aggregate

    metric = batch.search.metric if batch.search else None
    mode = batch.search.mode_for(metric) if metric else None
    rounds = batch.search.rounds if batch.search else 1
    searched = sum(run.trial is not None for run, _, _ in prepared)
    total = len(prepared) + (rounds - 1) * searched
    bar = tqdm(total=total, desc=batch.name, unit="run", disable=not progress, position=0,
               dynamic_ncols=True)
    results, history = [], []
    with bar:
        ready = prepared
        for round_index in range(1, rounds + 1):
            if round_index > 1:
                ready = prepare(batch, _next_round(batch, results, round_index, metric, mode), loaded)
                prepared += ready
            history.append(_describe_round(batch, round_index))
            jobs, finished = [], {}
            for run, kind, thing in ready:
                job, done = _job(directory, batch, run, kind, thing, progress and pool.local, keras_verbose,
                                 report)
                job.checkpoint_seconds = checkpoint_seconds
                if done is not None:
                    finished[len(jobs)] = done
                    bar.update()
                jobs.append(job)
            if resuming:
                resumed = sum(job.resume for job in jobs)
                report(f"going on in {directory}: {len(finished)} finished run(s) skipped, "
                       f"{resumed} resumed from a checkpoint, {len(jobs) - len(finished) - resumed} to run"
                       + (f" (round {round_index})" if rounds > 1 else ""))
            todo = [i for i in range(len(jobs)) if i not in finished]
            for k, result in pool.map([jobs[i] for i in todo]):
                if result.status == "interrupted":
                    raise Interrupted(directory, _count_finished(directory), total,
                                      f"{result.run.name} saved at epoch {result.metrics['epochs']}")
                finished[todo[k]] = result
                checkpoint.write(result.directory / checkpoint.RESULT, json.dumps(
                    checkpoint.seal(result.record(), result.directory), indent=2, default=str))
                bar.set_postfix_str(result.run.name)
                bar.update()
                if signals.STOP.is_set():
                    raise Interrupted(directory, _count_finished(directory), total)
            results += [finished[i] for i in range(len(jobs))]
    if batch.search:
        checkpoint.write(directory / "search.json", json.dumps(
            {**dataclasses.asdict(batch.search), "mode": mode, "history": history}, indent=2, default=str))
    aggregates = aggregate.write_aggregates(directory, results)
    written = figures.batch_figures(directory, results, prepared)
    checkpoint.write(directory / "summary.json", json.dumps([r.record() for r in results], indent=2, default=str))
    return BatchResult(batch, directory, results, written, aggregates, metric, mode)


def _count_finished(directory):
    return sum((_read_json(path) or {}).get("status") in FINISHED for path in directory.glob("*/result.json"))


def summary_table(result):
    """The batch's final numbers as aligned text, one section per problem kind."""
    columns = {
        "dataset": [("train_loss", "train loss"), ("train_accuracy", "train acc"),
                    ("validation_accuracy", "val acc"), ("test_accuracy", "test acc")],
        "objective": [("loss", "final f"), ("distance", "to minimum"), ("x", "x"), ("y", "y")],
        "series": [("rms_error", "RMS error"), ("first_10_mean_error", "mean error t<=10")],
    }
    lines = []
    for kind, cols in columns.items():
        rows = [r for r in result.results if r.kind == kind]
        if not rows:
            continue
        width = max(len("run"), *(len(r.run.name) for r in rows))
        lines.append(f"{'run':{width}s}  " + "  ".join(f"{label:>12s}" for _, label in cols)
                     + f"  {'wall [s]':>9s}")
        for r in rows:
            if r.status == "failed":
                lines.append(f"{r.run.name:{width}s}  FAILED: {r.error}")
                continue
            cells = [f"{r.metrics[key]:12.4g}" if key in r.metrics else f"{'-':>12s}" for key, _ in cols]
            note = ""
            if r.status == "diverged":
                note = f"  DIVERGED at step {r.divergence['step']}: {r.divergence['reason']}"
            elif r.skipped:
                note = "  (finished before)"
            elif r.resumed:
                note = "  (resumed)"
            lines.append(f"{r.run.name:{width}s}  " + "  ".join(cells) + f"  {r.seconds:9.1f}" + note)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
