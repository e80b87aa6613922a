"""Execute a group of runs: their HParams sessions, their training, their results.

`execute_group` runs the jobs of one group (`planning.groups`) in this process
(or a Ray worker's): dataset runs through the compiled program
(`experiments.engine.train`), the other kinds through `RUNNERS`. It never lets a
run's own errors escape, except a failing disk (`files.WriteError`),
which is not the run's fault and stops the batch.
"""

from __future__ import annotations

import callbacks as cb
from callbacks import _writers as cb_writers
from experiments.engine.train import train_group
from experiments.engine.trainers import average_run, path_run
from experiments.report import dashboard
from experiments.store import files, records
from experiments.store.results import FINISHED, Failure, Result

#: kind -> function(run, directory, problem) -> Outcome, for the kinds that train one run at a
#: time; each writes the run's events. They take seconds, do not checkpoint, and start again.
#: Dataset runs train a group at a time (`experiments.engine.train.train_group`).
RUNNERS = {"objective": path_run, "series": average_run}


def execute(job):
    """`execute_group([job])`'s one Result."""
    return execute_group([job])[0]


def execute_group(jobs, programs=None):
    """Run a group of jobs (`planning.groups`: dataset runs that train together, or one run of
    another kind) into their directories; return their Results. Never raises for a run's own
    errors, except a failing disk (`files.WriteError`), which is not the run's fault and
    stops the batch.

    Writes each run's HParams session (grouped with its other seeds; a
    resumed run's is already there), trains, and ends the session with its
    status, unless the run was interrupted to go on later. A run that raises
    gets `error.txt` (the traceback) and status "failed"; one that diverged,
    status "diverged"; the others of its group go on. `programs`: the batch's
    `programs.ProgramCache` (`parallel.Pool` holds it), whose last program a dataset group
    restarts where it can; None: a new one, nothing kept.
    """
    # one writer per run root, held to the end: the run's events in one file (a group that
    # retries its members alone closes it, `train.train_group`, and the next borrower opens another)
    for job in jobs:
        cb_writers.borrow(job.directory)
    results = [None] * len(jobs)
    try:
        for job in jobs:
            if not job.resume or not dashboard.has_session(job.directory):
                dashboard.start_session(job)
        if jobs[0].kind == "dataset":
            outcomes = train_group(jobs, progress=jobs[0].progress, checkpoint_seconds=jobs[0].checkpoint_seconds,
                                   programs=programs)
        else:
            outcomes = [_one(job) for job in jobs]
        for i, (job, outcome) in enumerate(zip(jobs, outcomes)):
            if isinstance(outcome, Failure):
                files.write(job.directory / "error.txt", outcome.traceback)
                results[i] = failed(job, outcome.reason)
            else:
                results[i] = Result(job.run, job.kind, job.directory, outcome.metrics, outcome.seconds,
                                    outcome.curves, best=outcome.best, status=outcome.status,
                                    divergence=outcome.divergence, fingerprint=job.fingerprint,
                                    resumed=job.resume)
    finally:  # no result: a second Ctrl-C (KeyboardInterrupt); the run goes on from its checkpoint
        for job, result in zip(jobs, results):
            if result is not None and result.status != "interrupted":
                _end_session(job.directory, result.status)
            cb_writers.give_back(job.directory)
            cb_writers.close_under(job.directory)  # what a run that raised left open
    for result in results:
        if result.status in FINISHED:
            records.save_curves(result.directory, result.curves)
    return results


def _one(job):
    """A run of a kind that trains alone: its Outcome, or the Failure of its error."""
    try:
        return RUNNERS[job.kind](job.run, job.directory, job.problem_data)
    except Exception as error:
        return Failure.of_run(error, job.directory)


def failed(job, error):
    """The Result of a run that did not finish, with `error` as its one-line reason."""
    return Result(job.run, job.kind, job.directory, {}, 0.0, error=error, status="failed",
                  fingerprint=job.fingerprint)


def close_failed(job):
    """End the HParams session of a run whose process died (`parallel.Pool`); start it
    again first, in case the worker died before its start reached the disk."""
    if not dashboard.has_session(job.directory):
        dashboard.start_session(job)
    _end_session(job.directory, "failed")


def _end_session(directory, status):
    """End the HParams session of the run in `directory` with `status`, through its root's writer."""
    cb.hparams.write_status(cb_writers.borrow(directory), status)
    cb_writers.give_back(directory)
