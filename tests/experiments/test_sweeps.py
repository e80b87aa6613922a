"""Searches, seeds and their aggregates, run for real into temporary log directories."""

import json
import math

import numpy as np
import pytest
from tb_events import scalars, session
from tensorboard.plugins.hparams import api_pb2

from experiments import __main__ as cli
from experiments import runner
from experiments.engine import executor, trainers
from experiments.plan import planning
from experiments.report import aggregate
from experiments.spec import config


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """Two trials x three seeds of a short digits run, every epoch logged."""
    batch = config.parse_batch({
        "batch": {"name": "seeded"},
        "defaults": {"problem": "digits", "model": "softmax_regression", "batch_size": 128,
                     "steps": 27, "seeds": [0, 1, 2],
                     "log": {"every_epochs": 1, "histograms": False, "update_ratio": False}},
        "runs": [{"optimizer": {"name": "sgd", "learning_rate": 0.1}},
                 {"optimizer": {"name": "adam", "learning_rate": 0.01}}]})
    return runner.run_batch(batch, tmp_path_factory.mktemp("logs"), progress=False)


def test_every_seed_is_its_own_run_and_each_group_gets_a_mean(seeded):
    names = sorted(p.name for p in seeded.directory.iterdir() if p.is_dir())
    assert names == ["adam_lr0.01_mean", "adam_lr0.01_s0", "adam_lr0.01_s1", "adam_lr0.01_s2",
                     "sgd_lr0.1_mean", "sgd_lr0.1_s0", "sgd_lr0.1_s1", "sgd_lr0.1_s2"]
    losses = [r.metrics["train_loss"] for r in seeded.results]
    assert len(set(losses)) == 6  # the seeds really differ


@pytest.mark.parametrize("tag", ["epoch_loss", "epoch_val_accuracy", "epoch_gradient_norm"])
def test_the_mean_run_holds_mean_std_min_max_per_step(seeded, tag):
    seeds = [scalars(seeded.directory / f"sgd_lr0.1_s{s}")[tag] for s in range(3)]
    steps = seeds[0][0]
    assert all(s[0] == steps for s in seeds) and len(steps) == 3
    values = np.array([s[1] for s in seeds])
    mean = scalars(seeded.directory / "sgd_lr0.1_mean")
    expected = {tag: values.mean(0), f"seed_spread/{tag}/mean": values.mean(0),
                f"seed_spread/{tag}/min": values.min(0), f"seed_spread/{tag}/max": values.max(0),
                f"seed_spread/{tag}/std_low": values.mean(0) - values.std(0, ddof=1),
                f"seed_spread/{tag}/std_high": values.mean(0) + values.std(0, ddof=1)}
    for name, curve in expected.items():
        assert mean[name][0] == steps
        np.testing.assert_allclose(mean[name][1], curve, rtol=1e-6)
    assert values.std(0).min() > 0  # the bands are not trivially equal
    # each point at its seeds' mean wall time (not all within a millisecond of the batch's end),
    # so TensorBoard's relative-time axis draws the mean as the seeds are drawn
    walls = np.array([[point[1] for _, point in sorted(aggregate.read_scalars(
        seeded.directory / f"sgd_lr0.1_s{s}", wall_times=True)[tag].items())] for s in range(3)])
    for name in expected:
        mean_walls = [point[1] for _, point in sorted(aggregate.read_scalars(
            seeded.directory / "sgd_lr0.1_mean", wall_times=True)[name].items())]
        np.testing.assert_allclose(mean_walls, walls.mean(0), rtol=0, atol=1e-6)
    assert np.ptp(walls.mean(0)) > 0


def test_the_mean_run_has_every_curve_and_bands_only_where_the_seeds_differ(seeded):
    # the seeds' curves; not their one-point summaries (wall time, diverged, steps): as means
    # they mean nothing
    seeds = [{tag: points for tag, points in scalars(seeded.directory / f"adam_lr0.01_s{s}").items()
              if not tag.startswith("summary/")} for s in range(3)]
    mean = scalars(seeded.directory / "adam_lr0.01_mean")
    same = {tag for tag in seeds[0] if all(np.array_equal(s[tag][1], seeds[0][tag][1]) for s in seeds)}
    assert same == {"epoch_learning_rate"}  # one schedule for every seed: a band of zero width says nothing
    banded = {aggregate.band_tag(tag, band) for tag in set(seeds[0]) - same for band in aggregate.BANDS}
    assert set(mean) == banded | same
    np.testing.assert_allclose(mean["epoch_learning_rate"][1], seeds[0]["epoch_learning_rate"][1])
    assert not [p for p in (seeded.directory / "adam_lr0.01_mean").iterdir() if p.is_dir()]  # one run
    info = json.loads((seeded.directory / "adam_lr0.01_mean" / "aggregate.json").read_text())
    assert info["runs"] == ["adam_lr0.01_s0", "adam_lr0.01_s1", "adam_lr0.01_s2"]


