"""Experiments: run the suite's optimizers on the material's problems.

From the command line:

    python -m experiments list
    python -m experiments run moons --set epochs=2000 --logdir logs
    tensorboard --logdir logs/moons

From Python:

    import experiments
    batch = experiments.load_batch("mnist", overrides=["steps=500"])
    result = experiments.run_batch(batch, logdir="logs")
    print(experiments.summary_table(result))

    runs = [experiments.Run.from_dict({"problem": "digits", "model": "mnist_mlp",
                                       "optimizer": {"name": name}, "epochs": 5})
            for name in ("sgd", "adam")]
    experiments.run_batch(experiments.Batch("mine", experiments.name_runs(runs)), "logs")

Registries: `workloads.problems.PROBLEMS`, `workloads.models.MODELS`, `custom_optimizers.OPTIMIZERS`,
`custom_optimizers.SCHEDULES`; a user's own by import path, `module:Name` (`spec.plugins`); built-in
batches in `experiments/batches/*.toml`.
"""

_EXPORTS = {
    "Run": "spec.config", "Batch": "spec.config", "load_batch": "spec.config", "parse_batch": "spec.config",
    "name_runs": "spec.naming", "builtin_batches": "spec.config",
    "run_batch": "runner", "summary_table": "report.overview", "prepare": "plan.planning",
}


def __getattr__(name):  # import TensorFlow only when something needs it
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"experiments.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
