"""`python -m experiments report DIR`: which optimizer wins, and how sure we are.

Reads the finished runs under DIR (a batch directory, or a folder of them)
and writes beside them `report.md`, `performance_profiles.png` (with two or
more problems) and `time_to_target.png`; the same report goes into
TensorBoard (Text and Images tabs, the directory's own run). `run` writes
each batch's report and prints its short form (`short`).

A problem (workload) is a batch's problem and model, named `naive2d (problem
material)`, `mnist (problem mnist, model mnist_mlp)`. The numbers are `analysis`'s; this module reads
the runs and writes the files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib

import numpy as np

from experiments.report import analysis, ranking
from experiments.report.figures import optimizer_colours
from experiments.spec import metrics
from experiments.store import events, files, records

REPORT = "report.md"


@dataclasses.dataclass
class RunInfo:
    record: dict
    directory: pathlib.Path
    workload: str
    optimizer: str
    steps_per_epoch: int | None
    targets: dict  # its batch file's `[batch] targets`

    @property
    def ok(self):
        return self.record.get("status") == "ok"

    @property
    def trial(self):
        return self.record.get("group") or self.record["run"]

    def reason(self):
        divergence, error = self.record.get("divergence"), self.record.get("error")
        if divergence:
            return f"diverged at step {divergence.get('step')}: {divergence.get('reason')}"
        return error or self.record.get("status", "?")


#: What each timed curve is, in a report's words: its TensorBoard tag, and what a point of it
#: holds (not the summary table's final numbers, which are measured on a whole split after
#: training).
CURVE_NAMES = {
    "dataset": {"train_loss": "epoch_loss: each epoch's mean loss over its training batches",
                "train_accuracy": "epoch_accuracy: each epoch's accuracy over its training batches",
                "validation_loss": "epoch_val_loss: the validation split's loss after each validated epoch",
                "validation_accuracy": "epoch_val_accuracy: the validation split's accuracy after each "
                                       "validated epoch"},
    "objective": {"loss": "batch_loss: f after each step"},
}


def collect(directory):
    """(runs, damaged): every run under `directory` with a sound result.json, as RunInfo."""
    batches, damaged = ranking.load_records(directory)
    runs = []
    for batch_dir, batch_records in batches.items():
        try:
            targets = json.loads((batch_dir / "batch.json").read_text()).get("targets") or {}
            targets = metrics.check_targets(targets, f"{batch_dir / 'batch.json'}: targets")
        except (OSError, ValueError, AttributeError):
            targets = {}
        for record in batch_records:
            run_dir = batch_dir / record["run"]
            try:
                config = json.loads((run_dir / "config.json").read_text())
            except (OSError, ValueError):
                config = {}
            spec = config.get("run") or {}
            problem = (spec.get("problem") or {}).get("name", "?")
            model = spec.get("model")
            model = model.get("name") if isinstance(model, dict) else model
            workload = f"{batch_dir.name} ({', '.join([f'problem {problem}'] + ([f'model {model}'] if model else []))})"
            optimizer = (spec.get("optimizer") or {}).get("name", "?")
            runs.append(RunInfo(record, run_dir, workload, optimizer, config.get("steps_per_epoch"), targets))
    return runs, damaged


def curve(run, metric):
    """The run's curve of `metric` (`metrics.CURVES`), read from its events."""
    from experiments.report.aggregate import run_scalars

    tag, _ = metrics.CURVES[run.record["kind"]][metric]
    points = run_scalars(run.directory).get(tag, {})
    steps = np.array(sorted(points), np.int64)
    values = np.array([points[s] for s in steps], np.float64)
    seconds = np.full(len(steps), math.nan)
    epochs = steps.copy() if run.record["kind"] == "dataset" else None  # an epoch_* tag's step: the epoch
    if run.record["kind"] == "dataset" and run.steps_per_epoch:
        total = (run.record.get("metrics") or {}).get("steps", math.inf)
        steps = np.minimum((steps + 1) * run.steps_per_epoch, total)  # an epoch's value: at its end
        times = records.load_curves(run.directory).get("step_seconds")
        if times is not None and len(times):
            seconds = np.array([times[min(s, len(times)) - 1] for s in steps], np.float64)
    return analysis.Curve(steps, values, seconds, epochs)


