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

Layout of `<logdir>/<batch>/` (a `_2`, `_3`, ... suffix if it already holds runs):

    batch.json               the batch as resolved: header and every run
    summary.json             final metrics and wall time of every run
    <run-name>/config.json   the run's resolved config (defaults filled in)
    <run-name>/              HParams session, final/* scalars, wall_seconds
    <run-name>/train/        epoch_* (and batch_*) scalars, update_ratio/*, histograms, images
    <run-name>/validation/   epoch_* scalars
    figures/                 the batch's figures as TensorBoard images
    *.png                    the same figures as files
"""

from __future__ import annotations

import dataclasses
import inspect
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
from experiments import figures, models, problems, ranking
from experiments.config import Batch, Run, steps_per_epoch
from experiments.objectives2d import minimise
from experiments.validation import ConfigError


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
    status: str = "ok"  # "ok" or "failed"

    def record(self):
        """What `result.json` and `summary.json` keep of the run."""
        run = self.run
        return {"run": run.name, "group": run.group, "index": run.index, "seed": run.seed,
                "trial": run.trial, "trial_id": run.trial_id, "round": run.round, "kind": self.kind,
                "status": self.status, "metrics": self.metrics, "best": self.best,
                "seconds": self.seconds, "error": self.error}


@dataclasses.dataclass
class Job:
    """One run to execute, in this process or on a Ray worker (`experiments.parallel`)."""

    run: Run
    kind: str
    thing: object  # the loaded problem: Data, Objective or Series
    directory: pathlib.Path
    progress: bool = False
    keras_verbose: bool = False


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
        return [r for r in self.results if r.error]

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


def _write_final(directory, metrics, seconds, best=None):
    """`final/<metric>`, `best/<metric>` and `wall_seconds` at the run's root (step 0):
    the HParams dashboard's metrics."""
    writer = cb_writers.borrow(directory)
    with writer.as_default(step=0):
        for name, value in metrics.items():
            tf.summary.scalar(f"final/{name}", value)
        for name, value in (best or {}).items():
            tf.summary.scalar(f"best/{name}", value)
        tf.summary.scalar("wall_seconds", seconds)
    cb_writers.give_back(directory)


class StopAtStep(keras.callbacks.Callback):
    """Stop `fit` after exactly `steps` optimizer steps (Keras checks between steps)."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_begin(self, logs=None):
        self._taken = 0

    def on_train_batch_end(self, batch, logs=None):
        self._taken += 1
        if self._taken >= self.steps:
            self.model.stop_training = True


# --- one function per problem kind ----------------------------------------


def training_dataset(run, data):
    """Reshuffled every pass; one pass is one epoch (fit with `steps_per_epoch`).

    Repeating the dataset lets Keras keep one iterator for the whole fit
    instead of building one per epoch, which costs more than the training
    itself on small problems.
    """
    size = len(data.x_train) if run.batch_size == "full" else run.batch_size
    return (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
            .shuffle(len(data.x_train), seed=run.seed, reshuffle_each_iteration=True)
            .batch(size).repeat().prefetch(tf.data.AUTOTUNE))


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


def fit_run(run, directory, data, progress=None, keras_verbose=False):
    """Train `run.model` on `data` with `model.fit`; TensorBoard logs in `directory`."""
    keras.utils.set_random_seed(run.seed)
    model = models.build(run.model, data)
    per_epoch = steps_per_epoch(run, len(data.x_train))
    epochs = run.epochs or math.ceil(run.steps / per_epoch)
    model.compile(optimizer=make_optimizer(run, per_epoch), loss=models.loss_for(model),
                  metrics=["accuracy"])
    train = training_dataset(run, data)
    callbacks, history = logging_callbacks(run, directory, data, epochs)
    if run.steps is not None:
        callbacks.append(StopAtStep(run.steps))
    if progress:
        callbacks.append(cb.EpochProgress(run.name))
    validation = None
    if len(data.x_val):  # a dataset, not arrays: Keras rebuilds its adapter for arrays every time
        validation = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(1024).cache()

    start = time.perf_counter()
    logs = model.fit(train, epochs=epochs, steps_per_epoch=per_epoch, shuffle=False,
                     validation_data=validation, validation_freq=epoch_cadence(run, epochs),
                     callbacks=callbacks, verbose=2 if keras_verbose else 0).history
    seconds = time.perf_counter() - start
    best = {}  # over the epochs: Keras's running means for training, every validation
    for key, name, pick in (("loss", "train_loss", min), ("accuracy", "train_accuracy", max),
                            ("val_loss", "validation_loss", min),
                            ("val_accuracy", "validation_accuracy", max)):
        if logs.get(key):
            best[name] = float(pick(logs[key]))

    metrics = {"epochs": epochs, "steps": int(model.optimizer.iterations.numpy())}
    for split, x, y in (("train", data.x_train, data.y_train), ("validation", data.x_val, data.y_val),
                        ("test", data.x_test, data.y_test)):
        if len(x):
            scores = model.evaluate(x, y, batch_size=1024, verbose=0, return_dict=True)
            metrics[f"{split}_loss"] = float(scores["loss"])
            metrics[f"{split}_accuracy"] = float(scores["accuracy"])
    _write_final(directory, metrics, seconds, best)
    curves = {"step_loss": history.losses if history else [],
              "step_seconds": history.seconds if history else [], "steps_per_epoch": per_epoch}
    if data.input_shape == (2,):
        from callbacks.decision_boundary import probability_grid

        curves["grid"] = probability_grid(model, data.x_train)
        curves["points"] = (data.x_train, data.y_train)
    return metrics, seconds, curves, best


def path_run(run, directory, objective, progress=None, keras_verbose=False):
    """Minimise a 2-D objective from its start point for `run.steps` steps."""
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
    with tf.summary.create_file_writer(str(directory / "train")).as_default():
        for t in range(len(path)):
            tf.summary.scalar("loss", losses[t], step=t)
            tf.summary.scalar("x", path[t, 0], step=t)
            tf.summary.scalar("y", path[t, 1], step=t)
            tf.summary.scalar("gradient_norm", gradient_norms[t], step=t)
            if t < run.steps:
                tf.summary.scalar("learning_rate", rates[t], step=t)
    metrics = {"loss": float(losses[-1]), "x": float(path[-1, 0]), "y": float(path[-1, 1])}
    if objective.minimum is not None:
        metrics["distance"] = float(np.linalg.norm(path[-1] - np.array(objective.minimum)))
    best = {"loss": float(np.min(losses))}
    _write_final(directory, metrics, seconds, best)
    return metrics, seconds, {"path": path}, best


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


def average_run(run, directory, series, progress=None, keras_verbose=False):
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
    return metrics, seconds, {"average": averages, "series": series}, {}


#: kind -> function(run, directory, problem, progress, keras_verbose) -> (final metrics,
#: seconds, curves for the figures, best metrics); each writes the run's events.
RUNNERS = {"dataset": fit_run, "objective": path_run, "series": average_run}


def execute(job):
    """Run one job into `job.directory`; never raises for the run's own errors.

    Writes the run's HParams session (grouped with its other seeds), lets
    the kind's runner train and log, and ends the session with its status.
    A run that raises gets `error.txt` (the traceback) and status "failed".
    """
    run, directory = job.run, job.directory
    keras.backend.clear_session()
    root = cb_writers.borrow(directory)  # one writer for the run's root, held to the end
    result = None
    try:
        _start_session(root, job)
        metrics, seconds, curves, best = RUNNERS[job.kind](
            run, directory, job.thing, progress=job.progress, keras_verbose=job.keras_verbose)
        result = Result(run, job.kind, directory, metrics, seconds, curves, best=best)
    except Exception as error:  # one broken run must not lose the others
        (directory / "error.txt").write_text(traceback.format_exc())
        result = failed(job, f"{type(error).__name__}: {error}")
    finally:
        cb.hparams.write_status(root, result.status if result else "failed")
        cb_writers.give_back(directory)
    return result


def _start_session(writer, job):
    """The run's HParams session; its seeds share `trial_id` (the run's group)."""
    from tensorboard.plugins.hparams import api as hp

    with writer.as_default():
        hp.hparams(hparams_of(job.run, job.thing if job.kind == "dataset" else None),
                   trial_id=job.run.group or job.run.name)
    writer.flush()


def failed(job, error):
    """The Result of a run that did not finish, with `error` as its one-line reason."""
    return Result(job.run, job.kind, job.directory, {}, 0.0, error=error, status="failed")


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
    prepared = []
    for where, run, real in checks:
        try:
            problem, _ = problems.get(run.problem)
            key = _spec_key(run.problem)
            if key not in loaded:
                loaded[key] = problems.load(run.problem)
            thing = loaded[key]
            _check_kind(run, problem.kind)
            if problem.kind == "dataset":
                models.build(run.model, thing)
                make_optimizer(run, steps_per_epoch(run, len(thing.x_train)))
            elif problem.kind == "objective":
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


def batch_directory(logdir, name):
    """`<logdir>/<name>`, or `<name>_2`, `_3`, ... when that already holds runs."""
    logdir = pathlib.Path(logdir)
    candidate, n = logdir / name, 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = logdir / f"{name}_{n}"
    try:
        candidate.mkdir(parents=True, exist_ok=True)
        probe = candidate / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"cannot write the logs to {str(candidate)!r}: {error.strerror}") from None
    return candidate


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


def _job(directory, batch, run, kind, thing, progress, keras_verbose):
    run_dir = directory / run.name
    run_dir.mkdir()
    (run_dir / "config.json").write_text(
        json.dumps(resolved_config(run, kind, thing, batch), indent=2, default=str))
    return Job(run, kind, thing, run_dir, progress, keras_verbose)


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


def run_batch(batch, logdir="logs", progress=True, keras_verbose=False, prepared=None,
              workers=None, address=None):
    """Run every run of `batch` into `<logdir>/<batch>/`; return a BatchResult.

    `prepared` is `prepare(batch)`'s result when the caller already has it.
    `workers`/`address` run the batch on Ray (`experiments.parallel.Pool`).
    A search runs its rounds in turn; groups of seeds get a mean run
    (`experiments.aggregate`). A run that raises is recorded as failed with
    its error and the batch goes on; finished runs are never lost.
    """
    from tqdm.auto import tqdm

    from experiments import aggregate, parallel

    parallel.check(workers, address)
    loaded = {}
    prepared = list(prepared if prepared is not None else prepare(batch, loaded=loaded))
    for run, _, thing in prepared:
        loaded.setdefault(_spec_key(run.problem), thing)
    directory = batch_directory(logdir, batch.name)
    (directory / "batch.json").write_text(json.dumps(
        {**batch.header(), "runs": [r.to_dict() for r in batch.runs],
         "search": dataclasses.asdict(batch.search) if batch.search else None}, indent=2, default=str))
    _write_experiment(directory, batch, prepared, loaded)
    metric = batch.search.metric if batch.search else None
    mode = batch.search.mode_for(metric) if metric else None
    rounds = batch.search.rounds if batch.search else 1
    searched = sum(run.trial is not None for run, _, _ in prepared)
    bar = tqdm(total=len(prepared) + (rounds - 1) * searched, desc=batch.name, unit="run",
               disable=not progress, position=0, dynamic_ncols=True)
    results, history = [], []
    with parallel.Pool(workers, address) as pool:
        ready = prepared
        for round_index in range(1, rounds + 1):
            if round_index > 1:
                ready = prepare(batch, _next_round(batch, results, round_index, metric, mode), loaded)
                prepared += ready
            history.append(_describe_round(batch, round_index))
            jobs = [_job(directory, batch, run, kind, thing, progress and pool.local, keras_verbose)
                    for run, kind, thing in ready]
            finished = {}
            for i, result in pool.map(jobs):
                finished[i] = result
                (result.directory / "result.json").write_text(
                    json.dumps(result.record(), indent=2, default=str))
                bar.set_postfix_str(result.run.name)
                bar.update()
            results += [finished[i] for i in range(len(jobs))]
    bar.close()
    if batch.search:
        (directory / "search.json").write_text(json.dumps(
            {**dataclasses.asdict(batch.search), "mode": mode, "history": history}, indent=2, default=str))
    aggregates = aggregate.write_aggregates(directory, results)
    written = figures.batch_figures(directory, results, prepared)
    (directory / "summary.json").write_text(json.dumps([r.record() for r in results], indent=2, default=str))
    return BatchResult(batch, directory, results, written, aggregates, metric, mode)


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
            if r.error:
                lines.append(f"{r.run.name:{width}s}  FAILED: {r.error}")
                continue
            cells = [f"{r.metrics[key]:12.4g}" if key in r.metrics else f"{'-':>12s}" for key, _ in cols]
            lines.append(f"{r.run.name:{width}s}  " + "  ".join(cells) + f"  {r.seconds:9.1f}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
