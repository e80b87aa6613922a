"""The training engine against the material's own NumPy code, on the material's experiments.

    python benchmarks/engine.py [--moons-epochs 1000] [--only mnist|moons]

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

Measured on 2 cores (2026-11-22, the per-run `model.fit` engine, before
the compiled engine of issue 11; `--moons-epochs 1000`):

    experiment   suite [s]   NumPy [s]   suite / NumPy
    mnist             68.5        10.0            6.88
    moons             57.1         0.8           68.22

(moons at its full 10000 epochs: NumPy 8.7 s, and the training accuracies
0.7967 / 0.7967 / 0.9400 that the material reports; the `fit` engine took
5 min 38 s.)

The compiled engine (`experiments.loop`: each batch is one group, one
program; moons compiled by XLA at 10000 epochs, not at 1000), the same day,
same machine (its speed drifts by about 1.5x over an hour, NumPy's figure
with it: compare the ratios of one invocation):

    python benchmarks/engine.py --moons-epochs 10000
    experiment   suite [s]   NumPy [s]   suite / NumPy
    mnist             17.2        14.0            1.23   (earlier: 11.7 s against 9.9 s, 1.19)
    moons             18.5        14.3            1.29   (10000 epochs; the fit engine: 338 s)

    python benchmarks/engine.py --only moons
    moons             13.3         1.5            8.58   (1000 epochs; earlier 9.7 s against 0.8 s)

Against the `fit` engine: mnist 4-6x faster (68.5 s -> 11.7-17.2 s), moons
at 10000 epochs 18x (338 s -> 18.5 s), at 1000 epochs 4-6x. What the
compiled engine still pays, measured with cProfile: tracing the program
(about 0.6 s a member of the MLP), TensorFlow's graph optimisation at the
first call (about as much again), XLA's compilation (moons: about 4 s),
and the figures and images of the logs (a decision-boundary image ~60 ms,
33 of them for moons). The issue's targets (8x / 10x faster than `fit`,
0.5x / 0.6x of NumPy) are not met yet for mnist and for short moons runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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

    from experiments import config, plan, runner

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    overrides = [f"epochs={moons_epochs}"] if experiment == "moons" else []
    batch = config.load_batch(experiment, overrides=overrides)
    prepared = plan.prepare(batch)
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        runner.run_batch(batch, logdir, progress=False, prepared=prepared)
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moons-epochs", type=int, default=1000)
    parser.add_argument("--only", choices=("mnist", "moons"))
    args = parser.parse_args()
    experiments = [args.only] if args.only else ["mnist", "moons"]
    reference = {name: numpy_seconds(name, args.moons_epochs) for name in experiments}
    ours = {name: suite_seconds(name, args.moons_epochs) for name in experiments}
    print(f"moons cut to {args.moons_epochs} epochs; {os.cpu_count()} cores")
    print(f"{'experiment':12s} {'suite [s]':>10s} {'NumPy [s]':>10s} {'suite / NumPy':>14s}")
    for name in experiments:
        print(f"{name:12s} {ours[name]:10.1f} {reference[name]:10.1f} {ours[name] / reference[name]:14.2f}")


if __name__ == "__main__":
    main()
