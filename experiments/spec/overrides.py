"""Batch files' tables merged and assigned to: `[defaults]` under each run, `--set key=value`,
a search's sampled `space` values (`experiments.spec.config` reads the batch with them)."""

from __future__ import annotations

import re
import tomllib

from experiments.spec.validation import ConfigError, lookup


def merge(defaults, run):
    """`run` over `defaults`. Tables (problem, optimizer, log, ...) merge one
    level deep: defaults `optimizer = {learning_rate = 0.1}` and a run's
    `optimizer = {name = "sgd"}` give `{name = "sgd", learning_rate = 0.1}`."""
    merged = dict(defaults)
    for key, value in run.items():
        base = merged.get(key)
        if isinstance(base, str) and isinstance(value, dict) and "name" not in value:
            base = {"name": base}
        merged[key] = {**base, **value} if isinstance(base, dict) and isinstance(value, dict) else value
    return merged


def parse_assignment(text, fields):
    """`optimizer.learning_rate=0.01` -> (["optimizer", "learning_rate"], 0.01), the first key
    one of `fields`.

    The value is read as a TOML value (numbers, true/false, "strings",
    [lists], {tables}); anything TOML cannot read is taken as a bare string.
    """
    if "=" not in text:
        raise ConfigError(f"--set expects key=value. Received: {text!r}")
    key, raw = text.split("=", 1)
    keys = key.strip().split(".")
    if not all(re.fullmatch(r"\w+", k) for k in keys):
        raise ConfigError(f"--set: bad key {key.strip()!r} in {text!r}")
    lookup("field for --set", dict.fromkeys(fields), keys[0])
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return keys, value


def assign(run, keys, value, where="space"):
    """`run` with `run[keys[0]][keys[1]]... = value`; a name in the way becomes `{name = ...}`."""
    run = dict(run)
    if len(keys) == 1:
        run[keys[0]] = value
        return run
    table = run.get(keys[0])
    if table is not None and not isinstance(table, (str, dict)):
        raise ConfigError(f"`{where}`: `{keys[0]}` is not a table, so it has no `{keys[1]}`. "
                          f"Received: {keys[0]}={table!r}")
    table = {"name": table} if isinstance(table, str) else dict(table or {})
    run[keys[0]] = assign(table, keys[1:], value, where)
    return run
