"""Dataset runs, trained a group at a time by the compiled program (`experiments.engine.loop`).

A group is the runs of a batch that share their problem, model, batch size,
length, seed and log settings (`planning.groups`): they start from the same
weights and see the same batches, so one program trains them all. Python
runs between calls of the program, never per step: a call covers whole
epochs up to an epoch where something needs Python (a histogram, a
decision-boundary image, a checkpoint, the end), sized to take about a
second so that Ctrl-C and SIGTERM are answered promptly. After each call
the per-step values are turned into the run's TensorBoard scalars (written
in bulk by `callbacks._writers.write_scalars`) and checkpoints.

Each run is one TensorBoard run, its directory, whose tags are Keras's
log keys with `epoch_` or `batch_` before them (`model.fit`'s `val_loss`
is `epoch_val_loss`): `epoch_loss`, `epoch_accuracy` (Keras's running means
over the epoch), `epoch_gradient_norm` (mean over the epoch's steps),
`epoch_learning_rate` (the rate of the epoch's first step),
`update_ratio/<layer>` (first step of the epoch), `epoch_val_loss` and
`epoch_val_accuracy` at the epochs it logs; `batch_*` every
`log.every_steps` steps. (Keras's TensorBoard callback, and the suite's
callbacks for `fit`, write two runs, `train/` and `validation/`, with one
tag for both: a seed study of 5 optimizers x 5 seeds would make more runs
than TensorBoard selects at first, `dashboard.SELECTED_AT_FIRST`.)
"""

from __future__ import annotations

import dataclasses
import math
import time

import keras
import numpy as np

import callbacks as cb
from callbacks import _writers as cb_writers
from callbacks._steps import logged_epoch
from experiments.engine import pacing, signals
from experiments.engine.member import Member
from experiments.engine.programs import ProgramCache
from experiments.spec.config import steps_per_epoch
from experiments.store import checkpoint, events
from experiments.store.results import Failure, Outcome, write_final


