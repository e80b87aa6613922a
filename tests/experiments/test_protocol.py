"""A run's `dtype`, `init` and `order` (`experiments.engine.protocol`): the course's moons protocol,
checked against NumPy written from the course's code (docs/sources.md), and the material's table reproduced."""

import math

import keras
import numpy as np
import pytest

from experiments import runner
from experiments.engine import protocol
from experiments.plan import planning
from experiments.spec import config

COURSE = {"problem": "moons", "model": "moons_net", "batch_size": 64, "optimizer": {"learning_rate": 0.0007},
          "dtype": "float64", "init": {"name": "numpy_he", "seed": 3},
          "order": {"name": "numpy_permutation", "seed": 10}}


def batch_of(runs, defaults=COURSE):
    return config.parse_batch({"batch": {"name": "p"}, "defaults": defaults, "runs": runs})


def test_numpy_he_is_the_courses_initialize_parameters_he():
    run, _, data = planning.prepare(batch_of([{"optimizer": "sgd", "epochs": 1}]))[0]
    model = protocol.build_model(run, data)
    np.random.seed(3)  # the course: np.random.seed(3), then W_l = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1}), b_l = 0
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
    run, _, data = planning.prepare(batch_of([{"optimizer": "sgd", "epochs": 1}]))[0]
    seed, expected = 10, []
    for _ in range(5):  # the course: seed = 10; every epoch: seed += 1; np.random.seed(seed); permutation(300)
        seed += 1
        np.random.seed(seed)
        expected.append(np.random.permutation(300))
    np.testing.assert_array_equal(protocol.orders(run, 300, 0, 5), np.stack(expected))
    np.testing.assert_array_equal(protocol.orders(run, 300, 3, 2), np.stack(expected[3:]))  # resumed at 3
    keras_way = batch_of([{"optimizer": "sgd", "epochs": 1}], {**COURSE, "order": "stateless"})
    assert protocol.orders(planning.prepare(keras_way)[0][0], 300, 0, 5) is None


def test_the_data_is_the_courses_unrounded():
    from sklearn.datasets import make_moons

    _, _, data = planning.prepare(batch_of([{"optimizer": "sgd", "epochs": 1}]))[0]
    np.random.seed(3)
    x, y = make_moons(n_samples=300, noise=0.2)  # the course: the legacy global generator after seed(3)
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
    from experiments.store.results import Job

    batch = batch_of([{"optimizer": "sgd", "epochs": 2}, {"optimizer": "adam", "epochs": 2},
                      {"optimizer": "sgd", "epochs": 2, "dtype": "float32"},
                      {"optimizer": "sgd", "epochs": 2, "order": "stateless"}])
    jobs = [Job(run, kind, problem_data, None) for run, kind, problem_data in planning.prepare(batch)]
    assert planning.groups(jobs) == [[0, 1], [2], [3]]
    assert [run.name for run in batch.runs][2:] == ["sgd_float32_numpy_permutation-seed10_s0",
                                                    "sgd_float64_stateless_s0"]  # what differs is named


@pytest.mark.slow
def test_the_moons_batch_reproduces_the_materials_table(tmp_path):
    """The course's table: with its exact protocol, 0.7967 / 0.7967 / 0.9400 (239, 239 and 282 of 300)."""
    result = runner.run_batch(config.load_batch("moons"), tmp_path, progress=False)
    accuracies = [r.metrics["train_accuracy"] for r in result.results]
    assert [r.status for r in result.results] == ["ok"] * 3
    assert [round(a, 4) for a in accuracies] == [0.7967, 0.7967, 0.94]
    assert [round(a * 300) for a in accuracies] == [239, 239, 282]
    assert all(math.isclose(a * 300, round(a * 300), abs_tol=1e-4) for a in accuracies)


DIGITS = {"problem": {"name": "digits", "validation": 0.2, "test": 0.2}, "model": "softmax_regression",
          "batch_size": 128, "order": {"name": "numpy_choice", "seed": 5}}


