"""Gradient descent with momentum, in both of the material's formulations."""

from keras import ops

from custom_optimizers._base import (
    Optimizer,
    check_bool,
    check_choice,
    check_range,
    ema_update,
    register,
)

FORMS = ("velocity", "ewa")


@register("momentum")
class Momentum(Optimizer):
    r"""Gradient descent with momentum.

    Symbols: `w` a trainable variable, `g` its gradient, `lr` the
    `learning_rate`, `mu` the `momentum`, `v` the velocity slot (starts at 0).
    The material uses two formulations interchangeably; `form` picks one.

    `form="velocity"` (default; *Deep Learning from Scratch*, Keras, PyTorch
    up to the sign of `v`)::

        v <- mu * v - lr * g
        w <- w + v

    `form="ewa"` (exponentially weighted average, Deep Learning
    Specialization)::

        v <- mu * v + (1 - mu) * g
        w <- w - lr * v

    With a constant learning rate the two are the same algorithm with
    `lr_velocity = lr_ewa * (1 - mu)`: the EWA form averages gradients, so
    its steps are `1 / (1 - mu)` times smaller for the same `lr`. With a
    changing learning rate they differ: the velocity form bakes past learning
    rates into `v`, the EWA form applies the current rate to the whole average.

    With `nesterov=True` the look-ahead gradient is used (see `Nesterov`,
    which is this class with `nesterov=True`)::

        velocity form:  v <- mu * v - lr * g;        w <- w + mu * v - lr * g
        ewa form:       v <- mu * v + (1 - mu) * g;  w <- w - lr * (mu * v + (1 - mu) * g)

    `Momentum(form="velocity")` is exactly `keras.optimizers.SGD(momentum=mu)`
    and `Momentum(nesterov=True)` is `keras.optimizers.SGD(momentum=mu,
    nesterov=True)`.

    Reference: Polyak, "Some methods of speeding up the convergence of
    iteration methods", 1964; Sutskever et al., "On the importance of
    initialization and momentum in deep learning", ICML 2013.

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 0.01.
        momentum: `mu` (the material's `mu` or `beta`), in [0, 1).
            Defaults to 0.9. (`keras.optimizers.SGD` accepts 1; here it is
            refused: at `mu = 1` the "ewa" form never moves, `v` stays 0,
            and the "velocity" form never forgets a gradient.)
        form: `"velocity"` or `"ewa"`, see above. Defaults to `"velocity"`.
        nesterov: use Nesterov's look-ahead gradient. Defaults to False.
        **kwargs: `keras.optimizers.Optimizer` arguments (`weight_decay`,
            `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`, ...).
    """

    def __init__(
        self, learning_rate=0.01, momentum=0.9, form="velocity", nesterov=False, **kwargs
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = check_range("momentum", momentum, 0.0, 1.0, high_open=True)
        self.form = check_choice("form", form, FORMS)
        self.nesterov = check_bool("nesterov", nesterov)

    HELD = ("momentum",)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # mu (as `_cast` made it) and 1 - mu (taken in double) in variables
        self._mu, self._one_minus_mu = self.hold_average("momentum", self.momentum, var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        lr = self._cast(learning_rate, variable)
        gradient = self._cast(gradient, variable)
        mu = self._cast(self._mu, variable)
        one_minus_mu = self._cast(self._one_minus_mu, variable)
        v = self._velocities[self._get_variable_index(variable)]
        if self.form == "velocity":
            self.assign(v, ops.subtract(ops.multiply(v, mu), ops.multiply(gradient, lr)))
            if self.nesterov:
                step = ops.subtract(ops.multiply(v, mu), ops.multiply(gradient, lr))
            else:
                step = v
            self.assign_add(variable, step)
        else:
            ema_update(self, v, gradient, None, one_minus=one_minus_mu)
            if self.nesterov:
                direction = ops.add(ops.multiply(v, mu), ops.multiply(gradient, one_minus_mu))
            else:
                direction = v
            self.assign_sub(variable, ops.multiply(direction, lr))

    def get_config(self):
        config = super().get_config()
        config.update(
            {"momentum": self.momentum, "form": self.form, "nesterov": self.nesterov}
        )
        return config
