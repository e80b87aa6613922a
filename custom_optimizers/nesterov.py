"""Nesterov accelerated gradient, the standard (Keras / PyTorch) form."""

from custom_optimizers._base import register
from custom_optimizers.momentum import Momentum


@register("nesterov")
class Nesterov(Momentum):
    r"""Nesterov accelerated gradient (momentum with a look-ahead gradient).

    Symbols: `w` a trainable variable, `g` its gradient at `w`, `lr` the
    `learning_rate`, `mu` the `momentum`, `v` the velocity (starts at 0).
    Nesterov's method evaluates the gradient at the look-ahead point
    `w + mu * v`; substituting `w' = w + mu * v` (Sutskever et al., 2013,
    as Keras and PyTorch do) gives an update that needs only `g(w')`::

        v <- mu * v - lr * g
        w <- w + mu * v - lr * g          # mu * v uses the *new* v

    Equivalently, in terms of the old velocity `v_old`:
    `w <- w + mu^2 * v_old - (1 + mu) * lr * g`. This class is
    `Momentum(nesterov=True)` and matches `keras.optimizers.SGD(momentum=mu,
    nesterov=True)` exactly. `form="ewa"` gives the exponentially weighted
    average form (see `Momentum`).

    How the textbook differs: *Deep Learning from Scratch*'s `Nesterov` class
    does `v = mu*v - lr*g; w += mu*mu*v - (1+mu)*lr*g`, i.e. it applies the
    formula meant for the old velocity to the already updated one. Written
    out, its step is `mu^2 * v_old - (1 + mu + mu^2) * lr * g`: the current
    gradient is counted with weight `1 + mu + mu^2` (2.71 at mu = 0.9)
    instead of `1 + mu` (1.9), so it takes larger, less damped steps than
    Nesterov's method. It is not reproduced here.

    Reference: Nesterov, "A method for solving the convex programming problem
    with convergence rate O(1/k^2)", 1983; Sutskever et al., ICML 2013.

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 0.01.
        momentum: `mu`, in [0, 1). Defaults to 0.9.
        form: `"velocity"` or `"ewa"`. Defaults to `"velocity"`.
        **kwargs: `keras.optimizers.Optimizer` arguments.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, form="velocity", **kwargs):
        super().__init__(
            learning_rate=learning_rate, momentum=momentum, form=form, nesterov=True, **kwargs
        )

    def get_config(self):
        config = super().get_config()
        del config["nesterov"]  # always True here, not an argument
        return config
