"""Paired groups: runs that share a problem, model, batch size, length and seed train as one
compiled program (`experiments.engine.loop`), and each ends exactly as it would have alone."""

import numpy as np
import pytest
from tb_events import assert_same_run, same_json, scalars

from experiments import runner
from experiments.engine import loop
from experiments.plan import planning
from experiments.spec import config
from experiments.store import checkpoint, records
from experiments.store.results import Job

# digits with a validation split, a short last batch (1078 / 128), every tag the runner writes
DIGITS = {"problem": {"name": "digits", "validation": 0.2, "test": 0.2}, "model": "mnist_mlp",
          "batch_size": 128, "epochs": 4, "log": {"every_epochs": 1, "every_steps": 3}}
# Named: a run's name (in its HParams session) must not depend on the others of its batch
RUNS = [{"optimizer": {"name": "sgd", "learning_rate": 0.05}, "name": "sgd"},
        {"optimizer": {"name": "adam", "learning_rate": 0.001}, "schedule": {"name": "inverse_time",
                                                                              "decay_rate": 0.5},
         "name": "adam"},
        {"optimizer": {"name": "rmsprop", "learning_rate": 0.001}, "name": "rmsprop"},
        # diverges at once (g / eps): patience 0, since softmax regression's loss stays finite, and
        # with the default patience a run of 36 steps would end in a spike instead
        {"optimizer": {"name": "rmsprop", "learning_rate": 0.001, "rho": 1.0}, "divergence_patience": 0,
         "name": "rmsprop_rho1"}]


def batch_of(runs, name="g", model="mnist_mlp"):
    return config.parse_batch({"batch": {"name": name, "reproduces": "test", "runtime": "s", "expected": "e"},
                               "defaults": {**DIGITS, "model": model}, "runs": runs})


#: The MLP runs in TensorFlow's graph executor, softmax regression compiled by XLA
#: (`loop.XLA_MAX_FLOPS`): both must give each member exactly what it gets alone.
@pytest.fixture(scope="module", params=["mnist_mlp", "softmax_regression"])
def model(request):
    return request.param


def run_batch(batch, logdir, model):
    """`runner.run_batch`; softmax regression compiled by XLA however short the run."""
    with pytest.MonkeyPatch.context() as patch:
        if model == "softmax_regression":
            patch.setattr(loop, "XLA_MIN_STEPS", 0)
        return runner.run_batch(batch, logdir, progress=False, checkpoint_seconds=0)


@pytest.fixture(scope="module")
def together(tmp_path_factory, model):
    return run_batch(batch_of(RUNS, model=model), tmp_path_factory.mktemp("together"), model)


@pytest.fixture(scope="module")
def alone(tmp_path_factory, model):
    logdir = tmp_path_factory.mktemp("alone")
    return [run_batch(batch_of([run], name=f"a{i}", model=model), logdir, model).results[0]
            for i, run in enumerate(RUNS)]


def test_long_runs_of_small_models_compile_with_xla_and_the_others_do_not():
    import keras

    from experiments.workloads import models

    data = planning.prepare(batch_of(RUNS[:1]))[0][2]
    for name, steps, xla in (("softmax_regression", 20_000, True), ("softmax_regression", 19_999, False),
                             ("mnist_mlp", 10**6, False)):
        program = loop.Program([models.build(name, data)], data, 0, 128, [100.0], steps=steps)
        assert program.xla is xla, (name, steps)
        keras.backend.clear_session()


def test_the_batch_trains_as_one_group():
    prepared = planning.prepare(batch_of(RUNS))
    jobs = [Job(run, kind, problem_data, None) for run, kind, problem_data in prepared]
    assert planning.groups(jobs) == [[0, 1, 2, 3]]
    other_seed = batch_of([RUNS[0], {**RUNS[1], "seed": 1}, {**RUNS[2], "batch_size": 64}])
    jobs = [Job(run, kind, problem_data, None) for run, kind, problem_data in planning.prepare(other_seed)]
    assert planning.groups(jobs) == [[0], [1], [2]]


