"""Plain (stochastic / mini-batch / batch) gradient descent."""

from keras import ops

from custom_optimizers._base import Optimizer, register


@register("sgd")
class SGD(Optimizer):
    r"""Gradient descent: `w <- w - lr * g`.

    Symbols: `w` a trainable variable, `g` its gradient, `lr` the
    `learning_rate`. Whether this is batch, mini-batch or stochastic gradient
    descent is decided by the batch size the data is fed with, not here.

    Same update as `keras.optimizers.SGD(momentum=0.0)`; the material's
    textbook `SGD` class (*Deep Learning from Scratch*, `common/optimizer.py`)
    uses the same default learning rate, 0.01.

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 0.01.
        **kwargs: `keras.optimizers.Optimizer` arguments (`weight_decay`,
            `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`,
            `ema_momentum`, `ema_overwrite_frequency`, `loss_scale_factor`,
            `gradient_accumulation_steps`, `name`).
    """

    def __init__(self, learning_rate=0.01, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        lr = self._cast(learning_rate, variable)
        gradient = self._cast(gradient, variable)
        self.assign_sub(variable, ops.multiply(gradient, lr))
