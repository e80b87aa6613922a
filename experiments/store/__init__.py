"""The batch on disk: its directory and what an earlier invocation left there
(`directories`: skip, resume or redo), what makes a run the same run again
(`fingerprints`), what a run is and leaves (`results`), and the files, each written so that
a kill at any moment loses nothing: a run's state at an epoch's end (`checkpoint`), its
sealed record and figure data (`records`), its event files measured and cut back
(`events`), every write and deletion (`files`), the batch's lock (`lock`).

May import: `experiments.spec`, `experiments.workloads`, `experiments.plan`.

Next: `experiments.engine`, which trains the runs still to do.
"""