def build(runs, given=None):
    """The report's content: per workload its target and each run's time to it, the
    performance profiles over workloads, the paired comparisons, the unfinished runs.
    `given` ({metric: value}, `--target`) overrides the batch files' targets."""
    workloads = {}
    for run in runs:
        if run.record["kind"] in metrics.CURVES:
            workloads.setdefault(run.workload, []).append(run)
    timed, times = {}, {}
    for workload, members in workloads.items():
        kind = members[0].record["kind"]
        targets = {**members[0].targets, **(given or {})}
        metric = next((m for m in targets if m in metrics.CURVES[kind]), metrics.DEFAULT_TARGET_METRIC[kind])
        mode = metrics.CURVES[kind][metric][1]
        curves = {run.record["run"]: curve(run, metric) for run in members}
        finished = [r for r in members if r.ok]
        if metric in targets:
            target, how = targets[metric], "given" if metric in (given or {}) else "the batch file's"
        else:
            target = analysis.default_target([curves[r.record["run"]].values[-1] for r in finished
                                              if len(curves[r.record["run"]].values)], mode)
            how = (f"the {'highest' if mode == 'min' else 'lowest'} last value of this curve among the "
                   f"{len(finished)} finished runs, so each of them reaches it")
        rows = []
        for run in members:
            run_curve = curves[run.record["run"]]
            i = analysis.first_reached(run_curve, target, mode) if target is not None else None
            rows.append({"run": run.record["run"], "trial": run.trial, "optimizer": run.optimizer,
                         "seed": run.record.get("seed"), "step": None if i is None else int(run_curve.steps[i]),
                         "epoch": None if i is None or run_curve.epochs is None else int(run_curve.epochs[i]),
                         "seconds": None if i is None else float(run_curve.seconds[i]),
                         "note": "" if run.ok else run.reason()})
        timed[workload] = {"metric": metric, "mode": mode, "target": target, "how": how, "rows": rows,
                           "kind": kind}
        per_optimizer = {}
        for trial in dict.fromkeys(r["trial"] for r in rows):
            steps = [r["step"] if r["step"] is not None else math.inf for r in rows if r["trial"] == trial]
            optimizer = next(r["optimizer"] for r in rows if r["trial"] == trial)
            per_optimizer[optimizer] = min(per_optimizer.get(optimizer, math.inf), float(np.median(steps)))
        times[workload] = per_optimizer
    comparisons = []
    for workload, members in workloads.items():
        metric = ranking.default_metric(members[0].record)
        mode = "max" if "accuracy" in metric else "min"
        by_trial = {}
        for run in members:
            by_trial.setdefault(run.trial, {})[run.record.get("seed")] = ranking.value_of(run.record, metric)
        trials = [t for t, seeds in by_trial.items() if len(seeds) >= analysis.MIN_SEEDS]
        for i, a in enumerate(trials):
            for b in trials[i + 1:]:
                comparisons.append((workload, analysis.paired(a, b, by_trial[a], by_trial[b], metric, mode)))
    unfinished = [run for run in runs if not run.ok]
    profiles = analysis.performance_profiles(times) if len(times) >= 2 else None
    finals = {workload: [(run.record["run"], run.record.get("metrics") or {}) for run in members if run.ok]
              for workload, members in workloads.items() if members[0].record["kind"] == "dataset"}
    return {"timed": timed, "times": times, "profiles": profiles, "comparisons": comparisons, "finals": finals,
            "unfinished": unfinished, "seeded": any(len({r.record.get("seed") for r in runs if r.trial == t}) > 1
                                                    for t in {r.trial for r in runs})}


#: The final numbers `markdown` lists, those a workload's runs have.
FINAL_COLUMNS = ("train_loss", "validation_loss", "test_loss", "validation_accuracy", "test_accuracy",
                 "validation_perplexity", "test_perplexity")


