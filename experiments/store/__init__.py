"""The batch on disk: its directory and lock, each run's directory and what an earlier
invocation left there (`directories`: skip, resume or redo), what makes a run the same run
again (`fingerprints`), what a run is and leaves (`results`), and every file written so that
a kill at any moment loses nothing (`checkpoint`).

May import: `experiments.spec`, `experiments.workloads`, `experiments.plan`.

Next: `experiments.engine`, which trains the runs still to do.
"""
