"""A long run's validation curve, read through a real `tensorboard` server's data API: logged at
the same epochs as its training curve, each value the validation score of the weights of that
epoch (issue: the `mnist` runs, over 200 epochs, had no validation curve at all)."""

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from experiments import config, runner
from test_tensorboard_server import free_port

pytestmark = pytest.mark.slow

LONG = {"problem": {"name": "moons", "validation": 0.2}, "model": "moons_net", "batch_size": 64,
        "optimizer": {"name": "adam", "learning_rate": 0.01},
        "log": {"histograms": False, "decision_boundary": False, "update_ratio": False}}


def batch_of(epochs, name):
    return config.parse_batch({"batch": {"name": name}, "defaults": {**LONG, "epochs": epochs},
                               "runs": [{"name": "adam"}]})


def scalars_served(logdir, run, tag):
    """[(step, value)] of `run`'s `tag`, from a tensorboard server on `logdir`."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
         "--port", str(port), "--load_fast", "false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    query = urllib.parse.urlencode({"run": run, "tag": tag})
    deadline = time.time() + 90
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?{query}",
                                            timeout=10) as response:
                    return [(step, value) for _, step, value in json.loads(response.read())]
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    pytest.fail("tensorboard did not serve the run within 90 s")
                time.sleep(0.5)
    finally:
        server.terminate()


def test_a_long_runs_validation_is_logged_with_its_training_value_by_value(tmp_path):
    long = runner.run_batch(batch_of(600, "long"), tmp_path, progress=False).results[0]
    train = scalars_served(long.directory, "train", "epoch_loss")
    validation = scalars_served(long.directory, "validation", "epoch_loss")
    assert len(train) > 50 and train[1][0] > 1  # a long run: logged every few epochs, still a curve
    assert [s for s, _ in validation] == [s for s, _ in train]  # the same epochs
    assert train[-1][0] == 599 and validation[-1][1] == pytest.approx(long.metrics["validation_loss"], rel=1e-6)
    # a logged epoch in the middle: the run trained just that far scores the same on validation
    middle, value = validation[len(validation) // 2]
    short = runner.run_batch(batch_of(middle + 1, "short"), tmp_path, progress=False).results[0]
    assert value == pytest.approx(short.metrics["validation_loss"], rel=1e-6)