def epoch_cadence(run, epochs):
    """Log (and validate) every N epochs: `log.every_epochs`, else ~100 times a run."""
    return run.log["every_epochs"] or max(1, epochs // 100)


def train_group(jobs, progress=False, checkpoint_seconds=5.0, programs=None):
    """Train the dataset runs `jobs` (one group) and return, per job, its Outcome or the
    `Failure` that stopped it alone. `programs`: the batch's `ProgramCache` (a new one if
    None: nothing kept from a group before).

    An error of the program itself (it stops every member) is retried with
    each member alone, from its checkpoint or its start, so that one
    failing run cannot take the others with it. A failing disk
    (`files.WriteError`) is no run's fault: it stops the batch.
    """
    programs = ProgramCache() if programs is None else programs
    sizes = [events.event_files(job.directory) for job in jobs]
    try:
        return _train(jobs, progress, checkpoint_seconds, programs)
    except Exception as error:
        failure = Failure.of_run(error, jobs[0].directory)
        if len(jobs) == 1:
            return [failure]
    outcomes = []
    for job, before in zip(jobs, sizes):
        cb_writers.close_under(job.directory)  # its files are cut back: no writer may hold one open
        stored = checkpoint.load_meta(job.directory)
        job.resume = stored is not None and job.knows(stored.get("fingerprint"))
        events.rewind_events(job.directory, stored["events"] if job.resume else before)
        try:
            outcomes += _train([job], progress, checkpoint_seconds, programs)
        except Exception as error:
            outcomes.append(Failure.of_run(error, job.directory))
    return outcomes


@dataclasses.dataclass
class Cohort:
    """Members of a group that train together from one epoch (a group resumes together, but
    its members may have been saved at different epochs), and what the group shares."""

    members: list
    data: object  # the problem's Data
    per_epoch: int  # steps per epoch
    epochs: int
    last_step: int
    every: int  # log and validate every this many epochs (`epoch_cadence`)
    progress: bool
    checkpoint_seconds: float  # at most one checkpoint per this many seconds (and the last)

    @classmethod
    def of(cls, jobs, members, progress, checkpoint_seconds):
        run, data = jobs[0].run, jobs[0].problem_data
        per_epoch = steps_per_epoch(run, len(data.x_train))
        epochs = run.epochs or math.ceil(run.steps / per_epoch)
        return cls(members, data, per_epoch, epochs, run.steps or epochs * per_epoch, epoch_cadence(run, epochs),
                   progress, checkpoint_seconds)

    @property
    def log(self):
        return self.members[0].run.log


@dataclasses.dataclass
class Call:
    """One call of the program: its per-step values (`out`), its first step, the clock at the
    call (seconds of training before it) and the call's seconds."""

    out: dict
    first: int
    before: float
    seconds: float


def _train(jobs, progress, checkpoint_seconds, programs):
    group = Cohort.of(jobs, [], progress, checkpoint_seconds)
    restarts = programs.make_room([job.run for job in jobs], group.data, group.last_step)
    if not restarts:
        keras.backend.clear_session()
    # a restarted program copies its members' first values in: their models need not be their own
    first_weights = {} if restarts and not any(job.resume for job in jobs) else None
    members, outcomes = group.members, [None] * len(jobs)
    try:
        for i, job in enumerate(jobs):
            try:
                members.append(Member(job, group.data, group.per_epoch, first_weights))
            except Exception as error:  # its own model, optimizer or checkpoint: it fails alone
                outcomes[i] = Failure.of_run(error, job.directory)
        starts = sorted({m.epoch for m in members})
        program = None
        for start in starts:  # one cohort per starting epoch (a group resumes together)
            cohort = dataclasses.replace(group, members=[m for m in members if m.epoch == start])
            if signals.STOP.is_set():  # Ctrl-C during an earlier cohort: these stay as saved
                for member in cohort.members:
                    member.interrupted = True
                continue
            program = _train_cohort(cohort, programs)
        for member in members:
            i = jobs.index(member.job)
            try:  # its own evaluation or files: it fails alone (nothing is retried after a run's end)
                outcomes[i] = member.error or _finish(member, group)
            except Exception as error:
                outcomes[i] = Failure.of_run(error, member.directory)
        if program is not None and len(starts) == 1:  # its models are this group's until now
            programs.keep(program, members, group.data, group.last_step)
    finally:
        for member in members:
            member.close()
    return outcomes


def _train_cohort(cohort, programs):
    """Train the cohort's members (all at the same epoch) to the end, a call of the program at a
    time; returns the program."""
    members, data, per_epoch, epochs, every = cohort.members, cohort.data, cohort.per_epoch, cohort.epochs, \
        cohort.every
    first_epoch = members[0].epoch
    program = programs.program(members, data, per_epoch, cohort.last_step)
    for member in members:
        member.add_callbacks(data, epochs)
        member.start_time = member.times[-1] if member.times else 0.0
    python_epochs = pacing.python_epochs(members[0].callbacks, epochs, every, cohort.checkpoint_seconds)
    bar = pacing.bar(members, epochs, first_epoch, cohort.progress)
    start = time.perf_counter()
    saved_at = start
    epoch, rate = first_epoch, None  # rate: seconds per step of the last call
    # the clock of the step times: seconds inside the program's calls, from the first step; the
    # first call's steps are timed at the pace of the second (the first traces and compiles)
    clock, first_call = 0.0, None
    while epoch < epochs and not all(m.done for m in members):
        end = min(pacing.call_end(epoch, epochs, every, per_epoch, python_epochs, rate), epoch + program.max_epochs)
        first, last = epoch * per_epoch, min(end * per_epoch, cohort.last_step)
        epoch_numbers = np.arange(epoch, end)
        validate = np.array([logged_epoch(e, every, epochs) for e in epoch_numbers])
        measure = np.array([bool(cohort.log["update_ratio"]) and e % every == 0 for e in epoch_numbers])
        called = time.perf_counter()
        out = program.train(first, last, validate, measure)
        seconds = time.perf_counter() - called
        if epoch > first_epoch:  # the first call traces and compiles
            rate = seconds / max(1, out["steps"])
            if first_call is not None:
                clock = _retime(members, *first_call, rate)
                first_call = None
        else:
            first_call = ({id(m): len(m.times) for m in members}, int(out["steps"]), seconds)
        for k, member in enumerate(members):
            if member.done:
                continue
            try:
                cb_writers.write_scalars(member.writer, _log_call(cohort, k, program, Call(out, first, clock, seconds)))
                if member.done:  # diverged: its events end here; the others go on
                    member.epoch = math.ceil(member.divergence["step"] / per_epoch)
            except Exception as error:
                member.error, member.done = Failure.of_run(error, member.directory), True
                _mask(program, k)
                continue
        epoch, clock = end, clock + seconds
        for member in members:
            if not member.done:
                member.epoch = epoch
                member.watch = program.watch(members.index(member))
        now = time.perf_counter()
        stop = signals.STOP.is_set()
        if epoch == epochs or stop or now - saved_at >= cohort.checkpoint_seconds:
            for member in members:
                if not member.done:
                    member.save(epoch, member.job.fingerprint, now - start)
            saved_at = now
        if bar is not None:
            bar.update(end - bar.n)
        if stop and epoch < epochs:
            for member in members:
                if not member.done:
                    member.interrupted = True
            break
    if bar is not None:
        bar.close()
    total = time.perf_counter() - start
    for member in members:
        member.seconds += total
    for member in members:  # as `fit` ends: an optimizer with `use_ema` puts its averages in the model
        if not member.interrupted and member.error is None:
            member.model.optimizer.finalize_variable_values(member.model.trainable_variables)
    if not all(m.interrupted for m in members):  # the final scores: each split once for the cohort
        splits = (("train", data.x_train, data.y_train), ("validation", data.x_val, data.y_val),
                  ("test", data.x_test, data.y_test))
        scores = {split: program.evaluate(x, y) for split, x, y in splits if len(x)}
        for k, member in enumerate(members):
            member.scores = {split: values[k] for split, values in scores.items()}
    return program


def _mask(program, k):
    alive = program.alive.numpy()
    alive[k] = False
    program.alive.assign(alive)


def _retime(members, marks, steps, seconds, rate):
    """Time the first call's `steps` at `rate` seconds a step instead of its `seconds` (which
    include tracing and compiling); returns the clock at its end."""
    for member in members:
        mark = marks[id(member)]
        relative = np.array(member.times[mark:]) - member.start_time
        member.times[mark:] = (member.start_time + relative * (rate * steps / max(seconds, 1e-12))).tolist()
    return rate * steps


def _log_call(cohort, k, program, call):
    """Member k's part of one `Call`: its step history, best values, divergence, its callbacks at
    the call's last epoch; returns its scalars, [(tag, step, value)]."""
    member, per_epoch, epochs, every, log = cohort.members[k], cohort.per_epoch, cohort.epochs, cohort.every, \
        cohort.log
    out, first, before, seconds = call.out, call.first, call.before, call.seconds
    steps, diverged = int(out["steps"]), int(out["diverged"][k])
    count = diverged - first if diverged >= 0 else steps  # its steps in this call
    column = {name: out[name][:count, k] for name in ("loss", "mean", "correct", "size", "gradient_norm",
                                                     "learning_rate")}
    if log["step_losses"]:  # the batch's loss figure; off: kept neither here nor in checkpoints
        member.losses += column["loss"].tolist()
        member.times += (member.start_time + before + seconds * np.arange(1, count + 1) / max(1, steps)).tolist()
    scalars = []
    if log["every_steps"]:
        for j in range(count):
            if (first + j) % log["every_steps"] == 0:
                scalars += [("batch_loss", first + j, column["loss"][j]),
                            ("batch_accuracy", first + j, column["correct"][j] / column["size"][j]),
                            ("batch_gradient_norm", first + j, column["gradient_norm"][j]),
                            ("batch_learning_rate", first + j, column["learning_rate"][j])]
    if diverged >= 0:
        loss = float(column["mean"][count - 1])
        member.watch = program.watch(k)  # not updated by the step that diverged
        member.divergence = {"step": diverged, "loss": loss, "reason": member.watch.reason(loss)}
        member.done = True
    for j0 in range(0, count, per_epoch):  # every call starts at an epoch's first step
        j1 = min(j0 + per_epoch, count)
        epoch = (first + j0) // per_epoch
        logs = {"loss": float(column["mean"][j1 - 1]),
                "accuracy": float(column["correct"][j0:j1].sum() / column["size"][j0:j1].sum())}
        val = None
        if program.has_validation and logged_epoch(epoch, every, epochs):
            if j1 == count and diverged >= 0:  # masked before the program validated it
                val = program.evaluate(cohort.data.x_val, cohort.data.y_val)[k]
            else:
                val = (float(out["validation_loss"][j1 - 1, k]), float(out["validation_accuracy"][j1 - 1, k]))
            logs["val_loss"], logs["val_accuracy"] = val
        logs = _without_accuracy(member.model, logs)
        if not (j1 == count and diverged >= 0):  # the epoch it diverged in counts for nothing
            _update_best(member.best, logs)
        if member.job.keras_verbose and logged_epoch(epoch, every, epochs):
            _print_epoch(member, epoch, epochs, logs)
        if logged_epoch(epoch, every, epochs):
            scalars += [("epoch_loss", epoch, logs["loss"]), ("epoch_accuracy", epoch, logs.get("accuracy")),
                        ("epoch_gradient_norm", epoch, float(np.mean(column["gradient_norm"][j0:j1]))),
                        ("epoch_learning_rate", epoch, column["learning_rate"][j0])]
            if val is not None:
                scalars += [("epoch_val_loss", epoch, val[0]), ("epoch_val_accuracy", epoch, val[1])]
        if log["update_ratio"] and epoch % every == 0:
            scalars += [(f"update_ratio/{layer.name}", epoch, out["ratios"][k][j0, i])
                        for i, layer in enumerate(program.layers[k])]
        if j1 == count:  # the call's last epoch: the weights are this epoch's
            for callback in member.callbacks:
                callback.on_epoch_end(epoch, logs)
    accuracy = member.model.task == "classification"
    return [scalar for scalar in scalars if accuracy or not scalar[0].endswith("accuracy")]


def _without_accuracy(model, values):
    """`values` ({name: value}) without the accuracies when `model` has none (its output is each
    example's loss, `task = "loss"`): `accuracy`, `val_accuracy`, `epoch_accuracy`, ..."""
    if model.task == "classification":
        return values
    return {name: value for name, value in values.items() if not name.endswith("accuracy")}


def _print_epoch(member, epoch, epochs, logs):
    """`--verbose`: a line per logged epoch, as Keras's `fit(verbose=2)` prints it, under the bars."""
    from tqdm.auto import tqdm

    values = " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())
    tqdm.write(f"{member.run.name} epoch {epoch + 1}/{epochs} - {values}")


#: (log key, best name, better of two) of `model.fit`'s epoch logs, as `callbacks.BestSoFar` picks.
PICKS = cb.BestSoFar.PICKS


def _update_best(best, logs):
    """`best` ({best name: value}) updated with an epoch's `logs`, each kept if it is better."""
    for key, name, pick in PICKS:
        value = logs.get(key)
        if value is not None and math.isfinite(value):
            best[name] = pick(best[name], value) if name in best else value


def _finish(member, group):
    """The member's Outcome: final metrics on every split, `final/*` at its root, figure data."""
    data, per_epoch, epochs = group.data, group.per_epoch, group.epochs
    model, directory = member.model, member.directory
    curves = {"step_loss": member.losses, "step_seconds": member.times, "steps_per_epoch": per_epoch}
    if member.interrupted:
        return Outcome({"epochs": member.epoch}, member.seconds, curves, member.best, status="interrupted")
    metrics = {"epochs": epochs, "steps": int(model.optimizer.iterations.numpy()),
               **member.watch.spike_metrics(diverged=member.divergence is not None)}
    if member.divergence is not None:
        metrics["epochs"] = math.ceil(metrics["steps"] / per_epoch)
    for split, (loss, accuracy) in member.scores.items():
        metrics[f"{split}_loss"], metrics[f"{split}_accuracy"] = loss, accuracy
        if model.sequences:  # a language model's: exp of the mean loss per character
            metrics[f"{split}_perplexity"] = math.exp(loss) if loss < 700 else math.inf
    metrics = _without_accuracy(model, metrics)
    write_final(directory, "dataset", metrics, member.seconds, member.best, diverged=member.divergence is not None)
    if data.input_shape == (2,):
        from callbacks.decision_boundary import probability_grid

        curves["grid"] = probability_grid(model, data.x_train)
        curves["points"] = (data.x_train, data.y_train)
    if member.divergence is not None:
        return Outcome(metrics, member.seconds, curves, member.best, "diverged", member.divergence)
    return Outcome(metrics, member.seconds, curves, member.best)
