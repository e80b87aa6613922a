"""The tests run on the back-end asked for, the optimizers' state lives in that
back-end's tensors, and the rounding rules of `backends.py`, which the float64
references follow, are what Keras does there."""

import os

import keras
import numpy as np
import pytest
from backends import (
    BACKEND,
    f32,
    generic_builtin,
    hyper,
    maximum,
    minimum,
    operand,
    tensor,
    weight_decayed,
)
from keras import ops

import custom_optimizers as co

pytestmark = pytest.mark.all_backends


def _native_tensor_type():
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.Variable
    if BACKEND == "jax":
        import jax

        return jax.Array
    import torch

    return torch.Tensor


def test_backend_is_the_one_asked_for():
    # make test sets KERAS_BACKEND for the JAX and PyTorch runs; unset, the suite runs on
    # TensorFlow (Keras's default, and what tests/conftest.py configures).
    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert BACKEND == keras.backend.backend()


@pytest.mark.parametrize("name", sorted(co.OPTIMIZERS))
def test_optimizer_state_lives_in_the_backends_tensors(name):
    w = keras.Variable(np.array([1.0, -2.0, 3.0]), dtype="float64")
    optimizer = co.get(name, learning_rate=0.1)
    optimizer.apply([tensor([0.5, -4.0, 1e-3], "float64")], [w])
    native = _native_tensor_type()
    assert isinstance(w.value, native)
    assert all(isinstance(v.value, native) for v in optimizer.variables)
    assert keras.backend.standardize_dtype(w.value.dtype) == "float64"
    assert int(optimizer.iterations) == 1
    assert np.all(w.numpy() != [1.0, -2.0, 3.0])  # every coordinate moved


def test_float64_is_float64():
    """JAX holds "float64" in float32 unless x64 is on (this folder's conftest)."""
    w = keras.Variable(np.zeros(2), dtype="float64")
    assert keras.backend.standardize_dtype(w.value.dtype) == "float64"
    w.assign(ops.add(w, 1e-12) + 1.0)
    assert w.numpy()[0] != 1.0  # 1 + 1e-12 is 1 in float32


def test_rounding_rules_are_kerass():
    assert f32(0.9) != 0.9 and f32(0.1) != 0.1  # the rules' branches give different numbers
    assert float(ops.cast(0.9, "float64")) == hyper(0.9)
    ones = ops.ones((2,), "float64")
    assert float(ops.multiply(ones, 0.1)[0]) == operand(0.1)
    a, b = np.array([0.1, 0.7]), np.array([0.3, 0.2])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.maximum(tensor(a), tensor(b))), maximum(a, b))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.minimum(tensor(a), tensor(b))), minimum(a, b))
    # The learning rate is a float32 variable on every back-end.
    assert float(co.SGD(0.1).learning_rate) == f32(0.1)


@pytest.mark.parametrize("learning_rate,weight_decay", [(0.1, 0.3), (0.001, 0.004), (0.037, 0.77)])
def test_weight_decay_rule_is_kerass(learning_rate, weight_decay):
    w0 = np.array([1.0, -2.7, 3.3e-3])
    w = keras.Variable(w0, dtype="float64")
    co.SGD(learning_rate, weight_decay=weight_decay).apply([tensor(np.zeros(3), "float64")], [w])
    np.testing.assert_array_equal(w.numpy(), weight_decayed(w0, weight_decay, learning_rate))


def test_generic_builtin():
    builtin = keras.optimizers.Adam(learning_rate=0.01)
    generic = generic_builtin(builtin)
    assert type(generic).__mro__[1 if BACKEND == "torch" else 0] is keras.src.optimizers.adam.Adam
    assert generic.get_config() == builtin.get_config()
    # Only PyTorch swaps the built-ins for its own `_foreach` versions.
    swapped = type(builtin).__module__.startswith("keras.src.backend.torch.optimizers")
    assert swapped == (BACKEND == "torch")
