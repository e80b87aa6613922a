"""What a run trains on: the problems (datasets, 2-D objectives and series: `problems`,
`objectives2d`) and the models (`models`, with the BatchNorm layer of `layers`).

May import: `experiments.spec`.

Next: `experiments.plan`, which checks each run against its problem and model.
"""
