"""AdaBelief: Adam that divides by the spread of g around its average."""

from keras import ops

from custom_optimizers._base import (
    Optimizer,
    bias_correction,
    check_range,
    ema_update,
    register,
    step_count,
)


@register("adabelief")
class AdaBelief(Optimizer):
    r"""AdaBelief: step size from the "belief" in the observed gradient.

    Symbols: `w` a trainable variable, `g` its gradient, `t` the 1-based
    update count, `lr` the `learning_rate`, `b1`/`b2` the `beta_1`/`beta_2`,
    `eps` the `epsilon`, `m` the average of `g` and `s` the average of
    `(g - m)^2` (slots `momentum`/`variance`, start at 0)::

        m <- b1 * m + (1 - b1) * g
        s <- b2 * s + (1 - b2) * (g - m)^2 + eps
        m^ = m / (1 - b1^t);  s^ = s / (1 - b2^t)
        w <- w - lr * m^ / (sqrt(s^) + eps)

    As in Algorithm 2 of the paper, `eps` is added twice: inside the
    average `s` (so it accumulates to about `eps / (1 - b2)`) and outside
    the square root. When `g` stays close to its prediction `m` the step is
    large; when it jumps, the step shrinks. The default `eps` = 1e-16 is the
    one of the authors' released code (adabelief-pytorch >= 0.1): AdaBelief's
    `eps` plays the role of Adam's `eps` squared. Keras has no built-in.

    Reference: Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the
    Belief in Observed Gradients", NeurIPS 2020.

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 0.001.
        beta_1: `b1`, in [0, 1). Defaults to 0.9.
        beta_2: `b2`, in [0, 1). Defaults to 0.999.
        epsilon: `eps`, >= 0. Defaults to 1e-16.
        **kwargs: `keras.optimizers.Optimizer` arguments.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-16, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_range("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = check_range("epsilon", epsilon, 0.0)

    HELD = ("beta_1", "beta_2", "epsilon")

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # the betas as `_cast` makes them, 1 - beta taken in double, and eps (`Optimizer.hold`)
        self._b1, self._one_minus_b1 = self.hold_average("beta_1", self.beta_1, var_list)
        self._b2, self._one_minus_b2 = self.hold_average("beta_2", self.beta_2, var_list)
        self._eps = self.hold("epsilon", self.epsilon, var_list, cast=True)
        self._momentums, self._variances = self.add_optimizer_variables(
            var_list, ["momentum", "variance"]
        )

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = self._cast(learning_rate, variable)
        gradient = self._cast(gradient, variable)
        b1 = self._cast(self._b1, variable)
        b2 = self._cast(self._b2, variable)
        eps = self._cast(self._eps, variable)
        t = step_count(self, variable)
        m = self._momentums[index]
        s = self._variances[index]
        ema_update(self, m, gradient, None, one_minus=self._cast(self._one_minus_b1, variable))
        residual = ops.square(ops.subtract(gradient, m))
        # s <- b2 * s + (1 - b2) * (g - m)^2 + eps, as one update.
        one_minus_b2 = self._cast(self._one_minus_b2, variable)
        self.assign_add(s, ops.add(ops.multiply(ops.subtract(residual, s), one_minus_b2), eps))
        alpha = lr / bias_correction(b1, t)
        denominator = ops.add(ops.divide(ops.sqrt(s), ops.sqrt(bias_correction(b2, t))), eps)
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), denominator))

    def get_config(self):
        config = super().get_config()
        config.update(
            {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
        )
        return config