@pytest.mark.group_equality
@pytest.mark.parametrize("index", range(len(RUNS)))
def test_each_run_of_a_group_equals_the_run_trained_alone(together, alone, index):
    """Weights, optimizer slots, every logged scalar at every step, metrics, best values and
    every step's loss: bit for bit (the members of the program share no tensor)."""
    ours, reference = together.results[index], alone[index]
    assert ours.status == reference.status and same_json(ours.divergence, reference.divergence)
    assert_same_run(ours, reference)
    # not the wall time, where the run sits in its batch, or the event files' names (their sizes)
    strip = {"seconds", "fingerprint", "index", "checksum", "files"}
    mine, theirs = (records.read_result(r.directory)[0] for r in (ours, reference))
    assert sorted(mine["files"].values()) == sorted(theirs["files"].values())
    assert same_json({k: v for k, v in mine.items() if k not in strip},
                     {k: v for k, v in theirs.items() if k not in strip})


def test_control_flow_kept_functional_gives_the_lowered_graphs_numbers(together, tmp_path, model):
    """`tracing.functional_control_flow` keeps `tf.cond` an `If` op (not lowered to Switch/Merge)
    only while it is active, and the program trained so equals, bit for bit, the same batch
    traced with TensorFlow's lowering: weights, slots, events (the rho = 1 member diverging)."""
    import contextlib

    import tensorflow as tf

    from experiments.engine import tracing

    def lowering(traced_in):
        with traced_in():
            graph = tf.function(lambda x: tf.cond(x > 0, lambda: x, lambda: -x)).get_concrete_function(
                tf.TensorSpec([], tf.float32)).graph
        op, = [op for op in graph.get_operations() if op.type in ("If", "StatelessIf")]
        return op.node_def.attr["_lower_using_switch_merge"].b

    assert not lowering(tracing.functional_control_flow) and lowering(contextlib.nullcontext)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tracing, "functional_control_flow", contextlib.nullcontext)
        lowered = run_batch(batch_of(RUNS, model=model), tmp_path, model)
    for ours, reference in zip(together.results, lowered.results):
        assert ours.status == reference.status
        assert_same_run(ours, reference)


def test_a_group_that_differs_only_by_seed_restarts_the_last_program_as_if_new(tmp_path, model):
    """Two seeds make two groups; the second reuses the first's traced program (`ProgramCache`),
    and every run ends bit for bit as with a new program: its weights, optimizer slots, events
    and result. The first group's rho = 1 member diverges: in the second it starts alive."""
    restarts_as_if_new(tmp_path, model, {}, RUNS)


def test_a_restarted_program_takes_the_new_seeds_batch_order_and_initial_weights(tmp_path):
    """The course's protocol: batches drawn by NumPy from the run's seed (the program's `orders`
    function, replaced at a restart) and He weights from NumPy's generator."""
    restarts_as_if_new(tmp_path, "mnist_mlp", {"order": {"name": "numpy_choice"}, "init": {"name": "numpy_he"},
                                               "epochs": 2}, RUNS[:2])


def restarts_as_if_new(tmp_path, model, protocol, runs):
    import gc
    import weakref

    from experiments.engine import programs
    from experiments.engine import protocol as engine_protocol

    class Recorded(programs.ProgramCache):
        def __init__(self):
            super().__init__()
            caches.append(weakref.ref(self))

    caches = []
    batch = config.parse_batch({"batch": {"name": "s", "reproduces": "t", "runtime": "s", "expected": "e"},
                                "defaults": {**DIGITS, "model": model, "seeds": [0, 1], **protocol}, "runs": runs})
    built, models = [], []
    build_model = engine_protocol.build_model
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(programs, "Program", lambda *a, **k: built.append(1) or loop.Program(*a, **k))
        patch.setattr(programs, "ProgramCache", Recorded)
        patch.setattr(engine_protocol, "build_model", lambda *a: models.append(1) or build_model(*a))
        reused = run_batch(batch, tmp_path / "reused", model)
        assert len(built) == 1
        # the restarted group builds one model for its members' first weights (`Member.start`)
        assert len(models) == len(runs) + 1
        gc.collect()
        assert len(caches) == 1 and caches[0]() is None  # dropped at the batch's end: its models and graph freed
        patch.setattr(programs.ProgramCache, "keep", lambda *a: None)
        new = run_batch(batch, tmp_path / "new", model)
        assert len(built) == 3 and len(models) == len(runs) + 1 + 2 * len(runs)
    assert [r.run.seed for r in reused.results] == [0, 1] * len(runs)
    # the rho = 1 member diverges in both groups: in the second it starts alive again
    assert [r.status for r in reused.results] == [
        "diverged" if run.get("name") == "rmsprop_rho1" else "ok" for run in runs for _ in (0, 1)]
    strip = {"seconds", "fingerprint", "index", "checksum", "files"}
    for ours, reference in zip(reused.results, new.results):
        assert_same_run(ours, reference)
        mine, theirs = (records.read_result(r.directory)[0] for r in (ours, reference))
        assert same_json({k: v for k, v in mine.items() if k not in strip},
                         {k: v for k, v in theirs.items() if k not in strip})
    assert reused.results[0].metrics != reused.results[1].metrics  # the seeds differ


