"""A real `tensorboard` server on loopback reads what a batch wrote (HTTP data API)."""

import json
import re

import numpy as np
import pytest
from tb_server import serve
from test_problems import write_mnist

from experiments import runner
from experiments.report import aggregate, dashboard
from experiments.spec import config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("logs")
    batch = config.parse_batch({
        "batch": {"name": "served"},
        "defaults": {"problem": {"name": "digits"}, "model": "softmax_regression", "batch_size": 256,
                     "epochs": 3},
        "runs": [{"optimizer": {"name": "sgd", "learning_rate": 0.1}, "seeds": [0, 1]},
                 {"optimizer": {"name": "rmsprop", "rho": 0.9}}],
    })
    result = runner.run_batch(batch, logdir, progress=False)
    with serve(result.directory, runs=5) as get:
        yield result, get


def test_runs_are_listed(served):
    result, get = served
    names = [r.run.name for r in result.results]
    # the batch's own run ("."), one run a run, and the mean over sgd's seeds: its curves alone
    # (the one-point summaries are not averaged)
    assert set(get("/data/runs")) == {".", *names, "sgd_lr0.1_mean"}
    tags = get("/data/plugin/scalars/tags")["sgd_lr0.1_mean"]
    assert {"epoch_loss", "epoch_val_loss", "seed_spread/epoch_loss/std_low", "seed_spread/epoch_loss/std_high",
            "seed_spread/epoch_loss/min", "seed_spread/epoch_loss/max", "seed_spread/epoch_val_loss/mean"} <= set(tags)
    assert not [tag for tag in tags if tag.startswith("summary/")]


def test_the_suite_counts_the_runs_tensorboard_lists(served):
    """What `run` says about TensorBoard's selection rests on this count."""
    result, get = served
    assert dashboard.count_runs(result.directory) == len(get("/data/runs")) == 5


def test_scalars_through_the_http_api_equal_the_run(served):
    result, get = served
    for r in result.results:
        tags = get("/data/plugin/scalars/tags")[r.run.name]
        assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "epoch_gradient_norm", "epoch_val_loss",
                "epoch_val_accuracy"} <= set(tags)
        points = get(f"/data/plugin/scalars/scalars?run={r.run.name}&tag=epoch_learning_rate")
        assert [step for _, step, _ in points] == [0, 1, 2]
        expected = r.run.optimizer.get("learning_rate", 0.01)
        assert all(value == pytest.approx(expected) for _, _, value in points)
        final = get(f"/data/plugin/scalars/scalars?run={r.run.name}&tag=summary/train_accuracy")
        assert final[0][2] == pytest.approx(r.metrics["train_accuracy"], rel=1e-6)