def test_numpy_choice_draws_every_batch_with_replacement_and_all_train_on_it(tmp_path):
    """The textbook's MNIST loop: each iteration `np.random.choice(n, 128)`, shared by every run;
    each run's loss on that batch is recorded at every iteration."""
    batch = batch_of([{"optimizer": {"name": "sgd", "learning_rate": 0.1}, "name": "sgd"},
                      {"optimizer": {"name": "adam", "learning_rate": 0.01}, "name": "adam"}],
                     {**DIGITS, "steps": 20})
    run, _, data = planning.prepare(batch)[0]
    n = len(data.x_train)  # 1078: 9 batches an epoch, all full
    drawn = protocol.orders(run, n, 0, 3, 9, 128)
    assert drawn.shape == (3, 9 * 128)
    np.testing.assert_array_equal(drawn[2], np.random.RandomState([5, 2]).choice(n, 9 * 128))
    assert len(np.unique(drawn[0])) < 9 * 128  # with replacement
    result = runner.run_batch(batch, tmp_path, progress=False)
    assert [p.name for p in result.figures] == ["loss_curves.png", "textbook_loss.png"]
    for r in result.results:
        assert len(r.curves["step_loss"]) == 20
        # step 0's loss is the untrained model's on the first drawn batch of 128
        keras.utils.set_random_seed(0)
        model = protocol.build_model(r.run, data)
        model.compile(loss="sparse_categorical_crossentropy")
        first = drawn[0][:128]
        expected = model.evaluate(data.x_train[first].astype("float32"), data.y_train[first], verbose=0,
                                  batch_size=128)
        assert r.curves["step_loss"][0] == pytest.approx(expected, rel=1e-6)


def test_the_textbook_figure_is_drawn_only_for_shared_drawn_batches(tmp_path):
    batch = batch_of([{"optimizer": {"name": "sgd", "learning_rate": 0.1}}], {**DIGITS, "steps": 5,
                                                                              "order": "stateless"})
    assert [p.name for p in runner.run_batch(batch, tmp_path, progress=False).figures] == ["loss_curves.png"]


def _keras_draws():
    """One draw from each of Keras's random sources: an initializer (seeded from Python's
    generator), a layer's SeedGenerator (likewise), Keras's global generator; and NumPy's and
    Python's generators."""
    import random

    dense = keras.layers.Dense(3)
    dense.build((None, 4))
    mask = keras.layers.Dropout(0.5)(keras.ops.ones((2, 8)), training=True)
    noise = keras.random.normal((3,))
    return [dense.kernel.numpy(), keras.ops.convert_to_numpy(mask), keras.ops.convert_to_numpy(noise),
            np.random.rand(2), np.array([random.random()])]


def test_seeding_keras_without_tensorflows_global_seed_draws_what_set_random_seed_does():
    import tensorflow as tf

    keras.utils.set_random_seed(5)
    expected = _keras_draws()
    _keras_draws()  # the generators move on
    tf.random.set_seed(12)
    protocol.seed_keras(5, tensorflow=False)
    assert tf.compat.v1.random.get_seed(None)[0] == 12  # TensorFlow's global seed is left as it was
    for got, want in zip(_keras_draws(), expected):
        np.testing.assert_array_equal(got, want)


def test_a_suite_model_is_seeded_without_tensorflows_global_seed_a_users_with_it(monkeypatch, tmp_path):
    import tensorflow as tf

    (tmp_path / "scratch_models.py").write_text(
        "from experiments.workloads import models\n\n"
        "def build(data):\n    return models.build('mnist_mlp', data)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    calls = []
    real = tf.random.set_seed
    monkeypatch.setattr(tf.random, "set_seed", lambda seed: (calls.append(seed), real(seed)))
    batch = config.parse_batch({"batch": {"name": "p"}, "defaults": {"problem": "digits", "steps": 1}, "runs": [
        {"optimizer": "sgd", "model": "mnist_mlp", "init": {"name": "keras", "seed": 4}},
        {"optimizer": "sgd", "model": "scratch_models:build", "init": {"name": "keras", "seed": 4}}]})
    (ours, _, data), (theirs, _, _) = planning.prepare(batch)
    built = protocol.build_model(ours, data)
    assert calls == []
    again = protocol.build_model(theirs, data)
    assert calls == [4]
    for a, b in zip(built.get_weights(), again.get_weights()):  # the same weights either way
        np.testing.assert_array_equal(a, b)
