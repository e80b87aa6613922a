"""Runs that go wrong, and batches that stop and go on, in this process.

(Killing a real batch process, SIGKILL and Ctrl-C, is `test_interrupt.py`.)
"""

import json
import math
import signal
import subprocess
import sys

import numpy as np
import pytest
from tb_events import assert_same_run, event_files, raw_events, scalars, session
from tensorboard.plugins.hparams import api_pb2

import callbacks
from experiments import __main__ as cli
from experiments import runner
from experiments.engine import executor, train
from experiments.report import overview
from experiments.spec import config
from experiments.store import checkpoint
from experiments.workloads.objectives2d import OBJECTIVES

DIGITS = {"problem": {"name": "digits", "validation": 0.2, "test": 0.2}, "model": "mnist_mlp",
          "batch_size": 128}


def batch_of(runs, defaults=None, name="r"):
    return config.parse_batch({"batch": {"name": name}, "defaults": defaults or {}, "runs": runs})


# --- divergence ---------------------------------------------------------------


@pytest.mark.parametrize("loss,first,lowest,diverged", [
    (math.nan, 2.0, 1.0, True), (math.inf, 2.0, 1.0, True), (-math.inf, None, None, True),
    (150.0, 200.0, 1.0, False),  # 150 x its lowest, but below where it started
    (201.0, 200.0, 1.0, True),
    (99.0, 2.0, 1.0, False),  # above its start, under 100 x its lowest
    (1e-3, 5.0, 1e-9, False),  # wobbling near a minimum of almost 0
    (5.0, 2.0, None, False),  # the first step has no lowest yet
    (-1.0, 0.0, -3.0, False),  # a loss below 0 (a saddle): only NaN or inf count
])
def test_divergence_rule(loss, first, lowest, diverged):
    assert (callbacks.divergence_reason(loss, first, lowest, 100.0) is not None) == diverged


@pytest.mark.parametrize("factor", [1, 0.5, -3, "big", True])
def test_divergence_factor_must_be_a_number_above_1(factor):
    with pytest.raises(config.ConfigError, match="divergence_factor"):
        batch_of([{"problem": "material", "steps": 3, "optimizer": "sgd", "divergence_factor": factor}])


def watch_along(losses, factor=100.0, patience=3):
    """(the 1-based step it stopped at or None, its reason, the watch) along `losses`."""
    watch = callbacks.DivergenceWatch(factor, patience)
    for step, loss in enumerate(losses, start=1):
        reason = watch.update(step, loss)
        if reason is not None:
            return step, reason, watch
    return None, None, watch


def test_a_spike_that_recovers_is_not_a_divergence_and_is_counted():
    losses = [2.5, 1.0, 0.01, 5.0, 7.0, 3.0, 0.02, 0.01, 4.0, 0.01]  # two stretches above 100 x 0.01
    stopped, _, watch = watch_along(losses, patience=3)
    assert stopped is None
    assert watch.spike_metrics() == {"spikes": 2, "worst_spike_loss": 7.0, "worst_spike_step": 5}
    assert watch.lowest == 0.01 and watch.first == 2.5  # the spikes' values count for neither
    # a run's default (read without importing TensorFlow) is the watch's
    from callbacks.divergence import DEFAULT_PATIENCE

    assert config.DEFAULT_PATIENCE == DEFAULT_PATIENCE == config.Run(problem="digits").divergence_patience


def test_a_stretch_longer_than_the_patience_is_a_divergence():
    losses = [2.5, 1.0, 0.01, 5.0, 7.0, 3.0, 0.02]
    stopped, reason, watch = watch_along(losses, patience=2)
    assert stopped == 6 and reason == ("the loss 3 exceeds 100 x its lowest value 0.01 and its first "
                                       "value 2.5, for 3 steps in a row")
    assert watch.spike_metrics(diverged=True) == {"spikes": 0}
    assert watch_along(losses, patience=0)[0] == 4  # the old rule: at the first step too large
    # NaN or inf stops at once, whatever the patience
    assert watch_along([2.5, 1.0, math.nan], patience=10**6)[:2] == (3, "the loss is nan")
    assert watch_along([2.5, 1.0, 0.01, 5.0, math.inf], patience=10)[0] == 5
    # a stretch still going when the run ends is a spike
    assert watch_along([2.5, 0.01, 5.0], patience=3)[2].spike_metrics() == {
        "spikes": 1, "worst_spike_loss": 5.0, "worst_spike_step": 3}