def test_hparams_dashboard_lists_hyperparameters_and_metrics(served):
    result, get = served
    experiment = get("/data/plugin/hparams/experiment", {"experimentName": ""})
    hparams = {h["name"]: h for h in experiment["hparamInfos"]}
    assert hparams["optimizer"]["domainDiscrete"] == ["rmsprop", "sgd"]
    assert {"optimizer.learning_rate", "optimizer.rho", "batch_size", "seed", "problem", "model"} <= set(hparams)
    metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert {"summary/train_loss", "summary/validation_accuracy", "summary/test_accuracy", "summary/wall_seconds",
            "summary/best_validation_loss", "summary/best_validation_accuracy", "summary/diverged"} <= metrics
    groups = get("/data/plugin/hparams/session_groups", {
        "experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                                                  "STATUS_RUNNING"],
        "colParams": [], "startIndex": 0, "sliceSize": 10})
    batch_id = json.loads((result.directory / "batch.json").read_text())["id"]
    assert re.fullmatch("[0-9a-f]{8}", batch_id)
    sessions = {g["name"]: g for g in groups["sessionGroups"]}
    # a trial is one group, named with its batch and the batch directory's id; its seeds are its sessions
    assert set(sessions) == {f"served/sgd_lr0.1 ({batch_id})", f"served/rmsprop_rho0.9 ({batch_id})"}
    sgd = sessions[f"served/sgd_lr0.1 ({batch_id})"]
    assert sgd["hparams"]["optimizer"] == "sgd" and sgd["hparams"]["batch"] == f"served ({batch_id})"
    # every group has a value in every column (parallel coordinates draws only those): "none"
    # where its optimizer has no such argument, and such a column holds text
    assert all(set(g["hparams"]) == set(hparams) for g in sessions.values())
    assert (sgd["hparams"]["optimizer.learning_rate"], sgd["hparams"]["optimizer.rho"]) == ("0.1", "none")
    rms = sessions[f"served/rmsprop_rho0.9 ({batch_id})"]["hparams"]
    assert (rms["optimizer.learning_rate"], rms["optimizer.rho"]) == ("none", "0.9")
    assert sorted(hparams["optimizer.rho"]["domainDiscrete"]) == ["0.9", "none"]
    assert sgd["hparams"]["seed"] in (0, 1) and hparams["seed"]["domainInterval"] == {"minValue": 0, "maxValue": 1}
    assert sorted(s["name"] for s in sgd["sessions"]) == ["sgd_lr0.1_s0", "sgd_lr0.1_s1"]
    assert {s["status"] for s in sgd["sessions"]} == {"STATUS_SUCCESS"}
    best = [m for m in sgd["sessions"][0]["metricValues"] if m["name"]["tag"] == "summary/best_validation_loss"]
    run = next(r for r in result.results if r.run.name == sgd["sessions"][0]["name"])
    assert best[0]["value"] == pytest.approx(run.best["validation_loss"], rel=1e-6)
    diverged = [m["value"] for m in sgd["sessions"][0]["metricValues"] if m["name"]["tag"] == "summary/diverged"]
    assert diverged == [0.0]


def test_histograms_and_images_are_served(served):
    result, get = served
    name = result.results[2].run.name  # rmsprop
    histogram_tags = get("/data/plugin/histograms/tags")[name]
    assert any(t.startswith("slots/") and t.endswith("_velocity") for t in histogram_tags)
    assert any(t.startswith("weights/") for t in histogram_tags)
    assert set(get("/data/plugin/images/tags")["."]) == {"loss_curves"}  # the batch's own run


def test_custom_scalars_draw_each_mean_with_its_std_band(served):
    result, get = served
    layout = get("/data/plugin/custom_scalars/layout")
    category, = layout["category"]
    assert category["title"] == "mean ± std over seeds"
    charts = {c["title"]: c["margin"]["series"] for c in category["chart"]}
    assert charts["epoch_loss"] == [{"value": "seed_spread/epoch_loss/mean", "lower": "seed_spread/epoch_loss/std_low",
                                     "upper": "seed_spread/epoch_loss/std_high"}]
    # shown loss first, accuracy next, the rest by name (update ratios last): the dashboard draws a
    # category's charts from its last to its first (seen in Chromium, TensorBoard 2.21)
    shown = [c["title"] for c in category["chart"]][::-1]
    assert shown[:4] == ["epoch_loss", "epoch_val_loss", "epoch_accuracy", "epoch_val_accuracy"]
    assert shown == dashboard.chart_order(shown)
    assert shown[-1].startswith("update_ratio/")
    assert "epoch_learning_rate" not in charts  # the same for every seed: no band to draw
    seeds = [get(f"/data/plugin/scalars/scalars?run=sgd_lr0.1_s{s}&tag=epoch_val_loss") for s in (0, 1)]
    values = np.array([[v for _, _, v in seed] for seed in seeds])
    served_bands = get("/data/plugin/custom_scalars/scalars?run=sgd_lr0.1_mean"
                       "&tag=^seed_spread/epoch_val_loss/(mean|std_low|std_high)$")
    assert served_bands["regex_valid"]
    payload = {tag: [e["value"] if isinstance(e, dict) else e[2] for e in events]
               for tag, events in served_bands["tag_to_events"].items()}
    std = values.std(0, ddof=1)
    np.testing.assert_allclose(payload["seed_spread/epoch_val_loss/mean"], values.mean(0), rtol=1e-6)
    np.testing.assert_allclose(payload["seed_spread/epoch_val_loss/std_low"], values.mean(0) - std, rtol=1e-6)
    np.testing.assert_allclose(payload["seed_spread/epoch_val_loss/std_high"], values.mean(0) + std, rtol=1e-6)
    assert std.min() > 0


