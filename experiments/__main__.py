"""Command line.

    python -m experiments list
    python -m experiments run <name|file.toml> [more ...] [--set key=value ...] [--logdir DIR]
                              [--workers N | --address ray://HOST:PORT|auto] [--quiet] [--verbose]
    python -m experiments best <logdir> [--metric NAME] [--mode min|max] [--top N]
    python -m experiments verify <logdir>
    python -m experiments benchmark OPTIMIZER [--space FILE] [--tier smoke|small] [--trials N]
                                    [--studies K] [--logdir DIR]     (or --baselines)

Bad input (an unknown batch, field or name, an out-of-range value, an
unwritable --logdir) prints one line naming the field and the value received
and exits with status 2 before anything trains. A run that fails while
training is reported in the summary; the others still run, and the exit
status is 1. A run that diverges stops there and is reported as diverged
(exit status 0: it is a result). Running the same command again goes on
where a batch stopped; Ctrl-C (exit status 130) or SIGTERM (143) stops it
cleanly, saving the running run first.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys

from experiments.engine import signals, startup

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _list(args):
    from experiments.spec.config import builtin_batches, load_batch

    rows = []
    for name, path in builtin_batches().items():
        batch = load_batch(path)
        count = len(batch.runs)
        if batch.search:  # later rounds sample as many trials again
            count += (batch.search.rounds - 1) * sum(run.trial is not None for run in batch.runs)
        rows.append((name, str(count), batch.runtime, batch.reproduces))
    widths = [max(len(r[i]) for r in rows + [("batch", "runs", "runtime", "")]) for i in range(3)]
    print(f"{'batch':{widths[0]}s}  {'runs':>{widths[1]}s}  {'runtime':{widths[2]}s}  reproduces")
    for name, runs, runtime, reproduces in rows:
        print(f"{name:{widths[0]}s}  {runs:>{widths[1]}s}  {runtime:{widths[2]}s}  {reproduces}")
    print(f"\nthe sources each names first: {SOURCES}")
    print("run one with:  python -m experiments run <batch> [--set key=value ...]")
    return 0


#: Where the built-in batches' sources are cited (their headers name them first).
SOURCES = "docs/sources.md in the suite's repository"


def _builtin(batch):
    from experiments.spec.config import BATCH_DIR

    return os.path.dirname(os.path.abspath(batch.source)) == os.path.abspath(BATCH_DIR)


def _fallbacks(prepared):
    """A line for each problem that could not be loaded and whose runs use its `fallback`."""
    reasons = {getattr(data, "fallback_reason", None) for _, _, data in prepared}
    return [f"data: {reason}" for reason in sorted(reasons - {None})]


def _run(args):
    from experiments.engine import parallel

    parallel.check(args.workers, args.address)  # before TensorFlow is even imported
    if not args.checkpoint_seconds >= 0:  # NaN too
        from experiments.spec.validation import ConfigError

        raise ConfigError("`--checkpoint-seconds` must be a number >= 0. "
                          f"Received: --checkpoint-seconds={args.checkpoint_seconds}")
    from experiments.spec import config

    batches = [config.load_batch(b, overrides=args.set or ()) for b in args.batch]
    _check_logdir(args.logdir)
    startup.quiet_tensorflow()
    from experiments import runner
    from experiments.plan import planning
    from experiments.report import overview, ranking
    from experiments.store import files

    # "N out of the last M calls triggered tf.function retracing": each run compiles its own functions
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    prepared = [planning.prepare(batch) for batch in batches]  # check all before anything trains
    status = 0
    for batch, ready in zip(batches, prepared):
        if not args.quiet:
            print(f"\n== {batch.name}: {batch.reproduces}")
            if batch.overrides:  # the header describes the batch as written
                print(f"   with {' '.join('--set ' + shlex.quote(o) for o in batch.overrides)}: "
                      f"{batch.describe_runs()}")
            if _builtin(batch):
                print(f"   source: {SOURCES}")
            if batch.runtime and not batch.changed_fields():
                print(f"   expected runtime: {batch.runtime}")
            for line in _fallbacks(ready):
                print(f"   {line}")
        try:
            result = runner.run_batch(batch, args.logdir, progress=not args.quiet,
                                      keras_verbose=args.verbose, prepared=ready,
                                      workers=args.workers, address=args.address,
                                      fresh=args.fresh, report=_say,
                                      checkpoint_seconds=args.checkpoint_seconds)
        except (runner.Interrupted, KeyboardInterrupt) as stop:
            where = f"\n{stop}" if isinstance(stop, runner.Interrupted) else ""
            _say(f"{where}\nTo go on where it stopped, run the same command again:\n"
                 f"  python -m experiments {' '.join(shlex.quote(a) for a in args.argv)}")
            return signals.exit_status(getattr(stop, "signal", signal.SIGINT))
        except files.WriteError as error:
            _say(f"python -m experiments: error: {error}. What finished is kept; free some space (or fix the "
                 "cause), then run the same command again to go on.")
            return 1
        print(f"\n{batch.name}: {len(result.results)} runs in {result.directory}\n")
        print(overview.summary_table(result))
        if batch.search or result.aggregates:
            print(ranking.format_ranking(result.ranking(), top=10))
            print(f"all trials:  python -m experiments best {result.directory}\n")
        if batch.expected and not batch.changed_fields():
            print(f"expected: {batch.expected}")
        elif batch.expected:
            print(f"(not compared with the batch's expected result, which is for the batch as written: "
                  f"--set changed {', '.join(batch.changed_fields())})")
        for path in result.figures:
            print(f"figure: {path}")
        _report_batch(result, batch)
        print(f"look at it with:  tensorboard --logdir {result.directory}")
        _say_where_the_bands_are(result)
        if result.diverged:
            print(f"{len(result.diverged)} run(s) diverged and stopped early: "
                  + ", ".join(r.run.name for r in result.diverged))
        if result.failed:
            print(f"{len(result.failed)} of {len(result.results)} run(s) FAILED (the traceback is in "
                  "each one's error.txt; running the same command again retries them):")
            for r in result.failed:
                print(f"  {r.run.name}: {r.error}")
            status = 1
    return status


def _say_where_the_bands_are(result):
    """For a batch with mean runs: the address that opens their bands; and, past the runs
    TensorBoard selects at first, that its other tabs start empty."""
    from experiments.report import dashboard

    if not result.aggregates:
        return
    print(f"  mean ± std over seeds:  {dashboard.bands_link()}")
    runs = dashboard.count_runs(result.directory)
    if runs > dashboard.SELECTED_AT_FIRST:
        print(f"  ({runs} TensorBoard runs: past {dashboard.SELECTED_AT_FIRST}, its Scalars, Custom Scalars, "
              "Images and Text tabs select none at first; the address above selects the means, Time Series "
              "selects all)")


def _report_batch(result, batch):
    """Write the batch's report (`experiments.report.verdict`) and print its short form."""
    from experiments.report import verdict
    from experiments.store import files

    try:
        content, _ = verdict.write(result.directory, title=batch.name)
    except ValueError:  # no finished run
        return
    except (OSError, files.WriteError) as error:
        _say(f"the report was not written: {error}")
        return
    gist = verdict.short(content)
    if gist:
        print("\n".join(f"  {line}" for line in gist.splitlines()))
    print(f"report: {result.directory / verdict.REPORT}")


