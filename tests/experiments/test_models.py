"""Model shapes, He initialisation and what InstrumentedModel's training step reports."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import custom_optimizers as co
from experiments.spec.validation import ConfigError
from experiments.workloads import models, problems
from experiments.workloads.layers import BatchNormalization


@pytest.fixture(scope="module")
def digits():
    return problems.load("digits")


def dense_shapes(model):
    return [tuple(layer.kernel.shape) for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_the_materials_architectures(digits):
    moons = models.build("moons_net", problems.load("moons"))
    assert dense_shapes(moons) == [(2, 5), (5, 2), (2, 1)]
    assert moons.layers[-1].activation is keras.activations.sigmoid and moons.binary
    assert moons.count_params() == 15 + 12 + 3
    mlp = models.build("mnist_mlp", digits)
    assert dense_shapes(mlp) == [(64, 100), (100, 100), (100, 100), (100, 100), (100, 10)]
    assert mlp.layers[-1].activation is keras.activations.softmax and not mlp.binary
    assert dense_shapes(models.build("softmax_regression", digits)) == [(64, 10)]


def test_mlp_with_batch_norm_drops_the_preceding_bias(digits):
    model = models.build({"name": "mlp", "hidden": [20, 10], "batch_norm": True}, digits)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.use_bias for layer in dense] == [False, False, True]
    assert sum(isinstance(layer, BatchNormalization) for layer in model.layers) == 2
    plain = models.build({"name": "mlp", "hidden": [20, 10]}, digits)
    assert all(layer.use_bias for layer in plain.layers if isinstance(layer, keras.layers.Dense))


def test_he_initialisation_is_the_untruncated_normal(digits):
    keras.utils.set_random_seed(0)
    model = models.build({"name": "mlp", "hidden": [2000]}, digits)
    kernel = model.get_layer("dense_1").kernel.numpy()
    assert kernel.std() == pytest.approx(np.sqrt(2 / 64), rel=0.01)
    assert np.abs(kernel).max() > 2.5 * np.sqrt(2 / 64)  # a truncated normal stops at 2 sigma
    assert np.all(model.get_layer("dense_1").bias.numpy() == 0)


def test_training_step_reports_this_steps_loss_accuracy_and_gradient_norm(digits):
    model = models.build("softmax_regression", digits)
    model.compile(co.SGD(0.5), models.loss_for(model), metrics=["accuracy"])
    x, y = digits.x_train[:100], digits.y_train[:100]
    with tf.GradientTape() as tape:
        p = model(x)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, p))
    norm = float(tf.linalg.global_norm(tape.gradient(loss, model.trainable_weights)))
    accuracy = float(np.mean(np.argmax(p, -1) == y))
    logs = model.train_on_batch(x, y, return_dict=True)
    assert logs["step_loss"] == pytest.approx(float(loss), rel=1e-5)
    assert logs["step_gradient_norm"] == pytest.approx(norm, rel=1e-5)
    assert logs["gradient_norm"] == pytest.approx(norm, rel=1e-5)
    assert logs["step_accuracy"] == pytest.approx(accuracy)


def test_training_equals_keras_own_training_step(digits):
    keras.utils.set_random_seed(5)
    ours = models.build("mnist_mlp", digits)
    plain = keras.Model(ours.inputs, ours.outputs)  # Keras's own train_step on a copy
    plain.set_weights([w.numpy().copy() for w in ours.weights])
    weights = [w.numpy().copy() for w in ours.weights]
    ours.compile(co.Adam(0.01), models.loss_for(ours), metrics=["accuracy"])
    ours.fit(digits.x_train, digits.y_train, batch_size=100, epochs=2, shuffle=False, verbose=0)
    trained = [w.numpy().copy() for w in ours.weights]
    for w, v in zip(ours.weights, weights):
        w.assign(v)
    plain.compile(co.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = plain.fit(digits.x_train, digits.y_train, batch_size=100, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(trained, plain.weights):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-5, atol=1e-6)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_binary_step_accuracy():
    data = problems.load("moons")
    model = models.build("moons_net", data)
    model.compile(co.SGD(0.1), models.loss_for(model), metrics=["accuracy"])
    p = np.asarray(model(data.x_train)).ravel()
    logs = model.train_on_batch(data.x_train, data.y_train, return_dict=True)
    assert logs["step_accuracy"] == pytest.approx(np.mean((p > 0.5) == data.y_train))


@pytest.mark.parametrize("spec,message", [
    ("mpl", "Unknown model 'mpl'. Did you mean 'mlp'?"),
    ({"name": "mlp", "hidden": 100}, "`mlp.hidden` must be a list of layer widths. Received: hidden=100"),
    ({"name": "mlp", "hidden": [100, 0]}, "`mlp.hidden[1]` must be an integer >= 1. Received: mlp.hidden[1]=0"),
    ({"name": "mlp", "batch_norm": 1}, "`mlp.batch_norm` must be true or false. Received: batch_norm=1"),
    ({"name": "mlp", "dropout": 0.5}, "model: "),
    ("moons_net", "model 'moons_net' needs a two-class problem. Received: 'digits'"),
])
def test_bad_model_arguments(digits, spec, message):
    with pytest.raises(ConfigError) as error:
        models.build(spec, digits)
    assert message in str(error.value)
