"""Plan a batch: check every run and load its problem, build its optimizer,
name its identity (fingerprints), and sample a search's next round.

Everything a batch needs is checked by `prepare` before the first run
starts, so a typo fails in a second, not after an hour of training.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import platform

import keras
import tensorflow as tf

import custom_optimizers as co
from experiments import checkpoint, models, problems, ranking
from experiments.config import MAX_STEPS, steps_per_epoch
from experiments.results import METRICS
from experiments.validation import ConfigError, check_path_name, lookup


def spec_key(spec):
    return json.dumps(spec, sort_keys=True, default=str)


def make_optimizer(run, steps_per_epoch=1):
    """The run's optimizer, with its schedule as the learning rate.

    A schedule's `initial_learning_rate` defaults to the optimizer's learning
    rate, and an epoch-based schedule's `steps_per_epoch` to the run's (unless it
    is given Keras's unit, `decay_steps`).
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
                if "steps_per_epoch" in accepted and "decay_steps" not in schedule:  # Keras's unit
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
    prepared, built = [], set()  # (model, problem) pairs built once: the runs of a batch share a few
    for where, run, real in checks:
        try:
            if real:  # a probe (a searched range's end) is never run, and has no name
                check_path_name("name", run.name)
            problem, _ = problems.get(run.problem)
            key = spec_key(run.problem)
            if key not in loaded:
                loaded[key] = problems.load(run.problem)
            problem_data = loaded[key]
            _check_kind(run, problem.kind)
            if problem.kind == "dataset":
                per_epoch = steps_per_epoch(run, len(problem_data.x_train))
                if run.epochs is not None and run.epochs * per_epoch > MAX_STEPS:
                    raise ConfigError(f"`epochs` makes {run.epochs * per_epoch} steps ({per_epoch} per epoch), "
                                      f"more than {MAX_STEPS} can finish. Received: epochs={run.epochs}")
                if (spec_key(run.model), key) not in built:
                    models.build(run.model, problem_data)
                    built.add((spec_key(run.model), key))
                make_optimizer(run, per_epoch)
            elif problem.kind == "objective":
                if run.steps > MAX_PATH_STEPS:
                    raise ConfigError(f"a 2-D path keeps and logs every point: `steps` must be at most "
                                      f"{MAX_PATH_STEPS}. Received: steps={run.steps}")
                make_optimizer(run)
            else:
                averager(run)
            metric = batch.search.metric if batch.search else None
            if metric is not None and metric not in METRICS[problem.kind]:
                raise ConfigError(f"`search.metric` is not a metric of {problem.kind} runs. "
                                  f"Received: metric={metric!r}. Known: {', '.join(METRICS[problem.kind])}")
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        if real:
            prepared.append((run, problem.kind, problem_data))
    keras.backend.clear_session()
    return prepared


def groups(jobs):
    """The jobs that train together, as lists of indices into `jobs`, in order of first appearance.

    Dataset runs with the same problem, model, batch size, length, seed, log
    settings, dtype and order see the same batches
    (`experiments.train`): one compiled program trains them as a group. A
    group resumes together, so its runs also share the epoch their
    checkpoints go on from. Every other run is a group of its own.
    """
    keyed = {}
    for i, job in enumerate(jobs):
        run = job.run
        key = (i,) if job.kind != "dataset" else (
            spec_key(run.problem), spec_key(run.model), run.batch_size, run.epochs, run.steps, run.seed,
            spec_key(run.log), run.dtype, spec_key(run.order),
            job.start_epoch if job.resume else 0)
        keyed.setdefault(key, []).append(i)
    return list(keyed.values())


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


def averager(run):
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


def batch_fingerprint(batch):
    """What makes two invocations the same batch: its name, every run and the search."""
    return checkpoint.fingerprint({"name": batch.name, "runs": [r.to_dict() for r in batch.runs],
                                   "search": dataclasses.asdict(batch.search) if batch.search else None})


def _versions():
    import custom_optimizers

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "suite": getattr(custom_optimizers, "__version__", "dev")}


def resolved_config(run, kind, problem_data, batch):
    config = {"batch": batch.header(), "run": run.to_dict(), "kind": kind, "versions": _versions()}
    if kind == "dataset":
        per_epoch = steps_per_epoch(run, len(problem_data.x_train))
        config["data"] = problem_data.describe()
        config["steps_per_epoch"] = per_epoch
        config["epochs"] = run.epochs or math.ceil(run.steps / per_epoch)
    if kind in ("dataset", "objective"):
        optimizer = make_optimizer(run, config.get("steps_per_epoch", 1))
        config["optimizer"] = keras.saving.serialize_keras_object(optimizer)
        # Keras numbers its optimizers' default names ("sgd", "sgd_1", ...) in the order the
        # process made them: the process's history, not the run's (a batch run after another in
        # one process would otherwise not be recognised when run alone, and redo finished runs)
        config["optimizer"]["config"].pop("name", None)
    return config


def run_fingerprint(config):
    """A run's identity: its resolved config less the versions and the batch's prose."""
    return checkpoint.fingerprint({k: v for k, v in config.items() if k not in ("versions", "batch")})


def next_round(batch, results, round_index, metric, mode):
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


def describe_round(batch, round_index):
    return {"round": round_index, "spaces": {
        f"runs[{t.index}]": {d.key: d.describe() for d in t.dimensions}
        for t in batch.templates if t.dimensions}}
