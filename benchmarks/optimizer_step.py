"""Per-step cost of each custom optimizer against its Keras built-in twin.

    python benchmarks/optimizer_step.py [--rounds 15] [--steps 100]

Trains the textbook's MNIST MLP (784-100-100-100-100-10, ReLU, He init, softmax) on
synthetic MNIST-shaped data (batch 128, `train_on_batch` over pre-sliced
batches) with each custom optimizer,
configured to the Keras convention so both sides do the same arithmetic, and
with its Keras twin. Rounds alternate between the two models of a pair inside
one process, so machine noise hits both alike; the table reports the median
per-step time of each and their ratio (target: custom / built-in <= 1.05).

A second column times `optimizer.apply` alone on fixed gradients (a
`tf.function` over the same MLP's variables), where an optimizer's own cost
is not diluted by the forward and backward passes. RAdam and AdaBelief have
no Keras twin and are compared with Keras's Adam, the closest algorithm.
Runtime: about 12 minutes on 2 CPU cores (`--rounds 5` for a quicker, noisier look).
"""

from __future__ import annotations

import argparse
import statistics
import time

from experiments.engine import startup  # noqa: E402

startup.quiet_tensorflow()  # TensorFlow without its CPU-only start-up chatter

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import custom_optimizers as co  # noqa: E402
from custom_optimizers.keras_twins import KERAS_TWINS  # noqa: E402

PAIRS = {
    **KERAS_TWINS,
    "radam (vs adam)": (lambda: co.RAdam(), lambda: keras.optimizers.Adam()),
    "adabelief (vs adam)": (lambda: co.AdaBelief(), lambda: keras.optimizers.Adam()),
}


def mlp():
    keras.utils.set_random_seed(0)
    layers = [keras.Input((784,))]
    layers += [keras.layers.Dense(100, "relu", kernel_initializer="he_normal") for _ in range(4)]
    layers += [keras.layers.Dense(10, "softmax", kernel_initializer="he_normal")]
    return keras.Sequential(layers)


def data(steps, batch_size):
    rng = np.random.default_rng(0)
    x = rng.random((steps * batch_size, 784), dtype=np.float32)
    y = rng.integers(0, 10, steps * batch_size)
    return x, y


class FitTimer:
    def __init__(self, optimizer, x, y, batch_size):
        self.model = mlp()
        self.model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        n = len(x) // batch_size
        self.batches = [
            (tf.constant(x[i * batch_size:(i + 1) * batch_size]),
             tf.constant(y[i * batch_size:(i + 1) * batch_size]))
            for i in range(n)
        ]
        self.run()  # trace and compile outside the measurement

    def run(self):
        start = time.perf_counter()
        for xb, yb in self.batches:
            self.model.train_on_batch(xb, yb)
        return (time.perf_counter() - start) / len(self.batches)


class ApplyTimer:
    def __init__(self, optimizer, steps):
        model = mlp()
        variables = model.trainable_variables
        rng = np.random.default_rng(1)
        grads = [tf.constant(rng.normal(size=v.shape).astype("float32") * 1e-3) for v in variables]
        optimizer.build(variables)
        self.steps = steps
        self.apply = tf.function(lambda: optimizer.apply(grads, variables))
        self.run()

    def run(self):
        start = time.perf_counter()
        for _ in range(self.steps):
            self.apply()
        return (time.perf_counter() - start) / self.steps


def measure(make_a, make_b, rounds):
    """Alternate a and b `rounds` times; return their median times."""
    a, b = make_a(), make_b()
    times = {a: [], b: []}
    for timer in (a, b):
        timer.run()  # one untimed round of each, after both are built
    for i in range(rounds):
        for timer in (a, b) if i % 2 == 0 else (b, a):  # alternate who goes first
            times[timer].append(timer.run())
    return statistics.median(times[a]), statistics.median(times[b])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=100, help="training steps per round")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--only", nargs="*", help="benchmark only these rows")
    args = parser.parse_args(argv)
    x, y = data(args.steps, args.batch_size)
    header = (f"{'optimizer':22s} {'train ms/step':>14s} {'built-in':>9s} {'ratio':>6s}   "
              f"{'apply ms':>9s} {'built-in':>9s} {'ratio':>6s}")
    print(f"MLP 784-100-100-100-100-10, batch {args.batch_size}, {args.steps} steps x "
          f"{args.rounds} interleaved rounds, TF {tf.__version__}, Keras {keras.__version__}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for name, (ours, theirs) in PAIRS.items():
        if args.only and name not in args.only:
            continue
        fit_ours, fit_theirs = measure(
            lambda: FitTimer(ours(), x, y, args.batch_size),
            lambda: FitTimer(theirs(), x, y, args.batch_size),
            args.rounds,
        )
        app_ours, app_theirs = measure(
            lambda: ApplyTimer(ours(), args.steps), lambda: ApplyTimer(theirs(), args.steps), args.rounds
        )
        ratio = fit_ours / fit_theirs
        if "vs" not in name:
            worst = max(worst, ratio)
        print(f"{name:22s} {fit_ours * 1e3:14.3f} {fit_theirs * 1e3:9.3f} {ratio:6.3f}   "
              f"{app_ours * 1e3:9.3f} {app_theirs * 1e3:9.3f} {app_ours / app_theirs:6.3f}", flush=True)
    print(f"\nworst train-step ratio among true twins: {worst:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
