"""DeepOBS's convolutional nets `2c2d` and `3c3d`, for image problems."""

from __future__ import annotations

import keras

from experiments.spec.validation import ConfigError, check_number
from experiments.workloads.networks import InstrumentedModel, conv_input, register


@register("2c2d")
def conv_2c2d(data):
    """DeepOBS's `2c2d` (`deepobs/tensorflow/testproblems/_2c2d.py`, its `mnist_2c2d` and
    `fmnist_2c2d`, adapted from TensorFlow's CNN tutorial): conv 32 5x5 "same" ReLU, max-pool 2x2
    stride 2 "same", conv 64 5x5 "same" ReLU, max-pool, dense 1024 ReLU, dense to the classes;
    weights truncated normal (stddev 0.05), biases 0.05; cross-entropy, no regularisation.
    3,274,634 parameters on 28x28x1 images."""
    inputs, z = conv_input(data, "2c2d")
    init = {"kernel_initializer": keras.initializers.TruncatedNormal(stddev=0.05),
            "bias_initializer": keras.initializers.Constant(0.05)}
    for i, filters in enumerate((32, 64), start=1):
        z = keras.layers.Conv2D(filters, 5, padding="same", activation="relu", name=f"conv_{i}", **init)(z)
        z = keras.layers.MaxPooling2D(2, strides=2, padding="same", name=f"pool_{i}")(z)
    z = keras.layers.Flatten(name="flatten")(z)
    z = keras.layers.Dense(1024, activation="relu", name="dense_1", **init)(z)
    outputs = keras.layers.Dense(data.num_classes, activation="softmax", name="output", **init)(z)
    return InstrumentedModel(inputs=inputs, outputs=outputs, name="conv_2c2d")


#: DeepOBS's `cifar10_3c3d` weight decay: its L2 term is `0.5 * weight_decay * sum(w^2)` over the
#: kernels (not the biases).
WEIGHT_DECAY_3C3D = 0.002


@register("3c3d")
def conv_3c3d(data, weight_decay=WEIGHT_DECAY_3C3D):
    """DeepOBS's `3c3d` (`deepobs/tensorflow/testproblems/_3c3d.py`, its `cifar10_3c3d`): conv 64
    5x5 "valid", max-pool 3x3 stride 2 "same", conv 96 3x3 "valid", max-pool, conv 128 3x3
    "same", max-pool, dense 512, dense 256 (ReLU throughout), dense to the classes; kernels
    Glorot (normal for the convs, uniform for the dense layers), biases 0; cross-entropy plus
    `0.5 * weight_decay * sum(w^2)` over every kernel. 895,210 parameters on 32x32x3 images;
    images need at least 9x9 pixels."""
    weight_decay = check_number("3c3d.weight_decay", weight_decay, minimum=0)
    inputs, z = conv_input(data, "3c3d")
    if min(data.image_shape[:2]) < 9:  # the two "valid" convolutions would leave no pixel
        raise ConfigError(f"model '3c3d' needs images of at least 9x9 pixels. Received: {data.name!r}, "
                          f"{'x'.join(map(str, data.image_shape))}")
    l2 = keras.regularizers.L2(0.5 * weight_decay)
    for i, (filters, size, padding) in enumerate(((64, 5, "valid"), (96, 3, "valid"), (128, 3, "same")), start=1):
        z = keras.layers.Conv2D(filters, size, padding=padding, activation="relu", name=f"conv_{i}",
                                kernel_initializer="glorot_normal", kernel_regularizer=l2)(z)
        z = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool_{i}")(z)
    z = keras.layers.Flatten(name="flatten")(z)
    for i, units in enumerate((512, 256), start=1):
        z = keras.layers.Dense(units, activation="relu", name=f"dense_{i}", kernel_initializer="glorot_uniform",
                               kernel_regularizer=l2)(z)
    outputs = keras.layers.Dense(data.num_classes, activation="softmax", name="output",
                                 kernel_initializer="glorot_uniform", kernel_regularizer=l2)(z)
    return InstrumentedModel(inputs=inputs, outputs=outputs, name="conv_3c3d")
