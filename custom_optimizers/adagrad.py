"""AdaGrad: per-coordinate step sizes from the sum of squared gradients."""

from keras import initializers, ops

from custom_optimizers._base import Optimizer, check_bool, check_range, register


@register("adagrad")
class AdaGrad(Optimizer):
    r"""AdaGrad, in the material's form by default.

    Symbols: `w` a trainable variable, `g` its gradient, `lr` the
    `learning_rate`, `h` the accumulator slot (starts at
    `initial_accumulator_value`), `eps` the `epsilon`::

        h <- h + g * g
        w <- w - lr * g / (sqrt(h) + eps)          # default
        w <- w - lr * g / sqrt(h + eps)            # epsilon_inside_sqrt=True

    Departures: the material (*Deep Learning from Scratch*) starts `h` at 0
    and adds `eps` outside the square root, and so does this class by
    default. `keras.optimizers.Adagrad` starts `h` at 0.1 and adds `eps`
    inside the square root, with a default learning rate of 0.001;
    `AdaGrad(learning_rate=0.001, initial_accumulator_value=0.1,
    epsilon_inside_sqrt=True)` is exactly the Keras built-in. With `h`
    starting at 0 the first step is `lr * g / (|g| + eps)`, about `lr` in
    every coordinate (sign descent); Keras's 0.1 damps the first steps of
    coordinates whose gradients are small compared with sqrt(0.1).

    Reference: Duchi, Hazan & Singer, "Adaptive Subgradient Methods for
    Online Learning and Stochastic Optimization", JMLR 2011.

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 0.01 (the material's).
        epsilon: `eps`, >= 0. Defaults to 1e-7.
        initial_accumulator_value: starting value of `h`, >= 0. Defaults to 0.
        epsilon_inside_sqrt: use Keras's `sqrt(h + eps)`. Defaults to False.
        **kwargs: `keras.optimizers.Optimizer` arguments.
    """

    def __init__(
        self,
        learning_rate=0.01,
        epsilon=1e-7,
        initial_accumulator_value=0.0,
        epsilon_inside_sqrt=False,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.epsilon = check_range("epsilon", epsilon, 0.0)
        self.initial_accumulator_value = check_range(
            "initial_accumulator_value", initial_accumulator_value, 0.0
        )
        self.epsilon_inside_sqrt = check_bool("epsilon_inside_sqrt", epsilon_inside_sqrt)

    HELD = ("epsilon",)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._eps = self.hold("epsilon", self.epsilon, var_list, cast=True)  # as `_cast` makes it
        self._accumulators = self.add_optimizer_variables(
            var_list,
            "accumulator",
            initializer=initializers.Constant(self.initial_accumulator_value),
        )

    def update_step(self, gradient, variable, learning_rate):
        lr = self._cast(learning_rate, variable)
        gradient = self._cast(gradient, variable)
        eps = self._cast(self._eps, variable)
        h = self._accumulators[self._get_variable_index(variable)]
        self.assign_add(h, ops.square(gradient))
        if self.epsilon_inside_sqrt:
            denominator = ops.sqrt(ops.add(h, eps))
        else:
            denominator = ops.add(ops.sqrt(h), eps)
        self.assign_sub(variable, ops.divide(ops.multiply(lr, gradient), denominator))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "epsilon": self.epsilon,
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon_inside_sqrt": self.epsilon_inside_sqrt,
            }
        )
        return config