def test_a_study_of_5_optimizers_x_5_seeds_opens_with_every_run_selected(tmp_path):
    """TensorBoard's tabs select every run at first only up to `dashboard.SELECTED_AT_FIRST` (40)
    runs: a 5 x 5 seed study is 31 (25 runs, 5 means, the batch's own), so it opens drawn, each
    mean with its band in Custom Scalars."""
    optimizers = ["sgd", "momentum", "adam", "rmsprop", "adagrad"]
    batch = config.parse_batch({
        "batch": {"name": "study"},
        "defaults": {"problem": {"name": "digits"}, "model": "softmax_regression", "batch_size": 512, "epochs": 2,
                     "seeds": [0, 1, 2, 3, 4], "log": {"histograms": False, "update_ratio": False}},
        "runs": [{"optimizer": name} for name in optimizers]})
    result = runner.run_batch(batch, tmp_path, progress=False)
    means = [path.name for path in result.aggregates]
    assert len(result.results) == 25 and len(means) == 5
    with serve(result.directory, runs=31) as get:
        runs = get("/data/runs")
        tags = get("/data/plugin/scalars/tags")
        charts = [chart["title"] for chart in get("/data/plugin/custom_scalars/layout")["category"][0]["chart"]]
    assert len(runs) == dashboard.count_runs(result.directory) == 31 <= dashboard.SELECTED_AT_FIRST
    assert set(runs) == {".", *means, *(r.run.name for r in result.results)}
    assert {"epoch_loss", "epoch_val_loss", "epoch_accuracy", "epoch_val_accuracy"} <= set(charts)
    for mean in means:
        assert {aggregate.band_tag(tag, band) for tag in ("epoch_loss", "epoch_val_loss")
                for band in ("mean", "std_low", "std_high")} <= set(tags[mean])


def test_a_vae_s_images_and_a_language_model_s_text_are_served(tmp_path):
    """The Images and Text dashboards read the pictures: a VAE's reconstructions and samples as
    PNGs at each logged epoch, a language model's samples rendered with the prompt in bold."""
    import urllib.parse

    write_mnist(tmp_path, n_train=32, n_test=8)  # the VAE's cost is its images' number, not their size
    (tmp_path / "t.txt").write_text("the quick brown fox jumps over the lazy dog. " * 40)
    batch = config.parse_batch({"batch": {"name": "pictures"}, "defaults": {"epochs": 2, "log": {"histograms": False}},
                                "runs": [{"name": "vae", "problem": {"name": "mnist", "data_dir": str(tmp_path)},
                                          "model": "vae", "batch_size": 16, "optimizer": "adam"},
                                         {"name": "lm", "problem": {"name": "text", "path": str(tmp_path / "t.txt"),
                                                                    "seq_length": 10, "streams": 4},
                                          "model": {"name": "char_rnn", "units": 16}, "batch_size": 4,
                                          "order": "sequential", "optimizer": "adam"}]})
    result = runner.run_batch(batch, tmp_path / "logs", progress=False)
    assert [r.status for r in result.results] == ["ok", "ok"]
    with serve(result.directory, runs=3) as get:
        assert set(get("/data/plugin/images/tags")["vae"]) == {"vae/reconstructions", "vae/samples"}
        for tag in ("vae/reconstructions", "vae/samples"):
            images = get(f"/data/plugin/images/images?run=vae&tag={urllib.parse.quote(tag)}&sample=0")
            assert [image["step"] for image in images] == [0, 1]
        assert get("/data/plugin/text/tags") == {"lm": ["samples"]}
        samples = get("/data/plugin/text/text?run=lm&tag=samples")
        assert [s["step"] for s in samples] == [0, 1]
        prompt = re.search(r"<p>(.*?)<strong>([a-z .]+)</strong>", samples[-1]["text"])  # Markdown rendered
        assert prompt and len(prompt.group(1) + prompt.group(2)) >= 9  # the prompt, its edges' spaces outside