def _report(args):
    startup.quiet_tensorflow()
    from experiments.report import verdict
    from experiments.spec import metrics
    from experiments.spec.validation import ConfigError

    targets = {}
    for item in args.target or ():
        metric, _, value = item.partition("=")
        try:
            targets[metric] = float(value)
        except ValueError:
            raise ConfigError(f"`--target` must be METRIC=NUMBER. Received: --target={item!r}") from None
    targets = metrics.check_targets(targets, "--target")
    if not os.path.isdir(args.logdir):
        raise ConfigError(f"no such directory: {args.logdir!r}")
    try:
        content, written = verdict.write(args.logdir, targets)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    print(verdict.short(content))
    for path in written:
        print(f"wrote {path}")
    print(f"in TensorBoard (Text and Images):  tensorboard --logdir {args.logdir}")
    return 0


def _say(text):
    print(text, file=sys.stderr, flush=True)


def _check_logdir(logdir, field="--logdir"):
    from experiments.spec.validation import ConfigError

    if not logdir:  # os.path reads '' as the working directory
        raise ConfigError(f"`{field}` must name a directory; an empty one would put the batch in the "
                          f"working directory. Received: {field}=''")
    path = os.path.abspath(logdir)
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ConfigError(f"`{field}` must be a directory, and {existing!r} is a file. "
                          f"Received: {field}={logdir!r}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"`{field}` is not writable: this user may not write in {existing!r}. "
                          f"Received: {field}={logdir!r}")


