"""The benchmark verdict's numbers (`python -m experiments benchmark`): pure functions of the
runs' summaries (`benchmark.summarize`), no TensorFlow, no files.

A summary is one trial's run: {"optimizer", "problem", "study", "trial", "learning_rate",
"status", "metrics": final numbers, "curve": {"steps", "values", "seconds"} of the tier's
metric}. The protocol is `experiments.spec.tiers`'s:

* `studies`: each study's best trial (lowest final metric among its finished trials);
* `target`: what a problem's steps to target time, the median of the baselines' results;
* `outcome`: an optimizer on a problem, the median over studies of the best trial's final
  numbers and of its steps and seconds to the target (never reached: infinite);
* `expected_best`: tunability, the expected best final metric after n trials drawn without
  replacement from all its trials, exactly (no resampling noise): with the M values sorted,
  P(the best of n is the i-th) = C(M - i, n - 1) / C(M, n). A trial that did not finish counts
  as the worst value any run finished on that problem: "no better than the worst";
* `score`: AlgoPerf's benchmark score, the performance profile's integral over tau in [1, 4],
  divided by 3: 1 is the best time to target on every problem, 0 none reached;
* `sentence`: the verdict in words, against the best baseline.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from experiments.report import analysis


def final(summary, metric):
    value = (summary.get("metrics") or {}).get(metric)
    ok = summary.get("status") == "ok" and isinstance(value, (int, float)) and math.isfinite(value)
    return float(value) if ok else math.inf


def steps_to(summary, target):
    """(steps, seconds) at which the summary's curve first reaches `target` (min); inf if never."""
    curve = summary.get("curve") or {}
    points = analysis.Curve(np.asarray(curve.get("steps", []), np.float64),
                            np.asarray(curve.get("values", []), np.float64),
                            np.asarray(curve.get("seconds", []), np.float64))
    i = analysis.first_reached(points, target, "min") if target is not None else None
    if i is None or summary.get("status") not in ("ok", "diverged"):
        return math.inf, math.inf
    return float(points.steps[i]), float(points.seconds[i]) if len(points.seconds) > i else math.nan


def studies(summaries, metric):
    """{study: its best trial's summary (None: no trial finished)}."""
    out = {}
    for s in summaries:
        best = out.get(s["study"])
        if final(s, metric) < (math.inf if best is None else final(best, metric)):
            out[s["study"]] = s
        else:
            out.setdefault(s["study"], None)
    return out


@dataclasses.dataclass
class Outcome:
    """An optimizer on a problem: per study its best trial, and the medians over studies."""

    best: dict  # {study: summary or None}
    numbers: dict  # {metric: median over studies of the best trial's final value}
    steps: float  # median steps to target (inf: the median study never reached it)
    seconds: float
    per_study: dict  # {study: (final metric, steps to target)}


def outcome(summaries, metric, target):
    best = studies(summaries, metric)
    names = sorted({k for s in best.values() if s for k in s.get("metrics") or {}})
    numbers = {}
    for name in names:
        values = [final(s, name) if s else math.inf for s in best.values()]
        numbers[name] = float(np.median(values)) if values else math.inf
    timed = [steps_to(s, target) if s else (math.inf, math.inf) for s in best.values()]
    steps = float(np.median([t[0] for t in timed])) if timed else math.inf
    seconds = float(np.median([t[1] for t in timed])) if timed else math.inf
    per_study = {k: (final(s, metric) if s else math.inf, t[0]) for (k, s), t in zip(best.items(), timed)}
    return Outcome(best, numbers, steps, seconds, per_study)


def target(baselines, metric):
    """A problem's target: the median over the baselines (Outcomes) of their results, so that
    the middle baseline just reaches it in its median study; None if none finished."""
    finite = [o.numbers[metric] for o in baselines if math.isfinite(o.numbers.get(metric, math.inf))]
    return float(np.median(finite)) if finite else None


def expected_best(values, worst):
    """[E(best of n trials) for n = 1 .. M], the M `values` drawn without replacement; a
    non-finite value counts as `worst`."""
    v = np.sort([x if math.isfinite(x) else worst for x in values])
    m = len(v)
    out = []
    for n in range(1, m + 1):
        weights = np.array([math.comb(m - i, n - 1) for i in range(1, m + 1)], np.float64) / math.comb(m, n)
        out.append(float(np.dot(weights, v)))
    return out


def score(fractions, taus=analysis.TAUS):
    """A performance profile's integral over `taus`, divided by their span."""
    fractions = np.asarray(fractions, np.float64)
    area = float(np.sum((fractions[1:] + fractions[:-1]) / 2 * np.diff(taus)))
    return area / float(taus[-1] - taus[0])


def _span(outcome):
    finite = [value for value, _ in outcome.per_study.values()]
    return min(finite), max(finite)


def sentence(name, mine, baselines, metric, studies_count):
    """The verdict on one problem in words: `mine` (Outcome of optimizer `name`) against the best of
    `baselines` ({name: Outcome}, ranked by the median final metric)."""
    ranked = sorted(baselines.items(), key=lambda kv: kv[1].numbers.get(metric, math.inf))
    if not ranked:
        return f"{name}: no baseline to compare with."
    other, theirs = ranked[0]
    if not math.isfinite(mine.steps):
        reach = f"{name} did not reach the target in the median study"
        if math.isfinite(theirs.steps):
            reach += f"; {other} (the best baseline here) did, in {theirs.steps:.0f} steps"
    elif not math.isfinite(theirs.steps):
        reach = f"{name} reached the target in {mine.steps:.0f} steps; {other} (the best baseline here) did not"
    else:
        reach = (f"{name} reached the target in {mine.steps / theirs.steps:.2g}x the steps of {other} "
                 f"(the best baseline here)")
    (low, high), (other_low, other_high) = _span(mine), _span(theirs)
    label = metric.replace("_", " ")
    if not (math.isfinite(high) or math.isfinite(other_high)):
        noise = "no study of either finished"
    elif studies_count < 2:
        return f"{reach}; one study cannot tell a difference from noise (give --studies 2 or more)."
    elif high < other_low:
        noise = f"its {label} is better than {other}'s in every study"
    elif low > other_high:
        noise = f"its {label} is worse than {other}'s in every study"
    else:
        noise = f"the difference in {label} is within noise (the studies' ranges overlap)"
    return f"{reach}; over {studies_count} {'study' if studies_count == 1 else 'studies'}, {noise}."
