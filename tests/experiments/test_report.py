"""`python -m experiments report` and `run`'s short form, end to end on 2-D runs: every number
of report.md against the runs' own events, a diverged run named with its reason."""

import json

import numpy as np
import pytest
from tb_events import accumulator, scalars
from tensorboard.util import tensor_util

from experiments import __main__ as cli
from experiments import runner
from experiments.report import verdict
from experiments.spec import config, metrics

RUNS = [{"optimizer": {"name": "sgd", "learning_rate": 0.1}},
        {"optimizer": {"name": "momentum", "learning_rate": 0.1, "momentum": 0.9}},
        {"optimizer": {"name": "sgd", "learning_rate": 1.2}}]  # diverges on the bowl's steep axis


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("logs")
    for problem in ("material", "rotated"):
        runner.run_batch(config.parse_batch({"batch": {"name": problem}, "defaults": {"problem": problem, "steps": 40},
                                             "runs": RUNS}), logdir, progress=False)
    return logdir


def test_time_to_target_equals_the_events(logdir, capsys):
    assert cli.main(["report", str(logdir)]) == 0
    text = (logdir / verdict.REPORT).read_text()
    for problem in ("material", "rotated"):
        finals, firsts = {}, {}
        for run in ("sgd_lr0.1_s0", "momentum_lr0.1_mom0.9_s0"):
            steps, losses = scalars(logdir / problem / run)["batch_loss"]
            finals[run] = (steps, np.array(losses))
        target = max(losses[-1] for _, losses in finals.values())  # the worst final of the finished runs
        for run, (steps, losses) in finals.items():
            firsts[run] = steps[int(np.argmax(losses <= target))]
            assert f"| {run} | {run.split('_')[0]} | {firsts[run]} |  |" in text
        assert f"### {problem} (problem {problem}): loss ≤ {target:.4g}" in text
        assert ("Curve: `batch_loss: f after each step`. Target: the highest last value of this curve "
                "among the 2 finished runs, so each of them reaches it.") in text
        diverged = json.loads((logdir / problem / "sgd_lr1.2_s0" / "result.json").read_text())
        assert diverged["status"] == "diverged"  # never dropped: in the times as "never", and listed with why
        assert f"| sgd_lr1.2_s0 | sgd | never | diverged at step {diverged['divergence']['step']}" in text
        assert f"| {problem}/sgd_lr1.2_s0 | diverged | diverged at step" in text
    printed = capsys.readouterr().out
    assert "performance profiles over 2 problems" in printed and f"wrote {logdir / 'report.md'}" in printed


def test_performance_profiles_from_the_steps_to_target(logdir):
    runs, _ = verdict.collect(logdir)
    content = verdict.build(runs)
    times = content["times"]
    assert set(times) == {"material (problem material)", "rotated (problem rotated)"}
    for workload, per in times.items():
        rows = content["timed"][workload]["rows"]
        # sgd: its better trial (lr 0.1; lr 1.2 diverged and never got there)
        steps = [r["step"] if r["step"] is not None else np.inf for r in rows if r["optimizer"] == "sgd"]
        assert per["sgd"] == min(steps)
    best = {w: min(per.values()) for w, per in times.items()}
    for optimizer, fractions in content["profiles"].items():
        ratios = [times[w][optimizer] / best[w] for w in times]
        tau_index = {1.0: 0, 2.0: 20, 4.0: 60}
        for tau, i in tau_index.items():
            assert fractions[i] == pytest.approx(np.mean([r <= tau for r in ratios]))


def test_the_report_is_in_tensorboard_text_and_images(logdir):
    verdict.write(logdir)
    events = accumulator(logdir)
    tags = events.Tags()["tensors"]
    assert events.SummaryMetadata("report").plugin_data.plugin_name == "text"
    served = tensor_util.make_ndarray(events.Tensors("report")[0].tensor_proto).item().decode()
    assert served == (logdir / verdict.REPORT).read_text()
    assert {"report/performance_profiles", "report/time_to_target"} <= set(tags)
    assert len(list(logdir.glob("events.out.tfevents.*.report"))) == 1  # written again, not twice


