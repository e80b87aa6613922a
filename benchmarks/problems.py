"""DeepOBS's models in the compiled engine: a group of three optimizers against one Keras `fit` each.

    python benchmarks/problems.py [--epochs N] [--only 2c2d|3c3d|vae|char_rnn]

For each model, on the offline data its built-in batch uses (`deepobs_small`: digits resized to
28x28, or 32x32x3 for 3c3d; `char_rnn`: the first 125,000 characters of the corpus that ships),
side by side in this process, at DeepOBS's batch size:

* the suite: SGD, Momentum and Adam as one group (`runner.run_batch`: one compiled program
  trains the three, validating at every epoch's end, writing TensorBoard and checkpoints), timed
  from the call to its return, the data already loaded;
* Keras: the same three, each its own model compiled with its optimizer and trained by
  `model.fit` for the same epochs on the same data and batch size, with the same validation
  data, then scored by `model.evaluate` on the three splits as the engine scores each run at
  its end, timed from `fit`'s call to the last evaluation's return.

It prints, per model, the seconds per member-step of each and their ratio group / `fit`s (the
issue's target: at most 0.5 on the conv nets and the LSTM). Both include their first call's
tracing, as a user's run does. TensorFlow uses a GPU when it sees one; nothing here assumes a
CPU. Absolute seconds depend on the machine; compare the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from experiments.engine import startup  # noqa: E402

startup.quiet_tensorflow()

OPTIMIZERS = [{"name": "sgd", "learning_rate": 0.01}, {"name": "momentum", "learning_rate": 0.01, "momentum": 0.9},
              {"name": "adam", "learning_rate": 0.001}]

#: model -> (problem, batch size, extra run fields)
MODELS = {
    "2c2d": ({"name": "digits", "image_size": 28}, 128, {}),
    "3c3d": ({"name": "digits", "image_size": 32, "channels": 3}, 128, {}),
    "vae": ({"name": "digits", "image_size": 28}, 64, {}),
    "char_rnn": ({"name": "text", "limit": 125_000}, 50, {"order": "sequential"}),
}


def batch_for(model, epochs):
    from experiments.spec import config

    problem, batch_size, extra = MODELS[model]
    return config.parse_batch({"batch": {"name": f"bench_{model}"}, "defaults": {
        "problem": problem, "model": model, "batch_size": batch_size, "epochs": epochs,
        "log": {"histograms": False, "update_ratio": False, "pictures": False, "every_epochs": 1}, **extra},
        "runs": [{"optimizer": optimizer, "name": optimizer["name"]} for optimizer in OPTIMIZERS]})


def group_seconds(batch, prepared):
    from experiments import runner

    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        result = runner.run_batch(batch, logdir, progress=False, prepared=prepared)
        seconds = time.perf_counter() - start
    bad = [r.run.name for r in result.results if r.status != "ok"]
    if bad:
        raise SystemExit(f"the group's runs {bad} did not finish")
    return seconds


def fit_seconds(batch, prepared):
    """One `fit` per run, the model built and compiled as the engine builds it (its seed, its
    optimizer), then trained on the same data."""
    import keras

    from experiments.engine import protocol
    from experiments.plan.optimizers import make_optimizer
    from experiments.spec.config import steps_per_epoch
    from experiments.workloads import models

    total = 0.0
    for run, _, data in prepared:
        keras.backend.clear_session()
        keras.utils.set_random_seed(run.seed)
        model = protocol.build_model(run, data)
        model.compile(optimizer=make_optimizer(run, steps_per_epoch(run, len(data.x_train))),
                      loss=models.loss_for(model), metrics=models.metrics_for(model))
        start = time.perf_counter()
        model.fit(data.x_train, data.y_train, batch_size=run.batch_size, epochs=run.epochs, verbose=0,
                  shuffle=run.order["name"] != "sequential", validation_data=(data.x_val, data.y_val))
        for x, y in ((data.x_train, data.y_train), (data.x_val, data.y_val), (data.x_test, data.y_test)):
            model.evaluate(x, y, batch_size=1024, verbose=0)  # as the engine scores every run at its end
        total += time.perf_counter() - start
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs of every run (default 4)")
    parser.add_argument("--only", choices=tuple(MODELS))
    args = parser.parse_args()
    import tensorflow as tf

    from experiments.plan import planning
    from experiments.spec.config import steps_per_epoch

    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"{'model':9s} {'member-steps':>12s} {'group [s/step]':>15s} {'fits [s/step]':>14s} "
          f"{'group / fits':>13s}   on {device}")
    for model in [args.only] if args.only else MODELS:
        batch = batch_for(model, args.epochs)
        prepared = planning.prepare(batch)
        run, _, data = prepared[0]
        steps = len(prepared) * args.epochs * steps_per_epoch(run, len(data.x_train))
        group = group_seconds(batch, prepared)
        fits = fit_seconds(batch, prepared)
        print(f"{model:9s} {steps:12d} {group / steps:15.4f} {fits / steps:14.4f} {group / fits:13.2f}", flush=True)


if __name__ == "__main__":
    main()
