"""What restarting the last group's program saves: a batch, side by side in three ways.

    python benchmarks/restart.py [--batch lr_search] [--rounds 1]

One process, alternating, median of `--rounds`, the batch's problems loaded beforehand:

* every group traces: each group traces its own program;
* seeds only: a group restarts the last group's program when its runs differ from that
  group's only by their seeds (the learning rates and held hyperparameters kept in the
  program cache's key);
* restarted: also when they differ by a built-in optimizer's learning rate or the
  hyperparameters it holds in variables (`Optimizer.HELD`): a search's next round restarts
  the program too (`experiments.engine.programs.ProgramCache`).

The results are the same, bit for bit, in all three (`tests/experiments/test_groups.py`). It
prints restarted / seeds only (the target: 0.5) and restarted / every group traces.

Measured on 2 cores (AMD EPYC, 2026-12-04), `lr_search` (2 rounds x 2 seeds: 4 groups of 16
runs, 300 steps each):

    python benchmarks/restart.py --rounds 3
    lr_search: 32 runs; 2 cores; median of 3
    every group traces                 31.5 s   (29.4, 31.5, 33.4)
    seeds only                         22.8 s   (22.5, 22.8, 24.7)
    restarted                          17.8 s   (17.8, 17.4, 19.0)
    restarted / seeds only             0.78
    restarted / every group traces     0.56
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from experiments.engine import startup  # noqa: E402

startup.quiet_tensorflow()  # TensorFlow without its CPU-only start-up chatter


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", default="lr_search")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    import logging

    from experiments import runner
    from experiments.engine import programs
    from experiments.plan import planning
    from experiments.spec import config

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    keep, traced = programs.ProgramCache.keep, programs._traced
    batch = config.load_batch(args.batch)
    prepared = planning.prepare(batch)
    modes = {"every group traces": (lambda *a: None, traced),
             "seeds only": (keep, functools.partial(traced, hyperparameters=False)),
             "restarted": (keep, traced)}

    def seconds(mode):
        programs.ProgramCache.keep, programs._traced = modes[mode]
        try:
            with tempfile.TemporaryDirectory() as logdir:
                start = time.perf_counter()
                runner.run_batch(batch, logdir, progress=False, prepared=prepared)
                return time.perf_counter() - start
        finally:
            programs.ProgramCache.keep, programs._traced = keep, traced

    times = {mode: [] for mode in modes}
    for i in range(args.rounds):  # alternating: each round in another order
        order = list(modes)[i % 3:] + list(modes)[:i % 3]
        for mode in order:
            times[mode].append(seconds(mode))
    median = {mode: statistics.median(values) for mode, values in times.items()}
    print(f"{args.batch}: {len(prepared)} runs; {os.cpu_count()} cores; median of {args.rounds}")
    for mode in modes:
        print(f"{mode:30s} {median[mode]:8.1f} s   ({', '.join(f'{t:.1f}' for t in times[mode])})")
    print(f"{'restarted / seeds only':30s} {median['restarted'] / median['seeds only']:8.2f}")
    print(f"{'restarted / every group traces':30s} {median['restarted'] / median['every group traces']:8.2f}")


if __name__ == "__main__":
    main()
