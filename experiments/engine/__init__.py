"""Training: a group of runs executed (`executor`); dataset runs trained by one compiled
program (`train`, with `member`, `loop`, `evaluation`, `watches`, `tracing`, `pacing` and
`protocol`), 2-D paths and series averaged (`trainers`); the groups run here or on Ray
(`parallel`); Ctrl-C and SIGTERM (`signals`) and a quiet TensorFlow start (`startup`).

May import every stage below it: `experiments.spec`, `experiments.workloads`,
`experiments.plan`, `experiments.store`, and `experiments.report`, whose `dashboard` writes
each run's HParams session as it starts.

Next: `experiments.report`, which reads what the runs left.
"""
