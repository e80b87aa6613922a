"""RMSProp: AdaGrad with an exponentially weighted average of g^2."""

from keras import ops

from custom_optimizers._base import Optimizer, check_bool, check_range, register


@register("rmsprop")
class RMSProp(Optimizer):
    r"""RMSProp, in the material's form by default, with `centered` and `momentum`.

    Symbols: `w` a trainable variable, `g` its gradient, `lr` the
    `learning_rate`, `rho` the decay rate (`rho`; the textbook's
    `decay_rate`, the Deep Learning Specialization's `beta_2`), `eps` the
    `epsilon`, `s` the average of `g^2` (slot `velocity`, starts at 0)::

        s <- rho * s + (1 - rho) * g^2
        d <- s                                     # centered=False
        d <- s - a^2,  a <- rho * a + (1 - rho) * g     # centered=True
        u <- lr * g / (sqrt(d) + eps)              # default
        u <- lr * g / sqrt(d + eps)                # epsilon_inside_sqrt=True
        w <- w - u                                 # momentum=0
        b <- momentum * b + u;  w <- w - b         # momentum>0

    `s` averages about `1 / (1 - rho)` recent squared gradients (d2l uses
    rho = 0.9, the textbook 0.99). At `rho = 1` the average never moves from
    its starting value 0, so the step is `lr * g / eps` and no longer adapts
    (the material's question; expect divergence). `centered=True` divides by
    an estimate of the gradient's variance instead of its second moment.

    Departure: the material adds `eps` outside the square root, and so does
    this class by default; `keras.optimizers.RMSprop` adds it inside and
    defaults to `learning_rate=0.001, rho=0.9`.
    `RMSProp(learning_rate=0.001, rho=0.9, epsilon_inside_sqrt=True)` (with
    any `momentum` and `centered`) is exactly the Keras built-in.

    Reference: Tieleman & Hinton, COURSERA "Neural Networks for Machine
    Learning", lecture 6.5, 2012; Graves, "Generating Sequences With
    Recurrent Neural Networks", 2013 (centered form).

    Args:
        learning_rate: positive float, `LearningRateSchedule` or callable.
            Defaults to 0.01 (the textbook's).
        rho: decay of the average of `g^2`, in [0, 1]. Defaults to 0.99.
        momentum: heavy-ball momentum on the scaled step, in [0, 1).
            Defaults to 0 (none).
        epsilon: `eps`, >= 0. Defaults to 1e-7.
        centered: divide by the centred second moment. Defaults to False.
        epsilon_inside_sqrt: use Keras's `sqrt(d + eps)`. Defaults to False.
        **kwargs: `keras.optimizers.Optimizer` arguments.
    """

    def __init__(
        self,
        learning_rate=0.01,
        rho=0.99,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        epsilon_inside_sqrt=False,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = check_range("rho", rho, 0.0, 1.0)
        self.momentum = check_range("momentum", momentum, 0.0, 1.0, high_open=True)
        self.epsilon = check_range("epsilon", epsilon, 0.0)
        self.centered = check_bool("centered", centered)
        self.epsilon_inside_sqrt = check_bool("epsilon_inside_sqrt", epsilon_inside_sqrt)

    #: Not held: `momentum` (whether it is 0 decides the slots, and so the update's graph), and
    #: `epsilon`: TensorFlow's graph optimiser rewrites Keras's `v - a^2 + eps` when eps is a
    #: number, and the centred twin would then differ from Keras's RMSprop by an ulp in `fit`.
    HELD = ("rho",)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # rho as `_cast` makes it and 1 - rho taken in double (`Optimizer.hold`)
        self._rho, self._one_minus_rho = self.hold_average("rho", self.rho, var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(
                var_list, "average_gradient"
            )

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = self._cast(learning_rate, variable)
        gradient = self._cast(gradient, variable)
        rho = self._cast(self._rho, variable)
        one_minus_rho = self._cast(self._one_minus_rho, variable)
        eps = self._cast(self.epsilon, variable)
        s = self._velocities[index]
        # Written `rho * s + (1 - rho) * x`, as Keras's RMSprop does (not
        # `s += (1 - rho) * (x - s)`), so that the twin is bit-identical.
        self.assign(s, _average(s, ops.square(gradient), rho, one_minus_rho))
        d = s
        if self.centered:
            a = self._average_gradients[index]
            self.assign(a, _average(a, gradient, rho, one_minus_rho))
            d = ops.subtract(s, ops.square(a))
        if self.epsilon_inside_sqrt:
            denominator = ops.sqrt(ops.add(d, eps))
        else:
            denominator = ops.add(ops.sqrt(d), eps)
        increment = ops.divide(ops.multiply(lr, gradient), denominator)
        if self.momentum > 0:
            b = self._momentums[index]
            momentum = self._cast(self.momentum, variable)
            self.assign(b, ops.add(ops.multiply(momentum, b), increment))
            increment = b
        self.assign_sub(variable, increment)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rho": self.rho,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "centered": self.centered,
                "epsilon_inside_sqrt": self.epsilon_inside_sqrt,
            }
        )
        return config


def _average(average, value, rho, one_minus_rho):
    """`rho * average + (1 - rho) * value`, `1 - rho` taken in double (held: `one_minus_rho`)."""
    return ops.add(ops.multiply(rho, average), ops.multiply(one_minus_rho, value))
