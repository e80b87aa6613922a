"""Run a batch of runs into TensorBoard log directories.

    from experiments import runner
    from experiments.spec import config
    batch = config.load_batch("moons", overrides=["epochs=100"])
    result = runner.run_batch(batch, logdir="logs")

How a batch flows, one stage (sub-package) a step; imports point down the list
`spec`, `workloads`, `plan`, `store`, `report`, `engine`, then this module (`engine` writes
each run's HParams session through `report.dashboard`):

    spec        the batch file read and checked: runs, seeds, search spaces, metric names
    workloads   the problems and models the runs name
    plan        every run checked and its problem loaded (`planning.prepare`), its
                optimizer built (`optimizers`), the runs grouped (`planning.groups`)
    store       the batch directory, its lock, and each run's directory: what an earlier
                invocation left (skip, resume, redo), a run's fingerprint, its files
    engine      one group of runs executed (`executor.execute_group`): `train` drives
                dataset runs through `loop`'s compiled program (K models, K optimizers,
                one stream of batches) and logs them, `trainers` the 2-D paths and series
                averages; `parallel` runs the groups here or on Ray
    report      the HParams columns and the summary table (`overview`); `figures`,
                `aggregate` (mean over seeds), `ranking` (`best`), `verdict` (`report`)
    runner      this module: the stages above, in order, round after round

Layout of `<logdir>/<batch>/` (the same batch run again goes on in it; another
batch of the same name, or `fresh`, gets a `_2`, `_3`, ... suffix):

    batch.json               the batch as resolved: header, every run, its fingerprint, and
                             the directory's id (its runs' HParams session groups carry it)
    summary.json             final metrics and wall time of every run
    .lock                    held (flock) while a process runs the batch
    <run-name>/config.json   the run's resolved config (defaults filled in) and fingerprint
    <run-name>/result.json   status (ok, diverged, failed), metrics, best values, checksum
    <run-name>/checkpoint.npz  the state at the last saved epoch end (dataset runs)
    <run-name>/curves.npz    the figures' data of a finished run
    <run-name>/              one TensorBoard run: its HParams session (its own event file),
                             epoch_* (epoch_val_* on the validation split) and batch_*
                             scalars, update_ratio/*, histograms, images, summary/* scalars
    <group>_mean/            the mean over a trial's seeds, one run too (`aggregate`)
    (root event files)       the HParams definition (`dashboard`), the figures as images
    *.png                    the same figures as files
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import sys

from experiments.engine import signals
from experiments.plan import planning
from experiments.plan.planning import prepare, remember
from experiments.report import dashboard, figures, ranking
from experiments.report.overview import COLUMNS, write_hparams_config
from experiments.spec import search
from experiments.spec.config import Batch
from experiments.store import directories, files, fingerprints, records
from experiments.store.results import Result


@dataclasses.dataclass
class BatchResult:
    batch: Batch
    directory: pathlib.Path
    results: list[Result]
    figures: list[pathlib.Path]

    aggregates: list[pathlib.Path] = dataclasses.field(default_factory=list)
    metric: str | None = None  # what ranks the trials
    mode: str | None = None

    @property
    def failed(self):
        return [r for r in self.results if r.status == "failed"]

    @property
    def diverged(self):
        return [r for r in self.results if r.status == "diverged"]

    def ranking(self):
        return ranking.rank_groups([r.record() for r in self.results], self.metric, self.mode)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped a batch; what finished is saved and the same command goes on.

    `signal` is the signal that stopped it (the exit status is 128 + it)."""

    def __init__(self, directory, finished, total, saved=None):
        self.directory, self.finished, self.total, self.saved = directory, finished, total, saved
        self.signal = signals.received()
        where = f"; {saved}" if saved else ""
        super().__init__(f"stopped: {finished} of {total} runs in {directory} are finished{where}")


def run_batch(batch, logdir="logs", progress=True, keras_verbose=False, prepared=None,
              workers=None, address=None, fresh=False, report=None, checkpoint_seconds=5.0):
    """Run every run of `batch` into `<logdir>/<batch>/`; return a BatchResult.

    `prepared` is `prepare(batch)`'s result when the caller already has it.
    `workers`/`address` run the batch on Ray (`experiments.engine.parallel.Pool`).
    A search runs its rounds in turn; groups of seeds get a mean run
    (`experiments.report.aggregate`). A run that raises is recorded as failed with
    its error and the batch goes on; finished runs are never lost.

    Running the same batch again goes on where it stopped: finished runs are
    skipped, unfinished ones resume from their checkpoints (`fresh`: start
    over in a new directory). A run checkpoints at most once per
    `checkpoint_seconds` (0: at least at every epoch it logs). The batch directory is locked while it runs.
    Ctrl-C saves the running run and raises `Interrupted`. `report(text)`
    tells the user what is resumed and what Ctrl-C does.
    """
    from experiments.engine import parallel

    report = report or (lambda text: None)
    parallel.check(workers, address)
    loaded = {}
    prepared = list(prepared if prepared is not None else prepare(batch, loaded=loaded))
    remember(loaded, prepared)
    with parallel.Pool(workers, address) as pool:  # Ray up before anything is written
        directory, lock, resuming = directories.open_batch_directory(logdir, batch, fresh)
        try:
            if resuming:
                directories.clear_batch_outputs(directory)
            batch_id = directories.batch_id(directory, resuming)
            files.write(directory / "batch.json", json.dumps(
                {**batch.header(), "fingerprint": fingerprints.batch_fingerprint(batch),
                 "id": batch_id, "overrides": list(batch.overrides),
                 "runs": [r.to_dict() for r in batch.runs],
                 "search": dataclasses.asdict(batch.search) if batch.search else None}, indent=2, default=str))
            write_hparams_config(directory, batch, prepared, loaded, batch_id)
            with signals.stop_cleanly(report):
                return _run_rounds(batch, directory, prepared, loaded, progress, keras_verbose,
                                   pool, resuming, report, checkpoint_seconds, batch_id)
        finally:
            lock.release()


