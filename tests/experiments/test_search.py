"""Search spaces, strategies, seeds and the ranking: checked without training anything."""

import math

import numpy as np
import pytest

from experiments.report import ranking
from experiments.spec import config, search
from experiments.spec.validation import ConfigError

FIELDS = config.Run.fields()


def dims(space):
    return search.parse_space("runs[0].space", space, FIELDS)


def sample(space, n=4000, seed=0):
    dimension, = dims(space)
    rng = np.random.default_rng(seed)
    return np.array([dimension.sample(rng) for _ in range(n)])


# --- distributions ---------------------------------------------------------


def test_log_uniform_is_uniform_in_the_exponent():
    values = sample({"optimizer.learning_rate": {"log_uniform": [1e-4, 1.0]}})
    assert values.min() >= 1e-4 and values.max() <= 1.0
    counts = np.histogram(np.log10(values), bins=[-4, -3, -2, -1, 0])[0] / len(values)
    np.testing.assert_allclose(counts, 0.25, atol=0.03)  # one decade each, as r ~ U[-4, 0]


def test_one_minus_log_samples_beta_as_one_minus_ten_to_r():
    values = sample({"optimizer.momentum": {"one_minus_log": [0.9, 0.999]}})
    assert values.min() >= 0.9 and values.max() <= 0.999
    r = np.log10(1 - values)  # r in [-3, -1], uniform
    counts = np.histogram(r, bins=[-3, -2, -1])[0] / len(values)
    np.testing.assert_allclose(counts, 0.5, atol=0.03)
    assert np.mean(values > 0.99) == pytest.approx(0.5, abs=0.03)  # a uniform beta would give 0.09


def test_uniform_int_and_choice():
    values = sample({"optimizer.momentum": {"uniform": [0.2, 0.6]}})
    assert values.min() >= 0.2 and values.max() <= 0.6
    assert np.mean(values < 0.4) == pytest.approx(0.5, abs=0.03)
    ints = sample({"model.hidden": {"int": [3, 6]}}, n=400)
    assert set(ints.tolist()) == {3, 4, 5, 6}
    choices = sample({"batch_size": {"choice": [32, 64, 128]}}, n=300)
    assert set(choices.tolist()) == {32, 64, 128}


def test_sampled_floats_keep_four_significant_digits_and_stay_inside():
    dimension, = dims({"optimizer.momentum": {"one_minus_log": [0.9, 0.9999]}})
    rng = np.random.default_rng(1)
    for _ in range(2000):
        value = dimension.sample(rng)
        assert 0.9 <= value <= 0.9999  # rounding never gives beta = 1
        assert float(f"{value:.4g}") == value


@pytest.mark.parametrize("space, message", [
    ({"optimizer.learning_rate": {"log_uniform": [0.0, 1.0]}},
     "log_uniform needs 0 < low < high. Received: log_uniform=[0.0, 1.0]"),
    ({"optimizer.learning_rate": {"log_uniform": [1.0, 0.1]}}, "needs low < high. Received: log_uniform=[1.0, 0.1]"),
    ({"optimizer.learning_rate": {"log_uniform": [1e-3]}}, "with two numbers. Received: log_uniform=[0.001]"),
    ({"optimizer.learning_rate": {"uniform": ["a", 1]}}, "with two numbers. Received: uniform=['a', 1]"),
    ({"optimizer.momentum": {"one_minus_log": [0.9, 1.0]}},
     "needs 0 <= low < high < 1. Received: one_minus_log=[0.9, 1.0]"),
    ({"model.hidden": {"int": [1.5, 3]}}, "int needs two integers. Received: int=[1.5, 3]"),
    ({"batch_size": {"choice": []}}, "choice needs a non-empty list. Received: choice=[]"),
    ({"batch_size": {"choice": [32, 32]}}, "choice lists a value twice"),
    ({"optimizer.learning_rate": {"log_unform": [1e-4, 1]}},
     "Unknown distribution in runs[0].space.optimizer.learning_rate 'log_unform'. Did you mean 'log_uniform'?"),
    ({"optimizer.learning_rate": {"log_uniform": [1e-4, 1], "uniform": [0, 1]}}, "must be one distribution"),
    ({"optimizer.learning_rate": 0.1}, "must be one distribution, e.g. {log_uniform = [1e-4, 1.0]}. Received: 0.1"),
    ({"seed": {"int": [0, 9]}}, "Unknown field in runs[0].space 'seed'"),
    ({"optimzer.learning_rate": {"log_uniform": [1e-4, 1]}}, "Did you mean 'optimizer'?"),
])
def test_bad_spaces_are_named(space, message):
    with pytest.raises(ConfigError) as error:
        dims(space)
    assert message in str(error.value)


