"""Adam (and AMSGrad): bias-corrected averages of g and g^2."""

from keras import ops

from custom_optimizers._base import (
    Optimizer,
    bias_correction,
    check_bool,
    check_range,
    ema_update,
    register,
    step_count,
)


@register("adam")
class Adam(Optimizer):
    r"""Adam, with the material's explicit bias correction by default.

    Symbols: `w` a trainable variable, `g` its gradient, `t` the 1-based
    update count, `lr` the `learning_rate`, `b1`/`b2` the `beta_1`/`beta_2`
    decay rates, `eps` the `epsilon`, `m`/`v` the first/second moment slots
    (`momentum`/`velocity`, both start at 0)::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g^2
        v_max <- max(v_max, v);  v <- v_max        # amsgrad=True only
        m^ = m / (1 - b1^t);  v^ = v / (1 - b2^t)
        w <- w - lr * m^ / (sqrt(v^) + eps)        # default (the material, the paper's Algorithm 1)

    `epsilon_hat=True` folds the bias correction into the step size, as the
    textbook's code, the paper's "more efficient" ordering and
    `keras.optimizers.Adam` do; `eps` is then the paper's epsilon-hat::

        lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)
        w <- w - lr_t * m / (sqrt(v) + eps)

    The two agree except for the size of `eps` relative to `sqrt(v^)`: the
    folded form equals the explicit one with `eps` replaced by
    `eps / sqrt(1 - b2^t)` (31.6 * eps at t = 1 with b2 = 0.999).
    `Adam(epsilon=1e-7, epsilon_hat=True)` (with any `amsgrad`) is exactly
    `keras.optimizers.Adam`; `AdamW` adds decoupled weight decay
    (`weight_decay=`, default 0.004, as `keras.optimizers.AdamW`).

    AMSGrad keeps the running maximum of the raw `v` and bias-corrects it as
    `v` would be (as PyTorch and Keras do; Reddi et al. use no bias
    correction at all).

    References: Kingma & Ba, "Adam: A Method for Stochastic Optimization",
    ICLR 2015; Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond",
    ICLR 2018; Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
    ICLR 2019.

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 0.001.
        beta_1: `b1`, in [0, 1). Defaults to 0.9.
        beta_2: `b2`, in [0, 1). Defaults to 0.999.
        epsilon: `eps`, >= 0. Defaults to 1e-8 (the material's and the
            paper's; Keras uses 1e-7).
        amsgrad: use the running maximum of `v`. Defaults to False.
        epsilon_hat: fold the bias correction into the step size (Keras's
            form). Defaults to False.
        **kwargs: `keras.optimizers.Optimizer` arguments.
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        epsilon_hat=False,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_range("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = check_range("epsilon", epsilon, 0.0)
        self.amsgrad = check_bool("amsgrad", amsgrad)
        self.epsilon_hat = check_bool("epsilon_hat", epsilon_hat)

    HELD = ("beta_1", "beta_2", "epsilon")

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # the betas as `_cast` makes them, 1 - beta taken in double, and eps (`Optimizer.hold`)
        self._b1, self._one_minus_b1 = self.hold_average("beta_1", self.beta_1, var_list)
        self._b2, self._one_minus_b2 = self.hold_average("beta_2", self.beta_2, var_list)
        self._eps = self.hold("epsilon", self.epsilon, var_list, cast=True)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        self._velocity_hats = []
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = self._cast(learning_rate, variable)
        gradient = self._cast(gradient, variable)
        b1 = self._cast(self._b1, variable)
        b2 = self._cast(self._b2, variable)
        eps = self._cast(self._eps, variable)
        t = step_count(self, variable)
        m = self._momentums[index]
        v = self._velocities[index]
        ema_update(self, m, gradient, None, one_minus=self._cast(self._one_minus_b1, variable))
        ema_update(self, v, ops.square(gradient), None, one_minus=self._cast(self._one_minus_b2, variable))
        if self.amsgrad:
            v_max = self._velocity_hats[index]
            self.assign(v_max, ops.maximum(v_max, v))
            v = v_max
        correction_1 = bias_correction(b1, t)
        correction_2 = bias_correction(b2, t)
        if self.epsilon_hat:
            alpha = lr * ops.sqrt(correction_2) / correction_1
            denominator = ops.add(ops.sqrt(v), eps)
        else:
            alpha = lr / correction_1
            denominator = ops.add(ops.divide(ops.sqrt(v), ops.sqrt(correction_2)), eps)
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), denominator))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
                "epsilon_hat": self.epsilon_hat,
            }
        )
        return config
