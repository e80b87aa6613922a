"""Learning-rate decay schedules of the material, as Keras `LearningRateSchedule`s.

The material states its decay formulas per *epoch*; Keras calls a schedule
with the optimizer's *step* count. Every schedule here except
`WarmupCosineDecay` therefore takes `steps_per_epoch` and computes

    epoch = step / steps_per_epoch          (staircase=False: fractional epochs)
    epoch = floor(step / steps_per_epoch)   (staircase=True: constant within an epoch)

With the default `steps_per_epoch=1` one "epoch" is one optimizer step, which
is also right for loops that step the schedule once per epoch themselves.
Epochs are counted from 0, so every schedule starts at its initial rate.

`ExponentialDecay` and `InverseTimeDecay` share their names with Keras's
schedules and also take Keras's time unit: `decay_steps` optimizer steps
(any positive number) instead of `steps_per_epoch`, so that
`ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96)`, as Keras's
tutorials write it, gives Keras's values. Their arguments after
`decay_rate` are keyword-only: Keras's positional order
`(initial_learning_rate, decay_steps, decay_rate)` would otherwise be read
silently as `(initial_learning_rate, decay_rate, steps_per_epoch)`, and is
refused with a message that says so.

All schedules compute in float32 (the dtype of the optimizer's learning
rate) and are registered as Keras serialisables, so a model saved with one of
them as its optimizer's learning rate loads back with it. Like Keras's, each
takes a `name` (a string; default its class's name), kept in its config.
"""

from __future__ import annotations

import math
import numbers

import keras
from keras import ops

from custom_optimizers._base import PACKAGE, check_bool, check_choice, check_range

#: `PiecewiseConstant`'s switching rules: at a boundary (the default) or after it (Keras's).
BOUNDARY_RULES = ("at", "after")

#: name -> schedule class, filled by `_register`.
SCHEDULES: dict[str, type] = {}


def _register(name):
    def decorator(cls):
        cls = keras.saving.register_keras_serializable(package=PACKAGE)(cls)
        SCHEDULES[name] = cls
        return cls

    return decorator


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive" if minimum == 1 else "a non-negative"
        raise ValueError(f"`{name}` must be {kind} integer. Received: {name}={value!r}")
    return int(value)


