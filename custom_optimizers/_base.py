"""Pieces shared by every optimizer of the suite, written once.

* `Optimizer`: the common base class. It validates the learning rate and
  registers subclasses by name (see `custom_optimizers.get`); everything else
  (`weight_decay`, clipping, EMA, loss scaling, gradient accumulation,
  distribution) is the Keras base class's, untouched.
* `check_range` / `check_bool`: argument validation with Keras-style messages
  ("`beta_1` must be in [0, 1). Received: beta_1=1.2").
* `ema_update`, `bias_correction`, `step_count`: the exponentially weighted
  average and its bias correction, which every moment-based rule uses.

Numerics note, the same as Keras's built-ins so that the Keras twins
(`keras_twins.py`) are bit-identical to them (to Keras's generic `update_step`,
which TensorFlow and JAX run; on PyTorch Keras replaces its built-ins with
`torch._foreach` rewrites, which agree to float32 round-off):

* a hyperparameter enters the maths through `ops.cast(value, variable.dtype)`.
  Keras turns a Python float into a float32 tensor first, so in a float64
  model it carries float32 round-off (0.9 becomes 0.89999997615814208984375).
  The learning rate is a float32 variable in the Keras base class likewise.
* except the weight `1 - beta` of an average (`ema_update`, RMSProp's
  `1 - rho`, ...): it is computed on the Python float, in double, and only
  then meets the tensor, as Keras's Adam, AdamW, Nadam and RMSprop do. With
  `beta_2 = 0.999`, `1 - float32(0.999)` is 0.0009999871 and drifts a float32
  trajectory by about 1e-6 in 50 steps; `float32(1 - 0.999)` is 0.001.
  Keras's Nadam and Lion subtract from the cast beta instead (in the
  variable's dtype); the suite's `Nadam` and `Lion` follow them.

References written in float64 must round hyperparameters through float32,
but not `1 - beta`, to agree to the last bits.
"""

from __future__ import annotations

import math
import numbers

import keras
import numpy as np
from keras import initializers, ops

PACKAGE = "custom_optimizers"

#: name -> optimizer class, filled by `register`.
OPTIMIZERS: dict[str, type] = {}


def register(name):
    """Class decorator: make `cls` serialisable and reachable as `get(name)`."""

    def decorator(cls):
        if name in OPTIMIZERS:
            raise ValueError(f"Optimizer name {name!r} is registered twice.")
        cls = keras.saving.register_keras_serializable(package=PACKAGE)(cls)
        OPTIMIZERS[name] = cls
        return cls

    return decorator


