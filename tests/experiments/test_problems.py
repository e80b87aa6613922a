"""Datasets, splits, normalisation, the keras.datasets file formats and 2-D objectives."""

import gzip
import pickle

import numpy as np
import pytest
import tensorflow as tf

from experiments.spec.validation import ConfigError
from experiments.workloads import problems
from experiments.workloads.objectives2d import OBJECTIVES


def test_moons_is_the_materials_data():
    from sklearn.datasets import make_moons

    data = problems.load("moons")
    x, y = make_moons(n_samples=300, noise=0.2, random_state=3)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (300, 0, 0)
    order = np.lexsort(x.T)  # the split shuffles nothing away: same points, same labels
    got = np.lexsort(data.x_train.T)
    np.testing.assert_allclose(data.x_train[got], x[order], rtol=1e-6)
    np.testing.assert_array_equal(data.y_train[got], y[order])
    assert data.num_classes == 2 and data.input_shape == (2,)


def test_digits_splits_are_disjoint_stratified_and_seeded():
    data = problems.load({"name": "digits", "validation": 0.25, "test": 0.25})
    sizes = len(data.x_train), len(data.x_val), len(data.x_test)
    assert sum(sizes) == 1797 and sizes[1] == pytest.approx(449, abs=1) and sizes[2] == pytest.approx(450, abs=1)
    together = np.concatenate([data.x_train, data.x_val, data.x_test])
    assert sorted(map(tuple, together)) == sorted(map(tuple, problems.load(
        {"name": "digits", "validation": 0.0, "test": 0.0}).x_train))  # a partition of all 1797
    for split in (data.y_train, data.y_val, data.y_test):  # stratified: every class ~10 %
        assert np.bincount(split, minlength=10).min() >= 0.08 * len(split)
    assert 0 <= data.x_train.min() and data.x_train.max() <= 1
    again = problems.load({"name": "digits", "validation": 0.25, "test": 0.25})
    np.testing.assert_array_equal(again.x_val, data.x_val)
    other = problems.load({"name": "digits", "validation": 0.25, "test": 0.25, "data_seed": 1})
    assert not np.array_equal(other.x_val, data.x_val)


def test_normalisation_is_fitted_on_the_training_split_only():
    raw = problems.load("digits")
    data = problems.load({"name": "digits", "normalize": True})
    mean = raw.x_train.mean(axis=0)
    std = np.where(raw.x_train.std(axis=0) > 0, raw.x_train.std(axis=0), 1)
    np.testing.assert_allclose(data.x_val, (raw.x_val - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(data.x_test, (raw.x_test - mean) / std, rtol=1e-5, atol=1e-5)
    varying = raw.x_train.std(axis=0) > 0
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=0)[varying], 1, rtol=1e-4)
    assert abs(data.x_val.mean()) > 1e-4  # the validation split was not fitted itself


# --- keras.datasets files written in their real formats ----------------------


def write_mnist(directory, n_train=30, n_test=10):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, n_test, dtype=np.uint8)}
    np.savez(directory / "mnist.npz", **arrays)
    return arrays


