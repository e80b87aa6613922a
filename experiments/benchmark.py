"""`python -m experiments benchmark OPTIMIZER`: how good is an optimizer, against tuned baselines,
under a stated tuning budget (the protocol: `experiments.spec.tiers`).

    python -m experiments benchmark my_opts:Fromage --space fromage.toml --tier smoke --logdir logs
    python -m experiments benchmark lion                       # a built-in, with its default space
    python -m experiments benchmark --baselines --tier smoke   # (re)build the stored baselines

The optimizer's runs go into `<logdir>/benchmark_<tier>_<name>/` (a batch directory: resumable,
in TensorBoard), its verdict beside them (`report.benchmark`). The baselines (SGD, Momentum and
Adam with their default spaces, `spec/spaces.toml`) are not run again: their summaries are
stored per protocol in `experiments/baselines/` (shipped) or `<logdir>/baselines/` (built
here), each run with its fingerprint, and reused while the protocol and every fingerprint
match; otherwise they are run into `<logdir>/benchmark_<tier>_baselines/`, the reason said,
and stored in `<logdir>/baselines/` for next time.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import pathlib
import time

from experiments.spec import plugins, spaces, tiers
from experiments.spec.validation import ConfigError
from experiments.store import fingerprints

SHIPPED = pathlib.Path(__file__).with_name("baselines")  # experiments/baselines
#: Timed steps per optimizer and round for the cost table (after warm-up steps).
COST_STEPS = 20


def store_name(protocol):
    return f"{protocol.tier.name}_{protocol.trials}x{protocol.studies}_seed{protocol.seed}.json"


@dataclasses.dataclass
class Stored:
    summaries: list | None  # None: none match
    reason: str  # why they are reused, or why not


def fingerprints_of(batch, prepared=None):
    """{run name: fingerprint} of `batch`'s runs, as the engine would compute them (nothing trains;
    `prepared`: `planning.prepare(batch)`'s result, made here if not given)."""
    from experiments.plan import planning

    prepared = planning.prepare(batch) if prepared is None else prepared
    return {run.name: fingerprints.run_fingerprint(fingerprints.resolved_config(run, kind, data, batch))
            for run, kind, data in prepared}


def find_stored(protocol, batch, store, prepared=None):
    """The stored baselines matching `protocol` and `batch`'s fingerprints, else why none do:
    looked for in `store`, then in the suite's `SHIPPED`."""
    candidates = list(dict.fromkeys([pathlib.Path(store) / store_name(protocol), SHIPPED / store_name(protocol)]))
    present = [path for path in candidates if path.is_file()]
    if not present:
        shipped = sorted(p.name for p in SHIPPED.glob(f"{protocol.tier.name}_*.json"))
        return Stored(None, f"no baselines are stored for tier {protocol.tier.name!r} with "
                      f"{protocol.trials} trials x {protocol.studies} studies, seed {protocol.seed} "
                      f"(stored: {', '.join(shipped) or 'none'})")
    wanted = fingerprints_of(batch, prepared)
    reasons = []
    for path in present:
        try:
            stored = json.loads(path.read_text())
            runs = stored["runs"]
            have = {s["run"]: s["fingerprint"] for s in runs}
        except (OSError, ValueError, KeyError, TypeError) as error:
            reasons.append(f"{path} is unreadable ({error})")
            continue
        if json.loads(json.dumps(protocol.describe())) != stored.get("protocol"):
            reasons.append(f"{path} is for another protocol")
            continue
        differ = sorted(name for name in wanted if have.get(name) != wanted[name])
        if differ:
            reasons.append(f"{path}: {len(differ)} of {len(wanted)} runs differ from what this suite would run now "
                           f"(a problem, model or baseline changed since they were stored), e.g. {differ[0]}")
            continue
        versions, now = stored.get("versions", {}), fingerprints.versions()
        note = "" if versions == now else (f"; stored with {versions}, this is {now}: the same runs, "
                                           "float rounding may differ")
        return Stored(runs, f"reusing the stored baselines in {path} ({len(runs)} runs, "
                      f"built {stored.get('built', '?')} on {stored.get('machine', '?')}){note}")
    return Stored(None, "; ".join(reasons))


