"""The benchmark's verdict (`python -m experiments benchmark`): per problem, each optimizer's
result under the protocol (`experiments.spec.tiers`), its tunability, its learning-rate
sensitivity and its cost; across problems, AlgoPerf's score; and one sentence per problem.
Written as `verdict.md` (and at the top of the directory's `report.md`), PNGs, `verdict.json`
and into TensorBoard (Text and Images, the directory's own run). The numbers are `tuning`'s.
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np

from experiments.report import analysis, tuning
from experiments.report.figures import optimizer_colours
from experiments.report.verdict import RunInfo, curve, publish
from experiments.spec import tiers
from experiments.store import files

VERDICT = "verdict.md"
#: Expected best after this many trials, in the table (as many as were run, at most).
TRIALS_SHOWN = (1, 2, 4, 8, 16)


def summarize(protocol, results, labels):
    """A summary (see `tuning`) of each finished or failed run of a `benchmark_batch`;
    `labels[i]` names its i-th optimizer."""
    out = []
    for result in results:
        position, problem, study = tiers.locate(protocol, result.run)
        record = result.record()
        try:
            config = json.loads((result.directory / "config.json").read_text())
        except (OSError, ValueError):
            config = {}
        points = curve(RunInfo(record, result.directory, problem.name, labels[position],
                               config.get("steps_per_epoch"), {}), tiers.METRIC)
        rate = ((config.get("optimizer") or {}).get("config") or {}).get("learning_rate")
        rate = (result.run.trial or {}).get("optimizer.learning_rate", rate)
        out.append({"optimizer": labels[position], "problem": problem.name, "study": study,
                    "run": result.run.name, "trial": result.run.trial, "status": result.status,
                    "learning_rate": rate if isinstance(rate, (int, float)) else None,
                    "metrics": {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))},
                    "curve": {"steps": points.steps.tolist(), "values": points.values.tolist(),
                              "seconds": points.seconds.tolist()},
                    "seconds": result.seconds, "fingerprint": result.fingerprint})
    return out


def build(protocol, summaries, mine, costs=None):
    """The verdict's content for optimizer `mine` (a label) against the others in `summaries`."""
    metric = tiers.METRIC
    content = {"protocol": protocol.describe(), "mine": mine, "problems": {}, "costs": costs or {}}
    times = {}
    for problem in protocol.tier.problems:
        rows = [s for s in summaries if s["problem"] == problem.name]
        optimizers = list(dict.fromkeys(s["optimizer"] for s in rows))
        worst = max([tuning.final(s, metric) for s in rows if math.isfinite(tuning.final(s, metric))], default=0.0)
        target = tuning.target([tuning.outcome([s for s in rows if s["optimizer"] == o], metric, None)
                                for o in optimizers if o != mine], metric)
        outcomes = {o: tuning.outcome([s for s in rows if s["optimizer"] == o], metric, target) for o in optimizers}
        per_step = content["costs"].get(problem.name, {})
        for o, out in outcomes.items():  # a group's clock is shared by its members: time each alone
            out.seconds = out.steps * per_step[o]["seconds"] if o in per_step else math.nan
        tunability = {o: tuning.expected_best([tuning.final(s, metric) for s in rows if s["optimizer"] == o], worst)
                      for o in optimizers}
        times[problem.name] = {o: out.steps for o, out in outcomes.items()}
        baselines = {o: out for o, out in outcomes.items() if o != mine}
        content["problems"][problem.name] = {
            "about": problem.about, "target": target, "outcomes": outcomes, "tunability": tunability,
            "sentence": tuning.sentence(mine, outcomes[mine], baselines, metric, protocol.studies)
            if mine in outcomes else "", "trials": rows}
    profiles = analysis.performance_profiles(times)
    content["profiles"] = profiles
    content["scores"] = {o: tuning.score(f) for o, f in profiles.items()}
    return content


def _n(value, infinite="-"):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return infinite if value == math.inf else "-"
    return f"{value:.4g}"


