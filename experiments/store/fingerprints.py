"""What makes a batch, and a run, the same one again: `fingerprint(config)`, a short hash of
a resolved config. The same batch goes on in the directory it ran in before
(`batch_fingerprint`); a run directory whose `result.json` carries its run's
fingerprint (`run_fingerprint` of `resolved_config`) is a finished run and is skipped; a
checkpoint carrying it is resumed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform

from experiments.spec import plugins
from experiments.spec.config import steps_per_epoch


def fingerprint(config):
    """16 hex digits of SHA-256 over `config` as canonical JSON."""
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def batch_fingerprint(batch):
    """What makes two invocations the same batch: its name, every run and the search."""
    return fingerprint({"name": batch.name, "runs": [r.to_dict() for r in batch.runs],
                        "search": dataclasses.asdict(batch.search) if batch.search else None})


def versions():
    """The versions a run's `config.json` records (Python, TensorFlow, Keras, the suite)."""
    import keras
    import tensorflow as tf

    import custom_optimizers

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "suite": getattr(custom_optimizers, "__version__", "dev")}


def resolved_config(run, kind, problem_data, batch):
    """The run as it will train, every default filled in (`config.json`): its batch's header,
    its fields, its data's sizes and its optimizer as Keras serialises it."""
    config = {"batch": batch.header(), "run": run.to_dict(), "kind": kind, "versions": versions()}
    if kind == "dataset":
        per_epoch = steps_per_epoch(run, len(problem_data.x_train))
        config["data"] = problem_data.describe()
        config["steps_per_epoch"] = per_epoch
        config["epochs"] = run.epochs or math.ceil(run.steps / per_epoch)
    if kind in ("dataset", "objective"):
        config["optimizer"] = _serialised_optimizer(run, config.get("steps_per_epoch", 1))
    # a user's objects by import path: where each came from, its file's hash part of the run's
    # fingerprint (an edited optimizer is a new run, never the old one's finished run)
    named = {"optimizer": run.optimizer, "schedule": run.schedule, "model": run.model, "problem": run.problem}
    found = {field: plugins.provenance(spec["name"]) for field, spec in named.items()
             if spec is not None and plugins.is_path(spec["name"])}
    if found:
        config["plugins"] = found
    return config


#: (optimizer, schedule, steps per epoch) -> a built-in optimizer as Keras serialises it: the
#: seeds of a trial share it (a user's class is built each time: its module may change)
_SERIALISED = {}


def _serialised_optimizer(run, per_epoch):
    import copy

    import keras

    from experiments.plan.optimizers import make_optimizer  # TensorFlow: not for the checks before it

    key = fingerprint([run.optimizer, run.schedule, per_epoch])
    serialised = _SERIALISED.get(key)
    if serialised is None:
        serialised = keras.saving.serialize_keras_object(make_optimizer(run, per_epoch))
        # Keras numbers its optimizers' default names ("sgd", "sgd_1", ...) in the order the
        # process made them: the process's history, not the run's (a batch run after another in
        # one process would otherwise not be recognised when run alone, and redo finished runs)
        serialised["config"].pop("name", None)
        if not any(spec is not None and plugins.is_path(spec["name"]) for spec in (run.optimizer, run.schedule)):
            _SERIALISED[key] = serialised
    return copy.deepcopy(serialised)


def run_fingerprint(config):
    """A run's identity: its resolved config less the versions, the batch's prose and where this
    machine found its data (`Data.origin`: a directory, a download, a fallback's reason, which
    names this machine's paths and its network error)."""
    identity = {k: v for k, v in config.items() if k not in ("versions", "batch", "fingerprint")}
    if isinstance(identity.get("data"), dict) and "origin" in identity["data"]:
        identity["data"] = {k: v for k, v in identity["data"].items() if k != "origin"}
    return fingerprint(identity)


def former_fingerprint(config, problem_data):
    """The fingerprint a version before `Data.origin` gave the run, whose data's source held its
    origin (`Data.former_source`), else None: a run it finished, or checkpointed, is still known."""
    former = getattr(problem_data, "former_source", None)
    if former is None or not isinstance(config.get("data"), dict):
        return None
    return run_fingerprint({**config, "data": {**config["data"], "source": former}})  # less its origin


