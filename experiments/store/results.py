"""What a run is and what it leaves: the job to execute, its outcome, its result.

`Job` is one run to execute (here or on a Ray worker); a kind's run
function returns an `Outcome`; `executor.execute` turns it into a `Result`,
whose `record()` is what `result.json` and `summary.json` keep.
`write_final` writes the metrics a run reports (`metrics.HPARAM_METRICS`), which the
HParams dashboard shows, at the run's root as `summary/*`.
"""

from __future__ import annotations

import dataclasses
import pathlib

import tensorflow as tf

from callbacks import _writers as cb_writers
from experiments.spec.config import Run
from experiments.store import files
from experiments.spec.metrics import HPARAM_METRICS, RUN_METRICS, summary_tag


@dataclasses.dataclass
class Result:
    run: Run
    kind: str
    directory: pathlib.Path
    metrics: dict  # final numbers, e.g. train_loss, train_accuracy, validation_accuracy
    seconds: float
    curves: dict = dataclasses.field(default_factory=dict)  # for the batch's figures
    error: str | None = None
    best: dict = dataclasses.field(default_factory=dict)  # best value over the run of each metric
    status: str = "ok"  # "ok", "diverged", "failed" or "interrupted" (stopped to resume later)
    divergence: dict | None = None  # a diverged run's {step, loss, reason}
    fingerprint: str | None = None  # `fingerprints.run_fingerprint` of its resolved config
    resumed: bool = False  # went on from a checkpoint
    skipped: bool = False  # finished by an earlier invocation of the same batch

    def record(self):
        """What `result.json` and `summary.json` keep of the run."""
        run = self.run
        return {"run": run.name, "group": run.group, "index": run.index, "seed": run.seed,
                "trial": run.trial, "trial_id": run.trial_id, "round": run.round, "kind": self.kind,
                "status": self.status, "metrics": self.metrics, "best": self.best,
                "seconds": self.seconds, "error": self.error, "divergence": self.divergence,
                "fingerprint": self.fingerprint}


#: Statuses of a run that is over: re-running its batch skips it. A failed run is tried again.
FINISHED = ("ok", "diverged")


@dataclasses.dataclass
class Outcome:
    """What a kind's run function returns."""

    metrics: dict
    seconds: float
    curves: dict
    best: dict
    status: str = "ok"  # "ok", "diverged" or "interrupted"
    divergence: dict | None = None


@dataclasses.dataclass
class Failure:
    """What a run function returns for a run that raised: a one-line reason and the traceback."""

    reason: str
    traceback: str

    @classmethod
    def of(cls, error):
        import traceback

        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        if lines and lines[0] == "in user code:":  # raised while TensorFlow traced: the cause is last
            reason = lines[-1]
        else:
            reason = f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")
        return cls(reason, "".join(traceback.format_exception(error)))

    @classmethod
    def of_run(cls, error, directory):
        """The Failure of a run's own error, which stops that run alone. An error of a failing
        disk (`files.disk_fault`) is no run's fault: it is raised as the `WriteError` that
        stops the batch, keeping what finished. Every place that lets a run fail alone asks here."""
        fault = files.disk_fault(error, directory)
        if fault is not None:
            raise fault from None
        return cls.of(error)


@dataclasses.dataclass
class Job:
    """One run to execute, in this process or on a Ray worker (`experiments.engine.parallel`)."""

    run: Run
    kind: str
    problem_data: object  # the loaded problem: Data, Objective or Series
    directory: pathlib.Path
    progress: bool = False
    keras_verbose: bool = False
    fingerprint: str | None = None  # of the resolved config: what result.json and checkpoints carry
    former_fingerprint: str | None = None  # an earlier version's, which its files may still carry
    resume: bool = False  # go on from `<directory>/checkpoint.npz`
    start_epoch: int = 0  # the epoch its checkpoint goes on from (a group resumes together)
    checkpoint_seconds: float = 5.0  # at most one checkpoint per this many seconds (and the last)
    batch_id: str | None = None  # its batch directory's id (`directories.batch_id`), in its HParams names

    def knows(self, fingerprint):
        """Whether a result or checkpoint carrying `fingerprint` is this run's."""
        return fingerprint is not None and fingerprint in (self.fingerprint, self.former_fingerprint)


def write_final(directory, kind, metrics, seconds, best=None, diverged=None):
    """The HParams dashboard's metrics of a run of `kind` (`HPARAM_METRICS`, `wall_seconds` and,
    for runs that can diverge, `diverged` 1 or 0) as `summary/*` scalars at its root (step 0).
    Every other number is in `result.json`."""
    values = {**metrics, **{f"best/{name}": value for name, value in (best or {}).items()},
              "wall_seconds": seconds}
    if diverged is not None:
        values["diverged"] = float(diverged)
    writer = cb_writers.borrow(directory)
    with writer.as_default(step=0):
        for metric, _ in HPARAM_METRICS[kind] + RUN_METRICS:
            if values.get(metric) is not None:
                tf.summary.scalar(summary_tag(metric), values[metric])
    cb_writers.give_back(directory)
