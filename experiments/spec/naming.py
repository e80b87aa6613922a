"""Readable, unique run names made from what differs between a batch's runs.

`adam_lr0.001_s0`, `rmsprop_lr0.01_rho0.9_s0`, `sgd_lr0.01_bs64_s0`; a
search trial's name starts with its number, `t03_momentum_lr0.01235_s1`.
Every name becomes a directory, so each is checked (`check_path_name`).
"""

from __future__ import annotations

import re

from experiments.spec import plugins
from experiments.spec.validation import ConfigError, check_path_name


def _short(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):  # {name = "digits", normalize = true} -> digits-normalizetrue
        return "-".join([plugins.short_name(str(value.get("name", "")))]
                        + [f"{k}{_short(v)}" for k, v in value.items() if k != "name"])
    if isinstance(value, (list, tuple)):
        return "x".join(_short(v) for v in value)
    return str(value)


_ABBREVIATIONS = {"learning_rate": "lr", "momentum": "mom", "batch_size": "bs", "epsilon": "eps",
                  "initial_learning_rate": "lr0", "bias_correction": "bc", "divergence_factor": "divf",
                  "divergence_patience": "patience"}


def name_runs(runs):
    """Give every unnamed run a readable, unique name.

    The name is the optimizer (or the problem's name for series), its
    explicit arguments, the schedule, then every other field whose value
    differs between the batch's runs, then the seed: `adam_lr0.001_s0`,
    `rmsprop_lr0.01_rho0.9_s0`, `sgd_lr0.01_bs64_s0`. A search trial's name
    starts with its number: `t03_momentum_lr0.01235_mom0.9123_s1`. The name
    without its seed is the run's `group`: the runs a seed aggregate averages.
    """
    varying = [key for key in ("problem", "model", "batch_size", "epochs", "steps", "average",
                               "divergence_factor", "divergence_patience", "dtype", "init", "order")
               if len({repr(getattr(r, key)) for r in runs}) > 1]
    for run in runs:
        if run.name:
            run.group = run.group or run.name
            continue
        head = run.optimizer or run.average or run.problem
        parts = [plugins.short_name(head["name"])]
        parts += [f"{_ABBREVIATIONS.get(k, k)}{_short(v)}" for k, v in head.items() if k != "name"]
        if run.schedule:
            parts.append(plugins.short_name(run.schedule["name"]))
            parts += [f"{_ABBREVIATIONS.get(k, k)}{_short(v)}" for k, v in run.schedule.items()
                      if k != "name"]
        for key in varying:
            if getattr(run, key) is None:  # e.g. `steps` of a run that counts epochs
                continue
            label = _short(getattr(run, key))
            if key in ("problem", "model", "dtype", "init", "order"):
                parts.append(label)
            elif key != "average":
                parts.append(f"{_ABBREVIATIONS.get(key, key)}{label}")
        if run.trial_id is not None:
            parts.insert(0, f"t{run.trial_id:02d}")
        run.group = re.sub(r"[^A-Za-z0-9_.=+-]", "", "_".join(parts)).lstrip(".-")
        run.name = f"{run.group}_s{run.seed}"
    seen = {}
    for run in runs:
        where = "" if run.index is None else f" (runs[{run.index}])"
        check_path_name(f"name of run{where}", run.name)  # made from its fields: may be too long
        check_path_name(f"name of run{where}", run.group)
        seen.setdefault(run.name, []).append(run)
    for name, same in seen.items():
        if len(same) > 1:
            raise ConfigError(f"two runs are both named {name!r}; give them different `name`s "
                              "or make them differ")
    return runs
