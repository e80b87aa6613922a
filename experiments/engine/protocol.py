"""How a dataset run's model starts and which batches it sees: its `dtype`, `init` and `order`.

The defaults are Keras's own: float32, each layer's initializer seeded by the
run's `seed`, and each epoch's order a stateless shuffle seeded by
`(seed, epoch)` (computed in the training program, `experiments.engine.loop`). The
other schemes reproduce a NumPy course's protocol exactly (the Deep Learning Specialization's moons
experiment), by what they are, never by its numbers:

* `init = { name = "numpy_he", seed = S }`: for each Dense layer in order,
  `W = RandomState(S).randn(out, in) * sqrt(2 / in)` from one stream (so
  `np.random.seed(S)` followed by the course's `initialize_parameters_he`),
  stored transposed as Keras's `in x out` kernel; biases 0.
* `order = { name = "numpy_permutation", seed = S }`: epoch `e` (from 0)
  takes `RandomState(S + 1 + e).permutation(n)`, cut into batches in order
  (the course's `random_mini_batches`, its seed raised by one every epoch).
* `order = { name = "numpy_choice", seed = S }`: every step's batch is
  `batch_size` indices drawn with replacement (`np.random.choice(n, batch_size)`,
  the textbook's MNIST loop), from `RandomState([S, e])` for epoch `e`'s
  `ceil(n / batch_size)` steps, so every batch is full.
* `order = { name = "sequential" }`: every epoch takes the examples in their
  order, unshuffled: a text's streams (`problems.Text`), whose batches continue
  each other for a language model's carried state, as DeepOBS feeds Tolstoi.
* `init = { name = "keras", seed = S }`: Keras's initializers, seeded by `S`
  instead of the run's `seed` (networks initialised independently while
  they share the batches, as the textbook's are).
* `dtype = "float64"`: weights, slots and computation in float64, and the
  data fed at its own precision (no float32 rounding on the way).
"""

from __future__ import annotations

import contextlib
import random

import keras
import numpy as np

from experiments.spec import plugins
from experiments.workloads import models


@contextlib.contextmanager
def dtype_scope(dtype):
    """Layers built inside take `dtype` for their weights and computation (Keras's floatx and
    global dtype policy, restored after)."""
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)


def build_model(run, data):
    """The run's model (`models.build`) in its dtype, its weights set by its `init`. Seed Keras
    first (`seed`) for the "keras" init given its own seed."""
    if "seed" in run.init and run.init["name"] == "keras":
        seed(run, run.init["seed"])
    with dtype_scope(run.dtype):
        model = models.build(run.model, data)
    if run.init["name"] == "numpy_he":
        numpy_he(model, run.init.get("seed", run.seed))
    return model


def seed(run, value):
    """Seed Keras with `value` for building `run`'s model (`seed_keras`): TensorFlow's global
    seed too for a user's model (`module:Name`), which may draw from it."""
    seed_keras(value, tensorflow=users_model(run))


def users_model(run):
    """Whether `run`'s model is a user's (`module:Name`), not a built-in."""
    name = run.model.get("name") if isinstance(run.model, dict) else run.model
    return plugins.is_path(name or "")


def seed_keras(seed, tensorflow=True):
    """`keras.utils.set_random_seed(seed)`; with `tensorflow=False`, all of it but TensorFlow's
    global seed: Python's and NumPy's, and Keras's global generator. Keras's initializers and
    layers draw from those (on TensorFlow through stateless ops given their seeds), never from
    TensorFlow's global seed, whose setting drops TensorFlow's cached kernels, and with them the
    kept training program's, which a restarted group's first call would then instantiate again.
    The weights are the same either way (`tests/experiments/test_protocol.py`)."""
    if tensorflow:
        keras.utils.set_random_seed(seed)
        return
    try:  # Keras's names for its global seed and generator (what set_random_seed resets)
        from keras.src.backend.common import global_state
        from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR
        from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED
    except ImportError:  # pragma: no cover - another Keras
        keras.utils.set_random_seed(seed)
        return
    global_state.set_global_attribute(GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)


def numpy_he(model, seed):
    """`W = randn(out, in) * sqrt(2 / in)`, biases 0, for each Dense layer in order, from one
    NumPy RandomState(seed) stream (see the module's docstring)."""
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            fan_in, fan_out = layer.kernel.shape
            weights = rng.randn(fan_out, fan_in) * np.sqrt(2.0 / fan_in)
            layer.kernel.assign(weights.T.astype(layer.kernel.dtype))
            if layer.bias is not None:
                layer.bias.assign(np.zeros(layer.bias.shape, layer.bias.dtype))


def orders(run, n, first_epoch, epochs, per_epoch=None, size=None):
    """Epochs `first_epoch ..` + `epochs` - 1's orders for a NumPy order, int64: `[epochs, n]`
    permutations, or for "numpy_choice" `[epochs, per_epoch * size]` indices drawn with
    replacement; None for the stateless shuffle (the program computes it)."""
    name = run.order["name"]
    seed = run.order.get("seed", run.seed)
    span = range(first_epoch, first_epoch + epochs)
    # one RandomState seeded anew per epoch: what `RandomState(s)` gives, without building a
    # generator per epoch (moons runs 10000 epochs)
    rng = np.random.RandomState()
    if name == "numpy_permutation":
        return np.stack([_seeded(rng, (seed + 1 + e) % 2**32).permutation(n) for e in span]).astype(np.int64)
    if name == "numpy_choice":
        return np.stack([_seeded(rng, [seed, e]).choice(n, per_epoch * size) for e in span]).astype(np.int64)
    if name == "sequential":
        return np.tile(np.arange(n, dtype=np.int64), (epochs, 1))
    return None


def _seeded(rng, seed):
    rng.seed(seed)
    return rng


def full_batches(run):
    """Whether the run's order fills every batch (drawn with replacement)."""
    return run.order["name"] == "numpy_choice"
