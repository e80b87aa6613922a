"""Runs and batches as data: TOML files, `--set` overrides, readable run names.

A batch file looks like this (see `experiments/batches/*.toml`):

    [batch]
    name = "moons"
    reproduces = "SPEC experiment 3: ..."
    runtime = "about 6 minutes on 2 cores"
    expected = "training accuracy near 0.80 / 0.80 / 0.94"

    [defaults]                      # merged into every run (tables one level deep)
    problem = "moons"
    model = "moons_net"
    batch_size = 64
    epochs = 10000
    optimizer = { learning_rate = 0.0007 }

    [[runs]]
    optimizer = { name = "sgd" }

    [[runs]]
    optimizer = { name = "adam" }

The fields of a run are those of `Run`. `problem`, `model`, `optimizer`,
`schedule` and `average` are a name or a table `{name = ..., **arguments}`.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import re
import tomllib

from experiments.validation import ConfigError, check_int, lookup

BATCH_DIR = pathlib.Path(__file__).parent / "batches"

#: How a run logs; every key can be set per run as `log = {...}`.
LOG_DEFAULTS = {
    "every_epochs": None,  # scalars and validation every N epochs; None: about 100 per run
    "every_steps": None,  # per-step scalars every N steps; None: off
    "histograms": True,  # weights and slots, about 20 times per run
    "update_ratio": True,
    "decision_boundary": True,  # for problems with two input features
    "step_losses": True,  # keep every step's loss for the batch's loss figure
}


@dataclasses.dataclass
class Run:
    """One run: problem x model x optimizer x schedule x batch size x length x seed."""

    problem: dict
    optimizer: dict | None = None
    model: dict | None = None
    schedule: dict | None = None
    average: dict | None = None  # for `series` problems: {beta, bias_correction}
    batch_size: int | str = 64  # or "full"
    epochs: int | None = None
    steps: int | None = None
    seed: int = 0
    name: str | None = None
    log: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, values, where="run"):
        values = dict(values)
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in fields:
                lookup(f"field in {where}", dict.fromkeys(fields), key)
        if "problem" not in values:
            raise ConfigError(f"{where}: `problem` is required. Received fields: {sorted(values)}")
        for key in ("problem", "optimizer", "model", "schedule", "average"):
            if values.get(key) is not None:
                values[key] = _named_table(f"{where}.{key}", values[key])
        log = values.get("log", {})
        if not isinstance(log, dict):
            raise ConfigError(f"`{where}.log` must be a table. Received: log={log!r}")
        for key in log:
            lookup(f"log setting in {where}", LOG_DEFAULTS, key)
        values["log"] = {**LOG_DEFAULTS, **log}
        run = cls(**values)
        run.check(where)
        return run

    def check(self, where="run"):
        if self.batch_size != "full":
            check_int(f"{where}.batch_size", self.batch_size, minimum=1)
        for key in ("epochs", "steps"):
            if getattr(self, key) is not None:
                check_int(f"{where}.{key}", getattr(self, key), minimum=1)
        if self.epochs is not None and self.steps is not None:
            raise ConfigError(f"{where}: give `epochs` or `steps`, not both. "
                              f"Received: epochs={self.epochs}, steps={self.steps}")
        check_int(f"{where}.seed", self.seed, minimum=0)
        if self.name is not None and not re.fullmatch(r"[\w.=+-]+", str(self.name)):
            raise ConfigError(f"`{where}.name` may hold letters, digits and . = + - _ only. "
                              f"Received: name={self.name!r}")
        for key in ("every_epochs", "every_steps"):
            if self.log[key] is not None:
                check_int(f"{where}.log.{key}", self.log[key], minimum=1)
        for key in ("histograms", "update_ratio", "decision_boundary", "step_losses"):
            if not isinstance(self.log[key], bool):
                raise ConfigError(f"`{where}.log.{key}` must be true or false. "
                                  f"Received: {key}={self.log[key]!r}")

    def to_dict(self):
        return dataclasses.asdict(self)


def _named_table(where, value):
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, dict):
        if not isinstance(value.get("name"), str):
            raise ConfigError(f"`{where}` needs a `name`. Received: {where}={value!r}")
        return dict(value)
    raise ConfigError(f"`{where}` must be a name or a table with a `name`. Received: {where}={value!r}")


@dataclasses.dataclass
class Batch:
    """A list of runs plus what they reproduce, how long they take, what to expect."""

    name: str
    runs: list[Run]
    reproduces: str = ""
    runtime: str = ""
    expected: str = ""
    source: str = "python"

    def header(self):
        return {"name": self.name, "reproduces": self.reproduces, "runtime": self.runtime,
                "expected": self.expected, "source": self.source}


def builtin_batches():
    """name -> path of the batches that ship with the suite."""
    return {path.stem: path for path in sorted(BATCH_DIR.glob("*.toml"))}


def load_batch(name_or_path, overrides=()):
    """Read a built-in batch by name, or a TOML file by path; apply `--set` overrides."""
    path = pathlib.Path(name_or_path)
    if not (path.suffix == ".toml" or path.exists()):
        path = lookup("batch", builtin_batches(), name_or_path)
    if not path.is_file():
        raise ConfigError(f"batch file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"batch file {str(path)!r} is not valid TOML: {error}") from None
    return parse_batch(data, source=str(path), default_name=path.stem, overrides=overrides)


def parse_batch(data, source="python", default_name="batch", overrides=()):
    for key in data:
        lookup("section in batch file", {"batch": 0, "defaults": 0, "runs": 0}, key)
    header = data.get("batch", {})
    for key in header:
        lookup("key in [batch]", {"name": 0, "reproduces": 0, "runtime": 0, "expected": 0}, key)
    name = header.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[\w.-]+", name):
        raise ConfigError(f"`batch.name` may hold letters, digits and . - _ only. Received: name={name!r}")
    defaults = data.get("defaults", {})
    raw_runs = data.get("runs", [])
    if not isinstance(raw_runs, list) or not raw_runs:
        raise ConfigError(f"{source}: a batch needs at least one [[runs]] entry")
    assignments = [parse_assignment(text) for text in overrides]
    runs = []
    for i, raw in enumerate(raw_runs):
        merged = merge(defaults, raw)
        for keys, value in assignments:
            merged = assign(merged, keys, value)
        runs.append(Run.from_dict(merged, where=f"runs[{i}]"))
    name_runs(runs)
    return Batch(name, runs, header.get("reproduces", ""), header.get("runtime", ""),
                 header.get("expected", ""), source)


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


def parse_assignment(text):
    """`optimizer.learning_rate=0.01` -> (["optimizer", "learning_rate"], 0.01).

    The value is read as a TOML value (numbers, true/false, "strings",
    [lists], {tables}); anything TOML cannot read is taken as a bare string.
    """
    if "=" not in text:
        raise ConfigError(f"--set expects key=value. Received: {text!r}")
    key, raw = text.split("=", 1)
    keys = key.strip().split(".")
    if not all(re.fullmatch(r"\w+", k) for k in keys):
        raise ConfigError(f"--set: bad key {key.strip()!r} in {text!r}")
    fields = {f.name for f in dataclasses.fields(Run)}
    lookup("field for --set", dict.fromkeys(fields), keys[0])
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return keys, value


def assign(run, keys, value):
    run = dict(run)
    if len(keys) == 1:
        run[keys[0]] = value
        return run
    table = run.get(keys[0])
    table = {"name": table} if isinstance(table, str) else dict(table or {})
    run[keys[0]] = assign(table, keys[1:], value)
    return run


def _short(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):  # {name = "digits", normalize = true} -> digits-normalizetrue
        return "-".join([str(value.get("name", ""))]
                        + [f"{k}{_short(v)}" for k, v in value.items() if k != "name"])
    if isinstance(value, (list, tuple)):
        return "x".join(_short(v) for v in value)
    return str(value)


_ABBREVIATIONS = {"learning_rate": "lr", "momentum": "mom", "batch_size": "bs", "epsilon": "eps",
                  "initial_learning_rate": "lr0", "bias_correction": "bc"}


def name_runs(runs):
    """Give every unnamed run a readable, unique name.

    The name is the optimizer (or the problem's name for series), its
    explicit arguments, the schedule, then every other field whose value
    differs between the batch's runs, then the seed: `adam_lr0.001_s0`,
    `rmsprop_lr0.01_rho0.9_s0`, `sgd_lr0.01_bs64_s0`.
    """
    varying = [key for key in ("problem", "model", "batch_size", "epochs", "steps", "average")
               if len({repr(getattr(r, key)) for r in runs}) > 1]
    for run in runs:
        if run.name:
            continue
        head = run.optimizer or run.average or run.problem
        parts = [head["name"]]
        parts += [f"{_ABBREVIATIONS.get(k, k)}{_short(v)}" for k, v in head.items() if k != "name"]
        if run.schedule:
            parts.append(run.schedule["name"])
            parts += [f"{_ABBREVIATIONS.get(k, k)}{_short(v)}" for k, v in run.schedule.items()
                      if k != "name"]
        for key in varying:
            if getattr(run, key) is None:  # e.g. `steps` of a run that counts epochs
                continue
            label = _short(getattr(run, key))
            if key in ("problem", "model"):
                parts.append(label)
            elif key != "average":
                parts.append(f"{_ABBREVIATIONS.get(key, key)}{label}")
        parts.append(f"s{run.seed}")
        run.name = re.sub(r"[^\w.=+-]", "", "_".join(parts))
    seen = {}
    for run in runs:
        seen.setdefault(run.name, []).append(run)
    for name, same in seen.items():
        if len(same) > 1:
            raise ConfigError(f"two runs are both named {name!r}; give them different `name`s "
                              "or make them differ")
    return runs


def steps_per_epoch(run, train_size):
    size = train_size if run.batch_size == "full" else min(run.batch_size, train_size)
    return math.ceil(train_size / size)