def test_a_run_an_older_version_wrote_is_read_under_todays_tags(seeded, tmp_path):
    """An older version wrote a run's curves as two TensorBoard runs, `train/` and `validation/`,
    each with `epoch_loss`: the report and the means read them as `epoch_loss` and
    `epoch_val_loss`, as the suite writes them today."""
    import tensorflow as tf

    curves = {tag: points for tag, points in aggregate.run_scalars(seeded.results[0].directory).items()
              if not tag.startswith("summary/")}
    assert {"epoch_loss", "epoch_val_loss", "epoch_accuracy", "epoch_val_accuracy"} <= set(curves)
    for sub, validation in (("train", False), ("validation", True)):
        writer = tf.summary.create_file_writer(str(tmp_path / "old" / sub))
        with writer.as_default():
            for tag, points in curves.items():
                if tag.startswith("epoch_val_") == validation:
                    for step, value in points.items():
                        tf.summary.scalar(tag.replace("epoch_val_", "epoch_"), value, step=step)
        writer.close()
    assert aggregate.run_scalars(tmp_path / "old") == curves


def test_the_seeds_of_a_trial_are_one_hparams_group_ending_in_success(seeded):
    batch_id = json.loads((seeded.directory / "batch.json").read_text())["id"]
    for seed in range(3):
        assert session(seeded.directory / f"sgd_lr0.1_s{seed}") == (f"seeded/sgd_lr0.1 ({batch_id})",
                                                                   api_pb2.STATUS_SUCCESS)


def test_best_metrics_are_the_best_logged_epoch(seeded):
    result = seeded.results[0]
    validation = scalars(result.directory)["epoch_val_loss"][1]
    train = scalars(result.directory)["epoch_accuracy"][1]
    assert result.best["validation_loss"] == pytest.approx(validation.min())
    assert result.best["train_accuracy"] == pytest.approx(train.max())
    assert scalars(result.directory)["summary/best_validation_loss"][1][0] == pytest.approx(validation.min())
    record = json.loads((result.directory / "result.json").read_text())
    assert record["best"] == result.best and record["status"] == "ok" and record["group"] == "sgd_lr0.1"


def test_best_ranks_the_trials_from_their_result_files(seeded, capsys):
    assert cli.main(["best", str(seeded.directory.parent)]) == 0
    printed = capsys.readouterr().out
    by_group = {}
    for r in seeded.results:
        by_group.setdefault(r.run.group, []).append(r.metrics["validation_loss"])
    order = sorted(by_group, key=lambda g: np.mean(by_group[g]))
    lines = [line for line in printed.splitlines() if line.strip()[:1].isdigit()]
    assert [line.split()[1] for line in lines] == order
    for line, group in zip(lines, order):
        mean, std = np.mean(by_group[group]), np.std(by_group[group], ddof=1)
        assert f"{mean:.4g} +- {std:.4g}" in line and " 3/3 " in line
    assert "ranked by validation_loss (min)" in printed

    assert cli.main(["best", str(seeded.directory), "--metric", "validation_accuracy", "--top", "1"]) == 0
    printed = capsys.readouterr().out
    assert "ranked by validation_accuracy (max)" in printed
    assert len([line for line in printed.splitlines() if line.strip()[:1].isdigit()]) == 1