def _machine():
    """The CPU's model name (Linux), else the architecture: where stored baselines were measured."""
    import os
    import platform

    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        return f"{names[0]}, {os.cpu_count()} cores"
    except (OSError, IndexError):
        return f"{platform.machine()} {platform.processor()}".strip()


def save_baselines(protocol, summaries, path):
    from experiments.store import files

    path.parent.mkdir(parents=True, exist_ok=True)
    files.write(path, json.dumps({
        "protocol": protocol.describe(), "versions": fingerprints.versions(), "machine": _machine(),
        "built": datetime.date.today().isoformat(),
        "baselines": [dict(spec) for spec in tiers.BASELINES], "runs": summaries}, indent=1, default=float))


def measure_costs(protocol, specs):
    """{problem: {label: {seconds, ratio, bytes_per_parameter}}}: each optimizer's seconds per
    training step of the problem's model alone (best of 3 rounds of `COST_STEPS`, one optimizer
    after another in this process), their ratio to SGD's, and the optimizer's state."""
    import keras
    import numpy as np

    from experiments.engine import protocol as engine_protocol
    from experiments.plan.optimizers import make_optimizer
    from experiments.spec.config import Run
    from experiments.workloads import models, problems

    out = {}
    for problem in protocol.tier.problems:
        data = problems.load(Run.from_dict({**problem.run, "optimizer": {"name": "sgd"}}).problem)
        timings = {}
        for spec in list({tiers.label(s): s for s in [{"name": "sgd"}, *specs]}.values()):
            run = Run.from_dict({**problem.run, "optimizer": dict(spec)})
            keras.backend.clear_session(free_memory=False)  # no full collection per optimizer: one, below
            keras.utils.set_random_seed(0)
            model = engine_protocol.build_model(run, data)
            optimizer = make_optimizer(run)
            model.compile(optimizer=optimizer, loss=models.loss_for(model), metrics=models.metrics_for(model))
            size = min(run.batch_size, len(data.x_train))
            x, y = data.x_train[:size], data.y_train[:size]
            for _ in range(3):
                model.train_on_batch(x, y)
            best = math.inf
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(COST_STEPS):
                    model.train_on_batch(x, y)
                best = min(best, (time.perf_counter() - start) / COST_STEPS)
            state = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in optimizer.variables
                        if len(v.shape) > 0)
            timings[tiers.label(spec)] = (best, state / max(1, model.count_params()))
        sgd = timings["sgd"][0]
        out[problem.name] = {label: {"seconds": seconds, "ratio": seconds / sgd, "bytes_per_parameter": per}
                             for label, (seconds, per) in timings.items()}
    keras.backend.clear_session()
    return out


def _space_for(spec, space_file):
    if space_file:
        return spaces.load(space_file)
    if plugins.is_path(spec["name"]):
        raise ConfigError(f"optimizer {spec['name']!r} is yours: give its search space with --space FILE, a TOML "
                          "file of lines such as \"optimizer.learning_rate\" = {log_uniform = [1e-4, 1e-1]}")
    return spaces.default(spec["name"].lower())


def _store(protocol, summaries, result, store, say):
    """Store the baselines unless a run failed (an error, not a divergence: running the same
    command again retries it, and a failure must not be reused as a result)."""
    if result.failed:
        say(f"the baselines are not stored: {len(result.failed)} run(s) failed (see their error.txt); running "
            "the same command again retries them")
        return False
    save_baselines(protocol, summaries, store / store_name(protocol))
    return True


