"""`python -m experiments benchmark`: search spaces as data, the protocol as a batch, the
verdict's numbers against brute force, and a user's optimizer benchmarked against stored
baselines without running them again (a scratch SGD equal, number for number, to the stored SGD)."""

import itertools
import json
import math

import numpy as np
import pytest
from tb_events import plugin_of, tensors

from experiments import benchmark
from experiments.__main__ import main
from experiments.report import analysis, tuning
from experiments.spec import spaces, tiers
from experiments.spec.validation import ConfigError

SCRATCH = '''
import keras


class PlainSGD(keras.optimizers.Optimizer):
    """w <- w - lr * g, written here: not the suite's, not Keras's."""

    def __init__(self, learning_rate=0.01, name="plain_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        self.assign_sub(variable, keras.ops.multiply(gradient, keras.ops.cast(learning_rate, variable.dtype)))
'''
#: The smallest protocol: every problem of the smoke tier, one study of one trial.
TINY = ["--trials", "1", "--studies", "1"]


# -- spaces ------------------------------------------------------------------------------------

def test_every_builtin_optimizer_has_a_default_space_with_a_source():
    import custom_optimizers

    shipped = spaces.builtin()
    assert set(shipped) == set(custom_optimizers.OPTIMIZERS)
    for name, space in shipped.items():
        dimensions = spaces.check(space.origin, space.space)
        assert any(d.key == "optimizer.learning_rate" and d.kind == "log_uniform" for d in dimensions), name
        assert ("AlgoPerf" in space.source) or ("DeepOBS" in space.source), name


def test_algoperf_ranges_are_copied_on_their_scales():
    adam = {d.key: d for d in spaces.check("adam", spaces.default("adam").space)}
    assert (adam["optimizer.learning_rate"].low, adam["optimizer.learning_rate"].high) == (1e-4, 1e-2)
    beta = adam["optimizer.beta_1"]  # AlgoPerf's one_minus_beta1 in [0.02, 0.5]
    assert beta.kind == "one_minus_log" and (1 - beta.high, 1 - beta.low) == pytest.approx((0.02, 0.5))


def test_a_users_space_file(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('source = "mine"\n"optimizer.learning_rate" = { log_uniform = [1e-3, 1e-1] }\n')
    space = spaces.load(path)
    assert space.source == "mine" and list(space.space) == ["optimizer.learning_rate"]


@pytest.mark.parametrize("text, words", [
    ('"batch_size" = { choice = [32, 64] }', "tunes its optimizer's"),
    ('"optimizer.learning_rate" = { log_uniform = [0.1, 0.01] }', "low < high"),
    ('"optimizer.learning_rate" = { gaussian = [0, 1] }', "gaussian"),
    ('"optimizer.learning_rate" = ', "not valid TOML"),
])
def test_a_bad_space_file_is_one_clear_error(tmp_path, text, words):
    path = tmp_path / "space.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=words):
        spaces.load(path)


def test_no_space_for_a_users_optimizer_or_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="--space FILE"):
        benchmark._space_for({"name": "my_opts:Fromage"}, None)
    with pytest.raises(ConfigError, match="cannot read"):
        spaces.load(tmp_path / "absent.toml")


# -- the protocol as a batch ---------------------------------------------------------------------

def test_the_batch_has_studies_x_trials_per_problem_and_locates_each_run():
    protocol = tiers.Protocol.of("smoke", trials=3, studies=2)
    specs = [(dict(s), spaces.default(s["name"])) for s in tiers.BASELINES]
    batch = tiers.benchmark_batch(protocol, specs, "b")
    assert len(batch.runs) == 3 * len(protocol.tier.problems) * 2 * 3
    seen = {}
    for run in batch.runs:
        position, problem, study = tiers.locate(protocol, run)
        assert run.optimizer["name"] == specs[position][0]["name"] and run.seed == study
        assert run.batch_size == problem.run["batch_size"]
        seen.setdefault((position, problem.name, study), []).append(run.trial["optimizer.learning_rate"])
    assert all(len(rates) == 3 for rates in seen.values())
    # each study samples its own trials
    assert seen[(0, "digits_mlp", 0)] != seen[(0, "digits_mlp", 1)]


