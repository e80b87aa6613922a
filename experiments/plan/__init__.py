"""Before anything trains: every run checked, its problem loaded and its model and optimizer
built once (`planning.prepare`, `optimizers`), and the runs grouped into those that train
together (`planning.groups`).

May import: `experiments.spec`, `experiments.workloads`.

Next: `experiments.store`, where the planned runs meet what an earlier invocation left.
"""