def test_a_restarted_program_resumes_a_group_from_its_checkpoints(tmp_path):
    """Ctrl-C in the second seed's group (its program restarted from the first's); the same batch
    again (the same loaded data, as in one process) resumes that group from its checkpoints
    through the program restarted once more, and ends as the batch run in one go: every event
    once, the same numbers."""
    from experiments.engine import programs, signals

    batch = config.parse_batch({"batch": {"name": "s", "reproduces": "t", "runtime": "s", "expected": "e"},
                                "defaults": {**DIGITS, "seeds": [0, 1]}, "runs": RUNS[:2]})
    reference = runner.run_batch(batch, tmp_path / "reference", progress=False, checkpoint_seconds=0)
    prepared = planning.prepare(batch)
    real, real_restart = loop.Program.train, loop.Program.restart
    restarted = []

    def stop_in_the_second_group(program, *args):
        out = real(program, *args)
        if program.seed == 1:
            signals.STOP.set()  # as Ctrl-C does: the group saves and stops at this call's end
        return out

    def restart(program, models, watches, seed, orders):
        restarted.append((seed, [w.lowest is None for w in watches]))  # None: not from a checkpoint
        return real_restart(program, models, watches, seed, orders)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(loop.Program, "restart", restart)
            patch.setattr(loop.Program, "train", stop_in_the_second_group)
            shared = programs.ProgramCache()  # kept across the two batches, as within one
            patch.setattr(programs, "ProgramCache", lambda: shared)
            with pytest.raises(runner.Interrupted, match="2 of 4 runs .* are finished; sgd_s1 saved at epoch 1"):
                runner.run_batch(batch, tmp_path / "stopped", progress=False, checkpoint_seconds=0,
                                 prepared=prepared)
            signals.STOP.clear()
            patch.setattr(loop.Program, "train", real)
            again = runner.run_batch(batch, tmp_path / "stopped", progress=False, checkpoint_seconds=0,
                                     prepared=prepared)
    finally:
        signals.STOP.clear()
    assert restarted == [(1, [True, True]), (1, [False, False])]
    shared.forget()
    assert [r.run.name for r in again.results] == [r.run.name for r in reference.results]
    for ours, theirs in zip(again.results, reference.results):
        assert ours.status == "ok"
        assert_same_run(ours, theirs)


def test_a_diverged_member_stops_alone_and_its_events_end_there(together):
    diverged = together.results[3]
    assert diverged.status == "diverged"
    step = diverged.divergence["step"]
    assert 1 <= step < 9  # in its first epoch (9 steps)
    logged = scalars(diverged.directory)
    assert max(logged["batch_loss"][0]) < step
    assert logged["epoch_loss"][0] == [0]  # the epoch it diverged in, and no other
    assert len(diverged.curves["step_loss"]) == step
    for result in together.results[:3]:  # the others ran all four epochs
        assert result.status == "ok"
        assert scalars(result.directory)["epoch_loss"][0] == [0, 1, 2, 3]
        assert result.metrics["steps"] == 4 * 9


def test_a_member_that_raises_fails_alone(tmp_path, monkeypatch):
    """An optimizer that cannot be traced stops the program; each member then trains alone,
    and only the broken one fails."""
    import custom_optimizers as co

    class Broken(co.SGD):
        def update_step(self, gradient, variable, learning_rate):
            raise RuntimeError("this optimizer cannot update")

    monkeypatch.setitem(co.OPTIMIZERS, "broken_sgd", Broken)
    runs = [RUNS[0], {"optimizer": {"name": "broken_sgd", "learning_rate": 0.1}}, RUNS[2]]
    result = runner.run_batch(batch_of(runs), tmp_path, progress=False)
    assert [r.status for r in result.results] == ["ok", "failed", "ok"]
    assert "this optimizer cannot update" in (result.results[1].directory / "error.txt").read_text()
    assert result.results[1].error == "RuntimeError: this optimizer cannot update"
    for ok in (result.results[0], result.results[2]):
        # each epoch once: the group's attempt was cut back
        assert scalars(ok.directory)["epoch_loss"][0] == [0, 1, 2, 3]
    assert np.isfinite(result.results[0].metrics["train_loss"])