@pytest.mark.parametrize("args, message", [
    (["best", "{empty}"], "no runs (result.json files) under"),
    (["best", "{logs}", "--metric", "val_loss"], "has the metric 'val_loss'. Its runs have: best/train_accuracy"),
    (["best", "{logs}", "--top", "0"], "`--top` must be an integer >= 1. Received: --top=0"),
])
def test_best_refuses_bad_input(seeded, tmp_path, capsys, args, message):
    args = [a.replace("{empty}", str(tmp_path)).replace("{logs}", str(seeded.directory)) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_coarse_to_fine_zooms_into_the_best_trials(tmp_path):
    batch = config.parse_batch({
        "batch": {"name": "zoom"},
        "search": {"strategy": "coarse_to_fine", "trials": 6, "keep": 2, "rounds": 3, "seed": 1},
        "runs": [{"problem": "material", "steps": 20, "optimizer": "sgd",
                  "space": {"optimizer.learning_rate": {"log_uniform": [1e-3, 2.0]}}}]})
    result = runner.run_batch(batch, tmp_path, progress=False)
    assert [r.run.round for r in result.results] == [1] * 6 + [2] * 6 + [3] * 6
    assert [r.run.trial_id for r in result.results] == list(range(18))
    history = json.loads((result.directory / "search.json").read_text())["history"]
    low, high = math.log10(1e-3), math.log10(2.0)
    for round_index in (1, 2):
        # independently: the 2 lowest final f of the round, their log-rates, padded by a tenth
        done = [r for r in result.results if r.run.round == round_index]
        finite = sorted((r.metrics["loss"], r.run.optimizer["learning_rate"]) for r in done
                        if math.isfinite(r.metrics["loss"]))
        logs = [math.log10(lr) for _, lr in finite[:2]]
        pad = 0.1 * (high - low)
        low, high = max(low, min(logs) - pad), min(high, max(logs) + pad)
        space = history[round_index]["spaces"]["runs[0]"]["optimizer.learning_rate"]["log_uniform"]
        assert space == pytest.approx([10**low, 10**high])
        for r in result.results:
            if r.run.round == round_index + 1:
                assert 10**low * (1 - 1e-9) <= r.run.optimizer["learning_rate"] <= 10**high * (1 + 1e-9)
    assert high - low < 0.5 * (math.log10(2.0) - math.log10(1e-3))  # it did zoom in
    best_lr = result.ranking()[0]["trial"]["optimizer.learning_rate"]
    assert 0.5 < best_lr < 1.0  # SGD on x^2/20 + y^2: fastest below the y-divergence at lr = 1


def test_a_search_metric_that_does_not_exist_is_refused_before_training(tmp_path):
    batch = config.parse_batch({
        "search": {"metric": "accuracy"},
        "runs": [{"problem": "material", "steps": 5, "optimizer": "sgd",
                  "space": {"optimizer.learning_rate": {"log_uniform": [1e-3, 1.0]}}}]})
    with pytest.raises(Exception, match=r"`search.metric` is not a metric of objective runs. "
                                        r"Received: metric='accuracy'. Known: loss, distance"):
        planning.prepare(batch)


def test_a_corner_of_the_space_that_the_optimizer_refuses_is_named(tmp_path):
    batch = config.parse_batch({"runs": [{
        "problem": "material", "steps": 5, "optimizer": "momentum",
        "space": {"optimizer.momentum": {"uniform": [0.5, 1.5]}}}]})
    with pytest.raises(Exception) as error:
        planning.prepare(batch)
    assert str(error.value).startswith("runs[0].space.optimizer.momentum = 1.5: optimizer 'momentum'")


def test_a_run_that_raises_ends_its_session_as_a_failure(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise MemoryError("out of memory in a test")

    batch = config.parse_batch({"runs": [{"problem": "material", "steps": 5, "optimizer": "sgd"},
                                         {"problem": "rosenbrock", "steps": 5, "optimizer": "sgd"}]})
    prepared = planning.prepare(batch)
    monkeypatch.setitem(executor.RUNNERS, "objective", lambda run, *a, **k: (
        broken() if run.problem["name"] == "rosenbrock" else trainers.path_run(run, *a, **k)))
    result = runner.run_batch(batch, tmp_path, progress=False, prepared=prepared)
    ok, bad = result.results
    assert ok.status == "ok" and bad.status == "failed" and "MemoryError" in bad.error
    assert session(ok.directory)[1] == api_pb2.STATUS_SUCCESS
    assert session(bad.directory)[1] == api_pb2.STATUS_FAILURE
    assert json.loads((bad.directory / "result.json").read_text())["status"] == "failed"
    assert "out of memory in a test" in (bad.directory / "error.txt").read_text()
