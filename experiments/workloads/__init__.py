"""What a run trains on: the problems (`problems`: datasets, DeepOBS's noisy quadratic, text,
2-D objectives and series) and the models (`models`: the material's MLPs with the BatchNorm
layer of `layers`, DeepOBS's conv nets, VAE and language model), each catalogue on its base
(`datasets`, `networks`) with its families beside it.

May import: `experiments.spec`.

Next: `experiments.plan`, which checks each run against its problem and model.
"""
