"""DeepOBS's noisy quadratic (`quadratic_deep`) and VAE (`vae`), the offline stand-in sized for
the image models (digits resized), and both trained by the compiled engine: checked against NumPy
written from DeepOBS's definitions, against the layer shapes of its architecture, and as groups
equal to their runs alone."""

import json

import keras
import numpy as np
import pytest
from tb_events import assert_same_run, plugin_of, scalars, tensors
from test_problems import write_mnist

from experiments import runner
from experiments.report import overview
from experiments.spec import config
from experiments.spec.validation import ConfigError
from experiments.workloads import models, problems


def dense(inputs, units):
    return inputs * units + units


def conv(size, channels_in, filters):
    return size * size * channels_in * filters + filters


# --- quadratic_deep ----------------------------------------------------------------------------


def test_quadratic_deep_hessian_has_deepobs_spectrum_in_a_rotated_basis():
    """Q's eigenvalues are RandomState(42)'s first 90 draws from U(0, 1) and next 10 from
    U(30, 60); the rotation that turns them is orthogonal with determinant +1."""
    hessian = problems.quadratic_deep().hessian
    rng = np.random.RandomState(42)
    drawn = np.concatenate([rng.uniform(0, 1, 90), rng.uniform(30, 60, 10)])
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(hessian), np.sort(drawn), rtol=1e-9, atol=1e-12)
    assert not np.allclose(hessian, np.diag(np.diag(hessian)), atol=1e-3)  # rotated, not diagonal
    np.testing.assert_array_equal(problems.quadratic_deep().hessian, hessian)  # the same for everyone
    for dimension in (2, 3, 7):
        rotation = problems.random_rotation(dimension, np.random.RandomState(dimension))
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(dimension), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_quadratic_deep_data_and_loss_are_deepobs_s():
    """The data: 1000 x 100 draws of N(0, 0.6^2) from RandomState(42) (training) and (43)
    (test), in float32; the loss of a batch: the mean of 0.5 (theta - x)^T Q (theta - x), theta
    starting at 1."""
    data = problems.quadratic_deep()
    def draws(seed):
        return np.random.RandomState(seed).normal(0, 0.6, (1000, 100)).astype(np.float32)

    np.testing.assert_array_equal(data.x_train, draws(42))
    np.testing.assert_array_equal(data.x_test, draws(43))
    assert len(data.x_val) == 0 and data.model == "noisy_quadratic"
    model = models.build(None, data)
    assert model.count_params() == 100 and model.task == "loss"
    theta = np.linspace(-1, 2, 100)
    model.get_layer("quadratic").theta.assign(theta)
    x = data.x_train[:7].astype(np.float64)
    expected = np.array([0.5 * (theta - row) @ data.hessian @ (theta - row) for row in x])
    np.testing.assert_allclose(model(data.x_train[:7]).numpy(), expected, rtol=1e-5)
    model.compile(loss=models.loss_for(model))
    assert float(model.compute_loss(y=data.y_train[:7], y_pred=model(data.x_train[:7]))) == \
        pytest.approx(expected.mean(), rel=1e-5)
    split = problems.quadratic_deep(validation=0.1, train_size=50)
    assert (len(split.x_train), len(split.x_val), len(split.x_test)) == (45, 5, 50)


def test_quadratic_deep_runs_name_no_model_and_refuse_one():
    batch = {"batch": {"name": "q"}, "defaults": {"problem": "quadratic_deep", "batch_size": 128, "epochs": 1},
             "runs": [{"optimizer": "sgd"}]}
    from experiments.plan import planning

    (run, kind, data), = planning.prepare(config.parse_batch(batch))
    assert run.model is None and kind == "dataset" and data.model == "noisy_quadratic"
    batch["defaults"]["model"] = "mnist_mlp"
    with pytest.raises(ConfigError, match="problem 'quadratic_deep' has its own model \\(noisy_quadratic: its "
                                          "parameters are the problem's\\) and takes no `model`. "
                                          "Received: model={'name': 'mnist_mlp'}"):
        planning.prepare(config.parse_batch(batch))
    with pytest.raises(ConfigError, match="model 'noisy_quadratic' needs a quadratic problem"):
        models.build("noisy_quadratic", problems.load("digits"))
    with pytest.raises(ConfigError, match="quadratic_deep.noise_level"):
        problems.load({"name": "quadratic_deep", "noise_level": -1})


