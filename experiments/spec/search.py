"""Hyperparameter search as data: spaces, strategies, rounds.

A run of a batch file becomes a search when it has a `space`: dotted field
names (as for `--set`) mapped to a distribution. A `[search]` section says
how to sample it:

    [search]
    strategy = "coarse_to_fine"   # "grid", "random" or "coarse_to_fine"
    trials = 8                    # per round (random, coarse_to_fine)
    rounds = 2                    # coarse_to_fine (its default: 2)
    keep = 2                      # coarse_to_fine: best trials that set the next round's ranges
                                  # (default: a quarter of `trials`)
    points = 5                    # grid: values per numeric dimension
    seed = 0                      # sampling seed
    metric = "validation_loss"    # what "best" means: a final metric, or best/<metric>
    mode = "min"                  # or "max"; default: max for accuracies, else min

    [[runs]]
    optimizer = { name = "momentum" }
    seeds = [0, 1]                # every trial runs once per seed
    [runs.space]
    "optimizer.learning_rate" = { log_uniform = [1e-4, 1.0] }
    "optimizer.momentum" = { one_minus_log = [0.8, 0.999] }   # 1 - 10^r, r uniform
    "batch_size" = { choice = [32, 64, 128] }
    "model.hidden" = { int = [16, 256] }

Each distribution is uniform on its own scale (`Dimension.forward`):
`log_uniform` on log10(x), `one_minus_log` on log10(1 - x) (the material's
`beta = 1 - 10^r`), `uniform` and `int` on x, `choice` over its values.
Coarse-to-fine narrows every dimension, on that scale, to the span of the
`keep` best trials of the round before, widened by a tenth of the old range
on each side and clipped to it; `choice` keeps the values those trials used.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np

from experiments.spec.validation import ConfigError, check_int, lookup

#: Sampled floats keep this many significant digits: readable names, exact reruns.
DIGITS = 4
#: Coarse-to-fine pads the kept trials' span by this fraction of the old range.
PAD = 0.1


def _round(value):
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{DIGITS}g}")


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched field: `kind` is a key of DISTRIBUTIONS; `low`/`high` or `values`."""

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    values: tuple = ()

    # the scale on which the dimension is uniform
    def forward(self, x):
        if self.kind == "log_uniform":
            return math.log10(x)
        if self.kind == "one_minus_log":
            return math.log10(1.0 - x)
        return float(x)

    def inverse(self, u):
        if self.kind == "log_uniform":
            return 10.0**u
        if self.kind == "one_minus_log":
            return 1.0 - 10.0**u
        return u

    def backward(self, u):
        """The value at `u` on the uniform scale: rounded, and kept inside [low, high]."""
        if self.kind == "int":
            return int(min(max(round(u), self.low), self.high))
        return min(max(_round(self.inverse(u)), self.low), self.high)

    def bounds(self):
        """(low, high) on the uniform scale (one_minus_log flips the order)."""
        a, b = self.forward(self.low), self.forward(self.high)
        return min(a, b), max(a, b)

    def sample(self, rng):
        if self.kind == "choice":
            return self.values[rng.integers(len(self.values))]
        if self.kind == "int":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        low, high = self.bounds()
        return self.backward(rng.uniform(low, high))

    def grid(self, points):
        if self.kind == "choice":
            return list(self.values)
        if self.kind == "int":
            return sorted({int(round(v)) for v in np.linspace(self.low, self.high, points)})
        low, high = self.bounds()
        return sorted({self.backward(u) for u in np.linspace(low, high, points)})

    def corners(self):
        """The values a run is checked with before anything trains."""
        return list(self.values) if self.kind == "choice" else [self.low, self.high]

    def narrow(self, kept_values):
        """This dimension cut down to the span of `kept_values` (coarse-to-fine)."""
        if self.kind == "choice":
            return dataclasses.replace(self, values=tuple(v for v in self.values if v in kept_values))
        low, high = self.bounds()
        pad = PAD * (high - low)
        us = [self.forward(v) for v in kept_values]
        u_low, u_high = max(low, min(us) - pad), min(high, max(us) + pad)
        if self.kind == "int":
            return dataclasses.replace(self, low=max(int(self.low), math.floor(u_low)),
                                       high=min(int(self.high), math.ceil(u_high)))
        a, b = sorted((self.inverse(u_low), self.inverse(u_high)))
        return dataclasses.replace(self, low=max(a, self.low), high=min(b, self.high))

    def describe(self):
        if self.kind == "choice":
            return {self.kind: list(self.values)}
        return {self.kind: [self.low, self.high]}


def _pair(where, args, kind):
    if (not isinstance(args, list) or len(args) != 2
            or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)):
        raise ConfigError(f"`{where}` must be {{{kind} = [low, high]}} with two numbers. "
                          f"Received: {kind}={args!r}")
    low, high = args
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigError(f"`{where}` needs low < high. Received: {kind}={args!r}")
    return low, high


def _log_uniform(where, args):
    low, high = _pair(where, args, "log_uniform")
    if low <= 0:
        raise ConfigError(f"`{where}`: log_uniform needs 0 < low < high. Received: log_uniform={args!r}")
    return Dimension(where, "log_uniform", float(low), float(high))