# --- strategies ------------------------------------------------------------


def test_random_search_is_reproducible_and_seeded():
    plan = search.Search.from_dict({"strategy": "random", "trials": 5, "seed": 3})
    space = dims({"optimizer.learning_rate": {"log_uniform": [1e-4, 1.0]}})
    first, again = plan.sample(space, 0, 1), plan.sample(space, 0, 1)
    assert first == again and len(first) == 5
    other = search.Search.from_dict({"strategy": "random", "trials": 5, "seed": 4}).sample(space, 0, 1)
    assert other != first
    assert plan.sample(space, 1, 1) != first  # each [[runs]] entry gets its own stream


def test_grid_is_the_product_of_evenly_spaced_axes():
    plan = search.Search.from_dict({"strategy": "grid", "points": 3})
    space = dims({"optimizer.learning_rate": {"log_uniform": [1e-4, 1.0]},
                  "batch_size": {"choice": [32, 64]}})
    trials = plan.sample(space, 0, 1)
    assert trials == [{"optimizer.learning_rate": lr, "batch_size": bs}
                      for lr in (1e-4, 1e-2, 1.0) for bs in (32, 64)]


def test_narrowing_is_the_kept_span_padded_by_a_tenth_on_the_log_scale():
    lr, beta, hidden, act = dims({"optimizer.learning_rate": {"log_uniform": [1e-4, 1.0]},
                                  "optimizer.momentum": {"one_minus_log": [0.9, 0.999]},
                                  "model.hidden": {"int": [10, 110]},
                                  "model.activation": {"choice": ["relu", "tanh", "gelu"]}})
    kept = [{lr.key: 1e-3, beta.key: 0.99, hidden.key: 40, act.key: "tanh"},
            {lr.key: 1e-2, beta.key: 0.999, hidden.key: 50, act.key: "relu"}]
    new_lr, new_beta, new_hidden, new_act = search.narrow([lr, beta, hidden, act], kept)
    # log10 range 4 wide: pad 0.4 around [-3, -2]
    assert new_lr.low == pytest.approx(10**-3.4) and new_lr.high == pytest.approx(10**-1.6)
    # log10(1 - beta) in [-3, -1]: kept [-3, -2], pad 0.2, clipped at -3 (beta <= 0.999)
    assert new_beta.low == pytest.approx(1 - 10**-1.8) and new_beta.high == pytest.approx(0.999)
    assert (new_hidden.low, new_hidden.high) == (30, 60)  # [40, 50] padded by 10
    assert new_act.values == ("relu", "tanh")
    rng = np.random.default_rng(0)
    assert all(10**-3.4 <= new_lr.sample(rng) <= 10**-1.6 for _ in range(200))


@pytest.mark.parametrize("settings, message", [
    ({"strategy": "bayes"}, "Unknown search strategy 'bayes'"),
    ({"strategy": "random", "rounds": 2}, "`search.rounds` applies to strategy \"coarse_to_fine\" only"),
    ({"trials": 2, "keep": 3}, "`search.keep` must be at most `search.trials`. Received: keep=3, trials=2"),
    ({"trials": 0}, "`search.trials` must be an integer >= 1. Received: search.trials=0"),
    ({"strategy": "grid", "points": 1}, "`search.points` must be an integer >= 2. Received: search.points=1"),
    ({"mode": "maximum"}, "Unknown search.mode 'maximum'"),
    ({"trails": 4}, "Unknown key in [search] 'trails'. Did you mean 'trials'?"),
    ({"metric": 3}, "`search.metric` must be a metric name. Received: metric=3"),
])
def test_bad_search_settings(settings, message):
    with pytest.raises(ConfigError) as error:
        search.Search.from_dict(settings)
    assert message in str(error.value)