def test_an_optimizer_with_use_ema_is_scored_with_its_averages(tmp_path):
    """As `fit` ends: `finalize_variable_values` puts the moving averages into the model before
    the final scores. The averages are read from the final checkpoint (saved before that)."""
    import keras

    from experiments.workloads import models

    ema = {"name": "sgd", "learning_rate": 0.1, "use_ema": True, "ema_momentum": 0.9}
    batch = batch_of([{"optimizer": {"name": "sgd", "learning_rate": 0.1}}, {"optimizer": ema}])
    plain, averaged = runner.run_batch(batch, tmp_path, progress=False).results
    assert plain.curves["step_loss"] == averaged.curves["step_loss"]  # the averages do not train
    arrays, _ = checkpoint.load(averaged.directory)
    data = planning.prepare(batch)[0][2]
    model = models.build("mnist_mlp", data)
    model.compile(loss=models.loss_for(model))
    trainable = [v.path for v in model.trainable_variables]
    raw = [arrays[f"model/{i}"] for i in range(len(model.variables))]
    averages = iter(arrays[f"optimizer/{i}"] for i in range(2, 2 + len(trainable)))  # after iterations, lr
    model.set_weights(raw)
    raw_loss = model.evaluate(data.x_train, data.y_train, verbose=0)
    for variable in model.variables:
        if variable.path in trainable:
            variable.assign(next(averages))
    ema_loss = model.evaluate(data.x_train, data.y_train, verbose=0)
    assert abs(ema_loss - raw_loss) > 1e-3
    assert averaged.metrics["train_loss"] == pytest.approx(ema_loss, rel=1e-5)
    assert plain.metrics["train_loss"] == pytest.approx(raw_loss, rel=1e-5)
    keras.backend.clear_session()


def test_step_losses_off_keeps_no_step_history(tmp_path):
    runs = [{"optimizer": {"name": "sgd", "learning_rate": 0.1}},
            {"optimizer": {"name": "sgd", "learning_rate": 0.1}, "log": {"step_losses": False}, "seed": 1}]
    kept, off = runner.run_batch(batch_of(runs), tmp_path, progress=False).results
    assert len(kept.curves["step_loss"]) == 4 * 9 and len(kept.curves["step_seconds"]) == 4 * 9
    assert off.status == "ok" and off.curves["step_loss"] == [] and off.curves["step_seconds"] == []
    assert len(checkpoint.load(off.directory)[0]["step_loss"]) == 0


def test_verbose_prints_a_line_per_logged_epoch(tmp_path, capsys):
    runner.run_batch(batch_of(RUNS[:2]), tmp_path, progress=False, keras_verbose=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if " epoch " in line]
    assert len(lines) == 2 * 4
    assert lines[0].startswith("sgd epoch 1/4 - loss: ") and " - val_accuracy: " in lines[0]


@pytest.mark.parametrize("hidden", [[(16,), (16,)], [(16,), (8, 8)]], ids=["shared trace", "own traces"])
def test_update_ratios_are_each_layers_relative_change(hidden):
    """Members with the same layers share one traced ratio function, others trace their own;
    either way a measured step's ratio is ||w1 - w0|| / ||w0|| over each layer's weights."""
    import keras

    import custom_optimizers as co
    from experiments.workloads import models, problems

    data = problems.load({"name": "digits", "validation": 0.0, "test": 0.0})
    members = []
    for k, sizes in enumerate(hidden):
        keras.utils.set_random_seed(k)
        model = models.build({"name": "mlp", "hidden": list(sizes)}, data)
        model.compile(optimizer=co.Adam(0.01 * (k + 1)), loss=models.loss_for(model))
        members.append(model)
    layers = [[layer for layer in m.layers if layer.trainable_weights] for m in members]
    before = [[[w.numpy() for w in layer.trainable_weights] for layer in ls] for ls in layers]
    program = loop.Program(members, data, 0, 64, [1e4] * len(members), steps=1)
    out = program.train(0, 1, np.array([False]), np.array([True]))
    for k, ls in enumerate(layers):
        expected = [np.sqrt(sum(np.sum((w.numpy() - b) ** 2) for w, b in zip(layer.trainable_weights, bs)))
                    / np.sqrt(sum(np.sum(b ** 2) for b in bs)) for layer, bs in zip(ls, before[k])]
        assert min(expected) > 0
        np.testing.assert_allclose(out["ratios"][k][0], expected, rtol=1e-5)
    assert (program._ratio_functions[0] is program._ratio_functions[1]) == (hidden[0] == hidden[1])