def _n(value):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def markdown(content, title):
    """The report as markdown (TensorBoard's Text tab renders it too)."""
    out = [f"# Which optimizer wins: {title}", ""]
    out += ["## Time to target", "",
            "When each run's curve first reaches the target: in optimizer steps; for dataset runs also "
            "in epochs, numbered as TensorBoard's `epoch_*` charts number them (from 0; a curve's value "
            "for an epoch is the mean over its batches, known at its end, so step = (epoch + 1) x steps "
            "per epoch), and in seconds of training.", ""]
    for workload, t in content["timed"].items():
        sign = "≤" if t["mode"] == "min" else "≥"
        dataset = t["kind"] == "dataset"
        out += [f"### {workload}: {t['metric']} {sign} {_n(t['target'])}", "",
                f"Curve: `{CURVE_NAMES[t['kind']][t['metric']]}`. Target: {t['how']}.", "",
                "| run | optimizer | step | " + ("epoch | seconds | " if dataset else "") + "note |",
                "|---|---|---|" + ("---|---|" if dataset else "") + "---|"]
        for r in sorted(t["rows"], key=lambda r: (r["step"] is None, r["step"] or 0)):
            step = "never" if r["step"] is None else str(r["step"])
            timing = f"{'-' if r['epoch'] is None else r['epoch']} | {_n(r['seconds'])} | " if dataset else ""
            out.append(f"| {r['run']} | {r['optimizer']} | {step} | {timing}{r['note']} |")
        out.append("")
    finals = {workload: rows for workload, rows in content.get("finals", {}).items() if rows}
    if finals:
        out += ["## Final numbers", "",
                "Each finished dataset run's final loss (and accuracy, for a model that classifies) on each "
                "split, and for a language model its perplexity, exp(loss per character).", ""]
        for workload, rows in finals.items():
            columns = [c for c in FINAL_COLUMNS if any(c in m for _, m in rows)]
            out += [f"### {workload}", "", "| run | " + " | ".join(c.replace("_", " ") for c in columns) + " |",
                    "|---|" + "---|" * len(columns)]
            out += [f"| {name} | " + " | ".join(_n(m.get(c)) for c in columns) + " |" for name, m in rows]
            out.append("")
    out += ["## Performance profiles", ""]
    if content["profiles"] is None:
        out += [f"They need two or more problems; this report has {len(content['times'])}. "
                "Report a folder of batches (`python -m experiments report logs`).", ""]
    else:
        taus = [1.0, 1.5, 2.0, 3.0, 4.0]
        index = [int(np.argmin(np.abs(analysis.TAUS - tau))) for tau in taus]
        out += ["For each optimizer, the share of the problems it reaches the target on within tau x the "
                "best optimizer's steps (its best trial per problem, the median over seeds; a problem "
                "it did not run or never reached counts as unsolved), as AlgoPerf draws them.", "",
                "| optimizer | " + " | ".join(f"tau={t:g}" for t in taus) + " |",
                "|---|" + "---|" * len(taus)]
        for optimizer, fractions in sorted(content["profiles"].items(), key=lambda kv: -kv[1].sum()):
            out.append(f"| {optimizer} | " + " | ".join(f"{fractions[i]:.2f}" for i in index) + " |")
        out.append("")
    out += ["## Paired comparisons over seeds", ""]
    if not content["comparisons"]:
        out += ["No two trials share two or more seeds: give the runs `seeds = [0, 1, 2, 3, 4]` to compare "
                "them seed by seed (same batches and initial weights per seed).", ""]
    else:
        out += ["Seed by seed (a seed gives every trial the same batches and initial weights): the mean "
                "difference a - b, its 95 % interval (scipy's paired t-test), and the seeds each wins.", "",
                "| problem | a | b | metric | seeds | mean a - b | 95 % interval | wins a : b | verdict |",
                "|---|---|---|---|---|---|---|---|---|"]
        for workload, p in content["comparisons"]:
            interval = "-" if p.interval is None else f"[{_n(p.interval[0])}, {_n(p.interval[1])}]"
            left = f" ({len(p.left_out)} left out: unfinished)" if p.left_out else ""
            out.append(f"| {workload} | {p.a} | {p.b} | {p.metric} | {len(p.seeds)}{left} | {_n(p.mean)} | "
                       f"{interval} | {p.wins[0]} : {p.wins[1]} | {p.verdict()} |")
        out.append("")
    out += ["## Runs that did not finish", ""]
    if content["unfinished"]:
        out += ["| run | status | why |", "|---|---|---|"]
        out += [f"| {r.directory.parent.name}/{r.record['run']} | {r.record.get('status')} | {r.reason()} |"
                for r in content["unfinished"]]
    else:
        out.append("None: every run finished.")
    return "\n".join(out) + "\n"


#: `short` lists a problem's paired comparisons up to this many, and counts them past it (a
#: search of 32 trials makes 496 pairs; the report lists them all).
SHORT_COMPARISONS = 6


def short(content):
    """The report's gist in a few lines, as `run` prints it."""
    lines = []
    for workload, t in content["timed"].items():
        reached = [r for r in t["rows"] if r["step"] is not None]
        if reached and t["target"] is not None:
            first = min(reached, key=lambda r: r["step"])
            epoch = f" (epoch {first['epoch']})" if first.get("epoch") is not None else ""
            lines.append(f"{workload}: first to {t['metric']} {'<=' if t['mode'] == 'min' else '>='} "
                         f"{_n(t['target'])}: {first['run']} at step {first['step']}{epoch}"
                         f" ({len(reached)}/{len(t['rows'])} runs reach it)")
    if content["profiles"] is not None:
        best = max(content["profiles"].items(), key=lambda kv: kv[1].sum())
        lines.append(f"performance profiles over {len(content['times'])} problems: {best[0]} leads "
                     f"(best on {best[1][0]:.0%} of them)")
    by_workload = {}
    for workload, p in content["comparisons"]:
        by_workload.setdefault(workload, []).append(p)
    for workload, pairs in by_workload.items():
        if len(pairs) <= SHORT_COMPARISONS:
            lines += [f"{workload}: {p.a} vs {p.b} on {p.metric}: {p.verdict()}" for p in pairs]
            continue
        clear = sum(p.clear for p in pairs)
        lines.append(f"{workload}: {len(pairs)} pairs of trials compared on {pairs[0].metric} over seeds: {clear} "
                     f"clear difference(s), {len(pairs) - clear} not clear; each pair is in {REPORT}")
    if content["unfinished"]:
        lines.append(f"{len(content['unfinished'])} run(s) did not finish (listed in the report)")
    return "\n".join(lines)


