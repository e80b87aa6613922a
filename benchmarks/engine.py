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
0.7967 / 0.7967 / 0.9400 that the material reports.)

The issue's targets for the compiled engine: mnist at least 8x faster than
the per-run `fit` engine and at most 0.5x NumPy; moons at least 10x faster
and at most 0.6x NumPy.
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
