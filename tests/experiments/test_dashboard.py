"""Two different batches under one log directory, read through a real `tensorboard` server's
HParams data API: one definition covering both, a value in every column, groups by batch."""

import pytest
from tb_server import serve

from experiments import config, dashboard, runner

pytestmark = pytest.mark.slow

DATASET = {"batch": {"name": "digits"},
           "defaults": {"problem": "digits", "model": "softmax_regression", "batch_size": 256, "epochs": 1},
           "runs": [{"optimizer": {"name": "sgd", "learning_rate": 0.1}},
                    {"optimizer": {"name": "adam", "beta_1": 0.8}}]}
PATHS = {"batch": {"name": "paths"},
         "defaults": {"problem": "material", "steps": 5},
         "runs": [{"optimizer": {"name": "momentum", "learning_rate": 0.1, "momentum": 0.9}},
                  {"optimizer": {"name": "sgd", "learning_rate": 0.1}}]}


@pytest.fixture(scope="module")
def two_batches(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("logs")
    first = runner.run_batch(config.parse_batch(DATASET), logdir, progress=False)
    second = runner.run_batch(config.parse_batch(PATHS), logdir, progress=False)
    with serve(logdir, runs=2 + 2 * 3 + 2 * 2) as get:
        yield logdir, first, second, get


def test_one_definition_covers_every_batch(two_batches):
    _, _, _, get = two_batches
    experiment = get("/data/plugin/hparams/experiment", {"experimentName": ""})
    columns = {h["name"]: h for h in experiment["hparamInfos"]}
    assert {"batch", "optimizer", "optimizer.learning_rate", "optimizer.beta_1", "optimizer.momentum",
            "problem", "model", "batch_size", "epochs", "steps", "seed"} <= set(columns)
    assert sorted(columns["batch"]["domainDiscrete"]) == ["digits", "paths"]
    metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert {"summary/train_loss", "summary/validation_accuracy",  # the dataset batch's
            "summary/loss", "summary/distance", "summary/best_loss",  # the 2-D batch's
            "summary/diverged", "summary/wall_seconds"} <= metrics


def test_every_session_has_every_column_and_groups_are_per_batch(two_batches):
    _, first, second, get = two_batches
    columns = {h["name"] for h in get("/data/plugin/hparams/experiment", {"experimentName": ""})["hparamInfos"]}
    groups = get("/data/plugin/hparams/session_groups", {
        "experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                                                  "STATUS_RUNNING"],
        "colParams": [], "startIndex": 0, "sliceSize": 100})["sessionGroups"]
    by_name = {g["name"]: g["hparams"] for g in groups}
    # sgd is in both batches: two groups, not one merged across them
    assert set(by_name) == {"digits/sgd_lr0.1", "digits/adam_beta_10.8", "paths/momentum_lr0.1_mom0.9",
                            "paths/sgd_lr0.1"}
    assert all(name.split("/")[0] == hparams["batch"] for name, hparams in by_name.items())
    assert all(set(hparams) == columns for hparams in by_name.values())  # parallel coordinates draws them all
    paths = next(h for n, h in by_name.items() if n.startswith("paths/momentum"))
    digits = next(h for n, h in by_name.items() if n.startswith("digits/sgd"))
    assert (paths["model"], paths["batch_size"], paths["optimizer.momentum"]) == ("none", "none", "0.9")
    assert (digits["steps"], digits["optimizer.momentum"], digits["model"]) == ("none", "none", "softmax_regression")
    assert digits["seed"] == 0 and paths["seed"] == 0  # present everywhere: still a number


def test_unify_is_idempotent_and_a_rewritten_session_does_not_redo_a_finished_run(two_batches):
    logdir, first, _, _ = two_batches
    assert dashboard.unify(logdir) == 0  # nothing left to change
    again = runner.run_batch(config.parse_batch(DATASET), logdir, progress=False)
    assert again.directory == first.directory
    assert all(r.skipped for r in again.results)  # its sessions were rewritten; its results still hold
    assert [r.metrics for r in again.results] == [r.metrics for r in first.results]
