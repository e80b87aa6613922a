"""DeepOBS's conv nets (`2c2d`, `3c3d`): their architectures, counted as DeepOBS's layer shapes
give them, their regularisation, and a few steps of each in the compiled engine on small files
written in the real datasets' formats."""

import json

import numpy as np
import pytest
from test_problems import write_cifar, write_fashion

from experiments import runner
from experiments.spec import config
from experiments.spec.validation import ConfigError
from experiments.workloads import models, problems


def image_data(shape, classes=10, n=8):
    x = np.zeros((n, int(np.prod(shape))), np.float32)
    y = np.arange(n, dtype=np.int32) % classes
    return problems.Data("images", x, y, x[:2], y[:2], x[:2], y[:2], classes, "test", image_shape=shape)


def dense(inputs, units):
    return inputs * units + units


def test_2c2d_has_deepobs_layers_and_parameter_count():
    """DeepOBS's `_2c2d` on 28x28x1: conv 5x5x1x32 and 5x5x32x64 ("same", each halved by a 2x2
    pool: 7x7x64 left), dense 3136 -> 1024 -> 10, every layer with a bias."""
    model = models.build("2c2d", image_data((28, 28, 1)))
    expected = dense(5 * 5 * 1, 32) + dense(5 * 5 * 32, 64) + dense(7 * 7 * 64, 1024) + dense(1024, 10)
    assert model.count_params() == expected == 3_274_634
    assert model.get_layer("pool_2").output.shape[1:] == (7, 7, 64)
    assert not model.losses  # no regularisation
    np.testing.assert_allclose(model.get_layer("conv_1").bias.numpy(), 0.05)
    kernel = model.get_layer("dense_1").kernel.numpy()
    assert np.abs(kernel).max() <= 2 * 0.05 + 1e-7 and 0.04 < kernel.std() < 0.05  # truncated at 2 sigma


def test_3c3d_has_deepobs_layers_parameter_count_and_l2_term():
    """DeepOBS's `_3c3d` on 32x32x3: conv 5x5 "valid" (28x28), 3x3/2 pool (14), conv 3x3 "valid"
    (12), pool (6), conv 3x3 "same", pool (3x3x128 left), dense 1152 -> 512 -> 256 -> 10; its
    L2 term 0.5 * 0.002 * sum(w^2) over the kernels only."""
    model = models.build("3c3d", image_data((32, 32, 3)))
    expected = (dense(5 * 5 * 3, 64) + dense(3 * 3 * 64, 96) + dense(3 * 3 * 96, 128) + dense(3 * 3 * 128, 512)
                + dense(512, 256) + dense(256, 10))
    assert model.count_params() == expected == 895_210
    assert model.get_layer("pool_3").output.shape[1:] == (3, 3, 128)
    kernels = [layer.kernel.numpy() for layer in model.layers if hasattr(layer, "kernel")]
    assert len(kernels) == 6
    np.testing.assert_allclose(float(sum(model.losses)), 0.5 * 0.002 * sum(float(np.sum(k.astype(np.float64) ** 2))
                                                                            for k in kernels), rtol=1e-5)
    assert float(sum(models.build({"name": "3c3d", "weight_decay": 0.0}, image_data((32, 32, 3))).losses)) == 0


@pytest.mark.parametrize("model, data, message", [
    ("2c2d", "moons", "model '2c2d' needs an image problem (mnist, fashion_mnist, cifar10, digits). "
                      "Received: 'moons'"),
    ("3c3d", "digits", "model '3c3d' needs images of at least 9x9 pixels. Received: 'digits', 8x8x1"),
    ({"name": "3c3d", "weight_decay": -1}, "digits", "`3c3d.weight_decay` must be"),
])
def test_a_conv_model_on_the_wrong_problem_is_refused_by_name(model, data, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        models.build(model, problems.load(data))


def test_image_problems_keep_their_image_shape():
    assert problems.load("digits").image_shape == (8, 8, 1)
    assert problems.load("moons").image_shape is None
    assert models.build("2c2d", problems.load("digits")).count_params() == \
        dense(25, 32) + dense(25 * 32, 64) + dense(2 * 2 * 64, 1024) + dense(1024, 10)


@pytest.mark.parametrize("problem, model, write, parameters", [
    ("fashion_mnist", "2c2d", write_fashion, 3_274_634),
    ("cifar10", "3c3d", write_cifar, 895_210),
])
def test_a_conv_model_trains_in_the_compiled_engine(tmp_path, problem, model, write, parameters):
    """Two optimizers as one group on small files in the real formats: both finish, the loss
    falls, and each run's config.json records its model's parameter count."""
    write(tmp_path)
    batch = config.parse_batch({"batch": {"name": "conv"}, "defaults": {
        "problem": {"name": problem, "data_dir": str(tmp_path), "validation": 0.0}, "model": model,
        "batch_size": 4, "epochs": 6, "log": {"every_steps": 1, "histograms": False, "update_ratio": False}},
        "runs": [{"optimizer": {"name": "sgd", "learning_rate": 0.01}},
                 {"optimizer": {"name": "adam", "learning_rate": 0.001}}]})
    result = runner.run_batch(batch, tmp_path / "logs", progress=False)
    for run in result.results:
        assert run.status == "ok", run.error
        losses = run.curves["step_loss"]
        assert np.mean(losses[-5:]) < np.mean(losses[:5])
        saved = json.loads((run.directory / "config.json").read_text())
        assert saved["model_parameters"] == parameters
