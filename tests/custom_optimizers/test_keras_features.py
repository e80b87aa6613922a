"""Everything the Keras base class offers works with every optimizer.

Each feature is checked by equivalence: the optimizer with the feature on,
fed raw gradients, must equal the same optimizer without it, fed the
gradients the feature should produce (clipped, unscaled, averaged, ...).
On every back-end, but for sparse gradients, which only TensorFlow makes.
"""

import keras
import numpy as np
import pytest
from backends import maximum, minimum, operand, tensor, tensorflow_only, weight_decayed
from optimizer_table import CASES, IDS, ONE_PER_OPTIMIZER, cases_on_other_backends

SHAPES = [(3,), (2, 2)]
STEPS = 6

pytestmark = pytest.mark.all_backends


def gradient_steps(seed=7):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s) * 2.0 for s in SHAPES] for _ in range(STEPS)]


def initial_weights():
    rng = np.random.default_rng(3)
    return [rng.normal(size=s) for s in SHAPES]


def make_variables():
    return [keras.Variable(w, dtype="float64") for w in initial_weights()]


def run(optimizer, steps, variables=None, before_step=None):
    variables = variables or make_variables()
    history = []
    for grads in steps:
        if before_step:
            before_step(variables)
        optimizer.apply([tensor(g) for g in grads], variables)
        history.append([v.numpy().copy() for v in variables])
    return history


def assert_same(history_a, history_b, rtol=1e-12):
    for step_a, step_b in zip(history_a, history_b, strict=True):
        for a, b in zip(step_a, step_b):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14)


def _norm(g):
    return np.sqrt(np.sum(g * g))


# Scaled by clip / max(norm, clip) and clip * min(1 / norm, 1 / clip), as Keras writes them
# (`maximum` and `minimum` round as keras.ops do on this back-end, see backends.py).
TRANSFORMS = {
    "clipvalue": ({"clipvalue": 0.5}, lambda gs: [np.clip(g, -0.5, 0.5) for g in gs]),
    "clipnorm": ({"clipnorm": 0.5}, lambda gs: [g * 0.5 / maximum(_norm(g), 0.5) for g in gs]),
    "global_clipnorm": (
        {"global_clipnorm": 0.5},
        lambda gs: [
            g * (0.5 * minimum(1 / np.sqrt(sum(_norm(h) ** 2 for h in gs)), 1 / 0.5)) for g in gs
        ],
    ),
}


@pytest.mark.parametrize("feature", sorted(TRANSFORMS))
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_clipping(case, feature):
    kwargs, transform = TRANSFORMS[feature]
    steps = gradient_steps()
    clipped = run(case.make(**kwargs), steps)
    expected = run(case.make(), [transform(gs) for gs in steps])
    assert_same(clipped, expected)
    # Clipping changed something, so the check is not vacuous.
    assert any(not np.allclose(transform(gs)[0], gs[0]) for gs in steps)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_loss_scale_factor(case):
    steps = gradient_steps()
    scaled = run(case.make(loss_scale_factor=128.0), [[g * 128.0 for g in gs] for gs in steps])
    assert_same(scaled, run(case.make(), steps))


# Keras's JAX optimizer compiles its accumulate-or-update branch (lax.cond) anew at each
# eager `apply`: 1.5 s a case there.
ACCUMULATION_CASES = cases_on_other_backends(
    ONE_PER_OPTIMIZER, "one configuration per optimizer (CI time: 1.5 s a case)", backends=("jax",)
)


@pytest.mark.parametrize("case", ACCUMULATION_CASES)
def test_gradient_accumulation(case):
    steps = gradient_steps()
    accumulated = run(case.make(gradient_accumulation_steps=3), steps)
    averaged = [
        [np.mean([steps[k][i] for k in range(start, start + 3)], axis=0) for i in range(len(SHAPES))]
        for start in (0, 3)
    ]
    expected = run(case.make(), averaged)
    # No update until the third micro-step, then exactly the averaged update.
    for i, w0 in enumerate(initial_weights()):
        np.testing.assert_array_equal(accumulated[0][i], w0)
        np.testing.assert_array_equal(accumulated[1][i], w0)
    assert_same([accumulated[2], accumulated[5]], expected)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_decoupled_weight_decay(case):
    steps = gradient_steps()
    decayed = case.make(weight_decay=0.1)
    history = run(decayed, steps)
    plain = case.make(weight_decay=0.0)  # AdamW decays by default
    lr = plain.get_config()["learning_rate"]

    def decay(variables):  # w <- w - lr * wd * w, before the update
        for v in variables:
            v.assign(weight_decayed(v.numpy(), 0.1, lr))

    assert_same(history, run(plain, steps, before_step=decay))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_exponential_moving_average_of_weights(case):
    steps = gradient_steps()
    optimizer = case.make(use_ema=True, ema_momentum=0.8)
    variables = make_variables()
    history = run(optimizer, steps, variables)
    assert_same(history, run(case.make(), steps))  # EMA does not change training
    momentum = operand(0.8)  # Keras multiplies by the Python float (exact but on PyTorch)
    for i in range(len(SHAPES)):
        ema = history[0][i]  # Keras starts the average at the first updated weights
        for step in history[1:]:
            ema = momentum * ema + (1 - momentum) * step[i]
        np.testing.assert_allclose(optimizer._model_variables_moving_average[i].numpy(), ema, rtol=1e-12)
    optimizer.finalize_variable_values(variables)
    np.testing.assert_allclose(variables[0].numpy(), optimizer._model_variables_moving_average[0].numpy())


def _embedding_gradients(seed):
    """Gradients of a real Embedding model: IndexedSlices, with a repeated row."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    embedding = keras.layers.Embedding(10, 3)
    tokens = tf.constant([[1, 3, 3, 7]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(embedding(tokens) - 0.5))
    (grad,) = tape.gradient(loss, embedding.trainable_variables)
    return embedding.embeddings.numpy(), grad


@tensorflow_only(
    "sparse gradients (tf.IndexedSlices); on JAX and PyTorch an Embedding's gradient is a "
    "dense tensor, which every other test here feeds"
)
@pytest.mark.parametrize("extra", [{}, {"clipnorm": 0.05}], ids=["plain", "clipnorm"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sparse_gradients_from_an_embedding(case, extra):
    """Sparse updates equal dense ones, also with a row repeated in the batch
    (which Keras 3.15's own Adagrad and clipnorm get wrong)."""
    import tensorflow as tf

    initial, grad = _embedding_gradients(0)
    assert isinstance(grad, tf.IndexedSlices)
    sparse_var, dense_var = keras.Variable(initial), keras.Variable(initial)
    sparse_opt, dense_opt = case.make(**extra), case.make(**extra)
    for _ in range(3):
        sparse_opt.apply([grad], [sparse_var])
        dense_opt.apply([tf.convert_to_tensor(grad)], [dense_var])
        np.testing.assert_allclose(sparse_var.numpy(), dense_var.numpy(), rtol=1e-6, atol=1e-7)
    untouched = [0, 2, 4, 5, 6, 8, 9]  # rows with no gradient
    moved = [1, 3, 7]
    assert not np.allclose(sparse_var.numpy()[moved], initial[moved])
    # Momentum keeps moving rows from earlier steps; weight decay shrinks every row.
    if case.id not in ("momentum", "nesterov", "momentum_ewa", "nesterov_ewa") and not sparse_opt.weight_decay:
        np.testing.assert_array_equal(sparse_var.numpy()[untouched], initial[untouched])
