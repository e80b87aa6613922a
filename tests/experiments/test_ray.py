"""Batches on a real local Ray instance with 2 workers ("Caviar"), against the same batch run here."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from tb_events import scalars  # noqa: E402

from experiments import runner  # noqa: E402
from experiments.engine import parallel  # noqa: E402
from experiments.plan import planning  # noqa: E402
from experiments.spec import config  # noqa: E402
from experiments.store import results  # noqa: E402

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
        a_train, b_train = scalars(a.directory), scalars(b.directory)
        assert set(a_train) == set(b_train) and a_train
        for tag in a_train:
            assert a_train[tag][0] == b_train[tag][0]
            if tag != "summary/wall_seconds":
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
    prepared = planning.prepare(batch)
    jobs = []
    for i, (run, kind, problem_data) in enumerate(prepared):
        (tmp_path / run.name).mkdir()
        jobs.append(results.Job(run, kind, Bomb() if i == 1 else problem_data, tmp_path / run.name))
    with parallel.Pool(workers=2) as pool:
        done = dict(pool.map(jobs))
    assert [done[i].status for i in range(3)] == ["ok", "failed", "ok"]
    assert done[1].error.startswith("WorkerCrashedError")
    assert "WorkerCrashedError" in (jobs[1].directory / "error.txt").read_text()
    assert np.isfinite(done[2].metrics["loss"])


# --- --workers starts its own instance; --address joins a cluster ---------------

SMALL = """[batch]
name = "w"
[defaults]
problem = "material"
steps = 5
[[runs]]
optimizer = { name = "sgd", learning_rate = 0.1 }
[[runs]]
optimizer = { name = "adam", learning_rate = 0.1 }
"""


@pytest.fixture
def small_batch(tmp_path):
    """The batch file, and its runs' metrics when run in this process."""
    path = tmp_path / "w.toml"
    path.write_text(SMALL)
    here = runner.run_batch(config.load_batch(path), tmp_path / "here", progress=False)
    return path, {r.run.name: r.metrics for r in here.results}


@pytest.fixture
def ray_tmpdir(monkeypatch):
    """Ray's files in a folder of this test's (short: Ray's socket paths have a length limit)."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", folder)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    yield pathlib.Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def cli(batch_file, logdir, *args):
    return subprocess.run([sys.executable, "-m", "experiments", "run", str(batch_file), "--logdir", str(logdir),
                           "--quiet", *args], capture_output=True, text=True, timeout=300)


def metrics_of(directory):
    return {p.parent.name: json.loads(p.read_text())["metrics"] for p in directory.glob("*/result.json")}


def test_workers_start_a_local_instance_whatever_cluster_the_machine_remembers(small_batch, ray_tmpdir, tmp_path,
                                                                               monkeypatch):
    """After `ray start --head` was once run here, Ray's `ray_current_cluster` file and
    RAY_ADDRESS name a cluster that is gone: `--workers 2` must join neither (each
    alone made `ray.init` try to join it: one process checks both, to keep CI short)."""
    batch_file, expected = small_batch
    (ray_tmpdir / "ray").mkdir()
    (ray_tmpdir / "ray" / "ray_current_cluster").write_text("127.0.0.1:6399")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6398")
    done = cli(batch_file, tmp_path / "logs", "--workers", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cannot start Ray" not in done.stderr
    assert metrics_of(tmp_path / "logs" / "w") == expected
    assert (ray_tmpdir / "ray" / "ray_current_cluster").read_text() == "127.0.0.1:6399"  # left as it was


def test_address_joins_a_real_cluster_of_two_nodes(small_batch, ray_tmpdir, tmp_path):
    """A head and a second node (`ray.cluster_utils.Cluster`, as Ray's own tests make
    one), one CPU each; the batch joins through `--address` and equals the batch run here."""
    from ray.cluster_utils import Cluster

    batch_file, expected = small_batch
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        assert len(cluster.list_all_nodes()) == 2
        done = cli(batch_file, tmp_path / "logs", "--address", cluster.address)
    finally:
        cluster.shutdown()
    assert done.returncode == 0, done.stderr[-2000:]
    assert metrics_of(tmp_path / "logs" / "w") == expected