def _regularised(data):
    """A model with what a member's forward pass may change or add beyond its weights: an L2
    penalty and an activity penalty (losses), dropout (a random seed's state) and Keras's batch
    normalisation (moving statistics); and a frozen layer, whose weights it does not change."""
    import keras

    from experiments.workloads import models

    inputs = keras.Input(shape=data.input_shape)
    frozen = keras.layers.Dense(data.input_shape[0], name="frozen")
    frozen.trainable = False
    z = keras.layers.Dense(16, kernel_regularizer=keras.regularizers.L2(1e-3),
                           activity_regularizer=keras.regularizers.L1(1e-4))(frozen(inputs))
    z = keras.layers.BatchNormalization()(z)
    z = keras.layers.Dropout(0.2, seed=3)(keras.layers.Activation("relu")(z))
    outputs = keras.layers.Dense(data.num_classes, activation="softmax")(z)
    return models.InstrumentedModel(inputs=inputs, outputs=outputs)


#: How far a member's step through the shared pass may be from its own step after 40 steps.
#: Not bits: the shared pass is fed the weights as arguments, the own step reads its variables,
#: and oneDNN picks its kernels by how an op is fed, so on some CPUs (AMD EPYC with AVX-512 BF16,
#: Intel Xeon with AVX-512 FP16) the two differ by an ulp at some steps (5.96e-08 in a third of a
#: layer's weights seen after 40 steps), with oneDNN on. Forty steps amplify an ulp a few times;
#: what a wrong pass would give (a penalty, a moving statistic or a seed left out) is 1e-3 or more.
ROUND_OFF = {"rtol": 1e-5, "atol": 1e-6}


def _group_of_two(kind, data, shared, monkeypatch, optimizers=None, seeds=(0, 1)):
    """A two-member program (SGD and Momentum on `kind`'s model) trained 40 steps: the
    program, its per-step values, and every variable it changes after and before.
    `shared=False`: each member's own step instead of the shared pass (as a member whose
    optimizer scales the loss takes)."""
    import keras

    import custom_optimizers as co
    from experiments.workloads import models

    if not shared:
        monkeypatch.setattr(loop, "shared_gradients", lambda models, *a: [None] * len(models))
    members = []
    for seed, optimizer in zip(seeds, optimizers or [co.SGD(0.1), co.Momentum(0.05, momentum=0.9)]):
        keras.utils.set_random_seed(seed)  # the member's initial weights
        if kind == "regularised":
            model = _regularised(data)
        else:
            model = models.build({"name": "mlp", "hidden": [16, 16], "batch_norm": kind == "batch norm"}, data)
        model.compile(optimizer=optimizer, loss=models.loss_for(model))
        optimizer.build(model.trainable_variables)  # as `member.Member` does
        members.append(model)
    program = loop.Program(members, data, 0, 64, [1e4] * len(members), steps=40)
    initial = [v.numpy() for v in program.variables()]
    out = program.train(0, 40, np.array([False, False]), np.array([True, False]))
    monkeypatch.undo()
    return program, out, [v.numpy() for v in program.variables()], initial


