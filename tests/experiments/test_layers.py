"""Our BatchNormalization against the material's formulas and keras.layers.BatchNormalization."""

import keras
import numpy as np
import pytest

from experiments.workloads.layers import BatchNormalization


@pytest.fixture
def z():
    return np.random.default_rng(0).normal(3.0, 2.0, (32, 6)).astype("float32")


def test_training_mode_is_the_materials_formula(z):
    layer = BatchNormalization(momentum=0.9, epsilon=1e-3)
    layer.build(z.shape)
    layer.gamma.assign(np.linspace(0.5, 2, 6))
    layer.beta.assign(np.linspace(-1, 1, 6))
    out = np.asarray(layer(z, training=True))
    mu, var = z.mean(0), ((z - z.mean(0)) ** 2).mean(0)
    expected = np.linspace(0.5, 2, 6) * (z - mu) / np.sqrt(var + 1e-3) + np.linspace(-1, 1, 6)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * mu, rtol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-6)
    # inference uses the moving averages, not the batch
    np.testing.assert_allclose(
        np.asarray(layer(z, training=False)),
        np.linspace(0.5, 2, 6) * (z - 0.1 * mu) / np.sqrt(0.9 + 0.1 * var + 1e-3) + np.linspace(-1, 1, 6),
        rtol=1e-5, atol=1e-5)


def test_matches_keras_in_both_modes(z):
    ours, theirs = BatchNormalization(momentum=0.8), keras.layers.BatchNormalization(momentum=0.8)
    for layer in (ours, theirs):
        layer.build(z.shape)
    for step in range(5):
        batch = z * (1 + step) + step
        np.testing.assert_allclose(ours(batch, training=True), theirs(batch, training=True), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), rtol=1e-6)
        np.testing.assert_allclose(ours.moving_variance.numpy(), theirs.moving_variance.numpy(), rtol=1e-6)
        np.testing.assert_allclose(ours(batch, training=False), theirs(batch, training=False), rtol=1e-5, atol=1e-5)


def net(layer_class):
    keras.utils.set_random_seed(4)
    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32, use_bias=False),
        layer_class(),
        keras.layers.Activation("relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def test_matches_keras_in_a_training_run():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype("float32")
    ours, theirs = net(BatchNormalization), net(keras.layers.BatchNormalization)
    for model in (ours, theirs):
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    assert ours.layers[1].moving_mean.numpy().std() > 0.01  # the statistics did move


def test_config_round_trip_and_bad_arguments():
    layer = BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn")
    again = BatchNormalization.from_config(layer.get_config())
    assert (again.momentum, again.epsilon, again.name) == (0.9, 1e-5, "bn")
    with pytest.raises(ValueError, match=r"`momentum` must be in \[0, 1\]. Received: momentum=1.5"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="`epsilon` must be > 0. Received: epsilon=0"):
        BatchNormalization(epsilon=0)