class _EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Base: turns the optimizer's step into the (possibly fractional) epoch: `step /
    steps_per_epoch`, or with Keras's unit (`decay_steps`, where a subclass takes it) `step /
    decay_steps`."""

    def __init__(self, steps_per_epoch=None, staircase=False, name=None, decay_steps=None):
        if decay_steps is not None and steps_per_epoch is not None:
            raise ValueError("Pass `steps_per_epoch` (the material's epochs) or `decay_steps` (Keras's "
                             "unit), not both. Received: "
                             f"steps_per_epoch={steps_per_epoch!r}, decay_steps={decay_steps!r}")
        self.decay_steps = None if decay_steps is None else _check_positive("decay_steps", decay_steps)
        self.steps_per_epoch = None if decay_steps is not None else \
            _check_int("steps_per_epoch", 1 if steps_per_epoch is None else steps_per_epoch)
        self.staircase = check_bool("staircase", staircase)
        self.name = _check_name(name, type(self).__name__)

    def _epoch(self, step):
        unit = self.steps_per_epoch if self.decay_steps is None else self.decay_steps
        # float32 tensors on both sides, as Keras's schedules divide (PyTorch computes a tensor
        # op with a Python number at another precision)
        epoch = ops.divide(ops.cast(step, "float32"), ops.cast(unit, "float32"))
        return ops.floor(epoch) if self.staircase else epoch

    def __call__(self, step):
        return self._rate(self._epoch(step))  # `_rate`: each subclass's formula

    def get_config(self):
        unit = {"steps_per_epoch": self.steps_per_epoch} if self.decay_steps is None else \
            {"decay_steps": self.decay_steps}
        return {**unit, "staircase": self.staircase, "name": self.name}


def _refuse_keras_order(cls, initial_learning_rate, decay_rate, extra):
    """Refuse arguments past `decay_rate` given by position: Keras's order for this class's
    namesake, `(initial_learning_rate, decay_steps, decay_rate, staircase)`, which this class
    would otherwise read as `(initial_learning_rate, decay_rate, steps_per_epoch, ...)`."""
    if not extra:
        return
    given = ", ".join(repr(a) for a in (initial_learning_rate, decay_rate, *extra))
    keywords = [f"decay_steps={decay_rate!r}", f"decay_rate={extra[0]!r}"]
    if len(extra) > 1:
        keywords.append(f"staircase={extra[1]!r}")
    raise TypeError(
        f"{cls.__name__}({given}) looks like Keras's positional order (initial_learning_rate, "
        f"decay_steps, decay_rate, staircase), but here the second argument is `decay_rate` and the "
        f"rest are keyword-only. For Keras's meaning write {cls.__name__}({initial_learning_rate!r}, "
        f"{', '.join(keywords)}); for the material's epochs, {cls.__name__}(initial_learning_rate, "
        f"decay_rate=..., steps_per_epoch=...)")


def _check_positive(name, value):
    """A positive number, kept an int when it is one (as Keras's schedules keep `decay_steps`)."""
    number = check_range(name, value, 0.0, None, low_open=True)
    return int(value) if isinstance(value, numbers.Integral) else number


def _check_name(name, default):
    """A schedule's `name` (Keras's schedules take one; it names the ops): a string, default the
    class's name."""
    if name is None:
        return default
    if not isinstance(name, str):
        raise ValueError(f"`name` must be a string. Received: name={name!r}")
    return name


def _check_learning_rate(name, value):
    return check_range(name, value, 0.0, None, low_open=True)


class _KerasNamesake(_EpochSchedule):
    """Base of the schedules named as Keras's (`InverseTimeDecay`, `ExponentialDecay`):
    `initial_learning_rate` and `decay_rate` (its range the subclass's `_check_decay_rate`), the
    material's epoch or Keras's `decay_steps` as the unit, and Keras's positional order refused
    by name before anything else is checked."""

    DEFAULT_DECAY_RATE: float  # each subclass's, used when `decay_rate` is not given

    def __init__(self, initial_learning_rate, decay_rate=None, *keras_order, steps_per_epoch=None,
                 decay_steps=None, staircase=False, name=None):
        _refuse_keras_order(type(self), initial_learning_rate, decay_rate, keras_order)
        super().__init__(steps_per_epoch, staircase, name, decay_steps)
        self.initial_learning_rate = _check_learning_rate("initial_learning_rate", initial_learning_rate)
        self.decay_rate = self._check_decay_rate(self.DEFAULT_DECAY_RATE if decay_rate is None else decay_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_rate": self.decay_rate,
                **super().get_config()}


@_register("inverse_time")
class InverseTimeDecay(_KerasNamesake):
    r"""`lr = lr0 / (1 + decay_rate * epoch)` (the material's 1/t decay).

    The time unit is the material's epoch (`steps_per_epoch` steps), or,
    given `decay_steps`, Keras's: `InverseTimeDecay(lr0, decay_steps=D,
    decay_rate=r)` gives `keras.optimizers.schedules.InverseTimeDecay(lr0,
    D, r)`'s values, `lr0 / (1 + r * step / D)`.

    Args:
        initial_learning_rate: `lr0`, > 0.
        decay_rate: >= 0. Defaults to 1.0.
        steps_per_epoch: optimizer steps per epoch, positive int, keyword
            only. Defaults to 1 (unless `decay_steps` is given).
        decay_steps: Keras's unit instead, optimizer steps per unit of
            time, > 0, keyword only.
        staircase: hold the rate constant within a unit. Defaults to False.
    """

    DEFAULT_DECAY_RATE = 1.0

    @staticmethod
    def _check_decay_rate(decay_rate):
        return check_range("decay_rate", decay_rate, 0.0)

    def _rate(self, epoch):
        # Keras's InverseTimeDecay's ops, in its order, on float32 tensors: its values on every back-end
        rate = ops.cast(self.decay_rate, "float32")
        return ops.divide(ops.cast(self.initial_learning_rate, "float32"),
                          ops.add(ops.cast(1.0, "float32"), ops.multiply(rate, epoch)))


@_register("exponential")
class ExponentialDecay(_KerasNamesake):
    r"""`lr = lr0 * decay_rate ** epoch` (the material's `0.95^epoch * lr0`).

    The time unit is the material's epoch (`steps_per_epoch` steps), or,
    given `decay_steps`, Keras's: `ExponentialDecay(lr0, decay_steps=D,
    decay_rate=k)` gives `keras.optimizers.schedules.ExponentialDecay(lr0, D,
    k)`'s values, `lr0 * k ** (step / D)`.

    Args:
        initial_learning_rate: `lr0`, > 0.
        decay_rate: the factor per unit of time `k`, in (0, 1]. Defaults to 0.95.
        steps_per_epoch: optimizer steps per epoch, positive int, keyword
            only. Defaults to 1 (unless `decay_steps` is given).
        decay_steps: Keras's unit instead, optimizer steps per unit of
            time, > 0, keyword only.
        staircase: hold the rate constant within a unit. Defaults to False.
    """

    DEFAULT_DECAY_RATE = 0.95

    @staticmethod
    def _check_decay_rate(decay_rate):
        return check_range("decay_rate", decay_rate, 0.0, 1.0, low_open=True)

    def _rate(self, epoch):
        # Keras's ExponentialDecay's ops, in its order, on float32 tensors: its values on every back-end
        return ops.multiply(ops.cast(self.initial_learning_rate, "float32"),
                            ops.power(ops.cast(self.decay_rate, "float32"), epoch))


@_register("inverse_sqrt")
class InverseSqrtDecay(_EpochSchedule):
    r"""`lr = lr0 * k / sqrt(epoch + 1)` (the material's `k / sqrt(epoch_num) * lr0`).

    The material numbers epochs from 1 (`epoch_num`); Keras counts steps from
    0. Writing `epoch_num = epoch + 1` keeps the material's formula and makes
    the rate finite at the very first step, where it is `k * lr0`.

    Args:
        initial_learning_rate: `lr0`, > 0.
        k: constant factor, > 0. Defaults to 1.0.
        steps_per_epoch: optimizer steps per epoch, positive int. Defaults to 1.
        staircase: hold the rate constant within an epoch. Defaults to False.
    """

    def __init__(self, initial_learning_rate, k=1.0, steps_per_epoch=1, staircase=False, name=None):
        super().__init__(steps_per_epoch, staircase, name)
        self.initial_learning_rate = _check_learning_rate(
            "initial_learning_rate", initial_learning_rate
        )
        self.k = check_range("k", k, 0.0, None, low_open=True)

    def _rate(self, epoch):
        return self.initial_learning_rate * self.k / ops.sqrt(epoch + 1.0)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "k": self.k,
            **super().get_config(),
        }


@_register("step")
class StepDecay(_EpochSchedule):
    r"""`lr = lr0 * factor ** floor(epoch / epochs_per_drop)` ("halve every N epochs").

    With `staircase=False` the exponent is not floored (`lr0 *
    factor^(epoch / N)`, a smooth exponential decay through the same points).

    Args:
        initial_learning_rate: `lr0`, > 0.
        factor: multiplier applied at each drop, in (0, 1]. Defaults to 0.5.
        epochs_per_drop: `N`, positive int. Defaults to 10.
        steps_per_epoch: optimizer steps per epoch, positive int. Defaults to 1.
        staircase: drop in discrete steps. Defaults to True.
    """

    def __init__(
        self, initial_learning_rate, factor=0.5, epochs_per_drop=10, steps_per_epoch=1, staircase=True,
        name=None,
    ):
        super().__init__(steps_per_epoch, staircase, name)
        self.initial_learning_rate = _check_learning_rate(
            "initial_learning_rate", initial_learning_rate
        )
        self.factor = check_range("factor", factor, 0.0, 1.0, low_open=True)
        self.epochs_per_drop = _check_int("epochs_per_drop", epochs_per_drop)

    def _rate(self, epoch):
        # With staircase, epoch is already floor(step / steps_per_epoch), and
        # floor(floor(e) / N) == floor(e / N) for integer N.
        drops = ops.divide(epoch, float(self.epochs_per_drop))
        if self.staircase:
            drops = ops.floor(drops)
        return self.initial_learning_rate * ops.power(self.factor, drops)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "factor": self.factor,
            "epochs_per_drop": self.epochs_per_drop,
            **super().get_config(),
        }


@_register("piecewise")
class PiecewiseConstant(_EpochSchedule):
    r"""A manual schedule: `values[i]` from epoch `boundaries[i-1]` on.

    `lr = values[0]` for `epoch < boundaries[0]`, `values[i]` for
    `boundaries[i-1] <= epoch < boundaries[i]`, and `values[-1]` from
    `boundaries[-1]` on: with the default `boundary="at"` the switch happens
    *at* a boundary. `keras.optimizers.schedules.PiecewiseConstantDecay`
    switches one step later (`values[i]` for `boundaries[i-1] < step <=
    boundaries[i]`); `boundary="after"` gives its rule, so that
    `PiecewiseConstant(b, v, boundary="after")` (one step per epoch) gives
    Keras's `PiecewiseConstantDecay(b, v)` numbers step for step.

    Args:
        boundaries: strictly increasing epochs (> 0) where the rate changes.
        values: `len(boundaries) + 1` positive learning rates.
        steps_per_epoch: optimizer steps per epoch, positive int. Defaults to 1.
        boundary: `"at"` (`epoch >= boundary` takes the next value) or
            `"after"` (`epoch > boundary`, Keras's). Defaults to `"at"`.
    """

    def __init__(self, boundaries, values, steps_per_epoch=1, name=None, boundary="at"):
        super().__init__(steps_per_epoch, staircase=False, name=name)
        self.boundary = check_choice("boundary", boundary, BOUNDARY_RULES)
        boundaries = [check_range("boundaries", b, 0.0, None, low_open=True) for b in boundaries]
        values = [_check_learning_rate("values", v) for v in values]
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(
                f"`boundaries` must be strictly increasing. Received: boundaries={boundaries}"
            )
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "`values` must have one more entry than `boundaries`. Received: "
                f"boundaries={boundaries} ({len(boundaries)} entries), "
                f"values={values} ({len(values)} entries)"
            )
        self.boundaries = boundaries
        self.values = values

    def _rate(self, epoch):
        rate = ops.convert_to_tensor(self.values[0], "float32")
        passed = ops.greater_equal if self.boundary == "at" else ops.greater
        for boundary, value in zip(self.boundaries, self.values[1:]):
            rate = ops.where(passed(epoch, boundary), value, rate)
        return rate

    def get_config(self):
        return {
            "boundaries": self.boundaries,
            "values": self.values,
            "steps_per_epoch": self.steps_per_epoch,
            "name": self.name,
            "boundary": self.boundary,
        }


@_register("warmup_cosine")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    r"""Linear warm-up to a peak, then cosine decay (counted in steps).

    With `s` the step, `W` = `warmup_steps`, `D` = `decay_steps`::

        s <  W:  lr = lr_init + (peak - lr_init) * s / W
        s >= W:  p = min(s - W, D) / D
                 lr = peak * ((1 - alpha) * (1 + cos(pi * p)) / 2 + alpha)

    So the rate ends at `alpha * peak` after `W + D` steps and stays there.
    Same as `keras.optimizers.schedules.CosineDecay(lr_init, D, alpha,
    warmup_target=peak, warmup_steps=W)`.

    Reference: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with
    Warm Restarts", ICLR 2017; Goyal et al., "Accurate, Large Minibatch SGD:
    Training ImageNet in 1 Hour", 2017 (warm-up).

    Args:
        peak_learning_rate: `peak`, > 0.
        warmup_steps: `W`, >= 0 int. Defaults to 0 (no warm-up).
        decay_steps: `D`, positive int.
        initial_learning_rate: `lr_init`, the rate at step 0, in [0, peak].
            Defaults to 0.
        alpha: final rate as a fraction of `peak`, in [0, 1]. Defaults to 0.
    """

    def __init__(
        self, peak_learning_rate, decay_steps, warmup_steps=0, initial_learning_rate=0.0, alpha=0.0, name=None
    ):
        self.name = _check_name(name, type(self).__name__)
        self.peak_learning_rate = _check_learning_rate("peak_learning_rate", peak_learning_rate)
        self.decay_steps = _check_int("decay_steps", decay_steps)
        self.warmup_steps = _check_int("warmup_steps", warmup_steps, minimum=0)
        self.initial_learning_rate = check_range(
            "initial_learning_rate", initial_learning_rate, 0.0, self.peak_learning_rate
        )
        self.alpha = check_range("alpha", alpha, 0.0, 1.0)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.peak_learning_rate
        progress = ops.minimum(step - self.warmup_steps, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        decayed = peak * ((1.0 - self.alpha) * cosine + self.alpha)
        if self.warmup_steps == 0:
            return decayed
        warmup = self.initial_learning_rate + (peak - self.initial_learning_rate) * (
            step / self.warmup_steps
        )
        return ops.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "decay_steps": self.decay_steps,
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "alpha": self.alpha,
            "name": self.name,
        }
