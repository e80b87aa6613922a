"""A real `tensorboard` server on loopback reads what a batch wrote (HTTP data API)."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from experiments import config, runner

pytestmark = pytest.mark.slow


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(result.directory),
         "--host", "127.0.0.1", "--port", str(port), "--load_fast", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def get(path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(base + path, data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    deadline = time.time() + 90
    while True:  # wait until the server answers and has loaded every run
        try:
            if len(get("/data/runs")) >= 14:
                break
        except OSError:
            pass
        if time.time() > deadline or server.poll() is not None:
            server.kill()
            pytest.fail("tensorboard did not serve the runs within 90 s")
        time.sleep(0.5)
    yield result, get
    server.terminate()
    server.wait(timeout=10)


def test_runs_are_listed(served):
    result, get = served
    names = [r.run.name for r in result.results] + ["sgd_lr0.1_mean"]  # the mean over sgd's seeds
    assert set(get("/data/runs")) == {".", "figures", *names, *(f"{n}/{s}" for n in names
                                                                 for s in ("train", "validation"))}
    tags = get("/data/plugin/scalars/tags")["sgd_lr0.1_mean/train"]
    assert {"epoch_loss", "epoch_loss/std_low", "epoch_loss/std_high", "epoch_loss/min",
            "epoch_loss/max"} <= set(tags)


def test_scalars_through_the_http_api_equal_the_run(served):
    result, get = served
    for r in result.results:
        tags = get("/data/plugin/scalars/tags")[f"{r.run.name}/train"]
        assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "epoch_gradient_norm"} <= set(tags)
        points = get(f"/data/plugin/scalars/scalars?run={r.run.name}/train&tag=epoch_learning_rate")
        assert [step for _, step, _ in points] == [0, 1, 2]
        expected = r.run.optimizer.get("learning_rate", 0.01)
        assert all(value == pytest.approx(expected) for _, _, value in points)
        final = get(f"/data/plugin/scalars/scalars?run={r.run.name}&tag=final/train_accuracy")
        assert final[0][2] == pytest.approx(r.metrics["train_accuracy"], rel=1e-6)


def test_hparams_dashboard_lists_hyperparameters_and_metrics(served):
    result, get = served
    experiment = get("/data/plugin/hparams/experiment", {"experimentName": ""})
    hparams = {h["name"]: h for h in experiment["hparamInfos"]}
    assert hparams["optimizer"]["domainDiscrete"] == ["rmsprop", "sgd"]
    assert {"optimizer.learning_rate", "optimizer.rho", "batch_size", "seed", "problem", "model"} <= set(hparams)
    metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert {"final/train_loss", "final/validation_accuracy", "final/test_accuracy", "wall_seconds",
            "best/validation_loss", "best/validation_accuracy", "diverged"} <= metrics
    groups = get("/data/plugin/hparams/session_groups", {
        "experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                                                  "STATUS_RUNNING"],
        "colParams": [], "startIndex": 0, "sliceSize": 10})
    sessions = {g["name"]: g for g in groups["sessionGroups"]}
    assert set(sessions) == {"sgd_lr0.1", "rmsprop_rho0.9"}  # a trial is one group, its seeds its sessions
    sgd = sessions["sgd_lr0.1"]
    assert sgd["hparams"]["optimizer"] == "sgd" and sgd["hparams"]["optimizer.learning_rate"] == 0.1
    assert sorted(s["name"] for s in sgd["sessions"]) == ["sgd_lr0.1_s0", "sgd_lr0.1_s1"]
    assert {s["status"] for s in sgd["sessions"]} == {"STATUS_SUCCESS"}
    best = [m for m in sgd["sessions"][0]["metricValues"] if m["name"]["tag"] == "best/validation_loss"]
    run = next(r for r in result.results if r.run.name == sgd["sessions"][0]["name"])
    assert best[0]["value"] == pytest.approx(run.best["validation_loss"], rel=1e-6)
    diverged = [m["value"] for m in sgd["sessions"][0]["metricValues"] if m["name"]["tag"] == "diverged"]
    assert diverged == [0.0]


def test_histograms_and_images_are_served(served):
    result, get = served
    name = result.results[2].run.name  # rmsprop
    histogram_tags = get("/data/plugin/histograms/tags")[f"{name}/train"]
    assert any(t.startswith("slots/") and t.endswith("_velocity") for t in histogram_tags)
    assert any(t.startswith("weights/") for t in histogram_tags)
    assert set(get("/data/plugin/images/tags")["figures"]) == {"loss_curves"}
