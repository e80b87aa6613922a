"""Execute one run: its HParams session, its kind's run function, its result.

`RUNNERS` maps a problem kind to the function that trains and logs it;
`execute` runs a `Job` in this process (or a Ray worker's) and never lets
the run's own errors escape, except a failing disk (`checkpoint.WriteError`),
which is not the run's fault and stops the batch.
"""

from __future__ import annotations

import traceback

import keras

import callbacks as cb
from callbacks import _writers as cb_writers
from experiments import checkpoint
from experiments.fit import fit_run
from experiments.plan import hparams_of
from experiments.results import FINISHED, Result
from experiments.trainers import average_run, path_run


#: kind -> function(run, directory, problem, progress=, keras_verbose=, resume=, fingerprint=,
#: checkpoint_seconds=)
#: -> Outcome; each writes the run's events. Only `dataset` runs checkpoint (and resume):
#: the others take seconds and start again.
RUNNERS = {"dataset": fit_run, "objective": path_run, "series": average_run}


def execute(job):
    """Run one job into `job.directory`; never raises for the run's own errors.

    Writes the run's HParams session (grouped with its other seeds; a
    resumed run's is already there), lets the kind's runner train and log,
    and ends the session with its status, unless the run was interrupted
    to go on later. A run that raises gets `error.txt` (the traceback) and
    status "failed"; one that diverged, status "diverged".
    """
    run, directory = job.run, job.directory
    keras.backend.clear_session()
    root = cb_writers.borrow(directory)  # one writer for the run's root, held to the end
    result = None
    try:
        if not job.resume:
            start_session(root, job)
        outcome = RUNNERS[job.kind](run, directory, job.thing, progress=job.progress,
                                    keras_verbose=job.keras_verbose, resume=job.resume,
                                    fingerprint=job.fingerprint,
                                    checkpoint_seconds=job.checkpoint_seconds)
        result = Result(run, job.kind, directory, outcome.metrics, outcome.seconds, outcome.curves,
                        best=outcome.best, status=outcome.status, divergence=outcome.divergence,
                        fingerprint=job.fingerprint, resumed=job.resume)
    except Exception as error:  # one broken run must not lose the others
        fault = checkpoint.disk_fault(error, directory)
        if fault is not None:  # not the run's fault: stop the batch, keep what finished
            raise fault from None
        checkpoint.write(directory / "error.txt", traceback.format_exc())
        result = failed(job, f"{type(error).__name__}: {error}")
    finally:  # no result: a second Ctrl-C (KeyboardInterrupt); the run goes on from its checkpoint
        if result is not None and result.status != "interrupted":
            cb.hparams.write_status(root, result.status)
        cb_writers.give_back(directory)
        cb_writers.close_under(directory)  # what a run that raised left open
    if result.status in FINISHED:
        checkpoint.save_curves(directory, result.curves)
    return result


def start_session(writer, job):
    """The run's HParams session; its seeds share `trial_id` (the run's group)."""
    from tensorboard.plugins.hparams import api as hp

    with writer.as_default():
        hp.hparams(hparams_of(job.run, job.thing if job.kind == "dataset" else None),
                   trial_id=job.run.group or job.run.name)
    writer.flush()


def failed(job, error):
    """The Result of a run that did not finish, with `error` as its one-line reason."""
    return Result(job.run, job.kind, job.directory, {}, 0.0, error=error, status="failed",
                  fingerprint=job.fingerprint)


def close_failed(job):
    """End the HParams session of a run whose process died (`parallel.Pool`); start it
    again first, in case the worker died before its start reached the disk."""
    writer = cb_writers.borrow(job.directory)
    start_session(writer, job)
    cb.hparams.write_status(writer, "failed")
    cb_writers.give_back(job.directory)
