"""A run's optimizer (with its schedule) and a series run's averager, built from its
batch-file tables; each argument checked, so that a typo fails before training."""

from __future__ import annotations

import inspect

import keras

import custom_optimizers as co
from experiments.spec import plugins
from experiments.spec.validation import ConfigError, lookup


def make_optimizer(run, steps_per_epoch=1):
    """The run's optimizer, with its schedule as the learning rate.

    A schedule's `initial_learning_rate` defaults to the optimizer's learning
    rate, and an epoch-based schedule's `steps_per_epoch` to the run's (unless it
    is given Keras's unit, `decay_steps`).
    """
    arguments = dict(run.optimizer)
    name = arguments.pop("name")
    cls = _plugin("optimizer.name", name, keras.optimizers.Optimizer, "keras.optimizers.Optimizer") \
        if plugins.is_path(name) \
        else co.OPTIMIZERS.get(name.lower())
    if cls is not None:  # Keras would say only "Argument(s) not recognized"
        accepted = {k: 0 for base in cls.__mro__ if "__init__" in vars(base)
                    for k, p in inspect.signature(vars(base)["__init__"]).parameters.items()
                    if k not in ("self", "name") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        for key in arguments:
            lookup(f"argument of optimizer {name!r}", accepted, key)
    try:
        if run.schedule is not None:
            schedule = dict(run.schedule)
            schedule_name = schedule.pop("name")
            schedule_cls = _plugin("schedule.name", schedule_name, keras.optimizers.schedules.LearningRateSchedule,
                                   "keras.optimizers.schedules.LearningRateSchedule") \
                if plugins.is_path(schedule_name) else co.SCHEDULES.get(schedule_name.lower())
            rate = inspect.signature(cls.__init__).parameters.get("learning_rate") if cls is not None else None
            if schedule_cls is not None and rate is not None:
                accepted = inspect.signature(schedule_cls.__init__).parameters
                default_rate = rate.default
                if "initial_learning_rate" in accepted:
                    schedule.setdefault("initial_learning_rate",
                                        arguments.get("learning_rate", default_rate))
                if "steps_per_epoch" in accepted and "decay_steps" not in schedule:  # Keras's unit
                    schedule.setdefault("steps_per_epoch", steps_per_epoch)
            arguments["learning_rate"] = schedule_cls(**schedule) if plugins.is_path(schedule_name) \
                else co.get_schedule(schedule_name, **schedule)
        optimizer = cls(**arguments) if plugins.is_path(name) else co.get(name, **arguments)
    except (TypeError, ValueError) as error:  # Keras says "Argument(s) not recognized: ..."
        raise ConfigError(f"optimizer {name!r}: {error}") from None
    except Exception as error:  # a user's class raised (the suite's raise ValueError)
        if not (plugins.is_path(name) or run.schedule is not None and plugins.is_path(run.schedule["name"])):
            raise
        raise ConfigError(f"optimizer {name!r} raised {type(error).__name__}: {error}") from None
    return optimizer


def _plugin(field, name, base, base_name):
    """The class `name` (`module:Name`) names, checked to be a subclass of `base` (`base_name`)."""
    cls = plugins.resolve(field, name)
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        what = f"the class {cls.__name__}" if inspect.isclass(cls) else f"a {type(cls).__name__}"
        raise ConfigError(f"`{field}` must name a subclass of {base_name}. Received: {field}={name!r}, {what}")
    return cls


def averager(run):
    """(beta, bias_correction, Momentum(form="ewa")) from `run.average`, checked."""
    arguments = dict(run.average)
    arguments.pop("name")
    beta = arguments.pop("beta", 0.9)
    corrected = arguments.pop("bias_correction", False)
    if arguments:
        raise ConfigError(f"average: unknown argument(s) {sorted(arguments)}; known: beta, bias_correction")
    if not isinstance(corrected, bool):
        raise ConfigError(f"`average.bias_correction` must be true or false. Received: {corrected!r}")
    try:
        optimizer = co.Momentum(learning_rate=1.0, momentum=beta, form="ewa")
    except ValueError as error:
        raise ConfigError(f"average: {str(error).replace('momentum', 'beta')}") from None
    return beta, corrected, optimizer


