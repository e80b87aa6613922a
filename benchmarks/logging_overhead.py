"""What the suite's TensorBoard logging costs a training run.

    python benchmarks/logging_overhead.py [--rounds 3] [--epochs 4] [--problem synthetic_mnist|digits]

The same run (the material's 784-100-100-100-100-10 MLP, batch 128, SGD)
is trained by the suite's engine (`experiments.engine.execute_group`: the
compiled program of `experiments.engine.loop`, its logging written in bulk by
`experiments.engine.train`) three ways, interleaved round by round in one process:

* `bare`: the program's own per-step values only (loss, gradient norm,
  learning rate: it always collects them), epoch scalars every 1000
  epochs, no histograms, no update ratios;
* `per-epoch`: the suite's default logging (epoch scalars, validation,
  update ratios, weight and slot histograms, HParams, every step's loss
  kept for the batch figure);
* `per-step`: the same plus per-step scalars (`log.every_steps = 1`).

The whole run is timed, tracing included, and the median over rounds is
compared. Targets: per-epoch <= 1.05 x bare, per-step <= 1.15 x.
`synthetic_mnist` is random data of MNIST's shape (60000 x 784, 469 steps
per epoch), since MNIST itself may not be downloadable; `digits` has 9
steps per epoch, where per-epoch costs weigh far more.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from experiments.engine import startup  # noqa: E402

startup.quiet_tensorflow()  # TensorFlow without its CPU-only start-up chatter

import keras  # noqa: E402
import numpy as np  # noqa: E402

from experiments.engine import executor  # noqa: E402
from experiments.spec import config  # noqa: E402
from experiments.store.results import Job  # noqa: E402
from experiments.workloads import problems  # noqa: E402


def synthetic_mnist():
    rng = np.random.default_rng(0)
    x = rng.random((60000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60000).astype("int32")
    empty = x[:0]
    return problems.Data("synthetic_mnist", x, y, empty, y[:0], empty, y[:0], 10, "random")


LOGGING = {"bare": {"every_epochs": 1000, "histograms": False, "update_ratio": False, "step_losses": False},
           "per-epoch": {}, "per-step": {"every_steps": 1}}


def timed_run(mode, data, epochs, logdir):
    """Seconds for one run through the engine, tracing included."""
    run = config.Run.from_dict({"problem": "digits", "model": "mnist_mlp", "optimizer": "sgd",
                                "batch_size": 128, "epochs": epochs, "log": LOGGING[mode]})
    run.name = mode
    directory = pathlib.Path(logdir) / mode
    directory.mkdir(parents=True)
    start = time.perf_counter()
    result, = executor.execute_group([Job(run, "dataset", data, directory)])
    seconds = time.perf_counter() - start
    assert result.status == "ok", result.error
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--problem", choices=["synthetic_mnist", "digits"], default="synthetic_mnist")
    args = parser.parse_args()
    data = synthetic_mnist() if args.problem == "synthetic_mnist" else problems.load("digits")
    modes = ["bare", "per-epoch", "per-step"]
    times = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as logdir:
        for round_ in range(args.rounds):
            for mode in modes:
                times[mode].append(timed_run(mode, data, args.epochs, os.path.join(logdir, str(round_))))
                keras.backend.clear_session()
    base = statistics.median(times["bare"])
    steps = -(-len(data.x_train) // 128)
    print(f"{args.problem}: {steps} steps per epoch, {args.rounds} rounds of {args.epochs} epochs")
    print(f"{'logging':10s} {'s/run':>9s} {'ratio':>6s} {'target':>7s}")
    for mode, target in zip(modes, (None, 1.05, 1.15)):
        median = statistics.median(times[mode])
        target_text = f"<= {target:.2f}" if target else ""
        print(f"{mode:10s} {median:9.2f} {median / base:6.3f} {target_text:>7s}")


if __name__ == "__main__":
    main()
