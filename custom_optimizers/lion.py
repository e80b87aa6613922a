"""Lion: sign of an interpolated momentum (evolved sign momentum)."""

from keras import ops

from custom_optimizers._base import Optimizer, check_range, register


@register("lion")
class Lion(Optimizer):
    r"""Lion (EvoLved Sign Momentum).

    Symbols: `w` a trainable variable, `g` its gradient, `lr` the
    `learning_rate`, `b1`/`b2` the `beta_1`/`beta_2`, `m` the momentum slot
    (starts at 0)::

        c = b1 * m + (1 - b1) * g          # interpolation used for the step
        w <- w - lr * sign(c)
        m <- b2 * m + (1 - b2) * g         # slower average kept for next time

    Every coordinate moves by exactly `lr` (or 0), so Lion wants a learning
    rate 3-10x smaller than Adam's; the paper's default is 1e-4, used here.
    Decoupled weight decay (`weight_decay=`) is applied as in the paper,
    `w <- w - lr * wd * w`. Same algorithm as `keras.optimizers.Lion`, whose
    default learning rate is 0.001; `Lion(learning_rate=0.001)` is exactly
    the Keras built-in.

    Reference: Chen et al., "Symbolic Discovery of Optimization Algorithms",
    NeurIPS 2023.

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 1e-4.
        beta_1: `b1`, in [0, 1]. Defaults to 0.9. (`keras.optimizers.Lion`
            refuses 0; here it is allowed: the update is then `sign(g)`,
            signSGD, a well-defined method.)
        beta_2: `b2`, in [0, 1). Defaults to 0.99.
        **kwargs: `keras.optimizers.Optimizer` arguments.
    """

    def __init__(self, learning_rate=1e-4, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = check_range("beta_2", beta_2, 0.0, 1.0, high_open=True)

    HELD = ("beta_1", "beta_2")

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # the betas as `_cast` makes them (`Optimizer.hold`); 1 - beta is taken from them
        self._b1 = self.hold("beta_1", self.beta_1, var_list, cast=True)
        self._b2 = self.hold("beta_2", self.beta_2, var_list, cast=True)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        lr = self._cast(learning_rate, variable)
        gradient = self._cast(gradient, variable)
        b1 = self._cast(self._b1, variable)
        b2 = self._cast(self._b2, variable)
        m = self._momentums[self._get_variable_index(variable)]
        # As keras.optimizers.Lion computes it, `1 - b` in the variable's
        # dtype (not in double as the suite's other averages; see _base).
        c = ops.add(ops.multiply(m, b1), ops.multiply(gradient, 1.0 - b1))
        self.assign_sub(variable, ops.multiply(lr, ops.sign(c)))
        self.assign(m, ops.add(ops.multiply(m, b2), ops.multiply(gradient, 1.0 - b2)))

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2})
        return config
