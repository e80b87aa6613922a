"""The batch as its user wrote it: a batch file (TOML) or `--set` read, checked and expanded
into runs (`config`, `overrides`, `naming`), a search's spaces (`search`), the checks every
field goes through (`validation`), the metric names a batch may use (`metrics`), and a user's
objects named by import path, `module:Name` (`plugins`, which imports the user's module).

The bottom stage: imports no other stage of the suite, and not TensorFlow, so that a typo
is refused in a second, before TensorFlow loads.

Next: `experiments.workloads`, the problems and models the runs name.
"""
