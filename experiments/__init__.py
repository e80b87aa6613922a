"""Experiments: run the suite's optimizers on the material's problems.

`python -m experiments demo` runs the material's 2-D optimizer-path experiment
and writes TensorBoard runs and a figure under `logs/demo/`.
"""