def write_fashion(directory, n_train=20, n_test=8):
    rng = np.random.default_rng(1)
    sub = directory / "fashion-mnist"
    sub.mkdir()
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        with gzip.open(sub / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(np.array([0, 0, 8, 1], ">u1").tobytes() + np.array([n], ">u4").tobytes() + y.tobytes())
        with gzip.open(sub / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(np.array([0, 0, 8, 3], ">u1").tobytes() + np.array([n, 28, 28], ">u4").tobytes()
                    + x.tobytes())
        arrays[prefix] = (x, y)
    return arrays


def write_cifar(directory, per_batch=4):
    rng = np.random.default_rng(2)
    sub = directory / "cifar-10-batches-py"
    sub.mkdir()
    arrays = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)  # rows of R, G, B planes
        y = rng.integers(0, 10, per_batch).tolist()
        with open(sub / name, "wb") as f:
            pickle.dump({b"data": x, b"labels": y}, f)
        arrays[name] = (x, y)
    return arrays


def test_mnist_from_its_npz(tmp_path):
    arrays = write_mnist(tmp_path)
    data = problems.load({"name": "mnist", "data_dir": str(tmp_path), "validation": 0.2})
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (24, 6, 10)
    assert data.input_shape == (784,) and data.num_classes == 10
    np.testing.assert_allclose(data.x_test, arrays["x_test"].reshape(10, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])
    train = np.concatenate([data.x_train, data.x_val])
    assert sorted(map(tuple, train * 255)) == sorted(map(tuple, arrays["x_train"].reshape(30, -1).astype(float)))


def test_fashion_mnist_from_its_idx_files(tmp_path):
    arrays = write_fashion(tmp_path)
    data = problems.load({"name": "fashion_mnist", "data_dir": str(tmp_path), "validation": 0.0})
    np.testing.assert_allclose(data.x_test, arrays["t10k"][0].reshape(8, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y_test, arrays["t10k"][1])
    assert len(data.x_train) == 20


def test_cifar10_from_its_pickled_batches(tmp_path):
    arrays = write_cifar(tmp_path)
    data = problems.load({"name": "cifar10", "data_dir": str(tmp_path), "validation": 0.0})
    assert len(data.x_train) == 20 and data.input_shape == (3072,)
    x, y = arrays["test_batch"]
    image = x[0].reshape(3, 32, 32).transpose(1, 2, 0)  # channels last, as keras.datasets gives it
    np.testing.assert_allclose(data.x_test[0], image.reshape(-1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y_test, y)


def test_missing_files_name_the_file_and_the_place(tmp_path):
    with pytest.raises(problems.DatasetUnavailable) as error:
        problems.load({"name": "mnist", "data_dir": str(tmp_path)})
    message = str(error.value)
    url = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    assert f"Put mnist.npz from {url} into {tmp_path}/" in message
    assert 'fallback = "digits"' in message


def test_without_data_dir_keras_downloads_and_a_failure_says_where_to_put_it(tmp_path, monkeypatch):
    import keras

    from experiments.workloads import keras_datasets

    monkeypatch.setattr(keras_datasets, "keras_data_dir", lambda: tmp_path)
    calls = []

    def offline():
        calls.append(1)
        raise Exception("URL fetch failure on https://...: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(problems.DatasetUnavailable, match=r"downloading failed \(URL fetch failure") as error:
        problems.load("fashion_mnist")
    assert calls == [1]
    assert f"into {tmp_path / 'fashion-mnist'}/" in str(error.value)
    write_fashion(tmp_path)  # once the files are in Keras's cache, they are read from there
    assert len(problems.load("fashion_mnist").x_test) == 8 and calls == [1]


def test_fallback_uses_the_offline_dataset_and_says_so(tmp_path):
    data = problems.load({"name": "mnist", "data_dir": str(tmp_path), "fallback": "digits"})
    assert data.name == "digits" and data.input_shape == (64,)
    assert data.source == "sklearn.datasets.load_digits (fallback for 'mnist')"
    assert data.origin.startswith("problem 'mnist' is not available: data_dir was given")
    assert data.describe()["origin"] == data.origin  # config.json keeps why


def _fingerprint(data, problem):
    from experiments.spec import config
    from experiments.store import fingerprints

    batch = config.parse_batch({"batch": {"name": "t", "reproduces": "r", "runtime": "s", "expected": "e"},
                                "runs": [{"problem": problem, "model": "softmax_regression", "steps": 2,
                                          "optimizer": {"name": "sgd"}}]})
    resolved = fingerprints.resolved_config(batch.runs[0], "dataset", data, batch)
    return fingerprints.run_fingerprint(resolved), fingerprints.former_fingerprint(resolved, data), resolved


def test_where_this_machine_found_the_data_is_not_part_of_a_runs_identity(tmp_path, monkeypatch):
    """A fallback taken for another network error, under another home directory, or MNIST read
    from Keras's cache after `keras.datasets` downloaded it: the same data, the same run (its
    finished runs are not redone, stored baselines are reused). `config.json` still says where."""
    import keras

    from experiments.workloads import keras_datasets

    problem = {"name": "mnist", "fallback": "digits"}
    seen = {}
    for home, error in (("a", "[Errno -2] Name or service not known"), ("b", "[Errno 111] Connection refused")):
        monkeypatch.setattr(keras_datasets, "keras_data_dir", lambda home=home: tmp_path / home)

        def offline(error=error):
            raise Exception(f"URL fetch failure on https://...: None -- {error}")

        monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
        data = problems.load(problem)
        key, former, resolved = _fingerprint(data, problem)
        assert error in resolved["data"]["origin"] and str(tmp_path / home) in resolved["data"]["origin"]
        assert error in data.former_source and former != key  # an earlier version's source held it
        seen[home] = key, former
    assert seen["a"][0] == seen["b"][0] and seen["a"][1] != seen["b"][1]

    (tmp_path / "cache").mkdir()
    arrays = write_mnist(tmp_path)  # what the download gives, then what the cache holds
    monkeypatch.setattr(keras_datasets, "keras_data_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: (
        (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])))
    downloaded = problems.load("mnist")
    (tmp_path / "mnist.npz").rename(tmp_path / "cache" / "mnist.npz")
    cached = problems.load("mnist")
    assert (downloaded.origin, cached.origin) == ("keras.datasets.mnist", str(tmp_path / "cache"))
    assert downloaded.source == cached.source == "keras.datasets.mnist"
    assert _fingerprint(downloaded, "mnist")[0] == _fingerprint(cached, "mnist")[0]


@pytest.mark.parametrize("spec,message", [
    ("mnsit", "Unknown problem 'mnsit'. Did you mean 'mnist'?"),
    ({"name": "digits", "validation": 1.2}, "`digits.validation` must be in [0, 1). Received: digits.validation=1.2"),
    ({"name": "digits", "validation": 0.5, "test": 0.5}, "validation + test must be below 1"),
    ({"name": "digits", "normalize": "yes"},
     "`digits.normalize` must be true or false. Received: digits.normalize='yes'"),
    ({"name": "moons", "noise": -1}, "`moons.noise` must be in [0, inf]. Received: moons.noise=-1"),
    ({"name": "moons", "n_sample": 10}, "Unknown argument of problem 'moons' 'n_sample'. Did you mean 'n_samples'?"),
    ({"name": "mnist", "fallback": "digts"}, "Unknown fallback problem 'digts'. Did you mean 'digits'?"),
    ({"name": "material", "start": [1]}, "`material.start` must be two numbers [x, y]. Received: start=[1]"),
])
def test_bad_problem_arguments(spec, message):
    with pytest.raises(ConfigError) as error:
        problems.load(spec)
    assert message in str(error.value)


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_objectives_match_their_formulas_and_minima(name):
    objective = OBJECTIVES[name]
    x, y = 0.7, -1.3
    formulas = {
        "material": x**2 / 20 + y**2,
        "rotated": 0.1 * (x + y) ** 2 + 2 * (x - y) ** 2,
        "rosenbrock": (1 - x) ** 2 + 100 * (y - x**2) ** 2,
        "beale": (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2,
        "saddle": x**2 - y**2,
    }
    assert objective.f(np.array([x, y])) == pytest.approx(formulas[name], rel=1e-12)
    stationary = objective.minimum or (0.0, 0.0)
    point = tf.Variable(np.array(stationary, dtype="float64"))
    with tf.GradientTape() as tape:
        value = objective.f(point)
    np.testing.assert_allclose(tape.gradient(value, point).numpy(), 0.0, atol=1e-12)
    if objective.minimum is not None:
        assert float(value) == pytest.approx(0.0, abs=1e-12)


def test_noisy_series_is_trend_plus_seeded_noise():
    series = problems.load("noisy_series")
    t = np.arange(1, 201)
    np.testing.assert_allclose(series.trend, 15 + 10 * np.sin(3 * np.pi * t / 365))
    noise = series.values - series.trend
    assert noise.std() == pytest.approx(4.0, rel=0.15)
    np.testing.assert_array_equal(problems.load("noisy_series").values, series.values)