def progress_line(batch_name, done, total, result):
    """One line for a finished run, where progress bars cannot redraw (output to a file or pipe),
    with its headline number (the summary table's first column)."""
    key = COLUMNS[result.kind][0][0] if result.kind in COLUMNS else None
    value = result.metrics.get(key) if key else None
    metric = f"  {key} {value:.4g}" if isinstance(value, (int, float)) else ""
    return f"{batch_name} [{done}/{total}] {result.run.name}: {result.status}{metric}  {result.seconds:.1f} s"


def _run_rounds(batch, directory, prepared, loaded, progress, keras_verbose, pool, resuming, report,
                checkpoint_seconds, batch_id):
    """`run_batch`'s work once the directory is locked: every round, then the batch's outputs."""
    from tqdm.auto import tqdm

    from experiments.report import aggregate

    metric = batch.search.metric if batch.search else None
    mode = batch.search.mode_for(metric) if metric else None
    # progress: bars where they can redraw (a terminal), else one line per finished run
    bars = progress and sys.stderr.isatty()
    lines = progress and not bars
    rounds = batch.search.rounds if batch.search else 1
    searched = sum(run.trial is not None for run, _, _ in prepared)
    total = len(prepared) + (rounds - 1) * searched
    bar = tqdm(total=total, desc=batch.name, unit="run", disable=not bars, position=0,
               dynamic_ncols=True)
    results, history, counted = [], [], 0
    with bar:
        ready = prepared
        for round_index in range(1, rounds + 1):
            if round_index > 1:
                ready = prepare(batch, next_round(batch, results, round_index, metric, mode), loaded)
                prepared += ready
            history.append(describe_round(batch, round_index))
            jobs, finished = [], {}
            for run, kind, problem_data in ready:
                job, done = directories.job_for(directory, batch, run, kind, problem_data, bars and pool.local,
                                                keras_verbose, report)
                job.checkpoint_seconds = checkpoint_seconds
                job.batch_id = batch_id
                if done is not None:
                    finished[len(jobs)] = done
                    if not dashboard.has_session(job.directory):  # presentation only: not sealed with it
                        dashboard.start_session(job)
                    bar.update()
                    counted += 1
                jobs.append(job)
            if resuming:
                resumed = sum(job.resume for job in jobs)
                report(f"going on in {directory}: {len(finished)} finished run(s) skipped, "
                       f"{resumed} resumed from a checkpoint, {len(jobs) - len(finished) - resumed} to run"
                       + (f" (round {round_index})" if rounds > 1 else ""))
            todo = [i for i in range(len(jobs)) if i not in finished]
            pending = [jobs[i] for i in todo]
            groups = planning.groups(pending)
            left = {i: group for group in groups for i in group}  # a group's results still to come
            saved = None
            for k, result in pool.map(pending, groups):
                group = left.pop(k)
                if result.status == "interrupted":
                    saved = saved or f"{result.run.name} saved at epoch {result.metrics['epochs']}"
                else:
                    finished[todo[k]] = result
                    files.write(result.directory / records.RESULT, json.dumps(
                        records.seal(result.record(), result.directory), indent=2, default=str))
                    bar.set_postfix_str(result.run.name)
                    bar.update()
                    counted += 1  # `bar.n` stays 0 while the bar is disabled
                    if lines:
                        print(progress_line(batch.name, counted, total, result), file=sys.stderr, flush=True)
                # stop between groups only: a group's finished runs are all written before it raises
                if any(i in left for i in group):
                    continue
                if saved is not None:
                    raise Interrupted(directory, directories.count_finished(directory), total, saved)
                if signals.STOP.is_set():
                    raise Interrupted(directory, directories.count_finished(directory), total)
            results += [finished[i] for i in range(len(jobs))]
    if batch.search:
        files.write(directory / "search.json", json.dumps(
            {**dataclasses.asdict(batch.search), "mode": mode, "history": history}, indent=2, default=str))
    aggregates = aggregate.write_aggregates(directory, results)
    written = figures.batch_figures(directory, results, prepared)
    dashboard.unify(directory.parent)  # this batch's sessions get every batch's columns
    files.write(directory / "summary.json", json.dumps([r.record() for r in results], indent=2, default=str))
    return BatchResult(batch, directory, results, written, aggregates, metric, mode)


def next_round(batch, results, round_index, metric, mode):
    """Coarse-to-fine: narrow each searched entry around its best trials, sample again."""
    first_id = 1 + max(r.run.trial_id for r in results if r.run.trial_id is not None)
    for template in batch.templates:
        if not template.dimensions:
            continue
        records = [r.record() for r in results
                   if r.run.index == template.index and r.run.round == round_index - 1]
        rows = ranking.rank_groups(records, metric, mode)
        kept = [row["trial"] for row in rows if math.isfinite(row["mean"])][:batch.search.keep]
        if kept:  # if every trial failed, sample the same ranges again
            template.dimensions = search.narrow(template.dimensions, kept)
    return batch.round(round_index, first_id)


def describe_round(batch, round_index):
    return {"round": round_index, "spaces": {
        f"runs[{t.index}]": {d.key: d.describe() for d in t.dimensions}
        for t in batch.templates if t.dimensions}}
