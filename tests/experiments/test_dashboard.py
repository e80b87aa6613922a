"""Two different batches under one log directory, read through a real `tensorboard` server's
HParams data API: one definition covering both, a value in every column, groups by batch."""

import json

import pytest
from tb_server import serve

from experiments import runner
from experiments.report import dashboard
from experiments.spec import config

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
    with serve(logdir, runs=2 + 2 + 2) as get:
        yield logdir, first, second, get


def test_one_definition_covers_every_batch(two_batches):
    _, _, _, get = two_batches
    experiment = get("/data/plugin/hparams/experiment", {"experimentName": ""})
    columns = {h["name"]: h for h in experiment["hparamInfos"]}
    assert {"batch", "optimizer", "optimizer.learning_rate", "optimizer.beta_1", "optimizer.momentum",
            "problem", "model", "batch_size", "epochs", "steps", "seed"} <= set(columns)
    assert sorted(c.split(" (")[0] for c in columns["batch"]["domainDiscrete"]) == ["digits", "paths"]
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
    by_name = {g["name"].rsplit(" (", 1)[0]: g["hparams"] for g in groups}
    # sgd is in both batches: two groups, not one merged across them
    assert set(by_name) == {"digits/sgd_lr0.1", "digits/adam_beta_10.8", "paths/momentum_lr0.1_mom0.9",
                            "paths/sgd_lr0.1"}
    assert len(by_name) == len(groups)
    assert all(name.split("/")[0] == hparams["batch"].split(" (")[0] for name, hparams in by_name.items())
    assert all(set(hparams) == columns for hparams in by_name.values())  # parallel coordinates draws them all
    paths = next(h for n, h in by_name.items() if n.startswith("paths/momentum"))
    digits = next(h for n, h in by_name.items() if n.startswith("digits/sgd"))
    assert (paths["model"], paths["batch_size"], paths["optimizer.momentum"]) == ("none", "none", "0.9")
    assert (digits["steps"], digits["optimizer.momentum"], digits["model"]) == ("none", "none", "softmax_regression")
    assert digits["seed"] == 0 and paths["seed"] == 0  # present everywhere: still a number


def test_unify_is_idempotent_and_a_rewritten_session_does_not_redo_a_finished_run(two_batches):
    logdir, first, _, _ = two_batches
    assert dashboard.unify(logdir) == 0  # nothing left to change
    batch_id = json.loads((first.directory / "batch.json").read_text())["id"]
    again = runner.run_batch(config.parse_batch(DATASET), logdir, progress=False)
    assert again.directory == first.directory
    assert json.loads((first.directory / "batch.json").read_text())["id"] == batch_id  # its groups' names hold
    assert all(r.skipped for r in again.results)  # its sessions were rewritten; its results still hold
    assert [r.metrics for r in again.results] == [r.metrics for r in first.results]


GROUPS_REQUEST = {"experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                                                           "STATUS_RUNNING"],
                  "colParams": [], "startIndex": 0, "sliceSize": 100}


def test_same_named_batches_made_apart_keep_their_own_groups_and_numbers(tmp_path):
    """`logs/digits` (one seed, 2 epochs) and `seeded/digits` (two seeds, 1 epoch), made apart
    and then viewed under one parent folder: each trial of each batch is its own session group,
    whose sessions are its own runs with their own numbers (never an average across batches)."""
    one = {**DATASET, "defaults": {**DATASET["defaults"], "epochs": 2}, "runs": DATASET["runs"][:1]}
    seeded = {**DATASET, "defaults": {**DATASET["defaults"], "seeds": [0, 1]}, "runs": DATASET["runs"][:1]}
    results = [runner.run_batch(config.parse_batch(spec), tmp_path / folder, progress=False)
               for spec, folder in ((one, "logs"), (seeded, "seeded"))]
    ids = [json.loads((r.directory / "batch.json").read_text())["id"] for r in results]
    assert ids[0] != ids[1]
    with serve(tmp_path, runs=2 + 1 + 2 + 1) as get:
        groups = {g["name"]: g for g in get("/data/plugin/hparams/session_groups", GROUPS_REQUEST)["sessionGroups"]}
    assert set(groups) == {f"digits/sgd_lr0.1 ({i})" for i in ids}
    # the batch column tells them apart too, so the filter can show one of them
    assert {g["hparams"]["batch"] for g in groups.values()} == {f"digits ({i})" for i in ids}
    for result, batch_id in zip(results, ids):
        group = groups[f"digits/sgd_lr0.1 ({batch_id})"]
        by_run = {r.run.name: r for r in result.results}
        assert sorted(s["name"].rsplit("/", 1)[-1] for s in group["sessions"]) == sorted(by_run)
        for session in group["sessions"]:
            run = by_run[session["name"].rsplit("/", 1)[-1]]
            loss, = [m["value"] for m in session["metricValues"] if m["name"]["tag"] == "summary/train_loss"]
            assert loss == pytest.approx(run.metrics["train_loss"], rel=1e-6)


def test_a_batch_declares_only_the_metrics_its_runs_log(tmp_path):
    """moons has no validation or test split: its definition has no such columns, and every
    column it declares has a value in every session (parallel coordinates draws them all)."""
    moons = {"batch": {"name": "m"}, "defaults": {"problem": "moons", "model": "moons_net", "batch_size": 64,
                                                  "epochs": 2},
             "runs": [{"optimizer": "sgd"}, {"optimizer": "adam"}]}
    runner.run_batch(config.parse_batch(moons), tmp_path, progress=False)
    with serve(tmp_path, runs=1 + 2) as get:
        declared = {m["name"]["tag"] for m in get("/data/plugin/hparams/experiment",
                                                  {"experimentName": ""})["metricInfos"]}
        groups = get("/data/plugin/hparams/session_groups", GROUPS_REQUEST)["sessionGroups"]
    assert not any("validation" in tag or "test" in tag for tag in declared)
    assert {"summary/train_loss", "summary/train_accuracy", "summary/best_train_loss"} <= declared
    for group in groups:
        for session in group["sessions"]:
            assert {m["name"]["tag"] for m in session["metricValues"]} == declared