def markdown(content):
    p = content["protocol"]
    mine = content["mine"]
    out = [f"# How good is {mine}? Benchmark tier `{p['tier']}`", "",
           f"Protocol: on each problem, {p['studies']} studies of {p['trials']} random trials from each optimizer's "
           f"search space; study k trains every trial with seed k (the same initial weights and batches for every "
           f"optimizer); a study's result is its best trial by final {p['metric'].replace('_', ' ')}, and an "
           "optimizer's result the median over studies (`experiments/spec/tiers.py`).", "",
           "## Verdict", ""]
    out += [f"- **{name}**: {entry['sentence']}" for name, entry in content["problems"].items()]
    out += ["", "## Score across problems", "",
            "AlgoPerf's performance profiles (the share of problems an optimizer reaches the target on within "
            "tau x the best median steps) integrated over tau from 1 to 4 and divided by 3: 1 is first on every "
            "problem, 0 never reaching a target.", "", "| optimizer | score | best on |", "|---|---|---|"]
    for optimizer, value in sorted(content["scores"].items(), key=lambda kv: -kv[1]):
        out.append(f"| {optimizer} | {value:.3f} | {content['profiles'][optimizer][0]:.0%} |")
    out.append("")
    for name, entry in content["problems"].items():
        shown = [n for n in TRIALS_SHOWN if n <= max(len(v) for v in entry["tunability"].values())]
        out += [f"## {name}", "", entry["about"], "",
                f"Target: {p['metric'].replace('_', ' ')} <= {_n(entry['target'])}. Medians over studies of each "
                "study's best trial. Seconds to target: its steps times the optimizer's seconds per step measured "
                "alone (see Cost), since the runs of a group share one clock.", "",
                "| optimizer | validation loss | test loss | test accuracy | steps to target | seconds to target | "
                + " | ".join(f"E[best of {n}]" for n in shown) + " |",
                "|---|---|---|---|---|---|" + "---|" * len(shown)]
        for optimizer, o in entry["outcomes"].items():
            expected = entry["tunability"][optimizer]
            out.append(f"| {optimizer} | {_n(o.numbers.get('validation_loss'))} | {_n(o.numbers.get('test_loss'))} | "
                       f"{_n(o.numbers.get('test_accuracy'))} | {_n(o.steps, 'never')} | {_n(o.seconds, 'never')} | "
                       + " | ".join(_n(expected[n - 1]) for n in shown) + " |")
        out.append("")
    if content["costs"]:
        out += ["## Cost", "", "Seconds per training step (the model alone, `train_on_batch`, best of 3 rounds, one "
                "optimizer after another in this process), against SGD's on the same problem, and the optimizer's "
                "state in bytes per model parameter.", "",
                "| problem | optimizer | ms per step | step time / SGD's | state bytes per parameter |",
                "|---|---|---|---|---|"]
        for name, per in content["costs"].items():
            out += [f"| {name} | {o} | {1000 * c['seconds']:.3g} | {c['ratio']:.2f} | {c['bytes_per_parameter']:.1f} |"
                    for o, c in per.items()]
        out.append("")
    return "\n".join(out) + "\n"


def figures(content):
    """{name: Figure}: learning-rate sensitivity (DeepOBS's), tunability, and the profiles."""
    from matplotlib.figure import Figure

    problems = content["problems"]
    colours = optimizer_colours(sorted(content["scores"]))
    out = {}
    fig = Figure(figsize=(4.2 * len(problems), 3.6))
    for ax, (name, entry) in zip(np.atleast_1d(fig.subplots(1, len(problems))), problems.items()):
        finite = [tuning.final(s, tiers.METRIC) for s in entry["trials"]]
        top = max([v for v in finite if math.isfinite(v)], default=1.0)
        for optimizer in entry["outcomes"]:
            trials = [s for s in entry["trials"] if s["optimizer"] == optimizer and s["learning_rate"]]
            ok = [s for s in trials if math.isfinite(tuning.final(s, tiers.METRIC))]
            ax.scatter([s["learning_rate"] for s in ok], [tuning.final(s, tiers.METRIC) for s in ok],
                       color=colours[optimizer], label=optimizer, s=18)
            failed = [s["learning_rate"] for s in trials if s not in ok]
            ax.scatter(failed, [top] * len(failed), color=colours[optimizer], marker="x", s=24)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (x: did not finish)")
        ax.set_ylabel(f"final {tiers.METRIC.replace('_', ' ')}")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out["lr_sensitivity"] = fig
    fig = Figure(figsize=(4.2 * len(problems), 3.4))
    for ax, (name, entry) in zip(np.atleast_1d(fig.subplots(1, len(problems))), problems.items()):
        for optimizer, expected in entry["tunability"].items():
            ax.plot(range(1, len(expected) + 1), expected, marker=".", color=colours[optimizer], label=optimizer)
        ax.set_xlabel("trials")
        ax.set_ylabel(f"expected best {tiers.METRIC.replace('_', ' ')}")
        ax.set_title(f"{name}: tunability", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out["tunability"] = fig
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for optimizer, fractions in sorted(content["profiles"].items()):
        ax.step(analysis.TAUS, fractions, where="post", color=colours[optimizer],
                label=f"{optimizer} (score {content['scores'][optimizer]:.2f})")
    ax.set_xlabel("tau: within tau x the best median steps to target")
    ax.set_ylabel("share of problems")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out["benchmark_profiles"] = fig
    return out


def to_json(content):
    def plain(o):
        return {"numbers": o.numbers, "steps": o.steps, "seconds": o.seconds,
                "per_study": {str(k): list(v) for k, v in o.per_study.items()}}

    return {"protocol": content["protocol"], "mine": content["mine"], "scores": content["scores"],
            "costs": content["costs"],
            "problems": {name: {"target": e["target"], "sentence": e["sentence"], "tunability": e["tunability"],
                                "outcomes": {k: plain(v) for k, v in e["outcomes"].items()}}
                         for name, e in content["problems"].items()}}


def write(directory, content):
    """verdict.md, verdict.json and the PNGs into `directory`, the verdict prepended to its
    report.md, and the same into TensorBoard (tags `benchmark`, `benchmark/<figure>`); returns
    the paths written."""
    directory = pathlib.Path(directory)
    text = markdown(content)
    files.write(directory / VERDICT, text)
    files.write(directory / "verdict.json", json.dumps(to_json(content), indent=2, default=float))
    report = directory / "report.md"
    if report.exists():
        files.write(report, text + "\n" + report.read_text())
    return [directory / VERDICT, directory / "verdict.json"] + publish(directory, "benchmark", text, figures(content))