def test_run_prints_the_short_form_and_writes_the_batch_report(tmp_path, capsys):
    batch = tmp_path / "b.toml"
    batch.write_text('[batch]\nname = "short"\n[defaults]\nproblem = "material"\nsteps = 20\n'
                     '[[runs]]\noptimizer = { name = "sgd", learning_rate = 0.1 }\n'
                     '[[runs]]\noptimizer = { name = "adam", learning_rate = 0.3 }\n')
    assert cli.main(["run", str(batch), "--logdir", str(tmp_path / "logs"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "  short (problem material): first to loss <= " in printed
    assert f"report: {tmp_path / 'logs' / 'short' / 'report.md'}" in printed
    assert (tmp_path / "logs" / "short" / "time_to_target.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, message", [
    (["--target", "speed=1"], "`--target` names a metric to time: one of"),
    (["--target", "loss=fast"], "`--target` must be METRIC=NUMBER. Received: --target='loss=fast'"),
    (["--target", "loss=inf"], "`--target.loss` must be a finite number. Received: --target.loss=inf"),
])
def test_bad_targets_are_refused_by_name(logdir, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["report", str(logdir), *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_a_given_target_is_used_and_said(logdir):
    runs, _ = verdict.collect(logdir)
    content = verdict.build(runs, {"loss": 0.5})
    timed = content["timed"]["material (problem material)"]
    assert timed["target"] == 0.5 and timed["how"] == "given"


def test_the_batch_file_may_name_the_targets(tmp_path):
    batch = config.parse_batch({"batch": {"name": "aimed", "targets": {"loss": 0.05}},
                                "defaults": {"problem": "material", "steps": 40}, "runs": RUNS[:2]})
    assert batch.targets == {"loss": 0.05}
    result = runner.run_batch(batch, tmp_path, progress=False)
    content, _ = verdict.write(result.directory)
    timed = content["timed"]["aimed (problem material)"]
    assert (timed["target"], timed["how"]) == (0.05, "the batch file's")
    steps, losses = scalars(result.directory / "sgd_lr0.1_s0")["batch_loss"]
    expected = next((s for s, v in zip(steps, losses) if v <= 0.05), None)
    assert next(r["step"] for r in timed["rows"] if r["run"] == "sgd_lr0.1_s0") == expected


@pytest.mark.parametrize("targets, message", [
    ({"accuracy": 0.9}, "`batch.targets` names a metric to time: one of"),
    ({"loss": "low"}, "`batch.targets.loss` must be a finite number. Received: batch.targets.loss='low'"),
    (0.5, "`batch.targets` must be a table of metric = value"),
])
def test_bad_targets_in_a_batch_file_are_refused_before_anything_runs(targets, message):
    with pytest.raises(config.ConfigError, match=message.replace(".", "\\.").replace("(", "\\(")):
        config.parse_batch({"batch": {"name": "x", "targets": targets}, "defaults": {"problem": "material"},
                            "runs": RUNS[:1]})


def test_nothing_to_report_is_one_clear_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["report", str(tmp_path)])
    assert exit_info.value.code == 2 and "no runs (result.json files) under" in capsys.readouterr().err


def test_a_dataset_runs_time_to_target_is_in_steps_and_in_tensorboards_epochs(tmp_path):
    """The report's epoch is the step of TensorBoard's `epoch_*` charts at which the curve
    first reaches the target, and its step that epoch's end in optimizer steps; the curve and
    the target are named for what they are."""
    batch = config.parse_batch({"batch": {"name": "units"},
                                "defaults": {"problem": {"name": "digits", "validation": 0.2, "test": 0.2},
                                             "model": "softmax_regression", "batch_size": 128, "epochs": 6},
                                "runs": [{"optimizer": {"name": "sgd", "learning_rate": 0.05}},
                                         {"optimizer": {"name": "adam", "learning_rate": 0.01}}]})
    result = runner.run_batch(batch, tmp_path, progress=False)
    content, _ = verdict.write(result.directory)
    workload = "units (problem digits, model softmax_regression)"
    timed = content["timed"][workload]
    text = (result.directory / verdict.REPORT).read_text()
    per_epoch = json.loads((result.directory / "sgd_lr0.05_s0" / "config.json").read_text())["steps_per_epoch"]
    curves = {r.run.name: scalars(r.directory)["epoch_loss"] for r in result.results}
    target = max(values[-1] for _, values in curves.values())
    assert timed["target"] == pytest.approx(target, rel=1e-6)
    assert "Curve: `epoch_loss: each epoch's mean loss over its training batches`." in text
    for row in timed["rows"]:
        epochs, values = curves[row["run"]]
        epoch = epochs[int(np.argmax(np.array(values) <= timed["target"]))]
        assert (row["epoch"], row["step"]) == (epoch, (epoch + 1) * per_epoch)
        assert f"| {row['run']} | {row['optimizer']} | {row['step']} | {epoch} | " in text
    assert any(row["epoch"] > 0 for row in timed["rows"])
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    import copy

    named = copy.deepcopy(content)  # a search's names are long, and push the panel right
    for k, row in enumerate(named["timed"][workload]["rows"]):
        row["run"] = f"t{k:02d}_momentum_formewa_lr0.0002793_mom0.9984_s0"
    fig = verdict.figures(named)["time_to_target"]
    FigureCanvasAgg(fig).draw()
    renderer, page = fig.canvas.get_renderer(), fig.bbox
    for ax in fig.axes:  # the axis label that says what the bars' labels are, whole in the figure
        label = ax.xaxis.label.get_window_extent(renderer)
        assert "(labels: the epoch" in ax.get_xlabel() and page.x0 <= label.x0 and label.x1 <= page.x1


def test_every_timed_curve_is_described():
    assert {kind: set(curves) for kind, curves in verdict.CURVE_NAMES.items()} == \
        {kind: set(curves) for kind, curves in metrics.CURVES.items()}


def test_event_files_are_read_again_only_when_they_changed(tmp_path, monkeypatch):
    """The mean runs and the report read the same runs one after the other: the second read of
    an unchanged run parses nothing, a run whose events grew is read again, and each caller
    gets dicts of its own."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from experiments.report import aggregate

    reloads = []
    real = EventAccumulator.Reload
    monkeypatch.setattr(EventAccumulator, "Reload", lambda self: reloads.append(1) or real(self))

    def write(steps, suffix):
        writer = tf.summary.create_file_writer(str(tmp_path), filename_suffix=suffix)
        with writer.as_default():
            for step in steps:
                tf.summary.scalar("epoch_loss", 1.0 / (step + 1), step=step)
        writer.close()

    write(range(3), ".a")
    first = aggregate.read_scalars(tmp_path)
    assert first == {"epoch_loss": {0: 1.0, 1: 0.5, 2: pytest.approx(1 / 3)}} and len(reloads) == 1
    first["epoch_loss"][0] = -1.0  # the caller's own
    timed = aggregate.read_scalars(tmp_path, wall_times=True)
    assert len(reloads) == 1 and timed["epoch_loss"][0][0] == 1.0 and timed["epoch_loss"][0][1] > 0
    assert aggregate.read_scalars(tmp_path)["epoch_loss"][0] == 1.0
    write([3], ".b")  # a run that went on: another event file
    assert sorted(aggregate.read_scalars(tmp_path)["epoch_loss"]) == [0, 1, 2, 3] and len(reloads) == 2
    from experiments.report import dashboard
    from experiments.store import events

    # HParams' session file, which `dashboard.unify` rewrites after the mean runs: no scalars in it
    (tmp_path / f"{events.EVENTS}.1{dashboard.SESSION}").write_bytes(b"")
    assert sorted(aggregate.read_scalars(tmp_path)["epoch_loss"]) == [0, 1, 2, 3] and len(reloads) == 2