# --- the offline stand-in for larger images --------------------------------------------------


def test_digits_resized_stand_in_for_28x28_and_32x32x3_images():
    plain, big = problems.digits(), problems.digits(image_size=28)
    assert big.image_shape == (28, 28, 1) and big.x_train.shape[1] == 784
    images, small = big.x_train.reshape(-1, 28, 28), plain.x_train.reshape(-1, 8, 8)
    # the corners stay the corners (the same shuffle: the same rows), and bilinear stays in [0, 1]
    np.testing.assert_allclose(images[:, [0, 0, -1, -1], [0, -1, 0, -1]], small[:, [0, 0, -1, -1], [0, -1, 0, -1]],
                               atol=1e-12)
    assert images.min() >= 0 and images.max() <= 1
    np.testing.assert_array_equal(big.y_train, plain.y_train)
    colour = problems.digits(image_size=32, channels=3)
    pixels = colour.x_train.reshape(-1, 32, 32, 3)
    assert colour.image_shape == (32, 32, 3)
    np.testing.assert_array_equal(pixels[..., 0], pixels[..., 2])
    assert models.build("3c3d", colour).count_params() == 895_210  # CIFAR-10's count: the same shapes
    assert "resized to 32x32, grey in 3 channels" in colour.source


def test_a_keras_problem_falls_back_to_a_resized_stand_in_and_says_so(tmp_path):
    data = problems.load({"name": "mnist", "data_dir": str(tmp_path),
                          "fallback": {"name": "digits", "image_size": 28}})
    assert data.name == "digits" and data.image_shape == (28, 28, 1)
    assert "its runs use the fallback, digits (image_size = 28). To run on mnist, put mnist.npz" in data.fallback_reason
    with pytest.raises(ConfigError, match="problem 'mnist', its fallback 'digits': .*'size'"):
        problems.load({"name": "mnist", "data_dir": str(tmp_path), "fallback": {"name": "digits", "size": 28}})
    with pytest.raises(ConfigError, match="`mnist.fallback` must be a problem's name or a table"):
        problems.load({"name": "mnist", "data_dir": str(tmp_path), "fallback": 3})


# --- vae ---------------------------------------------------------------------------------------


def image_data(shape, n=8):
    x = np.random.default_rng(0).uniform(0, 1, (n, int(np.prod(shape)))).astype(np.float32)
    y = np.zeros(n, np.int32)
    return problems.Data("images", x, y, x[:2], y[:2], x[:2], y[:2], 10, "test", image_shape=shape)


def test_vae_has_deepobs_layers_and_parameter_count():
    """DeepOBS's `_vae` on 28x28x1: encoder convs 4x4 (1 -> 64, strides 2: 14x14; 64 -> 64,
    strides 2: 7x7; 64 -> 64, strides 1) and two dense 3136 -> 8; decoder dense 8 -> 24 -> 49,
    7x7x1 through transposed convs 4x4 (1 -> 64 strides 2: 14x14; 64 -> 64 twice), dense
    12544 -> 784 (sigmoid)."""
    model = models.build("vae", image_data((28, 28, 1)))
    encoder = conv(4, 1, 64) + 2 * conv(4, 64, 64) + 2 * dense(7 * 7 * 64, 8)
    decoder = dense(8, 24) + dense(24, 49) + conv(4, 1, 64) + 2 * conv(4, 64, 64) + dense(14 * 14 * 64, 784)
    assert model.count_params() == encoder + decoder == 10_151_489
    assert model.get_layer("encoder").count_params() == encoder
    assert model.get_layer("decoder").get_layer("deconv_3").output.shape[1:] == (14, 14, 64)
    assert model.task == "loss" and not model.losses
    assert [layer.rate for layer in model.get_layer("encoder").layers if "dropout" in layer.name] == [0.2] * 3
    assert [layer.rate for layer in model.get_layer("decoder").layers if "dropout" in layer.name] == [0.2] * 2