@pytest.mark.parametrize("tier", sorted(tiers.TIERS))
def test_every_tier_makes_a_batch_of_short_unique_names(tier):
    protocol = tiers.Protocol.of(tier)
    batch = tiers.benchmark_batch(protocol, [(dict(s), spaces.default(s["name"])) for s in tiers.BASELINES],
                                  f"benchmark_{tier}_baselines")
    names = [run.name for run in batch.runs]
    assert len(names) == len(set(names)) == 3 * protocol.runs_per_optimizer()
    assert names[0] == f"t00_{protocol.tier.problems[0].name}_sgd_s0"


@pytest.mark.parametrize("arguments, words", [
    ({"tier": "huge"}, "--tier"), ({"tier": "smoke", "trials": 0}, "--trials"),
    ({"tier": "smoke", "studies": -1}, "--studies")])
def test_bad_protocol_arguments_are_refused(arguments, words):
    with pytest.raises(ConfigError, match=words):
        tiers.Protocol.of(**arguments)


# -- the numbers -------------------------------------------------------------------------------

def test_expected_best_equals_the_mean_over_every_subset():
    values = [0.5, 0.2, math.inf, 0.9, 0.1, 0.3]
    worst = 0.9
    got = tuning.expected_best(values, worst)
    capped = [v if math.isfinite(v) else worst for v in values]
    for n in range(1, len(values) + 1):
        brute = np.mean([min(c) for c in itertools.combinations(capped, n)])
        assert got[n - 1] == pytest.approx(brute, rel=1e-12)
    assert got[-1] == min(capped)


def test_score_integrates_the_profile():
    assert tuning.score(np.ones_like(analysis.TAUS)) == pytest.approx(1.0)
    assert tuning.score(np.zeros_like(analysis.TAUS)) == 0.0
    step = (analysis.TAUS >= 2.5).astype(float)  # solved from tau 2.5 on: half the span
    assert tuning.score(step) == pytest.approx(0.5, abs=0.03)


def _summary(optimizer, study, value, steps, status="ok"):
    return {"optimizer": optimizer, "problem": "p", "study": study, "status": status,
            "metrics": {"validation_loss": value, "test_loss": value + 0.1},
            "curve": {"steps": [10, 20, 30], "values": [1.0, value + (0.5 if steps == 30 else 0), value],
                      "seconds": [1.0, 2.0, 3.0]}}


def test_outcome_takes_each_studys_best_trial_and_the_median():
    runs = [_summary("a", 0, 0.4, 30), _summary("a", 0, 0.2, 20), _summary("a", 1, 0.3, 30),
            _summary("a", 1, 0.1, 30, status="diverged"), _summary("a", 2, 0.6, 30)]
    out = tuning.outcome(runs, "validation_loss", target=0.35)
    assert {k: s["metrics"]["validation_loss"] for k, s in out.best.items()} == {0: 0.2, 1: 0.3, 2: 0.6}
    assert out.numbers["validation_loss"] == 0.3 and out.numbers["test_loss"] == pytest.approx(0.4)
    assert out.steps == 30.0  # study 0 at 20, study 1 at 30, study 2 never: the median is 30


def test_the_sentence_says_faster_and_within_noise_or_not():
    mine = tuning.outcome([_summary("m", 0, 0.2, 20), _summary("m", 1, 0.3, 30)], "validation_loss", 0.35)
    theirs = tuning.outcome([_summary("b", 0, 0.25, 30), _summary("b", 1, 0.28, 30)], "validation_loss", 0.35)
    text = tuning.sentence("m", mine, {"b": theirs}, "validation_loss", 2)
    assert "0.83x the steps of b" in text and "within noise" in text
    worse = tuning.outcome([_summary("b", 0, 0.05, 30), _summary("b", 1, 0.06, 30)], "validation_loss", 0.35)
    assert "worse than b's in every study" in tuning.sentence("m", mine, {"b": worse}, "validation_loss", 2)
    assert "one study cannot tell" in tuning.sentence("m", mine, {"b": worse}, "validation_loss", 1)
    # the median of the three medians, 0.25, 0.265 and 0.055
    assert tuning.target([mine, theirs, worse], "validation_loss") == pytest.approx(0.25)