def _rank_best(args):
    from experiments.report import ranking
    from experiments.spec.validation import ConfigError

    batches, damaged = ranking.load_records(args.logdir)
    for path, damage in damaged:
        _say(f"left out {str(path)!r}: {damage} (run its batch again to redo the run)")
    if not batches:
        raise ConfigError(f"no runs (result.json files) under {args.logdir!r}")
    if args.top is not None and args.top < 1:
        raise ConfigError(f"`--top` must be an integer >= 1. Received: --top={args.top}")
    for directory, records in batches.items():
        if args.metric and args.metric not in _metric_names(records):
            raise ConfigError(f"no run in {str(directory)!r} has the metric {args.metric!r}. "
                              f"Its runs have: {', '.join(_metric_names(records))}")
    for directory, records in batches.items():
        metric, mode = ranking.search_metric(directory)
        if args.metric:  # the user's metric, with its own default mode
            metric, mode = args.metric, None
        rows = ranking.rank_groups(records, metric, args.mode or mode)
        print(f"== {directory}")
        print(ranking.format_ranking(rows, args.top))
        best = rows[0]
        if best.get("trial"):
            print("best trial's values: " + ", ".join(f"{k} = {v}" for k, v in best["trial"].items()) + "\n")
    return 0


def _verify(args):
    from experiments.spec.validation import ConfigError
    from experiments.store import records

    checked = damaged = 0
    for run, state, damage in records.verify(args.logdir):
        checked += 1
        damaged += damage is not None
        print(f"{'DAMAGED' if damage else 'ok':7s}  {run}  {state}" + (f": {damage}" if damage else ""))
    if not checked:
        raise ConfigError(f"no runs (config.json files) under {args.logdir!r}")
    print(f"\n{checked} run(s) checked, {damaged} damaged"
          + ("; run each one's batch again: a damaged run is redone, the others are kept" if damaged else ""))
    return 1 if damaged else 0


def _benchmark(args):
    _check_logdir(args.logdir)
    if args.store is not None:
        _check_logdir(args.store, "--store")
    startup.quiet_tensorflow()
    from experiments import runner
    from experiments.benchmark import benchmark

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        return benchmark(args.optimizer, args.logdir, args.tier, args.trials, args.studies, args.seed,
                         args.space, args.baselines, args.store, args.quiet, say=_say)
    except (runner.Interrupted, KeyboardInterrupt) as stop:
        where = f"\n{stop}" if isinstance(stop, runner.Interrupted) else ""
        _say(f"{where}\nTo go on where it stopped, run the same command again:\n"
             f"  python -m experiments {' '.join(shlex.quote(a) for a in args.argv)}")
        return signals.exit_status(getattr(stop, "signal", signal.SIGINT))


