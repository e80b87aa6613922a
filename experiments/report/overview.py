"""What a batch tells a person: the HParams dashboard's columns and the summary table."""

from __future__ import annotations

from experiments.plan.planning import spec_key
from experiments.report import dashboard
from experiments.report.dashboard import hparams_of
from experiments.spec.metrics import DIVERGING, HPARAM_METRICS, RUN_METRICS, summary_tag
from experiments.workloads import models, problems


def write_hparams_config(directory, batch, prepared, loaded, batch_id=None):
    """The HParams dashboard's columns: every hyperparameter, over its whole searched range, and
    the batch (`dashboard.batch_label`); then every batch's under the same log directory made one
    (`dashboard.unify`)."""
    values = {"batch": [dashboard.batch_label(directory.name, batch_id)]}
    probes = [(run, loaded.get(spec_key(run.problem))) for _, run in batch.probes]
    for run, problem_data in [(run, problem_data) for run, _, problem_data in prepared] + probes:
        data = problem_data if isinstance(problem_data, problems.Data) else None  # batch_size = "full"'s size
        for name, value in hparams_of(run, data).items():
            values.setdefault(name, []).append(value)
    kinds = {kind for _, kind, _ in prepared}
    metrics = [m for kind in HPARAM_METRICS if kind in kinds for m in HPARAM_METRICS[kind]]
    if not any(kind == "dataset" and models.task_of(run.model, data) == "classification"
               for run, kind, data in prepared):  # every model's output is its loss: no accuracy
        metrics = [(m, name) for m, name in metrics if not m.endswith("accuracy")]
    metrics += [m for m in RUN_METRICS if m[0] != "diverged" or kinds & set(DIVERGING)]
    # only what some run logs: a dataset without a validation or test split has no such metrics
    # (a declared column no session has a value in empties the parallel-coordinates view)
    splits = {split for _, kind, data in prepared if kind == "dataset"
              for split, rows in (("validation", data.x_val), ("test", data.x_test)) if len(rows)}
    metrics = [(m, name) for m, name in metrics
               if not any(split in m and split not in splits for split in ("validation", "test"))]
    dashboard.write_definition(directory, values, [(summary_tag(m), None, name) for m, name in metrics])
    dashboard.unify(directory.parent)


#: The summary table's columns by problem kind, (metric, label); the first is a run's headline number.
COLUMNS = {
    "dataset": [("train_loss", "train loss"), ("validation_loss", "val loss"), ("test_loss", "test loss"),
                ("train_accuracy", "train acc"), ("validation_accuracy", "val acc"), ("test_accuracy", "test acc"),
                ("validation_perplexity", "val ppl"), ("test_perplexity", "test ppl")],
    "objective": [("loss", "final f"), ("distance", "to minimum"), ("x", "x"), ("y", "y")],
    "series": [("rms_error", "RMS error"), ("first_10_mean_error", "mean error t<=10")],
}

#: Columns shown only when some run has no accuracy (a model whose output is each example's loss),
#: whose headline numbers they are.
LOSS_ONLY = ("validation_loss", "test_loss")


def summary_table(result):
    """The batch's final numbers as aligned text, one section per problem kind; a column no run
    has (a validation split the problem lacks) is left out."""
    lines = []
    for kind, cols in COLUMNS.items():
        rows = [r for r in result.results if r.kind == kind]
        if not rows:
            continue
        width = max(len("run"), *(len(r.run.name) for r in rows))
        if not any("train_loss" in r.metrics and "train_accuracy" not in r.metrics for r in rows):
            cols = [(key, label) for key, label in cols if key not in LOSS_ONLY]
        cols = [(key, label) for key, label in cols if any(key in r.metrics for r in rows)] or cols[:1]
        lines.append(f"{'run':{width}s}  " + "  ".join(f"{label:>12s}" for _, label in cols)
                     + f"  {'wall [s]':>9s}")
        for r in rows:
            if r.status == "failed":
                lines.append(f"{r.run.name:{width}s}  FAILED: {r.error}")
                continue
            cells = [f"{r.metrics[key]:12.4g}" if key in r.metrics else f"{'-':>12s}" for key, _ in cols]
            note = ""
            if r.status == "diverged":
                note = f"  DIVERGED at step {r.divergence['step']}: {r.divergence['reason']}"
            else:
                if r.metrics.get("spikes"):
                    note = (f"  {r.metrics['spikes']} spike(s) shorter than the divergence patience, the "
                            f"worst {r.metrics['worst_spike_loss']:.4g} at step {r.metrics['worst_spike_step']}")
                if r.skipped:
                    note += "  (finished before)"
                elif r.resumed:
                    note += "  (resumed)"
            lines.append(f"{r.run.name:{width}s}  " + "  ".join(cells) + f"  {r.seconds:9.1f}" + note)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
