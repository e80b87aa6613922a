"""The suite's optimizers configured to Keras's conventions, beside the Keras
built-ins they then equal: name -> (ours, built-in), both zero-argument
factories. Tested to give bit-identical trajectories in float32 models
(tests/custom_optimizers/test_keras_parity.py) and timed against each other
(benchmarks/optimizer_step.py). Bit-identical to Keras's generic built-ins,
which the TensorFlow and JAX back-ends run; on PyTorch Keras swaps in
`torch._foreach` rewrites of them, which the twins equal to float32 round-off
(also tested there).

What remains, in float64 models only: Keras's Adam, AdamW, Adagrad, Nadam and
RMSprop add `epsilon` (RMSprop also multiplies by `rho` and `momentum`) as
Python floats, exact in double, while the suite casts every hyperparameter
through float32 (see `custom_optimizers._base`); after 48 steps of the parity
test in float64 the weights differ by 1e-16 (adagrad) to 1.4e-11 (adam) and
2.4e-7 (centred RMSprop with momentum). In float32 the two roundings coincide.
"""

import keras

from custom_optimizers.adagrad import AdaGrad
from custom_optimizers.adam import Adam
from custom_optimizers.adamw import AdamW
from custom_optimizers.lion import Lion
from custom_optimizers.momentum import Momentum
from custom_optimizers.nadam import Nadam
from custom_optimizers.nesterov import Nesterov
from custom_optimizers.rmsprop import RMSProp
from custom_optimizers.sgd import SGD

KERAS_TWINS = {
    "sgd": (lambda: SGD(0.01), lambda: keras.optimizers.SGD(0.01)),
    "momentum": (
        lambda: Momentum(0.01, momentum=0.9),
        lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    ),
    "nesterov": (
        lambda: Nesterov(0.01, momentum=0.9),
        lambda: keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
    ),
    "adagrad": (
        lambda: AdaGrad(0.001, initial_accumulator_value=0.1, epsilon_inside_sqrt=True),
        lambda: keras.optimizers.Adagrad(),
    ),
    "rmsprop": (
        lambda: RMSProp(0.001, rho=0.9, epsilon_inside_sqrt=True),
        lambda: keras.optimizers.RMSprop(),
    ),
    "rmsprop_centered_momentum": (
        lambda: RMSProp(0.001, rho=0.9, momentum=0.5, centered=True, epsilon_inside_sqrt=True),
        lambda: keras.optimizers.RMSprop(momentum=0.5, centered=True),
    ),
    "adam": (lambda: Adam(epsilon=1e-7, epsilon_hat=True), lambda: keras.optimizers.Adam()),
    "amsgrad": (
        lambda: Adam(epsilon=1e-7, epsilon_hat=True, amsgrad=True),
        lambda: keras.optimizers.Adam(amsgrad=True),
    ),
    "adamw": (
        lambda: AdamW(epsilon=1e-7, epsilon_hat=True),
        lambda: keras.optimizers.AdamW(weight_decay=0.004),
    ),
    "nadam": (
        lambda: Nadam(0.001, epsilon=1e-7, momentum_decay=1.0),
        lambda: keras.optimizers.Nadam(),
    ),
    "lion": (lambda: Lion(0.001), lambda: keras.optimizers.Lion()),
}
