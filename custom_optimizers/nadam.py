"""Nadam: Adam with Nesterov momentum and Dozat's momentum schedule."""

import keras
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
    `P` (`mu_product`, one scalar shared by all variables) at 1::

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

    `t` counts the optimizer's steps (`iterations + 1`), for every variable
    alike, and so does `P_t`: it advances once per step, also for a variable
    whose gradient is `None` at some steps (which then keeps its `m` and `v`).
    That is Keras's convention and the consistent one: `mu_t`, `mu_{t+1}` and
    the bias correction `1 - b2^t` are all indexed by the global step, and
    `P_t = mu_1 ... mu_t` is their product; a product advanced only on a
    variable's own updates would pair `P` of one step count with `mu` of
    another (0.032 apart from Keras after 20 steps with every other gradient
    skipped, in the issue-13 probe).

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

    HELD = ("beta_1", "beta_2", "epsilon")

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # the betas and eps as `_cast` makes them (`Optimizer.hold`); 1 - beta is taken from them
        self._b1 = self.hold("beta_1", self.beta_1, var_list, cast=True)
        self._b2 = self.hold("beta_2", self.beta_2, var_list, cast=True)
        self._eps = self.hold("epsilon", self.epsilon, var_list, cast=True)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        # One product for all variables, advanced once per step (see the
        # docstring). It advances in the first `update_step` of a step, which
        # `mu_product_step` records, rather than in `_backend_update_step` as
        # Keras's does: every update then happens inside `update_step`, where
        # tf.distribute places it on each replica.
        dtype = var_list[0].dtype if var_list else keras.backend.floatx()
        self._mu_product = self.add_variable(
            shape=(), initializer="ones", dtype=dtype, name="mu_product"
        )
        self._mu_product_step = self.add_variable(
            shape=(), initializer="zeros", dtype=self.iterations.dtype, name="mu_product_step"
        )

    def _advance_mu_product(self):
        """`P <- P * mu_t` unless this step has advanced it already; returns `P_t`."""
        product = self._mu_product
        step = self.iterations + 1
        t = ops.cast(step, product.dtype)
        b1 = ops.cast(self._b1, product.dtype)
        decay = ops.cast(0.96, product.dtype)
        psi = ops.cast(self.momentum_decay, product.dtype)
        # (P * b1) * (1 - 0.5 * 0.96^(t psi)), in Keras's order of operations.
        advanced = product * b1 * (1.0 - 0.5 * ops.power(decay, t * psi))
        product_t = ops.where(ops.less(self._mu_product_step, step), advanced, ops.convert_to_tensor(product))
        self.assign(product, product_t)
        self.assign(self._mu_product_step, step)
        return product_t

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = self._cast(learning_rate, variable)
        gradient = self._cast(gradient, variable)
        b1 = self._cast(self._b1, variable)
        b2 = self._cast(self._b2, variable)
        eps = self._cast(self._eps, variable)
        psi = self._cast(self.momentum_decay, variable)
        decay = self._cast(0.96, variable)
        t = step_count(self, variable)
        mu_t = b1 * (1.0 - 0.5 * ops.power(decay, t * psi))
        mu_next = b1 * (1.0 - 0.5 * ops.power(decay, (t + 1.0) * psi))
        product_t = ops.cast(self._advance_mu_product(), variable.dtype)

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