def figures(content):
    """{name: matplotlib Figure}: the profiles (two or more problems) and the times to target."""
    from matplotlib.figure import Figure

    out = {}
    if content["profiles"] is not None:
        fig = Figure(figsize=(7, 4.5))
        ax = fig.subplots()
        colours = optimizer_colours(sorted(content["profiles"]))
        for optimizer, fractions in sorted(content["profiles"].items()):
            ax.step(analysis.TAUS, fractions, where="post", label=optimizer, color=colours[optimizer])
        ax.set_xlabel("tau: within tau x the best steps to target")
        ax.set_ylabel("share of problems solved")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
        ax.set_title(f"performance profiles over {len(content['times'])} problems")
        fig.tight_layout()
        out["performance_profiles"] = fig
    timed = content["timed"]
    if timed:
        fig = Figure(figsize=(8, 2 + 0.3 * sum(len(t["rows"]) for t in timed.values())))
        axes = np.atleast_1d(fig.subplots(len(timed), 1))
        colours = optimizer_colours([r["optimizer"] for t in timed.values() for r in t["rows"]])
        for ax, (workload, t) in zip(axes, timed.items()):
            rows = t["rows"]
            longest = max([r["step"] for r in rows if r["step"] is not None] or [1])
            ax.barh([r["run"] for r in rows], [r["step"] or 0 for r in rows],
                    color=[colours[r["optimizer"]] if r["step"] is not None else "0.8" for r in rows])
            for k, r in enumerate(rows):
                if r["step"] is None:
                    ax.text(0, k, "  never" + (f": {r['note'][:50]}" if r["note"] else ""), va="center", fontsize=7)
                elif r["epoch"] is not None:  # TensorBoard's x for the epoch_* charts
                    ax.text(r["step"], k, f" epoch {r['epoch']}", va="center", fontsize=7)
            ax.set_xlim(0, longest * (1.25 if t["kind"] == "dataset" else 1.05))
            ax.set_title(f"{workload}: {t['metric']} {'<=' if t['mode'] == 'min' else '>='} "
                         f"{_n(t['target'])}", fontsize=9)
            ax.set_xlabel("optimizer steps to the target" + ("\n(labels: the epoch, as TensorBoard's epoch_* "
                                                             "charts number it)" if t["kind"] == "dataset" else ""),
                          fontsize=8)
            ax.tick_params(labelsize=7)
        fig.tight_layout()
        out["time_to_target"] = fig
    return out


def write(directory, targets=None, title=None):
    """Write `report.md` and its figures into `directory`, and the same into TensorBoard; return
    (content, paths written). Raises ValueError when there is no finished run to report."""
    directory = pathlib.Path(directory)
    runs, _ = collect(directory)
    if not runs:
        raise ValueError(f"no runs (result.json files) under {str(directory)!r}")
    content = build(runs, targets)
    text = markdown(content, title or directory.name)
    written = [directory / REPORT]
    files.write(directory / REPORT, text)
    written += publish(directory, "report", text, figures(content))
    return content, written


def publish(directory, name, text, pictures):
    """`pictures` ({name: Figure}) as `<name>.png` files in `directory`, and `text` and the
    pictures into TensorBoard: the directory's own run, tags `name` and `name/<picture>`, in an
    event file of suffix `.name` that replaces the one an earlier call wrote. Returns the PNGs."""
    import tensorflow as tf

    from callbacks.decision_boundary import image_summary, png_bytes

    pngs = {key: png_bytes(fig) for key, fig in pictures.items()}
    written = []
    for key, png in pngs.items():
        files.write(directory / f"{key}.png", png)
        written.append(directory / f"{key}.png")
    old = set(directory.glob(f"{events.EVENTS}*.{name}"))  # removed once the new one is written
    writer = tf.summary.create_file_writer(str(directory), filename_suffix=f".{name}")
    with writer.as_default(step=0):
        tf.summary.text(name, text)
        for key, png in pngs.items():
            image_summary(f"{name}/{key}", png, step=0)
    writer.close()
    if set(directory.glob(f"{events.EVENTS}*.{name}")) - old:
        for path in old:
            files.remove_inside(path, directory)
    return written
