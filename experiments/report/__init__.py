"""What a batch tells a person: TensorBoard beyond each run's own events (`dashboard`: the
HParams sessions and definitions, the custom-scalars bands), the summary table and HParams
columns (`overview`), the figures (`figures`), the mean over seeds (`aggregate`), the trials
ranked (`ranking`, `python -m experiments best`) and which optimizer wins
(`verdict` and `analysis`, `python -m experiments report`).

May import: `experiments.spec`, `experiments.workloads`, `experiments.plan`,
`experiments.store`; never `experiments.engine`: it reads what the runs left on disk.

The last stage: `experiments.runner` takes a batch through them all, in order.
"""