def test_the_programs_rule_is_the_watchs(tmp_path):
    """The compiled program's divergence test (`Program._watch`, run eagerly here) against
    `DivergenceWatch`, for members with different factors and patiences, on one loss stream
    each with spikes, a recovery, a long stretch and a NaN."""
    import keras

    from experiments.engine import loop
    from experiments.plan import planning
    from experiments.workloads import models

    data = planning.prepare(batch_of([{"optimizer": "sgd"}], {**DIGITS, "epochs": 1}))[0][2]
    settings = [(100.0, 0), (100.0, 2), (10.0, 5), (math.inf, 1)]
    program = loop.Program([models.build("softmax_regression", data) for _ in settings], data, 0, 128,
                           [callbacks.DivergenceWatch(f, p) for f, p in settings], steps=100)
    rng = np.random.default_rng(0)
    streams = np.exp(rng.normal(-3, 2.5, size=(40, len(settings))))  # spikes of all lengths
    streams[0] = 2.0
    streams[20:27, 2] = 50.0  # 7 steps too large: patience 5 runs out at the 6th
    streams[30, 3] = math.nan
    watches = [callbacks.DivergenceWatch(f, p) for f, p in settings]
    stopped = [None] * len(settings)
    for step, losses in enumerate(streams, start=1):
        alive = program.alive.numpy().copy()
        program._watch(tf_constant(losses), program.alive.value(), step)
        for k, watch in enumerate(watches):
            if stopped[k] is None and watch.update(step, losses[k]) is not None:
                stopped[k] = step
            assert program.alive.numpy()[k] == (stopped[k] is None), (k, step)
            if alive[k] and stopped[k] is None:
                assert program.watch(k).state() == watch.state(), (k, step)
    # every rule was met: too large with no patience, spikes only, too large for too long, NaN
    assert stopped[0] is not None and stopped[1] is None and stopped[2] == 26 and stopped[3] == 31
    assert watches[1].spikes > 0 and watches[2].spikes > 0
    keras.backend.clear_session()


def tf_constant(values):
    import tensorflow as tf

    return tf.constant(values, tf.float64)


SPIKE = {**DIGITS, "epochs": 60, "optimizer": {"name": "sgd", "learning_rate": 0.1},
         # one step at 30 x the rate: the loss jumps 500-fold and comes back
         "schedule": {"name": "piecewise", "boundaries": [20, 20.1], "values": [0.1, 3.0, 0.1]}}


def test_a_real_transient_spike_is_recorded_and_the_run_finishes(tmp_path):
    batch = batch_of([{}, {"divergence_patience": 0}], SPIKE)
    result = runner.run_batch(batch, tmp_path, progress=False)
    spiked, stopped = result.results
    assert spiked.status == "ok" and spiked.metrics["spikes"] == 1
    assert spiked.metrics["worst_spike_step"] == 182  # the step after the fast one: epoch 20's 2nd
    assert spiked.metrics["worst_spike_loss"] > 100 * spiked.best["train_loss"]
    assert spiked.metrics["train_loss"] < 0.05  # it recovered
    record = json.loads((spiked.directory / "result.json").read_text())
    assert record["metrics"]["spikes"] == 1
    assert stopped.status == "diverged" and stopped.divergence["step"] == 182  # patience 0: the old rule
    assert "1 spike(s) shorter than the divergence patience, the worst" in overview.summary_table(result)
    assert scalars(spiked.directory)["summary/spikes"][1] == [1.0]  # an HParams metric