# -- the command ---------------------------------------------------------------------------------

@pytest.fixture
def scratch(tmp_path, monkeypatch):
    (tmp_path / "scratch_bench.py").write_text(SCRATCH)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path


def test_a_users_optimizer_against_stored_baselines(scratch, capsys, monkeypatch):
    """The issue's check: the baselines are built once; a scratch SGD given SGD's space is then
    benchmarked without running them again, and equals the stored SGD number for number (the
    same sampled rates, the same seeds)."""
    monkeypatch.setattr(benchmark, "COST_STEPS", 2)  # the cost table's timing: its numbers are not checked here
    store, logdir = scratch / "store", scratch / "logs"
    assert main(["benchmark", "--baselines", "--store", str(store), "--logdir", str(scratch / "built"),
                 "--quiet", *TINY]) == 0
    space = scratch / "sgd.toml"
    space.write_text('source = "the suite\'s SGD space"\n'
                     '"optimizer.learning_rate" = { log_uniform = [1e-5, 1e2] }\n')
    capsys.readouterr()
    assert main(["benchmark", "scratch_bench:PlainSGD", "--space", str(space), "--store", str(store),
                 "--logdir", str(logdir), "--quiet", *TINY]) == 0
    out = capsys.readouterr()
    assert "reusing the stored baselines" in out.err and "budget: PlainSGD on tier smoke: 3 runs" in out.err
    assert [p.name for p in logdir.iterdir() if p.is_dir()] == ["benchmark_smoke_PlainSGD"]  # no baseline runs
    directory = logdir / "benchmark_smoke_PlainSGD"
    verdict = json.loads((directory / "verdict.json").read_text())
    for name, problem in verdict["problems"].items():
        assert set(problem["outcomes"]) == {"sgd", "momentum", "adam", "PlainSGD"}
        assert problem["outcomes"]["PlainSGD"]["numbers"] == problem["outcomes"]["sgd"]["numbers"], name
        assert problem["tunability"]["PlainSGD"] == problem["tunability"]["sgd"]
        assert problem["sentence"].startswith("PlainSGD ")
    assert set(verdict["scores"]) == {"sgd", "momentum", "adam", "PlainSGD"}
    assert all(0 <= v <= 1 for v in verdict["scores"].values())
    report = (directory / "report.md").read_text()
    assert report.startswith("# How good is PlainSGD?") and "# Which optimizer wins" in report
    for png in ("lr_sensitivity.png", "tunability.png", "benchmark_profiles.png"):
        assert (directory / png).read_bytes()[:4] == b"\x89PNG"
    costs = verdict["costs"]["digits_mlp"]
    assert set(costs) == {"sgd", "momentum", "adam", "PlainSGD"}  # each timed alone
    assert costs["sgd"]["ratio"] == 1.0 and costs["sgd"]["bytes_per_parameter"] == 0.0
    assert costs["adam"]["bytes_per_parameter"] == 8.0  # two float32 slots a parameter
    for name, problem in verdict["problems"].items():  # steps to target x seconds a step alone
        for optimizer, o in problem["outcomes"].items():
            seconds = o["steps"] * verdict["costs"][name][optimizer]["seconds"]
            assert o["seconds"] == pytest.approx(seconds) or o["seconds"] == o["steps"] == math.inf
    assert "== verdict: PlainSGD on tier smoke" in out.out
    shown = tensors(directory)  # the directory's own TensorBoard run, read with TensorBoard's reader
    assert shown["benchmark"][0][1].item().decode().startswith("# How good is PlainSGD?")
    assert plugin_of(directory, "benchmark") == "text"
    assert plugin_of(directory, "benchmark/lr_sensitivity") == "images"


