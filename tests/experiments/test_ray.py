"""Batches on a real local Ray instance with 2 workers ("Caviar"), against the same batch run here."""

import json
import os

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from experiments import config, parallel, plan, results, runner  # noqa: E402
from tb_events import scalars  # noqa: E402

pytestmark = pytest.mark.slow

BATCH = {
    "batch": {"name": "caviar"},
    "defaults": {"problem": "digits", "model": "softmax_regression", "batch_size": 128, "steps": 30,
                 "seeds": [0, 1], "log": {"every_epochs": 1, "histograms": False}},
    "runs": [{"optimizer": {"name": "sgd", "learning_rate": 0.1}},
             {"optimizer": {"name": "momentum", "learning_rate": 0.05}},
             {"optimizer": {"name": "adam", "learning_rate": 0.01}},
             {"problem": "material", "steps": 10, "optimizer": {"name": "adagrad", "learning_rate": 1.5},
              "model": None, "seeds": None, "log": {}}],
}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def both(local_ray, tmp_path_factory):
    """The batch run with 2 Ray workers and run in this process, into separate log directories."""
    logs = tmp_path_factory.mktemp("logs")
    on_ray = runner.run_batch(config.parse_batch(BATCH), logs / "ray", progress=False, workers=2)
    here = runner.run_batch(config.parse_batch(BATCH), logs / "here", progress=False)
    return on_ray, here


def test_every_run_completes_on_two_workers(both):
    on_ray, _ = both
    assert len(on_ray.results) == 7 and not on_ray.failed
    statuses = {json.loads((r.directory / "result.json").read_text())["status"] for r in on_ray.results}
    assert statuses == {"ok"}


def test_ray_results_equal_the_sequential_ones(both):
    on_ray, here = both
    assert [r.run.name for r in on_ray.results] == [r.run.name for r in here.results]
    for a, b in zip(on_ray.results, here.results):
        assert a.metrics == b.metrics and a.best == b.best  # exactly: same seeds, same numbers


def test_every_run_logged_by_a_worker_is_readable(both):
    on_ray, here = both
    for a, b in zip(on_ray.results, here.results):
        a_train, b_train = scalars(a.directory / "train"), scalars(b.directory / "train")
        assert set(a_train) == set(b_train) and a_train
        for tag in a_train:
            assert a_train[tag][0] == b_train[tag][0]
            if tag != "wall_seconds":
                np.testing.assert_array_equal(a_train[tag][1], b_train[tag][1])
    groups = {f"{r.run.group}_mean" for r in here.results if r.kind == "dataset"}
    assert len(groups) == 3 and {p.name for p in on_ray.aggregates} == {p.name for p in here.aggregates} == groups


def test_a_run_whose_worker_dies_is_failed_and_the_others_finish(local_ray, tmp_path):
    class Bomb:  # unpickling it on the worker kills that process, as an OOM kill would
        def __reduce__(self):
            return (os._exit, (3,))

    batch = config.parse_batch({"runs": [
        {"problem": "material", "steps": 5, "optimizer": {"name": "sgd", "learning_rate": r}}
        for r in (0.1, 0.2, 0.3)]})
    prepared = plan.prepare(batch)
    jobs = []
    for i, (run, kind, thing) in enumerate(prepared):
        (tmp_path / run.name).mkdir()
        jobs.append(results.Job(run, kind, Bomb() if i == 1 else thing, tmp_path / run.name))
    with parallel.Pool(workers=2) as pool:
        done = dict(pool.map(jobs))
    assert [done[i].status for i in range(3)] == ["ok", "failed", "ok"]
    assert done[1].error.startswith("WorkerCrashedError")
    assert "WorkerCrashedError" in (jobs[1].directory / "error.txt").read_text()
    assert np.isfinite(done[2].metrics["loss"])
