"""Nadam: Adam with Nesterov momentum and Dozat's momentum schedule."""

from keras import ops

from custom_optimizers._base import (
    Optimizer,
    bias_correction,
    check_range,
    ema_update,
    register,
    step_count,
)


@register("nadam")
class Nadam(Optimizer):
    r"""Nadam (Nesterov-accelerated Adam), as in Dozat's paper.

    Symbols: `w` a trainable variable, `g` its gradient, `t` the 1-based
    update count, `lr` the `learning_rate`, `b1`/`b2` the `beta_1`/`beta_2`,
    `psi` the `momentum_decay`, `eps` the `epsilon`; `m`, `v` start at 0 and
    `P` (slot `mu_product`, one scalar per variable) at 1::

        mu_t = b1 * (1 - 0.5 * 0.96^(t * psi))             # momentum schedule
        P <- P * mu_t                                       # P_t = mu_1 ... mu_t
        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g^2
        m^ = mu_{t+1} * m / (1 - P_t * mu_{t+1}) + (1 - mu_t) * g / (1 - P_t)
        v^ = v / (1 - b2^t)
        w <- w - lr * m^ / (sqrt(v^) + eps)

    Defaults follow the paper (psi = 0.004, i.e. 0.96^(t/250)) and PyTorch's
    `NAdam` (learning rate 0.002, eps 1e-8). Departure of the Keras
    built-in: `keras.optimizers.Nadam` uses `0.96^t` (psi = 1), so its
    momentum reaches `b1` within a few dozen steps instead of thousands, and
    eps = 1e-7, learning rate 0.001. `Nadam(learning_rate=0.001,
    epsilon=1e-7, momentum_decay=1.0)` is exactly the Keras built-in.

    Reference: Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016
    workshop.

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 0.002.
        beta_1: `b1`, in [0, 1). Defaults to 0.9.
        beta_2: `b2`, in [0, 1). Defaults to 0.999.
        epsilon: `eps`, >= 0. Defaults to 1e-8.
        momentum_decay: `psi`, >= 0. Defaults to 0.004.
        **kwargs: `keras.optimizers.Optimizer` arguments.
    """

    def __init__(
        self,
        learning_rate=0.002,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        momentum_decay=0.004,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_range("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = check_range("epsilon", epsilon, 0.0)
        self.momentum_decay = check_range("momentum_decay", momentum_decay, 0.0)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        # One scalar per variable (not one shared scalar updated in
        # `_backend_update_step`, as Keras does) so that every update happens
        # inside `update_step`, where tf.distribute places it correctly.
        self._mu_products = [
            self.add_variable(
                shape=(), initializer="ones", dtype=var.dtype, name="mu_product"
            )
            for var in var_list
        ]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = self._cast(learning_rate, variable)
        gradient = self._cast(gradient, variable)
        b1 = self._cast(self.beta_1, variable)
        b2 = self._cast(self.beta_2, variable)
        eps = self._cast(self.epsilon, variable)
        psi = self._cast(self.momentum_decay, variable)
        decay = self._cast(0.96, variable)
        t = step_count(self, variable)
        mu_t = b1 * (1.0 - 0.5 * ops.power(decay, t * psi))
        mu_next = b1 * (1.0 - 0.5 * ops.power(decay, (t + 1.0) * psi))
        product = self._mu_products[index]
        # (P * b1) * (1 - 0.5 * 0.96^(t psi)), in Keras's order of operations.
        self.assign(product, product * b1 * (1.0 - 0.5 * ops.power(decay, t * psi)))
        product_t = ops.cast(product, variable.dtype)

        m = self._momentums[index]
        v = self._velocities[index]
        # `1 - b` from the cast b, as keras.optimizers.Nadam (see _base).
        ema_update(self, m, gradient, b1)
        ema_update(self, v, ops.square(gradient), b2)
        m_hat = ops.add(
            ops.divide(ops.multiply(mu_next, m), 1.0 - product_t * mu_next),
            ops.divide(ops.multiply(1.0 - mu_t, gradient), 1.0 - product_t),
        )
        v_hat = ops.divide(v, bias_correction(b2, t))
        self.assign_sub(
            variable,
            ops.divide(ops.multiply(m_hat, lr), ops.add(ops.sqrt(v_hat), eps)),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "momentum_decay": self.momentum_decay,
            }
        )
        return config
