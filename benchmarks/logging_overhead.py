"""What the suite's TensorBoard logging costs a training run.

    python benchmarks/logging_overhead.py [--rounds 5] [--epochs 4] [--problem synthetic_mnist|digits]

The same fit (the material's 784-100-100-100-100-10 MLP, batch 128, SGD) is
timed three ways, interleaved round by round in one process:

* `bare`: Keras's own training step, no callbacks;
* `per-epoch`: the suite's full logging of a run as `experiments.runner`
  sets it up (InstrumentedModel's gradient norm and step values, epoch
  scalars, learning rate, update ratios, weight and slot histograms,
  HParams, every step's loss kept for the batch figure);
* `per-step`: the same plus per-step scalars (`log.every_steps = 1`).

Each fit's first epoch (tracing) is dropped; the median epoch time over all
rounds is compared. Targets: per-epoch <= 1.05 x bare, per-step <= 1.15 x.
`synthetic_mnist` is random data of MNIST's shape (60000 x 784, 469 steps
per epoch), since MNIST itself may not be downloadable; `digits` has 9
steps per epoch, where per-epoch costs weigh far more.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import custom_optimizers as co  # noqa: E402
from experiments import config, fit, models, problems  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def synthetic_mnist():
    rng = np.random.default_rng(0)
    x = rng.random((60000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60000).astype("int32")
    empty = x[:0]
    return problems.Data("synthetic_mnist", x, y, empty, y[:0], empty, y[:0], 10, "random")


def timed_fit(mode, data, epochs, logdir):
    run = config.Run.from_dict({"problem": "digits", "model": "mnist_mlp", "optimizer": "sgd",
                                "batch_size": 128, "epochs": epochs,
                                "log": {"every_steps": 1 if mode == "per-step" else None}})
    run.name = mode
    keras.utils.set_random_seed(0)
    model = models.build("mnist_mlp", data)
    callbacks = []
    if mode == "bare":
        model = keras.Model(model.inputs, model.outputs)  # Keras's own train_step
    else:
        callbacks, _ = fit.logging_callbacks(run, os.path.join(logdir, mode), data, epochs)
    model.compile(co.SGD(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(fit.training_dataset(run, data), epochs=epochs,
              steps_per_epoch=config.steps_per_epoch(run, len(data.x_train)), shuffle=False,
              callbacks=callbacks + [timer], verbose=0)
    return timer.times[1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--problem", choices=["synthetic_mnist", "digits"], default="synthetic_mnist")
    args = parser.parse_args()
    data = synthetic_mnist() if args.problem == "synthetic_mnist" else problems.load("digits")
    modes = ["bare", "per-epoch", "per-step"]
    times = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as logdir:
        for round_ in range(args.rounds):
            for mode in modes:
                times[mode] += timed_fit(mode, data, args.epochs, os.path.join(logdir, str(round_)))
                keras.backend.clear_session()
    base = statistics.median(times["bare"])
    steps = -(-len(data.x_train) // 128)
    print(f"{args.problem}: {steps} steps per epoch, {args.rounds} rounds x {args.epochs - 1} timed epochs")
    print(f"{'logging':10s} {'ms/epoch':>9s} {'ratio':>6s} {'target':>7s}")
    for mode, target in zip(modes, (None, 1.05, 1.15)):
        median = statistics.median(times[mode])
        target_text = f"<= {target:.2f}" if target else ""
        print(f"{mode:10s} {median * 1000:9.1f} {median / base:6.3f} {target_text:>7s}")


if __name__ == "__main__":
    main()
