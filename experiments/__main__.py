"""Command line.

    python -m experiments list
    python -m experiments run <name|file.toml> [more ...] [--set key=value ...] [--logdir DIR]
                              [--quiet] [--verbose]

Bad input (an unknown batch, field or name, an out-of-range value, an
unwritable --logdir) prints one line naming the field and the value received
and exits with status 2 before anything trains. A run that fails while
training is reported in the summary; the others still run, and the exit
status is 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _list(args):
    from experiments.config import builtin_batches

    rows = []
    for name, path in builtin_batches().items():
        data = tomllib.loads(path.read_text())
        header = data.get("batch", {})
        rows.append((name, str(len(data.get("runs", []))), header.get("runtime", ""),
                     header.get("reproduces", "")))
    widths = [max(len(r[i]) for r in rows + [("batch", "runs", "runtime", "")]) for i in range(3)]
    print(f"{'batch':{widths[0]}s}  {'runs':>{widths[1]}s}  {'runtime':{widths[2]}s}  reproduces")
    for name, runs, runtime, reproduces in rows:
        print(f"{name:{widths[0]}s}  {runs:>{widths[1]}s}  {runtime:{widths[2]}s}  {reproduces}")
    print("\nrun one with:  python -m experiments run <batch> [--set key=value ...]")
    return 0


def _run(args):
    from experiments import config, runner

    batches = [config.load_batch(b, overrides=args.set or ()) for b in args.batch]
    prepared = [runner.prepare(batch) for batch in batches]  # check all before anything trains
    status = 0
    for batch, ready in zip(batches, prepared):
        if not args.quiet:
            print(f"\n== {batch.name}: {batch.reproduces}")
            if batch.runtime:
                print(f"   expected runtime: {batch.runtime}")
        result = runner.run_batch(batch, args.logdir, progress=not args.quiet,
                                  keras_verbose=args.verbose, prepared=ready)
        print(f"\n{batch.name}: {len(result.results)} runs in {result.directory}\n")
        print(runner.summary_table(result))
        if batch.expected:
            print(f"expected: {batch.expected}")
        for path in result.figures:
            print(f"figure: {path}")
        print(f"look at it with:  tensorboard --logdir {result.directory}")
        if result.failed:
            status = 1
    return status


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
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--verbose", action="store_true", help="also print Keras's line per epoch")
    args = parser.parse_args(argv)

    from experiments.validation import ConfigError

    try:
        return {"list": _list, "run": _run}[args.command](args)
    except ConfigError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