@pytest.fixture(scope="module")
def rho_batch(tmp_path_factory):
    """The material's question, what happens at rho = 1, beside rho = 0.9; every step logged."""
    batch = batch_of([{"optimizer": {"name": "rmsprop", "rho": 1.0}},
                      {"optimizer": {"name": "rmsprop", "rho": 0.9}}],
                     {**DIGITS, "optimizer": {"learning_rate": 0.001}, "steps": 60,
                      "log": {"every_steps": 1, "every_epochs": 1}})
    return runner.run_batch(batch, tmp_path_factory.mktemp("logs"), progress=False)


def test_rmsprop_at_rho_1_diverges_at_once_and_the_batch_goes_on(rho_batch):
    diverged, fine = rho_batch.results
    assert (diverged.status, fine.status) == ("diverged", "ok")
    step = diverged.divergence["step"]
    # s never moves from 0, so the first steps are lr * g / eps: the loss explodes in a few steps
    assert 1 <= step <= 5 and diverged.metrics["steps"] == step
    assert fine.metrics["steps"] == 60 and fine.metrics["train_accuracy"] > 0.9
    assert rho_batch.diverged == [diverged] and rho_batch.failed == []
    record = json.loads((diverged.directory / "result.json").read_text())
    assert record["status"] == "diverged" and record["divergence"]["step"] == step
    # the events it wrote are kept, up to the step that diverged and no further
    train = raw_events(diverged.directory)
    assert [s for s, _ in train["batch_loss"]] == list(range(step))
    assert not math.isfinite(train["batch_loss"][-1][1]) or train["batch_loss"][-1][1] > 100 * 2.0
    root = scalars(diverged.directory)
    assert root["summary/diverged"][1][0] == 1.0 and scalars(fine.directory)["summary/diverged"][1][0] == 0.0
    assert session(diverged.directory)[1] == api_pb2.STATUS_FAILURE
    assert session(fine.directory)[1] == api_pb2.STATUS_SUCCESS
    assert not (diverged.directory / "checkpoint.npz").exists()  # it never finished an epoch
    table = overview.summary_table(rho_batch)
    assert f"DIVERGED at step {step}" in table
    # ranked below the run that finished, whatever its numbers
    assert [row["group"] for row in rho_batch.ranking()] == [fine.run.group, diverged.run.group]


def test_the_diverged_rows_best_values_leave_out_the_step_that_diverged(rho_batch):
    diverged = rho_batch.results[0]
    assert all(math.isfinite(v) for v in diverged.best.values())
    assert diverged.best.get("train_loss", 0) < 100  # not the exploded running mean


def sgd_path(lr, start, steps):
    """SGD on the material's f = x^2/20 + y^2, in NumPy: the points and f along the path."""
    w, path = np.array(start, float), []
    for _ in range(steps + 1):
        path.append(w.copy())
        w = w - lr * np.array([w[0] / 10, 2 * w[1]])
    path = np.array(path)
    return path, path[:, 0] ** 2 / 20 + path[:, 1] ** 2


def test_sgd_with_too_large_a_learning_rate_stops_where_numpy_says(tmp_path):
    """lr = 1.5 > 2 / 2 (f's curvature along y): y doubles and flips every step."""
    batch = batch_of([{"problem": "material", "steps": 30, "optimizer": {"name": "sgd", "learning_rate": 1.5}},
                      {"problem": "material", "steps": 30, "optimizer": {"name": "sgd", "learning_rate": 0.95}}])
    result = runner.run_batch(batch, tmp_path, progress=False)
    diverged, fine = result.results
    path, f = sgd_path(1.5, OBJECTIVES["material"].start, 30)
    expected = next(t for t in range(1, 31) if f[t] > 100 * f[:t].min() and f[t] > f[0])
    assert diverged.status == "diverged" and diverged.divergence["step"] == expected
    assert diverged.metrics["steps"] == expected
    assert diverged.metrics["loss"] == pytest.approx(f[expected], rel=1e-9)
    steps, losses = scalars(diverged.directory)["batch_loss"]
    assert steps == list(range(expected + 1))
    np.testing.assert_allclose(losses, f[:expected + 1], rtol=1e-6)
    assert fine.status == "ok" and fine.metrics["steps"] == 30  # the material's own rate converges