def test_baselines_with_a_failed_run_are_not_stored(tmp_path):
    said = []
    failed = type("Result", (), {"failed": ["a run"]})()
    assert not benchmark._store(tiers.Protocol.of("smoke"), [], failed, tmp_path, said.append)
    assert not any(tmp_path.iterdir()) and "not stored" in said[0]


def test_stored_baselines_that_no_longer_match_are_not_reused(tmp_path):
    protocol = tiers.Protocol.of("smoke", trials=1, studies=1)
    batch = tiers.benchmark_batch(protocol, [(dict(s), spaces.default(s["name"])) for s in tiers.BASELINES], "b")
    wanted = benchmark.fingerprints_of(batch)
    runs = [{"run": name, "fingerprint": key} for name, key in wanted.items()]
    path = tmp_path / benchmark.store_name(protocol)
    path.write_text(json.dumps({"protocol": protocol.describe(), "runs": runs}))
    assert benchmark.find_stored(protocol, batch, tmp_path).summaries == runs
    runs[0]["fingerprint"] = "0" * 16  # the run would train differently now
    path.write_text(json.dumps({"protocol": protocol.describe(), "runs": runs}))
    stored = benchmark.find_stored(protocol, batch, tmp_path)
    assert stored.summaries is None and "1 of 9 runs differ" in stored.reason
    path.write_text(json.dumps({"protocol": {**protocol.describe(), "seed": 5}, "runs": runs}))
    assert "another protocol" in benchmark.find_stored(protocol, batch, tmp_path).reason


@pytest.mark.parametrize("tier", ["smoke", "small"])
def test_the_shipped_baselines_match_this_suite(tmp_path, monkeypatch, tier):
    """If this fails, a change altered what the baselines would train: rebuild them with
    `python -m experiments benchmark --baselines --tier TIER --store experiments/baselines`.
    Offline, as they were built (the small tier's image problems on their digits fallbacks),
    whatever this machine has in Keras's cache or however its network fails."""
    import keras

    from experiments.workloads import keras_datasets

    def offline():
        raise Exception("URL fetch failure: [Errno 101] Network is unreachable")

    monkeypatch.setattr(keras_datasets, "keras_data_dir", lambda: tmp_path / "empty")
    for name in keras_datasets.KERAS_DATASETS:
        monkeypatch.setattr(getattr(keras.datasets, name), "load_data", offline)
    protocol = tiers.Protocol.of(tier)
    batch = tiers.benchmark_batch(protocol, [(dict(s), spaces.default(s["name"])) for s in tiers.BASELINES],
                                  f"benchmark_{tier}_baselines")
    stored = benchmark.find_stored(protocol, batch, tmp_path)
    assert stored.summaries is not None, stored.reason
    assert str(benchmark.SHIPPED) in stored.reason
    assert len(stored.summaries) == protocol.runs_per_optimizer() * len(tiers.BASELINES)
    assert all(s["status"] in ("ok", "diverged") for s in stored.summaries)


@pytest.mark.parametrize("arguments, words", [
    (["fromage"], "no default search space"),
    (["scratch_bench:PlainSGD"], "give its search space with --space FILE"),
    (["nadam", "--tier", "huge"], "Unknown --tier 'huge'"),
    (["nadam", "--store", "{file}/below"], "`--store` must be a directory"),
    ([], "needs an OPTIMIZER"),
])
def test_bad_arguments_are_refused_before_anything_trains(scratch, capsys, arguments, words):
    (scratch / "file").write_text("")
    logdir = scratch / "logs"
    arguments = [a.format(file=scratch / "file") for a in arguments]
    with pytest.raises(SystemExit) as stop:
        main(["benchmark", *arguments, "--logdir", str(logdir)])
    assert stop.value.code == 2 and words in capsys.readouterr().err
    assert not logdir.exists()