def _minutes(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def benchmark(optimizer, logdir, tier="smoke", trials=None, studies=None, seed=0, space_file=None,
              baselines=False, store=None, quiet=False, say=print):
    """The `benchmark` command: returns the exit status. Everything is checked before anything trains."""
    from experiments import runner
    from experiments.plan import planning
    from experiments.report import benchmark as verdict, overview
    from experiments.report import verdict as report

    protocol = tiers.Protocol.of(tier, trials, studies, seed)
    base_specs = [(dict(s), spaces.default(s["name"])) for s in tiers.BASELINES]
    base_batch = tiers.benchmark_batch(protocol, base_specs, f"benchmark_{protocol.tier.name}_baselines")
    base_labels = [tiers.label(s) for s, _ in base_specs]
    store = pathlib.Path(store) if store else pathlib.Path(logdir) / "baselines"
    if baselines:
        ready = planning.prepare(base_batch)
        total = len(base_batch.runs)
        say(f"budget: the baselines ({', '.join(base_labels)}) on tier {protocol.tier.name}: {total} runs "
            f"({len(protocol.tier.problems)} problems x {protocol.studies} studies x {protocol.trials} trials each), "
            f"about {_minutes(protocol.estimate_seconds(len(base_specs)))} on 2 cores")
        result = runner.run_batch(base_batch, logdir, progress=not quiet, report=say, prepared=ready)
        if _store(protocol, verdict.summarize(protocol, result.results, base_labels), result, store, say):
            say(f"stored the baselines' {len(result.results)} runs in {store / store_name(protocol)}")
        return 1 if result.failed else 0
    if not optimizer:
        raise ConfigError("`benchmark` needs an OPTIMIZER (a built-in name, or module:Name), or --baselines")
    spec = {"name": optimizer}
    space = _space_for(spec, space_file)
    mine = tiers.label(spec) + (" (yours)" if tiers.label(spec) in base_labels else "")
    batch = tiers.benchmark_batch(protocol, [(spec, space)], f"benchmark_{protocol.tier.name}_"
                                  f"{tiers.label(spec)}")
    loaded = {}  # each problem loaded once
    prepared = planning.prepare(batch, loaded=loaded)  # the optimizer, space and problems checked first
    base_prepared = planning.prepare(base_batch, loaded=loaded)
    stored = find_stored(protocol, base_batch, store, base_prepared)
    runs = len(batch.runs)
    base_runs = 0 if stored.summaries is not None else len(base_batch.runs)
    say(f"budget: {mine} on tier {protocol.tier.name}: {runs} runs ({len(protocol.tier.problems)} problems x "
        f"{protocol.studies} studies x {protocol.trials} trials), space: {space.describe()}"
        + (f" ({space.source})" if space.source else ""))
    say(f"baselines ({', '.join(base_labels)}): " + (stored.reason if base_runs == 0 else
        f"{base_runs} runs to run: {stored.reason}"))
    for reason in sorted({getattr(data, "fallback_reason", None) for _, _, data in prepared} - {None}):
        say(f"data: {reason}")
    say(f"estimated time: about {_minutes(protocol.estimate_seconds(1 + (base_runs > 0) * len(base_specs)))} "
        "on 2 cores")
    if stored.summaries is not None:
        base = stored.summaries
    else:
        result = runner.run_batch(base_batch, logdir, progress=not quiet, report=say, prepared=base_prepared)
        base = verdict.summarize(protocol, result.results, base_labels)
        if _store(protocol, base, result, store, say):
            say(f"stored the baselines in {store / store_name(protocol)}: the next benchmark reuses them")
    result = runner.run_batch(batch, logdir, progress=not quiet, report=say, prepared=prepared)
    print(overview.summary_table(result))
    costs = measure_costs(protocol, [spec] + [s for s, _ in base_specs])
    costs = {problem: {**per, mine: per[tiers.label(spec)]} for problem, per in costs.items()}
    content = verdict.build(protocol, base + verdict.summarize(protocol, result.results, [mine]), mine, costs)
    try:
        report.write(result.directory, title=batch.name)
    except ValueError:  # no finished run: the verdict says so
        pass
    written = verdict.write(result.directory, content)
    print(f"\n== verdict: {mine} on tier {protocol.tier.name}")
    for name, entry in content["problems"].items():
        print(f"  {name}: {entry['sentence']}")
    print("  score (AlgoPerf's profiles, tau <= 4): " + ", ".join(
        f"{o} {v:.2f}" for o, v in sorted(content["scores"].items(), key=lambda kv: -kv[1])))
    for path in written:
        print(f"wrote {path}")
    print(f"look at it with:  tensorboard --logdir {result.directory}")
    return 1 if result.failed else 0
