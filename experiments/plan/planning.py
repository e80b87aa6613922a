"""Plan a batch: check every run and load its problem (building its model and optimizer
once, `optimizers`), and group the runs that train together.

Everything a batch needs is checked by `prepare` before the first run
starts, so a typo fails in a second, not after an hour of training.
"""

from __future__ import annotations

import json

import keras

from experiments.plan.optimizers import averager, make_optimizer
from experiments.spec.config import MAX_STEPS, steps_per_epoch
from experiments.spec.metrics import METRICS
from experiments.spec.validation import ConfigError, check_path_name
from experiments.workloads import models, problems


def spec_key(spec):
    return json.dumps(spec, sort_keys=True, default=str)


def prepare(batch, runs=None, loaded=None):
    """Check every run and load every problem once, before anything trains.

    Checks `runs` (default: the batch's runs, plus both ends of each searched
    range, `batch.probes`) and the search's metric. `loaded` caches problems
    between calls, and which models were built on them to be checked (a search's
    next round builds none: it leaves TensorFlow's cached kernels, the kept
    training program's among them, alone). Returns [(run, kind, loaded problem)];
    raises ConfigError naming the run.
    """
    loaded = {} if loaded is None else loaded
    checks = [(f"run {run.name!r}" + ("" if run.index is None else f" (runs[{run.index}])"), run, True)
              for run in (batch.runs if runs is None else runs)]
    if runs is None:  # a range's ends first: they name the cause
        checks = [(where, probe, False) for where, probe in batch.probes] + checks
    check_path_name("batch.name", batch.name)  # a Batch made in Python has not been through parse_batch
    prepared, built = [], False
    for where, run, real in checks:
        try:
            if real:  # a probe (a searched range's end) is never run, and has no name
                check_path_name("name", run.name)
            problem, _ = problems.get(run.problem)
            key = spec_key(run.problem)
            if key not in loaded:
                loaded[key] = problems.load(run.problem)
            problem_data = loaded[key]
            _check_kind(run, problem.kind, getattr(problem_data, "model", None))
            if problem.kind == "dataset":
                per_epoch = steps_per_epoch(run, len(problem_data.x_train))
                if run.epochs is not None and run.epochs * per_epoch > MAX_STEPS:
                    raise ConfigError(f"`epochs` makes {run.epochs * per_epoch} steps ({per_epoch} per epoch), "
                                      f"more than {MAX_STEPS} can finish. Received: epochs={run.epochs}")
                streams = getattr(problem_data, "streams", 0)  # a text's: batches continue each other
                if streams and (run.batch_size != streams or run.order["name"] != "sequential"):
                    raise ConfigError(
                        f"problem 'text' is cut into {streams} streams whose batches continue each other (its "
                        f"`streams`): its runs need batch_size = {streams} and order = \"sequential\". Received: "
                        f"batch_size={run.batch_size!r}, order={run.order['name']!r}")
                if _checked(run, key) not in loaded:  # built once: the runs of a batch share a few
                    models.build(run.model, problem_data)
                    loaded[_checked(run, key)], built = True, True
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
    if built:  # Keras's names and graph; the models checked wait for the next full collection (the
        keras.backend.clear_session(free_memory=False)  # first group's, `train._train`), not one of their own
    return prepared


def remember(loaded, prepared):
    """Fill `loaded` as `prepare` would have, from its result `prepared`: the problems, and the
    models checked on them."""
    for run, kind, problem_data in prepared:
        key = spec_key(run.problem)
        loaded.setdefault(key, problem_data)
        if kind == "dataset":
            loaded[_checked(run, key)] = True


def _checked(run, problem_key):
    """`loaded`'s key that says `run`'s model was built on its problem."""
    return f"model {spec_key(run.model)} on {problem_key}"


def groups(jobs):
    """The jobs that train together, as lists of indices into `jobs`, in order of first appearance.

    Dataset runs with the same problem, model, batch size, length, seed, log
    settings, dtype and order see the same batches
    (`experiments.engine.train`): one compiled program trains them as a group. A
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


def _check_kind(run, kind, own_model=None):
    """`own_model`: the problem's own model (`Data.model`), when its runs name none."""
    article = "an" if kind[0] in "aeiou" else "a"
    if own_model is not None and run.model is not None:
        raise ConfigError(f"problem {run.problem['name']!r} has its own model ({own_model}: its "
                          f"parameters are the problem's) and takes no `model`. Received: model={run.model!r}")
    for key in _FORBIDS[kind]:
        if getattr(run, key) is not None:
            raise ConfigError(f"{article} {kind} problem takes no `{key}`. "
                              f"Received: {key}={getattr(run, key)!r}")
    for key in _NEEDS[kind]:
        if getattr(run, key) is None and not (key == "model" and own_model is not None):
            raise ConfigError(f"{article} {kind} problem needs `{key}`")
    if kind == "dataset" and run.epochs is None and run.steps is None:
        raise ConfigError("a dataset problem needs `epochs` or `steps`")


