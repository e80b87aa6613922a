"""Which optimizer wins, and how sure we are: the numbers of `python -m experiments report`.

Pure functions of runs' records and curves (no TensorFlow, no files):

* `first_reached`: the first point of a curve (its step, epoch and second) at which it
  reaches a target;
* `default_target`: the worst final value among the finished runs, so that
  every finished run reaches it;
* `performance_profiles`: AlgoPerf's profiles, for each optimizer the
  fraction of problems it solves within tau x the best time to target;
* `paired`: two trials compared seed by seed (same seed: same batches and
  same initial weights), the mean difference with its 95 % interval from
  scipy's paired t-test, and how many seeds each wins.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

TAUS = np.linspace(1.0, 4.0, 61)
MIN_SEEDS = 2  # a paired interval needs at least this many seeds both runs finished


@dataclasses.dataclass
class Curve:
    """One run's curve of a metric: `steps[i]` training steps done when `values[i]` was
    measured, `seconds[i]` the training seconds then (NaN where unknown), `epochs[i]` the
    point's step on TensorBoard's axis for an `epoch_*` tag (the epoch's index from 0; None for
    curves logged per step)."""
    steps: np.ndarray
    values: np.ndarray
    seconds: np.ndarray
    epochs: np.ndarray | None = None


def reached(value, target, mode):
    return value <= target if mode == "min" else value >= target


def first_reached(curve, target, mode):
    """The index of the first point of `curve` at or past `target`; None if none."""
    for i, value in enumerate(curve.values):
        if math.isfinite(value) and reached(value, target, mode):
            return i
    return None




def default_target(finals, mode):
    """The worst of the finished runs' final values (each finished run reaches it); None if none."""
    finite = [v for v in finals if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return max(finite) if mode == "min" else min(finite)


def performance_profiles(times, taus=TAUS):
    """AlgoPerf's performance profiles. `times` is {workload: {optimizer: time to target, or
    inf if it never got there}}; an optimizer missing from a workload did not solve it.
    Returns {optimizer: fractions}, fractions[i] = the share of workloads whose time is at most
    taus[i] x that workload's best time."""
    optimizers = sorted({o for per in times.values() for o in per})
    ratios = {o: [] for o in optimizers}
    for per in times.values():
        best = min(per.values(), default=math.inf)
        for o in optimizers:
            t = per.get(o, math.inf)
            ratios[o].append(t / best if math.isfinite(best) and best > 0 and math.isfinite(t) else
                             1.0 if best == t == 0 else math.inf)
    return {o: np.array([np.mean([r <= tau for r in rs]) for tau in taus]) for o, rs in ratios.items()}


@dataclasses.dataclass
class Paired:
    """Trials `a` and `b` on one problem, seed by seed: `differences` = a - b of the metric on
    each seed both finished; `interval`: scipy's 95 % confidence interval of the mean
    difference (None under `MIN_SEEDS`); `wins`: seeds where each is better."""
    a: str
    b: str
    metric: str
    mode: str
    seeds: list
    differences: np.ndarray
    interval: tuple | None
    wins: tuple
    left_out: list  # seeds one of them did not finish

    @property
    def mean(self):
        return float(np.mean(self.differences)) if len(self.differences) else math.nan

    @property
    def clear(self):
        """Whether the 95 % interval leaves 0 out: one of the two is better."""
        return len(self.differences) >= MIN_SEEDS and not self.interval[0] <= 0 <= self.interval[1]

    def verdict(self):
        if len(self.differences) < MIN_SEEDS:
            return f"too few seeds to tell ({len(self.differences)} paired; {MIN_SEEDS} needed)"
        low, high = self.interval
        if low <= 0 <= high:
            return "no clear difference (the 95 % interval holds 0)"
        better = self.a if (high < 0) == (self.mode == "min") else self.b
        return f"{better} is better"


def paired(a, b, values_a, values_b, metric, mode):
    """Compare trial `a` with trial `b` on the seeds both have: `values_*` are {seed: metric
    value, NaN if the run did not finish}."""
    from scipy import stats

    common = sorted(set(values_a) & set(values_b))
    both = [s for s in common if math.isfinite(values_a[s]) and math.isfinite(values_b[s])]
    x = np.array([values_a[s] for s in both], np.float64)
    y = np.array([values_b[s] for s in both], np.float64)
    d = x - y
    interval = None
    if len(d) >= MIN_SEEDS:
        if np.all(d == d[0]):  # no spread: the interval is the difference itself
            interval = (float(d[0]), float(d[0]))
        else:
            ci = stats.ttest_rel(x, y).confidence_interval(0.95)
            interval = (float(ci.low), float(ci.high))
    better_a = int(np.sum(d < 0)) if mode == "min" else int(np.sum(d > 0))
    better_b = int(np.sum(d > 0)) if mode == "min" else int(np.sum(d < 0))
    return Paired(a, b, metric, mode, both, d, interval, (better_a, better_b),
                  [s for s in common if s not in both])