@pytest.mark.group_equality
@pytest.mark.parametrize("kind", ["mlp", "batch norm", "regularised"])
def test_the_shared_forward_pass_computes_each_members_own_step(kind, monkeypatch):
    """A group's members share one traced forward pass and gradient (`shared_gradients`); every
    weight, optimizer slot, moving statistic, seed state and per-step value equals what each
    member's own `model(x)`, `compute_loss` and `tape.gradient` give, to float32 round-off
    (`ROUND_OFF`: the two feed the weights differently). Bits are what a run gets alone and in a
    group, since both go through the shared pass (the tests below)."""
    from experiments.workloads import problems

    data = problems.load({"name": "digits", "validation": 0.0, "test": 0.0})
    program, out, state, initial = _group_of_two(kind, data, True, monkeypatch)
    own_program, own_out, own_state, _ = _group_of_two(kind, data, False, monkeypatch)
    assert program._forwards[0] is program._forwards[1] is not None
    assert own_program._forwards == [None, None]
    # only what the pass changes is written back: moving statistics, the seed's state
    paths = [v.path for v in program.models[0].non_trainable_variables]
    changed = [paths[i] for i in program._forwards[0].changed]
    assert len(changed) == {"mlp": 0, "batch norm": 4, "regularised": 3}[kind], changed
    assert not any("frozen" in p for p in changed) and (kind != "regularised" or
                                                       sum("frozen" in p for p in paths) == 2)
    assert len(state) == len(own_state)
    moved = 0
    for a, b, before in zip(state, own_state, initial):
        np.testing.assert_allclose(a, b, **ROUND_OFF)
        moved += not np.array_equal(a, before)
    assert moved >= len(state) // 2  # the comparison is of trained state, not of initial values
    for name in ("loss", "correct", "gradient_norm", "learning_rate"):
        np.testing.assert_allclose(out[name], own_out[name], **ROUND_OFF)
    for a, b in zip(out["ratios"], own_out["ratios"]):
        np.testing.assert_allclose(a, b, **ROUND_OFF)


@pytest.mark.group_equality
def test_a_loss_scaling_member_and_the_others_each_equal_their_run_alone(monkeypatch):
    """A member whose optimizer scales the loss takes its own step, and the others the shared
    pass, in any group: each member of a mixed group equals, bit for bit, its run alone, and a
    plain member's step is the one a group of plain optimizers gives it."""
    import custom_optimizers as co
    from experiments.workloads import problems

    data = problems.load({"name": "digits", "validation": 0.0, "test": 0.0})
    mixed = [co.Adam(0.01), co.Momentum(0.05, momentum=0.9, loss_scale_factor=64.0)]
    program, out, _, _ = _group_of_two("batch norm", data, True, monkeypatch, mixed)
    assert program._forwards[0] is not None and program._forwards[1] is None
    for k, optimizer in enumerate([co.Adam(0.01), co.Momentum(0.05, momentum=0.9, loss_scale_factor=64.0)]):
        alone, alone_out, _, _ = _group_of_two("batch norm", data, True, monkeypatch, [optimizer], seeds=[k])
        mine = [v.numpy() for v in program.models[k].variables + program.models[k].optimizer.variables]
        theirs = [v.numpy() for v in alone.models[0].variables + alone.models[0].optimizer.variables]
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b)
        for name in ("loss", "correct", "gradient_norm", "learning_rate"):
            np.testing.assert_array_equal(out[name][:, k], alone_out[name][:, 0])


def test_a_loss_scaling_optimizer_traces_its_own_forward_pass():
    """`shared_gradients` differentiates the loss itself, so a member whose optimizer scales it
    (`loss_scale_factor`, `LossScaleOptimizer`) keeps its own step; the others still share one."""
    import keras
    import tensorflow as tf

    import custom_optimizers as co
    from experiments.engine import evaluation
    from experiments.workloads import models, problems

    data = problems.load({"name": "digits", "validation": 0.0, "test": 0.0})
    spec = [tf.TensorSpec([None, 64], tf.float32), tf.TensorSpec([None], tf.int64)]

    def group(*optimizers):
        members = []
        for optimizer in optimizers:
            model = models.build({"name": "softmax_regression"}, data)
            model.compile(optimizer=optimizer, loss=models.loss_for(model))
            members.append(model)
        return evaluation.shared_gradients(members, *spec)

    first, second = group(co.Adam(0.01), co.SGD(0.1))
    assert first is second is not None
    first, second = group(co.Adam(0.01), co.SGD(0.1, loss_scale_factor=128.0))
    assert first is not None and second is None
    first, second = group(co.Adam(0.01), keras.optimizers.LossScaleOptimizer(co.SGD(0.1)))
    assert first is not None and second is None