def check_range(name, value, low=None, high=None, *, low_open=False, high_open=False):
    """Return `value` as a float if it lies in the interval, else raise.

    The interval is written in the message the way mathematicians write it:
    `[0, 1)` means `0 <= value < 1`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"`{name}` must be a number. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if math.isnan(value) or math.isinf(value) or too_low or too_high:  # inf: never a usable value
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(
            f"`{name}` must be in {left}{lo}, {hi}{right}. Received: {name}={value!r}"
        )
    return value


def check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(
            f"`{name}` must be True or False. Received: {name}={value!r}"
        )
    return value


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {sorted(choices)}. Received: {name}={value!r}"
        )
    return value


def _check_learning_rate(learning_rate):
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return learning_rate
    if callable(learning_rate):
        return learning_rate
    return check_range("learning_rate", learning_rate, 0.0, None, low_open=True)


class Optimizer(keras.optimizers.Optimizer):
    """Base class of the suite's optimizers.

    Accepts the learning rate as a positive number (ints are fine), a
    `keras.optimizers.schedules.LearningRateSchedule` or a zero-argument
    callable; all other keyword arguments are those of
    `keras.optimizers.Optimizer` and are passed through unchanged.
    """

    def __init__(self, learning_rate, **kwargs):
        super().__init__(learning_rate=_check_learning_rate(learning_rate), **kwargs)
        self._held_ids = set()  # id() of the variables `hold` made
        self._fresh = None  # during `fresh_state`: the values `add_variable` would have given

    def fresh_state(self, var_list):
        """The values `build(var_list)` would give `variables`, in their order, as NumPy arrays,
        without making the variables: a restarted program copies them into the optimizer it
        already has (`experiments.engine.loop.Program.restart`), and a variable costs TensorFlow
        about a millisecond to make. The optimizer is left unbuilt and unusable: a stand-in."""
        if self.built:
            raise ValueError("fresh_state is for an optimizer not built yet")
        # (Keras's attribute tracking would copy a list: the values go in a plain object's)
        self._fresh = _Made([np.asarray(ops.convert_to_numpy(v.value)) for v in self.variables])  # __init__'s
        try:
            self.build(var_list)
            return self._fresh.values
        finally:
            self._fresh = None
            self.built = False

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none", layout=None, name=None):
        if self._fresh is None:
            return super().add_variable(shape, initializer=initializer, dtype=dtype, aggregation=aggregation,
                                        layout=layout, name=name)
        # what `keras.Variable` makes of its initializer (`_initialize_with_initializer`), kept as a value
        dtype = keras.backend.standardize_dtype(dtype or keras.backend.floatx())
        shape = tuple(int(d) for d in shape)
        value = ops.convert_to_tensor(initializers.get(initializer)(shape, dtype=dtype), dtype=dtype)
        self._fresh.values.append(np.asarray(ops.convert_to_numpy(value)))
        return self._fresh.values[-1]

    def apply(self, grads, trainable_variables=None):
        return super().apply([_deduplicate(g) for g in grads], trainable_variables)

    def _cast(self, value, variable):
        return ops.cast(value, variable.dtype)

    #: Hyperparameters the optimizer holds in variables (`hold`), not traced into its update as
    #: numbers: a compiled program made for one value runs with another once the variables are
    #: assigned (the experiment engine restarts a program for a search's next trials this way),
    #: as optax's `inject_hyperparams` does. Not held: a hyperparameter that decides the graph
    #: (RMSProp's `momentum` > 0 makes slots), and one whose number TensorFlow's graph optimiser
    #: rewrites the arithmetic around (RMSProp's `epsilon`, RAdam's `beta_2`): held, `fit` would
    #: differ by an ulp from the update with the number (`tests/custom_optimizers/test_held.py`).
    HELD = ()

    def hold(self, name, value, var_list, cast=False):
        """A scalar variable holding `value`, a Python float, in the dtype of `var_list`'s first
        variable, as the number the update made of the float: `cast=True` for a float that went
        through `self._cast` (`ops.cast` of a Python float goes through float32 first), else the
        float as it meets a tensor of that dtype (e.g. `1 - beta` taken in double). The
        arithmetic, and so the result, are then those of the float, bit for bit."""
        dtype = var_list[0].dtype if var_list else "float32"

        def initial(shape, dtype=None):  # (keras.initializers.Constant would go through float32)
            if cast:
                return ops.broadcast_to(ops.cast(value, dtype), shape)
            # a float meeting a tensor in an op: exact on TensorFlow and JAX, through float32 on PyTorch
            return ops.multiply(ops.ones(shape, dtype=dtype), value)

        variable = self.add_variable((), initializer=initial, dtype=dtype, name=name)
        self._held_ids.add(id(variable))
        return variable

    def load_own_variables(self, store):
        """Keras's; and a store without the held variables (an optimizer that traced `HELD` as
        numbers saved it), which Keras would skip whole with a warning: its variables go to the
        others in order, and the held ones keep the values this optimizer's config gives them."""
        others = [v for v in self.variables if id(v) not in self._held_ids]
        if len(others) < len(self.variables) and len(store.keys()) == len(others):
            for i, variable in enumerate(others):
                variable.assign(store[str(i)])
            return
        super().load_own_variables(store)

    def hold_average(self, name, decay, var_list):
        """An average's decay held as the update uses it (`hold`): `decay` as `self._cast` makes
        it, and its weight `1 - decay` taken in double (`ema_update`'s `one_minus`, Keras's
        `1 - beta`). Returns both variables, named `name` and `one_minus_<name>`."""
        return (self.hold(name, decay, var_list, cast=True),
                self.hold(f"one_minus_{name}", 1.0 - decay, var_list))


class _Made:
    """The values `Optimizer.fresh_state` collects."""

    def __init__(self, values):
        self.values = values


def _deduplicate(gradient):
    """Sum the rows of a sparse gradient that share an index.

    An `Embedding` looked up twice with the same token yields a
    `tf.IndexedSlices` gradient with that row twice. Linear updates do not
    care, but anything non-linear applied to the slices before they are
    scattered does: AdaGrad's `h += g^2` would add `g_a^2 + g_b^2` instead of
    `(g_a + g_b)^2`, and `clipnorm` would measure the wrong norm (both are
    the case in Keras 3.15's built-ins). Summing duplicates first makes the
    sparse path equal to the dense one.
    """
    if keras.backend.backend() != "tensorflow":
        return gradient
    import tensorflow as tf

    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    unique, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(unique)[0])
    return tf.IndexedSlices(values, unique, gradient.dense_shape)


def step_count(optimizer, variable):
    """The 1-based number of the update being applied, as `variable.dtype`.

    `optimizer.iterations` counts applied updates (it already divides by
    `gradient_accumulation_steps`) and is incremented after `update_step`.
    """
    return ops.cast(optimizer.iterations + 1, variable.dtype)


def ema_update(optimizer, average, value, decay, one_minus=None):
    """`average <- decay * average + (1 - decay) * value`, written as
    `average += (1 - decay) * (value - average)` (Keras's Adam's form).

    `decay` is the Python float hyperparameter, and then `1 - decay` is
    taken in double before it meets the tensor (Keras's Adam and RMSprop), or
    the hyperparameter already cast to a tensor, and then `1 - decay` is
    computed in its dtype (Keras's Nadam). See the module's note. An optimizer
    that holds `1 - decay` in a variable (`Optimizer.hold`) gives it as
    `one_minus` instead.
    """
    weight = 1.0 - decay if one_minus is None else one_minus
    optimizer.assign_add(average, ops.multiply(ops.subtract(value, average), weight))


def bias_correction(decay, step):
    """`1 - decay^t`: the weight an EMA started at 0 has gathered after t steps."""
    return 1.0 - ops.power(decay, step)
