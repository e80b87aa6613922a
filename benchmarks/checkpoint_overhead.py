"""What epoch-end checkpoints cost: the same run with and without them, side by side.

    python benchmarks/checkpoint_overhead.py [--rounds 3] [--epochs 100]

One process, alternating, median of `--rounds`. The run is the digits MLP
(784-100x4-10 on 8x8 digits: 9 steps per epoch), the worst case there is:
tiny epochs, so the fixed cost of a checkpoint (flush the event writers,
write every weight and optimizer slot, rename) is large beside an epoch.
`every epoch` checkpoints after each epoch (`--checkpoint-seconds 0`);
`default` at most once per 5 s (`--checkpoint-seconds`'s default) and at the
end. Without: the checkpoint callback does nothing, all else the same.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from experiments.engine import startup  # noqa: E402

startup.quiet_tensorflow()  # TensorFlow without its CPU-only start-up chatter


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()

    import callbacks
    from experiments import runner
    from experiments.spec import config

    real = callbacks.EpochCheckpoint.on_epoch_end

    def timed(seconds, enabled):
        callbacks.EpochCheckpoint.on_epoch_end = real if enabled else (lambda self, epoch, logs=None: None)
        batch = config.parse_batch({"batch": {"name": "bench"}, "runs": [{
            "problem": "digits", "model": "mnist_mlp", "batch_size": 128, "epochs": args.epochs,
            "optimizer": {"name": "adam", "learning_rate": 0.001}, "log": {"every_epochs": 1}}]})
        with tempfile.TemporaryDirectory() as logdir:
            result, = runner.run_batch(batch, logdir, progress=False, fresh=True,
                                       checkpoint_seconds=seconds).results
        callbacks.EpochCheckpoint.on_epoch_end = real
        return result.seconds

    timed(0, True)  # warm up: imports, data, first compilation
    for label, seconds in (("every epoch", 0.0), ("default", 5.0)):
        with_, without = [], []
        for _ in range(args.rounds):
            without.append(timed(seconds, False))
            with_.append(timed(seconds, True))
        a, b = statistics.median(with_), statistics.median(without)
        print(f"{label:12s} {args.epochs} epochs: with checkpoints {a:6.2f} s, without {b:6.2f} s, "
              f"ratio {a / b:.3f}")


if __name__ == "__main__":
    main()