def test_coarse_to_fine_defaults():
    plan = search.Search.from_dict({"strategy": "coarse_to_fine", "trials": 12})
    assert (plan.rounds, plan.keep) == (2, 3)


# --- batches with seeds and spaces -----------------------------------------

BASE = {"problem": "digits", "model": "softmax_regression", "steps": 5}


def test_seeds_make_one_run_per_seed_in_one_group():
    batch = config.parse_batch({"defaults": BASE, "runs": [
        {"optimizer": "sgd", "seeds": [0, 1, 2]}, {"optimizer": "adam", "name": "mine", "seeds": [4, 5]}]})
    assert [r.name for r in batch.runs] == ["sgd_s0", "sgd_s1", "sgd_s2", "mine_s4", "mine_s5"]
    assert [r.group for r in batch.runs] == ["sgd"] * 3 + ["mine"] * 2
    assert [r.seed for r in batch.runs] == [0, 1, 2, 4, 5]
    assert batch.search is None


def test_seeds_from_the_command_line():
    batch = config.load_batch("mnist", overrides=["seeds=[0, 1]", "steps=10"])
    assert len(batch.runs) == 10 and {r.seed for r in batch.runs} == {0, 1}
    assert len({r.group for r in batch.runs}) == 5


@pytest.mark.parametrize("run, message", [
    ({"seeds": 3}, "`runs[0].seeds` must be a non-empty list of integers. Received: seeds=3"),
    ({"seeds": []}, "`runs[0].seeds` must be a non-empty list of integers. Received: seeds=[]"),
    ({"seeds": [0, -1]}, "`runs[0].seeds` must be an integer in [0, 4294967295]. Received: runs[0].seeds=-1"),
    ({"seeds": [1, 1]}, "`runs[0].seeds` lists a seed twice. Received: seeds=[1, 1]"),
    ({"seeds": [1], "seed": 2}, "runs[0]: give `seed` or `seeds`, not both"),
    ({"space": {}}, "`runs[0].space` must be a table"),
    ({"space": {"batch_size": {"choice": [0, 64]}}},
     "runs[0].space.batch_size = 0: `runs[0].batch_size` must be an integer >= 1. Received: runs[0].batch_size=0"),
])
def test_bad_seeds_and_spaces_in_a_batch(run, message):
    with pytest.raises(ConfigError) as error:
        config.parse_batch({"defaults": BASE, "runs": [{"optimizer": "sgd", **run}]})
    assert message in str(error.value)


def test_a_search_section_needs_a_space():
    with pytest.raises(ConfigError, match=r"\[search\] needs a `space`"):
        config.parse_batch({"search": {"trials": 3}, "defaults": BASE, "runs": [{"optimizer": "sgd"}]})


def test_a_space_without_search_section_is_a_random_search():
    batch = config.parse_batch({"defaults": BASE, "runs": [
        {"optimizer": "sgd", "seeds": [0, 1],
         "space": {"optimizer.learning_rate": {"log_uniform": [1e-3, 1.0]}}}]})
    assert batch.search.strategy == "random" and len(batch.runs) == 8 * 2
    first = batch.runs[0]
    assert first.name.startswith("t00_sgd_lr") and first.name.endswith("_s0")
    assert first.optimizer["learning_rate"] == first.trial["optimizer.learning_rate"]
    assert batch.runs[1].trial == first.trial and batch.runs[1].group == first.group
    assert [p.optimizer["learning_rate"] for _, p in batch.probes] == [1e-3, 1.0]


