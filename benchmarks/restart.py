"""What restarting the last group's program saves: a batch of several seeds, side by side with
and without it.

    python benchmarks/restart.py [--batch lr_search] [--rounds 1]

One process, alternating, median of `--rounds`, the batch's problems loaded beforehand. A
batch's runs that differ only by their seed are as many groups; each group after the first
restarts the program the one before it traced (`experiments.engine.programs.ProgramCache`) instead of
tracing its own. Without: every group traces its own program, all else the same (the
results are the same, bit for bit: `tests/experiments/test_groups.py`).

Measured on 2 cores (2026-12-03), `lr_search` (2 rounds x 2 seeds: 4 groups of 16 runs,
300 steps each; the machine was slow that hour, `run lr_search` took 53-56 s earlier):

    python benchmarks/restart.py --rounds 2
    every group traces         85.6 s
    restarted programs         70.5 s
    ratio                      0.82

The first call of a restarted group took 2.2-4.2 s against 8-12 s for a group that traces
(the first call also trains up to a logging interval).
"""

from __future__ import annotations

import argparse
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
    keep = programs.ProgramCache.keep
    batch = config.load_batch(args.batch)
    prepared = planning.prepare(batch)

    def seconds(restart):
        programs.ProgramCache.keep = keep if restart else (lambda *a: None)
        with tempfile.TemporaryDirectory() as logdir:
            start = time.perf_counter()
            runner.run_batch(batch, logdir, progress=False, prepared=prepared)
            return time.perf_counter() - start

    times = {True: [], False: []}
    for i in range(args.rounds):  # alternating, each first in every other round
        for restart in ((False, True) if i % 2 == 0 else (True, False)):
            times[restart].append(seconds(restart))
    new, restarted = statistics.median(times[False]), statistics.median(times[True])
    print(f"{args.batch}: {len(prepared)} runs; {os.cpu_count()} cores; median of {args.rounds}")
    print(f"{'every group traces':22s} {new:8.1f} s")
    print(f"{'restarted programs':22s} {restarted:8.1f} s")
    print(f"{'ratio':22s} {restarted / new:8.2f}")


if __name__ == "__main__":
    main()