def _metric_names(records):
    names = set()
    for record in records:
        names |= set(record.get("metrics") or {})
        names |= {f"best/{name}" for name in record.get("best") or {}}
    return sorted(names)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments",
                                     description="Run optimizer comparisons into TensorBoard logs.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="show the built-in batches")
    run = commands.add_parser("run", help="run one or more batches")
    run.add_argument("batch", nargs="+", help="a built-in batch name or a .toml file")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a field of every run, e.g. epochs=100 or optimizer.learning_rate=0.01")
    run.add_argument("--logdir", default="logs", help="where the batch directories go (default: logs)")
    run.add_argument("--workers", type=int, metavar="N",
                     help="run N runs at once on a local Ray instance (pip install -e '.[ray]')")
    run.add_argument("--address", metavar="ADDRESS",
                     help="run on an existing Ray cluster: auto, or ray://HOST:PORT")
    run.add_argument("--fresh", action="store_true",
                     help="start the batch over in a new directory, even if it ran (or stopped) before")
    run.add_argument("--checkpoint-seconds", type=float, default=5.0, metavar="S",
                     help="save a running run at most once per S seconds, at an epoch end "
                          "(default 5; 0: at least at every epoch it logs); a killed batch loses at most that much")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--verbose", action="store_true",
                     help="also print a line per logged epoch of each run: loss, accuracy, validation")
    best = commands.add_parser("best", help="rank the trials of finished batches, mean +- std over seeds")
    best.add_argument("logdir", help="a batch directory, or a folder of them")
    best.add_argument("--metric", help="a final metric (validation_loss) or best/<metric>; "
                                       "default: the batch's search metric, else the validation loss")
    best.add_argument("--mode", choices=("min", "max"), help="default: max for accuracies, else min")
    best.add_argument("--top", type=int, metavar="N", help="show the N best trials of each kind")
    report = commands.add_parser("report", help="which optimizer wins: time to target, performance profiles, "
                                                "paired comparisons over seeds (report.md, figures, TensorBoard)")
    report.add_argument("logdir", help="a batch directory, or a folder of them (each problem counts once)")
    report.add_argument("--target", action="append", metavar="METRIC=VALUE",
                        help="the value to time to, e.g. train_loss=0.01, validation_accuracy=0.95, loss=0.001 "
                             "(2-D); default: the worst final value among the finished runs")
    verify = commands.add_parser("verify", help="check that every run's files are whole and unchanged")
    verify.add_argument("logdir", help="a batch directory, or a folder of them")
    bench = commands.add_parser("benchmark", help="how good is OPTIMIZER: tuned under a stated budget on a tier's "
                                                  "problems, against stored tuned baselines, with a verdict")
    bench.add_argument("optimizer", nargs="?", help="a built-in name (sgd, lion, ...) or module.path:Name")
    bench.add_argument("--space", metavar="FILE", help="its search space, a TOML file of \"optimizer.x\" = "
                                                       "{log_uniform = [a, b]} lines (default: the built-in's)")
    bench.add_argument("--tier", default="smoke", help="smoke (a few minutes) or small (DeepOBS's small set)")
    bench.add_argument("--trials", type=int, metavar="N", help="trials per study (default: the tier's)")
    bench.add_argument("--studies", type=int, metavar="K", help="studies per problem (default: the tier's)")
    bench.add_argument("--seed", type=int, default=0, help="the search's sampling seed (default 0)")
    bench.add_argument("--baselines", action="store_true", help="run the baselines and store them")
    bench.add_argument("--store", metavar="DIR", help="where --baselines stores them, and where they are looked "
                                                     "for first (default: LOGDIR/baselines)")
    bench.add_argument("--logdir", default="logs", help="where the runs go (default: logs)")
    bench.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)

    from experiments.spec.validation import ConfigError

    try:
        with signals.on_start_up():
            return {"list": _list, "run": _run, "best": _rank_best, "verify": _verify,
                    "report": _report, "benchmark": _benchmark}[args.command](args)
    except ConfigError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    except signals.Stop as stop:  # before any batch started: nothing to save
        _say(f"{parser.prog}: stopped by {stop} before anything ran; nothing was written")
        return signals.exit_status(stop.signal)


if __name__ == "__main__":
    sys.exit(main())
