"""The training engine against the material's own NumPy code, on the material's experiments.

    python benchmarks/engine.py [--moons-epochs 1000] [--only mnist|moons] [--rounds N]

Side by side on this machine, in this order:

* the suite: `python -m experiments run`'s engine (`runner.run_batch`) on
  the built-in `mnist` batch (five optimizers x 2000 steps, the digits MLP,
  batch 128) and the `moons` batch (three optimizers, batch 64), moons cut
  to `--moons-epochs` epochs (its batch file says 10000), timed from the
  call to its return in this process, data already loaded;
* the material's NumPy code (`benchmarks/material_numpy.py`), in a
  subprocess that never imports TensorFlow (importing it in the same
  process made NumPy's small matrix products about 10x slower here), its
  training loop timed;

and prints the seconds and the ratio suite / NumPy per experiment.

What to read in its output: the ratio suite / NumPy of one invocation (the
machine's speed drifts by about 1.5x within an hour, NumPy's figure with
it), and with `--rounds N` the median of N alternating rounds, since one
round is not a measurement on a shared 2-core machine. The figures it has
printed, and the targets they are held against, are in the README's speed
section; how they changed, in `git log -p benchmarks/engine.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from experiments.engine import startup  # noqa: E402

startup.quiet_tensorflow()  # TensorFlow without its CPU-only start-up chatter


def numpy_seconds(experiment, moons_epochs):
    """The material's training loop, timed in a process without TensorFlow."""
    args = [sys.executable, os.path.join(HERE, "material_numpy.py"), experiment]
    if experiment == "moons":
        args += ["--epochs", str(moons_epochs)]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["seconds"]


def suite_seconds(experiment, moons_epochs):
    """The built-in batch through `runner.run_batch`, its problem loaded beforehand."""
    import logging

    from experiments import runner
    from experiments.plan import planning
    from experiments.spec import config

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    overrides = [f"epochs={moons_epochs}"] if experiment == "moons" else []
    batch = config.load_batch(experiment, overrides=overrides)
    prepared = planning.prepare(batch)
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        runner.run_batch(batch, logdir, progress=False, prepared=prepared)
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moons-epochs", type=int, default=1000)
    parser.add_argument("--only", choices=("mnist", "moons"))
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of NumPy and the suite side by side, their order alternating; "
                             "the ratio's median is printed (this machine's speed drifts)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds: expected at least 1, got {args.rounds}")
    if args.moons_epochs < 1:
        parser.error(f"--moons-epochs: expected at least 1, got {args.moons_epochs}")
    experiments = [args.only] if args.only else ["mnist", "moons"]
    ratios = {name: [] for name in experiments}
    print(f"moons cut to {args.moons_epochs} epochs; {os.cpu_count()} cores")
    print(f"{'experiment':12s} {'suite [s]':>10s} {'NumPy [s]':>10s} {'suite / NumPy':>14s}")
    for round_ in range(args.rounds):
        for name in experiments:
            if round_ % 2 == 0:
                reference, ours = numpy_seconds(name, args.moons_epochs), suite_seconds(name, args.moons_epochs)
            else:
                ours, reference = suite_seconds(name, args.moons_epochs), numpy_seconds(name, args.moons_epochs)
            ratios[name].append(ours / reference)
            print(f"{name:12s} {ours:10.1f} {reference:10.1f} {ours / reference:14.2f}", flush=True)
    if args.rounds > 1:
        for name in experiments:
            print(f"{name:12s} median suite / NumPy over {args.rounds} rounds: {statistics.median(ratios[name]):.2f}")


if __name__ == "__main__":
    main()
