"""The report's numbers on small, known inputs, each against a computation written here."""

import math

import numpy as np
import pytest
from scipy import stats

from experiments.report import analysis


def curve(values, steps=None, seconds=None):
    steps = np.arange(len(values)) if steps is None else np.array(steps)
    seconds = np.full(len(values), math.nan) if seconds is None else np.array(seconds, float)
    return analysis.Curve(steps, np.array(values, float), seconds)


def time_to_target(c, target, mode):
    """(step, seconds) of `first_reached`'s point; (None, None) if none."""
    i = analysis.first_reached(c, target, mode)
    return (None, None) if i is None else (int(c.steps[i]), float(c.seconds[i]))


def test_time_to_target_is_the_first_point_at_or_past_it():
    c = curve([5.0, 3.0, math.nan, 1.0, 0.5, 2.0], steps=[9, 18, 27, 36, 45, 54],
              seconds=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert time_to_target(c, 1.0, "min") == (36, 0.4)  # reached exactly counts
    assert time_to_target(c, 3.5, "min") == (18, 0.2)
    assert time_to_target(c, 0.1, "min") == (None, None)
    accuracy = curve([0.2, 0.5, 0.9, 0.8])
    assert time_to_target(accuracy, 0.85, "max")[0] == 2
    assert time_to_target(curve([math.nan, math.nan]), 1.0, "min") == (None, None)


def test_the_default_target_is_the_worst_final_value():
    assert analysis.default_target([0.3, 0.1, math.nan, 0.2], "min") == 0.3
    assert analysis.default_target([0.93, 0.97], "max") == 0.93
    assert analysis.default_target([math.nan], "min") is None


def test_performance_profiles_as_algoperf_defines_them():
    times = {"w1": {"a": 10, "b": 20},
             "w2": {"a": 30, "b": 15, "c": math.inf},
             "w3": {"a": 5}}  # b and c did not run w3: unsolved there
    taus = np.array([1.0, 1.5, 2.0, 4.0])
    profiles = analysis.performance_profiles(times, taus)
    # ratios to each workload's best: a [1, 2, 1], b [2, 1, inf], c [inf, inf, inf]
    ratios = {"a": [1, 2, 1], "b": [2, 1, math.inf], "c": [math.inf] * 3}
    for name, rs in ratios.items():
        expected = [sum(r <= tau for r in rs) / 3 for tau in taus]
        np.testing.assert_allclose(profiles[name], expected)
    np.testing.assert_allclose(profiles["a"], [2 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(profiles["b"], [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert not profiles["c"].any()


def test_a_workload_nobody_solved_counts_for_no_one():
    profiles = analysis.performance_profiles({"w1": {"a": math.inf, "b": math.inf}, "w2": {"a": 4, "b": 8}},
                                             np.array([1.0, 2.0]))
    np.testing.assert_allclose(profiles["a"], [0.5, 0.5])
    np.testing.assert_allclose(profiles["b"], [0.0, 0.5])


def test_paired_comparison_against_the_t_interval_written_out():
    a = {0: 0.30, 1: 0.25, 2: 0.41, 3: 0.33, 4: math.nan}  # seed 4 of a diverged
    b = {0: 0.35, 1: 0.27, 2: 0.40, 3: 0.39, 4: 0.31, 5: 0.2}  # seed 5 only in b
    p = analysis.paired("a", "b", a, b, "validation_loss", "min")
    d = np.array([0.30 - 0.35, 0.25 - 0.27, 0.41 - 0.40, 0.33 - 0.39])
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    assert p.seeds == [0, 1, 2, 3] and p.left_out == [4]
    np.testing.assert_allclose(p.differences, d)
    assert p.mean == pytest.approx(d.mean())
    assert p.interval == pytest.approx((d.mean() - half, d.mean() + half))
    assert p.wins == (3, 1)  # lower is better: a wins seeds 0, 1, 3
    assert p.verdict().startswith("no clear difference") and not p.clear  # the interval holds 0 with these four
    clear = analysis.paired("a", "b", {s: 0.1 + 0.01 * s for s in range(5)},
                            {s: 0.3 + 0.012 * s for s in range(5)}, "validation_loss", "min")
    assert clear.interval[1] < 0 and clear.verdict() == "a is better" and clear.wins == (5, 0) and clear.clear
    accuracy = analysis.paired("a", "b", {0: 0.9, 1: 0.91, 2: 0.92}, {0: 0.95, 1: 0.955, 2: 0.97},
                               "validation_accuracy", "max")
    assert accuracy.verdict() == "b is better" and accuracy.wins == (0, 3)


def test_too_few_seeds_are_said_and_identical_seeds_have_no_spread():
    few = analysis.paired("a", "b", {0: 0.1}, {0: 0.2}, "loss", "min")
    assert few.interval is None and few.verdict().startswith("too few seeds to tell (1 paired")
    same = analysis.paired("a", "b", {0: 0.1, 1: 0.1}, {0: 0.3, 1: 0.3}, "loss", "min")
    assert same.interval == pytest.approx((-0.2, -0.2)) and same.verdict() == "a is better"


def test_the_printed_gist_counts_a_searchs_many_pairs_and_lists_a_few():
    from experiments.report import verdict

    def pair(a, b, gap):  # gap 0: noise around one mean; else a is clearly better
        return analysis.paired(a, b, {s: 0.1 + 0.01 * (s % 2) for s in range(4)},
                               {s: 0.1 + gap + 0.01 * ((s + 1) % 2) for s in range(4)}, "validation_loss", "min")

    few = [("w1", pair("t0", "t1", 0.2)), ("w1", pair("t0", "t2", 0.0))]
    many = [("w2", pair(f"t{i}", f"t{j}", 0.2 if i == 0 else 0.0)) for i in range(4) for j in range(i + 1, 5)]
    lines = verdict.short({"timed": {}, "profiles": None, "comparisons": few + many, "unfinished": []}).splitlines()
    assert lines[:2] == ["w1: t0 vs t1 on validation_loss: t0 is better",
                         "w1: t0 vs t2 on validation_loss: no clear difference (the 95 % interval holds 0)"]
    assert lines[2:] == ["w2: 10 pairs of trials compared on validation_loss over seeds: 4 clear difference(s), "
                         "6 not clear; each pair is in report.md"]