def _uniform(where, args):
    low, high = _pair(where, args, "uniform")
    return Dimension(where, "uniform", float(low), float(high))


def _one_minus_log(where, args):
    low, high = _pair(where, args, "one_minus_log")
    if low < 0 or high >= 1:
        raise ConfigError(f"`{where}`: one_minus_log (1 - 10^r, for betas) needs 0 <= low < high < 1. "
                          f"Received: one_minus_log={args!r}")
    return Dimension(where, "one_minus_log", float(low), float(high))


def _int(where, args):
    low, high = _pair(where, args, "int")
    if not all(isinstance(a, int) for a in args):
        raise ConfigError(f"`{where}`: int needs two integers. Received: int={args!r}")
    return Dimension(where, "int", low, high)


def _choice(where, args):
    if not isinstance(args, list) or not args:
        raise ConfigError(f"`{where}`: choice needs a non-empty list. Received: choice={args!r}")
    if len({repr(a) for a in args}) != len(args):
        raise ConfigError(f"`{where}`: choice lists a value twice. Received: choice={args!r}")
    return Dimension(where, "choice", values=tuple(args))


DISTRIBUTIONS = {"log_uniform": _log_uniform, "uniform": _uniform, "one_minus_log": _one_minus_log,
                 "int": _int, "choice": _choice}

#: Fields a space may not search: they name or multiply runs rather than configure one.
UNSEARCHABLE = ("name", "seed", "seeds", "space", "log")


def parse_space(where, space, fields):
    """{dotted key: {distribution = args}} -> [Dimension], checked."""
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"`{where}` must be a table of `\"field.key\" = {{distribution = ...}}`. "
                          f"Received: space={space!r}")
    dimensions = []
    for key, spec in space.items():
        head = key.split(".")[0]
        lookup(f"field in {where}", dict.fromkeys(f for f in fields if f not in UNSEARCHABLE), head)
        label = f"{where}.{key}"
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ConfigError(f"`{label}` must be one distribution, e.g. {{log_uniform = [1e-4, 1.0]}}. "
                              f"Received: {spec!r}")
        (kind, args), = spec.items()
        dimension = lookup(f"distribution in {label}", DISTRIBUTIONS, kind)(label, args)
        dimensions.append(dataclasses.replace(dimension, key=key))
    return dimensions


@dataclasses.dataclass
class Search:
    """How a batch's spaces are sampled; see the module docstring."""

    strategy: str = "random"
    trials: int = 8
    rounds: int = 1
    keep: int = 3
    points: int = 5
    seed: int = 0
    metric: str | None = None
    mode: str | None = None

    @classmethod
    def from_dict(cls, values):
        values = dict(values or {})
        for key in values:
            lookup("key in [search]", dict.fromkeys(f.name for f in dataclasses.fields(cls)), key)
        search = cls(**values)
        lookup("search strategy", STRATEGIES, search.strategy)
        for key, minimum in (("trials", 1), ("rounds", 1), ("keep", 1), ("points", 2), ("seed", 0)):
            check_int(f"search.{key}", getattr(search, key), minimum=minimum)
        if search.rounds > 1 and search.strategy != "coarse_to_fine":
            raise ConfigError(f"`search.rounds` applies to strategy \"coarse_to_fine\" only. "
                              f"Received: strategy={search.strategy!r}, rounds={search.rounds}")
        if search.strategy == "coarse_to_fine" and "rounds" not in values:
            search.rounds = 2
        if "keep" not in values:
            search.keep = max(1, search.trials // 4)
        if search.keep > search.trials:
            raise ConfigError(f"`search.keep` must be at most `search.trials`. "
                              f"Received: keep={search.keep}, trials={search.trials}")
        if search.metric is not None and not isinstance(search.metric, str):
            raise ConfigError(f"`search.metric` must be a metric name. Received: metric={search.metric!r}")
        if search.mode is not None:
            lookup("search.mode", {"min": 0, "max": 0}, search.mode)
        return search

    def count(self, dimensions):
        """How many trials a round samples over `dimensions` (without making them)."""
        return self.points ** len(dimensions) if self.strategy == "grid" else self.trials

    def mode_for(self, metric):
        return self.mode or default_mode(metric)

    def sample(self, dimensions, template, round_index):
        """The trials of one round: a list of {dotted key: value}."""
        if self.strategy == "grid":
            axes = [d.grid(self.points) for d in dimensions]
            return [dict(zip([d.key for d in dimensions], values)) for values in itertools.product(*axes)]
        rng = np.random.default_rng([self.seed, template, round_index])
        return [{d.key: d.sample(rng) for d in dimensions} for _ in range(self.trials)]


STRATEGIES = {"grid": 0, "random": 0, "coarse_to_fine": 0}


def default_mode(metric):
    return "max" if "accuracy" in metric else "min"


def narrow(dimensions, kept_trials):
    """The next round's dimensions from the kept trials' values."""
    return [d.narrow([trial[d.key] for trial in kept_trials]) for d in dimensions]

