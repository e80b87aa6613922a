"""The material's multilayer perceptrons: `moons_net`, `mnist_mlp`, `softmax_regression` and
`mlp` (optionally batch-normalised), with the material's He initialisation."""

from __future__ import annotations

import math

import keras

from experiments.spec.validation import ConfigError, check_int
from experiments.workloads.layers import BatchNormalization
from experiments.workloads.networks import InstrumentedModel, check_fits, he_normal, register


def _stack(data, hidden, batch_norm=False, binary_output=False, name="mlp"):
    """Flatten -> hidden ReLU layers (optionally batch-normalised) -> output."""
    hidden = [check_int(f"{name}.hidden[{i}]", h, minimum=1) for i, h in enumerate(hidden)]
    if not isinstance(batch_norm, bool):
        raise ConfigError(f"`{name}.batch_norm` must be true or false. Received: batch_norm={batch_norm!r}")
    binary = binary_output and data.num_classes == 2
    widths = [math.prod(data.input_shape), *hidden, 1 if binary else data.num_classes]
    check_fits(name, sum(a * b + b for a, b in zip(widths, widths[1:])))
    inputs = keras.Input(shape=data.input_shape, name="inputs")
    z = keras.layers.Flatten(name="flatten")(inputs) if len(data.input_shape) > 1 else inputs
    for i, units in enumerate(hidden, start=1):
        z = keras.layers.Dense(units, use_bias=not batch_norm, kernel_initializer=he_normal(),
                               name=f"dense_{i}")(z)
        if batch_norm:
            z = BatchNormalization(name=f"batch_norm_{i}")(z)
        z = keras.layers.Activation("relu", name=f"relu_{i}")(z)
    if binary:
        outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=he_normal(),
                                     name="output")(z)
    else:
        outputs = keras.layers.Dense(data.num_classes, activation="softmax",
                                     kernel_initializer=he_normal(), name="output")(z)
    return InstrumentedModel(inputs=inputs, outputs=outputs, binary=binary, name=name)


@register("moons_net")
def moons_net(data):
    """The material's 2 -> 5 -> 2 -> 1 net for `moons` (binary cross-entropy)."""
    if data.num_classes != 2:
        raise ConfigError(f"model 'moons_net' needs a two-class problem. Received: {data.name!r}")
    return _stack(data, (5, 2), binary_output=True, name="moons_net")


@register("mnist_mlp")
def mnist_mlp(data):
    """The material's MLP: four hidden layers of 100 ReLU units, softmax output."""
    return _stack(data, (100, 100, 100, 100), name="mnist_mlp")


@register("softmax_regression")
def softmax_regression(data):
    """A single dense layer with a softmax: multinomial logistic regression."""
    return _stack(data, (), name="softmax_regression")


@register("mlp")
def mlp(data, hidden=(100, 100), batch_norm=False, binary_output=False):
    """ReLU layers of widths `hidden`, optional batch normalisation, softmax output."""
    if not isinstance(hidden, (list, tuple)):
        raise ConfigError(f"`mlp.hidden` must be a list of layer widths. Received: hidden={hidden!r}")
    return _stack(data, hidden, batch_norm, binary_output, name="mlp")