def test_trials_that_differ_only_by_held_hyperparameters_restart_the_last_program_as_if_new(tmp_path):
    """A search's second round samples new learning rates, momentums, betas, epsilons and rhos:
    its group restarts the first round's program (the rate and the held hyperparameters are
    optimizer variables, copied in at the restart) and every run ends bit for bit as with a new
    program."""
    from experiments.engine import programs

    space = {"optimizer.learning_rate": {"log_uniform": [1e-3, 1e-1]}}

    def batch():  # a search narrows its batch's ranges as it goes: a new one for each run
        return config.parse_batch({"batch": {"name": "lr"}, "defaults": {**DIGITS, "epochs": 2},
                                   "search": {"strategy": "coarse_to_fine", "trials": 2, "rounds": 2, "keep": 1},
                                   "runs": [{"optimizer": {"name": "sgd"}, "space": space},
                                            {"optimizer": {"name": "adam"}, "space": {
                                                **space, "optimizer.beta_1": {"one_minus_log": [0.5, 0.95]},
                                                "optimizer.epsilon": {"log_uniform": [1e-8, 1e-3]}}},
                                            {"optimizer": {"name": "radam"}, "space": {
                                                **space, "optimizer.beta_1": {"one_minus_log": [0.5, 0.95]}}},
                                            {"optimizer": {"name": "rmsprop"}, "space": {
                                                **space, "optimizer.rho": {"uniform": [0.5, 0.99]}}},
                                            {"optimizer": {"name": "momentum", "form": "ewa"}, "space": {
                                                **space, "optimizer.momentum": {"one_minus_log": [0.8, 0.99]}}}]})

    built = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(programs, "Program", lambda *a, **k: built.append(1) or loop.Program(*a, **k))
        reused = runner.run_batch(batch(), tmp_path / "reused", progress=False)
        assert len(built) == 1
        patch.setattr(programs.ProgramCache, "keep", lambda *a: None)
        new = runner.run_batch(batch(), tmp_path / "new", progress=False)
        assert len(built) == 3
    rates = [r.run.optimizer["learning_rate"] for r in reused.results]
    assert len(set(rates)) == 20 and [r.run.round for r in reused.results] == [1] * 10 + [2] * 10
    for held, count in (("momentum", 4), ("beta_1", 8), ("epsilon", 4), ("rho", 4)):  # sampled anew in each trial
        assert len({r.run.optimizer[held] for r in reused.results if held in r.run.optimizer}) == count, held
    for ours, reference in zip(reused.results, new.results):
        assert ours.run.optimizer == reference.run.optimizer
        assert_same_run(ours, reference)


def test_a_schedule_or_a_users_optimizer_keeps_its_rate_in_the_programs_key():
    from experiments.engine.programs import _traced

    def key(**run):
        return _traced(config.Run.from_dict({"problem": "digits", "model": "mnist_mlp", "epochs": 1, **run}))

    assert key(optimizer={"name": "adam", "learning_rate": 0.1}) == key(optimizer={"name": "adam"})
    assert key(optimizer={"name": "adam", "beta_1": 0.8, "epsilon": 1e-3}) == key(optimizer={"name": "adam"})
    assert key(optimizer={"name": "adam", "amsgrad": True}) != key(optimizer={"name": "adam"})  # another graph
    assert key(optimizer={"name": "rmsprop", "rho": 0.8}) == key(optimizer={"name": "rmsprop"})
    assert key(optimizer={"name": "rmsprop", "momentum": 0.5}) != key(optimizer={"name": "rmsprop"})  # its slots
    assert key(optimizer={"name": "adagrad", "epsilon": 1e-3}) == key(optimizer={"name": "adagrad"})
    assert key(optimizer={"name": "radam", "beta_2": 0.99}) != key(optimizer={"name": "radam"})  # not held
    assert key(optimizer={"name": "momentum", "momentum": 0.8}) == key(optimizer={"name": "momentum"})
    assert key(optimizer={"name": "momentum", "form": "ewa"}) != key(optimizer={"name": "momentum"})
    scheduled = {"name": "inverse_time", "decay_rate": 0.5}
    assert key(optimizer={"name": "sgd", "learning_rate": 0.1}, schedule=scheduled) != \
        key(optimizer={"name": "sgd", "learning_rate": 0.2}, schedule=scheduled)
    assert key(optimizer={"name": "my_opts:Opt", "learning_rate": 0.1}) != \
        key(optimizer={"name": "my_opts:Opt", "learning_rate": 0.2})