def test_vae_loss_is_squared_error_plus_kl_as_deepobs_writes_it():
    rng = np.random.default_rng(1)
    x, reconstruction = rng.uniform(0, 1, (5, 6, 6, 1)), rng.uniform(0, 1, (5, 6, 6, 1))
    mean, log_std = rng.normal(size=(5, 8)), rng.normal(size=(5, 8)) * 0.3
    loss = models.VAELoss()(x, reconstruction, mean, log_std)
    expected = ((reconstruction - x) ** 2).reshape(5, -1).sum(1) + \
        -0.5 * (1 + 2 * log_std - mean**2 - np.exp(2 * log_std)).sum(1)
    np.testing.assert_allclose(np.asarray(loss), expected, rtol=1e-6)


def test_vae_samples_from_the_run_s_seed_when_evaluating_too():
    """z = mean + eps * exp(log_std): the same seed, the same draws; another seed, others; an
    evaluation draws as well (DeepOBS's VAE samples in every phase), without dropout."""
    data = image_data((8, 8, 1))

    def losses(seed):
        keras.utils.set_random_seed(seed)
        model = models.build("vae", data)
        keras.utils.set_random_seed(99)  # the weights differ by seed; set them equal
        for variable, value in zip(model.trainable_variables, reference_weights):
            variable.assign(value)
        return model(data.x_train, training=False).numpy(), model(data.x_train, training=False).numpy()

    keras.utils.set_random_seed(0)
    reference_weights = [v.numpy() for v in models.build("vae", data).trainable_variables]
    first, again = losses(0)
    assert not np.array_equal(first, again)  # a fresh draw each call
    np.testing.assert_array_equal(losses(0)[0], first)
    assert not np.array_equal(losses(1)[0], first)


def test_vae_pictures_tile_originals_over_reconstructions():
    from callbacks.vae_images import tile

    images = np.random.default_rng(0).uniform(0, 1, (2, 3, 8, 8, 1))
    picture = tile(images, side=20)  # 8 pixels enlarged 3 times: 24
    assert picture.shape == (2 * 25 - 1, 3 * 25 - 1, 1) and picture.dtype == np.uint8
    enlarged = images[1, 2, :, :, 0].repeat(3, 0).repeat(3, 1)
    np.testing.assert_array_equal(picture[25:49, 50:74, 0], np.rint(enlarged * 255))
    assert (picture[24, :, 0] == 255).all() and (picture[:, 24, 0] == 255).all()  # white between them


def vae_batch(runs, directory, name="v", **defaults):
    """The VAE on a small MNIST file (64 images to train on, 16 to validate, 16 to test): its
    decoder's 14x14x64 transposed convolutions cost the same whatever the images' size, so the
    images' number is what makes a VAE test fast."""
    if not (directory / "mnist.npz").exists():
        write_mnist(directory, n_train=80, n_test=16)
    return config.parse_batch({"batch": {"name": name}, "defaults": {
        "problem": {"name": "mnist", "data_dir": str(directory), "validation": 0.2}, "model": "vae",
        "batch_size": 16, "steps": 6, "log": {"every_steps": 1, "every_epochs": 1, "histograms": False},
        **defaults}, "runs": runs})


VAE_RUNS = [{"optimizer": {"name": "sgd", "learning_rate": 0.0005}, "name": "sgd"},
            {"optimizer": {"name": "adam", "learning_rate": 0.001}, "name": "adam"}]


@pytest.mark.group_equality
def test_a_vae_group_equals_its_runs_alone(tmp_path):
    """Dropout and sampling are seeded per run: a member of a group draws what it draws alone,
    bit for bit (weights, optimizer slots, every scalar, every step's loss)."""
    together = runner.run_batch(vae_batch(VAE_RUNS, tmp_path), tmp_path / "together", progress=False)
    for i, run in enumerate(VAE_RUNS):
        alone = runner.run_batch(vae_batch([run], tmp_path, name=f"a{i}"), tmp_path / "alone", progress=False)
        alone = alone.results[0]
        assert together.results[i].status == alone.status == "ok"
        assert_same_run(together.results[i], alone)


