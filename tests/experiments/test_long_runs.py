"""A long run's validation curve, read through a real `tensorboard` server's data API: logged at
the same epochs as its training curve, each value the validation score of the weights of that
epoch (issue: the `mnist` runs, over 200 epochs, had no validation curve at all)."""

import time
import urllib.parse

import pytest
from tb_server import serve

from experiments import runner
from experiments.spec import config

pytestmark = pytest.mark.slow

LONG = {"problem": {"name": "moons", "validation": 0.2}, "model": "moons_net", "batch_size": 64,
        "optimizer": {"name": "adam", "learning_rate": 0.01},
        "log": {"histograms": False, "decision_boundary": False, "update_ratio": False}}


def batch_of(epochs, name):
    return config.parse_batch({"batch": {"name": name}, "defaults": {**LONG, "epochs": epochs},
                               "runs": [{"name": "adam"}]})


def scalars_served(run_directory, tags):
    """{tag: [(step, value)]} of the run's `tags`, from one tensorboard server on its directory."""
    served = {}
    with serve(run_directory, runs=1) as get:
        for tag in tags:
            query = urllib.parse.urlencode({"run": ".", "tag": tag})
            for _ in range(60):  # a listed run's events may still be loading
                try:
                    served[tag] = [(step, value) for _, step, value in get(f"/data/plugin/scalars/scalars?{query}")]
                    break
                except OSError:
                    time.sleep(0.5)
            else:
                pytest.fail(f"tensorboard did not serve {tag}")
    return served


def test_a_long_runs_validation_is_logged_with_its_training_value_by_value(tmp_path):
    long = runner.run_batch(batch_of(600, "long"), tmp_path, progress=False).results[0]
    served = scalars_served(long.directory, ("epoch_loss", "epoch_val_loss"))
    train, validation = served["epoch_loss"], served["epoch_val_loss"]
    assert len(train) > 50 and train[1][0] > 1  # a long run: logged every few epochs, still a curve
    assert [s for s, _ in validation] == [s for s, _ in train]  # the same epochs
    assert train[-1][0] == 599 and validation[-1][1] == pytest.approx(long.metrics["validation_loss"], rel=1e-6)
    # a logged epoch in the middle: the run trained just that far scores the same on validation
    middle, value = validation[len(validation) // 2]
    short = runner.run_batch(batch_of(middle + 1, "short"), tmp_path, progress=False).results[0]
    assert value == pytest.approx(short.metrics["validation_loss"], rel=1e-6)
