"""The metrics a run reports, by problem kind, and the curves a target can be set on: the
names a batch file, `--set search.metric=...` and `--target` may use."""

from __future__ import annotations

import math

#: The HParams dashboard's metric columns by problem kind: (metric, display name). A metric is
#: a final value (`train_loss`) or a best one (`best/train_loss`), as `result.json` keeps them;
#: each is written once, at the run's root, as the scalar `summary_tag(metric)`.
HPARAM_METRICS = {
    "dataset": [("train_loss", "train loss"), ("train_accuracy", "train accuracy"),
                ("validation_loss", "validation loss"), ("validation_accuracy", "validation accuracy"),
                ("test_accuracy", "test accuracy"), ("best/train_loss", "best train loss"),
                ("best/validation_loss", "best validation loss"),
                ("best/validation_accuracy", "best validation accuracy"),
                ("spikes", "loss spikes (not divergences)")],
    "objective": [("loss", "final f"), ("distance", "distance to the minimum"), ("best/loss", "best f")],
    "series": [("rms_error", "RMS error to the trend"), ("first_10_mean_error", "mean error, t <= 10")],
}
#: Every kind's last columns; `diverged` only for the kinds that can diverge.
RUN_METRICS = [("diverged", "diverged (1 = yes)"), ("wall_seconds", "wall time [s]")]
DIVERGING = ("dataset", "objective")


def summary_tag(metric):
    """`summary/train_loss`, `summary/best_train_loss`: one tag group, out of the curves' way."""
    return "summary/" + metric.replace("/", "_")


#: The metrics a search can rank by, by problem kind: final values and `best/...`.
METRICS = {kind: [metric for metric, _ in columns] for kind, columns in HPARAM_METRICS.items()}


METRICS["dataset"] += ["test_loss", "best/train_accuracy"]


METRICS["objective"] += ["x", "y"]



#: The curves a target can be set on, by problem kind: metric -> (TensorBoard tag, mode).
#: A dataset run's training curve is its running mean over each logged epoch (`epoch_loss`);
#: a 2-D run's is f after each step (`batch_loss`).
CURVES = {
    "dataset": {"train_loss": ("epoch_loss", "min"), "train_accuracy": ("epoch_accuracy", "max"),
                "validation_loss": ("epoch_val_loss", "min"), "validation_accuracy": ("epoch_val_accuracy", "max")},
    "objective": {"loss": ("batch_loss", "min")},
}
#: The metric a report times by default, by problem kind.
DEFAULT_TARGET_METRIC = {"dataset": "train_loss", "objective": "loss"}
def check_targets(targets, field):
    """`targets` ({metric: number}, as a batch file's `[batch] targets` or `--target` give them)
    checked: a metric with a curve, a finite number. Raises ConfigError naming `field`."""
    from experiments.spec.validation import ConfigError

    known = sorted({metric for per in CURVES.values() for metric in per})
    if not isinstance(targets, dict):
        raise ConfigError(f"`{field}` must be a table of metric = value, e.g. {{ train_loss = 0.05 }}. "
                          f"Received: {field}={targets!r}")
    for metric, value in targets.items():
        if metric not in known:
            raise ConfigError(f"`{field}` names a metric to time: one of {', '.join(known)}. "
                              f"Received: {field}.{metric}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"`{field}.{metric}` must be a finite number. Received: {field}.{metric}={value!r}")
    return {metric: float(value) for metric, value in targets.items()}


