"""Runs and batches end to end into tmp_path: layout, configs, values, seeds."""

import json
import re

import numpy as np
import pytest
from tb_events import scalars, tensors

import custom_optimizers as co
from experiments import runner
from experiments.engine import executor
from experiments.report import figures, overview
from experiments.spec import config
from experiments.spec.metrics import HPARAM_METRICS, summary_tag
from experiments.workloads.objectives2d import OBJECTIVES, minimise


def batch_of(runs, defaults=None, name="t"):
    return config.parse_batch({"batch": {"name": name, "reproduces": "test", "runtime": "s",
                                         "expected": "e"},
                               "defaults": defaults or {}, "runs": runs})


DIGITS = {"problem": {"name": "digits", "validation": 0.2, "test": 0.2}, "model": "softmax_regression",
          "batch_size": 128, "epochs": 3}


@pytest.fixture(scope="module")
def digits_batch(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("logs")
    batch = batch_of([{"optimizer": {"name": "sgd", "learning_rate": 0.1}},
                      {"optimizer": {"name": "adam", "learning_rate": 0.01}}], DIGITS)
    return runner.run_batch(batch, logdir, progress=False)


def test_batch_layout(digits_batch):
    out = digits_batch.directory
    assert out.name == "t"
    names = [r.run.name for r in digits_batch.results]
    assert names == ["sgd_lr0.1_s0", "adam_lr0.01_s0"]
    assert {p.name for p in out.iterdir()} == {
        *names, "batch.json", "summary.json", "loss_curves.png", ".lock",
        *[p.name for p in out.glob("events.out.tfevents.*")]}
    for name in names:
        assert not [p.name for p in (out / name).iterdir() if p.is_dir()]  # one TensorBoard run a run
    assert (out / "loss_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert set(tensors(out)) == {"loss_curves", "_hparams_/experiment"}  # the batch's own run
    summary = json.loads((out / "summary.json").read_text())
    assert [s["run"] for s in summary] == names and all(s["error"] is None for s in summary)


def test_resolved_config_beside_the_events(digits_batch):
    saved = json.loads((digits_batch.directory / "adam_lr0.01_s0" / "config.json").read_text())
    assert saved["run"]["optimizer"] == {"name": "adam", "learning_rate": 0.01}
    resolved = saved["optimizer"]["config"]
    assert (resolved["beta_1"], resolved["beta_2"], resolved["epsilon"]) == (0.9, 0.999, 1e-8)
    assert saved["optimizer"]["class_name"] == "Adam"
    assert saved["data"]["train"] == 1077 and saved["steps_per_epoch"] == 9 and saved["epochs"] == 3
    assert saved["batch"]["reproduces"] == "test" and saved["kind"] == "dataset"
    assert set(saved["versions"]) == {"python", "tensorflow", "keras", "suite"}


def test_a_runs_fingerprint_does_not_depend_on_what_the_process_made_before(digits_batch):
    """Keras numbers its optimizers' default names ("adam", "adam_1", ...) in the order a process
    makes them: that must not change a run's identity, or a batch run after another in one
    process would redo its finished runs when run alone."""
    import keras

    from experiments.plan import planning
    from experiments.store import fingerprints

    batch = digits_batch.batch
    run, kind, problem_data = next(p for p in planning.prepare(batch) if p[0].name == "adam_lr0.01_s0")
    before = fingerprints.resolved_config(run, kind, problem_data, batch)
    keras.optimizers.Adam(), keras.optimizers.Adam()  # "adam", "adam_1" taken
    fingerprints._SERIALISED.clear()  # built again, not the one serialised before
    after = fingerprints.resolved_config(run, kind, problem_data, batch)
    assert fingerprints.run_fingerprint(before) == fingerprints.run_fingerprint(after)
    assert "name" not in after["optimizer"]["config"]
    saved = json.loads((digits_batch.directory / "adam_lr0.01_s0" / "config.json").read_text())
    assert saved["fingerprint"] == fingerprints.run_fingerprint(after)


def test_a_trials_seeds_share_one_serialised_optimizer_and_each_config_is_its_own(digits_batch):
    """The seeds of a trial serialise one built optimizer, not one each: what a fresh one would
    serialise, in a dict of each config's own; another schedule's steps per epoch is another."""
    import dataclasses

    from experiments.plan import planning
    from experiments.store import fingerprints

    batch = digits_batch.batch
    run, kind, data = next(p for p in planning.prepare(batch) if p[0].name == "adam_lr0.01_s0")
    fingerprints._SERIALISED.clear()
    fresh = fingerprints.resolved_config(run, kind, data, batch)["optimizer"]
    other_seed = fingerprints.resolved_config(dataclasses.replace(run, seed=7), kind, data, batch)["optimizer"]
    assert len(fingerprints._SERIALISED) == 1 and other_seed == fresh and other_seed is not fresh
    other_seed["config"]["learning_rate"] = 5.0
    assert fingerprints.resolved_config(run, kind, data, batch)["optimizer"] == fresh
    scheduled = dataclasses.replace(run, schedule={"name": "inverse_time", "decay_rate": 0.5})
    nine = fingerprints._serialised_optimizer(scheduled, 9)
    ten = fingerprints._serialised_optimizer(scheduled, 10)
    assert nine != ten and len(fingerprints._SERIALISED) == 3


def test_event_values_agree_with_the_final_metrics(digits_batch):
    result = digits_batch.results[1]
    logged = scalars(result.directory)  # one TensorBoard run: its curves and its summary
    root = {tag: points for tag, points in logged.items() if tag.startswith("summary/")}
    # the HParams dashboard's metrics, as one tag group, at step 0
    columns = [m for m, _ in HPARAM_METRICS["dataset"]] + ["diverged", "wall_seconds"]
    assert set(root) == {summary_tag(m) for m in columns}
    assert all(steps == [0] for steps, _ in root.values())
    assert root["summary/diverged"][1] == [0.0]
    assert root["summary/wall_seconds"][1][0] == pytest.approx(result.seconds, rel=1e-6)
    for key in ("train_loss", "train_accuracy", "validation_loss", "validation_accuracy", "test_accuracy", "spikes"):
        assert root[f"summary/{key}"][1][0] == pytest.approx(result.metrics[key], rel=1e-6)
    assert set(result.best) == {"train_loss", "train_accuracy", "validation_loss", "validation_accuracy"}
    assert result.best["validation_loss"] == pytest.approx(min(logged["epoch_val_loss"][1]), rel=1e-6)
    for key in ("train_loss", "validation_loss", "validation_accuracy"):
        assert root[f"summary/best_{key}"][1][0] == pytest.approx(result.best[key], rel=1e-6)
    assert logged["epoch_loss"][0] == logged["epoch_val_loss"][0] == [0, 1, 2]
    assert result.metrics["steps"] == 27 and len(result.curves["step_loss"]) == 27
    assert result.metrics["train_loss"] < logged["epoch_loss"][1][0]
    assert {t.split("/")[0] for t in logged} == {"epoch_loss", "epoch_accuracy", "epoch_gradient_norm",
                                                  "epoch_learning_rate", "update_ratio", "epoch_val_loss",
                                                  "epoch_val_accuracy", "summary"}


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    runs = [{"optimizer": {"name": "momentum"}, "seed": s} for s in (0, 1)]
    first = runner.run_batch(batch_of(runs, DIGITS), tmp_path, progress=False)
    second = runner.run_batch(batch_of(runs, DIGITS), tmp_path, progress=False, fresh=True)
    assert second.directory.name == "t_2"  # `fresh`: a new directory, the old one untouched
    again = runner.run_batch(batch_of(runs, DIGITS), tmp_path, progress=False)
    assert again.directory.name == "t" and all(r.skipped for r in again.results)  # the same batch
    assert [r.metrics for r in again.results] == [r.metrics for r in first.results]
    a, b = (r.curves["step_loss"] for r in first.results)
    assert first.results[0].curves["step_loss"] == second.results[0].curves["step_loss"]
    assert first.results[0].metrics == second.results[0].metrics
    assert a != b


def test_steps_stop_mid_epoch_and_schedules_get_steps_per_epoch(tmp_path):
    run = {**DIGITS, "epochs": None, "steps": 20, "optimizer": {"name": "sgd", "learning_rate": 0.1},
           "schedule": {"name": "step", "factor": 0.5, "epochs_per_drop": 1}, "log": {"every_steps": 1}}
    result, = runner.run_batch(batch_of([run]), tmp_path, progress=False).results
    assert result.metrics["steps"] == 20 and result.metrics["epochs"] == 3
    steps, rates = scalars(result.directory)["batch_learning_rate"]
    assert steps == list(range(20))
    np.testing.assert_allclose(rates, [0.1 * 0.5 ** (s // 9) for s in steps], rtol=1e-6)
    saved = json.loads((result.directory / "config.json").read_text())
    schedule = saved["optimizer"]["config"]["learning_rate"]["config"]
    assert schedule["steps_per_epoch"] == 9 and schedule["initial_learning_rate"] == 0.1


def test_a_schedule_in_keras_units_keeps_its_decay_steps(tmp_path):
    """`decay_steps` is Keras's unit: the run's steps per epoch are not added to it, and the
    rate at every step is Keras's `ExponentialDecay`'s."""
    import keras

    run = {**DIGITS, "epochs": None, "steps": 20, "optimizer": {"name": "sgd", "learning_rate": 0.1},
           "schedule": {"name": "exponential", "decay_steps": 4, "decay_rate": 0.5, "staircase": True},
           "log": {"every_steps": 1}}
    result, = runner.run_batch(batch_of([run]), tmp_path, progress=False).results
    steps, rates = scalars(result.directory)["batch_learning_rate"]
    keras_schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 4, 0.5, staircase=True)
    np.testing.assert_array_equal(np.float32(rates), [np.float32(keras_schedule(s)) for s in steps])
    schedule = json.loads((result.directory / "config.json").read_text())["optimizer"]["config"][
        "learning_rate"]["config"]
    assert schedule["decay_steps"] == 4 and "steps_per_epoch" not in schedule


def test_full_batch_means_one_step_per_epoch(tmp_path):
    result, = runner.run_batch(batch_of([{**DIGITS, "batch_size": "full", "optimizer": "sgd"}]),
                               tmp_path, progress=False).results
    assert result.metrics["steps"] == 3


def test_objective_runs_are_the_optimizers_paths(tmp_path):
    runs = [{"problem": "material", "steps": 30, "optimizer": {"name": "adam", "learning_rate": 0.3}},
            {"problem": "saddle", "steps": 10, "optimizer": {"name": "sgd", "learning_rate": 0.1},
             "schedule": {"name": "inverse_time", "decay_rate": 0.5}}]
    out = runner.run_batch(batch_of(runs), tmp_path, progress=False)
    material, saddle = out.results
    expected = minimise(co.Adam(0.3), OBJECTIVES["material"].f, (-7.0, 2.0), 30)
    train = scalars(material.directory)
    # one naming scheme across kinds: a 2-D step's values are batch_* as a dataset run's are
    assert {t for t in train if not t.startswith("summary/")} == {"batch_loss", "x", "y", "batch_gradient_norm",
                                                                   "batch_learning_rate"}
    assert train["x"][0] == list(range(31))
    np.testing.assert_allclose(train["x"][1], expected[:, 0], rtol=1e-6)
    np.testing.assert_allclose(train["y"][1], expected[:, 1], rtol=1e-6)
    x, y = expected.T
    np.testing.assert_allclose(train["batch_gradient_norm"][1], np.hypot(x / 10, 2 * y), rtol=1e-6)
    np.testing.assert_allclose(train["batch_loss"][1], x**2 / 20 + y**2, rtol=1e-6)
    assert material.metrics["loss"] == pytest.approx(0.1022, rel=1e-3)  # the material's Adam
    rates = scalars(saddle.directory)["batch_learning_rate"][1]
    np.testing.assert_allclose(rates, [0.1 / (1 + 0.5 * t) for t in range(10)], rtol=1e-6)
    assert "distance" not in saddle.metrics  # a saddle has no minimum
    assert {p.name for p in out.figures} == {"paths_material.png", "paths_saddle.png"}


def test_series_runs_are_the_materials_averages(tmp_path):
    runs = [{"average": {"name": "ewa", "beta": 0.9, "bias_correction": bc}} for bc in (False, True)]
    out = runner.run_batch(batch_of(runs, {"problem": {"name": "noisy_series", "length": 50}}),
                           tmp_path, progress=False)
    series = out.results[0].curves["series"].values
    v, plain, corrected = 0.0, [], []
    for t, theta in enumerate(series, start=1):
        v = 0.9 * v + 0.1 * theta
        plain.append(v)
        corrected.append(v / (1 - 0.9**t))
    for result, expected in zip(out.results, (plain, corrected)):
        steps, values = scalars(result.directory)["average"]
        assert steps == list(range(1, 51))
        np.testing.assert_allclose(values, expected, rtol=1e-6)
    assert out.results[0].metrics["first_10_mean_error"] < -5 < out.results[1].metrics["first_10_mean_error"]
    assert [p.name for p in out.figures] == ["averages.png"]


def test_moons_runs_draw_decision_boundaries(tmp_path):
    run = {"problem": "moons", "model": "moons_net", "epochs": 20, "optimizer": {"name": "adam", "learning_rate": 0.01}}
    out = runner.run_batch(batch_of([run]), tmp_path, progress=False)
    assert {p.name for p in out.figures} == {"loss_curves.png", "decision_boundaries.png"}
    images = tensors(out.results[0].directory)["decision_boundary"]
    assert [step for step, _ in images] == list(range(0, 20, 2)) + [19]


def test_a_failing_run_is_reported_and_the_others_are_kept(tmp_path, monkeypatch):
    real = executor.RUNNERS["objective"]

    def flaky(run, *args, **kwargs):
        if run.optimizer["name"] == "adam":
            raise FloatingPointError("boom")
        return real(run, *args, **kwargs)

    monkeypatch.setitem(executor.RUNNERS, "objective", flaky)
    runs = [{"problem": "material", "steps": 5, "optimizer": name} for name in ("sgd", "adam", "adagrad")]
    out = runner.run_batch(batch_of(runs), tmp_path, progress=False)
    assert [r.error for r in out.results] == [None, "FloatingPointError: boom", None]
    assert "FloatingPointError: boom" in (out.results[1].directory / "error.txt").read_text()
    assert re.search(r"\nadam_s0 +FAILED: FloatingPointError: boom\n", overview.summary_table(out))
    assert len([r for r in out.results if r.metrics]) == 2


def test_unwritable_logdir_is_refused_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(config.ConfigError, match="cannot write the logs to"):
        runner.run_batch(batch_of([{"problem": "material", "steps": 2, "optimizer": "sgd"}]),
                         blocker, progress=False)


def test_a_long_run_has_its_validation_values_at_every_epoch_it_logs(tmp_path):
    """201 epochs log every 2nd epoch by default: each logged epoch has its
    validation values, equal value by value to those of the same run
    validated and logged at every epoch (same seed, same batches)."""
    from tb_events import raw_events

    run = {"problem": {"name": "moons", "validation": 0.2}, "model": "moons_net", "batch_size": "full",
           "epochs": 201, "optimizer": {"name": "adam", "learning_rate": 0.01},
           "log": {"histograms": False, "update_ratio": False, "decision_boundary": False}}
    batch = config.parse_batch({"batch": {"name": "long"}, "runs": [
        {**run, "name": "default"}, {**run, "name": "every", "log": {**run["log"], "every_epochs": 1}}]})
    default, every = runner.run_batch(batch, tmp_path, progress=False).results
    logged = list(range(0, 201, 2))  # 0, 2, ..., 200: the last epoch is one of them
    events = raw_events(default.directory)
    assert [s for s, _ in events["epoch_loss"]] == logged
    reference = raw_events(every.directory)
    for tag in ("epoch_val_loss", "epoch_val_accuracy"):
        assert [s for s, _ in events[tag]] == logged, tag
        expected = dict(reference[tag])
        assert [v for _, v in events[tag]] == [expected[s] for s in logged], tag
    assert events["epoch_val_loss"][-1][1] == pytest.approx(default.metrics["validation_loss"], rel=1e-6)


def test_progress_into_a_file_is_one_line_per_run_not_redraws(tmp_path, capsys):
    """Where stderr is not a terminal (a log file, a pipe, pytest's capture), no bars: a line per
    finished run with its status, headline number and seconds."""
    runs = [{"problem": "material", "steps": 30, "optimizer": {"name": "sgd", "learning_rate": 0.95}},
            {"problem": "material", "steps": 30, "optimizer": {"name": "adam", "learning_rate": 0.3}}]
    out = runner.run_batch(batch_of(runs), tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b[" not in err and "it/s" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 2
    first = out.results[0]
    assert lines[0] == f"t [1/2] {first.run.name}: ok  loss {first.metrics['loss']:.4g}  {first.seconds:.1f} s"


def test_figures_give_each_trial_one_colour_and_one_legend_entry(tmp_path):
    runs = [{"problem": "material", "steps": 8, "optimizer": {"name": "sgd", "learning_rate": 0.9},
             "seeds": [0, 1, 2]},
            {"problem": "material", "steps": 8, "optimizer": {"name": "adam", "learning_rate": 0.3},
             "seeds": [0, 1, 2]}]
    out = runner.run_batch(batch_of(runs), tmp_path, progress=False)
    drawn = figures.trials(out.results)
    colours = {}
    for r, colour, label, seeded in drawn:
        colours.setdefault(r.run.group, set()).add(colour)
        assert seeded
    assert all(len(c) == 1 for c in colours.values()) and len(set.union(*colours.values())) == 2
    assert [label for _, _, label, _ in drawn if label] == ["sgd_lr0.9 (3 seeds)", "adam_lr0.3 (3 seeds)"]
    objective = OBJECTIVES["material"]
    fig = figures.paths(objective, out.results)
    legend = fig.axes[0].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert len(texts) == 2 and texts[0].startswith("sgd_lr0.9 (3 seeds): f=")
    lines = {line.get_label(): line.get_color() for line in fig.axes[0].get_lines()
             if not line.get_label().startswith("_")}
    assert {lines[t] for t in texts} == {colour for cs in colours.values() for colour in cs}


def test_each_optimizer_has_one_colour_in_every_figure_whatever_the_order(tmp_path):
    """The material's paths (sgd, momentum, adagrad, rmsprop, adam) and its MNIST comparison
    (adam before rmsprop) list the optimizers in other orders: each keeps its colour, in the
    paths, and in the report's profiles and bars. Trials of one optimizer (a search) get a
    colour each."""
    from matplotlib.colors import to_rgba

    from experiments.report import verdict

    first = runner.run_batch(batch_of([{"problem": "material", "steps": 5, "optimizer": name}
                                       for name in ("sgd", "rmsprop", "adam")], name="one"), tmp_path, progress=False)
    second = runner.run_batch(batch_of([{"problem": "rotated", "steps": 5, "optimizer": name}
                                        for name in ("adam", "sgd", "rmsprop")], name="two"), tmp_path, progress=False)
    by_batch = [{r.run.optimizer["name"]: colour for r, colour, _, _ in figures.trials(b.results)}
                for b in (first, second)]
    assert by_batch[0] == by_batch[1] == {name: figures.OPTIMIZER_COLOURS[name] for name in ("sgd", "rmsprop", "adam")}
    for batch, colours in zip((first, second), by_batch):
        fig = figures.paths(OBJECTIVES[batch.results[0].run.problem["name"]], batch.results)
        drawn = {line.get_label().split(":")[0]: line.get_color() for line in fig.axes[0].get_lines()
                 if not line.get_label().startswith("_")}
        assert drawn == colours
    content = verdict.build(verdict.collect(tmp_path)[0])
    pictures = verdict.figures(content)
    profile_lines = {line.get_label(): line.get_color()
                     for line in pictures["performance_profiles"].axes[0].get_lines()}
    assert profile_lines == by_batch[0]
    for ax, t in zip(pictures["time_to_target"].axes, content["timed"].values()):
        bars = [patch.get_facecolor() for patch in ax.patches]
        assert bars == [to_rgba(by_batch[0][r["optimizer"]]) for r in t["rows"]]
        assert ax.get_xlabel() == "optimizer steps to the target"
    searched = batch_of([{"problem": "material", "steps": 5, "optimizer": {"name": "sgd", "learning_rate": lr}}
                         for lr in (0.1, 0.2)], name="search")
    colours = [c for _, c, _, _ in figures.trials(runner.run_batch(searched, tmp_path, progress=False).results)]
    assert len(set(colours)) == 2


def test_paths_stay_in_the_window_and_a_seeded_loss_figure_draws_mean_and_band(tmp_path):
    """The window grows to hold every path near it (momentum on the rotated bowl leaves the
    objective's own), and a trial of several seeds is one line with a shaded band."""
    out = runner.run_batch(batch_of([{"problem": "rotated", "steps": 30, "optimizer": {
        "name": "momentum", "learning_rate": 0.1, "momentum": 0.9}}], name="wide"), tmp_path, progress=False)
    objective = OBJECTIVES["rotated"]
    path = out.results[0].curves["path"]
    assert path[:, 1].min() < objective.ylim[0] or path[:, 1].max() > objective.ylim[1] or \
        path[:, 0].min() < objective.xlim[0] or path[:, 0].max() > objective.xlim[1]  # it leaves the objective's
    ax = figures.paths(objective, out.results).axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 <= path[:, 0].min() and path[:, 0].max() <= x1 and y0 <= path[:, 1].min() and path[:, 1].max() <= y1
    seeded = runner.run_batch(batch_of([{**DIGITS, "epochs": 2, "optimizer": "sgd", "seeds": [0, 1]},
                                        {**DIGITS, "epochs": 2, "optimizer": "adam"}], name="band"),
                              tmp_path, progress=False)
    by_step = figures.loss_curves(seeded.results).axes[0]
    labels = [line.get_label() for line in by_step.get_lines()]
    assert labels == ["sgd (2 seeds): geometric mean, ± std of log", "adam"]
    band, = by_step.collections  # one band: the seeded trial's
    losses = np.log([figures.smooth(r.curves["step_loss"], figures.smoothing_weight(len(r.curves["step_loss"])))
                     for r in seeded.results[:2]])
    np.testing.assert_allclose(by_step.get_lines()[0].get_ydata(), np.exp(losses.mean(0)), rtol=1e-12)
    low, high = band.get_paths()[0].vertices[:, 1].min(), band.get_paths()[0].vertices[:, 1].max()
    std = losses.std(0, ddof=1)
    assert low == pytest.approx(np.exp(losses.mean(0) - std).min()) and high == pytest.approx(
        np.exp(losses.mean(0) + std).max())


@pytest.mark.parametrize("weight", [0.9, 0.99, 0.999])
def test_loss_curves_smooth_as_tensorboard_does_and_draw_a_long_run_through_its_points(weight):
    """`smooth` is TensorBoard's debiased EMA, written here as its loop; a long curve is drawn
    through every k-th point and its last, at most about `CURVE_POINTS`."""
    values = np.random.default_rng(0).lognormal(size=5000)
    expected, average = [], 0.0
    for t, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        expected.append(average / (1 - weight ** t))
    np.testing.assert_allclose(figures.smooth(values, weight), expected, rtol=1e-12)
    steps, kept = figures.thin(np.arange(50_000), values.repeat(10))
    assert steps[0] == 0 and steps[-1] == 49_999 and len(steps) <= figures.CURVE_POINTS + 1
    assert np.all(np.diff(steps[:-1]) == 25) and np.array_equal(kept, values.repeat(10)[steps])
    short, = figures.thin(np.arange(300))
    assert np.array_equal(short, np.arange(300))
    middle, = figures.thin(np.arange(3000))  # over the limit by less than twice: every second point
    assert len(middle) <= figures.CURVE_POINTS + 1 and np.all(np.diff(middle[:-1]) == 2) and middle[-1] == 2999
    with pytest.raises(ValueError, match="equal lengths"):
        figures.thin(np.arange(3), np.arange(4))


def test_step_times_count_training_from_the_first_step_at_one_pace(tmp_path):
    """The seconds panel's clock: program calls alone (no logging in between), the first call's
    steps at the second call's pace (the first call traces and compiles)."""
    run = {**DIGITS, "epochs": 3, "optimizer": "sgd", "log": {"every_epochs": 1, "histograms": False}}
    result, = runner.run_batch(batch_of([run]), tmp_path, progress=False, checkpoint_seconds=0).results
    times = np.array(result.curves["step_seconds"])
    per_epoch = result.curves["steps_per_epoch"]
    assert len(times) == 3 * per_epoch and np.all(np.diff(times) > 0)
    first, second = np.diff(times[:per_epoch]), np.diff(times[per_epoch:2 * per_epoch])
    np.testing.assert_allclose(first, second[0], rtol=1e-9)  # retimed at the second call's pace
    assert times[0] == pytest.approx(second[0], rel=1e-9)  # the clock starts at the first step


def test_runs_an_earlier_version_finished_or_checkpointed_on_a_fallback_are_known(tmp_path):
    """Before `Data.origin`, a fallback's source (part of the fingerprint) held why it was taken:
    the runs an earlier version finished, or checkpointed, carry that fingerprint and are still
    this run, not redone."""
    from experiments.plan import planning
    from experiments.store import checkpoint, directories, fingerprints, records

    (tmp_path / "empty").mkdir()
    batch = batch_of([{"optimizer": {"name": "sgd", "learning_rate": 0.1}}],
                     {"problem": {"name": "mnist", "data_dir": str(tmp_path / "empty"), "fallback": "digits"},
                      "model": "softmax_regression", "batch_size": 256, "steps": 3})
    first = runner.run_batch(batch, tmp_path / "logs", progress=False)
    run_dir = first.results[0].directory
    run, kind, data = planning.prepare(batch)[0]
    config_now = fingerprints.resolved_config(run, kind, data, batch)
    former = fingerprints.former_fingerprint(config_now, data)
    assert former not in (None, first.results[0].fingerprint)
    record = json.loads((run_dir / "result.json").read_text())
    record = {k: v for k, v in record.items() if k not in ("files", "checksum")}
    (run_dir / "result.json").write_text(json.dumps(records.seal({**record, "fingerprint": former}, run_dir)))
    again = runner.run_batch(batch, tmp_path / "logs", progress=False)
    assert again.results[0].skipped and again.results[0].metrics == first.results[0].metrics

    arrays, meta = checkpoint.load(run_dir)  # an unfinished run of the earlier version
    checkpoint.save(run_dir, arrays, {**meta, "fingerprint": former})
    (run_dir / "result.json").unlink()
    said = []
    job, result = directories.job_for(again.directory, batch, run, kind, data, False, False, said.append)
    assert result is None and job.resume and not said  # goes on from its checkpoint
    resumed = runner.run_batch(batch, tmp_path / "logs", progress=False).results[0]
    assert not resumed.skipped and resumed.metrics == first.results[0].metrics
    assert scalars(run_dir)["epoch_loss"][0] == [0]  # the checkpoint's epoch, not trained again
    checkpoint.save(run_dir, arrays, {**meta, "fingerprint": "0" * 16})  # another run's: started again
    (run_dir / "result.json").unlink()
    job, result = directories.job_for(again.directory, batch, run, kind, data, False, False, said.append)
    assert result is None and not job.resume


@pytest.mark.parametrize("trials", [3, 32])
def test_a_searchs_legend_goes_below_the_panels_whole_and_a_few_stay_inside(trials):
    """A few trials' legend sits in the step panel; a search's 32 went there too, covered the
    panel and ran off the figure: it goes below the panels, every entry in it, clear of them."""
    from types import SimpleNamespace

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rng = np.random.default_rng(0)
    results = [SimpleNamespace(
        run=SimpleNamespace(name=f"t{i:02d}_momentum_formewa_lr0.00{i}_mom0.99{i}_s{seed}",
                            group=f"t{i:02d}_momentum_formewa_lr0.00{i}_mom0.99{i}", optimizer={"name": "momentum"}),
        curves={"step_loss": np.exp(-np.arange(50) / (10 + i)) + rng.uniform(0, 0.01, 50),
                "step_seconds": np.arange(1, 51) * 0.01, "steps_per_epoch": 10},
        metrics={}) for i in range(trials) for seed in (0, 1)]
    fig = figures.loss_curves(results)
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    legends = [a.get_legend() for a in fig.axes if a.get_legend()] + fig.legends
    (legend,) = legends
    assert len(legend.get_texts()) == trials
    if trials == 3:
        assert legend.axes is fig.axes[0] and not fig.legends
        return
    assert fig.legends == [legend]
    box, page = legend.get_window_extent(renderer), fig.bbox
    assert not any(box.overlaps(ax.get_tightbbox(renderer)) for ax in fig.axes)
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