def test_sgd_with_too_large_a_learning_rate_on_digits_diverges(tmp_path):
    batch = batch_of([{"optimizer": {"name": "sgd", "learning_rate": 50.0}}], {**DIGITS, "epochs": 20})
    result, = runner.run_batch(batch, tmp_path, progress=False).results
    assert result.status == "diverged" and result.metrics["steps"] < 20 * 9


def test_a_failed_run_gives_exit_status_1_and_a_summary_the_others_finish(tmp_path, capsys, monkeypatch):
    real = executor.RUNNERS["objective"]

    def out_of_memory(run, *args, **kwargs):
        if run.optimizer["name"] == "adam":
            raise MemoryError("no room for 10^12 floats")
        return real(run, *args, **kwargs)

    monkeypatch.setitem(executor.RUNNERS, "objective", out_of_memory)
    code = cli.main(["run", "naive2d", "--logdir", str(tmp_path), "--quiet", "--set", "steps=3"])
    assert code == 1
    out = capsys.readouterr().out
    assert "2 of 10 run(s) FAILED" in out
    assert "  adam_lr0.3_material_s0: MemoryError: no room for 10^12 floats" in out
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "naive2d").glob("*/result.json"))]
    assert sorted(r["status"] for r in records) == ["failed"] * 2 + ["ok"] * 8


# --- checkpoints and going on ---------------------------------------------------

RESUMABLE = {**DIGITS, "epochs": 6, "log": {"every_epochs": 1, "every_steps": 1}}
RESUMABLE_RUNS = [{"optimizer": {"name": "sgd", "learning_rate": 0.1}},
                  {"optimizer": {"name": "adam", "learning_rate": 0.003},
                   "schedule": {"name": "inverse_time", "decay_rate": 0.5}}]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return runner.run_batch(batch_of(RESUMABLE_RUNS, RESUMABLE), tmp_path_factory.mktemp("ref"),
                            progress=False)


