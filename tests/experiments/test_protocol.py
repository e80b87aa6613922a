"""A run's `dtype`, `init` and `order` (`experiments.protocol`): the course's moons protocol,
checked against NumPy written from SPEC's description, and the material's table reproduced."""

import math

import keras
import numpy as np
import pytest

from experiments import config, plan, protocol, runner

COURSE = {"problem": "moons", "model": "moons_net", "batch_size": 64, "optimizer": {"learning_rate": 0.0007},
          "dtype": "float64", "init": {"name": "numpy_he", "seed": 3},
          "order": {"name": "numpy_permutation", "seed": 10}}


def batch_of(runs, defaults=COURSE):
    return config.parse_batch({"batch": {"name": "p"}, "defaults": defaults, "runs": runs})


def test_numpy_he_is_the_courses_initialize_parameters_he():
    run, _, data = plan.prepare(batch_of([{"optimizer": "sgd", "epochs": 1}]))[0]
    model = protocol.build_model(run, data)
    np.random.seed(3)  # SPEC: np.random.seed(3), then W_l = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1}), b_l = 0
    sizes = [2, 5, 2, 1]
    expected = [np.random.randn(sizes[i], sizes[i - 1]) * np.sqrt(2 / sizes[i - 1]) for i in range(1, 4)]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 3
    for layer, weights in zip(dense, expected):
        assert layer.kernel.dtype == "float64"
        np.testing.assert_array_equal(layer.kernel.numpy(), weights.T)  # Keras's kernel is in x out
        np.testing.assert_array_equal(layer.bias.numpy(), 0.0)
    assert keras.config.floatx() == "float32"  # put back


def test_numpy_permutation_is_the_courses_random_mini_batches_order():
    run, _, data = plan.prepare(batch_of([{"optimizer": "sgd", "epochs": 1}]))[0]
    seed, expected = 10, []
    for _ in range(5):  # SPEC: seed = 10; every epoch: seed += 1; np.random.seed(seed); permutation(300)
        seed += 1
        np.random.seed(seed)
        expected.append(np.random.permutation(300))
    np.testing.assert_array_equal(protocol.orders(run, 300, 0, 5), np.stack(expected))
    np.testing.assert_array_equal(protocol.orders(run, 300, 3, 2), np.stack(expected[3:]))  # resumed at 3
    keras_way = batch_of([{"optimizer": "sgd", "epochs": 1}], {**COURSE, "order": "stateless"})
    assert protocol.orders(plan.prepare(keras_way)[0][0], 300, 0, 5) is None


def test_the_data_is_the_courses_unrounded():
    from sklearn.datasets import make_moons

    _, _, data = plan.prepare(batch_of([{"optimizer": "sgd", "epochs": 1}]))[0]
    np.random.seed(3)
    x, y = make_moons(n_samples=300, noise=0.2)  # SPEC: the legacy global generator after seed(3)
    np.testing.assert_array_equal(data.x_train, x)
    np.testing.assert_array_equal(data.y_train, y)


@pytest.mark.parametrize("field,value,message", [
    ("dtype", "float16", "`runs[0].dtype` must be one of 'float32', 'float64'. Received: dtype='float16'"),
    ("init", "glorot", "Unknown init scheme in runs[0] 'glorot'"),
    ("order", {"name": "numpy_permutation", "seeds": 3}, "Unknown argument of order 'numpy_permutation' 'seeds'"),
    ("init", {"name": "numpy_he", "seed": -1}, "runs[0].init.seed"),
])
def test_bad_protocol_fields_are_refused_by_name(field, value, message):
    with pytest.raises(config.ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        batch_of([{"optimizer": "sgd", "epochs": 1, field: value}])


def test_runs_with_another_protocol_train_in_another_group():
    from experiments.results import Job

    batch = batch_of([{"optimizer": "sgd", "epochs": 2}, {"optimizer": "adam", "epochs": 2},
                      {"optimizer": "sgd", "epochs": 2, "dtype": "float32"},
                      {"optimizer": "sgd", "epochs": 2, "order": "stateless"}])
    jobs = [Job(run, kind, thing, None) for run, kind, thing in plan.prepare(batch)]
    assert plan.groups(jobs) == [[0, 1], [2], [3]]
    assert [run.name for run in batch.runs][2:] == ["sgd_float32_numpy_permutation-seed10_s0",
                                                    "sgd_float64_stateless_s0"]  # what differs is named


@pytest.mark.slow
def test_the_moons_batch_reproduces_the_materials_table(tmp_path):
    """SPEC: with the course's exact protocol, 0.7967 / 0.7967 / 0.9400 (239, 239 and 282 of 300)."""
    result = runner.run_batch(config.load_batch("moons"), tmp_path, progress=False)
    accuracies = [r.metrics["train_accuracy"] for r in result.results]
    assert [r.status for r in result.results] == ["ok"] * 3
    assert [round(a, 4) for a in accuracies] == [0.7967, 0.7967, 0.94]
    assert [round(a * 300) for a in accuracies] == [239, 239, 282]
    assert all(math.isclose(a * 300, round(a * 300), abs_tol=1e-4) for a in accuracies)