def test_vae_and_quadratic_train_in_the_compiled_engine_with_no_accuracy(tmp_path):
    """On a small MNIST file in its real format (the VAE) and on the quadratic: every run ok,
    the loss falling, its parameter count in config.json, and no accuracy anywhere: not in its
    metrics, its TensorBoard tags or the summary table, which shows the losses instead."""
    write_mnist(tmp_path, n_train=40, n_test=8)
    batch = config.parse_batch({"batch": {"name": "d"}, "defaults": {
        "batch_size": 8, "epochs": 4, "log": {"every_steps": 1, "histograms": False}},
        "runs": [{"problem": {"name": "mnist", "data_dir": str(tmp_path), "validation": 0.2}, "model": "vae",
                  "optimizer": {"name": name, "learning_rate": rate}, "name": f"vae_{name}"}
                 for name, rate in (("sgd", 1e-4), ("adam", 1e-3))]
        + [{"problem": "quadratic_deep", "batch_size": 128, "optimizer": {"name": name, "learning_rate": 0.01},
            "name": f"quadratic_{name}"} for name in ("sgd", "momentum")]})
    result = runner.run_batch(batch, tmp_path / "logs", progress=False)
    for run in result.results:
        assert run.status == "ok", run.error
        losses = run.curves["step_loss"]
        assert np.mean(losses[-3:]) < np.mean(losses[:3])
        assert not [key for key in run.metrics if "accuracy" in key]
        assert {"train_loss", "test_loss"} <= set(run.metrics)
        tags = set(scalars(run.directory))
        assert "epoch_loss" in tags and not [tag for tag in tags if "accuracy" in tag]
        parameters = json.loads((run.directory / "config.json").read_text())["model_parameters"]
        assert parameters == (10_151_489 if run.run.model else 100)
        pictures = {tag: values for tag, values in tensors(run.directory).items() if tag.startswith("vae/")}
        if run.run.model:  # the VAE's pictures at epochs 0 and 3 (every 4 // 10 = 1 epoch: each)
            assert {tag: [step for step, _ in values] for tag, values in pictures.items()} == \
                {"vae/reconstructions": [0, 1, 2, 3], "vae/samples": [0, 1, 2, 3]}
            assert plugin_of(run.directory, "vae/samples") == "images"
            width, height = (int(v) for v in pictures["vae/reconstructions"][-1][1][:2])
            assert (width, height) == (8 * 57 - 1, 2 * 57 - 1)  # 8 images of 28 doubled, and their originals
        else:
            assert not pictures
    header = overview.summary_table(result).splitlines()[0].split()
    assert header[:7] == ["run", "train", "loss", "val", "loss", "test", "loss"] and "acc" not in header


@pytest.mark.parametrize("model", ["vae", "char_rnn"])
def test_ctrl_c_then_the_same_batch_again_ends_as_one_uninterrupted_run(tmp_path, model):
    """Stopped (as Ctrl-C stops it) after its first call and run again, a group of the VAE
    (dropout, sampling) or of the language model (dropout, its carried state) ends exactly as
    the same batch run in one go: every event once, the same numbers, bit for bit."""
    from test_char_rnn import CHAR_RUNS, text_batch, write_text

    from experiments.engine import loop, signals

    if model == "vae":
        batch = vae_batch(VAE_RUNS, tmp_path, steps=None, epochs=2, batch_size=32)
    else:
        write_text(tmp_path / "t.txt")
        batch = text_batch(tmp_path / "t.txt", CHAR_RUNS)
    reference = runner.run_batch(batch, tmp_path / "reference", progress=False, checkpoint_seconds=0)
    real = loop.Program.train

    def stop_after_the_first_call(program, *args):
        signals.STOP.set()
        return real(program, *args)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(loop.Program, "train", stop_after_the_first_call)
            with pytest.raises(runner.Interrupted, match="saved at epoch 1"):
                runner.run_batch(batch, tmp_path / "stopped", progress=False, checkpoint_seconds=0)
        signals.STOP.clear()
        again = runner.run_batch(batch, tmp_path / "stopped", progress=False, checkpoint_seconds=0)
    finally:
        signals.STOP.clear()
    for ours, theirs in zip(again.results, reference.results):
        assert ours.status == theirs.status == "ok" and ours.resumed
        assert_same_run(ours, theirs)