def test_search_runs_spaces_merge_with_defaults():
    batch = config.parse_batch({
        "search": {"strategy": "grid", "points": 2},
        "defaults": {**BASE, "space": {"optimizer.learning_rate": {"log_uniform": [1e-2, 1.0]}}},
        "runs": [{"optimizer": "sgd"},
                 {"optimizer": "momentum", "space": {"optimizer.momentum": {"choice": [0.5, 0.9]}}}]})
    assert [r.trial for r in batch.runs] == [
        {"optimizer.learning_rate": 0.01}, {"optimizer.learning_rate": 1.0},
        {"optimizer.learning_rate": 0.01, "optimizer.momentum": 0.5},
        {"optimizer.learning_rate": 0.01, "optimizer.momentum": 0.9},
        {"optimizer.learning_rate": 1.0, "optimizer.momentum": 0.5},
        {"optimizer.learning_rate": 1.0, "optimizer.momentum": 0.9}]
    assert [r.trial_id for r in batch.runs] == [0, 1, 2, 3, 4, 5]


def test_internal_fields_are_not_user_fields():
    with pytest.raises(ConfigError, match="Unknown field in runs\\[0\\] 'group'"):
        config.parse_batch({"defaults": BASE, "runs": [{"optimizer": "sgd", "group": "x"}]})


def test_lr_search_batch_reproduces_the_material():
    batch = config.load_batch("lr_search")
    momentum, adam = batch.templates
    lr, beta = momentum.dimensions
    assert (lr.kind, lr.low, lr.high) == ("log_uniform", 1e-4, 1.0)  # r ~ U[-4, 0]
    assert (beta.kind, beta.bounds()) == ("one_minus_log", pytest.approx((-3.0, -1.0)))  # 1 - 10^r, r in [-3, -1]
    assert batch.search.strategy == "coarse_to_fine" and batch.search.rounds == 2
    assert len(batch.runs) == 2 * batch.search.trials * 2  # two optimizers, two seeds


# --- ranking ---------------------------------------------------------------


def record(group, seed, loss, status="ok", accuracy=None, kind="dataset"):
    metrics = {"validation_loss": loss, "validation_accuracy": accuracy} if status == "ok" else {}
    return {"run": f"{group}_s{seed}", "group": group, "seed": seed, "kind": kind, "status": status,
            "metrics": {k: v for k, v in metrics.items() if v is not None}, "best": {}, "trial": None}


def test_ranking_is_mean_over_seeds_with_sample_std():
    records = [record("a", 0, 0.5), record("a", 1, 0.7), record("b", 0, 0.3), record("b", 1, 0.5),
               record("b", 2, 0.4), record("c", 0, math.nan), record("c", 1, 0.1)]
    rows = ranking.rank_groups(records)
    assert [r["group"] for r in rows] == ["b", "a", "c"]
    b = rows[0]
    assert b["mean"] == pytest.approx(0.4) and b["std"] == pytest.approx(np.std([0.3, 0.5, 0.4], ddof=1))
    assert (b["min"], b["max"], b["runs"], b["ok"]) == (0.3, 0.5, 3, 3)
    # c's finite seed is the best number of all, but its other seed ended at NaN: it ranks last
    assert (rows[2]["mean"], rows[2]["ok"], rows[2]["runs"]) == (pytest.approx(0.1), 1, 2)


def test_a_failed_seed_ranks_its_trial_below_complete_ones():
    records = [record("a", 0, 0.1), record("a", 1, None, status="failed"),
               record("b", 0, 0.6), record("b", 1, 0.8)]
    rows = ranking.rank_groups(records)
    assert [(r["group"], r["ok"], r["runs"]) for r in rows] == [("b", 2, 2), ("a", 1, 2)]
    assert "failed" in ranking.format_ranking(rows)


def test_accuracy_ranks_highest_first():
    records = [record("a", 0, 0.5, accuracy=0.9), record("b", 0, 0.4, accuracy=0.8)]
    assert [r["group"] for r in ranking.rank_groups(records, "validation_accuracy")] == ["a", "b"]
    assert [r["group"] for r in ranking.rank_groups(records)] == ["b", "a"]
