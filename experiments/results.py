"""What a run is and what it leaves: the job to execute, its outcome, its result.

`Job` is one run to execute (here or on a Ray worker); a kind's run
function returns an `Outcome`; `engine.execute` turns it into a `Result`,
whose `record()` is what `result.json` and `summary.json` keep.
`HPARAM_METRICS` names, per problem kind, the metrics a run reports and the
HParams dashboard shows; `write_final` writes them at the run's root.
"""

from __future__ import annotations

import dataclasses
import pathlib

import tensorflow as tf

from callbacks import _writers as cb_writers
from experiments.config import Run


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
    fingerprint: str | None = None  # `checkpoint.fingerprint` of its resolved config
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


@dataclasses.dataclass
class Job:
    """One run to execute, in this process or on a Ray worker (`experiments.parallel`)."""

    run: Run
    kind: str
    thing: object  # the loaded problem: Data, Objective or Series
    directory: pathlib.Path
    progress: bool = False
    keras_verbose: bool = False
    fingerprint: str | None = None  # of the resolved config: what result.json and checkpoints carry
    resume: bool = False  # go on from `<directory>/checkpoint.npz`
    start_epoch: int = 0  # the epoch its checkpoint goes on from (a group resumes together)
    checkpoint_seconds: float = 5.0  # at most one checkpoint per this many seconds (and the last)


#: The HParams dashboard's metric columns, by problem kind: (tag, group, display name).
HPARAM_METRICS = {
    "dataset": [("final/train_loss", None, "train loss"),
                ("final/train_accuracy", None, "train accuracy"),
                ("final/validation_loss", None, "validation loss"),
                ("final/validation_accuracy", None, "validation accuracy"),
                ("final/test_accuracy", None, "test accuracy"),
                ("best/train_loss", None, "best train loss"),
                ("best/validation_loss", None, "best validation loss"),
                ("best/validation_accuracy", None, "best validation accuracy"),
                ("final/spikes", None, "loss spikes (not divergences)")],
    "objective": [("final/loss", None, "final f"), ("final/distance", None, "distance to the minimum"),
                  ("best/loss", None, "best f")],
    "series": [("final/rms_error", None, "RMS error to the trend"),
               ("final/first_10_mean_error", None, "mean error, t <= 10")],
}


#: The metrics a search can rank by, by problem kind: final values and `best/...`.
METRICS = {kind: [tag.removeprefix("final/") for tag, _, _ in tags] for kind, tags in HPARAM_METRICS.items()}


METRICS["dataset"] += ["test_loss", "best/train_accuracy"]


METRICS["objective"] += ["x", "y"]


def write_final(directory, metrics, seconds, best=None, diverged=None):
    """`final/<metric>`, `best/<metric>`, `wall_seconds` and (for runs that
    can diverge) `diverged` (1 or 0) at the run's root (step 0): the HParams
    dashboard's metrics."""
    writer = cb_writers.borrow(directory)
    with writer.as_default(step=0):
        for name, value in metrics.items():
            tf.summary.scalar(f"final/{name}", value)
        for name, value in (best or {}).items():
            tf.summary.scalar(f"best/{name}", value)
        tf.summary.scalar("wall_seconds", seconds)
        if diverged is not None:
            tf.summary.scalar("diverged", float(diverged))
    cb_writers.give_back(directory)
