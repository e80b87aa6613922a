"""AdamW: Adam with decoupled weight decay."""

from custom_optimizers._base import check_range, register
from custom_optimizers.adam import Adam


@register("adamw")
class AdamW(Adam):
    r"""AdamW: `Adam` with decoupled weight decay, on by default.

    Symbols as in `Adam`, and `wd` the `weight_decay`. Before each update
    the weights shrink towards zero, apart from the gradient (Keras's base
    class applies it, as for every optimizer's `weight_decay=`)::

        w <- w - lr * wd * w
        m <- b1 * m + (1 - b1) * g;  v <- b2 * v + (1 - b2) * g^2
        m^ = m / (1 - b1^t);  v^ = v / (1 - b2^t)
        w <- w - lr * m^ / (sqrt(v^) + eps)

    Unlike L2 regularisation (`g + wd * w` fed to Adam), the decay is not
    divided by `sqrt(v^)`, so weights with large gradients decay as much as
    the others. The decay is multiplied by the learning rate, as in Keras
    and PyTorch (`wd` here is their `weight_decay`; optax's `adamw` too; the
    paper's schedule multiplier `eta_t` is the learning rate's schedule).

    Defaults: `weight_decay=0.004` as `keras.optimizers.AdamW` (PyTorch uses
    0.01), and the material's epsilon convention as the suite's `Adam`
    (eps = 1e-8 outside the root of the bias-corrected `v^`).
    `AdamW(epsilon=1e-7, epsilon_hat=True)` is exactly
    `keras.optimizers.AdamW()`.

    Reference: Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
    ICLR 2019.

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 0.001.
        weight_decay: `wd`, >= 0. Defaults to 0.004.
        beta_1, beta_2, epsilon, amsgrad, epsilon_hat: as `Adam`.
        **kwargs: `keras.optimizers.Optimizer` arguments.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, **kwargs):
        weight_decay = check_range("weight_decay", weight_decay, 0.0)
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, **kwargs)