def crash_in(run_name, epoch, step_in_epoch, monkeypatch, how):
    """Make `run_name` stop in `epoch` like a crash (`how="raise"`: its part of the program
    call that trains that epoch is lost; `step_in_epoch` is kept for the reader) or like Ctrl-C
    (`how="sigint"`, once that call has been logged)."""
    real = train._log_call

    def patched(cohort, k, program, call):
        per_epoch = cohort.per_epoch
        called = range(call.first // per_epoch, (call.first + int(call.out["steps"]) - 1) // per_epoch + 1)
        hit = cohort.members[k].run.name == run_name and epoch in called
        if hit and how == "raise":
            raise RuntimeError("the machine went away")
        logged = real(cohort, k, program, call)
        if hit and how == "sigint":
            signal.raise_signal(signal.SIGINT)
        return logged

    monkeypatch.setattr(train, "_log_call", patched)


@pytest.mark.parametrize("seconds", [0, 1e9])
def test_a_crashed_run_goes_on_from_its_checkpoint_to_the_same_numbers(tmp_path, monkeypatch, uninterrupted,
                                                                      seconds):
    """`checkpoint_seconds=0`: saved at every epoch end; 1e9: only at the last, so
    the crashed run has no checkpoint and starts again from scratch."""
    batch = batch_of(RESUMABLE_RUNS, RESUMABLE)
    crash_in("adam_lr0.003_inverse_time_decay_rate0.5_s0", 3, 5, monkeypatch, "raise")
    first = runner.run_batch(batch, tmp_path, progress=False, checkpoint_seconds=seconds)
    assert [r.status for r in first.results] == ["ok", "failed"]
    crashed = first.results[1].directory
    meta = checkpoint.load_meta(crashed)
    assert (meta["epoch"] if meta else None) == (3 if seconds == 0 else None)  # 5 steps of epoch 3 lost
    assert "the machine went away" in (crashed / "error.txt").read_text()
    monkeypatch.undo()

    notes = []
    again = runner.run_batch(batch_of(RESUMABLE_RUNS, RESUMABLE), tmp_path, progress=False,
                             report=notes.append)
    assert again.directory == first.directory
    resumed = seconds == 0
    assert notes == [f"going on in {again.directory}: 1 finished run(s) skipped, "
                     f"{int(resumed)} resumed from a checkpoint, {int(not resumed)} to run"]
    assert [(r.skipped, r.resumed, r.status) for r in again.results] == [(True, False, "ok"),
                                                                         (False, resumed, "ok")]
    for ours, reference in zip(again.results, uninterrupted.results):
        assert_same_run(ours, reference)
    assert not (crashed / "error.txt").exists()
    # the session was started once and ended once
    root = raw_events(crashed)
    assert len(root["_hparams_/session_start_info"]) == 1 and len(root["_hparams_/session_end_info"]) == 1


def test_ctrl_c_saves_at_the_epoch_end_and_the_same_batch_goes_on(tmp_path, monkeypatch, uninterrupted):
    """The two runs train as one group: both are saved, and both go on."""
    crash_in("sgd_lr0.1_s0", 1, None, monkeypatch, "sigint")
    before = signal.getsignal(signal.SIGINT)  # Ray or another test may have set its own
    notes = []
    with pytest.raises(runner.Interrupted) as stopped:  # checkpoint_seconds=0: a call per epoch
        runner.run_batch(batch_of(RESUMABLE_RUNS, RESUMABLE), tmp_path, progress=False, report=notes.append,
                         checkpoint_seconds=0)
    assert signal.getsignal(signal.SIGINT) is before  # handler put back
    assert "Ctrl-C: stopping after saving the running run" in notes[0]
    assert str(stopped.value) == (f"stopped: 0 of 2 runs in {tmp_path / 'r'} are finished; "
                                  "sgd_lr0.1_s0 saved at epoch 2")
    run_dir = tmp_path / "r" / "sgd_lr0.1_s0"
    assert checkpoint.load_meta(run_dir)["epoch"] == 2
    assert not (run_dir / "result.json").exists()
    grouped = tmp_path / "r" / "adam_lr0.003_inverse_time_decay_rate0.5_s0"  # saved with it
    assert checkpoint.load_meta(grouped)["epoch"] == 2 and not (grouped / "result.json").exists()
    monkeypatch.undo()

    again = runner.run_batch(batch_of(RESUMABLE_RUNS, RESUMABLE), tmp_path, progress=False)
    assert [(r.resumed, r.status) for r in again.results] == [(True, "ok"), (True, "ok")]
    for ours, reference in zip(again.results, uninterrupted.results):
        assert_same_run(ours, reference)


def test_ctrl_c_keeps_a_group_mate_that_already_finished(tmp_path, monkeypatch):
    """A run that diverged before Ctrl-C is finished: its result.json is written before the batch
    stops, and going on skips it."""
    runs = [{"optimizer": {"name": "rmsprop", "learning_rate": 0.001, "rho": 1.0}},  # diverges at once
            {"optimizer": {"name": "sgd", "learning_rate": 0.1}}]
    crash_in("sgd_lr0.1_s0", 2, None, monkeypatch, "sigint")
    with pytest.raises(runner.Interrupted, match="1 of 2 runs .* are finished; sgd_lr0.1_s0 saved at epoch 3"):
        runner.run_batch(batch_of(runs, RESUMABLE), tmp_path, progress=False, report=lambda note: None,
                         checkpoint_seconds=0)
    diverged = json.loads((tmp_path / "r" / "rmsprop_lr0.001_rho1_s0" / "result.json").read_text())
    assert diverged["status"] == "diverged"
    monkeypatch.undo()
    again = runner.run_batch(batch_of(runs, RESUMABLE), tmp_path, progress=False)
    assert [(r.skipped, r.resumed, r.status) for r in again.results] == [(True, False, "diverged"),
                                                                         (False, True, "ok")]


def test_a_finished_batch_run_again_skips_everything_and_writes_its_outputs_once(tmp_path):
    batch = batch_of([{"optimizer": {"name": "sgd", "learning_rate": 0.1}, "seeds": [0, 1]}],
                     {**DIGITS, "epochs": 2})
    first = runner.run_batch(batch, tmp_path, progress=False)
    again = runner.run_batch(batch_of([{"optimizer": {"name": "sgd", "learning_rate": 0.1}, "seeds": [0, 1]}],
                                      {**DIGITS, "epochs": 2}), tmp_path, progress=False)
    assert again.directory == first.directory and all(r.skipped for r in again.results)
    assert [r.metrics for r in again.results] == [r.metrics for r in first.results]
    assert [p.name for p in again.figures] == [p.name for p in first.figures]
    for directory in (again.directory, *again.aggregates):  # each kind of file once: figures, definition, layout
        names = [p.name for p in directory.glob("events.out.tfevents.*")]
        assert len(names) == len({name.rsplit(".", 1)[-1] for name in names}), names
    mean = again.aggregates[0]
    assert len(event_files(mean)) == 1
    for tag, entries in raw_events(mean).items():
        steps = [s for s, _ in entries]
        assert steps == sorted(set(steps)), tag


def test_another_batch_of_the_same_name_gets_its_own_directory_and_fresh_starts_over(tmp_path):
    one = runner.run_batch(batch_of([{"problem": "material", "steps": 3, "optimizer": "sgd"}]), tmp_path,
                           progress=False)
    other = runner.run_batch(batch_of([{"problem": "material", "steps": 4, "optimizer": "sgd"}]), tmp_path,
                             progress=False)
    fresh = runner.run_batch(batch_of([{"problem": "material", "steps": 3, "optimizer": "sgd"}]), tmp_path,
                             progress=False, fresh=True)
    assert [b.directory.name for b in (one, other, fresh)] == ["r", "r_2", "r_3"]
    assert not any(r.skipped for r in fresh.results)


def test_a_run_whose_config_changed_is_run_again_not_resumed(tmp_path):
    batch = batch_of([{"problem": "material", "steps": 3, "optimizer": "sgd"}])
    first = runner.run_batch(batch, tmp_path, progress=False)
    record = first.results[0].directory / "result.json"
    record.write_text(record.read_text().replace(first.results[0].fingerprint, "0" * 16))
    again = runner.run_batch(batch_of([{"problem": "material", "steps": 3, "optimizer": "sgd"}]), tmp_path,
                             progress=False)
    assert not again.results[0].skipped and again.results[0].metrics == first.results[0].metrics
    written = [p.name for p in event_files(again.results[0].directory) if not p.name.endswith(".session")]
    assert len(written) == 1  # the old events are gone


def test_the_same_batch_running_elsewhere_is_refused_with_nothing_written(tmp_path, capsys):
    """Another process holds the batch directory's lock: a clear refusal, exit 2."""
    assert cli.main(["run", "naive2d", "--logdir", str(tmp_path), "--quiet", "--set", "steps=2"]) == 0
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "naive2d").rglob("*") if p.name != ".lock"}
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        f"f = open({str(tmp_path / 'naive2d' / '.lock')!r}, 'a+')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\nf.seek(0); f.truncate(); f.write('4242'); f.flush()\n"
        "print('locked', flush=True)\ntime.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["run", "naive2d", "--logdir", str(tmp_path), "--quiet", "--set", "steps=2"])
    finally:
        holder.kill()
        holder.wait()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"python -m experiments: error: {str(tmp_path / 'naive2d')!r} is being written by "
                   "another run of batch 'naive2d' (pid 4242); wait for it to finish, or give another --logdir")
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "naive2d").rglob("*") if p.name != ".lock"}
    assert after == before and sorted(p.name for p in tmp_path.iterdir()) == ["naive2d"]


def test_same_batch_same_seeds_identical_numbers_run_to_run(tmp_path):
    runs = [{"optimizer": {"name": "adam", "learning_rate": 0.003}}, {"optimizer": "momentum"}]
    a = runner.run_batch(batch_of(runs, {**DIGITS, "epochs": 3}), tmp_path / "a", progress=False)
    b = runner.run_batch(batch_of(runs, {**DIGITS, "epochs": 3}), tmp_path / "b", progress=False)
    for x, y in zip(a.results, b.results):
        assert x.metrics == y.metrics and x.best == y.best and x.curves["step_loss"] == y.curves["step_loss"]
