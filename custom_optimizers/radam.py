"""RAdam: Adam whose adaptive step is switched on once its variance is tractable."""

from keras import ops

from custom_optimizers._base import (
    Optimizer,
    bias_correction,
    check_range,
    ema_update,
    register,
    step_count,
)


@register("radam")
class RAdam(Optimizer):
    r"""Rectified Adam.

    Symbols: `w` a trainable variable, `g` its gradient, `t` the 1-based
    update count, `lr` the `learning_rate`, `b1`/`b2` the `beta_1`/`beta_2`,
    `eps` the `epsilon`, `m`/`v` the moment slots (start at 0)::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g^2
        m^ = m / (1 - b1^t);  v^ = v / (1 - b2^t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2^t / (1 - b2^t)   # length of the SMA that v^ approximates
        if rho_t > sma_threshold:                     # variance of 1/sqrt(v^) is tractable
            r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            w <- w - lr * r * m^ / (sqrt(v^) + eps)
        else:                                         # first few steps: momentum SGD
            w <- w - lr * m^

    Follows Algorithm 2 of the paper, threshold `rho_t > 4`. The authors'
    code and `torch.optim.RAdam` use 5 (`sma_threshold=5.0`); the paper's
    update has no `eps` (PyTorch adds it as `sqrt(1 - b2^t) / (sqrt(v) +
    eps)`, i.e. epsilon-hat); here `eps` sits outside `sqrt(v^)` as in the
    suite's `Adam`. Keras has no built-in RAdam.

    Reference: Liu et al., "On the Variance of the Adaptive Learning Rate and
    Beyond", ICLR 2020.

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 0.001.
        beta_1: `b1`, in [0, 1). Defaults to 0.9.
        beta_2: `b2`, in [0, 1). Defaults to 0.999.
        epsilon: `eps`, >= 0. Defaults to 1e-8.
        sma_threshold: rectify once `rho_t` exceeds this, >= 4. Defaults to 4.
        **kwargs: `keras.optimizers.Optimizer` arguments.
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        sma_threshold=4.0,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_range("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = check_range("epsilon", epsilon, 0.0)
        self.sma_threshold = check_range("sma_threshold", sma_threshold, 4.0)

    #: Not held: `beta_2`. TensorFlow's graph optimiser rewrites the rectifier's arithmetic on
    #: rho_inf when it is a number, and `fit` would then differ from it by an ulp.
    HELD = ("beta_1", "epsilon")

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # beta_1 as `_cast` makes it, 1 - beta_1 taken in double, and eps (`Optimizer.hold`)
        self._b1, self._one_minus_b1 = self.hold_average("beta_1", self.beta_1, var_list)
        self._eps = self.hold("epsilon", self.epsilon, var_list, cast=True)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = self._cast(learning_rate, variable)
        gradient = self._cast(gradient, variable)
        b1 = self._cast(self._b1, variable)
        b2 = self._cast(self.beta_2, variable)
        eps = self._cast(self._eps, variable)
        t = step_count(self, variable)
        m = self._momentums[index]
        v = self._velocities[index]
        ema_update(self, m, gradient, None, one_minus=self._cast(self._one_minus_b1, variable))
        ema_update(self, v, ops.square(gradient), self.beta_2)
        correction_2 = bias_correction(b2, t)
        m_hat = ops.divide(m, bias_correction(b1, t))

        rho_inf = 2.0 / (1.0 - self.beta_2) - 1.0  # in double, as optax and PyTorch
        rho_t = rho_inf - 2.0 * t * ops.power(b2, t) / correction_2
        rectified = rho_t > self._cast(self.sma_threshold, variable)
        # Clamped so the branch not taken never takes the root of a negative.
        rho_safe = ops.maximum(rho_t, 4.0)
        r = ops.sqrt(
            (rho_safe - 4.0) * (rho_safe - 2.0) * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_safe)
        )
        adaptive = ops.divide(
            r, ops.add(ops.divide(ops.sqrt(v), ops.sqrt(correction_2)), eps)
        )
        scale = ops.where(rectified, adaptive, ops.ones_like(adaptive))
        self.assign_sub(variable, ops.multiply(ops.multiply(m_hat, scale), lr))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "sma_threshold": self.sma_threshold,
            }
        )
        return config
